"""Launch plan RPCs: create (merged with the workflow interface), get, list, activate, active lookups."""

from __future__ import annotations

import grpc
from flyteidl.admin import common_pb2, launch_plan_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, interface_pb2

from flyte_ls.local import listing
from flyte_ls.local.admin.common import (
    Base,
    entity_row,
    id_str,
    ident_str,
    insert_version,
    list_entity_rows,
    next_token,
    page_for,
    timestamp,
    validate_identifier,
    validate_named_id,
    validate_project_domain,
)
from flyte_ls.local.admin.tasks import list_ids
from flyte_ls.local.compiler_types import castable, type_name
from flyte_ls.local.errors import InvalidArgument, NotFound, rpc
from flyte_ls.local.executions.inputs import type_mismatch
from flyte_ls.local.store import LAUNCH_PLAN, LP_ACTIVE, LP_INACTIVE, WORKFLOW, EntityRow, Store

LP_COLUMNS: dict[str, listing.Column] = {
    **listing.ENTITY_COLUMNS,
    "state": listing.Column("state", listing.enum_value({"INACTIVE": LP_INACTIVE, "ACTIVE": LP_ACTIVE})),
}


def launch_plan_from_row(row: EntityRow) -> launch_plan_pb2.LaunchPlan:
    closure = launch_plan_pb2.LaunchPlanClosure.FromString(row.closure)
    closure.state = row.state or LP_INACTIVE
    closure.updated_at.CopyFrom(timestamp(row.updated_at))
    return launch_plan_pb2.LaunchPlan(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=row.project,
            domain=row.domain,
            name=row.name,
            version=row.version,
        ),
        spec=launch_plan_pb2.LaunchPlanSpec.FromString(row.spec),
        closure=closure,
    )


def launch_plan_interface(
    store: Store, ident: identifier_pb2.Identifier
) -> interface_pb2.TypedInterface | None:
    """A registered launch plan's interface (expected inputs' variables, expected outputs), None when it is
    not registered: what the compiler needs of a launch-plan node (propeller fetches it from Admin)."""
    row = store.get_entity(LAUNCH_PLAN, ident.project, ident.domain, ident.name, ident.version)
    if row is None:
        return None
    closure = launch_plan_pb2.LaunchPlanClosure.FromString(row.closure)
    iface = interface_pb2.TypedInterface(outputs=closure.expected_outputs)
    for name, param in closure.expected_inputs.parameters.items():
        iface.inputs.variables[name].CopyFrom(param.var)
    return iface


def merge_inputs(
    lp_id: identifier_pb2.Identifier,
    spec: launch_plan_pb2.LaunchPlanSpec,
    wf_inputs: interface_pb2.VariableMap,
) -> interface_pb2.ParameterMap:
    """Admin's expected inputs: every workflow input not fixed, with the LP's default or as required.

    Checked as Admin does (``ValidateLaunchPlan``): each default input names a workflow input and its declared
    type casts to that input's type; each default value casts to its declared type; each fixed input names a
    workflow input and its value casts to that input's type; a parameter has a type, and a default or
    ``required``. Errors name the input and both types."""
    lp = ident_str(lp_id)
    defaults = spec.default_inputs.parameters
    fixed = spec.fixed_inputs.literals
    for name, param in sorted(defaults.items()):
        _check_parameter(lp, name, param)
        if name not in wf_inputs.variables:
            raise InvalidArgument(
                f"launch plan [{lp}]: default input [{name}] is not an input of the workflow"
            )
        if name in fixed:
            raise InvalidArgument(f"launch plan [{lp}]: input [{name}] is both a default and a fixed input")
        declared, wf_type = param.var.type, wf_inputs.variables[name].type
        if not castable(declared, wf_type):
            raise InvalidArgument(
                f"launch plan [{lp}]: invalid default input [{name}] wrong type. "
                f"Expected {type_name(wf_type)} (the workflow input's type), "
                f"but the launch plan declares {type_name(declared)}"
            )
    for name, literal in sorted(fixed.items()):
        if name not in wf_inputs.variables:
            raise InvalidArgument(f"launch plan [{lp}]: fixed input [{name}] is not an input of the workflow")
        why = type_mismatch(literal, wf_inputs.variables[name].type)
        if why:
            raise InvalidArgument(f"launch plan [{lp}]: invalid fixed input [{name}] wrong type. {why}")
    merged = interface_pb2.ParameterMap()
    for name, var in wf_inputs.variables.items():
        if name in fixed:
            continue
        if name in defaults:
            merged.parameters[name].CopyFrom(defaults[name])
        else:
            merged.parameters[name].CopyFrom(interface_pb2.Parameter(var=var, required=True))
    schedule = spec.entity_metadata.schedule
    if spec.entity_metadata.HasField("schedule") and schedule.WhichOneof("ScheduleExpression"):
        required = [
            n
            for n, p in merged.parameters.items()
            if p.required and not p.HasField("default") and n != schedule.kickoff_time_input_arg
        ]
        if required:
            raise InvalidArgument(
                f"launch plan [{lp}] has a schedule but required inputs without defaults: "
                f"{', '.join(sorted(required))}"
            )
    return merged


