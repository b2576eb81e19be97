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

from flyteidl.admin import execution_pb2 as admin_execution_pb2
from flyteidl.core import execution_pb2, identifier_pb2

from flyte_ls.local.executions.records import WF_TERMINAL, ExecutionRecords
from flyte_ls.local.executor.engine import RunConfig, RunOutcome, WorkflowRun, unique_node_id
from flyte_ls.local.executor.observer import MemoryObserver, NodeRef, RunObserver
from flyte_ls.local.executor.service import LocalExecutor, RecordsObserver
from flyte_ls.local.orphans import Watchdog, reap

log = logging.getLogger(__name__)
Phase = execution_pb2.WorkflowExecution
PRINCIPAL = "flyte-ls"
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
    _Restart(records, executor, resume).run(records.unfinished_executions())
    return executor


_ExecKey = tuple[str, str, str]


def _k(ident: identifier_pb2.WorkflowExecutionIdentifier) -> _ExecKey:
    return (ident.project, ident.domain, ident.name)


class _Restart:
    """What a starting backend does with the executions the previous one left unfinished (see
    :func:`create_executor`). Launch-plan children follow their parent: the child of a parent that ended
    (aborted, failed, or could not be resumed) ends ABORTED with that reason instead of running on alone."""

    def __init__(self, records: ExecutionRecords, executor: LocalExecutor, resume: bool) -> None:
        self.records = records
        self.executor = executor
        self.resume = resume
        self.executions: dict[_ExecKey, admin_execution_pb2.Execution] = {}
        self.ended: dict[_ExecKey, str] = {}  # executions that end now -> the cause their children get

    def run(self, idents: list[identifier_pb2.WorkflowExecutionIdentifier]) -> None:
        for ident in idents:
            with contextlib.suppress(Exception):  # unreadable: it fails with its reason below
                self.executions[_k(ident)] = self.records.get_execution(ident)
        # parents before children: who ends without running
        for ident in sorted(idents, key=self._nesting):
            with contextlib.suppress(Exception):
                self._end_if_orphaned(ident)
        # children before parents: a resumed parent finds its child running (no race to submit it)
        submitted = []
        for ident in sorted(idents, key=self._nesting, reverse=True):  # stable: oldest first per level
            if _k(ident) not in self.ended:
                self._start(ident)
                submitted.append(ident)
        for ident in reversed(submitted):  # the children of a parent that could not be resumed
            cause = self._ancestor_ended(ident)
            if cause is not None and _k(ident) not in self.ended:
                self._terminate(ident, cause)

    def _nesting(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> int:
        execution = self.executions.get(_k(ident))
        return int(execution.spec.metadata.nesting) if execution is not None else 0

    def _ancestor_ended(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> str | None:
        execution = self.executions.get(_k(ident))
        parent = execution.spec.metadata.parent_node_execution.execution_id if execution is not None else None
        if parent is None or not parent.name:
            return None
        if _k(parent) in self.ended:
            return self.ended[_k(parent)]
        if _k(parent) in self.executions:
            return None
        try:
            phase = self.records.get_execution(parent).closure.phase
        except Exception:
            return None
        if phase in WF_TERMINAL:
            return f"its parent execution [{parent.name}] ended {Phase.Phase.Name(phase)} meanwhile"
        return None

    def _end_if_orphaned(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> None:
        execution = self.executions.get(_k(ident))
        if execution is None:
            return
        if execution.closure.phase == Phase.ABORTING:  # terminated while the backend went down
            self.records.set_execution_phase(ident, Phase.ABORTED)
            self.ended[_k(ident)] = f"its parent execution [{ident.name}] was aborted"
            return
        cause = self._ancestor_ended(ident)
        if cause is not None:
            self.records.set_execution_phase(ident, Phase.ABORTED, abort_cause=cause, principal=PRINCIPAL)
            self.ended[_k(ident)] = f"its parent execution [{ident.name}] was aborted"

    def _start(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> None:
        try:
            phase = self.records.get_execution(ident).closure.phase
            if phase == Phase.QUEUED:  # never started
                self.executor.submit(ident)
            elif self.resume:  # the nodes that succeeded are not run again
                self.executor.submit(ident, resume=True)
            else:
                error = execution_pb2.ExecutionError(
                    code="BackendRestarted",
                    message="the local backend stopped while this execution was running",
                    kind=execution_pb2.ExecutionError.SYSTEM,
                )
                self.records.set_execution_phase(ident, Phase.FAILED, error=error)
                self.ended[_k(ident)] = f"its parent execution [{ident.name}] failed"
        except Exception as exc:
            log.exception("could not recover execution %s", ident.name)
            error = execution_pb2.ExecutionError(
                code="RecoveryFailed",
                message=f"the local backend restarted and could not resume this execution: {exc}",
                kind=execution_pb2.ExecutionError.SYSTEM,
            )
            with contextlib.suppress(Exception):
                self.records.set_execution_phase(ident, Phase.FAILED, error=error)
            self.ended[_k(ident)] = f"its parent execution [{ident.name}] could not be resumed"

    def _terminate(self, ident: identifier_pb2.WorkflowExecutionIdentifier, cause: str) -> None:
        """As TerminateExecution: ABORTING, the run stopped, ABORTED."""
        try:
            self.records.set_execution_phase(ident, Phase.ABORTING, abort_cause=cause, principal=PRINCIPAL)
            self.executor.terminate(ident, cause)
            self.records.set_execution_phase(ident, Phase.ABORTED, principal=PRINCIPAL)
        except Exception:
            log.exception("could not abort execution %s", ident.name)
        self.ended[_k(ident)] = f"its parent execution [{ident.name}] was aborted"


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
