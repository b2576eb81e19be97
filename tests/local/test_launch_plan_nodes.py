"""Launch-plan nodes: child executions run by the same local executor, over real gRPC, on workflows packaged
by real `pyflyte package` and run with flytekit's entrypoints."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from executor_backend import (
    DOMAIN,
    PROJECT,
    Backend,
    NodePhase,
    WorkflowPhase,
    build_package,
    start,
    wait_for,
)
from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from test_executor import Package

from flyte_ls.local.executions.inputs import child_execution_name

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(240)]

FLOWS = """
import time

from flytekit import LaunchPlan, task, workflow


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def double(x: int) -> int:
    return x * 2


@task
def boom(x: int) -> int:
    if x > 0:
        raise ValueError(f"boom {x}")
    return x


@task
def sleepy(s: float) -> float:
    time.sleep(s)
    return s


@workflow
def inner(x: int, y: int = 1) -> int:
    return double(x=add(x=x, y=y))


inner_lp = LaunchPlan.get_or_create(inner, name="inner_lp", default_inputs={"y": 5})


@workflow
def outer(x: int = 1) -> int:
    return double(x=inner_lp(x=x))


@workflow
def middle(x: int) -> int:
    return inner_lp(x=x)


middle_lp = LaunchPlan.get_or_create(middle, name="middle_lp")


@workflow
def nested(x: int = 2) -> int:
    return middle_lp(x=x)


@workflow
def broken(x: int) -> int:
    return boom(x=x)


broken_lp = LaunchPlan.get_or_create(broken, name="broken_lp")


@workflow
def outer_fails(x: int = 1) -> int:
    return double(x=broken_lp(x=x))


@workflow
def slow(s: float) -> float:
    return sleepy(s=s)


slow_lp = LaunchPlan.get_or_create(slow, name="slow_lp")


@workflow
def outer_slow(s: float = 60.0) -> float:
    return slow_lp(s=s)


@workflow
def sibling_fails(s: float = 60.0, x: int = 1) -> float:
    boom(x=x)
    return slow_lp(s=s)
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return build_package(tmp_path_factory.mktemp("lpnodes"), "lp_pkg", FLOWS)


@pytest.fixture(scope="module")
def backend(package: Package, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start(tmp_path_factory.mktemp("lpnodes-state") / "state", package)
    yield b
    b.stop()


def child_of(
    b: Backend, parent: identifier_pb2.WorkflowExecutionIdentifier, node: str = "n0"
) -> identifier_pb2.WorkflowExecutionIdentifier:
    record = b.nodes(parent)[node]
    return record.closure.workflow_node_metadata.executionId


def child_task_started(
    b: Backend, parent: identifier_pb2.WorkflowExecutionIdentifier
) -> identifier_pb2.WorkflowExecutionIdentifier:
    """The child of the parent's n0, once its own n0 (a task) started."""
    child = identifier_pb2.WorkflowExecutionIdentifier(
        project=PROJECT, domain=DOMAIN, name=child_execution_name(parent.name, "n0", 0)
    )

    def started() -> bool:
        try:
            return b.nodes(child).get("n0") is not None
        except grpc.RpcError:  # not created yet
            return False

    wait_for(started, 90, "the child's task to start")
    return child


def test_launch_plan_node_runs_a_child_execution(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "outer", x=1)
    done = backend.wait(ident)
    assert done.closure.phase == WorkflowPhase.SUCCEEDED, done.closure.error
    assert backend.outputs(ident) == {"o0": 24}  # double(double(add(1, 5))): y from inner_lp's default
    node = backend.nodes(ident)["n0"]
    assert node.closure.phase == NodePhase.SUCCEEDED
    assert not node.metadata.is_parent_node
    child = node.closure.workflow_node_metadata.executionId
    assert child == identifier_pb2.WorkflowExecutionIdentifier(
        project=PROJECT, domain=DOMAIN, name=child_execution_name(ident.name, "n0", 0)
    )
    got = backend.get(child)
    assert got.closure.phase == WorkflowPhase.SUCCEEDED
    assert got.spec.launch_plan.name == "inner_lp"
    meta = got.spec.metadata
    assert meta.mode == execution_pb2.ExecutionMetadata.CHILD_WORKFLOW
    assert meta.nesting == 1
    assert meta.parent_node_execution == identifier_pb2.NodeExecutionIdentifier(
        node_id="n0", execution_id=ident
    )
    assert got.spec.max_parallelism == backend.get(ident).spec.max_parallelism
    assert backend.outputs(child) == {"o0": 12}
    data = backend.stub.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=child), timeout=10)
    assert {k: v.scalar.primitive.integer for k, v in data.full_inputs.literals.items()} == {"x": 1, "y": 5}
    node_data = backend.stub.GetNodeExecutionData(
        node_execution_pb2.NodeExecutionGetDataRequest(id=node.id),
        timeout=10,
    )
    assert node_data.full_outputs.literals["o0"].scalar.primitive.integer == 12
    listed = backend.stub.ListExecutions(
        common_pb2.ResourceListRequest(
            id={"project": PROJECT, "domain": DOMAIN}, limit=100, filters=f"eq(name,{child.name})"
        ),
        timeout=10,
    ).executions
    assert [e.spec.metadata.parent_node_execution.execution_id.name for e in listed] == [ident.name]


