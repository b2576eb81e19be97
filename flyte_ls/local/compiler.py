"""The workflow compiler: a registered WorkflowSpec becomes the CompiledWorkflowClosure the executor walks.

It does what flyteadmin's CreateWorkflow asks of flytepropeller's compiler (see
../shared/reference/local-backend.md §2): the template's nodes become ``start-node``, ``end-node`` and
then the user nodes; every edge (``upstream_node_ids`` and every promise in the bindings) goes into sorted
``connections``; promises to workflow inputs (an empty ``node_id``) point at ``start-node``; branch
children are renamed ``<branchId>-<childId>``; subworkflows are compiled the same way; every task the
workflow needs is embedded. Mistakes (missing references, cycles, unbound inputs, unknown nodes or outputs,
type mismatches) come back as one ``InvalidArgument`` listing them all, worded like Admin's. The output
only depends on the input, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flyteidl.core import compiler_pb2, dynamic_job_pb2, interface_pb2, tasks_pb2, workflow_pb2
from flyteidl.core.identifier_pb2 import Identifier

from flyte_ls.local.compiler_graph import WorkflowBuilder
from flyte_ls.local.compiler_model import IdKey, id_key, id_label
from flyte_ls.local.errors import InvalidArgument

__all__ = ["CompileError", "CompileFailed", "compile_dynamic_job", "compile_workflow", "id_label"]


@dataclass(frozen=True)
class CompileError:
    """One mistake, with the code Admin's compiler uses (``ParameterNotBound``, ``CycleDetected``...)."""

    code: str
    node_id: str
    description: str

    def __str__(self) -> str:
        return f"Code: {self.code}, Node Id: {self.node_id}, Description: {self.description}"


class CompileFailed(InvalidArgument):
    """``INVALID_ARGUMENT`` "failed to compile workflow for [...] with err: ..."; ``errors`` lists them."""

    def __init__(self, workflow: Identifier, errors: Sequence[CompileError]) -> None:
        lines = "".join(f"\n\tError {i}: {e}" for i, e in enumerate(errors))
        header = (
            f"failed to compile workflow for [{id_label(workflow)}] with err: Collected Errors: {len(errors)}"
        )
        super().__init__(header + lines)
        self.errors = list(errors)


class ErrorList:
    """Collects compile errors in the order found, each once."""

    def __init__(self) -> None:
        self.items: list[CompileError] = []

    def add(self, code: str, node_id: str, description: str) -> None:
        error = CompileError(code, node_id, description)
        if error not in self.items:
            self.items.append(error)

    def __len__(self) -> int:
        return len(self.items)


class Context:
    """What every workflow being compiled (the primary and its subworkflows) shares."""

    def __init__(
        self,
        sub_workflows: dict[IdKey, compiler_pb2.CompiledWorkflow],
        tasks: dict[IdKey, tasks_pb2.TaskTemplate],
        launch_plans: dict[IdKey, interface_pb2.TypedInterface],
        errors: ErrorList,
    ) -> None:
        self.sub_workflows = sub_workflows
        self.tasks = tasks
        self.launch_plans = launch_plans
        self.errors = errors
        self._compiled: set[IdKey] = set()
        self._in_progress: set[IdKey] = set()

    def compile_sub_workflow(self, ref: Identifier, node_id: str) -> None:
        """Compile a referenced subworkflow once, in place in ``sub_workflows``."""
        key = id_key(ref)
        if key in self._compiled:
            return
        if key in self._in_progress:
            self.errors.add("CycleDetected", node_id, f"Subworkflow [{id_label(ref)}] calls itself.")
            return
        compiled = self.sub_workflows.get(key)
        if compiled is None:
            self.errors.add(
                "WorkflowReferenceNotFound", node_id, f"Referenced Workflow [{id_label(ref)}] not found."
            )
            return
        self._in_progress.add(key)
        WorkflowBuilder(self, compiled, where=f" (in subworkflow {ref.name})").build()
        self._in_progress.discard(key)
        self._compiled.add(key)


