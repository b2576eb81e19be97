"""The backend in the editor over stdio: ``flyte/backendStatus``, ``flyte/projects``,
``flyte.startLocalBackend`` / ``flyte.stopLocalBackend``.

Real server processes (pytest-lsp) in a clean environment (a fresh HOME and user cache, no FLYTE_*
variables), real ``flyte-ls local`` backends: a configured endpoint that hangs (a TCP listener that never
answers), nothing configured with the local backend running in the auto-start state dir, a backend answering
at the sandbox address, the local backend started and stopped from the editor, and the local backend chosen by
``flyte.backend`` over a config file found by flytekit's discovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import VENV_PYTHON, Backend, free_port, run_cli, start_backend
from lsp_helpers import make_client, to_json, wait_until

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

STATUS_DEADLINE_S = 3.5  # the brief's "~3 s", with room for a busy machine's process start-up
REQUEST_TIMEOUT = 120.0

FLOWS = """
import time

from flytekit import task


@task
def add_one(x: int) -> int:
    return x + 1


@task
def sleepy(seconds: int) -> int:
    time.sleep(seconds)
    return seconds
"""


class Env:
    """A clean user environment: HOME, user cache (the auto-start state dir is under it), a workspace."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="flyte-ls-backend-"))
        self.home, self.cache, self.workspace = self.root / "home", self.root / "cache", self.root / "ws"
        for folder in (self.home, self.cache, self.workspace):
            folder.mkdir()
        (self.workspace / "flows.py").write_text(FLOWS)
        self.vars = {
            k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "FLYTECTL_", "_FLYTECTL_"))
        }
        self.vars.update(HOME=str(self.home), XDG_CACHE_HOME=str(self.cache))

    @property
    def local_dir(self) -> Path:
        return self.cache / "flyte-ls" / "local"

    @property
    def flows_uri(self) -> str:
        return from_fs_path(str(self.workspace / "flows.py"))

    def local_status(self) -> tuple[int, dict[str, Any]]:
        proc = run_cli("status", "--json", "--state-dir", str(self.local_dir), env=self.vars)
        return proc.returncode, json.loads(proc.stdout)

    def stop_local(self) -> None:
        run_cli("stop", "--state-dir", str(self.local_dir), env=self.vars)


@pytest.fixture
def env() -> Iterator[Env]:
    e = Env()
    try:
        yield e
    finally:
        e.stop_local()  # whatever a test left running in the auto-start state dir
        shutil.rmtree(e.root, ignore_errors=True)


@contextlib.asynccontextmanager
async def session(env: Env, settings: dict[str, Any]) -> AsyncIterator[LanguageClient]:
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "flyte_ls", "serve", "-v"],
        client_factory=make_client,
        server_env=env.vars,
    )
    client = await config.start(None)  # type: ignore[arg-type]
    try:
        params = types.InitializeParams(
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=True)
            ),
            root_uri=from_fs_path(str(env.workspace)),
            workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(env.workspace)), name="ws")],
            initialization_options={"pythonPath": VENV_PYTHON, **settings},
        )
        result = await asyncio.wait_for(client.initialize_session(params), 30)
        client.init_result = result  # type: ignore[attr-defined]
        yield client
        await asyncio.wait_for(client.shutdown_session(), 30)
    except BaseException:
        # A failed test: end the server anyway (client.stop() waits for it to exit).
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 10)
        server = getattr(client, "_server", None)
        if server is not None and server.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                server.kill()
        raise
    finally:
        await client.stop()


async def request(client: LanguageClient, method: str, params: Any, timeout: float = REQUEST_TIMEOUT) -> Any:
    return to_json(await asyncio.wait_for(client.protocol.send_request_async(method, params), timeout))


async def command(
    client: LanguageClient, name: str, *arguments: Any, timeout: float = REQUEST_TIMEOUT
) -> Any:
    params = types.ExecuteCommandParams(command=name, arguments=list(arguments))
    return to_json(await asyncio.wait_for(client.workspace_execute_command_async(params), timeout))


async def timed_status(client: LanguageClient, refresh: bool = True) -> tuple[dict[str, Any], float]:
    t0 = time.monotonic()
    status = await request(client, "flyte/backendStatus", {"refresh": True} if refresh else {})
    return status, time.monotonic() - t0


async def wait_for_phase(client: LanguageClient, name: str, phases: set[str], timeout: float = 120) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    phase = ""
    while loop.time() < deadline:
        items = await request(client, "flyte/executions", {}, 30)
        phase = next((i["phase"] for i in items if i["execution"]["name"] == name), "")
        if phase in phases:
            return phase
        await asyncio.sleep(0.3)
    raise AssertionError(f"execution {name} is {phase!r}, not in {phases}, after {timeout} s")


