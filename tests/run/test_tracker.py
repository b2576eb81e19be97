"""ExecutionTracker against a real `flyte-ls local start` backend, with tests/run/data/trackflows registered
by the real `pyflyte register`, executions started with flyte_ls.remote.

RPCs are counted where they arrive: the client talks to a small gRPC proxy that forwards every call, bytes
unchanged, to the backend and records its method and request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2

from flyte_ls.remote.config import Config
from flyte_ls.remote.remote import AsyncFlyteRemote
from flyte_ls.remote.transport import RetryPolicy
from flyte_ls.run.failures import Frame, deepest, map_to_workspace
from flyte_ls.run.tracker import ExecutionTracker, Tracked

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import Backend, register_copy, start_backend

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(240)]
PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
DATA = Path(__file__).parent / "data"
ORDER = ["UNDEFINED", "QUEUED", "RUNNING", "SUCCEEDING", "SUCCEEDED", "FAILING", "FAILED", "ABORTED"]


class Proxy(grpc.GenericRpcHandler):
    """A gRPC server in front of the backend: forwards unary calls as raw bytes and records them."""

    def __init__(self, target: str) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.channel = grpc.insecure_channel(target)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), handlers=[self])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        forward = self.channel.unary_unary(method)

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            with self.lock:
                self.calls.append((method.rsplit("/", 1)[-1], request))
            try:
                return forward(request, timeout=60)
            except grpc.RpcError as exc:
                context.abort(exc.code(), exc.details() or "")
                raise

        return grpc.unary_unary_rpc_method_handler(handle)

    def take(self) -> list[tuple[str, bytes]]:
        with self.lock:
            out, self.calls = self.calls, []
        return out

    def stop(self) -> None:
        self.server.stop(2).wait(5)
        self.channel.close()


@dataclass
class Env:
    backend: Backend
    proxy: Proxy
    root: Path
    state: Path
    source_root: Path
    stopped: list[Backend] = field(default_factory=list)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("tracker")
    backend = start_backend(root / "state")
    proxy = None
    environment = None
    try:
        register_copy(backend, DATA / "trackflows", root / "proj", PROJECT, DOMAIN, VERSION)
        proxy = Proxy(f"127.0.0.1:{backend.port}")
        environment = Env(backend, proxy, root, root / "state", root / "proj")
        yield environment
    finally:
        if proxy is not None:
            proxy.stop()
        (environment.backend if environment is not None else backend).stop()


@pytest.fixture(scope="module")
async def remote(env: Env) -> AsyncIterator[AsyncFlyteRemote]:
    config = Config.for_endpoint(f"127.0.0.1:{env.proxy.port}", insecure=True)
    r = AsyncFlyteRemote(config, PROJECT, DOMAIN, retry=RetryPolicy(max_attempts=1))
    yield r
    await r.aclose()


@dataclass
class Events:
    seen: list[Tracked] = field(default_factory=list)

    def __call__(self, tracked: Tracked) -> None:
        self.seen.append(Tracked.from_json(json.loads(json.dumps(tracked.to_json()))))

    def of(self, name: str) -> list[Tracked]:
        return [t for t in self.seen if t.execution["name"] == name]


def tracker_for(remote: AsyncFlyteRemote, store: Path, events: Events | None = None) -> ExecutionTracker:
    async def provider() -> AsyncFlyteRemote:
        return remote

    return ExecutionTracker(provider, store, events)


async def launch(remote: AsyncFlyteRemote, workflow: str, inputs: dict[str, Any]) -> Any:
    return await remote.execute(f"lp:{PROJECT}:{DOMAIN}:trackflows.flows.{workflow}:{VERSION}", inputs)


async def until(
    tracker: ExecutionTracker, done: Callable[[], bool], timeout: float = 120, pause: float = 0.3
) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, [t.to_json() for t in tracker.tracked()]
        await tracker.poll_once()
        await asyncio.sleep(pause)


def track(tracker: ExecutionTracker, remote: AsyncFlyteRemote, ex: Any, entity: str, **kw: Any) -> Tracked:
    return tracker.track(
        ex.id, "file:///ws/trackflows/flows.py", entity, console_url=remote.generate_console_url(ex), **kw
    )


async def test_a_workflow_to_success(env: Env, remote: AsyncFlyteRemote, tmp_path: Path) -> None:
    events = Events()
    tracker = tracker_for(remote, tmp_path / "executions.json", events)
    ex = await launch(remote, "two_steps", {"seconds": 3})
    tracked = track(tracker, remote, ex, "two_steps", inputs={"seconds": 3})
    assert tracker.get(ex.id) is tracked and tracker.interval == 1.0
    await until(tracker, lambda: tracked.is_done)

    assert tracked.phase == "SUCCEEDED", tracked.error
    assert tracked.outputs_summary == "o0=43"
    assert tracked.nodes_done == tracked.nodes_total == 2
    assert tracked.started_at is not None and tracked.duration is not None and tracked.duration >= 3
    assert tracked.console_url and tracked.console_url.endswith(ex.id.name)
    phases = [t.phase for t in events.of(ex.id.name)]
    assert phases[0] in ("QUEUED", "RUNNING") and phases[-1] == "SUCCEEDED"
    assert phases.count("SUCCEEDED") == 1  # once at the end
    assert [ORDER.index(p) for p in phases] == sorted(ORDER.index(p) for p in phases)
    assert any(t.phase == "RUNNING" and t.nodes_total == 2 for t in events.of(ex.id.name))
    stored = json.loads((tmp_path / "executions.json").read_text())
    assert stored["executions"][0]["phase"] == "SUCCEEDED"
    assert stored["executions"][0]["inputs"] == {"seconds": 3}

    env.proxy.take()
    await tracker.poll_once()  # finished: listed, no longer polled
    assert env.proxy.take() == [] and tracker.tracked() == [tracked]


async def test_a_failure_mapped_to_the_raising_line(
    env: Env, remote: AsyncFlyteRemote, tmp_path: Path
) -> None:
    tracker = tracker_for(remote, tmp_path / "executions.json")
    ex = await launch(remote, "failing", {"x": -3})
    tracked = track(tracker, remote, ex, "failing")
    await until(tracker, lambda: tracked.is_done)

    assert tracked.phase == "FAILED"
    error = tracked.error
    assert error is not None
    assert error["kind"] == "USER" and "x must be positive, got -3" in error["message"]
    assert error["node_id"] == "n1"  # validate: n0 is nap
    assert error["logs"] and error["logs"][0]["uri"].startswith("http")
    frames = map_to_workspace([Frame.from_json(f) for f in error["frames"]], env.source_root)
    helpers = env.source_root / "trackflows" / "helpers.py"
    assert deepest(frames) == Frame(str(helpers), 6, "check_positive")
    assert "raise ValueError" in helpers.read_text().splitlines()[5]
    assert frames[-2] == Frame(str(env.source_root / "trackflows" / "flows.py"), 24, "validate")


async def test_a_gate_approved(env: Env, remote: AsyncFlyteRemote, tmp_path: Path) -> None:
    events = Events()
    tracker = tracker_for(remote, tmp_path / "executions.json", events)
    ex = await launch(remote, "gated", {"x": 1})
    tracked = track(tracker, remote, ex, "gated")
    await until(tracker, lambda: bool(tracked.gates) or tracked.is_done)

    assert tracked.phase == "RUNNING"
    assert tracked.gates == [{"signal_id": "go", "node_id": "n1", "kind": "approve", "type": "bool"}]
    await remote.approve("go", ex.id.name)
    await until(tracker, lambda: tracked.is_done)
    assert tracked.phase == "SUCCEEDED" and tracked.outputs_summary == "o0=102"
    assert tracked.gates == []
    gated = [t for t in events.of(ex.id.name) if t.gates]
    assert gated and gated[0].gates[0]["signal_id"] == "go"


async def test_terminate(env: Env, remote: AsyncFlyteRemote, tmp_path: Path) -> None:
    tracker = tracker_for(remote, tmp_path / "executions.json")
    ex = await launch(remote, "two_steps", {"seconds": 60})
    tracked = track(tracker, remote, ex, "two_steps")
    await until(tracker, lambda: tracked.phase == "RUNNING")
    await remote.terminate(ex, "stopped from the editor")
    await until(tracker, lambda: tracked.is_done)
    assert tracked.phase == "ABORTED" and tracked.error is None


async def test_twenty_executions_one_list_per_round(
    env: Env, remote: AsyncFlyteRemote, tmp_path: Path
) -> None:
    tracker = tracker_for(remote, tmp_path / "executions.json")
    task = await remote.fetch_task(name="trackflows.flows.nap", version=VERSION)
    runs = await asyncio.gather(*(remote.execute(task, {"seconds": 60}) for _ in range(20)))
    for ex in runs:
        tracker.track(ex.id, "file:///ws/trackflows/flows.py", "nap")
    try:
        for _ in range(3):
            env.proxy.take()
            await tracker.poll_once()
            calls = env.proxy.take()
            assert Counter(method for method, _ in calls) == {"ListExecutions": 1}
            request = common_pb2.ResourceListRequest.FromString(calls[0][1])
            names = request.filters.removeprefix("value_in(execution.name,").removesuffix(")").split(";")
            assert sorted(names) == sorted(ex.id.name for ex in runs)
        assert {t.phase for t in tracker.tracked()} <= {"QUEUED", "RUNNING"}
        assert {t.nodes_total for t in tracker.tracked() if t.phase == "RUNNING"} <= {1}
        assert tracker.interval > 1.0  # nothing changed: backing off
    finally:
        await asyncio.gather(*(remote.terminate(ex, "test over") for ex in runs))


async def test_workflows_progress_is_throttled(env: Env, remote: AsyncFlyteRemote, tmp_path: Path) -> None:
    tracker = tracker_for(remote, tmp_path / "executions.json")
    runs = await asyncio.gather(*(launch(remote, "two_steps", {"seconds": 60}) for _ in range(8)))
    for ex in runs:
        track(tracker, remote, ex, "two_steps")
    try:
        await until(tracker, lambda: all(t.phase == "RUNNING" for t in tracker.tracked()), pause=0.5)
        env.proxy.take()
        for _ in range(4):
            await tracker.poll_once()
        calls = Counter(method for method, _ in env.proxy.take())
        # The workflow is read once (cached per version); node progress within its budget (about one read a
        # second of interval, each execution at most every 5 s); one ListExecutions a round.
        assert calls["ListExecutions"] == 4 and calls["GetWorkflow"] <= 1
        assert calls["ListNodeExecutions"] <= 8
        assert set(calls) <= {"ListExecutions", "GetWorkflow", "ListNodeExecutions"}
        assert {t.nodes_total for t in tracker.tracked()} == {2}
    finally:
        await asyncio.gather(*(remote.terminate(ex, "test over") for ex in runs))


async def test_names_in_chunks_of_fifty_unknown_ones_given_up(
    env: Env, remote: AsyncFlyteRemote, tmp_path: Path
) -> None:
    events = Events()
    tracker = tracker_for(remote, tmp_path / "executions.json", events)
    names = [f"nosuch{i:03d}" for i in range(60)]
    for name in names:
        tracker.track(f"ex:{PROJECT}:{DOMAIN}:{name}", "file:///ws/x.py", "wf")
    env.proxy.take()
    await tracker.poll_once()
    calls = env.proxy.take()
    assert [method for method, _ in calls] == ["ListExecutions", "ListExecutions"]
    sizes = sorted(common_pb2.ResourceListRequest.FromString(req).filters.count(";") + 1 for _, req in calls)
    assert sizes == [10, 50]
    for _ in range(4):
        await tracker.poll_once()
    assert {t.phase for t in tracker.tracked()} == {"UNKNOWN"}
    unknown = tracker.get(f"ex:{PROJECT}:{DOMAIN}:nosuch000")
    assert (
        unknown is not None
        and unknown.error is not None
        and "not on this backend" in unknown.error["message"]
    )
    assert len(events.seen) == 60  # once each, at the end
    env.proxy.take()
    await tracker.poll_once()
    assert env.proxy.take() == []
    assert tracker.untrack(f"ex:{PROJECT}:{DOMAIN}:nosuch000") is unknown and len(tracker.tracked()) == 59


async def test_restart_resumes(env: Env, remote: AsyncFlyteRemote, tmp_path: Path) -> None:
    store = tmp_path / "executions.json"
    first = tracker_for(remote, store)
    ex = await launch(remote, "two_steps", {"seconds": 4})
    track(first, remote, ex, "two_steps", inputs={"seconds": 4})
    await first.poll_once()
    first.close()

    events = Events()
    second = tracker_for(remote, store, events)
    (resumed,) = second.tracked()
    assert resumed.execution["name"] == ex.id.name and resumed.inputs == {"seconds": 4}
    assert not resumed.is_done
    loop = asyncio.create_task(second.run())  # the real loop, its own intervals
    try:
        deadline = time.monotonic() + 120
        while not resumed.is_done:
            assert time.monotonic() < deadline and not loop.done()
            await asyncio.sleep(0.2)
    finally:
        second.close()
        await asyncio.wait_for(loop, 15)
    assert resumed.phase == "SUCCEEDED" and resumed.outputs_summary == "o0=44"
    assert events.seen[-1].phase == "SUCCEEDED"


def test_a_corrupt_store_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "executions.json"
    store.write_text("{not json")

    async def provider() -> AsyncFlyteRemote:
        raise AssertionError("not called")

    with caplog.at_level(logging.WARNING, "flyte_ls.run.tracker"):
        tracker = ExecutionTracker(provider, store, None)
    assert tracker.tracked() == []
    assert not store.exists() and len(list(tmp_path.glob("executions.json.bad-*"))) == 1
    assert "unreadable" in caplog.text
    store.write_text(json.dumps({"version": 0, "executions": []}))  # an old format: the same
    assert ExecutionTracker(provider, store, None).tracked() == []
    assert not store.exists()


async def test_backend_down_then_back(
    env: Env, remote: AsyncFlyteRemote, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Last in this module: stops the backend and starts it again on the same port and state dir."""
    tracker = tracker_for(remote, tmp_path / "executions.json")
    ex = await launch(remote, "two_steps", {"seconds": 2})
    tracked = track(tracker, remote, ex, "two_steps")
    await tracker.poll_once()
    port = env.backend.port
    env.backend.stop()
    with caplog.at_level(logging.INFO, "flyte_ls.run.tracker"):
        for _ in range(3):
            await tracker.poll_once()  # never raises
        failed = [r for r in caplog.records if "backend failed" in r.getMessage()]
        assert len(failed) == 1, caplog.text
        assert tracker.interval == 10.0 and not tracked.is_done
        shutil.rmtree(env.state.parent / f"{env.state.name}-logs", ignore_errors=True)
        env.backend = start_backend(env.state, port=port)
        await until(tracker, lambda: tracked.is_done, timeout=150, pause=0.5)
        assert "answers again" in caplog.text
    # A backend that stops aborts what it was running: the tracker ends on what the backend says.
    assert tracked.phase == (await remote.fetch_execution(name=ex.id.name)).phase_name
