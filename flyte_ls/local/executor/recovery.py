"""RecoverExecution on the executor's side: a run in mode RECOVERED reuses what its reference execution
already did, as flytepropeller's ``attemptRecovery`` does.

Before a node starts (any node but the start/end nodes, at any depth: subworkflow, branch and dynamic
children have the same unique ids in both runs), the original's record of the same unique id is consulted:

- SUCCEEDED or RECOVERED: the node is not run. Its original inputs and outputs are copied to this run's node
  data dir and it is recorded RECOVERED, keeping the original's cache status / catalog key, deck, and (a
  launch-plan node) the child execution it launched. A recovered node of a recovered run recovers again, so
  recoveries chain.
- a ``@dynamic`` node that did not succeed but whose task had produced its DynamicJobSpec (futures.pb): the
  task is not run again, its sub-DAG runs from that spec and its children recover one by one.
- a launch-plan node whose child execution did not succeed: the new child recovers from that child.
- anything else (SKIPPED, FAILED, ABORTED, unknown, unreadable outputs): the node runs as usual.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flyteidl.admin import node_execution_pb2
from flyteidl.core import execution_pb2, identifier_pb2, literals_pb2

from flyte_ls.local.executions.records import ExecutionRecords, read_literal_map
from flyte_ls.local.executor.result import write_map
from flyte_ls.local.store import Page

NodePhase = execution_pb2.NodeExecution
_REUSABLE = (NodePhase.SUCCEEDED, NodePhase.RECOVERED)
Originals = Mapping[str, node_execution_pb2.NodeExecution]


def original_nodes(
    records: ExecutionRecords, original: identifier_pb2.WorkflowExecutionIdentifier
) -> dict[str, node_execution_pb2.NodeExecution]:
    """Every node execution of ``original`` at every depth, by unique node id."""
    found: dict[str, node_execution_pb2.NodeExecution] = {}
    parents = [""]
    while parents:
        parent = parents.pop()
        for node in records.list_nodes(original, parent, Page(limit=100_000)):
            if node.id.node_id in found:
                continue
            found[node.id.node_id] = node
            parents.append(node.id.node_id)
    return found


@dataclass(frozen=True)
class Recovered:
    """A node taken over from the original run (recorded RECOVERED, not run)."""

    inputs_uri: str
    outputs: literals_pb2.LiteralMap
    outputs_uri: str
    deck_uri: str
    task_node_metadata: node_execution_pb2.TaskNodeMetadata | None
    child_execution: identifier_pb2.WorkflowExecutionIdentifier | None


def recover_node(original: node_execution_pb2.NodeExecution | None, data_dir: Path) -> Recovered | None:
    """The original's result of a node, copied into this run's ``data_dir`` (``inputs.pb``,
    ``0/outputs.pb``); None when the node must run."""
    if original is None or original.closure.phase not in _REUSABLE:
        return None
    closure = original.closure
    if closure.HasField("output_data"):
        outputs: literals_pb2.LiteralMap | None = closure.output_data
    elif closure.output_uri:
        outputs = read_literal_map(closure.output_uri)
    else:
        outputs = literals_pb2.LiteralMap()  # a node without outputs
    if outputs is None:
        return None  # the outputs are gone: run it again
    inputs = read_literal_map(original.input_uri) if original.input_uri else None
    inputs_uri = write_map(data_dir / "inputs.pb", inputs) if inputs is not None else ""
    outputs_uri = write_map(data_dir / "0" / "outputs.pb", outputs)
    meta = None
    if closure.HasField("task_node_metadata"):
        meta = node_execution_pb2.TaskNodeMetadata(
            cache_status=closure.task_node_metadata.cache_status,
            catalog_key=closure.task_node_metadata.catalog_key,
        )
    child = closure.workflow_node_metadata.executionId if closure.HasField("workflow_node_metadata") else None
    deck = closure.deck_uri if closure.deck_uri and Path(closure.deck_uri).exists() else ""
    return Recovered(inputs_uri, outputs, outputs_uri, deck, meta, child)


def recovered_futures(
    original: node_execution_pb2.NodeExecution | None, output_dir: Path
) -> tuple[bytes, str, int] | None:
    """A ``@dynamic`` node of the original that did not finish but whose task returned its DynamicJobSpec:
    the spec copied to ``<output_dir>/<attempt>/futures.pb`` (its bytes, path and the attempt that made it),
    so that the sub-DAG runs again from it without running the task."""
    if original is None or not original.metadata.is_dynamic or not original.closure.dynamic_job_spec_uri:
        return None
    source = Path(original.closure.dynamic_job_spec_uri)
    try:
        futures = source.read_bytes()
    except OSError:
        return None
    attempt = int(source.parent.name) if source.parent.name.isdigit() else 0
    target = output_dir / str(attempt) / "futures.pb"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.resolve() != source.resolve():
        shutil.copyfile(source, target)
    return futures, str(target), attempt


def recovered_child(
    original: node_execution_pb2.NodeExecution | None,
) -> identifier_pb2.WorkflowExecutionIdentifier | None:
    """The child execution a launch-plan node of the original launched (which the new child recovers)."""
    if original is None or not original.closure.HasField("workflow_node_metadata"):
        return None
    child = original.closure.workflow_node_metadata.executionId
    return child if child.name else None