def compile_workflow(
    template: workflow_pb2.WorkflowTemplate,
    sub_workflows: Sequence[workflow_pb2.WorkflowTemplate],
    get_task: Callable[[Identifier], tasks_pb2.TaskTemplate | None],
    get_launch_plan_interface: Callable[[Identifier], interface_pb2.TypedInterface | None],
) -> compiler_pb2.CompiledWorkflowClosure:
    """Compile ``template`` with its ``sub_workflows`` as Admin does at CreateWorkflow.

    ``get_task`` and ``get_launch_plan_interface`` look up registered entities (None when absent). Raises
    ``CompileFailed`` (an ``InvalidArgument``) listing every mistake found.
    """
    errors = ErrorList()
    primary = compiler_pb2.CompiledWorkflow()
    primary.template.CopyFrom(template)
    subs: list[compiler_pb2.CompiledWorkflow] = []
    index: dict[IdKey, compiler_pb2.CompiledWorkflow] = {}
    for sub in sub_workflows:
        key = id_key(sub.id)
        if key in index:
            if index[key].template != sub:
                errors.add("DuplicateId", "start-node", f"Subworkflow [{id_label(sub.id)}] is given twice.")
            continue
        compiled = compiler_pb2.CompiledWorkflow()
        compiled.template.CopyFrom(sub)
        index[key] = compiled
        subs.append(compiled)

    task_refs, lp_refs = _requirements(primary.template, index, errors)
    tasks: dict[IdKey, tasks_pb2.TaskTemplate] = {}
    for key, (ident, node_id) in sorted(task_refs.items()):
        found = get_task(ident)
        if found is None:
            errors.add("TaskReferenceNotFound", node_id, f"Referenced Task [{id_label(ident)}] not found.")
        else:
            tasks[key] = found
    launch_plans: dict[IdKey, interface_pb2.TypedInterface] = {}
    for key, (ident, node_id) in sorted(lp_refs.items()):
        iface = get_launch_plan_interface(ident)
        if iface is None:
            errors.add(
                "WorkflowReferenceNotFound", node_id, f"Referenced Launch Plan [{id_label(ident)}] not found."
            )
        else:
            launch_plans[key] = iface
    if errors:
        raise CompileFailed(template.id, errors.items)

    WorkflowBuilder(Context(index, tasks, launch_plans, errors), primary, where="").build()
    if errors:
        raise CompileFailed(template.id, errors.items)
    closure = compiler_pb2.CompiledWorkflowClosure(primary=primary, sub_workflows=subs)
    for key in sorted(tasks):
        closure.tasks.add().template.CopyFrom(tasks[key])
    return closure


def compile_dynamic_job(
    spec: dynamic_job_pb2.DynamicJobSpec,
    workflow_id: Identifier,
    interface: interface_pb2.TypedInterface,
    get_launch_plan_interface: Callable[[Identifier], interface_pb2.TypedInterface | None],
    get_task: Callable[[Identifier], tasks_pb2.TaskTemplate | None] | None = None,
) -> compiler_pb2.CompiledWorkflowClosure:
    """Compile the workflow a ``@dynamic`` task returned in ``futures.pb``, as propeller does.

    The template gets ``workflow_id`` (propeller names it ``dynamic_<nodeId>`` with a random version), the
    spec's nodes and outputs, and ``interface`` (the dynamic task's). Tasks come from the spec itself, then
    from ``get_task`` (registered tasks) when given.
    """
    template = workflow_pb2.WorkflowTemplate(id=workflow_id, interface=interface)
    template.nodes.extend(spec.nodes)
    template.outputs.extend(spec.outputs)
    tasks = {id_key(t.id): t for t in spec.tasks}

    def find_task(ident: Identifier) -> tasks_pb2.TaskTemplate | None:
        found = tasks.get(id_key(ident))
        return found if found is not None or get_task is None else get_task(ident)

    return compile_workflow(template, spec.subworkflows, find_task, get_launch_plan_interface)


Refs = dict[IdKey, tuple[Identifier, str]]


def _requirements(
    template: workflow_pb2.WorkflowTemplate,
    sub_workflows: dict[IdKey, compiler_pb2.CompiledWorkflow],
    errors: ErrorList,
) -> tuple[Refs, Refs]:
    """Every task and launch plan the workflow needs, following subworkflows, branches and array nodes."""
    tasks: Refs = {}
    launch_plans: Refs = {}
    seen: set[IdKey] = set()

    def visit_workflow(wf: workflow_pb2.WorkflowTemplate) -> None:
        for node in wf.nodes:
            visit(node)
        if wf.HasField("failure_node"):
            visit(wf.failure_node)

    def visit(node: workflow_pb2.Node) -> None:
        target = node.WhichOneof("target")
        if target == "task_node" and node.task_node.HasField("reference_id"):
            tasks.setdefault(id_key(node.task_node.reference_id), (node.task_node.reference_id, node.id))
        elif target == "workflow_node":
            wn = node.workflow_node
            if wn.HasField("launchplan_ref"):
                launch_plans.setdefault(id_key(wn.launchplan_ref), (wn.launchplan_ref, node.id))
            elif wn.HasField("sub_workflow_ref"):
                key = id_key(wn.sub_workflow_ref)
                if key not in sub_workflows:
                    errors.add(
                        "WorkflowReferenceNotFound",
                        node.id,
                        f"Referenced Workflow [{id_label(wn.sub_workflow_ref)}] not found.",
                    )
                elif key not in seen:
                    seen.add(key)
                    visit_workflow(sub_workflows[key].template)
        elif target == "branch_node":
            if_else = node.branch_node.if_else
            for block in [if_else.case, *if_else.other]:
                if block.HasField("then_node"):
                    visit(block.then_node)
            if if_else.HasField("else_node"):
                visit(if_else.else_node)
        elif target == "array_node":
            visit(node.array_node.node)

    visit_workflow(template)
    return tasks, launch_plans
