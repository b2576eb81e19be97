"""The worker when things go wrong, with real processes: an interpreter without flytekit, interpreter
discovery on PATH, a user module that hangs or exits at import, a hung worker, a worker killed with -9,
a worker that keeps dying."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from userproj import VENV_PYTHON, base_python, write_project

from flyte_ls.run import worker_client
from flyte_ls.run.worker_client import WorkerClient, WorkerError

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("proj"))


@pytest.fixture(scope="module")
def no_flytekit(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real venv without flytekit (made from the interpreter the test venv was made from)."""
    folder = tmp_path_factory.mktemp("venv-no-flytekit")
    subprocess.run([base_python(), "-m", "venv", "--without-pip", str(folder)], check=True, timeout=60)
    python = str(folder / "bin" / "python")
    probe = subprocess.run([python, "-c", "import flytekit"], capture_output=True, timeout=30, check=False)
    assert probe.returncode != 0
    return python


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[WorkerClient]:
    c = WorkerClient(VENV_PYTHON, cache_dir=tmp_path)
    yield c
    await c.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not alive: look at its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def test_an_interpreter_without_flytekit_is_named_with_the_remedy(
    no_flytekit: str, tmp_path: Path
) -> None:
    client = WorkerClient(no_flytekit, cache_dir=tmp_path)
    for _ in range(4):  # a setup problem: the same clear message every time, never a back-off
        with pytest.raises(WorkerError) as info:
            await client.start()
        err = info.value
        assert err.kind == "flytekit"
        assert f"flytekit is not importable in {no_flytekit}" in err.message
        assert "pip install flytekit" in err.message and "flyte.pythonPath" in err.message
    await client.close()


async def test_a_flytekit_older_than_1_10(no_flytekit: str, tmp_path: Path) -> None:
    old = tmp_path / "old" / "flytekit"
    old.mkdir(parents=True)
    (old / "__init__.py").write_text('__version__ = "1.9.3"\n')
    client = WorkerClient(no_flytekit, cache_dir=tmp_path, env={"PYTHONPATH": str(old.parent)})
    with pytest.raises(WorkerError) as info:
        await client.start()
    err = info.value
    assert err.kind == "flytekit" and f"the flytekit in {no_flytekit} is too old" in err.message
    assert "1.9.3" in err.message and "pip install -U flytekit" in err.message
    await client.close()


async def test_a_missing_interpreter(tmp_path: Path) -> None:
    client = WorkerClient(str(tmp_path / "nope" / "python"), cache_dir=tmp_path)
    with pytest.raises(WorkerError) as info:
        await client.start()
    assert info.value.kind == "flytekit" and str(tmp_path / "nope" / "python") in info.value.message


async def test_the_first_python3_on_path_that_imports_flytekit(
    no_flytekit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, target in ((first, no_flytekit), (second, VENV_PYTHON)):
        folder.mkdir()
        (folder / "python3").write_text(f'#!/bin/sh\nexec "{target}" "$@"\n')
        (folder / "python3").chmod(0o755)
    monkeypatch.setenv("PATH", f"{first}{os.pathsep}{second}")
    client = WorkerClient(cache_dir=tmp_path)
    try:
        await client.start()
        assert client.python == str(second / "python3")
    finally:
        await client.close()
    monkeypatch.setenv("PATH", str(first))
    with pytest.raises(WorkerError) as info:
        await WorkerClient(cache_dir=tmp_path).start()
    assert "no python3 on PATH can import flytekit" in info.value.message and str(first) in info.value.message


async def test_the_editors_interpreter_unless_one_is_set(no_flytekit: str, tmp_path: Path) -> None:
    client = WorkerClient(editor_python=VENV_PYTHON, cache_dir=tmp_path)
    try:
        assert (await client.start()).python == VENV_PYTHON
    finally:
        await client.close()
    with pytest.raises(WorkerError, match="not importable in"):
        await WorkerClient(no_flytekit, editor_python=VENV_PYTHON, cache_dir=tmp_path).start()


async def test_a_module_that_hangs_at_import_is_stopped_at_the_deadline(
    client: WorkerClient, root: Path
) -> None:
    pid = (await client.start()).pid
    started = time.monotonic()
    with pytest.raises(WorkerError) as info:
        await client.serialize(root / "app" / "sleepy.py", "x", root, timeout=2)
    assert 2 <= time.monotonic() - started < 8
    assert info.value.kind == "timeout" and "longer than 2 s" in info.value.message
    result = await client.serialize(root / "app" / "flows.py", "triple", root)  # the next one works
    assert result.target.name == "app.flows.triple" and (await client.start()).pid == pid


async def test_os_exit_at_import_ends_the_child_not_the_worker(client: WorkerClient, root: Path) -> None:
    pid = (await client.start()).pid
    with pytest.raises(WorkerError) as info:
        await client.serialize(root / "app" / "exits.py", "x", root)
    assert info.value.kind == "import" and "exited with code 7" in info.value.message
    assert alive(pid) and client.running and (await client.start()).pid == pid
    assert (await client.serialize(root / "app" / "flows.py", "triple", root)).tasks


async def test_a_process_the_import_started_does_not_hold_the_reply(client: WorkerClient, root: Path) -> None:
    started = time.monotonic()
    result = await client.serialize(root / "app" / "forks.py", "forked", root, timeout=15)
    assert result.target.name == "app.forks.forked" and time.monotonic() - started < 10


async def test_a_cancelled_request_leaves_the_worker_in_step(client: WorkerClient, root: Path) -> None:
    pid = (await client.start()).pid
    slow = asyncio.create_task(client.serialize(root / "app" / "sleepy.py", "x", root, timeout=2))
    await asyncio.sleep(0.5)
    slow.cancel()  # its reply (a timeout error) still comes, later, and must not answer the next request
    with pytest.raises(asyncio.CancelledError):
        await slow
    result = await client.serialize(root / "app" / "flows.py", "triple", root)
    assert result.target.name == "app.flows.triple" and (await client.start()).pid == pid


async def test_a_hung_worker_is_killed_at_the_deadline_and_restarted(
    client: WorkerClient, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_client, "GRACE_S", 1.0)
    pid = (await client.start()).pid
    os.kill(pid, signal.SIGSTOP)  # the worker itself stops answering
    started = time.monotonic()
    with pytest.raises(WorkerError) as info:
        await client.serialize(root / "app" / "flows.py", "triple", root, timeout=1)
    assert time.monotonic() - started < 6
    assert info.value.kind == "timeout" and VENV_PYTHON in info.value.message
    assert not alive(pid)
    result = await client.serialize(root / "app" / "flows.py", "triple", root)
    assert result.tasks and (await client.start()).pid != pid


async def test_a_worker_killed_with_sigkill_is_restarted(client: WorkerClient, root: Path) -> None:
    pid = (await client.start()).pid
    os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.2)
    result = await client.serialize(root / "app" / "flows.py", "main", root)  # restarted, retried once
    assert result.target.name == "app.flows.main"
    assert (await client.start()).pid != pid


async def test_a_worker_that_keeps_dying_backs_off(
    client: WorkerClient, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        pid = (await client.start()).pid
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            await asyncio.sleep(0.05)
        with pytest.raises(WorkerError):
            await client._request("hello", {}, 5.0, what="saying hello")  # notices the death
    with pytest.raises(WorkerError) as info:
        await client.start()
    assert "3 times in a row" in info.value.message and "trying again in" in info.value.message
    monkeypatch.setattr(client, "_retry_at", 0.0)  # the back-off elapsed
    assert (await client.serialize(root / "app" / "flows.py", "triple", root)).tasks
