"""Syncing an execution and, on request, its node tree — what ``sync_execution`` returns — and loading one
node's task executions or data on demand.

Cost model (flytekit: about 2 + 3 per attempt RPCs per node, on every poll, flyte#4056; reference §5, §12
"load node trees lazily"):

* the execution is ``GetExecution`` + ``GetExecutionData`` (plus reading what Admin did not inline —
  offloaded outputs, a UrlBlob — from the store, through ``read``); ``GetExecution`` is skipped when the
  caller hands over an execution that is already done (terminal phases never change), and
  ``GetExecutionData`` too when that execution already holds its inputs (and, if it succeeded, its outputs);
* ``sync_nodes`` lists the nodes, a page of 100 at a time (one ``ListNodeExecutions`` for up to 100
  nodes); a parent node (dynamic, subworkflow, branch) lists its children with ``unique_parent_id``, a node
  that launched another execution lists that execution's nodes; both become ``subworkflow_node_executions``;
* nothing else per node: task executions (``ListTaskExecutions``, paged) and node data
  (``GetNodeExecutionData``) are loaded for one node when asked (:func:`node_task_executions`,
  :func:`node_data`), and kept on the node;
* a node that was finished in ``previous`` is reused as it is, with its subtree and whatever was loaded on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flyte_ls.remote.entities import FlyteNodeExecution, FlyteTaskExecution, FlyteWorkflowExecution
from flyte_ls.remote.literals import to_python_map

Call = Callable[..., Awaitable[Any]]
Read = Callable[[literals_pb2.LiteralMap, Any], Awaitable[literals_pb2.LiteralMap]]
"""``read(full, blob)``: inputs/outputs with what Admin did not inline (a UrlBlob, offloaded literals) read
(:func:`flyte_ls.remote.remote_data.inline_data`)."""


async def _as_is(full: literals_pb2.LiteralMap, blob: Any) -> literals_pb2.LiteralMap:
    return full


PAGE = 100
_WF = core_execution_pb2.WorkflowExecution
_BOUNDARY = frozenset({"start-node", "end-node"})
_ASC = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING)


async def sync_tree(
    call: Call,
    exec_id: identifier_pb2.WorkflowExecutionIdentifier,
    sync_nodes: bool,
    previous: FlyteWorkflowExecution | None = None,
    known: FlyteWorkflowExecution | None = None,
    *,
    read: Read = _as_is,
) -> FlyteWorkflowExecution:
    """The execution with ``inputs`` and (once succeeded) ``outputs`` as plain Python; with ``sync_nodes``
    its ``node_executions`` too. ``known`` is the execution as the caller has it: when it is done, it is not
    fetched again. Finished nodes of ``previous`` (or of ``known``) are kept as they are."""
    if known is not None and known.is_done:
        synced = FlyteWorkflowExecution(known.id, known.spec, known.closure, dict(known.node_executions))
        synced.observed_at = known.observed_at
        synced.inputs, synced.outputs = known.inputs, known.outputs
    else:
        get = execution_pb2.WorkflowExecutionGetRequest(id=exec_id)
        # GetExecution first: the data read after it is never older than the phase seen.
        synced = FlyteWorkflowExecution.from_proto(await call("GetExecution", get, kind="read"))
    if synced.inputs is None or (synced.is_successful and synced.outputs is None) or not synced.is_done:
        request = execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id)
        data = await call("GetExecutionData", request, kind="read")
        synced.inputs = to_python_map(await read(data.full_inputs, data.inputs))
        successful = synced.is_successful
        synced.outputs = to_python_map(await read(data.full_outputs, data.outputs)) if successful else None
    if sync_nodes:
        before = dict(known.node_executions) if known is not None else {}
        if previous is not None:
            before.update(previous.node_executions)
        synced.node_executions = await _nodes(call, exec_id, "", before)
    return synced


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
    # A child's ids are prefixed (``n0-0-start-node``): its spec node id says what it is.
    wanted = [ne for ne in listed if (ne.metadata.spec_node_id or ne.id.node_id) not in _BOUNDARY]
    synced = await asyncio.gather(*(_node(call, ne, before.get(ne.id.node_id)) for ne in wanted))
    return {ne.id.node_id: node for ne, node in zip(wanted, synced, strict=True)}


async def _node(
    call: Call, ne: node_execution_pb2.NodeExecution, before: FlyteNodeExecution | None
) -> FlyteNodeExecution:
    if before is not None and before.is_done:
        return before
    node = FlyteNodeExecution.from_proto(ne)
    earlier = before.subworkflow_node_executions if before is not None else {}
    child = ne.closure.workflow_node_metadata.executionId
    if child.name and not ne.metadata.is_parent_node:
        # A launch plan node: the nodes of the execution it launched.
        node.subworkflow_node_executions = await _nodes(call, child, "", earlier)
    elif ne.metadata.is_parent_node:  # dynamic, subworkflow, branch
        node.subworkflow_node_executions = await _nodes(call, ne.id.execution_id, ne.id.node_id, earlier)
    # Task nodes and array nodes: their task executions are loaded on request (node_task_executions).
    return node


async def node_task_executions(call: Call, node: FlyteNodeExecution) -> list[FlyteTaskExecution]:
    """The node's task executions — its attempts, or an array node's items — listed (paged) and stored on
    ``node.task_executions``. Already loaded on a node that was done when synced: returned without an RPC."""
    if node.task_executions is not None and node.is_done:
        return node.task_executions
    found: list[FlyteTaskExecution] = []
    token = ""
    while True:
        request = task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=node.id, limit=PAGE, token=token, sort_by=_ASC
        )
        page = await call("ListTaskExecutions", request, kind="read")
        found.extend(FlyteTaskExecution.from_proto(te) for te in page.task_executions)
        token = page.token
        if not token:
            break
    node.task_executions = found
    return found


async def node_data(call: Call, node: FlyteNodeExecution, *, read: Read = _as_is) -> FlyteNodeExecution:
    """Load ``node.inputs`` and, once the node succeeded, ``node.outputs`` (``GetNodeExecutionData``), as
    plain Python. Already loaded on a node that was done when synced: no RPC."""
    if node.inputs is not None and node.is_done and (node.outputs is not None or not node.is_successful):
        return node
    request = node_execution_pb2.NodeExecutionGetDataRequest(id=node.id)
    data = await call("GetNodeExecutionData", request, kind="read")
    node.inputs = to_python_map(await read(data.full_inputs, data.inputs))
    # The synced phase may be older than the data: outputs that are there are the node's final ones.
    if node.is_successful or data.full_outputs.literals or data.outputs.bytes > 0:
        node.outputs = to_python_map(await read(data.full_outputs, data.outputs))
    return node
