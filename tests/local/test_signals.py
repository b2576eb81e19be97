"""Gate nodes (approve, wait_for_input) and the SignalService, over real gRPC, on workflows packaged by real
`pyflyte package` and run by the local executor with flytekit's entrypoints."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from executor_backend import DOMAIN, PROJECT, Backend, NodePhase, WorkflowPhase, build_package, lit, start
from executor_backend import wait_for as wait_until
from flyteidl.admin import common_pb2, execution_pb2, signal_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2
from test_executor import Package

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(240)]

FLOWS = """
from datetime import timedelta

from flytekit import approve, task, wait_for_input, workflow


@task
def double(x: int) -> int:
    return x * 2


@task
def combine(title: str, count: int, ratio: float, flag: bool, xs: list[int]) -> str:
    return f"{title}|{count}|{ratio}|{flag}|{sum(xs)}"


@workflow
def approval(x: int = 2) -> int:
    return double(x=approve(double(x=x), "ok", timeout=timedelta(minutes=10)))


@workflow
def inputs() -> str:
    title = wait_for_input("title", timeout=timedelta(minutes=10), expected_type=str)
    count = wait_for_input("count", timeout=timedelta(minutes=10), expected_type=int)
    ratio = wait_for_input("ratio", timeout=timedelta(minutes=10), expected_type=float)
    flag = wait_for_input("flag", timeout=timedelta(minutes=10), expected_type=bool)
    xs = wait_for_input("xs", timeout=timedelta(minutes=10), expected_type=list[int])
    return combine(title=title, count=count, ratio=ratio, flag=flag, xs=xs)


@workflow
def late(x: int = 1) -> int:
    d = double(x=x)
    n = wait_for_input("late", timeout=timedelta(minutes=10), expected_type=int)
    d >> n
    return double(x=n)


@workflow
def hurry(x: int = 1) -> int:
    return approve(double(x=x), "quick", timeout=timedelta(seconds=2))
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return build_package(tmp_path_factory.mktemp("gates"), "gate_pkg", FLOWS)


@pytest.fixture(scope="module")
def backend(package: Package, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start(tmp_path_factory.mktemp("gates-state") / "state", package)
    yield b
    b.stop()


def sig_id(
    ident: identifier_pb2.WorkflowExecutionIdentifier, signal_id: str
) -> identifier_pb2.SignalIdentifier:
    return identifier_pb2.SignalIdentifier(signal_id=signal_id, execution_id=ident)


def set_signal(
    b: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier, signal_id: str, value: object
) -> None:
    literal = value if isinstance(value, literals_pb2.Literal) else lit(value)
    b.signals.SetSignal(signal_pb2.SignalSetRequest(id=sig_id(ident, signal_id), value=literal), timeout=10)


def list_signals(
    b: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier, **kw: object
) -> signal_pb2.SignalList:
    request = signal_pb2.SignalListRequest(workflow_execution_id=ident, limit=100)
    for key, value in kw.items():
        if key == "sort_by":
            request.sort_by.CopyFrom(value)  # type: ignore[arg-type]
        else:
            setattr(request, key, value)
    return b.signals.ListSignals(request, timeout=10)


def waiting_for(b: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier, *signal_ids: str) -> None:
    def ready() -> bool:
        listed = {s.id.signal_id: s for s in list_signals(b, ident).signals}
        return all(i in listed and not listed[i].HasField("value") for i in signal_ids)

    wait_until(ready, 90, f"signals {signal_ids} waiting")


def test_approve_true_passes_the_value_through(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "approval", x=2)
    waiting_for(backend, ident, "ok")
    [signal] = list_signals(backend, ident).signals
    assert signal.type == types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
    assert backend.get(ident).closure.phase == WorkflowPhase.RUNNING
    set_signal(backend, ident, "ok", True)
    done = backend.wait(ident)
    assert done.closure.phase == WorkflowPhase.SUCCEEDED, done.closure.error
    assert backend.outputs(ident) == {"o0": 8}
    [signal] = list_signals(backend, ident).signals
    assert signal.value.scalar.primitive.boolean is True
    nodes = backend.nodes(ident)
    assert {k: n.closure.phase for k, n in nodes.items()} == dict.fromkeys(
        ("start-node", "n0", "n1", "n2", "end-node"), NodePhase.SUCCEEDED
    )
    metrics = backend.stub.GetExecutionMetrics(
        execution_pb2.WorkflowExecutionGetMetricsRequest(id=ident, depth=10), timeout=10
    )
    gate = next(span for span in metrics.span.spans if span.node_id.node_id == "n1")
    assert [span.operation_id for span in gate.spans][1:] == ["NODE_SETUP", "NODE_IDLE", "NODE_TEARDOWN"]


def test_approve_false_fails_with_received_reject_signal(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "approval", x=2)
    waiting_for(backend, ident, "ok")
    set_signal(backend, ident, "ok", False)
    done = backend.wait(ident)
    assert done.closure.phase == WorkflowPhase.FAILED
    assert done.closure.error.code == "ReceivedRejectSignal"
    assert done.closure.error.kind == core_execution_pb2.ExecutionError.USER
    nodes = backend.nodes(ident)
    assert nodes["n1"].closure.phase == NodePhase.FAILED
    assert "n2" not in nodes or nodes["n2"].closure.phase == NodePhase.SKIPPED


def test_signals_of_several_types_listed_paged_and_filtered(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "inputs")
    names = ["count", "flag", "ratio", "title", "xs"]
    waiting_for(backend, ident, *names)
    ascending = admin_sort("signal_id", common_pb2.Sort.ASCENDING)
    first = list_signals(backend, ident, limit=2, sort_by=ascending)
    assert [s.id.signal_id for s in first.signals] == ["count", "flag"] and first.token == "2"
    second = list_signals(backend, ident, limit=2, token=first.token, sort_by=ascending)
    assert [s.id.signal_id for s in second.signals] == ["ratio", "title"] and second.token == "4"
    third = list_signals(backend, ident, limit=2, token=second.token, sort_by=ascending)
    assert [s.id.signal_id for s in third.signals] == ["xs"] and third.token == ""
    only = list_signals(backend, ident, filters="eq(signal_id,ratio)").signals
    assert [(s.id.signal_id, s.type.simple) for s in only] == [("ratio", types_pb2.FLOAT)]
    listed = {
        s.id.signal_id: s for s in list_signals(backend, ident, filters="value_in(signal_id,xs;flag)").signals
    }
    assert set(listed) == {"xs", "flag"}
    assert listed["xs"].type.collection_type.simple == types_pb2.INTEGER
    with pytest.raises(grpc.RpcError) as err:
        list_signals(backend, ident, filters="eq(nonsense,1)")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        list_signals(backend, ident, limit=0)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # wrong types and unknown signals are refused
    for signal_id, value in (("count", "three"), ("flag", 1), ("title", 2.5), ("xs", 3)):
        with pytest.raises(grpc.RpcError) as err:
            set_signal(backend, ident, signal_id, value)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, signal_id
    with pytest.raises(grpc.RpcError) as err:
        set_signal(backend, ident, "nope", 1)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "failed to validate that signal" in (err.value.details() or "")
    unknown = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="nosuchexec")
    with pytest.raises(grpc.RpcError) as err:
        set_signal(backend, unknown, "count", 1)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    xs = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[lit(1), lit(2), lit(4)]))
    for signal_id, value in (("title", "t"), ("count", 3), ("ratio", 0.5), ("flag", True), ("xs", xs)):
        set_signal(backend, ident, signal_id, value)
    done = backend.wait(ident)
    assert done.closure.phase == WorkflowPhase.SUCCEEDED, done.closure.error
    assert backend.outputs(ident) == {"o0": "t|3|0.5|True|7"}
    nodes = backend.nodes(ident)
    gate = next(n for n in nodes.values() if n.metadata.spec_node_id == "n1")  # count
    assert gate.closure.phase == NodePhase.SUCCEEDED


