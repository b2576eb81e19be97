"""Syncing an execution and, on request, its node tree — what ``sync_execution`` returns.

Cost model (flytekit: about 2 + 3 per attempt RPCs per node, on every poll, flyte#4056): the execution is two
RPCs (``GetExecution``, ``GetExecutionData``); nodes are listed a page of 100 at a time; a parent node
(dynamic, subworkflow, branch) lists its children with ``unique_parent_id``; a node that launched another
execution lists that execution's nodes; both become the node's ``subworkflow_node_executions``. Other nodes
(tasks, array nodes) list their task executions. Node data (inputs/outputs) is not fetched. A node that was
finished in ``previous`` is reused as it is, with its subtree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2

from flyte_ls.remote.entities import FlyteNodeExecution, FlyteTaskExecution, FlyteWorkflowExecution
from flyte_ls.remote.literals import to_python_map

Call = Callable[..., Awaitable[Any]]
PAGE = 100
_WF = core_execution_pb2.WorkflowExecution
_NODE = core_execution_pb2.NodeExecution
# RECOVERED is terminal too (flytekit's set omits it).
NODE_DONE = frozenset(
    {_NODE.SUCCEEDED, _NODE.FAILED, _NODE.ABORTED, _NODE.SKIPPED, _NODE.TIMED_OUT, _NODE.RECOVERED}
)
_BOUNDARY = frozenset({"start-node", "end-node"})
_ASC = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING)


async def sync_tree(
    call: Call,
    exec_id: identifier_pb2.WorkflowExecutionIdentifier,
    sync_nodes: bool,
    previous: FlyteWorkflowExecution | None = None,
) -> FlyteWorkflowExecution:
    """The execution with ``inputs`` and (once succeeded) ``outputs`` as plain Python; with ``sync_nodes``
    its ``node_executions`` too. Finished nodes of ``previous`` are kept as they are."""
    get = execution_pb2.WorkflowExecutionGetRequest(id=exec_id)
    # GetExecution first: the data read after it is never older than the phase seen.
    execution = await call("GetExecution", get, kind="read")
    request = execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id)
    data = await call("GetExecutionData", request, kind="read")
    synced = FlyteWorkflowExecution.from_proto(execution)
    synced.inputs = to_python_map(data.full_inputs)
    if execution.closure.phase == _WF.SUCCEEDED:
        synced.outputs = to_python_map(data.full_outputs)
    if sync_nodes:
        synced.node_executions = await _nodes(call, exec_id, "", previous.node_executions if previous else {})
    return synced


def is_node_done(node: FlyteNodeExecution) -> bool:
    return node.phase in NODE_DONE


async def _nodes(
    call: Call,
    exec_id: identifier_pb2.WorkflowExecutionIdentifier,
    parent: str,
    before: dict[str, FlyteNodeExecution],
) -> dict[str, FlyteNodeExecution]:
    listed: list[node_execution_pb2.NodeExecution] = []
    token = ""
    while True:
        request = node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=exec_id, limit=PAGE, token=token, sort_by=_ASC, unique_parent_id=parent
        )
        page = await call("ListNodeExecutions", request, kind="read")
        listed.extend(page.node_executions)
        token = page.token
        if not token:
            break
    wanted = [ne for ne in listed if ne.id.node_id not in _BOUNDARY]
    synced = await asyncio.gather(*(_node(call, ne, before.get(ne.id.node_id)) for ne in wanted))
    return {ne.id.node_id: node for ne, node in zip(wanted, synced, strict=True)}


async def _node(
    call: Call, ne: node_execution_pb2.NodeExecution, before: FlyteNodeExecution | None
) -> FlyteNodeExecution:
    if before is not None and is_node_done(before):
        return before
    node = FlyteNodeExecution.from_proto(ne)
    earlier = before.subworkflow_node_executions if before is not None else {}
    child = ne.closure.workflow_node_metadata.executionId
    if child.name and not ne.metadata.is_parent_node:
        # A launch plan node: the nodes of the execution it launched.
        node.subworkflow_node_executions = await _nodes(call, child, "", earlier)
    elif ne.metadata.is_parent_node:  # dynamic, subworkflow, branch
        node.subworkflow_node_executions = await _nodes(call, ne.id.execution_id, ne.id.node_id, earlier)
    else:  # task attempts, or an array node's items
        node.task_executions = [
            FlyteTaskExecution.from_proto(te) for te in await _task_executions(call, ne.id)
        ]
    return node


async def _task_executions(
    call: Call, node_id: identifier_pb2.NodeExecutionIdentifier
) -> list[task_execution_pb2.TaskExecution]:
    found: list[task_execution_pb2.TaskExecution] = []
    token = ""
    while True:
        request = task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=node_id, limit=PAGE, token=token, sort_by=_ASC
        )
        page = await call("ListTaskExecutions", request, kind="read")
        found.extend(page.task_executions)
        token = page.token
        if not token:
            return found
