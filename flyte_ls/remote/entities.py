"""Remote entities over Admin's protos: what the fetch methods return, with flytekit's class names.

Each class keeps the proto it was built from (``closure``, ``spec``...) and exposes the parts callers use —
the identifier (as :mod:`.identifiers` types), the interface (``core.TypedInterface``), the phase — without
converting anything else. :class:`LazyEntity` defers a fetch until first use.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flyteidl.admin import (
    execution_pb2,
    launch_plan_pb2,
    node_execution_pb2,
    task_execution_pb2,
    task_pb2,
    workflow_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2
from flyteidl.core import workflow_pb2 as core_wf_pb2

from flyte_ls.remote.identifiers import Identifier, TaskExecutionIdentifier, WorkflowExecutionIdentifier

T = TypeVar("T")

_WF_DONE = frozenset(
    {
        core_execution_pb2.WorkflowExecution.SUCCEEDED,
        core_execution_pb2.WorkflowExecution.FAILED,
        core_execution_pb2.WorkflowExecution.ABORTED,
        core_execution_pb2.WorkflowExecution.TIMED_OUT,
    }
)
_NODE = core_execution_pb2.NodeExecution
# flytekit's set omits RECOVERED (a node whose outputs were copied from an earlier execution): terminal too.
_NODE_DONE = frozenset(
    {_NODE.SUCCEEDED, _NODE.FAILED, _NODE.ABORTED, _NODE.SKIPPED, _NODE.TIMED_OUT, _NODE.RECOVERED}
)


class _Versioned:
    """``name`` and ``version`` of a registered entity, read from its ``id``."""

    id: Identifier

    @property
    def name(self) -> str:
        return self.id.name

    @property
    def version(self) -> str | None:
        return self.id.version


@dataclass(eq=False)
class FlyteTask(_Versioned):
    """A registered task version (``admin.Task``)."""

    id: Identifier
    closure: task_pb2.TaskClosure

    @classmethod
    def from_proto(cls, task: task_pb2.Task) -> FlyteTask:
        return cls(Identifier.from_proto(task.id), task.closure)

    @property
    def template(self) -> tasks_pb2.TaskTemplate:
        return self.closure.compiled_task.template

    @property
    def interface(self) -> interface_pb2.TypedInterface:
        return self.template.interface


@dataclass(eq=False)
class FlyteWorkflow(_Versioned):
    """A registered workflow version (``admin.Workflow``), with the launch plans its nodes reference."""

    id: Identifier
    closure: workflow_pb2.WorkflowClosure
    launch_plans: dict[Identifier, FlyteLaunchPlan] = field(default_factory=dict)

    @classmethod
    def from_proto(cls, wf: workflow_pb2.Workflow) -> FlyteWorkflow:
        return cls(Identifier.from_proto(wf.id), wf.closure)

    @property
    def template(self) -> core_wf_pb2.WorkflowTemplate:
        return self.closure.compiled_workflow.primary.template

    @property
    def interface(self) -> interface_pb2.TypedInterface:
        return self.template.interface

    @property
    def nodes(self) -> dict[str, core_wf_pb2.Node]:
        """The primary template's nodes by id."""
        return {node.id: node for node in self.template.nodes}

    @property
    def sub_workflows(self) -> list[core_wf_pb2.WorkflowTemplate]:
        return [sub.template for sub in self.closure.compiled_workflow.sub_workflows]


