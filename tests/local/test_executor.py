"""The DAG engine (flyte_ls.local.executor) on workflows compiled from real `pyflyte package` output, every
task run through flytekit's entrypoints; outputs compared with flytekit's own local run of them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest
from flyteidl.admin import execution_pb2 as admin_execution_pb2
from flyteidl.admin import launch_plan_pb2, node_execution_pb2, task_execution_pb2, task_pb2, workflow_pb2
from flyteidl.core import compiler_pb2, condition_pb2, execution_pb2, identifier_pb2, literals_pb2, types_pb2
from flyteidl.service import admin_pb2_grpc
from google.protobuf.message import Message

from flyte_ls.local.admin import AdminServicer
from flyte_ls.local.compiler import compile_workflow
from flyte_ls.local.executor import (
    LocalExecutor,
    MemoryObserver,
    RunConfig,
    RunOutcome,
    WorkflowRun,
    create_executor,
    unique_node_id,
)
from flyte_ls.local.executor.values import BranchEvaluationError, evaluate, resolve_bindings
from flyte_ls.local.runner import ExecutionKey
from flyte_ls.local.store import Store

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv" / "bin" / "python")
IMAGE = "ghcr.io/flyteorg/flytekit:py3.11-1.16.31"  # only written into the package, never pulled
EXECUTION = ExecutionKey("flytesnacks", "development", "exec1")
MODULE = "exec_pkg.flows"
NodePhase = execution_pb2.NodeExecution
TaskPhase = execution_pb2.TaskExecution
WorkflowPhase = execution_pb2.WorkflowExecution

FLOWS = """
import os
import time
from datetime import timedelta

from typing import Optional

from flytekit import WorkflowFailurePolicy, conditional, dynamic, map_task, sleep, task, workflow
from flytekit.exceptions.user import FlyteRecoverableException
from flytekit.types.error import FlyteError


@task
def double(x: int) -> int:
    return x * 2


@task
def describe(a: int, b: int, label: str) -> str:
    return f"{label}:{a + b}"


@task
def total(xs: list[int], named: dict[str, int]) -> int:
    return sum(xs) + sum(named.values())


@workflow
def chain(x: int = 3, label: str = "sum") -> tuple[str, int]:
    a = double(x=x)
    b = double(x=a)
    return describe(a=a, b=b, label=label), total(xs=[a, b, x], named={"a": a, "b": b})


@task(retries=2)
def flaky(marker: str) -> str:
    attempt = int(os.environ["FLYTE_ATTEMPT_NUMBER"])
    if attempt < 2:
        raise FlyteRecoverableException(f"not yet {attempt}")
    return f"{marker}{attempt}"


@task(retries=1)
def always_flaky(x: int) -> int:
    if x > 0:
        raise FlyteRecoverableException(f"never {x}")
    return x


@task(retries=2)
def broken(x: int) -> int:
    if x > 0:
        raise ValueError(f"bad {x}")
    return x


@task
def sleepy(s: float) -> float:
    time.sleep(s)
    return s


@task
def nap(x: int) -> int:
    time.sleep(1.0)
    return x


@workflow
def retrying(marker: str = "m") -> str:
    return flaky(marker=marker)


@workflow
def exhausted(x: int = 1) -> int:
    return always_flaky(x=x)


@workflow
def failing(x: int = 1) -> int:
    sleepy(s=60.0)
    return double(x=broken(x=x))


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def keep_going(x: int = 1) -> int:
    double(x=nap(x=x))
    return double(x=broken(x=x))


@workflow
def sign(x: int) -> str:
    return (
        conditional("sign")
        .if_(x > 0)
        .then(describe(a=x, b=0, label="pos"))
        .elif_(x == 0)
        .then(describe(a=0, b=0, label="zero"))
        .else_()
        .fail("negative input")
    )


@workflow
def child(x: int) -> int:
    return double(x=double(x=x))


@workflow
def parent(x: int = 2) -> tuple[int, str]:
    c = child(x=x)
    return c, sign(x=c)


@workflow
def slow(s: float = 60.0) -> float:
    return sleepy(s=sleepy(s=s))


