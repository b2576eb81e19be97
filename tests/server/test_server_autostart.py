"""The embedded default (issue 5 §6): with nothing configured — no settings, no Flyte config file, no FLYTE_*
variables — and nothing answering, the first run starts the local backend (state in the user cache directory),
tells the user once where it is (window/showMessage), and the run succeeds on it. Real server over stdio, real
worker, a real detached `flyte-ls local start` (stopped at the end)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil
import pytest
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import VENV_PYTHON
from lsp_helpers import make_client, to_json

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

FLOWS = """
from flytekit import task


@task
def add_one(x: int) -> int:
    return x + 1
"""


def _stop_local_backend(state_dir: Path, env: dict[str, str]) -> None:
    status = subprocess.run(
        [VENV_PYTHON, "-m", "flyte_ls", "local", "status", "--json", "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    report = json.loads(status.stdout or "{}")
    pid = report.get("pid")
    if not (isinstance(pid, int) and pid > 0):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        process = psutil.Process(pid)
        process.wait(30)
    except (ProcessLookupError, psutil.NoSuchProcess):
        pass
    except psutil.TimeoutExpired:
        process.kill()


async def test_nothing_configured_starts_the_local_backend_once_and_runs_there() -> None:
    root = Path(tempfile.mkdtemp(prefix="flyte-ls-autostart-"))
    home, cache, workspace = root / "home", root / "cache", root / "ws"
    for folder in (home, cache, workspace):
        folder.mkdir()
    (workspace / "flows.py").write_text(FLOWS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "FLYTECTL_", "_FLYTECTL_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(cache))
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "flyte_ls", "serve", "-v"],
        client_factory=make_client,
        server_env=env,
    )
    client = await config.start(None)  # type: ignore[arg-type]
    state_dir = cache / "flyte-ls" / "local"
    try:
        params = types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=from_fs_path(str(workspace)),
            workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(workspace)), name="ws")],
            initialization_options={"pythonPath": VENV_PYTHON},  # the interpreter only: no backend settings
        )
        await asyncio.wait_for(client.initialize_session(params), 30)
        uri = from_fs_path(str(workspace / "flows.py"))

        async def run() -> dict[str, Any]:
            request = types.ExecuteCommandParams(
                command="flyte.execute", arguments=[{"uri": uri, "entity": "add_one", "inputs": {"x": 41}}]
            )
            return dict(to_json(await asyncio.wait_for(client.workspace_execute_command_async(request), 200)))

        first = await run()
        started = [m.message for m in client.messages if "local Flyte backend" in m.message]
        assert len(started) == 1 and "Started" in started[0], [m.message for m in client.messages]
        assert str(state_dir) in started[0], started[0]
        assert (state_dir / "config.yaml").is_file()
        assert "127.0.0.1" in first["consoleUrl"] or "localhost" in first["consoleUrl"], first

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        phase = ""
        while phase not in ("SUCCEEDED", "FAILED", "ABORTED"):
            assert loop.time() < deadline, f"still {phase}"
            await asyncio.sleep(0.3)
            items = to_json(
                await asyncio.wait_for(client.protocol.send_request_async("flyte/executions", {}), 30)
            )
            phase = next(i["phase"] for i in items if i["execution"]["name"] == first["execution"]["name"])
        assert phase == "SUCCEEDED"

        await run()  # the second run uses the same backend and says nothing more
        assert len([m for m in client.messages if "local Flyte backend" in m.message]) == 1
        await asyncio.wait_for(client.shutdown_session(), 30)
    finally:
        await client.stop()
        _stop_local_backend(state_dir, env)
        shutil.rmtree(root, ignore_errors=True)
