"""The local executor: runs executions' compiled DAGs with flytekit's entrypoints (issue 3 §4).

- :mod:`.engine`: :class:`WorkflowRun`, one execution of a CompiledWorkflowClosure on an asyncio loop.
- :mod:`.observer`: the :class:`RunObserver` protocol through which a run reports node and attempt events, and
  :class:`MemoryObserver` for tests.
- :mod:`.service`: :class:`LocalExecutor`, the AdminService's ``Executor`` (one background event loop,
  progress written into the execution records by :class:`RecordsObserver`).

The backend builds it with :func:`create_executor` (``flyte_ls.local.app`` calls it when this package exists).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from flyteidl.core import execution_pb2, identifier_pb2

from flyte_ls.local.executions.records import ExecutionRecords
from flyte_ls.local.executor.engine import RunConfig, RunOutcome, WorkflowRun, unique_node_id
from flyte_ls.local.executor.observer import MemoryObserver, NodeRef, RunObserver
from flyte_ls.local.executor.service import LocalExecutor, RecordsObserver
from flyte_ls.local.orphans import Watchdog, reap

log = logging.getLogger(__name__)
Phase = execution_pb2.WorkflowExecution
STOPPED_CAUSE = (
    "the local backend was stopped while this execution ran; its running tasks were killed "
    "(relaunch the execution to run it again)"
)


class BackendExecutor(LocalExecutor):
    """The backend's :class:`LocalExecutor`. On a clean stop (``close``: Ctrl-C, SIGTERM) the executions still
    running end ABORTED with :data:`STOPPED_CAUSE`; only a backend that dies without stopping (``kill -9``, a
    crash, a power cut) leaves them RUNNING, and the next start resumes them. Its watchdog kills the task
    processes of a backend that dies (flyte_ls.local.orphans)."""

    watchdog: Watchdog | None = None

    def close(self) -> None:
        stopping = []
        for project, domain, name in self.running():
            ident = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
            with contextlib.suppress(Exception):  # finished meanwhile: nothing to mark
                self.records.set_execution_phase(ident, Phase.ABORTING, abort_cause=STOPPED_CAUSE)
                stopping.append(ident)
        super().close()
        for ident in stopping:  # a backend killed before this line: the next start ends ABORTING ones ABORTED
            with contextlib.suppress(Exception):
                self.records.set_execution_phase(ident, Phase.ABORTED, abort_cause=STOPPED_CAUSE)
        if self.watchdog is not None:
            self.watchdog.close()


def create_executor(ctx: Any, *, resume: bool = False, watchdog: bool = True) -> LocalExecutor:
    """The executor for a started backend (``ctx`` is ``flyte_ls.local.app.BackendContext``).

    Task processes a killed previous backend left on the state dir are killed first. Executions left
    unfinished: QUEUED ones are submitted; ABORTING ones end ABORTED; RUNNING ones (the backend died under
    them) end FAILED with a reason, or with ``resume=True`` (what the backend uses) are resumed: top-level
    nodes that SUCCEEDED keep their outputs and are not run again, the others run again from their first
    attempt. One that cannot be resumed (e.g. damaged inputs or outputs) ends FAILED with the reason.
    ``watchdog``: start the process that kills this backend's tasks if it dies."""
    from flyte_ls.local.http import file_url

    records = getattr(ctx.admin, "records", None) or ExecutionRecords(ctx.store)
    root = Path(ctx.state_dir).resolve()
    reap(root)

    def log_url(path: Path) -> str | None:
        try:
            return file_url(ctx.http_base_url, root, path.resolve())
        except ValueError:
            return None

    executor = BackendExecutor(records, ctx.python, log_url=log_url)
    if watchdog:
        executor.watchdog = Watchdog(root)
    for ident in _children_first(records, records.unfinished_executions()):
        try:
            phase = records.get_execution(ident).closure.phase
            if phase == Phase.ABORTING:  # terminated while the backend went down
                records.set_execution_phase(ident, Phase.ABORTED)
                continue
            if phase == Phase.QUEUED:  # never started
                executor.submit(ident)
            elif resume:  # the nodes that succeeded are not run again
                executor.submit(ident, resume=True)
            else:
                error = execution_pb2.ExecutionError(
                    code="BackendRestarted",
                    message="the local backend stopped while this execution was running",
                    kind=execution_pb2.ExecutionError.SYSTEM,
                )
                records.set_execution_phase(ident, Phase.FAILED, error=error)
        except Exception as exc:
            log.exception("could not recover execution %s", ident.name)
            error = execution_pb2.ExecutionError(
                code="RecoveryFailed",
                message=f"the local backend restarted and could not resume this execution: {exc}",
                kind=execution_pb2.ExecutionError.SYSTEM,
            )
            with contextlib.suppress(Exception):
                records.set_execution_phase(ident, Phase.FAILED, error=error)
    return executor


def _children_first(
    records: ExecutionRecords, idents: list[identifier_pb2.WorkflowExecutionIdentifier]
) -> list[identifier_pb2.WorkflowExecutionIdentifier]:
    """Launch-plan nodes' child executions (deepest nesting) before their parents: a resumed parent then
    finds its child already running instead of racing the restart loop to submit it."""

    def nesting(ident: identifier_pb2.WorkflowExecutionIdentifier) -> int:
        try:
            return -records.get_execution(ident).spec.metadata.nesting
        except Exception:  # unreadable: it fails with its reason in the loop
            return 0

    return sorted(idents, key=nesting)  # stable: oldest first within one nesting level


__all__ = [
    "BackendExecutor",
    "LocalExecutor",
    "MemoryObserver",
    "NodeRef",
    "RecordsObserver",
    "RunConfig",
    "RunObserver",
    "RunOutcome",
    "WorkflowRun",
    "create_executor",
    "unique_node_id",
]