@task
def odd_only(x: int) -> int:
    if x % 2 == 0:
        raise ValueError(f"even {x}")
    return x


@workflow
def mapped(xs: list[int] = [1, 2, 3]) -> list[int]:
    return map_task(double)(x=xs)


@workflow
def partly(xs: list[int] = [1, 2, 3]) -> list[Optional[int]]:
    return map_task(odd_only, min_success_ratio=0.5)(x=xs)


@workflow
def mostly(xs: list[int] = [1, 2, 4]) -> list[Optional[int]]:
    return map_task(odd_only, min_success_ratio=0.5)(x=xs)


@dynamic
def fan(n: int) -> list[int]:
    return [double(x=i) for i in range(n)]


@workflow
def dyn(n: int = 3) -> list[int]:
    return fan(n=n)


@task
def cleanup(marker: str, x: int, err: Optional[FlyteError] = None) -> None:
    with open(marker, "w") as f:
        f.write(f"{err.failed_node_id}|{err.message}" if err else "no error")


@workflow(on_failure=cleanup)
def guarded(marker: str, x: int = 1) -> int:
    return broken(x=x)


@workflow
def napping(x: int = 1) -> int:
    a = double(x=x)
    s = sleep(timedelta(seconds=2))
    b = double(x=a)
    a >> s
    s >> b
    return b


@task(timeout=timedelta(seconds=1))
def too_slow(s: float) -> float:
    time.sleep(s)
    return s


@workflow
def timing_out(s: float = 30.0) -> float:
    return too_slow(s=s)


@task(enable_deck=True)
def decked(x: int) -> int:
    import flytekit

    flytekit.Deck("numbers", f"<p>x is {x}</p>")
    return x


@workflow
def with_deck(x: int = 4) -> int:
    return decked(x=x)
