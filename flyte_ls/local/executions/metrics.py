"""GetExecutionMetrics: a ``core.Span`` tree built only from the timestamps of the stored records.

The breakdown follows flyteadmin's metrics manager (reference §7): an execution span holds WORKFLOW_SETUP
(created → start-node done), one span per node in creation order, then WORKFLOW_TEARDOWN (last upstream of
end-node → execution updated). A node span starts with NODE_TRANSITION (its latest upstream node done → node
created); task nodes add NODE_SETUP, the attempts (TASK_SETUP / TASK_RUNTIME / TASK_TEARDOWN) separated by
NODE_RESET, and NODE_TEARDOWN; gate nodes NODE_SETUP / NODE_IDLE / NODE_TEARDOWN; branch, subworkflow, dynamic
and launch-plan nodes recurse into their children or child execution. ``depth`` bounds the recursion.

Unlike Admin, a node missing from the workflow definition is skipped rather than failing the whole request.
"""

from __future__ import annotations

from collections.abc import Callable

from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2, metrics_pb2, workflow_pb2
from flyteidl.core.compiler_pb2 import CompiledWorkflowClosure as Closure
from google.protobuf import timestamp_pb2

from flyte_ls.local.errors import NotFound
from flyte_ls.local.executions.records import ExecutionRecords
from flyte_ls.local.store import Page

START_NODE = "start-node"
END_NODE = "end-node"

GetWorkflow = Callable[[identifier_pb2.Identifier], "Closure | None"]
Nodes = dict[str, node_execution_pb2.NodeExecution]


def _ns(t: timestamp_pb2.Timestamp) -> int:
    return t.ToNanoseconds()


def _op(start: timestamp_pb2.Timestamp, end: timestamp_pb2.Timestamp, operation: str) -> metrics_pb2.Span:
    return metrics_pb2.Span(start_time=start, end_time=end, operation_id=operation)


def _started(t: timestamp_pb2.Timestamp) -> bool:
    return _ns(t) != 0


