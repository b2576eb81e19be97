"""flyte_ls.remote.remote_execute (ExecuteMixin) against a real `flyte-ls local start` backend, with the
workflows of tests/remote/data/execflows registered by the real `pyflyte register`. Following executions
(node trees, task executions, node data, poll intervals, server-side RPC counts): test_remote_sync.py."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, types_pb2

from flyte_ls.remote.config import Config
from flyte_ls.remote.entities import FlyteWorkflowExecution
from flyte_ls.remote.errors import FlyteEntityNotExistException, FlyteTimeout
from flyte_ls.remote.identifiers import Identifier, ResourceType
from flyte_ls.remote.literals_types import LiteralConversionError
from flyte_ls.remote.remote import AsyncFlyteRemote, FlyteRemote
from flyte_ls.remote.remote_execute import Options
from flyte_ls.remote.transport import Kind

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import Backend, register_copy, start_backend

pytestmark = pytest.mark.flytekit
PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
DATA = Path(__file__).parent / "data"
WF = core_execution_pb2.WorkflowExecution
NODE = core_execution_pb2.NodeExecution


class Remote(AsyncFlyteRemote):
    """The real AsyncFlyteRemote, counting the RPCs it sends."""

    calls: list[str]

    async def _call(self, rpc: str, request: Any, *, kind: Kind, timeout: float | None = None) -> Any:
        self.calls.append(rpc)
        return await super()._call(rpc, request, kind=kind, timeout=timeout)


def make_remote(backend: Backend) -> Remote:
    r = Remote(Config.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN)
    r.calls = []
    return r


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    root = tmp_path_factory.mktemp("execute")
    b = start_backend(root / "state")
    try:
        register_copy(b, DATA / "execflows", root / "proj", PROJECT, DOMAIN, VERSION)
        yield b
    finally:
        b.stop()


@pytest.fixture
async def remote(backend: Backend) -> AsyncIterator[Remote]:
    r = make_remote(backend)
    yield r
    await r.aclose()


def wf(name: str) -> Identifier:
    return Identifier(ResourceType.WORKFLOW, PROJECT, DOMAIN, f"execflows.flows.{name}", VERSION)


def outputs(synced: FlyteWorkflowExecution) -> dict[str, Any]:
    return dict(synced.outputs or {})


@dataclass
class Point:
    x: int
    y: float


@pytest.mark.timeout(180)
async def test_execute_a_task_and_wait_polls_get_execution_only(remote: Remote) -> None:
    task = Identifier(ResourceType.TASK, PROJECT, DOMAIN, "execflows.flows.double", None)  # latest
    started = await remote.execute(task, {"x": 21}, execution_name_prefix="tsk")
    assert started.id.name.startswith("tsk-") and len(started.id.name) == len("tsk-") + 19
    remote.calls.clear()
    done = await remote.wait(started.id, timeout=150, poll_interval=1)
    assert done.closure.phase == WF.SUCCEEDED
    assert set(remote.calls) == {"GetExecution"}
    synced = await remote.sync_execution(done)
    assert outputs(synced) == {"o0": 42}


@pytest.mark.timeout(180)
async def test_execute_a_launch_plan_with_its_default_and_a_workflow_with_typed_inputs(
    remote: Remote,
) -> None:
    lp = await remote.execute("lp:::execflows.flows.double_lp:", wait=True, timeout=150)  # active/latest
    assert lp.closure.phase == WF.SUCCEEDED
    assert outputs(await remote.sync_execution(lp)) == {"o0": 14}  # the launch plan's default x=7

    inputs = {"n": 3, "ratio": 2, "name": "a", "flag": True, "xs": [1, 2, 3], "p": Point(1, 2.5)}
    done = await remote.execute(wf("typed_wf"), inputs, wait=True, timeout=150)
    assert done.closure.phase == WF.SUCCEEDED
    assert outputs(await remote.sync_execution(done)) == {"o0": "3|2.0|a|True|6|3.5|None"}
    done = await remote.execute(wf("typed_wf"), {**inputs, "p": {"x": 0, "y": 1.0}, "maybe": 9}, wait=True)
    assert outputs(await remote.sync_execution(done)) == {"o0": "3|2.0|a|True|6|1.0|9"}


@pytest.mark.timeout(180)
async def test_fetched_entities_execute_without_fetching_again(remote: Remote) -> None:
    lp = await remote.fetch_launch_plan(PROJECT, DOMAIN, "execflows.flows.double_lp", VERSION)
    task = await remote.fetch_task(PROJECT, DOMAIN, "execflows.flows.double", VERSION)
    remote.calls.clear()
    from_lp = await remote.execute(lp, {"x": 2})
    from_task = await remote.execute(task, {"x": 3})
    assert remote.calls == ["CreateExecution", "GetExecution"] * 2
    assert from_lp.launch_plan_id.name == "execflows.flows.double_lp"
    done = [await remote.wait(e, timeout=150, poll_interval=1) for e in (from_lp, from_task)]
    assert [outputs(await remote.sync_execution(d)) for d in done] == [{"o0": 4}, {"o0": 6}]


@pytest.mark.timeout(240)
async def test_relaunch_execution_runs_it_again_with_the_same_inputs(remote: Remote) -> None:
    task = Identifier(ResourceType.TASK, PROJECT, DOMAIN, "execflows.flows.double", VERSION)
    first = await remote.execute(task, {"x": 5}, wait=True, timeout=150)
    assert first.closure.phase == WF.SUCCEEDED
    remote.calls.clear()
    again = await remote.relaunch_execution(first.id, name="relaunched-double", overwrite_cache=True)
    assert remote.calls == ["RelaunchExecution", "GetExecution"]
    assert again.id.name == "relaunched-double" and again.id.project == PROJECT
    assert again.spec.overwrite_cache is True
    by_name = await remote.relaunch_execution(f"ex:{PROJECT}:{DOMAIN}:{first.id.name}")  # Admin names it
    assert by_name.id.name not in (first.id.name, "relaunched-double")
    for execution in (again, by_name):
        done = await remote.wait(execution, timeout=150, poll_interval=1)
        assert done.closure.phase == WF.SUCCEEDED
        assert outputs(await remote.sync_execution(done)) == {"o0": 10}
    with pytest.raises(FlyteEntityNotExistException):
        await remote.relaunch_execution(f"ex:{PROJECT}:{DOMAIN}:nosuchexecution")


@pytest.mark.timeout(60)
async def test_an_input_that_does_not_fit_names_input_expected_and_given(remote: Remote) -> None:
    with pytest.raises(LiteralConversionError) as err:
        await remote.execute(wf("typed_wf"), {"n": "three", "ratio": 1.0, "name": "a", "flag": True,
                                              "xs": [], "p": Point(1, 1.0)})  # fmt: skip
    text = str(err.value)
    assert "n" in text and "int" in text.lower() and "three" in text
    with pytest.raises(LiteralConversionError, match="nope"):
        await remote.execute(wf("double_wf"), {"nope": 1})
    with pytest.raises(FlyteEntityNotExistException, match="register"):
        await remote.execute(Identifier(ResourceType.TASK, PROJECT, DOMAIN, "execflows.flows.missing", None))
    with pytest.raises(ValueError, match="not both"):
        await remote.execute(wf("double_wf"), execution_name="a", execution_name_prefix="b")


@pytest.mark.timeout(120)
async def test_wait_deadline_raises_flyte_timeout_and_terminate_aborts(remote: Remote) -> None:
    started = await remote.execute(wf("slow_wf"), {"seconds": 120}, execution_name="slow-one")
    assert started.id.name == "slow-one"
    again = await remote.execute(wf("slow_wf"), {"seconds": 120}, execution_name="slow-one")
    assert again.id == started.id  # the same name again is the same execution
    t0 = time.monotonic()
    with pytest.raises(FlyteTimeout, match="slow-one"):
        await remote.wait("slow-one", timeout=1.5, poll_interval=0.5)
    assert time.monotonic() - t0 < 10
    await remote.terminate(started, "test says stop")
    done = await remote.wait(started.id, timeout=60, poll_interval=0.5)
    assert done.closure.phase == WF.ABORTED


@pytest.mark.timeout(240)
async def test_gate_workflow_approve_reject_and_typed_input(remote: Remote) -> None:
    async def signals_of(name: str, expected: set[str]) -> None:
        for _ in range(300):
            from flyteidl.admin import signal_pb2

            ex = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)
            listed = await remote._call(
                "ListSignals", signal_pb2.SignalListRequest(workflow_execution_id=ex, limit=10), kind="read"
            )
            if expected <= {s.id.signal_id for s in listed.signals}:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"signals {expected} never appeared")

    ok = await remote.execute(wf("gate_wf"), {"x": 4})
    await signals_of(ok.id.name, {"ok", "factor"})
    with pytest.raises(LiteralConversionError, match="factor"):
        await remote.set_input("factor", ok.id.name, "ten")  # typed by the signal: an int
    await remote.approve("ok", ok.id.name)
    await remote.set_input("factor", ok.id.name, 10, python_type=int)  # flytekit's keyword, ignored
    done = await remote.wait(ok.id, timeout=200, poll_interval=1)
    assert done.closure.phase == WF.SUCCEEDED
    assert outputs(await remote.sync_execution(done)) == {"o0": 80}

    no = await remote.execute(wf("gate_wf"), {"x": 1})
    await signals_of(no.id.name, {"ok"})
    await remote.reject("ok", f"ex:{PROJECT}:{DOMAIN}:{no.id.name}")
    done = await remote.wait(no.id, timeout=200, poll_interval=1)
    assert done.closure.phase == WF.FAILED
    with pytest.raises(FlyteEntityNotExistException, match="no signal"):
        await remote.set_signal("nope", no.id.name, 1)


@pytest.mark.timeout(200)
async def test_options_activate_and_metrics(remote: Remote) -> None:
    opts = Options(
        labels={"team": "ls"}, annotations={"a": "b"}, max_parallelism=3, disable_notifications=True
    )
    done = await remote.execute(
        wf("double_wf"), {"x": 1}, options=opts, envs={"E": "1"}, tags=["t1"], overwrite_cache=True,
        interruptible=False, wait=True, timeout=150,
    )  # fmt: skip
    spec = done.spec
    assert dict(spec.labels.values) == {"team": "ls"} and dict(spec.annotations.values) == {"a": "b"}
    assert spec.max_parallelism == 3 and spec.disable_all and spec.overwrite_cache
    assert [(kv.key, kv.value) for kv in spec.envs.values] == [("E", "1")]
    assert spec.HasField("interruptible") and not spec.interruptible.value

    span = await remote.get_execution_metrics(done.id)
    assert span.workflow_id.name == done.id.name
    assert span.spans  # the node spans below the execution

    lp = Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, "execflows.flows.double_wf", VERSION)
    await remote.activate_launchplan(lp)
    from flyteidl.admin import launch_plan_pb2

    got = await remote._call(
        "GetActiveLaunchPlan", launch_plan_pb2.ActiveLaunchPlanRequest(id=lp.named_entity()), kind="read"
    )
    assert got.id.version == VERSION
    await remote.deactivate_launchplan(lp)
    with pytest.raises(FlyteEntityNotExistException):
        await remote._call(
            "GetActiveLaunchPlan", launch_plan_pb2.ActiveLaunchPlanRequest(id=lp.named_entity()), kind="read"
        )


def test_signal_literal_type_override_needs_no_rpc() -> None:
    """A `literal_type` given by the caller is used as is (no ListSignals)."""

    class Offline(Remote):
        async def _call(self, rpc: str, request: Any, *, kind: Kind, timeout: float | None = None) -> Any:
            self.calls.append(rpc)
            return request

    r = Offline(
        Config.for_endpoint("127.0.0.1:1", insecure=True), default_project=PROJECT, default_domain=DOMAIN
    )
    r.calls = []
    lt = types_pb2.LiteralType(simple=types_pb2.INTEGER)
    asyncio.run(r.set_signal("s", "ex1", 3, literal_type=lt))
    assert r.calls == ["SetSignal"]
    # flytekit's positional order (..., project, domain, python_type, literal_type) and its models
    from flytekit.models.literals import Literal, Primitive, Scalar
    from flytekit.models.types import LiteralType, SimpleType

    asyncio.run(r.set_signal("s", "ex1", 4, None, None, int, LiteralType(simple=SimpleType.INTEGER)))
    asyncio.run(r.set_input("s", "ex1", Literal(scalar=Scalar(primitive=Primitive(integer=5)))))
    assert r.calls == ["SetSignal"] * 3


@pytest.mark.timeout(180)
def test_the_sync_facade_runs_the_same_methods(backend: Backend) -> None:
    config = Config.auto(str(backend.config))
    with FlyteRemote(config, default_project=PROJECT, default_domain=DOMAIN) as fr:
        started = fr.execute(wf("double_wf"), {"x": 8}, execution_name_prefix="sync")
        done = fr.wait(started.id, timeout=150, poll_interval=1)
        assert done.closure.phase == WF.SUCCEEDED
        synced = fr.sync_execution(done, sync_nodes=True)
        assert outputs(synced) == {"o0": 16} and synced.node_executions
        assert fr.get_execution_metrics(done.id).workflow_id.name == done.id.name
        slow = fr.execute(wf("slow_wf"), {"seconds": 60})
        with pytest.raises(FlyteTimeout):
            fr.wait(slow, timeout=0.5, poll_interval=0.2)
        fr.terminate(slow, "done with it")
