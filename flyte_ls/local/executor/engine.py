"""The DAG engine: one :class:`WorkflowRun` walks a CompiledWorkflowClosure as flytepropeller does
(reference §4).

Nodes start when every upstream node SUCCEEDED; a node with a failed/skipped upstream is SKIPPED. Ready nodes
run concurrently on the caller's event loop (task attempts in threads through
:func:`~flyte_ls.local.runner.run_task_attempt_async`), at most ``max_parallelism`` task attempts at once when
given. Task nodes retry RECOVERABLE failures (user budget: the node's/task's ``retries``; SYSTEM failures: a
separate budget of ``max_system_retries``) and honour the timeout; subworkflow nodes run inline with
propeller's child ids; branch nodes evaluate their conditions and run the chosen child ``<branch>-<child>``.
``terminate()`` cancels the walk: running attempts are killed, running nodes end ABORTED.

Storage layout (propeller's): ``<run>/<node>/data/inputs.pb``, ``<run>/<node>/data/<attempt>/outputs.pb``;
children of a subworkflow/branch node live under ``<parent data>/0/<childId>/``; raw data under
``<raw>/<shard>/<exec>-<node>-<attempt>``; the workflow outputs in ``<run>/end-node/data/0/outputs.pb``.

ArrayNodes over a task (flytekit's ``map_task``) run every index with ``pyflyte-map-execute`` (per-index
retries, ``parallelism``, ``min_successes``/``min_success_ratio``; failed slots gathered as none).

``@dynamic`` tasks: futures.pb is compiled (``compile_dynamic_job``) and run as a sub-DAG of the node.

Gate nodes (:mod:`.gates`): sleep, and approve/signal gates waiting on the SignalService's signals.
Launch-plan nodes (:mod:`.children`): a child execution run by the same executor. Discoverable tasks are
cached (:mod:`.cache`). A failed top-level workflow runs its ``on_failure`` node (``err`` = the error, as a
union literal when the input is Optional).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from flyteidl.core import (
    catalog_pb2,
    compiler_pb2,
    dynamic_job_pb2,
    execution_pb2,
    identifier_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)

from flyte_ls.local.compiler import compile_dynamic_job
from flyte_ls.local.errors import AdminError
from flyte_ls.local.executor.cache import TaskCache, cache_key, lookup, node_metadata, populate
from flyte_ls.local.executor.gates import SignalWaiter, run_gate
from flyte_ls.local.executor.observer import NodeRef, RunObserver
from flyte_ls.local.executor.result import NodeResult as _Result
from flyte_ls.local.executor.result import failed as _failed
from flyte_ls.local.executor.result import write_map as _write
from flyte_ls.local.executor.values import (
    BindingResolutionFailure,
    BranchEvaluationError,
    evaluate,
    resolve_bindings,
)
from flyte_ls.local.runner import (
    KILL_GRACE_S,
    AttemptPaths,
    AttemptPhase,
    ErrorOrigin,
    ExecutionKey,
    run_task_attempt_async,
)

NodePhase = execution_pb2.NodeExecution
TaskPhase = execution_pb2.TaskExecution
WorkflowPhase = execution_pb2.WorkflowExecution
Status = catalog_pb2.CatalogCacheStatus
USER = execution_pb2.ExecutionError.USER
SYSTEM = execution_pb2.ExecutionError.SYSTEM
_OK = frozenset({NodePhase.SUCCEEDED, NodePhase.RECOVERED})
_IdKey = tuple[str, str, str, str, str]


def _key(ident: object) -> _IdKey:
    return (
        str(getattr(ident, "resource_type", "")),
        ident.project,  # type: ignore[attr-defined]
        ident.domain,  # type: ignore[attr-defined]
        ident.name,  # type: ignore[attr-defined]
        ident.version,  # type: ignore[attr-defined]
    )


class ChildLauncher(Protocol):
    """Launch-plan nodes' child executions (:class:`~flyte_ls.local.executor.children.ChildExecutions`)."""

    async def run(
        self,
        parent: identifier_pb2.WorkflowExecutionIdentifier,
        node_id: str,
        launch_plan: identifier_pb2.Identifier,
        inputs: literals_pb2.LiteralMap,
        linked: Callable[[identifier_pb2.WorkflowExecutionIdentifier], None],
    ) -> _Result: ...


