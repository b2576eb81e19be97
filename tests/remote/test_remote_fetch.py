"""flyte_ls.remote's fetch/list/get methods, async and sync, against a real ``flyte-ls local start`` backend
with entities registered by real ``pyflyte register`` and a real execution (the comparison with flytekit's
FlyteRemote on the same backend is test_parity's). RPC counts (NOT_FOUND sent once, a lazy entity fetched
once) are taken server-side by the counting interceptor of test_transport around the real Admin servicer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import common_pb2, execution_pb2, task_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flyte_ls.remote.config import Config
from flyte_ls.remote.entities import FlyteTask, LazyEntity
from flyte_ls.remote.errors import FlyteEntityNotExistException
from flyte_ls.remote.identifiers import Identifier, ResourceType, WorkflowExecutionIdentifier
from flyte_ls.remote.remote import AsyncFlyteRemote, FlyteRemote

from .test_transport import Server, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import VENV_BIN, Backend, start_backend

pytestmark = pytest.mark.timeout(120)

PROJECT, DOMAIN = "flytesnacks", "development"
TASK, WF = "wfpkg.flows.double", "wfpkg.flows.pipeline"
FLOWS = """
from flytekit import LaunchPlan, conditional, task, workflow


@task
def double(x: int) -> int:
    return 2 * x


@workflow
def pipeline(x: int = 3) -> int:
    return double(x=double(x=x))


pipeline_lp = LaunchPlan.get_or_create(pipeline, name="wfpkg.flows.pipeline_lp")


@workflow
def outer(x: int = 1) -> int:
    y = pipeline_lp(x=x)
    return conditional("sign").if_(x > 0).then(pipeline_lp(x=y)).else_().then(double(x=y))