def _check_parameter(lp: str, name: str, param: interface_pb2.Parameter) -> None:
    """One default input on its own (Admin's ``validateParameterMap``)."""
    if not name:
        raise InvalidArgument(f"launch plan [{lp}]: a default input has an empty name")
    if not param.HasField("var") or not param.var.type.WhichOneof("type"):
        raise InvalidArgument(
            f"launch plan [{lp}]: default input [{name}] has no type: set its Parameter.var.type"
        )
    behavior = param.WhichOneof("behavior")
    if behavior in (None, "required") and not param.required:
        raise InvalidArgument(
            f"launch plan [{lp}]: default input [{name}] has neither a default nor required=true: set one"
        )
    if param.HasField("default"):
        why = type_mismatch(param.default, param.var.type)
        if why:
            raise InvalidArgument(
                f"launch plan [{lp}]: invalid default value of input [{name}] wrong type. {why}"
            )


class LaunchPlanMixin(Base):
    @rpc
    def CreateLaunchPlan(
        self, request: launch_plan_pb2.LaunchPlanCreateRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlanCreateResponse:
        self.create_launch_plan(request)
        return launch_plan_pb2.LaunchPlanCreateResponse()

    def create_launch_plan(self, request: launch_plan_pb2.LaunchPlanCreateRequest) -> None:
        """CreateLaunchPlan without gRPC (raises :class:`AdminError`s), e.g. for ``.flytegen`` LPs."""
        ident = request.id
        validate_identifier(self.store, ident, identifier_pb2.LAUNCH_PLAN)
        wf_id = request.spec.workflow_id
        validate_identifier(self.store, wf_id, identifier_pb2.WORKFLOW)
        wf_row = self.store.get_entity(WORKFLOW, wf_id.project, wf_id.domain, wf_id.name, wf_id.version)
        if wf_row is None:
            raise NotFound(
                f"workflow [{ident_str(wf_id)}] of launch plan [{ident_str(ident)}] does not exist: "
                "register it first"
            )
        wf_closure = workflow_pb2.WorkflowClosure.FromString(wf_row.closure)
        wf_iface = wf_closure.compiled_workflow.primary.template.interface
        spec = launch_plan_pb2.LaunchPlanSpec()
        spec.CopyFrom(request.spec)
        expected = merge_inputs(ident, spec, wf_iface.inputs)
        spec.default_inputs.CopyFrom(expected)
        now = timestamp()
        closure = launch_plan_pb2.LaunchPlanClosure(
            state=launch_plan_pb2.INACTIVE,
            expected_inputs=expected,
            expected_outputs=wf_iface.outputs,
            created_at=now,
            updated_at=now,
        )
        insert_version(
            self.store,
            ident,
            spec=spec,
            closure=closure,
            structure=spec,
            registered=lambda row: launch_plan_pb2.LaunchPlanSpec.FromString(row.spec),
            state=LP_INACTIVE,
        )

    def _get_lp_row(self, ident: identifier_pb2.Identifier) -> EntityRow:
        return entity_row(self.store, LAUNCH_PLAN, ident)

    @rpc
    def GetLaunchPlan(
        self, request: common_pb2.ObjectGetRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlan:
        return self.get_launch_plan(request.id)

    def get_launch_plan(self, ident: identifier_pb2.Identifier) -> launch_plan_pb2.LaunchPlan:
        return launch_plan_from_row(self._get_lp_row(ident))

    @rpc
    def UpdateLaunchPlan(
        self, request: launch_plan_pb2.LaunchPlanUpdateRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlanUpdateResponse:
        row = self._get_lp_row(request.id)
        if request.state == launch_plan_pb2.ACTIVE:
            self.store.activate_launch_plan(row.project, row.domain, row.name, row.version)
        elif request.state == launch_plan_pb2.INACTIVE:
            self.store.deactivate_launch_plan(row.project, row.domain, row.name, row.version)
        else:
            raise InvalidArgument(f"invalid launch plan state {request.state}: use ACTIVE or INACTIVE")
        return launch_plan_pb2.LaunchPlanUpdateResponse()

    @rpc
    def GetActiveLaunchPlan(
        self, request: launch_plan_pb2.ActiveLaunchPlanRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlan:
        ident = request.id
        validate_named_id(self.store, ident, "launch plan")
        rows = self.store.active_launch_plans(ident.project, ident.domain, ident.name, listing.Page())
        if not rows:
            raise NotFound(
                f"No active launch plan could be found: {id_str(ident.project, ident.domain, ident.name)}"
            )
        return launch_plan_from_row(rows[0])

    @rpc
    def ListActiveLaunchPlans(
        self, request: launch_plan_pb2.ActiveLaunchPlanListRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlanList:
        validate_project_domain(self.store, request.project, request.domain)
        page = page_for(request, LP_COLUMNS, "launch_plan")
        rows = self.store.active_launch_plans(request.project, request.domain, None, page)
        return launch_plan_pb2.LaunchPlanList(
            launch_plans=[launch_plan_from_row(r) for r in rows], token=next_token(page, rows)
        )

    @rpc
    def ListLaunchPlans(
        self, request: common_pb2.ResourceListRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlanList:
        rows, token = list_entity_rows(self.store, LAUNCH_PLAN, request, LP_COLUMNS)
        return launch_plan_pb2.LaunchPlanList(
            launch_plans=[launch_plan_from_row(r) for r in rows], token=token
        )

    @rpc
    def ListLaunchPlanIds(
        self, request: common_pb2.NamedEntityIdentifierListRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntityIdentifierList:
        return list_ids(self, LAUNCH_PLAN, request)
