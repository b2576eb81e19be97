"""What a :class:`~flyte_ls.local.executor.engine.WorkflowRun` reports while it walks a DAG.

The engine calls a :class:`RunObserver` from its event loop, in order, for every node and task attempt it
runs; an observer must return quickly (it writes records). :class:`MemoryObserver` keeps the events in lists
(tests);
:class:`~flyte_ls.local.executor.service.RecordsObserver` writes them into the Admin's execution records.

Phases are flyteidl's: ``core.NodeExecution.Phase`` for nodes, ``core.TaskExecution.Phase`` for attempts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from flyteidl.admin import node_execution_pb2
from flyteidl.core import compiler_pb2, execution_pb2, identifier_pb2


@dataclass(frozen=True)
class NodeRef:
    """One node execution: its unique id (propeller's, e.g. ``n0``, ``n1-0-n0``) and where it sits."""

    unique_id: str
    spec_node_id: str  # the node's id in its (sub)workflow template
    parent_unique_id: str = ""  # the subworkflow / branch node it runs under ("" at the top level)
    retry_group: str = ""  # the parent's attempt ("" at the top level)
    data_dir: Path | None = None  # <...>/<node>/data: inputs.pb, <attempt>/outputs.pb


@dataclass(frozen=True)
class IndexRun:
    """How one index of an ArrayNode (map task) ended: its last attempt, task phase, cache status, log."""

    index: int
    attempt: int
    phase: int  # core.TaskExecution.Phase
    cache_status: int  # core.CatalogCacheStatus
    log: Path


class RunObserver(Protocol):
    def node_started(
        self,
        node: NodeRef,
        *,
        input_uri: str,
        is_parent: bool,
        is_array: bool = False,
        started_at: float | None = None,  # a gate resumed after a restart keeps its first start
    ) -> None: ...

    def node_finished(
        self,
        node: NodeRef,
        phase: int,
        *,
        output_uri: str = "",
        error: execution_pb2.ExecutionError | None = None,
        task_node_metadata: node_execution_pb2.TaskNodeMetadata | None = None,
        deck_uri: str = "",
    ) -> None: ...

    def node_skipped(self, node: NodeRef) -> None: ...

    def node_recovered(
        self,
        node: NodeRef,
        *,
        input_uri: str,
        output_uri: str,
        task_node_metadata: node_execution_pb2.TaskNodeMetadata | None = None,
        child_execution: identifier_pb2.WorkflowExecutionIdentifier | None = None,
        deck_uri: str = "",
    ) -> None:
        """A node of a recovered execution taken over from the original (phase RECOVERED, never run)."""

    def dynamic_running(self, node: NodeRef) -> None:
        """A ``@dynamic`` node's task is done and its generated sub-DAG runs (node DYNAMIC_RUNNING)."""

    def child_execution(
        self, node: NodeRef, execution_id: identifier_pb2.WorkflowExecutionIdentifier
    ) -> None:
        """A launch-plan node launched ``execution_id`` (node closure ``workflow_node_metadata``)."""

    def attempt_started(
        self,
        node: NodeRef,
        task_id: identifier_pb2.Identifier,
        attempt: int,
        *,
        input_uri: str,
        log: Path,
        task_type: str = "",
    ) -> None: ...

    def dynamic_workflow(
        self, node: NodeRef, compiled: compiler_pb2.CompiledWorkflowClosure, *, futures_uri: str
    ) -> None: ...

    def attempt_finished(
        self,
        node: NodeRef,
        attempt: int,
        phase: int,
        *,
        output_uri: str = "",
        error: execution_pb2.ExecutionError | None = None,
        log: Path | None = None,
        indexes: Sequence[IndexRun] = (),
    ) -> None: ...


@dataclass(frozen=True)
class Event:
    kind: str  # node_started, node_finished, attempt_started, attempt_finished
    node: str  # unique id
    phase: int = 0
    attempt: int = -1
    uri: str = ""  # input_uri (started) or output_uri (finished)
    error: execution_pb2.ExecutionError | None = None
    parent: str = ""
    log: Path | None = None
    deck: str = ""  # deck_uri (node_finished)


@dataclass
class MemoryObserver:
    """Every event in order, plus each node's and attempt's last phase."""

    events: list[Event] = field(default_factory=list)
    nodes: dict[str, int] = field(default_factory=dict)
    attempts: dict[tuple[str, int], int] = field(default_factory=dict)
    dynamic: dict[str, compiler_pb2.CompiledWorkflowClosure] = field(default_factory=dict)
    children: dict[str, identifier_pb2.WorkflowExecutionIdentifier] = field(default_factory=dict)
    cache: dict[str, node_execution_pb2.TaskNodeMetadata] = field(default_factory=dict)
    indexes: dict[str, list[IndexRun]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def node_started(
        self,
        node: NodeRef,
        *,
        input_uri: str,
        is_parent: bool,
        is_array: bool = False,
        started_at: float | None = None,
    ) -> None:
        with self._lock:
            phase = execution_pb2.NodeExecution.RUNNING
            self.events.append(
                Event("node_started", node.unique_id, phase, uri=input_uri, parent=node.parent_unique_id)
            )
            self.nodes[node.unique_id] = phase

    def node_finished(
        self,
        node: NodeRef,
        phase: int,
        *,
        output_uri: str = "",
        error: execution_pb2.ExecutionError | None = None,
        task_node_metadata: node_execution_pb2.TaskNodeMetadata | None = None,
        deck_uri: str = "",
    ) -> None:
        with self._lock:
            if task_node_metadata is not None:
                self.cache[node.unique_id] = task_node_metadata
            self.events.append(
                Event(
                    "node_finished",
                    node.unique_id,
                    phase,
                    uri=output_uri,
                    error=error,
                    parent=node.parent_unique_id,
                    deck=deck_uri,
                )
            )
            self.nodes[node.unique_id] = phase

    def node_skipped(self, node: NodeRef) -> None:
        with self._lock:
            phase = execution_pb2.NodeExecution.SKIPPED
            self.events.append(Event("node_skipped", node.unique_id, phase, parent=node.parent_unique_id))
            self.nodes[node.unique_id] = phase

    def node_recovered(
        self,
        node: NodeRef,
        *,
        input_uri: str,
        output_uri: str,
        task_node_metadata: node_execution_pb2.TaskNodeMetadata | None = None,
        child_execution: identifier_pb2.WorkflowExecutionIdentifier | None = None,
        deck_uri: str = "",
    ) -> None:
        with self._lock:
            phase = execution_pb2.NodeExecution.RECOVERED
            event = Event(
                "node_recovered", node.unique_id, phase, uri=output_uri, parent=node.parent_unique_id
            )
            self.events.append(event)
            self.nodes[node.unique_id] = phase

    def dynamic_running(self, node: NodeRef) -> None:
        with self._lock:
            phase = execution_pb2.NodeExecution.DYNAMIC_RUNNING
            self.events.append(Event("dynamic_running", node.unique_id, phase, parent=node.parent_unique_id))
            self.nodes[node.unique_id] = phase

    def child_execution(
        self, node: NodeRef, execution_id: identifier_pb2.WorkflowExecutionIdentifier
    ) -> None:
        with self._lock:
            self.events.append(Event("child_execution", node.unique_id, uri=execution_id.name))
            self.children[node.unique_id] = execution_id

    def attempt_started(
        self,
        node: NodeRef,
        task_id: identifier_pb2.Identifier,
        attempt: int,
        *,
        input_uri: str,
        log: Path,
        task_type: str = "",
    ) -> None:
        with self._lock:
            phase = execution_pb2.TaskExecution.RUNNING
            self.events.append(Event("attempt_started", node.unique_id, phase, attempt, input_uri, log=log))
            self.attempts[(node.unique_id, attempt)] = phase

    def attempt_finished(
        self,
        node: NodeRef,
        attempt: int,
        phase: int,
        *,
        output_uri: str = "",
        error: execution_pb2.ExecutionError | None = None,
        log: Path | None = None,
        indexes: Sequence[IndexRun] = (),
    ) -> None:
        with self._lock:
            if indexes:
                self.indexes[node.unique_id] = list(indexes)
            self.events.append(
                Event("attempt_finished", node.unique_id, phase, attempt, output_uri, error, log=log)
            )
            self.attempts[(node.unique_id, attempt)] = phase

    def dynamic_workflow(
        self, node: NodeRef, compiled: compiler_pb2.CompiledWorkflowClosure, *, futures_uri: str
    ) -> None:
        with self._lock:
            self.events.append(Event("dynamic_workflow", node.unique_id, uri=futures_uri))
            self.dynamic[node.unique_id] = compiled

    def errors(self, node: str) -> list[execution_pb2.ExecutionError]:
        return [
            e.error
            for e in self.events
            if e.node == node and e.error is not None and e.kind == "node_finished"
        ]
