"""One workflow's graph for the compiler: nodes, interfaces, bindings, edges, cycles.

``WorkflowBuilder.build`` (flytepropeller's workflow builder) rewrites a ``CompiledWorkflow`` in place: its
template gets ``start-node`` and ``end-node``, promise node ids resolved, branch children renamed, and its
``connections`` filled; mistakes go to the shared error list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyteidl.core import (
    compiler_pb2,
    condition_pb2,
    interface_pb2,
    literals_pb2,
)
from flyteidl.core.interface_pb2 import TypedInterface
from flyteidl.core.types_pb2 import LiteralType
from flyteidl.core.workflow_pb2 import ArrayNode, Node

from flyte_ls.local.compiler_bindings import BindingChecker
from flyte_ls.local.compiler_model import (
    END_NODE,
    START_NODE,
    Edges,
    GraphNode,
    id_key,
    id_label,
    make_interface,
)
from flyte_ls.local.compiler_types import castable, scalar_type, type_name

if TYPE_CHECKING:
    from flyte_ls.local.compiler import Context


class WorkflowBuilder(BindingChecker):
    """Compiles one workflow (the primary or a subworkflow) in place."""

    def __init__(self, ctx: Context, workflow: compiler_pb2.CompiledWorkflow, where: str) -> None:
        self.ctx = ctx
        self.workflow = workflow
        self.template = workflow.template
        self.where = where  # appended to descriptions of errors inside a subworkflow
        self.nodes: dict[str, GraphNode] = {}
        self.upstream: dict[str, set[str]] = {}
        self.downstream: dict[str, set[str]] = {}

    def error(self, code: str, node_id: str, description: str) -> None:
        self.ctx.errors.add(code, node_id, description + self.where)

    # ---- the workflow

    def build(self) -> None:
        t = self.template
        if not t.nodes:
            self.error("NoNodesFound", START_NODE, f"Can't find any nodes in workflow [{id_label(t.id)}].")
            return
        t.interface.inputs.SetInParent()
        t.interface.outputs.SetInParent()
        self._check_variables(START_NODE, t.interface)
        originals = [Node() for _ in t.nodes]
        for copy, node in zip(originals, t.nodes, strict=True):
            copy.CopyFrom(node)
        self.nodes[START_NODE] = GraphNode(Node(id=START_NODE), make_interface(outputs=t.interface.inputs))
        end = Node(id=END_NODE)
        end.inputs.extend(t.outputs)
        self.nodes[END_NODE] = GraphNode(end, make_interface(inputs=t.interface.outputs))
        top_level: list[str] = []
        for proto in originals:
            if not proto.id:
                self.error("ValueRequired", "<node>", "Value required [Id].")
                continue
            if proto.id in self.nodes:
                self.error("DuplicateId", proto.id, f"Node id [{proto.id}] is used more than once.")
                continue
            node = GraphNode(proto)
            self.nodes[proto.id] = node
            top_level.append(proto.id)
            self.validate_node(node)
        for node_id in sorted(self.nodes):
            if node_id != START_NODE:
                self.add_edges(self.nodes[node_id], Edges.BOTH)
        if t.HasField("failure_node"):
            failure = GraphNode(t.failure_node)
            self.validate_node(failure)
            self.add_edges(failure, Edges.UPSTREAM)
        for node_id in sorted(top_level):
            if node_id not in self.upstream:
                self.add_execution_edge(START_NODE, node_id)
            if node_id not in self.downstream:
                self.add_execution_edge(node_id, END_NODE)
        self._check_graph()

        del t.nodes[:]
        t.nodes.extend([self.nodes[START_NODE].proto, end] + [self.nodes[i].proto for i in top_level])
        del t.outputs[:]
        t.outputs.extend(end.inputs)
        connections = self.workflow.connections
        connections.SetInParent()
        for node_id in sorted(self.upstream):
            connections.upstream[node_id].ids.extend(sorted(self.upstream[node_id]))
        for node_id in sorted(self.downstream):
            connections.downstream[node_id].ids.extend(sorted(self.downstream[node_id]))

    def _check_variables(self, node_id: str, iface: TypedInterface) -> None:
        for variables in (iface.inputs.variables, iface.outputs.variables):
            for name in sorted(variables):
                if not name:
                    self.error("ValueRequired", node_id, "Value required [paramName].")
                if not variables[name].HasField("type"):
                    self.error("ValueRequired", node_id, f"Value required [{name}.type].")

    def _check_graph(self) -> None:
        """Report the first cycle found (as ``a>b>a``), else the nodes ``start-node`` doesn't reach."""
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        order = [START_NODE, *sorted(n for n in self.downstream if n != START_NODE)]
        for root in order:
            if root in state:
                continue
            path = [root]
            stack = [iter(sorted(self.downstream.get(root, ())))]
            state[root] = 1
            while stack:
                nxt = next(stack[-1], None)
                if nxt is None:
                    state[path.pop()] = 2
                    stack.pop()
                elif state.get(nxt) == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    self.error(
                        "CycleDetected",
                        START_NODE,
                        f"A cycle has been detected while traversing the Workflow [{'>'.join(cycle)}].",
                    )
                    return
                elif nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append(iter(sorted(self.downstream.get(nxt, ()))))
            if root == START_NODE:
                reached = set(state)
        unreachable = sorted(set(self.nodes) - reached - {END_NODE})
        if unreachable:
            self.error(
                "UnreachableNodes",
                START_NODE,
                f"The Workflow contain unreachable nodes [{','.join(unreachable)}].",
            )

    # ---- edges

    def add_execution_edge(self, source: str, target: str) -> None:
        self.downstream.setdefault(source or START_NODE, set()).add(target)
        self.upstream.setdefault(target, set()).add(source or START_NODE)

    def add_edges(self, node: GraphNode, edges: Edges) -> None:
        if node.iface is None:
            return  # its interface failed: already reported
        if edges is Edges.BOTH:
            for up in node.proto.upstream_node_ids:
                if (up or START_NODE) not in self.nodes:
                    self.error("NodeReferenceNotFound", node.id, f"Referenced node [{up}] not found.")
                else:
                    self.add_execution_edge(up, node.id)
        self.bind(node, list(node.proto.inputs), node.iface.inputs, edges, check_types=True)

    # ---- nodes

    def validate_node(self, node: GraphNode) -> None:
        if node.id in (START_NODE, END_NODE):
            return
        if node.iface is None:
            node.iface = self.interface_of(node)
        ups = sorted(node.proto.upstream_node_ids)
        del node.proto.upstream_node_ids[:]
        node.proto.upstream_node_ids.extend(ups)
        target = node.proto.WhichOneof("target")
        if target == "branch_node":
            self._validate_branch(node)
        elif target == "workflow_node" and node.proto.workflow_node.HasField("sub_workflow_ref"):
            self.ctx.compile_sub_workflow(node.proto.workflow_node.sub_workflow_ref, node.id)
        elif target == "array_node":
            inner = node.proto.array_node.node
            if inner.WhichOneof("target") == "workflow_node" and inner.workflow_node.HasField(
                "sub_workflow_ref"
            ):
                self.ctx.compile_sub_workflow(inner.workflow_node.sub_workflow_ref, node.id)

    def interface_of(self, node: GraphNode) -> TypedInterface | None:
        """The node's effective interface (after output aliases), or None once the reason is reported."""
        before = len(self.ctx.errors)
        iface = self._underlying_interface(node)
        if iface is None or len(self.ctx.errors) > before:
            return None
        self._check_variables(node.id, iface)
        self._apply_aliases(node, iface)
        return iface if len(self.ctx.errors) == before else None

    def _underlying_interface(self, node: GraphNode) -> TypedInterface | None:
        proto = node.proto
        target = proto.WhichOneof("target")
        if target == "task_node":
            if not proto.task_node.HasField("reference_id"):
                self.error("ValueRequired", node.id, "Value required [TaskNode.ReferenceId].")
                return None
            task = self.ctx.tasks.get(id_key(proto.task_node.reference_id))
            if task is None:
                ref = id_label(proto.task_node.reference_id)
                self.error("TaskReferenceNotFound", node.id, f"Referenced Task [{ref}] not found.")
                return None
            return make_interface(task.interface.inputs, task.interface.outputs)
        if target == "workflow_node":
            return self._workflow_node_interface(node)
        if target == "branch_node":
            return self._branch_interface(node)
        if target == "gate_node":
            return self._gate_interface(node)
        if target == "array_node":
            return self._array_interface(proto.array_node)
        self.error("ValueRequired", node.id, "Value required [Target].")
        return None

    def _array_interface(self, array: ArrayNode) -> TypedInterface | None:
        """A map task's sub-task already has list-typed variables (flytekit wraps them); a sub-node with its
        original interface (``is_original_sub_node_interface``, e.g. a mapped launch plan) gets them wrapped
        here, except ``bound_inputs``. Admin's compiler skips this step and would reject such array nodes."""
        iface = self._underlying_interface(GraphNode(array.node))
        if iface is None or not array.is_original_sub_node_interface.value:
            return iface
        bound = set(array.bound_inputs)
        for variables, skip in ((iface.inputs.variables, bound), (iface.outputs.variables, set())):
            for name in variables:
                if name not in skip:
                    element = LiteralType()
                    element.CopyFrom(variables[name].type)
                    variables[name].type.collection_type.CopyFrom(element)
        return iface

    def _workflow_node_interface(self, node: GraphNode) -> TypedInterface | None:
        wn = node.proto.workflow_node
        if wn.HasField("launchplan_ref"):
            lp = self.ctx.launch_plans.get(id_key(wn.launchplan_ref))
            if lp is None:
                ref = id_label(wn.launchplan_ref)
                self.error("WorkflowReferenceNotFound", node.id, f"Referenced Launch Plan [{ref}] not found.")
                return None
            node.inputs_optional = True
            return make_interface(lp.inputs, lp.outputs)
        if wn.HasField("sub_workflow_ref"):
            sub = self.ctx.sub_workflows.get(id_key(wn.sub_workflow_ref))
            if sub is None:
                ref = id_label(wn.sub_workflow_ref)
                self.error("WorkflowReferenceNotFound", node.id, f"Referenced Workflow [{ref}] not found.")
                return None
            return make_interface(sub.template.interface.inputs, sub.template.interface.outputs)
        self.error("ValueRequired", node.id, "Value required [WorkflowNode.reference].")
        return None

    def _gate_interface(self, node: GraphNode) -> TypedInterface | None:
        gate = node.proto.gate_node
        kind = gate.WhichOneof("condition")
        if kind == "approve":
            # the approved values pass through: outputs are the inputs, typed by their sources
            inputs = self.bind(node, list(node.proto.inputs), None, Edges.UPSTREAM, check_types=False)
            return make_interface(inputs, inputs)
        if kind == "signal":
            if not gate.signal.HasField("type"):
                self.error("ValueRequired", node.id, "Value required [GateNode.Signal.Type].")
                return None
            if not gate.signal.output_variable_name:
                self.error("ValueRequired", node.id, "Value required [GateNode.Signal.OutputVariableName].")
                return None
            iface = make_interface()
            iface.outputs.variables[gate.signal.output_variable_name].type.CopyFrom(gate.signal.type)
            return iface
        if kind == "sleep":
            return make_interface()
        self.error("NoConditionFound", node.id, f"Can't find any condition in gate node [{node.id}].")
        return None

    def _apply_aliases(self, node: GraphNode, iface: TypedInterface) -> None:
        aliases: dict[str, str] = {}
        for alias in node.proto.output_aliases:
            if alias.var in aliases:
                self.error("DuplicateAlias", node.id, f"Duplicate alias [{alias.alias}] found.")
            aliases[alias.var] = alias.alias
        for var, alias in aliases.items():
            if var not in iface.outputs.variables:
                self.error("ParameterNotBound", node.id, f"Output alias [{alias}] names no output [{var}].")
                continue
            variable = interface_pb2.Variable()
            variable.CopyFrom(iface.outputs.variables[var])
            del iface.outputs.variables[var]
            iface.outputs.variables[alias].CopyFrom(variable)

    # ---- branches

    def _branch_interface(self, node: GraphNode) -> TypedInterface | None:
        if_else = node.proto.branch_node.if_else
        if not if_else.case.HasField("then_node"):
            self.error("ValueRequired", node.id, "Value required [Branch.IfElse.Case.ThenNode].")
            return None
        blocks = [if_else.case.then_node] + [b.then_node for b in if_else.other if b.HasField("then_node")]
        if if_else.HasField("else_node"):
            blocks.append(if_else.else_node)
        outputs: dict[str, interface_pb2.Variable] | None = None
        for proto in blocks:
            proto.id = f"{node.id}-{proto.id}"
            child = GraphNode(proto)
            node.children.append(child)
            child.iface = self.interface_of(child)
            if child.iface is None:
                continue
            child_outputs = dict(child.iface.outputs.variables)
            if outputs is None:
                outputs = child_outputs
                continue
            for name in sorted(set(outputs) & set(child_outputs)):
                a, b = outputs[name].type, child_outputs[name].type
                if not (castable(a, b) and castable(b, a)):
                    self.error(
                        "MismatchingTypes",
                        child.id,
                        f"Output [{name}] is [{type_name(b)}] here, [{type_name(a)}] in another branch.",
                    )
            outputs = {k: v for k, v in outputs.items() if k in child_outputs}
        inputs = self.bind(node, list(node.proto.inputs), None, Edges.UPSTREAM, check_types=False)
        if outputs is None:
            return None
        iface = make_interface(inputs)
        for name in sorted(outputs):
            iface.outputs.variables[name].CopyFrom(outputs[name])
        return iface

    def _validate_branch(self, node: GraphNode) -> None:
        if_else = node.proto.branch_node.if_else
        for block in [if_else.case, *if_else.other]:
            self._check_condition(node, block.condition)
            if not block.HasField("then_node"):
                self.error("BranchNodeIdNotFound", node.id, "Branch node has a condition without a node.")
        if not if_else.HasField("else_node") and not if_else.HasField("error"):
            self.error(
                "BranchNodeHasNoDefault", node.id, "Branch node has neither an else node nor an error."
            )
        for child in node.children:
            self.validate_node(child)
            self.add_edges(child, Edges.UPSTREAM)

    def _check_condition(self, node: GraphNode, expr: condition_pb2.BooleanExpression) -> None:
        kind = expr.WhichOneof("expr")
        if kind == "conjunction":
            self._check_condition(node, expr.conjunction.left_expression)
            self._check_condition(node, expr.conjunction.right_expression)
        elif kind == "comparison":
            left = self._operand_type(node, expr.comparison.left_value)
            right = self._operand_type(node, expr.comparison.right_value)
            # only report what certainly differs: two distinct simple types (int vs float fails at run time)
            if (
                left is not None
                and right is not None
                and left.WhichOneof("type") == right.WhichOneof("type") == "simple"
            ):
                if left.simple != right.simple:
                    self.error(
                        "MismatchingTypes",
                        node.id,
                        f"A condition compares [{type_name(left)}] with [{type_name(right)}].",
                    )
        else:
            self.error("BranchNodeHasNoCondition", node.id, "Branch node has a block without a condition.")

    def _operand_type(self, node: GraphNode, operand: condition_pb2.Operand) -> LiteralType | None:
        kind = operand.WhichOneof("val")
        if kind == "primitive":
            return scalar_type(literals_pb2.Scalar(primitive=operand.primitive))
        if kind == "scalar":
            return scalar_type(operand.scalar)
        if kind == "var":
            if node.iface is not None and operand.var in node.iface.inputs.variables:
                return node.iface.inputs.variables[operand.var].type
            if not any(b.var == operand.var for b in node.proto.inputs):
                self.error(
                    "VariableNameNotFound",
                    node.id,
                    f"Variable [{operand.var}] not found on node [{node.id}].",
                )
            return None
        self.error("ValueRequired", node.id, "Value required [Operand.Val].")
        return None