def test_signal_set_before_the_gate_is_reached(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "late", x=1)
    set_at = time.time()
    set_signal(backend, ident, "late", 21)  # n0 (a task) still runs: the gate was not reached
    done = backend.wait(ident)
    assert done.closure.phase == WorkflowPhase.SUCCEEDED, done.closure.error
    assert backend.outputs(ident) == {"o0": 42}
    gate = backend.nodes(ident)["n1"]
    assert gate.closure.created_at.ToNanoseconds() > set_at * 1e9
    [signal] = list_signals(backend, ident).signals
    assert signal.value.scalar.primitive.integer == 21


def test_gate_timeout_fails_the_node(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "hurry", x=1)
    done = backend.wait(ident)
    assert done.closure.phase == WorkflowPhase.FAILED
    assert done.closure.error.code == "TimeoutExpired"
    assert "quick" in done.closure.error.message
    assert backend.nodes(ident)["n1"].closure.phase == NodePhase.FAILED
    assert backend.executor.signals.waiting() == 0


def test_terminate_while_waiting(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "approval", x=2)
    waiting_for(backend, ident, "ok")
    assert backend.executor.signals.waiting() == 1
    backend.stub.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=ident, cause="no"), timeout=30)
    done = backend.wait(ident, 30)
    assert done.closure.phase == WorkflowPhase.ABORTED
    assert backend.nodes(ident)["n1"].closure.phase == NodePhase.ABORTED
    assert backend.executor.signals.waiting() == 0
    assert backend.executor.running() == []


def admin_sort(key: str, direction: int) -> common_pb2.Sort:
    return common_pb2.Sort(key=key, direction=direction)  # type: ignore[arg-type]


def test_get_or_create_signal(backend: Backend, package: Package) -> None:
    ident = backend.launch(package, "hurry", x=1)  # its gate is `quick`; `extra` is created here
    boolean = types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
    request = signal_pb2.SignalGetOrCreateRequest(id=sig_id(ident, "extra"), type=boolean)
    created = backend.signals.GetOrCreateSignal(request, timeout=10)
    assert created.id == sig_id(ident, "extra") and created.type == boolean and not created.HasField("value")
    set_signal(backend, ident, "extra", True)
    again = backend.signals.GetOrCreateSignal(request, timeout=10)
    assert again.value.scalar.primitive.boolean is True
    assert "extra" in {s.id.signal_id for s in list_signals(backend, ident).signals}
    with pytest.raises(grpc.RpcError) as err:
        backend.signals.GetOrCreateSignal(
            signal_pb2.SignalGetOrCreateRequest(id=sig_id(ident, "typeless")), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    unknown = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="nosuchexec")
    with pytest.raises(grpc.RpcError) as err:
        backend.signals.GetOrCreateSignal(
            signal_pb2.SignalGetOrCreateRequest(id=sig_id(unknown, "x"), type=boolean), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    backend.wait(ident)