"""


@dataclass
class Registered:
    backend: Backend
    config: Config
    execution: str  # a finished (SUCCEEDED) execution of the pipeline with x=4

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.backend.port}"


def _register_and_run(backend: Backend, work: Path) -> str:
    pkg = work / "proj" / "wfpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "flows.py").write_text(FLOWS)
    cmd = [str(VENV_BIN / "pyflyte"), "--config", str(backend.config), "register"]
    cmd += ["--project", PROJECT, "--domain", DOMAIN, "--version", "v1", "--activate-launchplans", "wfpkg"]
    proc = subprocess.run(cmd, cwd=pkg.parent, capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from flyteidl.service import admin_pb2_grpc

    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=WF, version="v1"
    )
    inputs = literals_pb2.LiteralMap()
    inputs.literals["x"].scalar.primitive.integer = 4
    with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        created = admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT,
                domain=DOMAIN,
                spec=execution_pb2.ExecutionSpec(launch_plan=lp),
                inputs=inputs,
            ),
            timeout=10,
        )
        deadline = time.monotonic() + 120
        phases = core_execution_pb2.WorkflowExecution
        while time.monotonic() < deadline:
            ex = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id), timeout=10)
            if ex.closure.phase in (phases.SUCCEEDED, phases.FAILED, phases.ABORTED, phases.TIMED_OUT):
                break
            time.sleep(0.3)
        assert ex.closure.phase == phases.SUCCEEDED, ex.closure.error.message
    return str(created.id.name)


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registered]:
    work = tmp_path_factory.mktemp("remote_fetch")
    backend = start_backend(work / "state")
    try:
        name = _register_and_run(backend, work)
        yield Registered(backend, Config.auto(backend.config), name)
    finally:
        backend.stop()


def _async_remote(r: Registered) -> AsyncFlyteRemote:
    return AsyncFlyteRemote(r.config, default_project=PROJECT, default_domain=DOMAIN)


# --- the async API ------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
async def test_fetch_entities_async(registered: Registered) -> None:
    async with _async_remote(registered) as remote:
        task = await remote.fetch_task(name=TASK)  # latest version
        assert task.id == Identifier(ResourceType.TASK, PROJECT, DOMAIN, TASK, "v1")
        assert list(task.interface.inputs.variables) == ["x"] and list(task.interface.outputs.variables) == [
            "o0"
        ]
        wf = await remote.fetch_workflow(PROJECT, DOMAIN, WF, "v1")
        assert set(wf.nodes) == {"start-node", "n0", "n1", "end-node"} and wf.launch_plans == {}
        lp = await remote.fetch_launch_plan(name=WF, version="latest")
        assert lp.id.version == "v1" and lp.workflow is not None and lp.workflow.id == wf.id
        assert lp.interface == wf.interface
        assert lp.default_inputs.parameters["x"].default.scalar.primitive.integer == 3
        active = await remote.fetch_active_launchplan(name=WF)
        assert active is not None and active.id == lp.id and active.is_active
        # the launch plans the nodes reference (a plain node and one in a branch), fetched with the workflow
        outer = await remote.fetch_workflow(name="wfpkg.flows.outer")
        lp_ref = Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, "wfpkg.flows.pipeline_lp", "v1")
        assert list(outer.launch_plans) == [lp_ref]
        assert outer.launch_plans[lp_ref].workflow_id == wf.id
        assert [t.id.name for t in await remote.list_tasks_by_version("v1")] == [TASK]
        assert [t.id.name for t in await remote.list_tasks_by_version("v9")] == []
        assert [p.id for p in await remote.list_projects()] == [PROJECT]
        assert [d.id for d in await remote.get_domains()] == ["development", "staging", "production"]
        with pytest.raises(FlyteEntityNotExistException):
            await remote.fetch_task(name="wfpkg.flows.nope")


async def test_fetch_execution_and_get_flyte_urls_async(registered: Registered) -> None:
    async with _async_remote(registered) as remote:
        ex = await remote.fetch_execution(name=registered.execution)
        assert ex.id == WorkflowExecutionIdentifier(PROJECT, DOMAIN, registered.execution)
        assert ex.is_done and ex.is_successful and ex.phase_name == "SUCCEEDED"
        assert ex.launch_plan_id.name == WF
        recent = await remote.recent_executions(limit=5)
        assert registered.execution in [e.id.name for e in recent]
        base = f"flyte://v1/{PROJECT}/{DOMAIN}/{registered.execution}"
        assert await remote.get(f"{base}/n0/i") == {"x": 4}
        assert await remote.get(f"{base}/n0/o") == {"o0": 8}
        assert await remote.get(f"{base}/n1/o/o0") == 16
        literal = await remote.get(f"{base}/n1/o/o0", as_python=False)
        assert isinstance(literal, literals_pb2.Literal) and literal.scalar.primitive.integer == 16
        assert await remote.list_signals(registered.execution) == []
        with pytest.raises(FlyteEntityNotExistException):
            await remote.get(f"flyte://v1/{PROJECT}/{DOMAIN}/nosuchexecution/n0/o")


async def test_console_urls_honour_console_endpoint(registered: Registered) -> None:
    remote = _async_remote(registered)
    console = f"http://127.0.0.1:{registered.backend.http_port}/console/projects/{PROJECT}/domains/{DOMAIN}"
    ex = WorkflowExecutionIdentifier(PROJECT, DOMAIN, "abc")
    assert remote.generate_console_url(ex) == f"{console}/executions/abc"
    node = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=ex.to_proto())
    assert remote.generate_console_url(node) == f"{console}/executions/abc"
    task = Identifier(ResourceType.TASK, PROJECT, DOMAIN, TASK, "v1")
    assert remote.generate_console_url(task) == f"{console}/task/{TASK}/version/v1"
    lp = Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, WF, "v1").to_proto()
    assert remote.generate_console_url(lp) == f"{console}/launch_plan/{WF}/version/v1"
    plain = AsyncFlyteRemote(Config(endpoint="admin.example.com:443"))
    assert plain.generate_console_url(ex).startswith("https://admin.example.com:443/console/projects/")


# --- the sync facade ----------------------------------------------------------------------------------


def test_sync_facade_same_methods(registered: Registered) -> None:
    with FlyteRemote(registered.config, default_project=PROJECT, default_domain=DOMAIN) as remote:
        assert remote.default_project == PROJECT and remote.config is registered.config
        task = remote.fetch_task(name=TASK)
        assert isinstance(task, FlyteTask) and task.id.version == "v1"
        assert remote.fetch_execution(name=registered.execution).is_successful
        base = f"flyte://v1/{PROJECT}/{DOMAIN}/{registered.execution}"
        assert remote.get(f"{base}/n1/o") == {"o0": 16}
        lazy = remote.fetch_workflow_lazy(name=WF)
        assert isinstance(lazy, LazyEntity) and lazy.name == WF and not lazy.fetched
        assert lazy.id.version == "v1" and lazy.fetched  # an attribute fetches it
        # calls from several threads share the one loop thread and channel
        results: list[str | None] = []
        threads = [threading.Thread(target=lambda: results.append(remote.fetch_task(name=TASK).version))]
        threads += [threading.Thread(target=lambda: results.append(remote.fetch_task(name=TASK).version))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results == ["v1", "v1"]
        with pytest.raises(FlyteEntityNotExistException):
            remote.fetch_launch_plan(name="nope", version="v1")


def test_async_lazy_entity_needs_await(registered: Registered) -> None:
    lazy = _async_remote(registered).fetch_task_lazy(name=TASK)
    with pytest.raises(RuntimeError, match=r"await lazy\.fetch"):
        _ = lazy.entity


# --- RPC counts, taken by the server --------------------------------------------------------------------


@pytest.fixture
def wire_server(tmp_path: Path, registered: Registered) -> Iterator[Server]:
    """The counting Admin server, holding the pipeline's task as registered on the real backend."""
    from flyteidl.service import admin_pb2_grpc

    ident = Identifier(ResourceType.TASK, PROJECT, DOMAIN, TASK, "v1").to_proto()
    with grpc.insecure_channel(registered.endpoint) as channel:
        got = admin_pb2_grpc.AdminServiceStub(channel).GetTask(
            common_pb2.ObjectGetRequest(id=ident), timeout=10
        )
    for server in serve(tmp_path / "state"):
        with grpc.insecure_channel(server.endpoint) as channel:
            spec = task_pb2.TaskSpec(template=got.closure.compiled_task.template)
            admin_pb2_grpc.AdminServiceStub(channel).CreateTask(
                task_pb2.TaskCreateRequest(id=ident, spec=spec)
            )
        server.wire.calls.clear()
        yield server


