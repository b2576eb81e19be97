"""Following executions (wait, sync_execution, fetch_task_executions, fetch_node_data) against a real
`flyte-ls local start` backend, with the workflows of tests/remote/data/syncflows registered by the real
`pyflyte register`.

RPCs are counted where they arrive: the client talks to a gRPC proxy (``Wire``) that forwards every call,
bytes unchanged, to the backend, and records each one's method, time and request — what a server receives,
whatever the client thinks it sent (retries included).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2

from flyte_ls.remote.config import Config
from flyte_ls.remote.entities import FlyteNodeExecution, FlyteWorkflowExecution
from flyte_ls.remote.identifiers import Identifier, ResourceType
from flyte_ls.remote.remote import AsyncFlyteRemote, FlyteRemote

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import Backend, register_copy, start_backend

pytestmark = pytest.mark.flytekit
PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
DATA = Path(__file__).parent / "data"
WF = core_execution_pb2.WorkflowExecution
NODE = core_execution_pb2.NodeExecution
TASK = core_execution_pb2.TaskExecution


@dataclass
class Call:
    method: str
    at: float
    request: bytes


@dataclass
class Wire(grpc.GenericRpcHandler):
    """A gRPC server in front of the backend: forwards every unary call as raw bytes, recording it."""

    target: str
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.channel = grpc.insecure_channel(self.target)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), handlers=[self])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        forward = self.channel.unary_unary(method)  # no (de)serializers: bytes both ways

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            with self.lock:
                self.calls.append(Call(method.rsplit("/", 1)[-1], time.monotonic(), request))
            try:
                return forward(request, timeout=60)
            except grpc.RpcError as exc:
                context.abort(exc.code(), exc.details() or "")
                raise

        return grpc.unary_unary_rpc_method_handler(handle)

    def take(self) -> list[Call]:
        """The calls since the last ``take``."""
        with self.lock:
            out, self.calls = self.calls, []
        return out

    def stop(self) -> None:
        self.server.stop(2).wait(5)
        self.channel.close()


def counts(calls: list[Call]) -> Counter[str]:
    return Counter(c.method for c in calls)


def polls_of(calls: list[Call], name: str) -> list[float]:
    """When each GetExecution of execution ``name`` arrived."""
    return [
        c.at
        for c in calls
        if c.method == "GetExecution"
        and execution_pb2.WorkflowExecutionGetRequest.FromString(c.request).id.name == name
    ]


@dataclass
class Env:
    backend: Backend
    wire: Wire

    @property
    def config(self) -> Config:
        return Config.for_endpoint(f"127.0.0.1:{self.wire.port}", insecure=True)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("sync")
    backend = start_backend(root / "state")
    wire = None
    try:
        register_copy(backend, DATA / "syncflows", root / "proj", PROJECT, DOMAIN, VERSION)
        wire = Wire(f"127.0.0.1:{backend.port}")
        yield Env(backend, wire)
    finally:
        if wire is not None:
            wire.stop()
        backend.stop()


@pytest.fixture
async def remote(env: Env) -> AsyncIterator[AsyncFlyteRemote]:
    r = AsyncFlyteRemote(env.config, default_project=PROJECT, default_domain=DOMAIN)
    yield r
    await r.aclose()


def wf(name: str) -> Identifier:
    return Identifier(ResourceType.WORKFLOW, PROJECT, DOMAIN, f"syncflows.flows.{name}", VERSION)


def by_kind(synced: FlyteWorkflowExecution) -> dict[str, FlyteNodeExecution]:
    kinds: dict[str, FlyteNodeExecution] = {}
    for node in synced.node_executions.values():
        if node.closure.workflow_node_metadata.executionId.name:
            kinds["child"] = node
        elif node.metadata.is_dynamic:
            kinds["dynamic"] = node
        elif node.metadata.is_array:
            kinds["array"] = node
    return kinds


def all_nodes(nodes: dict[str, FlyteNodeExecution]) -> Iterator[FlyteNodeExecution]:
    for node in nodes.values():
        yield node
        yield from all_nodes(node.subworkflow_node_executions)


@pytest.mark.timeout(240)
async def test_following_a_chain_costs_the_polls_plus_two(remote: AsyncFlyteRemote, env: Env) -> None:
    """What the benchmark measures: wait (GetExecution only), then one sync of the done execution with its
    nodes — GetExecutionData and one ListNodeExecutions, nothing per node, no GetExecution again."""
    env.wire.take()
    started = await remote.execute(wf("chain_wf"), {"x": 1, "pause": 0.5})
    done = await remote.wait(started, timeout=200, poll_interval=0.5)
    calls = env.wire.take()
    assert done.is_successful and counts(calls)["CreateExecution"] == 1
    assert set(counts(calls)) == {"GetLaunchPlan", "CreateExecution", "GetExecution"}
    at = polls_of(calls, started.id.name)  # execute's own GetExecution, then wait's polls
    assert at[1] - at[0] >= 0.45, at  # what execute just read is not asked again at once
    synced = await remote.sync_execution(done, sync_nodes=True)
    assert counts(env.wire.take()) == {"GetExecutionData": 1, "ListNodeExecutions": 1}
    assert synced.outputs == {"o0": 4} and synced.inputs == {"x": 1, "pause": 0.5}
    assert sorted(synced.node_executions) == ["n0", "n1", "n2"]
    assert all(n.task_executions is None and n.inputs is None for n in synced.node_executions.values())

    # Already holding its data and done: syncing it again sends nothing, with nodes only the listing.
    assert (await remote.sync_execution(synced)).outputs == {"o0": 4}
    assert counts(env.wire.take()) == {}
    again = await remote.sync_execution(synced, sync_nodes=True)
    assert counts(env.wire.take()) == {"ListNodeExecutions": 1}
    assert all(again.node_executions[k] is synced.node_executions[k] for k in synced.node_executions)
    # By id or name it is fetched: only an execution object says it is done.
    await remote.sync_execution(done.id.name)
    assert counts(env.wire.take()) == {"GetExecution": 1, "GetExecutionData": 1}
    # wait() on an execution that is already done returns it as it is.
    assert await remote.wait(done, timeout=5) is done
    assert counts(env.wire.take()) == {}
    # An execution object read longer than an interval ago: the first poll goes at once.
    other = await remote.execute(wf("chain_wf"), {"x": 5})
    await asyncio.sleep(1.0)
    env.wire.take()
    called = time.monotonic()
    assert (await remote.wait(other, timeout=200, poll_interval=0.5)).is_successful
    assert polls_of(env.wire.take(), other.id.name)[0] - called < 0.4
    # ...and so it does for one read on another clock (unpickled in another process).
    third = await remote.execute(wf("chain_wf"), {"x": 6})
    third.observed_at = time.monotonic() + 1e6
    env.wire.take()
    called = time.monotonic()
    assert (await remote.wait(third, timeout=200, poll_interval=0.5)).is_successful
    assert polls_of(env.wire.take(), third.id.name)[0] - called < 0.4


@pytest.mark.timeout(300)
async def test_task_executions_and_node_data_load_per_node_on_request(
    remote: AsyncFlyteRemote, env: Env
) -> None:
    done = await remote.execute(wf("tree_wf"), {"n": 3}, wait=True, timeout=280)
    assert done.is_successful, done.error
    env.wire.take()
    synced = await remote.sync_execution(done, sync_nodes=True)
    # The top level, the dynamic node's children, the child execution's nodes: three listings, nothing else.
    assert counts(env.wire.take()) == {"GetExecutionData": 1, "ListNodeExecutions": 3}
    assert synced.outputs == {"o0": [0, 4, 8], "o1": 6}
    kinds = by_kind(synced)
    assert set(kinds) == {"child", "dynamic", "array"}, synced.node_executions
    inner_ids = sorted(n.metadata.spec_node_id for n in kinds["dynamic"].subworkflow_node_executions.values())
    assert inner_ids == ["dn0", "dn1", "dn2"]  # the dynamic's double() calls, no start/end nodes
    assert len(kinds["child"].subworkflow_node_executions) == 1  # double_wf's one node
    assert all(n.task_executions is None for n in all_nodes(synced.node_executions))

    # An array node's items are its task executions: one paged listing, stored on the node.
    array = kinds["array"]
    items = await remote.fetch_task_executions(array)
    assert counts(env.wire.take()) == {"ListTaskExecutions": 1}
    assert array.task_executions is items and items  # the local backend reports the map as one
    assert all(t.phase == TASK.SUCCEEDED for t in items)
    assert await remote.fetch_task_executions(array) is items  # a finished node: loaded once
    assert counts(env.wire.take()) == {}

    # A task node inside the dynamic: its one attempt.
    inner = next(iter(kinds["dynamic"].subworkflow_node_executions.values()))
    (attempt,) = await remote.fetch_task_executions(inner)
    assert attempt.id.retry_attempt == 0 and attempt.phase == TASK.SUCCEEDED
    assert counts(env.wire.take()) == {"ListTaskExecutions": 1}

    # Node data: inputs, and the outputs of a succeeded node, as plain Python.
    node = await remote.fetch_node_data(array)
    assert node is array and array.inputs == {"x": [0, 2, 4]} and array.outputs == {"o0": [0, 4, 8]}
    assert counts(env.wire.take()) == {"GetNodeExecutionData": 1}
    await remote.fetch_node_data(array)
    assert counts(env.wire.take()) == {}
    dynamic = await remote.fetch_node_data(kinds["dynamic"])
    assert dynamic.inputs == {"n": 3} and dynamic.outputs == {"o0": [0, 2, 4]}
    assert counts(env.wire.take()) == {"GetNodeExecutionData": 1}

    # A later sync with `previous` reuses the finished nodes and what was loaded on them.
    resynced = await remote.sync_execution(done.id, sync_nodes=True, previous=synced)
    assert counts(env.wire.take()) == {"GetExecution": 1, "GetExecutionData": 1, "ListNodeExecutions": 1}
    assert resynced.node_executions[array.node_id] is array and array.task_executions is items


@pytest.mark.timeout(240)
async def test_explicit_poll_interval_is_fixed_and_none_adapts(remote: AsyncFlyteRemote, env: Env) -> None:
    """Seen from the server: polls with poll_interval=0.5 arrive every ~0.5 s until the end; without it the
    gaps double from 0.5 s (0.5, 1, 2...). Both start from execute's own read of the execution."""
    env.wire.take()
    fixed = await remote.execute(wf("chain_wf"), {"x": 0, "pause": 1.5})
    adaptive = await remote.execute(wf("chain_wf"), {"x": 0, "pause": 1.5})
    results = await asyncio.gather(
        remote.wait(fixed, timeout=200, poll_interval=0.5), remote.wait(adaptive, timeout=200)
    )
    assert all(r.is_successful for r in results)
    calls = env.wire.take()  # from execute's own GetExecution on: it counts as the first poll
    assert set(counts(calls)) == {"GetLaunchPlan", "CreateExecution", "GetExecution"}

    at = polls_of(calls, fixed.id.name)
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert len(gaps) >= 6, gaps  # the workflow runs for 4.5 s at least
    assert min(gaps) >= 0.45 and statistics.median(gaps) < 0.75, gaps

    at = polls_of(calls, adaptive.id.name)
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert len(gaps) >= 3 and len(gaps) < len(polls_of(calls, fixed.id.name)) - 1, gaps
    assert gaps[0] >= 0.45 and gaps[1] >= 0.95 and gaps[2] >= 1.95, gaps
    assert gaps[0] < 0.9 and gaps[1] < 1.8, gaps


@pytest.mark.timeout(240)
def test_the_sync_facade_has_the_same_follow_methods(env: Env) -> None:
    with FlyteRemote(env.config, default_project=PROJECT, default_domain=DOMAIN) as fr:
        started = fr.execute(wf("double_wf"), {"x": 8})
        env.wire.take()
        done = fr.wait(started, timeout=200, poll_interval=0.5)
        synced = fr.sync_execution(done, sync_nodes=True)
        assert counts(env.wire.take())["GetExecutionData"] == 1
        assert synced.outputs == {"o0": 16}
        (node,) = synced.node_executions.values()
        (attempt,) = fr.fetch_task_executions(node)
        assert attempt.phase == TASK.SUCCEEDED and node.task_executions == [attempt]
        assert fr.fetch_node_data(node) is node and (node.inputs, node.outputs) == ({"x": 8}, {"o0": 16})
        assert counts(env.wire.take()) == {"ListTaskExecutions": 1, "GetNodeExecutionData": 1}
