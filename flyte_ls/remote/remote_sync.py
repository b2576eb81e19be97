"""Syncing an execution and, on request, its node tree — what ``sync_execution`` returns.

Cost model (against flytekit's ~2 + 3 per attempt RPCs per node, every poll, flyte#4056): the execution is two
RPCs (``GetExecution``, ``GetExecutionData``); nodes are listed a page of 100 at a time; a parent node
(dynamic, subworkflow, branch) lists its children with ``unique_parent_id``; a node that launched another
execution syncs that execution; other nodes (tasks, array nodes) list their task executions. Node data
(inputs/outputs) is not fetched. A node that was finished in ``previous`` is reused as it is.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

Call = Callable[..., Awaitable[Any]]
PAGE = 100
_WF = core_execution_pb2.WorkflowExecution
_NODE = core_execution_pb2.NodeExecution
WORKFLOW_DONE = frozenset({_WF.SUCCEEDED, _WF.FAILED, _WF.ABORTED, _WF.TIMED_OUT})
# RECOVERED is terminal too (flytekit's set omits it).
NODE_DONE = frozenset(
    {_NODE.SUCCEEDED, _NODE.FAILED, _NODE.ABORTED, _NODE.SKIPPED, _NODE.TIMED_OUT, _NODE.RECOVERED}
)
_BOUNDARY = frozenset({"start-node", "end-node"})
_ASC = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING)


@dataclasses.dataclass
class SyncedNode:
    """One node execution: ``children`` for parent nodes (dynamic, subworkflow, branch), ``child_execution``
    for a node that launched a launch plan, ``task_executions`` (attempts, or array items) otherwise."""

    execution: node_execution_pb2.NodeExecution
    children: dict[str, SyncedNode] = dataclasses.field(default_factory=dict)
    child_execution: SyncedExecution | None = None
    task_executions: list[task_execution_pb2.TaskExecution] = dataclasses.field(default_factory=list)

    @property
    def node_id(self) -> str:
        return self.execution.metadata.spec_node_id or self.execution.id.node_id

    @property
    def phase(self) -> int:
        return int(self.execution.closure.phase)

    @property
    def is_done(self) -> bool:
        return self.phase in NODE_DONE and (self.child_execution is None or self.child_execution.is_done)


@dataclasses.dataclass
class SyncedExecution:
    """An execution, its inputs, its outputs once succeeded, and its nodes when synced with ``sync_nodes``
    (keyed by node execution id; ``None`` when not synced)."""

    execution: execution_pb2.Execution
    inputs: literals_pb2.LiteralMap
    outputs: literals_pb2.LiteralMap | None
    nodes: dict[str, SyncedNode] | None = None

    @property
    def id(self) -> identifier_pb2.WorkflowExecutionIdentifier:
        return self.execution.id

    @property
    def phase(self) -> int:
        return int(self.execution.closure.phase)

    @property
    def is_done(self) -> bool:
        return self.phase in WORKFLOW_DONE

    @property
    def is_successful(self) -> bool:
        return self.phase == _WF.SUCCEEDED

    @property
    def error(self) -> Any:
        return self.execution.closure.error if self.execution.closure.HasField("error") else None


async def sync_tree(
    call: Call,
    exec_id: identifier_pb2.WorkflowExecutionIdentifier,
    sync_nodes: bool,
    previous: SyncedExecution | None = None,
) -> SyncedExecution:
    get = execution_pb2.WorkflowExecutionGetRequest(id=exec_id)
    # GetExecution first: the data read after it is never older than the phase seen.
    execution = await call("GetExecution", get, kind="read")
    data = await call(
        "GetExecutionData", execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id), kind="read"
    )
    succeeded = execution.closure.phase == _WF.SUCCEEDED
    synced = SyncedExecution(execution, data.full_inputs, data.full_outputs if succeeded else None)
    if sync_nodes:
        before = previous.nodes if previous is not None and previous.nodes is not None else {}
        synced.nodes = await _nodes(call, exec_id, "", before)
    return synced


async def _nodes(
    call: Call,
    exec_id: identifier_pb2.WorkflowExecutionIdentifier,
    parent: str,
    before: dict[str, SyncedNode],
) -> dict[str, SyncedNode]:
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


async def _node(call: Call, ne: node_execution_pb2.NodeExecution, before: SyncedNode | None) -> SyncedNode:
    if before is not None and before.is_done:
        return before
    node = SyncedNode(ne)
    child = ne.closure.workflow_node_metadata.executionId
    if child.name and not ne.metadata.is_parent_node:
        node.child_execution = await sync_tree(call, child, True, before.child_execution if before else None)
    elif ne.metadata.is_parent_node:
        node.children = await _nodes(
            call, ne.id.execution_id, ne.id.node_id, before.children if before else {}
        )
    else:
        node.task_executions = await _task_executions(call, ne.id)
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