@dataclass(eq=False)
class FlyteLaunchPlan(_Versioned):
    """A registered launch plan version (``admin.LaunchPlan``); ``workflow`` is the one it launches,
    when fetched. As in flytekit, :attr:`interface` is the workflow's; defaults and fixed inputs are in
    ``spec``."""

    id: Identifier
    spec: launch_plan_pb2.LaunchPlanSpec
    closure: launch_plan_pb2.LaunchPlanClosure
    workflow: FlyteWorkflow | None = None

    @classmethod
    def from_proto(
        cls, lp: launch_plan_pb2.LaunchPlan, workflow: FlyteWorkflow | None = None
    ) -> FlyteLaunchPlan:
        return cls(Identifier.from_proto(lp.id), lp.spec, lp.closure, workflow)

    @property
    def workflow_id(self) -> Identifier:
        return Identifier.from_proto(self.spec.workflow_id)

    @property
    def interface(self) -> interface_pb2.TypedInterface:
        if self.workflow is not None:
            return self.workflow.interface
        return interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(
                variables={k: p.var for k, p in self.closure.expected_inputs.parameters.items()}
            ),
            outputs=self.closure.expected_outputs,
        )

    @property
    def default_inputs(self) -> interface_pb2.ParameterMap:
        return self.spec.default_inputs

    @property
    def fixed_inputs(self) -> literals_pb2.LiteralMap:
        return self.spec.fixed_inputs

    @property
    def is_active(self) -> bool:
        return self.closure.state == launch_plan_pb2.ACTIVE


@dataclass(eq=False)
class FlyteTaskExecution:
    """One attempt of a task in a node (``admin.TaskExecution``)."""

    id: TaskExecutionIdentifier
    closure: task_execution_pb2.TaskExecutionClosure
    is_parent: bool = False

    @classmethod
    def from_proto(cls, te: task_execution_pb2.TaskExecution) -> FlyteTaskExecution:
        return cls(TaskExecutionIdentifier.from_proto(te.id), te.closure, te.is_parent)

    @property
    def phase(self) -> int:
        """A ``core.TaskExecution.Phase`` value."""
        return int(self.closure.phase)

    @property
    def phase_name(self) -> str:
        return str(core_execution_pb2.TaskExecution.Phase.Name(self.closure.phase))


@dataclass(eq=False)
class FlyteNodeExecution:
    """A node of an execution (``admin.NodeExecution``). ``sync_execution(..., sync_nodes=True)`` fills
    ``subworkflow_node_executions`` (the children of dynamic, subworkflow and branch nodes, and the nodes of
    an execution a launch plan node started); the rest is loaded on request, so it stays ``None`` until then:
    ``task_executions`` (the attempts, or an array node's items) by ``fetch_task_executions(node)``,
    ``inputs`` / ``outputs`` (plain Python; outputs once the node succeeded) by ``fetch_node_data(node)``."""

    id: identifier_pb2.NodeExecutionIdentifier
    closure: node_execution_pb2.NodeExecutionClosure
    metadata: node_execution_pb2.NodeExecutionMetaData
    task_executions: list[FlyteTaskExecution] | None = None
    subworkflow_node_executions: dict[str, FlyteNodeExecution] = field(default_factory=dict)
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None

    @classmethod
    def from_proto(cls, ne: node_execution_pb2.NodeExecution) -> FlyteNodeExecution:
        return cls(ne.id, ne.closure, ne.metadata)

    @property
    def phase(self) -> int:
        """A ``core.NodeExecution.Phase`` value."""
        return int(self.closure.phase)

    @property
    def phase_name(self) -> str:
        return str(core_execution_pb2.NodeExecution.Phase.Name(self.closure.phase))

    @property
    def node_id(self) -> str:
        return str(self.id.node_id)

    @property
    def is_done(self) -> bool:
        """Whether the node's phase (as last synced) is terminal; ``RECOVERED`` counts as done."""
        return self.closure.phase in _NODE_DONE

    @property
    def is_successful(self) -> bool:
        return self.closure.phase == core_execution_pb2.NodeExecution.SUCCEEDED


