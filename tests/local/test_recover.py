"""Executor fidelity over real gRPC on workflows packaged by real `pyflyte package`, run with flytekit's
entrypoints: RecoverExecution reuses the original's succeeded nodes (a side-effect file proves what ran),
also through flytekit's client; max_parallelism starts a node only when it has a slot; task executions
carry the template's task type; a gate resumed after a restart waits only the rest of its time."""

from __future__ import annotations

import itertools
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from executor_backend import DOMAIN, PROJECT, Backend, NodePhase, WorkflowPhase, build_package, lit
from executor_backend import start as start_backend
from executor_backend import wait_for as wait_until
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from test_executor import PYTHON, Package

from flyte_ls.local.executor import LocalExecutor

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(240)]
TaskPhase = core_execution_pb2.TaskExecution
Mode = execution_pb2.ExecutionMetadata

FLOWS = """
import os
import time
from datetime import timedelta

from flytekit import LaunchPlan, PythonFunctionTask, approve, dynamic, sleep, task, workflow


@task
def step(path: str, name: str, x: int) -> int:
    with open(path, "a") as f:
        f.write(name + "\\n")
    if os.path.exists(f"{path}.{name}.fail"):
        raise ValueError(f"{name} was asked to fail")
    return x + 1


@workflow
def chain(path: str, x: int = 1) -> int:
    a = step(path=path, name="a", x=x)
    b = step(path=path, name="b", x=a)
    return step(path=path, name="c", x=b)


chain_lp = LaunchPlan.get_or_create(chain, name="chain_lp")


@workflow
def outer(path: str) -> int:
    return step(path=path, name="o", x=chain_lp(path=path, x=1))


@workflow
def sub(path: str, x: int) -> int:
    return step(path=path, name="s2", x=step(path=path, name="s1", x=x))


@dynamic
def dyn(path: str, x: int) -> int:
    with open(path, "a") as f:
        f.write("dyn\\n")
    return step(path=path, name="d2", x=step(path=path, name="d1", x=x))


@workflow
def nested(path: str, x: int = 1) -> int:
    return dyn(path=path, x=sub(path=path, x=x))


def nap(s: float) -> float:
    time.sleep(s)
    return s


# a task type of its own (flytekit's plugins set theirs): the task executions must carry it
nap = PythonFunctionTask(task_config=None, task_function=nap, task_type="napping-task")


@workflow
def trio(s: float = 0.6) -> tuple[float, float, float]:
    return nap(s=s), nap(s=s), nap(s=s)


@workflow
def napping(x: int = 1) -> int:
    d = step(path=os.devnull, name="d", x=x)
    z = sleep(timedelta(seconds=6))
    z >> d
    return d


@workflow
def waiting(x: int = 1) -> int:
    return approve(step(path=os.devnull, name="w", x=x), "go", timeout=timedelta(seconds=6))
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return build_package(tmp_path_factory.mktemp("recover_pkg"), "recover_pkg", FLOWS)


def _serve(state_dir: Path, package: Package) -> tuple[Backend, int]:
    backend = start_backend(state_dir, package)
    return backend, backend.port


@pytest.fixture(scope="module")
def served(package: Package, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Backend, int]]:
    backend, port = _serve(tmp_path_factory.mktemp("recover_state"), package)
    yield backend, port
    backend.stop()


@pytest.fixture
def backend(served: tuple[Backend, int]) -> Backend:
    return served[0]


def _recover(
    backend: Backend, original: identifier_pb2.WorkflowExecutionIdentifier
) -> execution_pb2.Execution:
    request = execution_pb2.ExecutionRecoverRequest(id=original)
    ident = backend.stub.RecoverExecution(request, timeout=10).id
    return backend.wait(ident)


def _lines(path: Path) -> list[str]:
    return path.read_text().split()


def _tasks(
    backend: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier, node: str
) -> list[task_execution_pb2.TaskExecution]:
    request = task_execution_pb2.TaskExecutionListRequest(
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=ident), limit=10
    )
    return list(backend.stub.ListTaskExecutions(request, timeout=10).task_executions)


def _seconds(ts: object) -> float:
    return ts.seconds + ts.nanos / 1e9  # type: ignore[attr-defined]


# --- RecoverExecution -------------------------------------------------------------------------------------


def test_recover_reuses_succeeded_nodes_and_chains(
    backend: Backend, package: Package, tmp_path: Path
) -> None:
    path = tmp_path / "ran.txt"
    Path(f"{path}.b.fail").touch()
    first = backend.wait(backend.launch(package, "chain", path=str(path), x=1))
    assert (
        first.closure.phase == WorkflowPhase.FAILED and "b was asked to fail" in first.closure.error.message
    )
    assert _lines(path) == ["a", "b"]

    Path(f"{path}.b.fail").unlink()
    Path(f"{path}.c.fail").touch()
    second = _recover(backend, first.id)
    assert second.spec.metadata.mode == Mode.RECOVERED
    assert second.spec.metadata.reference_execution == first.id
    assert second.closure.phase == WorkflowPhase.FAILED, second.closure.error
    assert _lines(path) == ["a", "b", "b", "c"]  # a was not run again
    nodes = backend.nodes(second.id)
    assert nodes["n0"].closure.phase == NodePhase.RECOVERED
    assert nodes["n1"].closure.phase == NodePhase.SUCCEEDED
    assert _tasks(backend, second.id, "n0") == []  # recovered: no task execution

    Path(f"{path}.c.fail").unlink()
    third = _recover(backend, second.id)  # a recovery of a recovery: n0 was RECOVERED there, n1 SUCCEEDED
    assert third.closure.phase == WorkflowPhase.SUCCEEDED, third.closure.error
    assert backend.outputs(third.id) == {"o0": 4}
    assert _lines(path) == ["a", "b", "b", "c", "c"]
    nodes = backend.nodes(third.id)
    assert [nodes[n].closure.phase for n in ("n0", "n1", "n2")] == [
        NodePhase.RECOVERED,
        NodePhase.RECOVERED,
        NodePhase.SUCCEEDED,
    ]
    data = backend.stub.GetNodeExecutionData(
        node_execution_pb2.NodeExecutionGetDataRequest(
            id=identifier_pb2.NodeExecutionIdentifier(node_id="n1", execution_id=third.id)
        ),
        timeout=10,
    )
    assert data.full_inputs.literals["x"] == lit(2) and data.full_outputs.literals["o0"] == lit(3)
    assert not nodes["n1"].closure.HasField("started_at")  # never RUNNING, as Admin records propeller's event
    metrics = backend.stub.GetExecutionMetrics(
        execution_pb2.WorkflowExecutionGetMetricsRequest(id=third.id, depth=10), timeout=10
    )
    spans = {span.node_id.node_id for span in metrics.span.spans if span.HasField("node_id")}
    assert {"n0", "n1", "n2"} <= spans


def test_recover_nested_subworkflow_and_dynamic_nodes(
    backend: Backend, package: Package, tmp_path: Path
) -> None:
    path = tmp_path / "ran.txt"
    Path(f"{path}.s2.fail").touch()
    first = backend.wait(backend.launch(package, "nested", path=str(path), x=1))
    assert first.closure.phase == WorkflowPhase.FAILED
    assert _lines(path) == ["s1", "s2"]

    Path(f"{path}.s2.fail").unlink()
    Path(f"{path}.d2.fail").touch()
    second = _recover(backend, first.id)
    assert second.closure.phase == WorkflowPhase.FAILED
    assert _lines(path) == ["s1", "s2", "s2", "dyn", "d1", "d2"]  # s1 of the subworkflow was recovered
    sub = backend.nodes(second.id, parent="n0")
    assert sub["n0-0-n0"].closure.phase == NodePhase.RECOVERED
    assert sub["n0-0-n1"].closure.phase == NodePhase.SUCCEEDED
    assert backend.nodes(second.id)["n0"].closure.phase == NodePhase.SUCCEEDED
    (dyn_attempt,) = _tasks(backend, second.id, "n1")
    assert dyn_attempt.closure.task_type == "python-task" and dyn_attempt.closure.event_version == 1

    Path(f"{path}.d2.fail").unlink()
    third = _recover(backend, second.id)
    assert third.closure.phase == WorkflowPhase.SUCCEEDED, third.closure.error
    assert backend.outputs(third.id) == {"o0": 5}
    # the subworkflow node recovered whole; the dynamic task not run again (its DynamicJobSpec reused), d1
    # recovered, d2 run
    assert _lines(path) == ["s1", "s2", "s2", "dyn", "d1", "d2", "d2"]
    top = backend.nodes(third.id)
    assert top["n0"].closure.phase == NodePhase.RECOVERED and backend.nodes(third.id, parent="n0") == {}
    assert top["n1"].closure.phase == NodePhase.SUCCEEDED and _tasks(backend, third.id, "n1") == []
    children = backend.nodes(third.id, parent="n1")
    assert children["n1-0-dn0"].closure.phase == NodePhase.RECOVERED
    assert children["n1-0-dn1"].closure.phase == NodePhase.SUCCEEDED


def test_recover_a_launch_plan_node_recovers_its_child(
    backend: Backend, package: Package, tmp_path: Path
) -> None:
    path = tmp_path / "ran.txt"
    Path(f"{path}.c.fail").touch()
    first = backend.wait(backend.launch(package, "outer", path=str(path)))
    assert first.closure.phase == WorkflowPhase.FAILED
    first_child = backend.nodes(first.id)["n0"].closure.workflow_node_metadata.executionId
    Path(f"{path}.c.fail").unlink()

    second = _recover(backend, first.id)
    assert second.closure.phase == WorkflowPhase.SUCCEEDED, second.closure.error
    assert backend.outputs(second.id) == {"o0": 5}
    assert _lines(path) == ["a", "b", "c", "c", "o"]  # the child's a and b were recovered
    child_id = backend.nodes(second.id)["n0"].closure.workflow_node_metadata.executionId
    child = backend.get(child_id)
    assert (
        child.spec.metadata.mode == Mode.RECOVERED and child.spec.metadata.reference_execution == first_child
    )
    assert child.spec.metadata.parent_node_execution.execution_id == second.id
    phases = [n.closure.phase for _, n in sorted(backend.nodes(child_id).items()) if n.id.node_id[0] == "n"]
    assert phases == [NodePhase.RECOVERED, NodePhase.RECOVERED, NodePhase.SUCCEEDED]

    third = _recover(backend, second.id)  # the launch-plan node succeeded: recovered with its child's link
    assert third.closure.phase == WorkflowPhase.SUCCEEDED
    node = backend.nodes(third.id)["n0"]
    assert node.closure.phase == NodePhase.RECOVERED
    assert node.closure.workflow_node_metadata.executionId == child_id
    assert _lines(path) == ["a", "b", "c", "c", "o"]


def test_pyflyte_execution_recover(served: tuple[Backend, int], package: Package, tmp_path: Path) -> None:
    """FlyteRemote has no `recover` in flytekit 1.16.31: flytekit recovers with `pyflyte execution recover`
    (its client's `recover_execution`); FlyteRemote then follows the recovered execution and its nodes."""
    from datetime import timedelta

    from flytekit.configuration import Config
    from flytekit.remote import FlyteRemote

    backend, port = served
    path = tmp_path / "ran.txt"
    Path(f"{path}.c.fail").touch()
    first = backend.wait(backend.launch(package, "chain", path=str(path), x=10))
    assert first.closure.phase == WorkflowPhase.FAILED
    Path(f"{path}.c.fail").unlink()

    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: dns:///127.0.0.1:{port}\n  insecure: true\n")
    proc = subprocess.run(
        [str(Path(PYTHON).with_name("pyflyte")), "--config", str(config), "execution", "-p", PROJECT,
         "-d", DOMAIN, "--execution-id", first.id.name, "recover"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"Launched execution: .*?(a[a-z0-9]{19})\b", proc.stdout)
    assert found is not None, proc.stdout

    remote = FlyteRemote(
        Config.for_endpoint(f"127.0.0.1:{port}", insecure=True),
        default_project=PROJECT,
        default_domain=DOMAIN,
    )
    execution = remote.wait(remote.fetch_execution(name=found.group(1)), timeout=timedelta(seconds=120))
    assert execution.closure.phase == WorkflowPhase.SUCCEEDED
    assert execution.outputs["o0"] == 13
    execution = remote.sync_execution(execution, sync_nodes=True)
    phases = {k: v.closure.phase for k, v in execution.node_executions.items()}
    assert phases["n0"] == phases["n1"] == NodePhase.RECOVERED and phases["n2"] == NodePhase.SUCCEEDED
    assert _lines(path) == ["a", "b", "c", "c"]


# --- max_parallelism, task type ---------------------------------------------------------------------------


def test_max_parallelism_starts_a_node_only_with_a_slot(backend: Backend, package: Package) -> None:
    lp = next(lp.id for lp in package.launch_plans if lp.id.name.endswith(".flows.trio"))
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        spec=execution_pb2.ExecutionSpec(launch_plan=lp, max_parallelism=1),
        inputs=literals_pb2.LiteralMap(literals={"s": lit(0.6)}),
    )
    ident = backend.stub.CreateExecution(request, timeout=10).id
    assert backend.wait(ident).closure.phase == WorkflowPhase.SUCCEEDED
    nodes = backend.nodes(ident)
    runs = []
    for node_id in ("n0", "n1", "n2"):
        (attempt,) = _tasks(backend, ident, node_id)
        assert attempt.closure.task_type == "napping-task"  # the template's, not a constant
        begin = _seconds(attempt.closure.started_at)
        runs.append((begin, begin + attempt.closure.duration.ToTimedelta().total_seconds(), nodes[node_id]))
    runs.sort(key=lambda run: run[0])
    for (_, end, _), (start, _, node) in itertools.pairwise(runs):
        # one at a time: neither the node nor its task execution started before the previous one ended
        assert start >= end - 0.05
        assert _seconds(node.closure.started_at) >= end - 0.05
    durations = [end - start for start, end, _ in runs]
    assert max(durations) < min(durations) + 1.2, durations  # one nap each, not nap + the wait for a slot


# --- gates resumed after a restart ------------------------------------------------------------------------


_DEAD: list[LocalExecutor] = []  # "killed" executors: kept, so that their stopped runs are never collected


def _kill_and_resume(backend: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier) -> float:
    """What `kill -9` leaves behind (records as they were, the run gone) and a new executor resuming it."""
    dead = backend.executor
    dead._loop.call_soon_threadsafe(dead._loop.stop)
    dead._thread.join(timeout=10)
    _DEAD.append(dead)
    fresh = LocalExecutor(backend.admin.records, PYTHON)
    backend.executor = backend.admin.executor = fresh
    resumed_at = time.time()
    fresh.submit(ident, resume=True)
    return resumed_at


def _gate_running(backend: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier, node: str) -> float:
    def running() -> bool:
        found = backend.nodes(ident).get(node)
        return found is not None and found.closure.phase == NodePhase.RUNNING

    wait_until(running, 60, f"gate {node} running")
    return _seconds(backend.nodes(ident)[node].closure.started_at)


@pytest.mark.parametrize("workflow", ["napping", "waiting"])
def test_a_resumed_gate_waits_only_the_rest(package: Package, tmp_path: Path, workflow: str) -> None:
    backend, _ = _serve(tmp_path / "state", package)
    try:
        ident = backend.launch(package, workflow)
        gate = "n1"  # after the task node n0 in both
        started = _gate_running(backend, ident, gate)
        time.sleep(max(0.0, started + 3 - time.time()))
        resumed_at = _kill_and_resume(backend, ident)
        done = backend.wait(ident)
        node = backend.nodes(ident)[gate]
        ended = _seconds(node.closure.updated_at)
        assert _seconds(node.closure.started_at) == pytest.approx(started, abs=0.01)  # its wait began then
        # 6 s from the gate's first start, not 6 s from the restart (which came 3 s later)
        assert started + 5.8 <= ended < resumed_at + 5, (started, resumed_at, ended)
        if workflow == "napping":
            assert done.closure.phase == WorkflowPhase.SUCCEEDED, done.closure.error
            assert node.closure.phase == NodePhase.SUCCEEDED
        else:
            assert done.closure.phase == WorkflowPhase.FAILED
            assert node.closure.phase == NodePhase.FAILED
            assert node.closure.error.code == "TimeoutExpired"
    finally:
        backend.stop()


def test_flytekit_syncs_recovered_nested_nodes(
    served: tuple[Backend, int], package: Package, tmp_path: Path
) -> None:
    from flytekit.configuration import Config
    from flytekit.remote import FlyteRemote

    backend, port = served
    path = tmp_path / "ran.txt"
    Path(f"{path}.d2.fail").touch()
    first = backend.wait(backend.launch(package, "nested", path=str(path), x=1))
    assert first.closure.phase == WorkflowPhase.FAILED
    Path(f"{path}.d2.fail").unlink()
    second = _recover(backend, first.id)
    assert second.closure.phase == WorkflowPhase.SUCCEEDED

    remote = FlyteRemote(
        Config.for_endpoint(f"127.0.0.1:{port}", insecure=True),
        default_project=PROJECT,
        default_domain=DOMAIN,
    )
    execution = remote.sync_execution(remote.fetch_execution(name=second.id.name), sync_nodes=True)
    assert execution.outputs["o0"] == 5
    nodes = execution.node_executions
    # flytekit's FlyteNodeExecution.is_done leaves RECOVERED out (as against Flyte), so its `outputs` refuse
    # a recovered node: the phases are what a client sees
    assert nodes["n0"].closure.phase == NodePhase.RECOVERED
    assert nodes["n1"].closure.phase == NodePhase.SUCCEEDED and nodes["n1"].outputs["o0"] == 5
    children = nodes["n1"].subworkflow_node_executions
    assert children["n1-0-dn0"].closure.phase == NodePhase.RECOVERED
    assert children["n1-0-dn1"].closure.phase == NodePhase.SUCCEEDED
