"""ExecutionTracker against a real `flyte-ls local start` backend, with tests/run/data/trackflows registered
by the real `pyflyte register`, executions started with flyte_ls.remote.

RPCs are counted where they arrive: the client talks to a small gRPC proxy that forwards every call, bytes
unchanged, to the backend and records its method and request.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import shutil
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, node_execution_pb2

from flyte_ls.remote.config import Config
from flyte_ls.remote.remote import AsyncFlyteRemote
from flyte_ls.remote.transport import RetryPolicy
from flyte_ls.run import tracker as tracker_module
from flyte_ls.run.failures import Frame, deepest, map_to_workspace
from flyte_ls.run.tracker import ExecutionTracker, Tracked, round_interval

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import Backend, register_copy, start_backend

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(240)]
PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
DATA = Path(__file__).parent / "data"
ORDER = ["UNDEFINED", "QUEUED", "RUNNING", "SUCCEEDING", "SUCCEEDED", "FAILING", "FAILED", "ABORTED"]


MORE = '''"""More workflows for test_tracker.py (written next to a copy of trackflows before registering)."""

import time

from flytekit import task, workflow

from trackflows.helpers import check_positive


@task
def tick(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x + 1


@task
def check(x: int) -> int:
    return check_positive(x - 5)


@workflow
def steps(seconds: float = 1.0) -> int:
    a = tick(x=0, seconds=seconds)
    b = tick(x=a, seconds=seconds)
    c = tick(x=b, seconds=seconds)
    return tick(x=c, seconds=seconds)


@workflow
def fails_second(x: int = 1) -> int:
    return check(x=tick(x=x, seconds=0.0))
'''


class Proxy(grpc.GenericRpcHandler):
    """A gRPC server in front of the backend: forwards unary calls as raw bytes and records them."""

    def __init__(self, target: str) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.times: list[tuple[float, str]] = []  # (time.monotonic() on arrival, method), never taken
        self.delays: dict[str, float] = {}  # method -> seconds held before forwarding (a slow backend)
        self.lock = threading.Lock()
        self.channel = grpc.insecure_channel(target)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), handlers=[self])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        forward = self.channel.unary_unary(method)

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            name = method.rsplit("/", 1)[-1]
            with self.lock:
                self.calls.append((name, request))
                self.times.append((time.monotonic(), name))
                delay = self.delays.get(name, 0.0)
            if delay:
                time.sleep(delay)
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
        package = root / "src" / "trackflows"
        shutil.copytree(DATA / "trackflows", package)
        (package / "more.py").write_text(MORE)
        register_copy(backend, package, root / "proj", PROJECT, DOMAIN, VERSION)
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
    at: list[float] = field(default_factory=list)  # time.time() of each, for latencies against Admin's clock
    closed: bool = False  # set by a test after close(): any event after it fails the test

    def __call__(self, tracked: Tracked) -> None:
        assert not self.closed, f"on_change after close: {tracked.to_json()}"
        self.seen.append(Tracked.from_json(json.loads(json.dumps(tracked.to_json()))))
        self.at.append(time.time())

    def of(self, name: str) -> list[Tracked]:
        return [t for t in self.seen if t.execution["name"] == name]


def tracker_for(remote: AsyncFlyteRemote, store: Path, events: Events | None = None) -> ExecutionTracker:
    async def provider() -> AsyncFlyteRemote:
        return remote

    return ExecutionTracker(provider, store, events)


async def launch(
    remote: AsyncFlyteRemote, workflow: str, inputs: dict[str, Any], module: str = "flows"
) -> Any:
    return await remote.execute(f"lp:{PROJECT}:{DOMAIN}:trackflows.{module}.{workflow}:{VERSION}", inputs)


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
    assert tracker.get(ex.id) is tracked and tracker.interval == 0.5
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
    assert tracked.gates == [
        {"signal_id": "go", "node_id": "n1", "kind": "approve", "type": "bool", "type_info": {"kind": "bool"}}
    ]
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
        assert tracker.interval == 0.5  # just tracked: quick (backing off later: test_round_intervals)
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


async def end_to_report(
    remote: AsyncFlyteRemote,
    tracker: ExecutionTracker,
    events: Events,
    workflow: str,
    inputs: dict[str, Any],
    module: str = "flows",
) -> tuple[float, float]:
    """Launch and track (the real loop is running): seconds from the execution's end as Admin recorded it
    (``closure.updated_at``) to the ``on_change`` with its terminal phase, and how long it ran."""
    ex = await launch(remote, workflow, inputs, module)
    tracked = track(tracker, remote, ex, workflow)
    deadline = time.monotonic() + 60
    while not tracked.is_done:
        assert time.monotonic() < deadline, tracked.to_json()
        await asyncio.sleep(0.02)
    reported = next(at for t, at in zip(events.seen, events.at, strict=True)
                    if t.execution["name"] == ex.id.name and t.is_done)  # fmt: skip
    closure = (await remote.fetch_execution(name=ex.id.name)).closure
    ended = closure.updated_at.ToDatetime(tzinfo=timezone.utc).timestamp()
    return reported - ended, closure.duration.ToTimedelta().total_seconds()


async def test_the_end_is_reported_quickly(env: Env, remote: AsyncFlyteRemote, tmp_path: Path) -> None:
    """A short workflow (like the demo's) ends; the terminal on_change follows within about a second."""
    events = Events()
    tracker = tracker_for(remote, tmp_path / "executions.json", events)
    loop = asyncio.create_task(tracker.run())
    runs = [("two_steps", {"seconds": 1})] * 4 + [("failing", {"x": -1})] * 2
    try:
        measured = [await end_to_report(remote, tracker, events, wf, inputs) for wf, inputs in runs]
    finally:
        tracker.close()
        await asyncio.wait_for(loop, 5)
    latencies = [lat for lat, _ in measured]
    print("end -> on_change (s):", [f"{lat:.2f} (ran {ran:.2f})" for lat, ran in measured])
    assert max(latencies) <= 2.5 and statistics.median(latencies) <= 1.2, measured


async def test_detail_reads_never_delay_the_phase_poll(
    env: Env, remote: AsyncFlyteRemote, tmp_path: Path
) -> None:
    """Node progress and the workflow read take 2 s each here: the rounds keep their cadence meanwhile."""
    events = Events()
    tracker = tracker_for(remote, tmp_path / "executions.json", events)
    loop = asyncio.create_task(tracker.run())
    env.proxy.delays = {"ListNodeExecutions": 2.0, "GetWorkflow": 2.0}
    try:
        launched = time.monotonic()
        latency, ran = await end_to_report(remote, tracker, events, "steps", {"seconds": 0.7}, "more")
    finally:
        env.proxy.delays = {}
        tracker.close()
        await asyncio.wait_for(loop, 5)
    rounds = [at for at, method in env.proxy.times if method == "ListExecutions" and at >= launched]
    gaps = [b - a for a, b in itertools.pairwise(rounds)]
    print(
        f"slow details: end -> on_change {latency:.2f} s (ran {ran:.2f} s); rounds every",
        [f"{g:.2f}" for g in gaps],
    )
    assert gaps and max(gaps) <= 1.5, gaps
    assert latency <= 2.5


async def test_node_counts_while_running_and_at_the_end(
    env: Env, remote: AsyncFlyteRemote, tmp_path: Path
) -> None:
    events = Events()
    tracker = tracker_for(remote, tmp_path / "executions.json", events)
    loop = asyncio.create_task(tracker.run())
    env.proxy.take()
    try:
        ex = await launch(remote, "steps", {"seconds": 1.5}, module="more")
        tracked = track(tracker, remote, ex, "steps")
        failed_ex = await launch(remote, "fails_second", {"x": 1}, module="more")
        failed = track(tracker, remote, failed_ex, "fails_second")
        deadline = time.monotonic() + 90
        while not (tracked.is_done and failed.is_done):
            assert time.monotonic() < deadline and not loop.done(), tracked.to_json()
            await asyncio.sleep(0.1)
    finally:
        tracker.close()
        await asyncio.wait_for(loop, 5)
    counts = [(t.phase, t.nodes_done, t.nodes_total) for t in events.of(ex.id.name)]
    print("steps:", counts)
    assert tracked.phase == "SUCCEEDED" and (tracked.nodes_done, tracked.nodes_total) == (4, 4)
    assert any(phase == "RUNNING" and done is not None and 0 < done < 4 for phase, done, _ in counts), counts
    assert [c for c in counts if c[0] == "SUCCEEDED"] == [("SUCCEEDED", 4, 4)]  # once, counts in it
    # One that fails at its second node: the first one's success is counted in the final read.
    assert failed.phase == "FAILED" and (failed.nodes_done, failed.nodes_total) == (1, 2), failed.to_json()
    assert [(t.nodes_done, t.nodes_total) for t in events.of(failed_ex.id.name) if t.is_done] == [(1, 2)]
    # Within the budget: one progress read per execution at most every 2 s (and the first after 0.5 s).
    reads = Counter(
        node_execution_pb2.NodeExecutionListRequest.FromString(req).workflow_execution_id.name
        for method, req in env.proxy.take()
        if method == "ListNodeExecutions"
    )
    assert reads[ex.id.name] <= (tracked.duration or 0) / 2 + 2, (reads, tracked.duration)


async def test_gates_read_within_a_budget(env: Env, remote: AsyncFlyteRemote, tmp_path: Path) -> None:
    """Six executions waiting at a gate: ListSignals about once a second for all of them, not per round."""
    tracker = tracker_for(remote, tmp_path / "executions.json")
    runs = await asyncio.gather(*(launch(remote, "gated", {"x": i}) for i in range(6)))
    for ex in runs:
        track(tracker, remote, ex, "gated")
    loop = asyncio.create_task(tracker.run())
    try:
        deadline = time.monotonic() + 90
        while not all(t.gates for t in tracker.tracked()):
            assert time.monotonic() < deadline and not loop.done(), [t.to_json() for t in tracker.tracked()]
            await asyncio.sleep(0.2)
        env.proxy.take()
        window = 6.0
        await asyncio.sleep(window)
        calls = Counter(method for method, _ in env.proxy.take())
    finally:
        tracker.close()
        await asyncio.wait_for(loop, 5)
        await asyncio.gather(*(remote.terminate(ex, "test over") for ex in runs))
    print(f"6 gated executions, {window:.0f} s:", dict(calls))
    # Uncapped, that would be a ListSignals per execution per round: 6 every 0.5-1 s, 36-72 in the window.
    assert calls["ListSignals"] <= window * tracker_module.DETAIL_READS_PER_S + 3, calls
    assert calls["ListNodeExecutions"] <= window * tracker_module.DETAIL_READS_PER_S + 3, calls
    assert {t.gates[0]["signal_id"] for t in tracker.tracked()} == {"go"}


async def test_close_stops_at_once_and_nothing_follows(
    env: Env, remote: AsyncFlyteRemote, tmp_path: Path
) -> None:
    """close() while a round (a slow ListExecutions) and then a final read (a slow GetExecutionData) are in
    flight: the loop returns at once and on_change is never called again (after shutdown the editor's stream
    is gone)."""
    for slow in ("ListExecutions", "GetExecutionData"):
        events = Events()
        tracker = tracker_for(remote, tmp_path / f"{slow}.json", events)
        ex = await launch(remote, "two_steps", {"seconds": 0})
        tracked = track(tracker, remote, ex, "two_steps")
        await until(tracker, lambda t=tracked: t.phase == "RUNNING" or t.is_done, pause=0.1)
        if slow == "GetExecutionData":  # the next round sees it ended and starts the final read
            await asyncio.sleep(2)
        loop = asyncio.create_task(tracker.run())
        env.proxy.delays = {slow: 3.0}
        try:
            deadline = time.monotonic() + 30
            while not any(method == slow for method, _ in env.proxy.take()):
                assert time.monotonic() < deadline and not loop.done()
                await asyncio.sleep(0.02)
            count = len(events.seen)
            closing = time.monotonic()
            tracker.close()
            await asyncio.wait_for(loop, 5)
            stopped = time.monotonic() - closing
            await asyncio.sleep(3.5)  # the slow answer arrives: nobody is told
        finally:
            env.proxy.delays = {}
        print(f"close with a slow {slow} in flight: the loop returned in {stopped * 1000:.1f} ms")
        assert stopped < 0.5 and len(events.seen) == count and not tracked.is_done, (slow, tracked.phase)
        await tracker.poll_once()  # closed: no round
        assert len(events.seen) == count
        stored = json.loads((tmp_path / f"{slow}.json").read_text())
        assert stored["executions"][0]["phase"] == "RUNNING"  # resumed (and finished) after a restart


def test_round_intervals() -> None:
    """Quick right after a track, slower later: 0.5 s for 5 s, 1 s until 15 s, then doubling to 10 s."""
    assert [round_interval(s, 0) for s in (0, 4.9, 5, 14.9)] == [0.5, 0.5, 1.0, 1.0]
    assert [round_interval(20, q) for q in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


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
