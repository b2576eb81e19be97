"""The DAG engine: one :class:`WorkflowRun` walks a CompiledWorkflowClosure as flytepropeller does
(reference §4).

Nodes start when every upstream node SUCCEEDED; a node with a failed/skipped upstream is SKIPPED. Ready nodes
run concurrently on the caller's event loop (task attempts in threads through
:func:`~flyte_ls.local.runner.run_task_attempt_async`), at most ``max_parallelism`` task and launch-plan
nodes (and map-task indexes) at once when given: a node waits for its slot before it is recorded as started,
and a ``@dynamic`` node gives its slot back while its sub-DAG runs. Task nodes retry RECOVERABLE failures
(user budget: the node's/task's ``retries``; SYSTEM failures: a separate budget of ``max_system_retries``)
and honour the timeout; subworkflow nodes run inline with propeller's child ids; branch nodes evaluate their
conditions and run the chosen child ``<branch>-<child>``. ``terminate()`` cancels the walk: running attempts
are killed, running nodes end ABORTED.

Storage layout (propeller's): ``<run>/<node>/data/inputs.pb``, ``<run>/<node>/data/<attempt>/outputs.pb``;
children of a subworkflow/branch node live under ``<parent data>/0/<childId>/``; raw data under
``<raw>/<shard>/<exec>-<node>-<attempt>``; the workflow outputs in ``<run>/end-node/data/0/outputs.pb``.

ArrayNodes over a task (flytekit's ``map_task``) run every index with ``pyflyte-map-execute`` (per-index
retries, ``parallelism``, ``min_successes``/``min_success_ratio``; failed slots gathered as none).

``@dynamic`` tasks: futures.pb is compiled (``compile_dynamic_job``) and run as a sub-DAG of the node. Task
nodes, ArrayNodes and ``@dynamic`` live in :mod:`.tasks`.

Gate nodes (:mod:`.gates`): sleep, and approve/signal gates waiting on the SignalService's signals.
Launch-plan nodes (:mod:`.children`): a child execution run by the same executor. Discoverable tasks are
cached (:mod:`.cache`). A recovered execution (RecoverExecution) takes over the original's succeeded nodes at
any depth instead of running them (:mod:`.recovery`). A failed top-level workflow runs its ``on_failure``
node (``err`` = the error, as a union literal when the input is Optional).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from flyteidl.core import (
    compiler_pb2,
    execution_pb2,
    identifier_pb2,
    literals_pb2,
    types_pb2,
    workflow_pb2,
)

from flyte_ls.local.executor.config import ChildLauncher as ChildLauncher
from flyte_ls.local.executor.config import RunConfig as RunConfig
from flyte_ls.local.executor.config import RunOutcome as RunOutcome
from flyte_ls.local.executor.config import Scope as _Scope
from flyte_ls.local.executor.config import entity_key as _key
from flyte_ls.local.executor.config import unique_node_id as unique_node_id
from flyte_ls.local.executor.gates import run_gate
from flyte_ls.local.executor.observer import NodeRef, RunObserver
from flyte_ls.local.executor.recovery import recover_node, recovered_child
from flyte_ls.local.executor.result import NodeResult as _Result
from flyte_ls.local.executor.result import failed as _failed
from flyte_ls.local.executor.result import write_map as _write
from flyte_ls.local.executor.tasks import NodeSlot, TaskNodes
from flyte_ls.local.executor.values import (
    BindingResolutionFailure,
    BranchEvaluationError,
    evaluate,
    resolve_bindings,
)

NodePhase = execution_pb2.NodeExecution
WorkflowPhase = execution_pb2.WorkflowExecution
USER = execution_pb2.ExecutionError.USER
_OK = frozenset({NodePhase.SUCCEEDED, NodePhase.RECOVERED})


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


class WorkflowRun(TaskNodes):
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
        self._node_slots: dict[str, NodeSlot] = {}
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
        is_parent = target == "branch_node" or (
            target == "workflow_node" and node.workflow_node.HasField("sub_workflow_ref")
        )
        recovered = recover_node(self.config.recover_from.get(unique), data_dir)
        if recovered is not None:  # RecoverExecution: the original's result, not run again
            self.observer.node_recovered(
                ref,
                input_uri=recovered.inputs_uri,
                output_uri=recovered.outputs_uri,
                task_node_metadata=recovered.task_node_metadata,
                child_execution=recovered.child_execution,
                deck_uri=recovered.deck_uri,
            )
            return _Result(NodePhase.RECOVERED, outputs=recovered.outputs, output_uri=recovered.outputs_uri)
        # max_parallelism counts task and launch-plan nodes (propeller): a node beyond the budget is not
        # started (no record) until a slot frees; a @dynamic node gives its slot back to its sub-DAG
        counted = target == "task_node" or (
            target == "workflow_node" and node.workflow_node.HasField("launchplan_ref")
        )
        slot = NodeSlot(self._slots if counted else None)
        self._node_slots[unique] = slot
        try:
            await slot.acquire()
            return await self._start_node(node, ref, target, is_parent, outputs)
        finally:
            slot.release()
            self._node_slots.pop(unique, None)

    async def _start_node(
        self,
        node: workflow_pb2.Node,
        ref: NodeRef,
        target: str | None,
        is_parent: bool,
        outputs: Mapping[str, literals_pb2.LiteralMap],
    ) -> _Result:
        unique, data_dir = ref.unique_id, ref.data_dir
        assert data_dir is not None
        input_path = data_dir / "inputs.pb"
        try:
            inputs = resolve_bindings(node.inputs, outputs)
            resolve_error: str | None = None
        except BindingResolutionFailure as exc:
            inputs, resolve_error = literals_pb2.LiteralMap(), str(exc)
        input_uri = _write(input_path, inputs)
        resumed_at = self.config.resumed_started.get(unique) if target == "gate_node" else None
        self.observer.node_started(
            ref,
            input_uri=input_uri,
            is_parent=is_parent,
            is_array=target == "array_node",
            started_at=resumed_at,
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
                signals = self.config.signals
                result = await run_gate(node, unique, inputs, self._execution_id, signals, resumed_at)
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
        if result.phase == NodePhase.RECOVERED:  # a parent node whose (only) child was recovered succeeds
            result.phase = NodePhase.SUCCEEDED
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
        return await self.config.children.run(  # its slot (max_parallelism) is held by _run_node
            self._execution_id,
            ref.unique_id,
            node.workflow_node.launchplan_ref,
            inputs,
            lambda child: self.observer.child_execution(ref, child),
            # recovering: a child of the original that did not succeed is recovered by the new child
            recover=recovered_child(self.config.recover_from.get(ref.unique_id)),
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