def _sandbox_port_taken() -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", 30080)) == 0


@contextlib.contextmanager
def hanging_endpoint() -> Iterator[str]:
    """A TCP listener that accepts connections (the kernel does) and never says a word: a hung backend."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


def _keys(status: dict[str, Any]) -> set[str]:
    return set(status)


STATUS_KEYS = {
    "endpoint",
    "source",
    "setting",
    "reachable",
    "error",
    "project",
    "domain",
    "consoleUrl",
    "configFile",
    "local",
    "autoStart",
}


async def test_a_configured_backend_that_hangs_is_reported_within_the_deadline(env: Env) -> None:
    with hanging_endpoint() as endpoint:
        async with session(env, {"endpoint": endpoint, "insecure": True, "project": "p1"}) as client:
            status, took = await timed_status(client)
            assert took < STATUS_DEADLINE_S, took
            assert _keys(status) == STATUS_KEYS, status
            assert status["endpoint"] == endpoint and status["reachable"] is False
            assert status["source"] == "setting flyte.endpoint" and status["setting"] == "flyte.endpoint"
            assert endpoint in status["error"] and "does not answer" in status["error"], status["error"]
            assert "change flyte.endpoint" in status["error"]
            assert status["consoleUrl"] == f"http://{endpoint}/console"
            assert (status["project"], status["domain"], status["autoStart"]) == ("p1", "development", True)
            assert status["local"] == {
                "stateDir": str(env.local_dir),
                "running": False,
                "adminEndpoint": None,
                "consoleUrl": None,
                "pid": None,
            }
            # Kept for a few seconds: the next one answers at once; nothing was started.
            cached, took = await timed_status(client, refresh=False)
            assert cached == status and took < 1.0
            assert env.local_status()[0] == 1
            # flyte/projects on it is an error in the commands' style, naming the endpoint and the setting.
            with pytest.raises(JsonRpcException) as err:
                await request(client, "flyte/projects", {})
            assert err.value.code == types.LSPErrorCodes.RequestFailed.value
            assert err.value.message.startswith("flyte/projects: ") and endpoint in err.value.message
            assert "flyte.endpoint" in err.value.message


async def test_a_missing_config_file_names_the_setting(env: Env) -> None:
    missing = env.root / "nope.yaml"
    async with session(env, {"configFile": str(missing)}) as client:
        status, took = await timed_status(client)
    assert took < STATUS_DEADLINE_S
    assert status["reachable"] is False and status["endpoint"] is None
    assert status["setting"] == "flyte.configFile" and str(missing) in status["error"]


async def test_nothing_configured_and_the_local_backend_running_reports_it(env: Env) -> None:
    if _sandbox_port_taken():
        pytest.skip("something answers at the sandbox address localhost:30080 (it would be reported instead)")
    local = start_backend(env.local_dir, env=env.vars)  # what an earlier editor session left running
    try:
        async with session(env, {}) as client:
            status, took = await timed_status(client)
            assert took < STATUS_DEADLINE_S, took
            assert status["reachable"] is True and status["error"] is None, status
            assert status["endpoint"] == f"127.0.0.1:{local.port}"
            assert status["source"] == f"local backend (flyte-ls local, state in {env.local_dir})"
            assert status["consoleUrl"] == f"http://127.0.0.1:{local.http_port}/console"
            assert status["configFile"] == str(env.local_dir / "config.yaml")
            assert status["local"] == {
                "stateDir": str(env.local_dir),
                "running": True,
                "adminEndpoint": f"127.0.0.1:{local.port}",
                "consoleUrl": f"http://127.0.0.1:{local.http_port}/console",
                "pid": local.proc.pid,
            }
            # Its projects and domains (the backend's defaults).
            found = await request(client, "flyte/projects", {})
            assert {"id": "flytesnacks", "name": "flytesnacks"} in found["projects"], found
            assert [d["id"] for d in found["domains"]] == ["development", "staging", "production"]
            assert all(set(d) == {"id", "name"} and d["name"] for d in found["domains"])
        # With auto start off, the one running there is still used (it is not started, only found).
        async with session(env, {"local": {"autoStart": False}}) as client:
            status, _ = await timed_status(client)
            assert status["reachable"] is True and status["autoStart"] is False
            assert (await request(client, "flyte/projects", {}))["projects"]
    finally:
        local.stop()
    # Nothing configured, nothing running: not reachable, and what the first run will do.
    async with session(env, {}) as client:
        status, _ = await timed_status(client)
        assert status["reachable"] is False and status["endpoint"] is None and status["source"] == "none"
        assert "the first Run or Register starts the local backend" in status["error"]
        assert str(env.local_dir) in status["error"] and status["local"]["running"] is False
        assert env.local_status()[0] == 1  # still nothing started
    async with session(env, {"local": {"autoStart": False}}) as client:
        status, _ = await timed_status(client)
        assert status["autoStart"] is False and "flyte.local.autoStart" in status["error"], status


async def test_something_answering_at_the_sandbox_address_is_reported(env: Env) -> None:
    if _sandbox_port_taken():
        pytest.skip("localhost:30080 is taken by something else")
    sandbox: Backend = start_backend(env.root / "sandbox-state", port=30080, http_port=None, env=env.vars)
    try:
        async with session(env, {}) as client:
            status, took = await timed_status(client)
    finally:
        sandbox.stop()
    assert took < STATUS_DEADLINE_S
    assert status["reachable"] is True and status["error"] is None
    assert (status["endpoint"], status["source"]) == ("localhost:30080", "sandbox localhost:30080")
    assert status["consoleUrl"] == "http://localhost:30080/console" and status["setting"] == "flyte.endpoint"
    assert status["local"]["running"] is False  # the auto-start state dir is another one


async def test_start_and_stop_the_local_backend_from_the_editor(env: Env) -> None:
    """With flyte.local.autoStart off: the command starts it anyway, the commands then use it, the next start
    reuses it; stop ends it and executions stay tracked."""
    async with session(env, {"local": {"autoStart": False}}) as client:
        provider = client.init_result.capabilities.execute_command_provider  # type: ignore[attr-defined]
        assert {"flyte.startLocalBackend", "flyte.stopLocalBackend"} <= set(provider.commands)
        before = set(client.progress_reports)
        started = await command(client, "flyte.startLocalBackend", {})
        assert set(started) == {"adminEndpoint", "consoleUrl", "stateDir", "started"}
        assert started["started"] is True and started["stateDir"] == str(env.local_dir)
        code, report = env.local_status()
        assert code == 0 and report["admin_endpoint"] == started["adminEndpoint"]
        assert started["consoleUrl"] == report["console_url"]
        (token,) = [
            token
            for token in set(client.progress_reports) - before
            if "local Flyte backend" in str(getattr(client.progress_reports[token][0], "title", ""))
        ]
        end = client.progress_reports[token][-1]
        assert (
            isinstance(end, types.WorkDoneProgressEnd)
            and end.message == f"started at {report['admin_endpoint']}"
        )

        status, _ = await timed_status(client)
        assert status["reachable"] is True and status["endpoint"] == started["adminEndpoint"]
        assert status["local"]["running"] is True and status["local"]["pid"] == report["pid"]
        # The commands use it (autoStart is off: nothing else would have given them a backend).
        run = await command(
            client, "flyte.execute", {"uri": env.flows_uri, "entity": "add_one", "inputs": {"x": 1}}
        )
        assert run["consoleUrl"].startswith(started["consoleUrl"])
        assert await wait_for_phase(client, run["execution"]["name"], {"SUCCEEDED", "FAILED"}) == "SUCCEEDED"
        # Started again: the running one is reused (no argument is fine too).
        again = await command(client, "flyte.startLocalBackend")
        assert again == {**started, "started": False}

        stopped = await command(client, "flyte.stopLocalBackend", {})
        assert stopped == {"stopped": True, "stateDir": str(env.local_dir)}
        assert env.local_status()[0] == 1
        status, took = await timed_status(client)
        assert took < STATUS_DEADLINE_S
        assert status["reachable"] is False and status["local"]["running"] is False
        # Tracked executions stay tracked.
        items = await request(client, "flyte/executions", {})
        assert [i["execution"]["name"] for i in items] == [run["execution"]["name"]]
        assert items[0]["phase"] == "SUCCEEDED"
        # Nothing to stop any more.
        assert await command(client, "flyte.stopLocalBackend") == {
            "stopped": False,
            "stateDir": str(env.local_dir),
        }


async def test_after_a_stop_only_a_command_starts_it_again(env: Env) -> None:
    """With auto start on, an execution still running when the backend is stopped does not make the tracker
    start it again; the next command does, and the execution then reads ABORTED (the clean stop)."""
    async with session(env, {}) as client:
        run = await command(
            client, "flyte.execute", {"uri": env.flows_uri, "entity": "sleepy", "inputs": {"seconds": 120}}
        )
        name = run["execution"]["name"]
        await wait_for_phase(client, name, {"RUNNING"})
        assert (await command(client, "flyte.stopLocalBackend"))["stopped"] is True
        await asyncio.sleep(4)  # several tracker rounds
        assert env.local_status()[0] == 1, "the tracker started the local backend again"
        items = await request(client, "flyte/executions", {})
        assert [i["execution"]["name"] for i in items] == [name]
        # A command starts it again (auto start), and the tracker then sees how the execution ended.
        found = await request(client, "flyte/projects", {})
        assert found["projects"]
        assert env.local_status()[0] == 0
        assert await wait_for_phase(client, name, {"ABORTED", "FAILED", "SUCCEEDED"}) == "ABORTED"


def test_the_stop_cli_is_what_the_server_runs(env: Env) -> None:
    """``flyte-ls local stop`` on the auto-start state dir with nothing there: exit 0 (what the server's
    stop relies on)."""
    proc = subprocess.run(
        [VENV_PYTHON, "-m", "flyte_ls", "local", "stop", "--json", "--state-dir", str(env.local_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env.vars,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["stopped"] is False


def _discovered_config(env: Env) -> tuple[Path, str]:
    """A ``~/.flyte/config.yaml`` (HOME is the server's) naming a cluster where nothing answers."""
    down = f"127.0.0.1:{free_port()}"
    path = env.home / ".flyte" / "config.yaml"
    path.parent.mkdir()
    path.write_text(f"admin:\n  endpoint: dns:///{down}\n  insecure: true\n")
    return path, down


async def test_backend_local_wins_over_a_discovered_config(env: Env) -> None:
    """``flyte.backend: "local"``: a ``~/.flyte/config.yaml`` flytekit's discovery finds is ignored; the
    status names the local backend chosen by the setting without starting it; a Run starts it (auto start
    off: the user chose it) and runs there; ``flyte/projects`` lists its projects. Back to ``auto``: the
    config file again."""
    config, down = _discovered_config(env)
    source = f"local backend chosen by flyte.backend (flyte-ls local, state in {env.local_dir})"
    settings = {"backend": "local", "local": {"autoStart": False}}
    async with session(env, settings) as client:
        status, took = await timed_status(client)
        assert took < STATUS_DEADLINE_S, took
        assert _keys(status) == STATUS_KEYS, status
        assert (status["source"], status["setting"], status["reachable"]) == (source, "flyte.backend", False)
        assert status["endpoint"] is None and "the first Run or Register starts it" in status["error"]
        assert env.local_status()[0] == 1  # a status starts nothing

        run = await command(
            client, "flyte.execute", {"uri": env.flows_uri, "entity": "add_one", "inputs": {"x": 41}}
        )
        code, report = env.local_status()
        assert code == 0, report
        assert run["consoleUrl"].startswith(report["console_url"]), run
        assert await wait_for_phase(client, run["execution"]["name"], {"SUCCEEDED", "FAILED"}) == "SUCCEEDED"
        assert any("Started the local Flyte backend" in m.message for m in client.messages)

        status, _ = await timed_status(client)
        assert (status["source"], status["setting"], status["reachable"], status["error"]) == (
            source,
            "flyte.backend",
            True,
            None,
        )
        assert status["endpoint"] == report["admin_endpoint"] and status["local"]["pid"] == report["pid"]
        found = await request(client, "flyte/projects", {})
        assert {"id": "flytesnacks", "name": "flytesnacks"} in found["projects"], found

        # flyte.backend back to auto (as Select Profile writes it): the discovered config file wins again.
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={
                    "flyte": {"pythonPath": VENV_PYTHON, "backend": "auto", "local": {"autoStart": False}}
                }
            )
        )
        deadline = time.monotonic() + 30
        while (status := (await timed_status(client))[0])["setting"] == "flyte.backend":
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.2)
        assert status["endpoint"] == down and status["reachable"] is False, status
        assert str(config) in status["source"] and "discovery" in status["source"]


async def test_a_bad_backend_value_is_reported_and_auto_used(env: Env) -> None:
    config, down = _discovered_config(env)
    async with session(env, {"backend": "cluster"}) as client:
        warnings = await wait_until(
            lambda: [m.message for m in client.messages if "flyte.backend" in m.message], "a settings warning"
        )
        assert 'Invalid setting flyte.backend = "cluster": must be one of "auto", "local"' in warnings[0]
        assert 'Using the default ("auto")' in warnings[0]
        status, _ = await timed_status(client)
        assert status["endpoint"] == down and status["reachable"] is False, status
        assert status["source"] == f"from {config}, found by flytekit's config discovery"
        # Like a command, flyte/projects goes to the discovered backend: an error naming it, nothing started.
        with pytest.raises(JsonRpcException) as err:
            await request(client, "flyte/projects", {})
        assert down in err.value.message
        assert env.local_status()[0] == 1