async def test_not_found_is_sent_once(wire_server: Server) -> None:
    async with AsyncFlyteRemote.for_endpoint(wire_server.endpoint, True, default_project=PROJECT) as remote:
        remote.default_domain = DOMAIN
        with pytest.raises(FlyteEntityNotExistException):
            await remote.fetch_task(name="nope", version="v1")
        assert wire_server.wire.calls["GetTask"] == 1
        with pytest.raises(FlyteEntityNotExistException, match="register it first"):
            await remote.fetch_task(name="nope")  # latest: one ListTasks finds nothing
        assert wire_server.wire.calls["ListTasks"] == 1 and wire_server.wire.calls["GetTask"] == 1
        assert await remote.fetch_active_launchplan(name="nope") is None
        assert wire_server.wire.calls["GetActiveLaunchPlan"] == 1


async def test_lazy_entity_fetches_once(wire_server: Server) -> None:
    async with AsyncFlyteRemote.for_endpoint(wire_server.endpoint, True) as remote:
        lazy = remote.fetch_task_lazy(PROJECT, DOMAIN, TASK)
        assert sum(wire_server.wire.calls.values()) == 0  # no RPC until first use
        first, second = await asyncio.gather(lazy.fetch(), lazy.fetch())
        assert first is second and (await lazy.fetch()) is first
        assert wire_server.wire.calls["ListTasks"] == 1 and wire_server.wire.calls["GetTask"] == 1


def test_sync_lazy_entity_fetches_once_across_threads(wire_server: Server) -> None:
    with FlyteRemote.for_endpoint(wire_server.endpoint, True) as remote:
        lazy = remote.fetch_task_lazy(PROJECT, DOMAIN, TASK, "v1")
        versions: list[str | None] = []
        threads = [threading.Thread(target=lambda: versions.append(lazy.version)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert versions == ["v1"] * 4
        assert wire_server.wire.calls["GetTask"] == 1 and wire_server.wire.calls["ListTasks"] == 0