@dataclass(frozen=True)
class RunConfig:
    execution: ExecutionKey
    run_dir: Path  # propeller's workflow dir: <run>/<node>/data/...
    python: str  # the interpreter with flytekit that runs tasks
    raw_dir: Path | None = None  # default <run>/raw
    log_dir: Path | None = None  # default <run>/logs
    work_dir: Path | None = None  # private per-attempt cwd / --dest-dir; default <run>/work
    fast_distribution: str | None = None  # for templates still holding {{ .remote_package_path }}
    max_parallelism: int = 0  # task attempts at once; 0 = unlimited
    max_system_retries: int = 3  # propeller's max-node-retries-system-failures
    # top-level node id -> outputs of nodes that already SUCCEEDED (resuming after a restart): not re-run
    completed: Mapping[str, literals_pb2.LiteralMap] = field(default_factory=dict)
    extra_env: Mapping[str, str] | None = None
    kill_grace_s: float = KILL_GRACE_S
    signals: SignalWaiter | None = None  # approve/signal gates wait through it (the SignalService's store)
    children: ChildLauncher | None = None  # launch-plan nodes run their child executions through it
    cache: TaskCache | None = None  # outputs of discoverable tasks (None: nothing is cached)
    overwrite_cache: bool = False  # the execution's: run cached tasks anyway and replace their outputs


@dataclass
class RunOutcome:
    phase: int  # core.WorkflowExecution.Phase: SUCCEEDED, FAILED or ABORTED
    outputs: literals_pb2.LiteralMap | None = None
    outputs_uri: str = ""
    error: execution_pb2.ExecutionError | None = None


_B32 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "abcdefghijklmnopqrstuvwxyz123456")


def _branch_case_upstream(node: workflow_pb2.Node, connections: compiler_pb2.ConnectionSet) -> set[str]:
    """The upstream nodes of a branch node's cases, from the compiled connections (the branch node's own list
    has only what its conditions bind): propeller runs the taken case once they are done (flyte#3512). Waiting
    for every case's upstream before the branch starts is a conservative approximation of that."""
    if not node.HasField("branch_node"):
        return set()
    if_else = node.branch_node.if_else
    cases = [if_else.case.then_node, *(c.then_node for c in if_else.other)]
    if if_else.HasField("else_node"):
        cases.append(if_else.else_node)
    found: set[str] = set()
    for case in cases:
        if case.id in connections.upstream:
            found.update(connections.upstream[case.id].ids)
        found |= _branch_case_upstream(case, connections)
    return found - {node.id}


def unique_node_id(*parts: str, limit: int = 20) -> str:
    """Propeller's ``FixedLengthUniqueIDForParts``: the parts joined by ``-``, or ``f`` + base32 of FNV-1a 32
    when that is longer than ``limit``."""
    joined = "-".join(parts)
    if len(joined) <= limit:
        return joined
    h = 0x811C9DC5
    for byte in joined.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    digits = base64.b32encode(h.to_bytes(4, "big")).decode().rstrip("=")
    return "f" + digits.translate(_B32)


@dataclass(frozen=True)
class _Scope:
    parent: str  # unique id of the parent node ("" at the top level)
    data_root: Path  # where this scope's node dirs go
    retry_group: str = "0"  # the parent's attempt

    def unique(self, node_id: str) -> str:
        return unique_node_id(self.parent, self.retry_group, node_id) if self.parent else node_id

    def data_dir(self, unique: str) -> Path:
        return self.data_root / unique / "data" if not self.parent else self.data_root / unique


