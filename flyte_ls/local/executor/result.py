"""What running one node gives the engine (:class:`NodeResult`), shared by the engine and the node kinds that
live in their own modules (gates, launch-plan nodes, the cache)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flyteidl.admin import node_execution_pb2
from flyteidl.core import execution_pb2, identifier_pb2, literals_pb2

NodePhase = execution_pb2.NodeExecution
USER = execution_pb2.ExecutionError.USER
SYSTEM = execution_pb2.ExecutionError.SYSTEM


@dataclass
class NodeResult:
    phase: int  # core.NodeExecution.Phase
    outputs: literals_pb2.LiteralMap | None = None
    output_uri: str = ""
    error: execution_pb2.ExecutionError | None = None
    futures: bytes | None = None  # a @dynamic task's DynamicJobSpec (futures.pb)
    futures_uri: str = ""
    attempt: int = 0
    deck_uri: str = ""  # the deck.html of the task attempt that ended the node
    # recorded in the node closure: cache status + catalog key of a task node
    task_node_metadata: node_execution_pb2.TaskNodeMetadata | None = None
    # the source attempt of a task node's outputs (the cache entry's source_task_execution)
    task_execution: identifier_pb2.TaskExecutionIdentifier | None = None


def failed(code: str, message: str, kind: int = SYSTEM) -> NodeResult:
    error = execution_pb2.ExecutionError(code=code, message=message, kind=kind)
    return NodeResult(NodePhase.FAILED, error=error)


def write_map(path: Path, message: literals_pb2.LiteralMap) -> str:
    """Write ``message`` to ``path`` atomically; its path as the URI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(message.SerializeToString(deterministic=True))
    os.replace(tmp, path)
    return str(path)
