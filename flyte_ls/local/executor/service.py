"""The AdminService's :class:`~flyte_ls.local.executions.Executor`: runs each submitted execution's compiled
workflow with a :class:`~flyte_ls.local.executor.engine.WorkflowRun` on one background event loop, and writes
its progress into the execution records (:class:`RecordsObserver`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flyteidl.admin import execution_pb2 as admin_execution_pb2
from flyteidl.admin import node_execution_pb2
from flyteidl.core import compiler_pb2, execution_pb2, identifier_pb2, literals_pb2
from flyteidl.event import event_pb2

from flyte_ls.local.errors import AdminError
from flyte_ls.local.executions.records import NODE_TERMINAL, ExecutionRecords, read_literal_map
from flyte_ls.local.executor.cache import TaskCache
from flyte_ls.local.executor.children import ChildExecutions
from flyte_ls.local.executor.engine import RunConfig, WorkflowRun
from flyte_ls.local.executor.observer import IndexRun, NodeRef
from flyte_ls.local.executor.recovery import original_nodes
from flyte_ls.local.runner import KILL_GRACE_S, ExecutionKey
from flyte_ls.local.signals import signals_for
from flyte_ls.local.store import Page

log = logging.getLogger(__name__)
WorkflowPhase = execution_pb2.WorkflowExecution
_Key = tuple[str, str, str]
_DONE = (execution_pb2.NodeExecution.SUCCEEDED, execution_pb2.NodeExecution.RECOVERED)


def _key(ident: identifier_pb2.WorkflowExecutionIdentifier) -> _Key:
    return (ident.project, ident.domain, ident.name)


class RecordsObserver:
    """Writes a run's node and attempt events as node/task execution records. A record that cannot be written
    (e.g. the execution was terminated meanwhile) is logged, never raised into the engine."""

    def __init__(
        self,
        records: ExecutionRecords,
        execution: identifier_pb2.WorkflowExecutionIdentifier,
        log_url: Any = None,  # Callable[[Path], str | None]: the HTTP URL of a log file
        resumed: bool = False,  # resumed after a restart: nodes that run again restart their records
    ) -> None:
        self.records = records
        self.execution = execution
        self.log_url = log_url
        self.resumed = resumed

    def _safe(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except AdminError as exc:
            log.info("%s not recorded for %s: %s", what, self.execution.name, exc)
        except Exception:
            log.exception("%s not recorded for %s", what, self.execution.name)

    def node_started(
        self,
        node: NodeRef,
        *,
        input_uri: str,
        is_parent: bool,
        is_array: bool = False,
        started_at: float | None = None,
    ) -> None:
        self._safe(
            "node start",
            self.records.start_node,
            self.execution,
            node.unique_id,
            input_uri=input_uri,
            parent_node_id=node.parent_unique_id,
            spec_node_id=node.spec_node_id,
            retry_group=node.retry_group,
            is_parent=is_parent,
            is_array=is_array,
            restart=self.resumed,
            started_at=started_at,
        )

    def node_finished(
        self,
        node: NodeRef,
        phase: int,
        *,
        output_uri: str = "",
        error: execution_pb2.ExecutionError | None = None,
        task_node_metadata: node_execution_pb2.TaskNodeMetadata | None = None,
        deck_uri: str = "",
    ) -> None:
        self._safe(
            "node end",
            self.records.finish_node,
            self.execution,
            node.unique_id,
            phase,
            output_uri=output_uri,
            error=error,
            task_node_metadata=task_node_metadata,
            deck_uri=deck_uri,
        )

    def child_execution(
        self, node: NodeRef, execution_id: identifier_pb2.WorkflowExecutionIdentifier
    ) -> None:
        self._safe(
            "child execution",
            self.records.link_child_execution,
            self.execution,
            node.unique_id,
            execution_id,
        )

    def node_skipped(self, node: NodeRef) -> None:
        self._safe(
            "node skip",
            self.records.start_node,
            self.execution,
            node.unique_id,
            phase=execution_pb2.NodeExecution.SKIPPED,
            parent_node_id=node.parent_unique_id,
            spec_node_id=node.spec_node_id,
            retry_group=node.retry_group,
            restart=self.resumed,
        )

    def node_recovered(
        self,
        node: NodeRef,
        *,
        input_uri: str,
        output_uri: str,
        task_node_metadata: node_execution_pb2.TaskNodeMetadata | None = None,
        child_execution: identifier_pb2.WorkflowExecutionIdentifier | None = None,
        deck_uri: str = "",
    ) -> None:
        # as Admin records propeller's one RECOVERED event: created and ended at once, never RUNNING
        self._safe(
            "node recovery",
            self.records.start_node,
            self.execution,
            node.unique_id,
            phase=execution_pb2.NodeExecution.QUEUED,
            input_uri=input_uri,
            parent_node_id=node.parent_unique_id,
            spec_node_id=node.spec_node_id,
            retry_group=node.retry_group,
            child_execution=child_execution,
            restart=self.resumed,
        )
        self._safe(
            "node recovery",
            self.records.finish_node,
            self.execution,
            node.unique_id,
            execution_pb2.NodeExecution.RECOVERED,
            output_uri=output_uri,
            task_node_metadata=task_node_metadata,
            deck_uri=deck_uri,
        )

    def dynamic_running(self, node: NodeRef) -> None:
        self._safe(
            "dynamic running",
            self.records.start_node,
            self.execution,
            node.unique_id,
            phase=execution_pb2.NodeExecution.DYNAMIC_RUNNING,
            parent_node_id=node.parent_unique_id,
            spec_node_id=node.spec_node_id,
            retry_group=node.retry_group,
            is_parent=True,
            is_dynamic=True,
        )

    def _logs(self, path: Path | None) -> list[execution_pb2.TaskLog]:
        url = self.log_url(path) if (self.log_url is not None and path is not None) else None
        if not url:
            return []
        return [
            execution_pb2.TaskLog(uri=url, name="Local log", message_format=execution_pb2.TaskLog.UNKNOWN)
        ]

    def attempt_started(
        self,
        node: NodeRef,
        task_id: identifier_pb2.Identifier,
        attempt: int,
        *,
        input_uri: str,
        log: Path,
        task_type: str = "",
    ) -> None:
        self._safe(
            "attempt start",
            self.records.start_task_attempt,
            self.execution,
            node.unique_id,
            task_id,
            attempt,
            input_uri=input_uri,
            logs=self._logs(log),
            task_type=task_type,
        )

    def dynamic_workflow(
        self, node: NodeRef, compiled: compiler_pb2.CompiledWorkflowClosure, *, futures_uri: str
    ) -> None:
        self._safe(
            "dynamic workflow",
            self.records.set_dynamic_workflow,
            self.execution,
            node.unique_id,
            compiled,
            dynamic_job_spec_uri=futures_uri,
        )

    def attempt_finished(
        self,
        node: NodeRef,
        attempt: int,
        phase: int,
        *,
        output_uri: str = "",
        error: execution_pb2.ExecutionError | None = None,
        log: Path | None = None,
        indexes: Sequence[IndexRun] = (),
    ) -> None:
        resources = [
            event_pb2.ExternalResourceInfo(
                external_id=f"{self.execution.name}-{node.unique_id}-n{run.index}",
                index=run.index,
                retry_attempt=run.attempt,
                phase=run.phase,
                cache_status=run.cache_status,
                logs=self._logs(run.log),
            )
            for run in indexes
        ]
        self._safe(
            "attempt end",
            self.records.finish_task_attempt,
            self.execution,
            node.unique_id,
            attempt,
            phase,
            output_uri=output_uri,
            error=error,
            external_resources=resources,
        )


class LocalExecutor:
    """``submit`` / ``terminate`` / ``close`` for the AdminService (the ``Executor`` protocol)."""

    def __init__(
        self,
        records: ExecutionRecords,
        python: str,
        log_url: Any = None,  # Callable[[Path], str | None]
        extra_env: dict[str, str] | None = None,
        kill_grace_s: float = KILL_GRACE_S,
    ) -> None:
        self.records = records
        self.python = python
        self.log_url = log_url
        self.extra_env = extra_env
        self.kill_grace_s = kill_grace_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="flyte-ls-executor", daemon=True)
        self._thread.start()
        self._lock = threading.Lock()
        self._runs: dict[_Key, tuple[WorkflowRun, concurrent.futures.Future[None]]] = {}
        self.signals = signals_for(records.store)
        self.closing = False
        self.children = ChildExecutions(self)
        self.cache = TaskCache(records.store)

    def submit(
        self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, *, resume: bool = False
    ) -> None:
        """Run the execution in the background. ``resume``: after a restart, top-level nodes whose records
        say SUCCEEDED (with readable outputs) are not run again. An execution already running is left
        alone (a parent resumed after a restart may submit its child before the restart loop does)."""
        ident = identifier_pb2.WorkflowExecutionIdentifier()
        ident.CopyFrom(execution_id)
        with self._lock:
            if _key(ident) in self._runs:
                return
        closure = self.records.compiled_workflow(ident)
        inputs = self.records.inputs(ident)
        spec = self.records.get_execution(ident).spec
        config = RunConfig(
            ExecutionKey(ident.project, ident.domain, ident.name),
            self.records.data_dir(ident),
            self.python,
            max_parallelism=spec.max_parallelism,
            # the execution's envs (ExecutionSpec.envs) reach every task, as propeller sets them on task pods
            extra_env={**(self.extra_env or {}), **{kv.key: kv.value for kv in spec.envs.values}},
            kill_grace_s=self.kill_grace_s,
            completed=self._completed(ident) if resume else {},
            resumed_started=self._started(ident) if resume else {},
            recover_from=self._recover_from(ident, spec),
            signals=self.signals,
            children=self.children,
            cache=self.cache,
            overwrite_cache=spec.overwrite_cache,
        )
        observer = RecordsObserver(self.records, ident, self.log_url, resumed=resume)
        run = WorkflowRun(closure, inputs, config, observer)
        with self._lock:
            if _key(ident) in self._runs:  # submitted meanwhile by another thread
                return
            future = asyncio.run_coroutine_threadsafe(self._drive(ident, run), self._loop)
            self._runs[_key(ident)] = (run, future)

    def _recover_from(
        self, ident: identifier_pb2.WorkflowExecutionIdentifier, spec: admin_execution_pb2.ExecutionSpec
    ) -> dict[str, node_execution_pb2.NodeExecution]:
        """A recovered execution: its reference execution's nodes (reused when they succeeded)."""
        original = spec.metadata.reference_execution
        if spec.metadata.mode != admin_execution_pb2.ExecutionMetadata.RECOVERED or not original.name:
            return {}
        try:
            return original_nodes(self.records, original)
        except AdminError as exc:  # the original is gone: everything runs
            log.warning("execution %s cannot recover from %s: %s", ident.name, original.name, exc)
            return {}

    def _started(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, float]:
        """Resuming: when each node the previous backend left unfinished had started."""
        started: dict[str, float] = {}
        for node_id, node in original_nodes(self.records, ident).items():
            closure = node.closure
            if closure.phase not in NODE_TERMINAL and closure.HasField("started_at"):
                started[node_id] = closure.started_at.seconds + closure.started_at.nanos / 1e9
        return started

    def _completed(
        self, ident: identifier_pb2.WorkflowExecutionIdentifier
    ) -> dict[str, literals_pb2.LiteralMap]:
        done: dict[str, literals_pb2.LiteralMap] = {}
        for node in self.records.list_nodes(ident, "", Page(limit=10_000)):
            if node.closure.phase not in _DONE or not node.closure.output_uri:
                continue
            outputs = read_literal_map(node.closure.output_uri)
            if outputs is not None:
                done[node.id.node_id] = outputs
        return done

    async def _drive(self, ident: identifier_pb2.WorkflowExecutionIdentifier, run: WorkflowRun) -> None:
        try:
            self.records.set_execution_phase(ident, WorkflowPhase.RUNNING)
            outcome = await run.run()
            if outcome.phase == WorkflowPhase.SUCCEEDED:
                self.records.set_execution_phase(ident, outcome.phase, outputs_uri=outcome.outputs_uri)
            elif outcome.phase == WorkflowPhase.FAILED:
                self.records.set_execution_phase(ident, outcome.phase, error=outcome.error)
            # ABORTED: TerminateExecution marks the execution itself.
        except AdminError as exc:  # e.g. terminated meanwhile: the phase is already terminal
            log.info("execution %s: %s", ident.name, exc)
        except Exception as exc:
            log.exception("execution %s failed in the executor", ident.name)
            error = execution_pb2.ExecutionError(
                code="ExecutorError",
                message=f"{type(exc).__name__}: {exc}",
                kind=execution_pb2.ExecutionError.SYSTEM,
            )
            try:
                self.records.set_execution_phase(ident, WorkflowPhase.FAILED, error=error)
            except AdminError:
                pass
        finally:
            with self._lock:
                self._runs.pop(_key(ident), None)

    def terminate(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, cause: str) -> None:
        with self._lock:
            entry = self._runs.get(_key(execution_id))
        if entry is None:
            return
        run, future = entry
        self._loop.call_soon_threadsafe(run.terminate, cause)
        # Wait for the attempts to be killed and the nodes marked ABORTED (bounded: may return before).
        concurrent.futures.wait([future], timeout=self.kill_grace_s + 10)

    def future_of(
        self, ident: identifier_pb2.WorkflowExecutionIdentifier
    ) -> concurrent.futures.Future[None] | None:
        """The future of a running execution's drive (done when its record is final), or None."""
        with self._lock:
            entry = self._runs.get(_key(ident))
        return entry[1] if entry is not None else None

    def run_of(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> WorkflowRun | None:
        with self._lock:
            entry = self._runs.get(_key(ident))
        return entry[0] if entry is not None else None

    def running(self) -> list[_Key]:
        with self._lock:
            return list(self._runs)

    def close(self) -> None:
        self.closing = True  # launch-plan nodes leave their children to this stop (they are stopped too)
        with self._lock:
            entries = list(self._runs.values())
        for run, _ in entries:
            self._loop.call_soon_threadsafe(run.terminate, "the local backend is stopping")
        concurrent.futures.wait([f for _, f in entries], timeout=self.kill_grace_s + 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()