"""


def _hydrate(message: Message) -> None:
    """Fill project/domain/version into every identifier, as `pyflyte register` does."""
    if isinstance(message, identifier_pb2.Identifier):
        message.project = message.project or EXECUTION.project
        message.domain = message.domain or EXECUTION.domain
        message.version = message.version or "v1"
        return
    for fd, value in message.ListFields():
        if fd.message_type is None:
            continue
        if fd.message_type.GetOptions().map_entry:
            if fd.message_type.fields_by_name["value"].message_type is not None:
                for item in value.values():
                    _hydrate(item)
        elif fd.is_repeated:
            for item in value:
                _hydrate(item)
        else:
            _hydrate(value)


@dataclass(repr=False)
class Package:
    source: Path
    tarball: Path
    tasks: dict[tuple[str, str], task_pb2.TaskSpec]
    workflows: dict[str, workflow_pb2.WorkflowSpec]
    launch_plans: list[launch_plan_pb2.LaunchPlan]

    def compile(self, name: str) -> compiler_pb2.CompiledWorkflowClosure:
        spec = self.workflows[f"{MODULE}.{name}"]

        def get_task(ident: identifier_pb2.Identifier) -> object:
            found = self.tasks.get((ident.name, ident.version))
            return found.template if found else None

        return compile_workflow(spec.template, spec.sub_workflows, get_task, lambda _: None)


@pytest.fixture(scope="module")
def pkg(tmp_path_factory: pytest.TempPathFactory) -> Package:
    from executor_backend import build_package  # not at the top: executor_backend imports this module

    return build_package(tmp_path_factory.mktemp("exec"), "exec_pkg", FLOWS)


def _lit(value: object) -> literals_pb2.Literal:
    p = literals_pb2.Primitive()
    if isinstance(value, bool):
        p.boolean = value
    elif isinstance(value, int):
        p.integer = value
    elif isinstance(value, float):
        p.float_value = value
    else:
        p.string_value = str(value)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=p))


def _py(literal: literals_pb2.Literal) -> object:
    if literal.HasField("collection"):
        return [_py(item) for item in literal.collection.literals]
    if literal.HasField("map"):
        return {k: _py(v) for k, v in literal.map.literals.items()}
    p = literal.scalar.primitive
    which = p.WhichOneof("value")
    return getattr(p, which) if which else None


def _run(
    pkg: Package, root: Path, name: str, inputs: dict[str, object], **config: object
) -> tuple[RunOutcome, MemoryObserver]:
    observer = MemoryObserver()
    run = WorkflowRun(
        pkg.compile(name),
        literals_pb2.LiteralMap(literals={k: _lit(v) for k, v in inputs.items()}),
        RunConfig(EXECUTION, root / "run", PYTHON, fast_distribution=str(pkg.tarball), **config),  # type: ignore[arg-type]
        observer,
    )
    return asyncio.run(run.run()), observer


def _local(pkg: Package, call: str) -> object:
    """flytekit's own in-process local execution of the same workflow (in a subprocess)."""
    proc = subprocess.run(
        [PYTHON, "-c", f"import json\nfrom {MODULE} import *\nprint(json.dumps({call}))"],
        cwd=pkg.source, capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _outputs(outcome: RunOutcome) -> list[object]:
    assert outcome.outputs is not None
    return [_py(outcome.outputs.literals[k]) for k in sorted(outcome.outputs.literals)]


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_chain_matches_flytekit_local_run(pkg: Package, tmp_path: Path) -> None:
    outcome, observer = _run(pkg, tmp_path, "chain", {"x": 3, "label": "sum"})
    assert outcome.phase == WorkflowPhase.SUCCEEDED, outcome.error
    assert _outputs(outcome) == _local(pkg, "list(chain(x=3, label='sum'))") == ["sum:18", 39]
    # propeller's layout
    end = tmp_path / "run" / "end-node" / "data" / "0" / "outputs.pb"
    assert outcome.outputs_uri == str(end)
    assert literals_pb2.LiteralMap.FromString(end.read_bytes()) == outcome.outputs
    assert (tmp_path / "run" / "n0" / "data" / "inputs.pb").is_file()
    assert (tmp_path / "run" / "n0" / "data" / "0" / "outputs.pb").is_file()
    assert set(observer.nodes) == {"start-node", "n0", "n1", "n2", "n3", "end-node"}
    assert all(phase == NodePhase.SUCCEEDED for phase in observer.nodes.values())
    assert (tmp_path / "run" / "start-node" / "data" / "0" / "outputs.pb").is_file()
    assert all(phase == TaskPhase.SUCCEEDED for phase in observer.attempts.values())
    log = next(e.log for e in observer.events if e.kind == "attempt_started" and e.node == "n0")
    assert log is not None and log.is_file()


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_recoverable_failures_are_retried(pkg: Package, tmp_path: Path) -> None:
    outcome, observer = _run(pkg, tmp_path, "retrying", {"marker": "m"})
    assert outcome.phase == WorkflowPhase.SUCCEEDED, outcome.error
    assert _outputs(outcome) == ["m2"]
    assert [observer.attempts[("n0", i)] for i in range(3)] == [TaskPhase.FAILED] * 2 + [TaskPhase.SUCCEEDED]
    assert (tmp_path / "run" / "n0" / "data" / "2" / "outputs.pb").is_file()

    outcome, observer = _run(pkg, tmp_path / "b", "exhausted", {"x": 1})
    assert outcome.phase == WorkflowPhase.FAILED
    assert outcome.error is not None
    assert outcome.error.code.startswith("RetriesExhausted|")
    assert outcome.error.message.startswith("[2/2] currentAttempt done. Last Error: USER::")
    assert "never 1" in outcome.error.message
    assert sorted(observer.attempts) == [("n0", 0), ("n0", 1)]


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_non_recoverable_failure_fails_immediately_and_aborts_siblings(pkg: Package, tmp_path: Path) -> None:
    start = time.monotonic()
    outcome, observer = _run(pkg, tmp_path, "failing", {"x": 1})
    assert time.monotonic() - start < 50  # the 60 s sibling was killed
    assert outcome.phase == WorkflowPhase.FAILED
    assert outcome.error is not None and "bad 1" in outcome.error.message
    assert outcome.error.kind == execution_pb2.ExecutionError.USER
    nodes = {e.node: e for e in observer.events if e.kind == "node_finished" and e.node != "start-node"}
    failed = [n for n, e in nodes.items() if e.phase == NodePhase.FAILED]
    aborted = [n for n, e in nodes.items() if e.phase == NodePhase.ABORTED]
    assert len(failed) == 1 and len(aborted) == 1
    assert [k for k in observer.attempts if k[0] == failed[0]] == [(failed[0], 0)]  # retries=2, not retried
    assert observer.attempts[(aborted[0], 0)] == TaskPhase.ABORTED
    assert len(nodes) == 2  # the consumer of the failed node never started


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_fail_after_executable_nodes_complete(pkg: Package, tmp_path: Path) -> None:
    outcome, observer = _run(pkg, tmp_path, "keep_going", {"x": 1})
    assert outcome.phase == WorkflowPhase.FAILED
    assert outcome.error is not None and "bad 1" in outcome.error.message
    phases = sorted(v for k, v in observer.nodes.items() if k != "start-node")
    # sleepy -> double both succeed after broken failed; the consumer of broken never starts
    assert phases == sorted([NodePhase.SUCCEEDED, NodePhase.SUCCEEDED, NodePhase.FAILED, NodePhase.SKIPPED])


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_subworkflow_with_a_branch_matches_flytekit(pkg: Package, tmp_path: Path) -> None:
    outcome, observer = _run(pkg, tmp_path, "parent", {"x": 2})
    assert outcome.phase == WorkflowPhase.SUCCEEDED, outcome.error
    assert _outputs(outcome) == _local(pkg, "list(parent(x=2))") == [8, "pos:8"]
    # children carry propeller's ids and live under the parent's output dir
    children = {e.node: e.parent for e in observer.events if e.kind == "node_started" and e.parent}
    assert children["n0-0-n0"] == "n0" and children["n0-0-n1"] == "n0"
    assert (tmp_path / "run" / "n0" / "data" / "0" / "n0-0-n0" / "0" / "outputs.pb").is_file()
    # the `sign` subworkflow n1 holds the branch n1-0-n0: the `if` child ran, the `elif` child was skipped
    branch = {e.node: e.kind for e in observer.events if e.parent == "n1-0-n0" and e.kind != "node_finished"}
    assert branch == {
        unique_node_id("n1-0-n0", "0", "n0-n0"): "node_started",
        unique_node_id("n1-0-n0", "0", "n0-n1"): "node_skipped",
    }, branch

    outcome, _ = _run(pkg, tmp_path / "zero", "sign", {"x": 0})
    assert _outputs(outcome) == _local(pkg, "[sign(x=0)]") == ["zero:0"]
    outcome, _ = _run(pkg, tmp_path / "neg", "sign", {"x": -1})
    assert outcome.phase == WorkflowPhase.FAILED
    assert outcome.error is not None and "negative input" in outcome.error.message


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_terminate_kills_the_attempt_and_aborts_running_nodes(pkg: Package, tmp_path: Path) -> None:
    observer = MemoryObserver()
    run = WorkflowRun(
        pkg.compile("slow"),
        literals_pb2.LiteralMap(literals={"s": _lit(60.0)}),
        RunConfig(EXECUTION, tmp_path / "run", PYTHON, fast_distribution=str(pkg.tarball)),
        observer,
    )

    async def scenario() -> RunOutcome:
        task = asyncio.ensure_future(run.run())
        while ("n0", 0) not in observer.attempts:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        run.terminate("stop it")
        return await task

    start = time.monotonic()
    outcome = asyncio.run(scenario())
    assert time.monotonic() - start < 40
    assert outcome.phase == WorkflowPhase.ABORTED
    assert observer.nodes == {"start-node": NodePhase.SUCCEEDED, "n0": NodePhase.ABORTED}
    assert observer.attempts == {("n0", 0): TaskPhase.ABORTED}


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_timeout_fails_the_attempt(pkg: Package, tmp_path: Path) -> None:
    start = time.monotonic()
    outcome, observer = _run(pkg, tmp_path, "timing_out", {"s": 30.0})
    assert time.monotonic() - start < 25
    assert outcome.phase == WorkflowPhase.FAILED
    assert outcome.error is not None and "TimeoutExpired" in outcome.error.code
    assert observer.attempts == {("n0", 0): TaskPhase.FAILED}


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_max_parallelism_one_still_completes(pkg: Package, tmp_path: Path) -> None:
    outcome, _ = _run(pkg, tmp_path, "chain", {"x": 1, "label": "p"}, max_parallelism=1)
    assert outcome.phase == WorkflowPhase.SUCCEEDED, outcome.error
    assert _outputs(outcome) == ["p:6", 13]


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_map_tasks_match_flytekit(pkg: Package, tmp_path: Path) -> None:
    outcome, observer = _run(pkg, tmp_path, "mapped", {})
    assert outcome.phase == WorkflowPhase.FAILED  # no default inputs in a bare closure: xs is unbound
    xs = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[_lit(1), _lit(2), _lit(3)]))
    for name, expected in (("mapped", [[2, 4, 6]]), ("partly", [[1, None, 3]])):
        run = WorkflowRun(
            pkg.compile(name),
            literals_pb2.LiteralMap(literals={"xs": xs}),
            RunConfig(EXECUTION, tmp_path / name, PYTHON, fast_distribution=str(pkg.tarball)),
            observer := MemoryObserver(),
        )
        outcome = asyncio.run(run.run())
        assert outcome.phase == WorkflowPhase.SUCCEEDED, outcome.error
        assert _outputs(outcome) == [_local(pkg, f"{name}(xs=[1, 2, 3])")] == expected
        assert observer.attempts == {("n0", 0): TaskPhase.SUCCEEDED}
        assert (tmp_path / name / "n0" / "data" / "0" / "1" / "0").is_dir()  # <array out>/<index>/<attempt>
    xs.collection.literals[2].scalar.primitive.integer = 4
    run = WorkflowRun(
        pkg.compile("mostly"),
        literals_pb2.LiteralMap(literals={"xs": xs}),
        RunConfig(EXECUTION, tmp_path / "mostly", PYTHON, fast_distribution=str(pkg.tarball)),
        MemoryObserver(),
    )
    outcome = asyncio.run(run.run())
    assert outcome.phase == WorkflowPhase.FAILED
    assert outcome.error is not None and "even 2" in outcome.error.message


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_dynamic_matches_flytekit(pkg: Package, tmp_path: Path) -> None:
    outcome, observer = _run(pkg, tmp_path, "dyn", {"n": 3})
    assert outcome.phase == WorkflowPhase.SUCCEEDED, outcome.error
    assert _outputs(outcome) == [_local(pkg, "dyn(n=3)")] == [[0, 2, 4]]
    assert observer.dynamic["n0"].primary.template.id.name == "dynamic_n0"
    children = {e.node: e.parent for e in observer.events if e.kind == "node_started" and e.parent}
    assert children == dict.fromkeys(
        ("n0-0-start-node", "n0-0-dn0", "n0-0-dn1", "n0-0-dn2", "n0-0-end-node"), "n0"
    )
    assert (tmp_path / "run" / "n0" / "data" / "0" / "futures.pb").is_file()
    assert (tmp_path / "run" / "n0" / "data" / "0" / "n0-0-dn1" / "0" / "outputs.pb").is_file()
    assert observer.nodes["n0"] == NodePhase.SUCCEEDED
    # as propeller: DYNAMIC_RUNNING once the task produced its spec, before the sub-DAG starts
    events = [(e.kind, e.node) for e in observer.events]
    running = events.index(("dynamic_running", "n0"))
    assert events.index(("attempt_finished", "n0")) < running < events.index(("node_started", "n0-0-dn0"))


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_dynamic_with_max_parallelism_one(pkg: Package, tmp_path: Path) -> None:
    """The @dynamic node gives its slot back to its sub-DAG's task nodes (no deadlock)."""
    outcome, _ = _run(pkg, tmp_path, "dyn", {"n": 2}, max_parallelism=1)
    assert outcome.phase == WorkflowPhase.SUCCEEDED, outcome.error
    assert _outputs(outcome) == [[0, 2]]


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_sleep_gate(pkg: Package, tmp_path: Path) -> None:
    outcome, observer = _run(pkg, tmp_path, "napping", {"x": 1})
    assert outcome.phase == WorkflowPhase.SUCCEEDED, outcome.error
    assert _outputs(outcome) == [_local(pkg, "napping(x=1)")] == [4]
    finished = [e.node for e in observer.events if e.kind == "node_finished"]
    assert finished == ["start-node", "n0", "n1", "n2", "end-node"]  # the gate n1 is between the tasks


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_the_deck_of_an_attempt_is_recorded_on_the_node(pkg: Package, tmp_path: Path) -> None:
    outcome, observer = _run(pkg, tmp_path, "with_deck", {"x": 4})
    assert outcome.phase == WorkflowPhase.SUCCEEDED, outcome.error
    [finished] = [e for e in observer.events if e.kind == "node_finished" and e.node == "n0"]
    assert finished.deck == str(tmp_path / "run" / "n0" / "data" / "0" / "deck.html")
    assert "x is 4" in Path(finished.deck).read_text()


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_failure_node_gets_the_error(pkg: Package, tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    outcome, observer = _run(pkg, tmp_path, "guarded", {"marker": str(marker), "x": 1})
    assert outcome.phase == WorkflowPhase.FAILED
    assert outcome.error is not None and "bad 1" in outcome.error.message
    failed_id, message = marker.read_text().split("|", 1)
    assert failed_id == "n0" and "bad 1" in message
    failure_node = pkg.compile("guarded").primary.template.failure_node.id
    assert observer.nodes == {
        "start-node": NodePhase.SUCCEEDED,
        "n0": NodePhase.FAILED,
        failure_node: NodePhase.SUCCEEDED,
    }


@pytest.mark.timeout(10)
def test_unique_ids_and_branch_conditions() -> None:
    assert unique_node_id("n0", "0", "n1") == "n0-0-n1"
    long = unique_node_id("n0-0-n1-0-n2-0-n3", "0", "n4")
    assert long.startswith("f") and len(long) <= 20
    assert long == unique_node_id("n0-0-n1-0-n2-0-n3", "0", "n4")

    ops = condition_pb2.ComparisonExpression
    inputs = literals_pb2.LiteralMap(literals={"x": _lit(3), "f": _lit(1.5), "b": _lit(True)})

    def cmp(op: int, left: str, right: literals_pb2.Primitive) -> condition_pb2.BooleanExpression:
        return condition_pb2.BooleanExpression(
            comparison=ops(
                operator=op,
                left_value=condition_pb2.Operand(var=left),
                right_value=condition_pb2.Operand(primitive=right),
            )
        )

    three = literals_pb2.Primitive(integer=3)
    assert evaluate(cmp(ops.EQ, "x", three), inputs)
    assert not evaluate(cmp(ops.GT, "x", three), inputs)
    assert evaluate(cmp(ops.GTE, "x", three), inputs)
    both = condition_pb2.BooleanExpression(
        conjunction=condition_pb2.ConjunctionExpression(
            operator=condition_pb2.ConjunctionExpression.OR,
            left_expression=cmp(ops.LT, "x", three),
            right_expression=cmp(ops.NEQ, "x", literals_pb2.Primitive(integer=4)),
        )
    )
    assert evaluate(both, inputs)
    with pytest.raises(BranchEvaluationError):
        evaluate(cmp(ops.EQ, "f", three), inputs)  # float vs int
    with pytest.raises(BranchEvaluationError):
        evaluate(cmp(ops.GT, "b", literals_pb2.Primitive(boolean=False)), inputs)

    # bindings: collections, maps, promises with an attribute path
    upstream = {"n0": literals_pb2.LiteralMap(literals={"o0": literals_pb2.Literal(
        collection=literals_pb2.LiteralCollection(literals=[_lit(7), _lit(8)]))})}  # fmt: skip
    binding = literals_pb2.Binding(
        var="y",
        binding=literals_pb2.BindingData(
            promise=types_pb2.OutputReference(
                node_id="n0", var="o0", attr_path=[types_pb2.PromiseAttribute(int_value=1)]
            )
        ),
    )
    assert _py(resolve_bindings([binding], upstream).literals["y"]) == 8


# --- the AdminService's executor (CreateExecution → records), over real gRPC --------------------------


def _register(stub: admin_pb2_grpc.AdminServiceStub, pkg: Package) -> None:
    """What `pyflyte register` sends: the fast-register path substituted into the task args."""
    for spec in pkg.tasks.values():
        registered = task_pb2.TaskSpec()
        registered.CopyFrom(spec)
        args = registered.template.container.args
        for i, arg in enumerate(args):
            args[i] = arg.replace("{{ .remote_package_path }}", str(pkg.tarball))
        stub.CreateTask(task_pb2.TaskCreateRequest(id=registered.template.id, spec=registered), timeout=10)
    for wf in pkg.workflows.values():
        stub.CreateWorkflow(workflow_pb2.WorkflowCreateRequest(id=wf.template.id, spec=wf), timeout=10)
    for lp in pkg.launch_plans:
        stub.CreateLaunchPlan(launch_plan_pb2.LaunchPlanCreateRequest(id=lp.id, spec=lp.spec), timeout=10)


def _wait(stub: admin_pb2_grpc.AdminServiceStub, ident: identifier_pb2.WorkflowExecutionIdentifier,
          limit_s: float = 120) -> admin_execution_pb2.Execution:  # fmt: skip
    deadline = time.monotonic() + limit_s
    while True:
        got = stub.GetExecution(admin_execution_pb2.WorkflowExecutionGetRequest(id=ident), timeout=10)
        if got.closure.phase in (WorkflowPhase.SUCCEEDED, WorkflowPhase.FAILED, WorkflowPhase.ABORTED):
            return got
        assert time.monotonic() < deadline, got.closure
        time.sleep(0.1)


def _nodes(
    stub: admin_pb2_grpc.AdminServiceStub, ident: identifier_pb2.WorkflowExecutionIdentifier
) -> dict[str, int]:
    listed = stub.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=ident, limit=100), timeout=10
    )
    return {n.id.node_id: n.closure.phase for n in listed.node_executions}


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_local_executor_runs_create_execution_and_terminate(pkg: Package, tmp_path: Path) -> None:
    store = Store(tmp_path / "state")
    servicer = AdminServicer(store)
    executor = LocalExecutor(servicer.records, PYTHON, log_url=lambda path: f"http://logs/{path.name}")
    servicer.executor = executor
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    admin_pb2_grpc.add_AdminServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = admin_pb2_grpc.AdminServiceStub(channel)
    try:
        _register(stub, pkg)
        lp = next(lp.id for lp in pkg.launch_plans if lp.id.name == f"{MODULE}.chain")
        created = stub.CreateExecution(
            admin_execution_pb2.ExecutionCreateRequest(
                project=EXECUTION.project, domain=EXECUTION.domain, spec=admin_execution_pb2.ExecutionSpec(
                    launch_plan=lp), inputs=literals_pb2.LiteralMap(literals={"x": _lit(3)}),
            ),
            timeout=10,
        )  # fmt: skip
        done = _wait(stub, created.id)
        assert done.closure.phase == WorkflowPhase.SUCCEEDED, done.closure.error
        outputs = stub.GetExecutionData(
            admin_execution_pb2.WorkflowExecutionGetDataRequest(id=created.id), timeout=10
        ).full_outputs
        assert [_py(outputs.literals[k]) for k in sorted(outputs.literals)] == ["sum:18", 39]
        assert _nodes(stub, created.id) == dict.fromkeys(
            ("start-node", "n0", "n1", "n2", "n3", "end-node"), NodePhase.SUCCEEDED
        )
        attempts = stub.ListTaskExecutions(
            task_execution_pb2.TaskExecutionListRequest(
                node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                    node_id="n0", execution_id=created.id
                ),
                limit=10,
            ),
            timeout=10,
        ).task_executions
        assert [a.closure.phase for a in attempts] == [TaskPhase.SUCCEEDED]
        assert attempts[0].closure.logs[0].uri == "http://logs/n0-0.log"

        mapped = next(lp.id for lp in pkg.launch_plans if lp.id.name == f"{MODULE}.mapped")
        created = stub.CreateExecution(
            admin_execution_pb2.ExecutionCreateRequest(
                project=EXECUTION.project, domain=EXECUTION.domain,
                spec=admin_execution_pb2.ExecutionSpec(launch_plan=mapped),
            ),
            timeout=10,
        )  # fmt: skip
        assert _wait(stub, created.id).closure.phase == WorkflowPhase.SUCCEEDED
        node = stub.GetNodeExecution(
            node_execution_pb2.NodeExecutionGetRequest(
                id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=created.id)
            ),
            timeout=10,
        )
        assert node.metadata.is_array

        slow = next(lp.id for lp in pkg.launch_plans if lp.id.name == f"{MODULE}.slow")
        created = stub.CreateExecution(
            admin_execution_pb2.ExecutionCreateRequest(
                project=EXECUTION.project, domain=EXECUTION.domain,
                spec=admin_execution_pb2.ExecutionSpec(launch_plan=slow),
            ),
            timeout=10,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while _nodes(stub, created.id).get("n0") != NodePhase.RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        stub.TerminateExecution(
            admin_execution_pb2.ExecutionTerminateRequest(id=created.id, cause="enough"), timeout=30
        )
        done = _wait(stub, created.id, 30)
        assert done.closure.phase == WorkflowPhase.ABORTED
        assert _nodes(stub, created.id) == {"start-node": NodePhase.SUCCEEDED, "n0": NodePhase.ABORTED}
        assert executor.running() == []
    finally:
        executor.close()
        channel.close()
        server.stop(None).wait()
        store.close()


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_restart_resumes_running_executions_without_rerunning_succeeded_nodes(
    pkg: Package, tmp_path: Path
) -> None:
    store = Store(tmp_path / "state")
    servicer = AdminServicer(store)  # NullExecutor: what the previous backend process left behind
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    admin_pb2_grpc.add_AdminServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = admin_pb2_grpc.AdminServiceStub(channel)
    executor: LocalExecutor | None = None
    try:
        _register(stub, pkg)
        lp = next(lp.id for lp in pkg.launch_plans if lp.id.name == f"{MODULE}.chain")

        def create() -> identifier_pb2.WorkflowExecutionIdentifier:
            return stub.CreateExecution(
                admin_execution_pb2.ExecutionCreateRequest(
                    project=EXECUTION.project, domain=EXECUTION.domain,
                    spec=admin_execution_pb2.ExecutionSpec(launch_plan=lp),
                    inputs=literals_pb2.LiteralMap(literals={"x": _lit(3)}),
                ),
                timeout=10,
            ).id  # fmt: skip

        running, queued, aborting = create(), create(), create()
        records = servicer.records
        # `running` had n0 done (with a value the task would not compute, to prove it is not re-run)
        done = tmp_path / "n0-outputs.pb"
        done.write_bytes(literals_pb2.LiteralMap(literals={"o0": _lit(100)}).SerializeToString())
        records.set_execution_phase(running, WorkflowPhase.RUNNING)
        records.start_node(running, "n0")
        records.finish_node(running, "n0", NodePhase.SUCCEEDED, output_uri=str(done))
        records.set_execution_phase(aborting, WorkflowPhase.ABORTING, abort_cause="stop")

        ctx = SimpleNamespace(
            store=store, admin=servicer, state_dir=tmp_path / "state", python=PYTHON, http_base_url="http://h"
        )
        executor = create_executor(ctx, resume=True)
        servicer.executor = executor
        for ident, expected in ((running, ["sum:300", 603]), (queued, ["sum:18", 39])):
            finished = _wait(stub, ident)
            assert finished.closure.phase == WorkflowPhase.SUCCEEDED, finished.closure.error
            outputs = stub.GetExecutionData(
                admin_execution_pb2.WorkflowExecutionGetDataRequest(id=ident), timeout=10
            ).full_outputs
            assert [_py(outputs.literals[k]) for k in sorted(outputs.literals)] == expected
        attempts = stub.ListTaskExecutions(
            task_execution_pb2.TaskExecutionListRequest(
                node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=running),
                limit=10,
            ),
            timeout=10,
        ).task_executions
        assert list(attempts) == []  # n0 was not run again
        assert _wait(stub, aborting, 10).closure.phase == WorkflowPhase.ABORTED
    finally:
        if executor is not None:
            executor.close()
        channel.close()
        server.stop(None).wait()
        store.close()