def test_nested_launch_plan_nodes(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "nested", x=2)
    done = backend.wait(ident)
    assert done.closure.phase == WorkflowPhase.SUCCEEDED, done.closure.error
    assert backend.outputs(ident) == {"o0": 14}
    middle = child_of(backend, ident)
    inner = child_of(backend, middle)
    assert backend.get(inner).spec.metadata.nesting == 2
    assert backend.get(inner).spec.metadata.parent_node_execution.execution_id == middle


def test_a_failed_child_fails_the_node(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "outer_fails", x=3)
    done = backend.wait(ident)
    assert done.closure.phase == WorkflowPhase.FAILED
    assert "boom 3" in done.closure.error.message
    assert done.closure.error.kind == core_execution_pb2.ExecutionError.USER
    nodes = backend.nodes(ident)
    assert nodes["n0"].closure.phase == NodePhase.FAILED
    assert "boom 3" in nodes["n0"].closure.error.message
    child = nodes["n0"].closure.workflow_node_metadata.executionId
    assert backend.get(child).closure.phase == WorkflowPhase.FAILED


def test_terminate_propagates_to_the_child(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "outer_slow")
    child = child_task_started(backend, ident)
    backend.stub.TerminateExecution(
        execution_pb2.ExecutionTerminateRequest(id=ident, cause="stop"), timeout=60
    )
    assert backend.wait(ident, 30).closure.phase == WorkflowPhase.ABORTED
    got = backend.wait(child, 30)
    assert got.closure.phase == WorkflowPhase.ABORTED
    assert got.closure.abort_metadata.cause == f"parent execution [{ident.name}] was aborted: stop"
    assert backend.nodes(ident)["n0"].closure.phase == NodePhase.ABORTED
    assert backend.nodes(child)["n0"].closure.phase == NodePhase.ABORTED
    assert backend.executor.running() == []


def test_terminating_the_child_fails_the_node(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "outer_slow")
    child = child_task_started(backend, ident)
    request = execution_pb2.ExecutionTerminateRequest(id=child, cause="child only")
    backend.stub.TerminateExecution(request, timeout=60)
    done = backend.wait(ident, 30)
    assert done.closure.phase == WorkflowPhase.FAILED
    assert done.closure.error.code == "RemoteChildWorkflowExecutionFailed"
    assert "was aborted" in done.closure.error.message
    assert backend.get(child).closure.phase == WorkflowPhase.ABORTED


def test_a_failed_sibling_aborts_the_child(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "sibling_fails")
    done = backend.wait(ident)
    assert done.closure.phase == WorkflowPhase.FAILED
    assert "boom 1" in done.closure.error.message
    child = identifier_pb2.WorkflowExecutionIdentifier(
        project=PROJECT, domain=DOMAIN, name=child_execution_name(ident.name, "n1", 0)
    )
    got = backend.wait(child, 30)
    assert got.closure.phase == WorkflowPhase.ABORTED
    assert "auto-abort" in got.closure.abort_metadata.cause
    assert backend.nodes(ident)["n1"].closure.phase == NodePhase.ABORTED