class SpanBuilder:
    def __init__(self, records: ExecutionRecords, get_workflow: GetWorkflow) -> None:
        self.records = records
        self.get_workflow = get_workflow

    # --- executions --------------------------------------------------------------------------------------

    def execution(self, execution: execution_pb2.Execution, depth: int) -> metrics_pb2.Span:
        closure = execution.closure
        spans: list[metrics_pb2.Span] = []
        if depth != 0:
            compiled = self.get_workflow(closure.workflow_id)
            nodes = self._nodes(execution.id, "")
            start = nodes.get(START_NODE)
            if start is None or not _started(start.closure.updated_at) or compiled is None:
                spans.append(_op(closure.created_at, closure.updated_at, "WORKFLOW_SETUP"))
            else:
                spans.append(_op(closure.created_at, start.closure.updated_at, "WORKFLOW_SETUP"))
                spans.extend(self._node_spans(nodes, compiled, depth - 1))
                last = self._latest_upstream(END_NODE, compiled, nodes)
                if last is not None and _ns(closure.updated_at) >= _ns(last.closure.updated_at):
                    spans.append(_op(last.closure.updated_at, closure.updated_at, "WORKFLOW_TEARDOWN"))
        return metrics_pb2.Span(
            start_time=closure.created_at, end_time=closure.updated_at, workflow_id=execution.id, spans=spans
        )

    def _nodes(self, exec_id: identifier_pb2.WorkflowExecutionIdentifier, parent: str) -> Nodes:
        return {
            n.metadata.spec_node_id or n.id.node_id: n
            for n in self.records.list_nodes(exec_id, parent, Page())
        }

    def _latest_upstream(
        self, node_id: str, compiled: Closure, nodes: Nodes
    ) -> node_execution_pb2.NodeExecution | None:
        latest: node_execution_pb2.NodeExecution | None = None
        upstream = compiled.primary.connections.upstream
        if node_id in upstream:
            for up in upstream[node_id].ids:
                candidate = nodes.get(up)
                if candidate is None:
                    continue
                if latest is None or _ns(candidate.closure.updated_at) > _ns(latest.closure.updated_at):
                    latest = candidate
        return latest

    def _node_spans(self, nodes: Nodes, compiled: Closure, depth: int) -> list[metrics_pb2.Span]:
        definitions = {n.id: n for n in compiled.primary.template.nodes}
        spans = []
        for spec_id, ne in sorted(nodes.items(), key=lambda item: _ns(item[1].closure.created_at)):
            if spec_id in (START_NODE, END_NODE) or spec_id not in definitions:
                continue
            span = self._node(ne, definitions[spec_id], compiled, depth)
            last = self._latest_upstream(spec_id, compiled, nodes)
            if last is not None:
                transition = _op(last.closure.updated_at, ne.closure.created_at, "NODE_TRANSITION")
                span.spans.insert(0, transition)
            spans.append(span)
        return spans

    # --- nodes -------------------------------------------------------------------------------------------

    def _node(
        self, ne: node_execution_pb2.NodeExecution, node: workflow_pb2.Node, compiled: Closure, depth: int
    ) -> metrics_pb2.Span:
        spans: list[metrics_pb2.Span] = []
        if depth != 0:
            kind = node.WhichOneof("target")
            if kind == "branch_node":
                spans = self._branch(ne, node.branch_node, compiled, depth - 1)
            elif kind == "gate_node":
                spans = self._gate(ne)
            elif kind == "task_node":
                if ne.metadata.is_parent_node:
                    spans = self._dynamic(ne, depth - 1)
                else:
                    spans = self._task_node(ne, depth - 1)
            elif kind == "workflow_node":
                if node.workflow_node.WhichOneof("reference") == "launchplan_ref":
                    spans = self._launch_plan(ne, depth - 1)
                else:
                    spans = self._subworkflow(ne, node.workflow_node.sub_workflow_ref, compiled, depth - 1)
        c = ne.closure
        return metrics_pb2.Span(start_time=c.created_at, end_time=c.updated_at, node_id=ne.id, spans=spans)

    def _setup_only(self, ne: node_execution_pb2.NodeExecution) -> list[metrics_pb2.Span]:
        return [_op(ne.closure.created_at, ne.closure.updated_at, "NODE_SETUP")]

    def _teardown(
        self, ne: node_execution_pb2.NodeExecution, last: timestamp_pb2.Timestamp
    ) -> list[metrics_pb2.Span]:
        if _ns(ne.closure.updated_at) >= _ns(last):
            return [_op(last, ne.closure.updated_at, "NODE_TEARDOWN")]
        return []

    def _branch(
        self,
        ne: node_execution_pb2.NodeExecution,
        branch: workflow_pb2.BranchNode,
        compiled: Closure,
        depth: int,
    ) -> list[metrics_pb2.Span]:
        children = self._nodes(ne.id.execution_id, ne.id.node_id)
        if not children:
            return self._setup_only(ne)
        chosen = next(iter(children.values()))
        spec_id = chosen.metadata.spec_node_id or chosen.id.node_id
        candidates = [branch.if_else.case.then_node, *(o.then_node for o in branch.if_else.other)]
        if branch.if_else.HasField("else_node"):
            candidates.append(branch.if_else.else_node)
        definition = next((n for n in candidates if n.id == spec_id), None)
        spans = [_op(ne.closure.created_at, chosen.closure.created_at, "NODE_SETUP")]
        if definition is not None:
            spans.append(self._node(chosen, definition, compiled, depth))
        return spans + self._teardown(ne, chosen.closure.updated_at)

    def _gate(self, ne: node_execution_pb2.NodeExecution) -> list[metrics_pb2.Span]:
        c = ne.closure
        if not _started(c.started_at):
            return self._setup_only(ne)
        spans = [_op(c.created_at, c.started_at, "NODE_SETUP")]
        if c.duration.ToNanoseconds() == 0:
            return [*spans, _op(c.started_at, c.updated_at, "NODE_IDLE")]
        end = timestamp_pb2.Timestamp()
        end.FromNanoseconds(_ns(c.started_at) + c.duration.ToNanoseconds())
        return [*spans, _op(c.started_at, end, "NODE_IDLE"), _op(end, c.updated_at, "NODE_TEARDOWN")]

    def _attempts(self, ne: node_execution_pb2.NodeExecution) -> list[task_execution_pb2.TaskExecution]:
        attempts = self.records.list_task_attempts(ne.id, Page())
        return sorted(attempts, key=lambda t: _ns(t.closure.created_at))

    def _attempt_spans(
        self, attempts: list[task_execution_pb2.TaskExecution], depth: int
    ) -> list[metrics_pb2.Span]:
        spans = []
        for i, attempt in enumerate(attempts):
            if i > 0:
                spans.append(
                    _op(attempts[i - 1].closure.updated_at, attempt.closure.created_at, "NODE_RESET")
                )
            if depth != 0:
                spans.append(task_span(attempt))
        return spans

    def _task_node(self, ne: node_execution_pb2.NodeExecution, depth: int) -> list[metrics_pb2.Span]:
        attempts = self._attempts(ne)
        if not attempts:
            return self._setup_only(ne)
        spans = [_op(ne.closure.created_at, attempts[0].closure.created_at, "NODE_SETUP")]
        spans += self._attempt_spans(attempts, depth)
        return spans + self._teardown(ne, attempts[-1].closure.updated_at)

    def _dynamic(self, ne: node_execution_pb2.NodeExecution, depth: int) -> list[metrics_pb2.Span]:
        attempts = self._attempts(ne)
        if not attempts:
            return self._setup_only(ne)
        spans = [_op(ne.closure.created_at, attempts[0].closure.created_at, "NODE_SETUP")]
        spans += self._attempt_spans(attempts, depth)
        last_task = attempts[-1].closure.updated_at
        children = self._nodes(ne.id.execution_id, ne.id.node_id)
        dynamic = self.records.dynamic_workflow(ne.id)
        if not children or dynamic is None:
            if _ns(ne.closure.updated_at) >= _ns(last_task):
                spans.append(_op(last_task, ne.closure.updated_at, "NODE_RESET"))
            return spans
        start = children.get(START_NODE)
        if start is not None:
            spans.append(_op(last_task, start.closure.updated_at, "NODE_RESET"))
        compiled = dynamic.compiled_workflow
        spans += self._node_spans(children, compiled, depth)
        last = self._latest_upstream(END_NODE, compiled, children)
        return spans + (self._teardown(ne, last.closure.updated_at) if last is not None else [])

    def _launch_plan(self, ne: node_execution_pb2.NodeExecution, depth: int) -> list[metrics_pb2.Span]:
        if not ne.closure.HasField("workflow_node_metadata"):
            return self._setup_only(ne)
        try:
            child = self.records.get_execution(ne.closure.workflow_node_metadata.executionId)
        except NotFound:
            return self._setup_only(ne)
        spans = [
            _op(ne.closure.created_at, child.closure.created_at, "NODE_SETUP"),
            self.execution(child, depth),
        ]
        return spans + self._teardown(ne, child.closure.updated_at)

    def _subworkflow(
        self,
        ne: node_execution_pb2.NodeExecution,
        ref: identifier_pb2.Identifier,
        compiled: Closure,
        depth: int,
    ) -> list[metrics_pb2.Span]:
        children = self._nodes(ne.id.execution_id, ne.id.node_id)
        start = children.get(START_NODE)
        sub = next((s for s in compiled.sub_workflows if s.template.id == ref), None)
        sub_closure = (
            Closure(primary=sub, tasks=compiled.tasks) if sub is not None else self.get_workflow(ref)
        )
        if not children or start is None or sub_closure is None:
            return self._setup_only(ne)
        spans = [_op(ne.closure.created_at, start.closure.updated_at, "NODE_SETUP")]
        spans += self._node_spans(children, sub_closure, depth)
        last = self._latest_upstream(END_NODE, sub_closure, children)
        return spans + (self._teardown(ne, last.closure.updated_at) if last is not None else [])


def task_span(attempt: task_execution_pb2.TaskExecution) -> metrics_pb2.Span:
    c = attempt.closure
    spans: list[metrics_pb2.Span] = []
    if not _started(c.started_at):
        spans.append(_op(c.created_at, c.updated_at, "TASK_SETUP"))
    else:
        spans.append(_op(c.created_at, c.started_at, "TASK_SETUP"))
        if c.duration.ToNanoseconds() == 0:
            spans.append(_op(c.started_at, c.updated_at, "TASK_RUNTIME"))
        else:
            end = timestamp_pb2.Timestamp()
            end.FromNanoseconds(_ns(c.started_at) + c.duration.ToNanoseconds())
            spans.append(_op(c.started_at, end, "TASK_RUNTIME"))
            if _ns(c.updated_at) >= _ns(end):
                spans.append(_op(end, c.updated_at, "TASK_TEARDOWN"))
    return metrics_pb2.Span(start_time=c.created_at, end_time=c.updated_at, task_id=attempt.id, spans=spans)
