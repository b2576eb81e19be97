"""Node and task execution RPCs: Get/List/GetData, reading the records the executor writes."""

from __future__ import annotations

import grpc
from flyteidl.admin import common_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2

from flyte_ls.local import listing
from flyte_ls.local.admin.common import next_token, page_for
from flyte_ls.local.admin.executions import ExecutionMixin, inline_literal_map, url_blob
from flyte_ls.local.errors import InvalidArgument, NotFound, rpc

NODE_COLUMNS: dict[str, listing.Column] = {
    "node_id": listing.Column("node_id"),
    "phase": listing.Column(
        "phase", listing.enum_value(dict(core_execution_pb2.NodeExecution.Phase.items()))
    ),
    "created_at": listing.Column("created_at", listing.timestamp),
    "updated_at": listing.Column("updated_at", listing.timestamp),
}
TASK_COLUMNS: dict[str, listing.Column] = {
    "retry_attempt": listing.Column("retry_attempt", int),
    "phase": listing.Column(
        "phase", listing.enum_value(dict(core_execution_pb2.TaskExecution.Phase.items()))
    ),
    "created_at": listing.Column("created_at", listing.timestamp),
    "updated_at": listing.Column("updated_at", listing.timestamp),
}


def flyte_urls(
    node: identifier_pb2.NodeExecutionIdentifier, attempt: int | None = None
) -> common_pb2.FlyteURLs:
    """``flyte://v1/<p>/<d>/<exec>/<node>[/<attempt>]/{i,o,d}``, as Admin answers."""
    e = node.execution_id
    base = f"flyte://v1/{e.project}/{e.domain}/{e.name}/{node.node_id}"
    if attempt is not None:
        base += f"/{attempt}"
    return common_pb2.FlyteURLs(inputs=f"{base}/i", outputs=f"{base}/o", deck=f"{base}/d")


class NodeExecutionMixin(ExecutionMixin):
    @rpc
    def GetNodeExecution(
        self, request: node_execution_pb2.NodeExecutionGetRequest, context: grpc.ServicerContext
    ) -> node_execution_pb2.NodeExecution:
        return self.records.get_node(request.id)

    @rpc
    def ListNodeExecutions(
        self, request: node_execution_pb2.NodeExecutionListRequest, context: grpc.ServicerContext
    ) -> node_execution_pb2.NodeExecutionList:
        """As Admin: the execution id only filters, so an unknown execution lists no nodes (not NOT_FOUND);
        an unknown ``unique_parent_id`` is NOT_FOUND (Admin looks the parent node up)."""
        ident = request.workflow_execution_id
        _check_execution_id(ident)
        page = page_for(request, NODE_COLUMNS, "node_execution")
        if request.unique_parent_id:
            self.records.get_node(
                identifier_pb2.NodeExecutionIdentifier(node_id=request.unique_parent_id, execution_id=ident)
            )
        try:
            nodes = self.records.list_nodes(ident, request.unique_parent_id, page)
        except NotFound:  # the execution does not exist
            nodes = []
        return node_execution_pb2.NodeExecutionList(node_executions=nodes, token=next_token(page, nodes))

    @rpc
    def GetNodeExecutionData(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest, context: grpc.ServicerContext
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        node = self.records.get_node(request.id)
        response = node_execution_pb2.NodeExecutionGetDataResponse(
            inputs=url_blob(node.input_uri),
            outputs=url_blob(node.closure.output_uri),
            flyte_urls=flyte_urls(request.id),
        )
        fill_data(response, node.input_uri, node.closure.output_uri)
        dynamic = self.records.dynamic_workflow(request.id)
        if dynamic is not None:
            response.dynamic_workflow.CopyFrom(dynamic)
        return response

    @rpc
    def ListTaskExecutions(
        self, request: task_execution_pb2.TaskExecutionListRequest, context: grpc.ServicerContext
    ) -> task_execution_pb2.TaskExecutionList:
        """As Admin: the node execution id only filters, so an unknown node or execution lists nothing."""
        _check_execution_id(request.node_execution_id.execution_id)
        if not request.node_execution_id.node_id:
            raise InvalidArgument("missing node_id in the node execution identifier")
        page = page_for(request, TASK_COLUMNS, "task_execution")
        attempts = self.records.list_task_attempts(request.node_execution_id, page)
        return task_execution_pb2.TaskExecutionList(
            task_executions=attempts, token=next_token(page, attempts)
        )

    @rpc
    def GetTaskExecution(
        self, request: task_execution_pb2.TaskExecutionGetRequest, context: grpc.ServicerContext
    ) -> task_execution_pb2.TaskExecution:
        return self.records.get_task_attempt(request.id)

    @rpc
    def GetTaskExecutionData(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest, context: grpc.ServicerContext
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        attempt = self.records.get_task_attempt(request.id)
        response = task_execution_pb2.TaskExecutionGetDataResponse(
            inputs=url_blob(attempt.input_uri),
            outputs=url_blob(attempt.closure.output_uri),
            flyte_urls=flyte_urls(request.id.node_execution_id, request.id.retry_attempt),
        )
        fill_data(response, attempt.input_uri, attempt.closure.output_uri)
        return response


def _check_execution_id(ident: identifier_pb2.WorkflowExecutionIdentifier) -> None:
    for field in ("project", "domain", "name"):
        if not getattr(ident, field):
            raise InvalidArgument(f"missing {field} in the workflow execution identifier")


def fill_data(
    response: node_execution_pb2.NodeExecutionGetDataResponse
    | task_execution_pb2.TaskExecutionGetDataResponse,
    input_uri: str,
    output_uri: str,
) -> None:
    full_inputs = inline_literal_map(input_uri)
    if full_inputs is not None:
        response.full_inputs.CopyFrom(full_inputs)
    full_outputs = inline_literal_map(output_uri)
    if full_outputs is not None:
        response.full_outputs.CopyFrom(full_outputs)
