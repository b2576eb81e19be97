"""On ``shutdown`` the run service stops what it started: the worker process in the user's interpreter (and
the tracker) are gone before the server answers, not left to notice their closed pipes. Real server over
stdio, real worker; no backend is needed — the entity is serialized (which starts the worker) before the
backend is asked, and the configured endpoint is a closed port."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import VENV_PYTHON, free_port
from lsp_helpers import make_client

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(180)]

FLOWS = """
from flytekit import task


@task
def add_one(x: int) -> int:
    return x + 1
"""


def _workers(server_pid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.Process(server_pid).children(recursive=True):
        try:
            if "flyte_ls_worker" in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            pass
    return found


async def test_shutdown_stops_the_worker() -> None:
    cache = Path(tempfile.mkdtemp(prefix="flyte-ls-shutdown-cache-"))
    workspace = Path(tempfile.mkdtemp(prefix="flyte-ls-shutdown-ws-"))
    (workspace / "flows.py").write_text(FLOWS)
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "flyte_ls", "serve"],
        client_factory=make_client,
        server_env={**os.environ, "XDG_CACHE_HOME": str(cache)},
    )
    client = await config.start(None)  # type: ignore[arg-type]
    try:
        params = types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=from_fs_path(str(workspace)),
            initialization_options={
                "endpoint": f"127.0.0.1:{free_port()}",
                "insecure": True,
                "pythonPath": VENV_PYTHON,
                "local": {"autoStart": False},
            },
        )
        await asyncio.wait_for(client.initialize_session(params), 30)
        server = client._server
        assert server is not None
        uri = from_fs_path(str(workspace / "flows.py"))
        request = types.ExecuteCommandParams(
            command="flyte.register", arguments=[{"uri": uri, "entity": "add_one"}]
        )
        with pytest.raises(JsonRpcException):  # serialized by the worker, then the backend is not there
            await asyncio.wait_for(client.workspace_execute_command_async(request), 120)
        workers = _workers(server.pid)
        assert workers, "the worker should be running after a serialize"
        await asyncio.wait_for(client.shutdown_async(None), 30)
        _gone, alive = psutil.wait_procs(workers, timeout=5)
        assert not alive, f"worker processes left after shutdown: {[p.pid for p in alive]}"
        client.exit(None)
        await asyncio.wait_for(server.wait(), 15)
    finally:
        await client.stop()
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(workspace, ignore_errors=True)
