"""Execution RPCs: CreateExecution (launch plan or single task), Relaunch, Recover, Get, GetData, List,
Terminate — flyteadmin's execution_manager semantics over :mod:`flyte_ls.local.executions.records`.

Running an execution is the :class:`~flyte_ls.local.executions.Executor`'s job (see that module for the
protocol); without one (:class:`~flyte_ls.local.executions.NullExecutor`) executions stay QUEUED.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import grpc
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2, workflow_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2

from flyte_ls.local import listing
from flyte_ls.local.admin.common import ident_str, next_token, page_for, validate_project_domain
from flyte_ls.local.admin.launch_plans import LaunchPlanMixin
from flyte_ls.local.admin.tasks import TaskMixin
from flyte_ls.local.admin.workflows import WorkflowMixin
from flyte_ls.local.errors import AlreadyExists, FailedPrecondition, InvalidArgument, rpc
from flyte_ls.local.executions import Executor, NullExecutor, flytegen
from flyte_ls.local.executions.inputs import generate_name, merge_execution_inputs, validate_name
from flyte_ls.local.executions.metrics import SpanBuilder
from flyte_ls.local.executions.records import (
    WF_TERMINAL,
    ExecutionRecords,
    WorkflowPhase,
    exec_str,
    read_literal_map,
)
from flyte_ls.local.store import LAUNCH_PLAN, WORKFLOW, Store

log = logging.getLogger(__name__)

DEFAULT_MAX_PARALLELISM = 25
SYSTEM_GENERATED = 2  # admin.NamedEntityState
PRINCIPAL = "flyte-ls"

_EXECUTION_STATES = {
    **dict(execution_pb2.ExecutionState.items()),
    "ACTIVE": execution_pb2.EXECUTION_ACTIVE,
    "ARCHIVED": execution_pb2.EXECUTION_ARCHIVED,
}
_STATE_KEY = re.compile(r"\(\s*(execution\.)?state\s*,")

EXECUTION_COLUMNS: dict[str, listing.Column] = {
    "project": listing.Column("project"),
    "domain": listing.Column("domain"),
    "name": listing.Column("name"),
    "phase": listing.Column("phase", listing.enum_value(dict(WorkflowPhase.Phase.items()))),
    "created_at": listing.Column("created_at", listing.timestamp),
    "updated_at": listing.Column("updated_at", listing.timestamp),
    "state": listing.Column("state", listing.enum_value(_EXECUTION_STATES)),
    **{
        f"{entity}_{field}": listing.Column(f"{entity}_{field}")
        for entity in ("launch_plan", "workflow", "task")
        for field in ("name", "version")
    },
}
# Admin joins the launch plan, workflow and task tables: `eq(workflow.name,x)` filters on them.
_JOINED_KEY = re.compile(r"\(\s*(launch_plan|workflow|task)\.(name|version)\s*,")


MAX_INLINE_BYTES = 8 * 1024 * 1024  # inputs and outputs inlined together stay under the 20 MiB message limit


def inline_literal_map(path: str) -> literals_pb2.LiteralMap | None:
    """The LiteralMap at ``path`` for a Get…Data answer's ``full_inputs``/``full_outputs``; None when there
    is none or it is larger than :data:`MAX_INLINE_BYTES`: then, as Admin beyond its ``maxSizeInBytes``,
    only the ``UrlBlob`` (a plain path with its size) is answered and clients read the file from there."""
    try:
        if not path or Path(path).stat().st_size > MAX_INLINE_BYTES:
            return None
    except OSError:
        return None
    return read_literal_map(path)


def url_blob(path: str) -> common_pb2.UrlBlob:
    try:
        size = Path(path).stat().st_size if path else 0
    except OSError:
        size = 0
    return common_pb2.UrlBlob(url=path if size else "", bytes=size)


class ExecutionMixin(TaskMixin, WorkflowMixin, LaunchPlanMixin):
    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.records = ExecutionRecords(store)
        self.executor: Executor = NullExecutor()

    # --- create ------------------------------------------------------------------------------------------

    @rpc
    def CreateExecution(
        self, request: execution_pb2.ExecutionCreateRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionCreateResponse:
        inputs = request.inputs if request.inputs.literals else request.spec.inputs
        ident = self.create_execution(request.project, request.domain, request.name, request.spec, inputs)
        return execution_pb2.ExecutionCreateResponse(id=ident)

    def create_execution(
        self,
        project: str,
        domain: str,
        name: str,
        spec: execution_pb2.ExecutionSpec,
        inputs: literals_pb2.LiteralMap,
    ) -> identifier_pb2.WorkflowExecutionIdentifier:
        """CreateExecution without gRPC (raises :class:`AdminError`s), e.g. for launch-plan nodes."""
        validate_project_domain(self.store, project, domain)
        if name:
            validate_name(name)
            if self.store.get_execution(project, domain, name) is not None:
                raise AlreadyExists(f"execution [{project}/{domain}/{name}] already exists")
        else:
            name = generate_name()
            while self.store.get_execution(project, domain, name) is not None:
                name = generate_name()
        ident = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
        lp = self._launch_plan_for(spec.launch_plan)
        merged = merge_execution_inputs(
            ident_str(lp.id), lp.closure.expected_inputs, lp.spec.fixed_inputs, inputs
        )
        effective = effective_spec(spec, lp.spec)
        self.records.create_execution(ident, effective, lp.id, lp.spec.workflow_id, merged, inputs)
        try:
            self.executor.submit(ident)
        except Exception as exc:
            log.exception("submitting %s failed", exec_str(ident))
            error = core_execution_pb2.ExecutionError(
                code="LaunchFailed",
                message=f"the local executor could not start the execution: {exc}",
                kind=core_execution_pb2.ExecutionError.SYSTEM,
            )
            try:
                self.records.set_execution_phase(ident, WorkflowPhase.FAILED, error=error)
            except FailedPrecondition:
                pass  # the executor ended it itself before failing
        return ident

    def _launch_plan_for(self, ident: identifier_pb2.Identifier) -> launch_plan_pb2.LaunchPlan:
        if ident.resource_type == identifier_pb2.LAUNCH_PLAN:
            return self.get_launch_plan(ident)
        if ident.resource_type == identifier_pb2.TASK:
            return self.get_launch_plan(self.ensure_flytegen(ident))
        got = identifier_pb2.ResourceType.Name(ident.resource_type)
        raise InvalidArgument(
            f"spec.launch_plan [{ident_str(ident)}] has resource type {got}: "
            "an execution launches a LAUNCH_PLAN or a TASK"
        )

    def ensure_flytegen(self, task_ident: identifier_pb2.Identifier) -> identifier_pb2.Identifier:
        """The (idempotently created) ``.flytegen.<task>`` launch plan of a single-task execution."""
        task = self.get_task(task_ident)
        wf_request = flytegen.workflow_request(task.closure.compiled_task.template)
        try:
            self.create_workflow(wf_request)
        except AlreadyExists:
            pass
        lp_request = flytegen.launch_plan_request(wf_request.id)
        try:
            self.create_launch_plan(lp_request)
        except AlreadyExists:
            pass
        wf = wf_request.id
        for resource_type in (WORKFLOW, LAUNCH_PLAN):
            self.store.update_named_entity(
                resource_type, wf.project, wf.domain, wf.name, "", SYSTEM_GENERATED
            )
        return lp_request.id

    @rpc
    def RelaunchExecution(
        self, request: execution_pb2.ExecutionRelaunchRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionCreateResponse:
        mode = execution_pb2.ExecutionMetadata.RELAUNCH
        ident = self._rerun(request.id, request.name, mode, overwrite_cache=request.overwrite_cache)
        return execution_pb2.ExecutionCreateResponse(id=ident)

    @rpc
    def RecoverExecution(
        self, request: execution_pb2.ExecutionRecoverRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionCreateResponse:
        """A new execution in mode RECOVERED referencing the original (flyteadmin's: the original's spec and
        user inputs; the request's ``metadata`` replaces the parent node execution, as propeller recovers a
        launch-plan node's child). The local executor takes over the outputs of the original's succeeded
        nodes instead of running them again (flyte_ls.local.executor.recovery)."""
        parent = request.metadata.parent_node_execution if request.HasField("metadata") else None
        mode = execution_pb2.ExecutionMetadata.RECOVERED
        ident = self._rerun(request.id, request.name, mode, parent=parent)
        return execution_pb2.ExecutionCreateResponse(id=ident)

    def _rerun(
        self,
        original: identifier_pb2.WorkflowExecutionIdentifier,
        name: str,
        mode: int,
        *,
        overwrite_cache: bool | None = None,
        parent: identifier_pb2.NodeExecutionIdentifier | None = None,
    ) -> identifier_pb2.WorkflowExecutionIdentifier:
        """Relaunch/recover: the original's spec and request inputs under a new (given or generated) name."""
        old = self.records.get_execution(original)
        spec = execution_pb2.ExecutionSpec()
        spec.CopyFrom(old.spec)
        spec.metadata.mode = mode
        spec.metadata.reference_execution.CopyFrom(old.id)
        if overwrite_cache is not None:
            spec.overwrite_cache = overwrite_cache
        if parent is not None and parent.node_id:
            spec.metadata.parent_node_execution.CopyFrom(parent)
        elif parent is not None:
            spec.metadata.ClearField("parent_node_execution")
        user_inputs = read_literal_map(str(self.records.metadata_dir(old.id) / "user_inputs"))
        return self.create_execution(
            old.id.project, old.id.domain, name, spec, user_inputs or literals_pb2.LiteralMap()
        )

    # --- read --------------------------------------------------------------------------------------------

    @rpc
    def GetExecution(
        self, request: execution_pb2.WorkflowExecutionGetRequest, context: grpc.ServicerContext
    ) -> execution_pb2.Execution:
        return self.records.get_execution(request.id)

    @rpc
    def GetExecutionData(
        self, request: execution_pb2.WorkflowExecutionGetDataRequest, context: grpc.ServicerContext
    ) -> execution_pb2.WorkflowExecutionGetDataResponse:
        execution = self.records.get_execution(request.id)
        inputs_path = str(self.records.inputs_path(request.id))
        outputs_path = execution.closure.outputs.uri
        response = execution_pb2.WorkflowExecutionGetDataResponse(
            inputs=url_blob(inputs_path), outputs=url_blob(outputs_path)
        )
        full_inputs = inline_literal_map(inputs_path)
        if full_inputs is not None:
            response.full_inputs.CopyFrom(full_inputs)
        full_outputs = inline_literal_map(outputs_path)
        if full_outputs is not None:
            response.full_outputs.CopyFrom(full_outputs)
        return response

    @rpc
    def ListExecutions(
        self, request: common_pb2.ResourceListRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionList:
        validate_project_domain(self.store, request.id.project, request.id.domain)
        filters = _JOINED_KEY.sub(r"(\1_\2,", request.filters)
        if not _STATE_KEY.search(filters):  # as Admin: archived executions only when asked for
            filters = "+".join(f for f in (filters.strip(), "eq(state,0)") if f)
        if filters != request.filters:
            rewritten = common_pb2.ResourceListRequest()
            rewritten.CopyFrom(request)
            rewritten.filters = filters
            request = rewritten
        page = page_for(request, EXECUTION_COLUMNS, "execution")
        executions = self.records.list_executions(request.id.project, request.id.domain, page)
        return execution_pb2.ExecutionList(executions=executions, token=next_token(page, executions))

    @rpc
    def GetExecutionMetrics(
        self, request: execution_pb2.WorkflowExecutionGetMetricsRequest, context: grpc.ServicerContext
    ) -> execution_pb2.WorkflowExecutionGetMetricsResponse:
        execution = self.records.get_execution(request.id)
        builder = SpanBuilder(self.records, self._compiled_workflow)
        return execution_pb2.WorkflowExecutionGetMetricsResponse(
            span=builder.execution(execution, request.depth)
        )

    def _compiled_workflow(
        self, ident: identifier_pb2.Identifier
    ) -> compiler_pb2.CompiledWorkflowClosure | None:
        row = self.store.get_entity(WORKFLOW, ident.project, ident.domain, ident.name, ident.version)
        if row is None:
            return None
        return workflow_pb2.WorkflowClosure.FromString(row.closure).compiled_workflow

    @rpc
    def UpdateExecution(
        self, request: execution_pb2.ExecutionUpdateRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionUpdateResponse:
        if request.state not in (execution_pb2.EXECUTION_ACTIVE, execution_pb2.EXECUTION_ARCHIVED):
            raise InvalidArgument(
                f"invalid execution state {request.state}: use EXECUTION_ACTIVE or _ARCHIVED"
            )
        self.records.set_execution_state(request.id, request.state, PRINCIPAL)
        return execution_pb2.ExecutionUpdateResponse()

    # --- terminate ---------------------------------------------------------------------------------------

    @rpc
    def TerminateExecution(
        self, request: execution_pb2.ExecutionTerminateRequest, context: grpc.ServicerContext
    ) -> execution_pb2.ExecutionTerminateResponse:
        self.terminate_execution(request.id, request.cause)
        return execution_pb2.ExecutionTerminateResponse()

    def terminate_execution(self, ident: identifier_pb2.WorkflowExecutionIdentifier, cause: str) -> None:
        execution = self.records.get_execution(ident)
        phase = execution.closure.phase
        if phase in WF_TERMINAL:
            raise FailedPrecondition(
                f"execution [{exec_str(ident)}] has already finished ({WorkflowPhase.Phase.Name(phase)}): "
                "only a running execution can be terminated"
            )
        self.records.set_execution_phase(
            ident, WorkflowPhase.ABORTING, abort_cause=cause, principal=PRINCIPAL
        )
        try:
            self.executor.terminate(ident, cause)
        except Exception:  # the record must still end: never left ABORTING forever
            log.exception("the executor failed to terminate %s; marking it ABORTED anyway", exec_str(ident))
        try:
            self.records.set_execution_phase(ident, WorkflowPhase.ABORTED, principal=PRINCIPAL)
        except FailedPrecondition:
            pass  # the executor already wrote a terminal phase


def effective_spec(
    request: execution_pb2.ExecutionSpec, lp: launch_plan_pb2.LaunchPlanSpec
) -> execution_pb2.ExecutionSpec:
    """The stored spec: the request's, with what it leaves unset taken from the launch plan, then defaults."""
    spec = execution_pb2.ExecutionSpec()
    spec.CopyFrom(request)
    spec.ClearField("inputs")  # the inputs live in the inputs file
    spec.max_parallelism = request.max_parallelism or lp.max_parallelism or DEFAULT_MAX_PARALLELISM
    for field in ("labels", "annotations", "security_context", "raw_output_data_config", "envs"):
        if not request.HasField(field) and lp.HasField(field):
            getattr(spec, field).CopyFrom(getattr(lp, field))
    if not request.HasField("interruptible") and lp.HasField("interruptible"):
        spec.interruptible.CopyFrom(lp.interruptible)
    spec.overwrite_cache = request.overwrite_cache or lp.overwrite_cache
    if request.disable_all:
        spec.ClearField("notifications")
    elif not request.HasField("notifications") and lp.entity_metadata.notifications:
        spec.notifications.notifications.extend(lp.entity_metadata.notifications)
    return spec
