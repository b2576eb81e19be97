"""flyte_ls.run.backend: the local backend started (a real, detached `flyte-ls local start`) when nothing is
configured and nothing answers, reused by the next Backend, left running when the Backend closes (stopped by
the test); a configured endpoint that does not answer, or auto start turned off, gives a clear error within
seconds and starts nothing."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte_ls.remote.identifiers import WorkflowExecutionIdentifier
from flyte_ls.run.backend import Backend, BackendError
from flyte_ls.run.paths import local_backend_dir, user_cache_dir, workspace_state_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import VENV_PYTHON, free_port

COMMAND = [VENV_PYTHON, "-m", "flyte_ls"]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config anywhere: a fresh HOME, cache and workspace; no FLYTE_* / FLYTECTL_CONFIG variables."""
    for name in list(os.environ):
        if name.startswith(("FLYTE_", "FLYTECTL_", "_FLYTECTL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "home").mkdir()
    (tmp_path / "ws").mkdir()
    return tmp_path / "ws"


def nothing_there() -> str:
    return f"127.0.0.1:{free_port()}"


def make(workspace: Path, **kwargs: object) -> Backend:
    kwargs.setdefault("default_endpoint", nothing_there())
    return Backend(command=COMMAND, local_python=VENV_PYTHON, cwd=workspace, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Local backends the test's Backends started: stopped at the end whatever happens."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def test_paths(clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert user_cache_dir() == tmp_path / "cache" / "flyte-ls"
    assert local_backend_dir() == tmp_path / "cache" / "flyte-ls" / "local"
    link = tmp_path / "ws-link"
    link.symlink_to(clean_env)
    assert workspace_state_dir(link) == workspace_state_dir(clean_env)
    assert workspace_state_dir(clean_env).parent == user_cache_dir() / "workspaces"
    assert workspace_state_dir(tmp_path) != workspace_state_dir(clean_env)
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert user_cache_dir() == tmp_path / "home" / ".cache" / "flyte-ls"


@pytest.mark.timeout(240)
async def test_auto_start_reuse_and_survive(clean_env: Path, started: list[subprocess.Popen[bytes]]) -> None:
    messages: list[str] = []
    first = make(clean_env, on_message=messages.append)
    t0 = time.monotonic()
    try:
        remote = await first.ensure()
    finally:
        if first.started_process is not None:
            started.append(first.started_process)
    start_s = time.monotonic() - t0
    assert first.started_process is not None
    status = first.local_status
    assert status is not None and status["pid"] == first.started_process.pid
    # started: the local backend is the one in use; its tasks run on the interpreter it was given
    assert first.local_in_use == status and status["python_version"] == platform.python_version()
    assert Path(status["state_dir"]) == local_backend_dir()
    assert messages == [first.notice]
    assert messages[0].startswith(f"Started the local Flyte backend at {status['admin_endpoint']} (console ")
    assert status["console_url"] in messages[0]
    assert {d.id for d in await remote.get_domains()} >= {"development"}
    assert remote.default_project == "flytesnacks" and remote.default_domain == "development"
    assert remote.generate_console_url(
        WorkflowExecutionIdentifier("flytesnacks", "development", "x")
    ).startswith(status["console_url"].rsplit("/console", 1)[0])

    # warm: the same remote, no new check, no second notice
    t0 = time.monotonic()
    assert await first.ensure() is remote
    assert time.monotonic() - t0 < 0.05
    first.invalidate()
    assert await first.ensure() is remote  # checked again: still the same backend
    assert messages == [first.notice]

    # the Backend closes; the local backend it started keeps running
    await first.aclose()
    assert first.started_process.poll() is None

    # the next Backend (another server) finds it and reuses it
    reused = make(clean_env, on_message=messages.append)
    try:
        remote2 = await reused.ensure()
        assert reused.started_process is None
        assert reused.local_status is not None and reused.local_status["pid"] == status["pid"]
        assert reused.local_in_use == reused.local_status  # found running: in use as well
        assert messages[-1].startswith(f"Using the local Flyte backend at {status['admin_endpoint']}")
        assert {d.id for d in await remote2.get_domains()} >= {"development"}
    finally:
        await reused.aclose()

    # something answering at the default (sandbox) address is used as is: nothing started, no notice
    sandbox = make(clean_env, default_endpoint=status["admin_endpoint"], on_message=messages.append)
    try:
        remote3 = await sandbox.ensure()
        assert remote3.config.endpoint == status["admin_endpoint"]
        assert sandbox.started_process is None and sandbox.notice is None
        assert sandbox.local_in_use is None  # the same process, but reached as the sandbox: not known local
    finally:
        await sandbox.aclose()

    # an explicit endpoint that answers
    explicit = make(
        clean_env, endpoint=status["admin_endpoint"], insecure=True, console_endpoint="http://c:1"
    )
    try:
        remote4 = await explicit.ensure()
        assert (
            remote4.generate_console_url(WorkflowExecutionIdentifier("p", "d", "n"))
            == "http://c:1/console/projects/p/domains/d/executions/n"
        )
        assert explicit.local_in_use is None  # a configured endpoint
    finally:
        await explicit.aclose()

    # the local backend dies: the next check finds it gone and starts another one, announced again
    first.started_process.send_signal(signal.SIGTERM)
    first.started_process.wait(30)
    try:
        first.invalidate()
        remote5 = await first.ensure()
        assert first.started_process is not None and first.started_process.poll() is None
        started.append(first.started_process)
        assert first.local_status is not None and first.local_status["pid"] != status["pid"]
        assert len(messages) == 3 and messages[-1].startswith("Started the local Flyte backend at ")
        assert {d.id for d in await remote5.get_domains()} >= {"development"}
    finally:
        await first.aclose()
    print(f"auto start took {start_s:.1f} s")


@pytest.mark.timeout(60)
async def test_configured_endpoint_down_is_an_error(clean_env: Path) -> None:
    down = nothing_there()
    backend = make(clean_env, endpoint=down, insecure=True)
    t0 = time.monotonic()
    with pytest.raises(BackendError) as err:
        await backend.ensure()
    assert time.monotonic() - t0 < 5
    message = str(err.value)
    assert down in message and "flyte.endpoint" in message and "does not answer" in message
    assert err.value.setting == "flyte.endpoint"
    assert backend.started_process is None
    assert not (local_backend_dir() / "status.json").exists()


@pytest.mark.timeout(60)
async def test_config_file_endpoint_down(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = nothing_there()
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: dns:///{down}\n  insecure: true\n")
    backend = make(clean_env, config_file=str(config))
    with pytest.raises(BackendError) as err:
        await backend.ensure()
    assert down in str(err.value) and "flyte.configFile" in str(err.value) and str(config) in str(err.value)

    # the same file found by discovery (FLYTECTL_CONFIG): still configured, so no auto start
    monkeypatch.setenv("FLYTECTL_CONFIG", str(config))
    discovered = make(clean_env)
    t0 = time.monotonic()
    with pytest.raises(BackendError) as err:
        await discovered.ensure()
    assert time.monotonic() - t0 < 5
    assert down in str(err.value) and "discovery" in str(err.value)
    assert discovered.started_process is None

    missing = make(clean_env, config_file=str(tmp_path / "nope.yaml"))
    with pytest.raises(BackendError, match=r"flyte\.configFile names .*nope\.yaml"):
        await missing.ensure()


@pytest.mark.timeout(60)
async def test_auto_start_off_is_an_error(clean_env: Path) -> None:
    backend = make(clean_env, auto_start=False)
    t0 = time.monotonic()
    with pytest.raises(BackendError) as err:
        await backend.ensure()
    assert time.monotonic() - t0 < 5
    assert "flyte.local.autoStart" in str(err.value) and backend.default_endpoint in str(err.value)
    assert err.value.setting == "flyte.local.autoStart"
    assert backend.started_process is None


@pytest.mark.timeout(240)
async def test_local_only_ignores_what_is_configured(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[subprocess.Popen[bytes]]
) -> None:
    """``flyte.backend`` = ``"local"``: a discovered config file (FLYTECTL_CONFIG), FLYTE_PLATFORM_URL and an
    endpoint setting that point where nothing answers are ignored; the local backend is started although
    auto start is off; status reports it as chosen by flyte.backend; after a stop only a command starts it."""
    down = nothing_there()
    config = tmp_path / "cluster.yaml"
    config.write_text(f"admin:\n  endpoint: dns:///{down}\n  insecure: true\n")
    monkeypatch.setenv("FLYTECTL_CONFIG", str(config))
    monkeypatch.setenv("FLYTE_PLATFORM_URL", down)
    source = f"local backend chosen by flyte.backend (flyte-ls local, state in {local_backend_dir()})"

    auto = make(clean_env, auto_start=False)  # today's resolution: the discovered file, which does not answer
    with pytest.raises(BackendError, match="does not answer"):
        await auto.ensure()

    messages: list[str] = []
    backend = make(clean_env, endpoint=down, auto_start=False, local_only=True, on_message=messages.append)
    try:
        before = await backend.status(refresh=True)  # nothing started by a status
        assert (before["source"], before["setting"], before["reachable"]) == (source, "flyte.backend", False)
        assert before["endpoint"] is None and "the first Run or Register starts it" in before["error"]
        assert not (local_backend_dir() / "status.json").exists()

        try:
            remote = await backend.ensure()
        finally:
            if backend.started_process is not None:
                started.append(backend.started_process)
        status = backend.local_status
        assert status is not None and backend.started_process is not None
        assert remote.config.endpoint == status["admin_endpoint"] and remote.config.insecure is True
        assert backend.local_in_use == status  # chosen by flyte.backend: its tasks' Python is the check's
        assert messages and messages[0].startswith(
            f"Started the local Flyte backend at {status['admin_endpoint']}"
        )
        assert {d.id for d in await remote.get_domains()} >= {"development"}

        now = await backend.status(refresh=True)
        assert (now["source"], now["setting"], now["reachable"], now["error"]) == (
            source,
            "flyte.backend",
            True,
            None,
        )
        assert now["endpoint"] == status["admin_endpoint"] and now["local"]["running"] is True

        # Stopped from the editor: the tracker's ensure does not start it again, a command does.
        assert (await backend.stop_local())["stopped"] is True
        assert backend.local_in_use is None
        with pytest.raises(BackendError, match="stopped from the editor") as err:
            await backend.ensure(start_after_stop=False)
        assert err.value.setting == "flyte.backend"
        held = await backend.status(refresh=True)
        assert held["setting"] == "flyte.backend" and "stopped from the editor" in held["error"]
        again = await backend.ensure()
        started.append(backend.started_process)  # type: ignore[arg-type]
        assert backend.local_status is not None and backend.local_status["pid"] != status["pid"]
        assert again.config.endpoint == backend.local_status["admin_endpoint"]
    finally:
        await backend.aclose()