@dataclass(eq=False)
class FlyteWorkflowExecution:
    """An execution (``admin.Execution``). ``inputs`` / ``outputs`` are filled by ``sync_execution``,
    ``node_executions`` by ``sync_execution(..., sync_nodes=True)``; until then ``None`` and empty."""

    id: WorkflowExecutionIdentifier
    spec: execution_pb2.ExecutionSpec
    closure: execution_pb2.ExecutionClosure
    node_executions: dict[str, FlyteNodeExecution] = field(default_factory=dict)
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    # time.monotonic() when ``closure`` was read from Admin: ``wait`` does not ask again sooner than it would
    # have polled anyway.
    observed_at: float | None = field(default=None, repr=False)

    @classmethod
    def from_proto(cls, ex: execution_pb2.Execution) -> FlyteWorkflowExecution:
        """Built from Admin's answer: ``observed_at`` is now."""
        ident = WorkflowExecutionIdentifier.from_proto(ex.id)
        return cls(ident, ex.spec, ex.closure, observed_at=time.monotonic())

    @property
    def phase(self) -> int:
        """A ``core.WorkflowExecution.Phase`` value."""
        return int(self.closure.phase)

    @property
    def phase_name(self) -> str:
        return str(core_execution_pb2.WorkflowExecution.Phase.Name(self.closure.phase))

    @property
    def is_done(self) -> bool:
        return self.closure.phase in _WF_DONE

    @property
    def is_successful(self) -> bool:
        return self.closure.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED

    @property
    def error(self) -> core_execution_pb2.ExecutionError | None:
        return self.closure.error if self.closure.HasField("error") else None

    @property
    def launch_plan_id(self) -> Identifier:
        return Identifier.from_proto(self.spec.launch_plan)


class LazyEntity(Generic[T]):
    """An entity fetched once, on first use: ``await lazy.fetch()`` (async) or ``lazy.entity`` / any attribute
    (synchronous, when the remote is a :class:`~flyte_ls.remote.remote.FlyteRemote`). ``name`` costs nothing.

    Thread-safe: concurrent first uses share one fetch. A failed fetch is not kept; the next use retries.
    """

    def __init__(
        self,
        name: str,
        getter: Callable[[], Awaitable[T]],
        *,
        runner: Callable[[Awaitable[T]], T] | None = None,
    ) -> None:
        self._name = name
        self._getter = getter
        self._runner = runner
        self._lock = threading.Lock()
        self._done = False
        self._value: T | None = None
        self._pending: asyncio.Future[T] | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def fetched(self) -> bool:
        """Whether the entity has been fetched (no RPC)."""
        return self._done

    async def fetch(self) -> T:
        """The entity, fetching it on the first call."""
        with self._lock:
            if self._done:
                return self._value  # type: ignore[return-value]
            if self._pending is None or self._pending.get_loop() is not asyncio.get_running_loop():
                self._pending = asyncio.ensure_future(self._getter())
            pending = self._pending
        try:
            value = await asyncio.shield(pending)
        except BaseException:
            with self._lock:
                if self._pending is pending:
                    self._pending = None
            raise
        with self._lock:
            self._value, self._done = value, True
        return value

    @property
    def entity(self) -> T:
        """The entity, fetched synchronously on first access (a :class:`FlyteRemote`'s lazy entities only)."""
        if self._done:
            return self._value  # type: ignore[return-value]
        if self._runner is None:
            raise RuntimeError(
                f"LazyEntity {self._name!r} belongs to an AsyncFlyteRemote: use `await lazy.fetch()` instead"
            )
        return self._runner(self.fetch())

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.entity, attr)

    def __repr__(self) -> str:
        state = repr(self._value) if self._done else "not fetched"
        return f"LazyEntity({self._name!r}, {state})"


def walk_nodes(nodes: Iterable[core_wf_pb2.Node]) -> Iterator[core_wf_pb2.Node]:
    """Every node of a workflow template's node list, depth first: including the then/else nodes of branches
    and the node of array nodes (not the nodes of subworkflows, which are templates of their own)."""
    for node in nodes:
        yield node
        if node.HasField("branch_node"):
            ifelse = node.branch_node.if_else
            inner = [ifelse.case.then_node, *(case.then_node for case in ifelse.other)]
            if ifelse.HasField("else_node"):
                inner.append(ifelse.else_node)
            yield from walk_nodes(inner)
        elif node.HasField("array_node"):
            yield from walk_nodes([node.array_node.node])


__all__ = [
    "FlyteLaunchPlan",
    "FlyteNodeExecution",
    "FlyteTask",
    "FlyteTaskExecution",
    "FlyteWorkflow",
    "FlyteWorkflowExecution",
    "LazyEntity",
    "walk_nodes",
]
