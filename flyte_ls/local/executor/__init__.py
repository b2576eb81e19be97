"""The local executor: runs executions' compiled DAGs with flytekit's entrypoints (issue 3 §4).

- :mod:`.engine`: :class:`WorkflowRun`, one execution of a CompiledWorkflowClosure on an asyncio loop.
- :mod:`.observer`: the :class:`RunObserver` protocol through which a run reports node and attempt events, and
  :class:`MemoryObserver` for tests.
"""

from __future__ import annotations

from flyte_ls.local.executor.engine import RunConfig, RunOutcome, WorkflowRun, unique_node_id
from flyte_ls.local.executor.observer import MemoryObserver, NodeRef, RunObserver

__all__ = [
    "MemoryObserver",
    "NodeRef",
    "RunConfig",
    "RunObserver",
    "RunOutcome",
    "WorkflowRun",
    "unique_node_id",
]
