"""Launch-plan nodes (reference §3.3): the node launches a child execution and becomes what the child
becomes.

The child is created the way propeller asks Admin to: named ``child_execution_name(<parent>, <node>, 0)``,
with ``metadata{mode CHILD_WORKFLOW, nesting + 1, parent_node_execution}`` and the parent's labels,
annotations, security context, raw output config, envs, interruptible, max_parallelism and overwrite_cache;
the launch plan's defaults and fixed inputs are merged into the node's inputs as CreateExecution does. The
same :class:`~flyte_ls.local.executor.service.LocalExecutor` runs it (it is an ordinary execution: listed,
readable, terminable on its own). The node waits for it without polling (the child run's future), then
takes its outputs, or its error; a child that was aborted fails the node. Terminating the parent terminates
the child.

In a recovered parent, a node whose child in the original did not succeed launches a child that recovers
from that one (mode RECOVERED, ``reference_execution``), as propeller does.

A child that already exists (the parent resumed after a restart) is not created again: a finished one gives
its result, an unfinished one is resumed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2
from flyteidl.core.identifier_pb2 import WorkflowExecutionIdentifier as ExecutionId

from flyte_ls.local.errors import AdminError, AlreadyExists, FailedPrecondition, NotFound
from flyte_ls.local.executions.inputs import child_execution_name, merge_execution_inputs
from flyte_ls.local.executions.records import WF_TERMINAL, ExecutionRecords, read_literal_map
from flyte_ls.local.executor.result import USER, NodePhase, NodeResult, failed
from flyte_ls.local.store import LAUNCH_PLAN

if TYPE_CHECKING:
    from flyte_ls.local.executor.service import LocalExecutor

WorkflowPhase = core_execution_pb2.WorkflowExecution
PRINCIPAL = "flyte-ls"
_INHERITED = ("labels", "annotations", "security_context", "raw_output_data_config", "envs", "interruptible")


class ChildExecutions:
    """Runs launch-plan nodes' child executions on a LocalExecutor (call :meth:`run` on its event loop)."""

    def __init__(self, executor: LocalExecutor) -> None:
        self.executor = executor
        self.records: ExecutionRecords = executor.records

    def launch_plan_interface(self, ident: identifier_pb2.Identifier) -> interface_pb2.TypedInterface | None:
        """A registered launch plan's interface (expected inputs' variables, expected outputs): what
        propeller fetches from Admin to compile a @dynamic sub-DAG with launch-plan nodes."""
        from flyte_ls.local.admin.launch_plans import launch_plan_interface

        return launch_plan_interface(self.records.store, ident)

    async def run(
        self,
        parent: ExecutionId,
        node_id: str,
        launch_plan: identifier_pb2.Identifier,
        inputs: literals_pb2.LiteralMap,
        linked: Callable[[ExecutionId], None],
        recover: ExecutionId | None = None,
    ) -> NodeResult:
        """Launch (or find) the child of node ``node_id`` (its unique id), report it through ``linked``, wait
        for it and return the node's result. ``recover``: the parent is a recovered execution and this is the
        original's child of the node: the new child recovers from it (as propeller asks Admin to)."""
        child = ExecutionId(
            project=parent.project, domain=parent.domain, name=child_execution_name(parent.name, node_id, 0)
        )
        try:
            self._create(parent, node_id, child, launch_plan, inputs, recover)
            existed = False
        except AlreadyExists:
            existed = True
        except AdminError as exc:
            return failed("LaunchPlanLaunchFailed", f"could not launch [{launch_plan.name}]: {exc}", USER)
        linked(child)
        if self.records.get_execution(child).closure.phase not in WF_TERMINAL:
            try:
                self.executor.submit(child, resume=existed)
            except Exception as exc:  # as CreateExecution does when its executor cannot start a run
                error = core_execution_pb2.ExecutionError(
                    code="LaunchFailed",
                    message=f"the local executor could not start the execution: {exc}",
                    kind=core_execution_pb2.ExecutionError.SYSTEM,
                )
                with contextlib.suppress(AdminError):
                    self.records.set_execution_phase(child, WorkflowPhase.FAILED, error=error)
        future = self.executor.future_of(child)
        if future is not None:
            try:
                await asyncio.shield(asyncio.wrap_future(future))
            except asyncio.CancelledError:
                if not self.executor.closing:  # a backend that stops stops (and records) every run itself
                    await self._abort(child, future, self._abort_cause(parent))
                raise
        return self._outcome(child, launch_plan)

    def _create(
        self,
        parent: ExecutionId,
        node_id: str,
        child: ExecutionId,
        launch_plan: identifier_pb2.Identifier,
        inputs: literals_pb2.LiteralMap,
        recover: ExecutionId | None = None,
    ) -> None:
        from flyte_ls.local.admin.common import ident_str
        from flyte_ls.local.admin.executions import effective_spec
        from flyte_ls.local.admin.launch_plans import launch_plan_from_row

        if self.records.store.get_execution(child.project, child.domain, child.name) is not None:
            raise AlreadyExists(f"execution [{child.name}] already exists")
        lp_ref = launch_plan
        row = self.records.store.get_entity(
            LAUNCH_PLAN, lp_ref.project, lp_ref.domain, lp_ref.name, lp_ref.version
        )
        if row is None:
            raise NotFound(f"launch plan [{ident_str(lp_ref)}] does not exist (register it)")
        lp = launch_plan_from_row(row)
        parent_spec = self.records.get_execution(parent).spec
        spec = execution_pb2.ExecutionSpec(launch_plan=lp.id)
        meta = spec.metadata
        meta.mode = execution_pb2.ExecutionMetadata.CHILD_WORKFLOW
        meta.principal = parent_spec.metadata.principal or PRINCIPAL
        meta.nesting = parent_spec.metadata.nesting + 1
        meta.parent_node_execution.CopyFrom(
            identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=parent)
        )
        if recover is not None:  # Admin's RecoverExecution with the parent's metadata
            meta.mode = execution_pb2.ExecutionMetadata.RECOVERED
            meta.reference_execution.CopyFrom(recover)
        for field in _INHERITED:
            if parent_spec.HasField(field):
                getattr(spec, field).CopyFrom(getattr(parent_spec, field))
        spec.max_parallelism = parent_spec.max_parallelism
        spec.overwrite_cache = parent_spec.overwrite_cache
        merged = merge_execution_inputs(
            ident_str(lp.id), lp.closure.expected_inputs, lp.spec.fixed_inputs, inputs
        )
        effective = effective_spec(spec, lp.spec)
        self.records.create_execution(child, effective, lp.id, lp.spec.workflow_id, merged, inputs)

    def _abort_cause(self, parent: ExecutionId) -> str:
        run = self.executor.run_of(parent)
        if run is not None and run.abort_cause:  # the parent was terminated
            return f"parent execution [{parent.name}] was aborted: {run.abort_cause}"
        return f"parent execution [{parent.name}]: some node execution failed, auto-abort"

    async def _abort(self, child: ExecutionId, future: concurrent.futures.Future[None], cause: str) -> None:
        """TerminateExecution of the child, from the executor's loop: ABORTING, the run stopped, ABORTED."""
        try:
            self.records.set_execution_phase(
                child, WorkflowPhase.ABORTING, abort_cause=cause, principal=PRINCIPAL
            )
        except (FailedPrecondition, NotFound):
            return  # it ended meanwhile
        run = self.executor.run_of(child)
        if run is not None:
            run.terminate(cause)
            await asyncio.wait([asyncio.wrap_future(future)], timeout=self.executor.kill_grace_s + 10)
        try:
            self.records.set_execution_phase(child, WorkflowPhase.ABORTED, principal=PRINCIPAL)
        except FailedPrecondition:
            pass

    def _outcome(self, child: ExecutionId, launch_plan: identifier_pb2.Identifier) -> NodeResult:
        closure = self.records.get_execution(child).closure
        if closure.phase == WorkflowPhase.SUCCEEDED:
            outputs = read_literal_map(closure.outputs.uri) or literals_pb2.LiteralMap()
            return NodeResult(NodePhase.SUCCEEDED, outputs=outputs)
        if closure.phase == WorkflowPhase.FAILED and closure.HasField("error"):
            error = core_execution_pb2.ExecutionError()
            error.CopyFrom(closure.error)
            return NodeResult(NodePhase.FAILED, error=error)
        if closure.phase in (WorkflowPhase.ABORTING, WorkflowPhase.ABORTED):
            how = "was aborted"
            if closure.abort_metadata.cause:
                how += f" ({closure.abort_metadata.cause})"
        else:
            how = f"ended {WorkflowPhase.Phase.Name(closure.phase)}"
        return failed(
            "RemoteChildWorkflowExecutionFailed",
            f"launch plan [{launch_plan.name}] execution [{child.name}] {how}",
            USER,
        )