class WorkflowRun:
    """One execution of a compiled workflow. ``await run()`` once; ``terminate()`` from the same loop."""

    def __init__(
        self,
        closure: compiler_pb2.CompiledWorkflowClosure,
        inputs: literals_pb2.LiteralMap,
        config: RunConfig,
        observer: RunObserver,
    ) -> None:
        self.closure = closure
        self.inputs = inputs
        self.config = config
        self.observer = observer
        self.run_dir = config.run_dir
        self.raw_dir = config.raw_dir or config.run_dir / "raw"
        self.log_dir = config.log_dir or config.run_dir / "logs"
        self.work_dir = config.work_dir or config.run_dir / "work"
        self._tasks = {_key(t.template.id): t.template for t in closure.tasks}
        self._subworkflows = {_key(w.template.id): w for w in closure.sub_workflows}
        self._slots: asyncio.Semaphore | None = None
        self._main: asyncio.Future[_Result] | None = None
        self.abort_cause: str | None = None
        key = config.execution
        self._execution_id = identifier_pb2.WorkflowExecutionIdentifier(
            project=key.project, domain=key.domain, name=key.name
        )

    def terminate(self, cause: str = "") -> None:
        """Abort the run (call on the run's event loop): attempts are killed, running nodes end ABORTED."""
        self.abort_cause = cause or "terminated"
        if self._main is not None:
            self._main.cancel()

    async def run(self) -> RunOutcome:
        if self.config.max_parallelism > 0:
            self._slots = asyncio.Semaphore(self.config.max_parallelism)
        self._main = asyncio.ensure_future(
            self._run_workflow(self.closure.primary, self.inputs, _Scope("", self.run_dir), top=True)
        )
        if self.abort_cause is not None:
            self._main.cancel()
        try:
            result = await self._main
        except asyncio.CancelledError:
            if self.abort_cause is None:
                raise
            return RunOutcome(WorkflowPhase.ABORTED)
        if result.phase == NodePhase.SUCCEEDED:
            return RunOutcome(WorkflowPhase.SUCCEEDED, result.outputs, result.output_uri)
        return RunOutcome(WorkflowPhase.FAILED, error=result.error)

    # --- workflows ---------------------------------------------------------------------------------------

    async def _run_workflow(
        self,
        compiled: compiler_pb2.CompiledWorkflow,
        inputs: literals_pb2.LiteralMap,
        scope: _Scope,
        top: bool = False,
    ) -> _Result:
        template = compiled.template
        start = self._boundary_ref(scope, "start-node")  # recorded like propeller: its outputs = the inputs
        assert start.data_dir is not None
        self.observer.node_started(start, input_uri="", is_parent=False)
        start_uri = _write(start.data_dir / "0" / "outputs.pb", inputs)
        self.observer.node_finished(start, NodePhase.SUCCEEDED, output_uri=start_uri)
        nodes = {n.id: n for n in template.nodes if n.id not in ("start-node", "end-node")}
        upstream: dict[str, set[str]] = {}
        for node_id in [*nodes, "end-node"]:
            ids = (
                set(compiled.connections.upstream[node_id].ids)
                if node_id in compiled.connections.upstream
                else set()
            )
            if node_id in nodes:
                ids.update(nodes[node_id].upstream_node_ids)
                ids.update(_branch_case_upstream(nodes[node_id], compiled.connections))
            upstream[node_id] = {u for u in ids if u in nodes or u == "start-node"}
        immediate = (
            template.metadata.on_failure != workflow_pb2.WorkflowMetadata.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
        )
        state: dict[str, int] = {"start-node": NodePhase.SUCCEEDED}
        outputs: dict[str, literals_pb2.LiteralMap] = {"start-node": inputs}
        pending = set(nodes)
        running: dict[asyncio.Task[_Result], str] = {}
        first_error: _Result | None = None
        failed_id = ""
        try:
            while True:
                progressed = True
                while progressed and not (first_error is not None and immediate):
                    progressed = False
                    for node_id in sorted(pending):
                        ups = upstream[node_id]
                        if any(u not in state for u in ups):
                            continue
                        pending.discard(node_id)
                        if all(state[u] in _OK for u in ups):
                            if top and node_id in self.config.completed:
                                # resumed after a restart: a top-level node that already succeeded
                                state[node_id] = NodePhase.SUCCEEDED
                                outputs[node_id] = self.config.completed[node_id]
                                progressed = True
                                continue
                            task = asyncio.ensure_future(self._run_node(nodes[node_id], scope, outputs))
                            running[task] = node_id
                        else:
                            state[node_id] = NodePhase.SKIPPED
                            self._skip(nodes[node_id], scope)
                            progressed = True
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    node_id = running.pop(task)
                    result = task.result()
                    state[node_id] = result.phase
                    if result.phase in _OK:
                        outputs[node_id] = result.outputs or literals_pb2.LiteralMap()
                    elif first_error is None:
                        first_error, failed_id = result, scope.unique(node_id)
                if first_error is not None and immediate:
                    break
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        if first_error is not None:
            if top and template.HasField("failure_node"):
                await self._failure_node(template.failure_node, scope, outputs, first_error, failed_id)
            return _Result(NodePhase.FAILED, error=first_error.error)
        if any(state.get(u) not in _OK for u in upstream["end-node"]):
            return _failed("EndNodeNotReached", "the end-node of the workflow was never reached")
        try:
            result = resolve_bindings(template.outputs, outputs)
        except BindingResolutionFailure as exc:
            return _failed("BindingResolutionFailure", str(exc))
        end = self._boundary_ref(scope, "end-node")
        assert end.data_dir is not None
        uri = _write(end.data_dir / "0" / "outputs.pb", result)  # top level: <run>/end-node/data/0/outputs.pb
        self.observer.node_started(end, input_uri="", is_parent=False)
        self.observer.node_finished(end, NodePhase.SUCCEEDED, output_uri=uri)
        return _Result(NodePhase.SUCCEEDED, outputs=result, output_uri=uri if top else "")

    def _boundary_ref(self, scope: _Scope, node_id: str) -> NodeRef:
        unique = scope.unique(node_id)
        retry_group = scope.retry_group if scope.parent else ""
        return NodeRef(unique, node_id, scope.parent, retry_group, scope.data_dir(unique))

    # --- nodes -------------------------------------------------------------------------------------------

    async def _run_node(
        self,
        node: workflow_pb2.Node,
        scope: _Scope,
        outputs: Mapping[str, literals_pb2.LiteralMap],
    ) -> _Result:
        unique = scope.unique(node.id)
        data_dir = scope.data_dir(unique)
        ref = NodeRef(unique, node.id, scope.parent, scope.retry_group if scope.parent else "", data_dir)
        target = node.WhichOneof("target")
        input_path = data_dir / "inputs.pb"
        try:
            inputs = resolve_bindings(node.inputs, outputs)
            resolve_error: str | None = None
        except BindingResolutionFailure as exc:
            inputs, resolve_error = literals_pb2.LiteralMap(), str(exc)
        input_uri = _write(input_path, inputs)
        self.observer.node_started(
            ref,
            input_uri=input_uri,
            is_parent=target == "branch_node"
            or (target == "workflow_node" and node.workflow_node.HasField("sub_workflow_ref")),
            is_array=target == "array_node",
        )
        try:
            if resolve_error is not None:
                result = _failed("BindingResolutionFailure", resolve_error)
            elif target == "task_node":
                result = await self._task_node(node, ref, inputs, input_path)
            elif target == "workflow_node" and node.workflow_node.HasField("sub_workflow_ref"):
                result = await self._subworkflow_node(node, ref, inputs)
            elif target == "array_node":
                result = await self._array_node(node, ref, inputs, input_path)
            elif target == "workflow_node" and node.workflow_node.HasField("launchplan_ref"):
                result = await self._launch_plan_node(node, ref, inputs)
            elif target == "gate_node":
                result = await run_gate(node, unique, inputs, self._execution_id, self.config.signals)
            elif target == "branch_node":
                result = await self._branch_node(node, ref, inputs, outputs)
            else:
                result = _failed(
                    "Unimplemented", f"{target} nodes are not supported by the local executor yet"
                )
        except asyncio.CancelledError:
            self.observer.node_finished(ref, NodePhase.ABORTED)
            raise
        except Exception as exc:  # a bug or an unexpected state: the node fails, the run goes on
            result = _failed("SystemError", f"{type(exc).__name__}: {exc}")
        if result.phase == NodePhase.SUCCEEDED and not result.output_uri:
            result.output_uri = _write(
                data_dir / "0" / "outputs.pb", result.outputs or literals_pb2.LiteralMap()
            )
        self.observer.node_finished(
            ref,
            result.phase,
            output_uri=result.output_uri,
            error=result.error,
            task_node_metadata=result.task_node_metadata,
            deck_uri=result.deck_uri,
        )
        return result

    async def _failure_node(
        self,
        node: workflow_pb2.Node,
        scope: _Scope,
        outputs: Mapping[str, literals_pb2.LiteralMap],
        failure: _Result,
        failed_id: str,
    ) -> None:
        """The workflow's ``on_failure`` node, run after the failure (its result does not change the
        workflow's error). A task input ``err`` gets the error as a ``core.Error`` literal."""
        run = workflow_pb2.Node()
        run.CopyFrom(node)
        template = self._tasks.get(_key(node.task_node.reference_id)) if node.HasField("task_node") else None
        if template is not None and "err" in template.interface.inputs.variables:
            message = failure.error.message if failure.error is not None else "the workflow failed"
            error = literals_pb2.Literal()
            error.scalar.error.message = message
            error.scalar.error.failed_node_id = failed_id
            binding = run.inputs.add(var="err")
            expected = template.interface.inputs.variables["err"].type
            variants = [t for t in expected.union_type.variants if t.simple == types_pb2.ERROR]
            if variants:  # Optional[FlyteError]: a union literal tagged as that variant, as propeller sends
                binding.binding.scalar.union.value.CopyFrom(error)
                binding.binding.scalar.union.type.CopyFrom(variants[0])
            else:
                binding.binding.scalar.CopyFrom(error.scalar)
        await self._run_node(run, scope, outputs)

    def _skip(self, node: workflow_pb2.Node, scope: _Scope) -> None:
        """A node that will not run (a failed/skipped upstream, a branch not taken): recorded SKIPPED."""
        unique = scope.unique(node.id)
        ref = NodeRef(
            unique, node.id, scope.parent, scope.retry_group if scope.parent else "", scope.data_dir(unique)
        )
        self.observer.node_skipped(ref)

    async def _subworkflow_node(
        self, node: workflow_pb2.Node, ref: NodeRef, inputs: literals_pb2.LiteralMap
    ) -> _Result:
        sub = self._subworkflows.get(_key(node.workflow_node.sub_workflow_ref))
        if sub is None:
            return _failed(
                "SubWorkflowNotFound",
                f"subworkflow [{node.workflow_node.sub_workflow_ref.name}] is not in the closure",
            )
        assert ref.data_dir is not None
        result = await self._run_workflow(sub, inputs, _Scope(ref.unique_id, ref.data_dir / "0"))
        return _Result(result.phase, outputs=result.outputs, error=result.error)

    async def _launch_plan_node(
        self, node: workflow_pb2.Node, ref: NodeRef, inputs: literals_pb2.LiteralMap
    ) -> _Result:
        if self.config.children is None:
            return _failed(
                "Unimplemented",
                f"launch-plan node [{node.id}] needs the local backend's executor to launch its child",
            )
        return await self.config.children.run(
            self._execution_id,
            ref.unique_id,
            node.workflow_node.launchplan_ref,
            inputs,
            lambda child: self.observer.child_execution(ref, child),
        )

    async def _branch_node(
        self,
        node: workflow_pb2.Node,
        ref: NodeRef,
        inputs: literals_pb2.LiteralMap,
        outputs: Mapping[str, literals_pb2.LiteralMap],
    ) -> _Result:
        if_else = node.branch_node.if_else
        chosen: workflow_pb2.Node | None = None
        try:
            for case in [if_else.case, *if_else.other]:
                if evaluate(case.condition, inputs):
                    chosen = case.then_node
                    break
        except BranchEvaluationError as exc:
            return _failed("BranchEvaluationError", f"failed to evaluate the branch [{node.id}]: {exc}", USER)
        if chosen is None:
            if if_else.HasField("else_node"):
                chosen = if_else.else_node
            elif if_else.HasField("error"):
                return _failed("UserProvidedError", if_else.error.message, USER)
            else:
                return _failed("NoBranchSatisfied", f"No branch satisfied in [{node.id}]", USER)
        assert ref.data_dir is not None
        scope = _Scope(ref.unique_id, ref.data_dir / "0")
        others = [case.then_node for case in [if_else.case, *if_else.other]]
        if if_else.HasField("else_node"):
            others.append(if_else.else_node)
        for other in others:
            if other.id != chosen.id:
                self._skip(other, scope)
        result = await self._run_node(chosen, scope, outputs)
        return _Result(result.phase, outputs=result.outputs, error=result.error)

    # --- task nodes --------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._slots is None:
            yield
            return
        async with self._slots:
            yield

    def _attempt_paths(
        self, ref: NodeRef, attempt: int, input_path: Path, index: int | None = None
    ) -> AttemptPaths:
        assert ref.data_dir is not None
        sub_id = ref.unique_id if index is None else f"{ref.unique_id}-n{index}"
        name = f"{self.config.execution.name}-{sub_id}"
        # an ArrayNode index writes to <array output dir>/<index>/<attempt>
        out_dir = ref.data_dir if index is None else ref.data_dir / "0" / str(index)

        def raw(n: int) -> Path:
            leaf = f"{name}-{n}"
            if len(leaf) > 50:
                leaf = hashlib.sha1(leaf.encode()).hexdigest()
            return self.raw_dir / hashlib.sha1(leaf.encode()).hexdigest()[:2] / leaf

        return AttemptPaths(
            # the full inputs of the array node; a copy per index, as the runner (re)writes its inputs file
            inputs=input_path if index is None else out_dir / "inputs.pb",
            output_prefix=out_dir / str(attempt),
            raw_output_prefix=raw(attempt),
            checkpoint=raw(attempt) / "_flytecheckpoints",
            prev_checkpoint=raw(attempt - 1) / "_flytecheckpoints" if attempt > 0 else None,
            workdir=self.work_dir / f"{sub_id}-{attempt}",
            log=self.log_dir / f"{sub_id}-{attempt}.log",
        )

    def _template(self, node: workflow_pb2.Node) -> tasks_pb2.TaskTemplate | _Result:
        template = self._tasks.get(_key(node.task_node.reference_id))
        if template is None:
            return _failed("TaskNotFound", f"task [{node.task_node.reference_id.name}] is not in the closure")
        if not template.HasField("container"):
            return _failed("Unimplemented", f"tasks of type [{template.type}] are not supported locally yet")
        return template

    async def _task_node(
        self, node: workflow_pb2.Node, ref: NodeRef, inputs: literals_pb2.LiteralMap, input_path: Path
    ) -> _Result:
        template = self._template(node)
        if isinstance(template, _Result):
            return template
        cache = self.config.cache
        key = cache_key(template, node, inputs) if cache is not None else None
        if cache is not None and key is not None:
            hit, status = lookup(cache, key, self.config.overwrite_cache)
            if hit is not None:  # no attempt at all: the outputs of the attempt that populated the cache
                meta = node_metadata(Status.CACHE_HIT, key, hit.source)
                return _Result(NodePhase.SUCCEEDED, outputs=hit.outputs, task_node_metadata=meta)
        result = await self._attempts(node, ref, template, inputs, input_path)
        if result.futures is not None:
            return await self._dynamic(ref, template, inputs, result)  # @dynamic: not cached
        if cache is not None and key is not None:
            source = identifier_pb2.TaskExecutionIdentifier(
                task_id=template.id,
                node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                    node_id=ref.unique_id, execution_id=self._execution_id
                ),
                retry_attempt=result.attempt,
            )
            ok = result.phase == NodePhase.SUCCEEDED
            result.task_node_metadata = populate(cache, key, status, result.outputs if ok else None, source)
        return result

    async def _dynamic(
        self, ref: NodeRef, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap, done: _Result
    ) -> _Result:
        """A ``@dynamic`` task returned futures.pb: compile the DynamicJobSpec (propeller's ``dynamic_<node>``
        workflow) and run it with the node as parent (child ids ``<node>-<attempt>-dn0``...)."""
        assert done.futures is not None and ref.data_dir is not None
        spec = dynamic_job_pb2.DynamicJobSpec.FromString(done.futures)
        workflow_id = identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW,
            project=template.id.project,
            domain=template.id.domain,
            name=f"dynamic_{ref.unique_id}",
            version=hashlib.sha1(done.futures).hexdigest()[:16],
        )
        try:
            compiled = compile_dynamic_job(
                spec,
                workflow_id,
                template.interface,
                lambda _: None,
                lambda ident: self._tasks.get(_key(ident)),
            )
        except AdminError as exc:
            return _failed("DynamicWorkflowCompileFailure", str(exc), USER)
        for task in compiled.tasks:
            self._tasks.setdefault(_key(task.template.id), task.template)
        for sub in compiled.sub_workflows:
            self._subworkflows.setdefault(_key(sub.template.id), sub)
        self.observer.dynamic_workflow(ref, compiled, futures_uri=done.futures_uri)
        scope = _Scope(ref.unique_id, ref.data_dir / str(done.attempt), retry_group=str(done.attempt))
        result = await self._run_workflow(compiled.primary, inputs, scope)
        return _Result(result.phase, outputs=result.outputs, error=result.error, deck_uri=done.deck_uri)

    async def _array_node(
        self, node: workflow_pb2.Node, ref: NodeRef, inputs: literals_pb2.LiteralMap, input_path: Path
    ) -> _Result:
        """flytekit's map_task: an ArrayNode over a task node; every index runs `pyflyte-map-execute` on the
        array node's full inputs with FLYTE_K8S_ARRAY_INDEX, and the outputs are gathered into lists."""
        array = node.array_node
        if array.node.WhichOneof("target") != "task_node":
            return _failed(
                "Unimplemented", "ArrayNodes over anything but a task are not supported locally yet"
            )
        template = self._template(array.node)
        if isinstance(template, _Result):
            return template
        bound = set(array.bound_inputs)
        sizes = {
            len(lit.collection.literals)
            for var, lit in inputs.literals.items()
            if var not in bound and lit.HasField("collection")
        }
        if len(sizes) > 1:
            return _failed(
                "InvalidArrayLength", f"the list inputs of [{node.id}] have different lengths {sorted(sizes)}"
            )
        size = sizes.pop() if sizes else 0
        criteria = array.WhichOneof("success_criteria")
        if criteria == "min_successes":
            needed = array.min_successes
        elif criteria == "min_success_ratio":
            needed = math.ceil(array.min_success_ratio * size)
        else:
            needed = size
        limit = array.parallelism if array.WhichOneof("parallelism_option") == "parallelism" else 0
        gate = asyncio.Semaphore(limit) if limit > 0 else None

        async def one(index: int) -> _Result:
            if gate is None:
                return await self._attempts(array.node, ref, template, inputs, input_path, index=index)
            async with gate:
                return await self._attempts(array.node, ref, template, inputs, input_path, index=index)

        self.observer.attempt_started(
            ref, template.id, 0, input_uri=str(input_path), log=self._attempt_paths(ref, 0, input_path).log
        )
        try:
            results = await asyncio.gather(*(one(i) for i in range(size)))
        except asyncio.CancelledError:
            self.observer.attempt_finished(ref, 0, TaskPhase.ABORTED)
            raise
        successes = sum(1 for r in results if r.phase == NodePhase.SUCCEEDED)
        if successes < needed:
            first = next(r for r in results if r.phase != NodePhase.SUCCEEDED)
            self.observer.attempt_finished(ref, 0, TaskPhase.FAILED, error=first.error)
            return _Result(NodePhase.FAILED, error=first.error)
        gathered = literals_pb2.LiteralMap()
        none = literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
        for var in template.interface.outputs.variables:
            items = gathered.literals[var].collection.literals
            for r in results:
                ok = r.phase == NodePhase.SUCCEEDED and r.outputs is not None and var in r.outputs.literals
                items.append(r.outputs.literals[var] if ok and r.outputs is not None else none)
        assert ref.data_dir is not None
        uri = _write(ref.data_dir / "0" / "outputs.pb", gathered)
        self.observer.attempt_finished(ref, 0, TaskPhase.SUCCEEDED, output_uri=uri)
        return _Result(NodePhase.SUCCEEDED, outputs=gathered, output_uri=uri)

    async def _attempts(
        self,
        node: workflow_pb2.Node,
        ref: NodeRef,
        template: tasks_pb2.TaskTemplate,
        inputs: literals_pb2.LiteralMap,
        input_path: Path,
        index: int | None = None,
    ) -> _Result:
        """Attempts of one task (or one ArrayNode index, not reported as attempts) until success, a permanent
        failure or the end of the retry budgets."""
        report = index is None
        meta = node.metadata
        retries = meta.retries.retries if meta.HasField("retries") else template.metadata.retries.retries
        timeout = meta.timeout if meta.HasField("timeout") else template.metadata.timeout
        timeout_s = timeout.ToTimedelta().total_seconds() or None
        max_attempts = retries + 1
        user_failures = system_failures = 0
        attempt = 0
        while True:
            paths = self._attempt_paths(ref, attempt, input_path, index)
            if report:
                self.observer.attempt_started(
                    ref, template.id, attempt, input_uri=str(input_path), log=paths.log
                )
            try:
                async with self._slot():
                    result = await run_task_attempt_async(
                        template,
                        inputs=inputs,
                        python=self.config.python,
                        work=paths,
                        execution=self.config.execution,
                        node_id=ref.unique_id if index is None else f"{ref.unique_id}-n{index}",
                        attempt=attempt,
                        fast_distribution=self.config.fast_distribution,
                        timeout_s=timeout_s,
                        workflow_name=self.closure.primary.template.id.name,
                        array_index=index,
                        extra_env=self.config.extra_env,
                        kill_grace_s=self.config.kill_grace_s,
                    )
            except asyncio.CancelledError:
                if report:
                    self.observer.attempt_finished(ref, attempt, TaskPhase.ABORTED, log=paths.log)
                raise
            deck = str(result.deck) if result.deck is not None else ""
            if result.phase == AttemptPhase.SUCCEEDED:
                if result.futures is not None:
                    if not report:
                        error = execution_pb2.ExecutionError(
                            code="Unimplemented", message="@dynamic map tasks are not supported", kind=SYSTEM
                        )
                        return _Result(NodePhase.FAILED, error=error)
                    futures_uri = str(result.futures_path or "")
                    self.observer.attempt_finished(
                        ref, attempt, TaskPhase.SUCCEEDED, output_uri=futures_uri, log=paths.log
                    )
                    return _Result(
                        NodePhase.SUCCEEDED,
                        futures=result.futures,
                        futures_uri=futures_uri,
                        attempt=attempt,
                        deck_uri=deck,
                    )
                uri = str(result.outputs_path or "")
                if report:
                    self.observer.attempt_finished(
                        ref, attempt, TaskPhase.SUCCEEDED, output_uri=uri, log=paths.log
                    )
                return _Result(
                    NodePhase.SUCCEEDED,
                    outputs=result.outputs or literals_pb2.LiteralMap(),
                    output_uri=uri,
                    attempt=attempt,
                    deck_uri=deck,
                )
            if result.phase == AttemptPhase.TIMED_OUT:
                error = execution_pb2.ExecutionError(
                    code="TimeoutExpired", message=f"task execution timeout [{timeout_s}s] expired", kind=USER
                )
                retryable, origin = True, ErrorOrigin.USER
            elif result.phase == AttemptPhase.ABORTED or result.error is None:
                error = execution_pb2.ExecutionError(
                    code="Aborted", message="the attempt was aborted", kind=SYSTEM
                )
                if report:
                    self.observer.attempt_finished(
                        ref, attempt, TaskPhase.ABORTED, error=error, log=paths.log
                    )
                return _Result(NodePhase.ABORTED, error=error)
            else:
                error = result.error.to_execution_error()
                retryable, origin = result.error.recoverable, result.error.origin
            if report:
                self.observer.attempt_finished(ref, attempt, TaskPhase.FAILED, error=error, log=paths.log)
            if not retryable:
                return _Result(NodePhase.FAILED, error=error, deck_uri=deck)
            if origin == ErrorOrigin.SYSTEM:
                system_failures += 1
                can_retry = system_failures <= self.config.max_system_retries
            else:
                user_failures += 1
                can_retry = user_failures < max_attempts
            if not can_retry:
                exhausted = execution_pb2.ExecutionError(
                    code=f"RetriesExhausted|{error.code}",
                    message=f"[{attempt + 1}/{max_attempts}] currentAttempt done. Last Error: "
                    f"{execution_pb2.ExecutionError.ErrorKind.Name(error.kind)}::{error.message}",
                    kind=error.kind,
                    error_uri=error.error_uri,
                )
                return _Result(NodePhase.FAILED, error=exhausted, deck_uri=deck)
            attempt += 1
