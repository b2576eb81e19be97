"""The Python a notebook's tasks run on, checked before anything is pickled or uploaded, over stdio
(pytest-lsp) on a real local backend, with the test venv (Python 3.11) as the notebook's interpreter:

* a configured endpoint and ``flyte.image`` = a ``py3.10`` flytekit image: ``flyte.execute`` from a cell is
  refused with the message that names both Pythons and what to change; the backend has no task and no upload;
* the same image, but ``flyte.backend`` = ``"local"`` (the backend runs in the server's user cache, so the
  server finds it with ``flyte-ls local status``): the check uses the local backend's interpreter (3.11),
  which the image does not change, and the run succeeds with its status in the cell.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_lsp
from flyteidl.admin import common_pb2
from flyteidl.service import admin_pb2_grpc
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import VENV_PYTHON, Backend, start_backend
from lsp_helpers import (
    command,
    logged,
    make_client,
    open_notebook,
    start_notebook_session,
    to_json,
    wait_until,
)

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

CACHE = Path(tempfile.mkdtemp(prefix="flyte-ls-nbpy-cache-"))
LOCAL_DIR = CACHE / "flyte-ls" / "local"  # the server's local backend dir (XDG_CACHE_HOME=CACHE)
WORKSPACE = Path(tempfile.mkdtemp(prefix="flyte-ls-nbpy-ws-"))
NOTEBOOK = WORKSPACE / "flows.ipynb"
PY310_IMAGE = "cr.flyte.org/flyteorg/flytekit:py3.10-1.16.0"
CONFIG = ClientServerConfig(
    server_command=[sys.executable, "-m", "flyte_ls", "serve", "-v"],
    client_factory=make_client,
    server_env={**os.environ, "XDG_CACHE_HOME": str(CACHE)},
)
RUN_DEADLINE = 180.0


@pytest.fixture(scope="module", autouse=True)
def backend():
    shutil.copy(Path(__file__).parent / "data" / "flows.ipynb", NOTEBOOK)
    started = start_backend(LOCAL_DIR)
    try:
        yield started
    finally:
        started.stop()
        for folder in (CACHE, WORKSPACE):
            shutil.rmtree(folder, ignore_errors=True)


def configured(local: Backend, **extra: Any) -> dict[str, Any]:
    """The settings: the test backend as a configured endpoint (a cluster, for all the server knows), the
    test venv as the notebook's interpreter, a py3.10 image."""
    return {
        "endpoint": f"127.0.0.1:{local.port}",
        "insecure": True,
        "pythonPath": VENV_PYTHON,
        "image": PY310_IMAGE,
        "local": {"autoStart": False},
        **extra,
    }


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    backend: Backend = request.getfixturevalue("backend")
    await start_notebook_session(lsp_client, WORKSPACE, configured(backend))
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), 30)


def task_names(backend: Backend) -> list[str]:
    """The names of the tasks registered on the backend, asked of its Admin service."""
    with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        request = common_pb2.NamedEntityIdentifierListRequest(
            project="flytesnacks", domain="development", limit=100
        )
        return sorted(e.name for e in stub.ListTaskIds(request, timeout=30).entities)


def uploaded(backend: Backend) -> list[Path]:
    return [p for p in (backend.state_dir / "uploads").rglob("*") if p.is_file()]


@pytest.mark.asyncio
async def test_a_py310_image_is_refused_before_anything_is_uploaded(
    client: LanguageClient, backend: Backend
) -> None:
    mine = platform.python_version()  # the test venv is the notebook's interpreter
    assert not mine.startswith("3.10."), "the test needs a notebook interpreter that is not Python 3.10"
    add_cell = open_notebook(client, NOTEBOOK)[2]

    with pytest.raises(JsonRpcException) as err:
        await command(client, "flyte.execute", {"uri": add_cell, "entity": "add", "inputs": {"x": 1}})
    message = err.value.message
    assert message.startswith(
        f"flyte.execute: the notebook's interpreter {VENV_PYTHON} (flyte.pythonPath: select the kernel's "
        f"interpreter) is Python {mine}, but its tasks would run on Python 3.10, the image's: flyte.image is "
        f"{PY310_IMAGE}."
    ), message
    assert f"set flyte.image to an image with Python {'.'.join(mine.split('.')[:2])}" in message, message
    assert err.value.code == types.LSPErrorCodes.RequestFailed.value
    assert to_json(err.value.data)["kind"] == "pythonVersion"
    assert logged(client, "add: pythonVersionCheck 3.10 (image: ")

    # Nothing reached the backend: no task, no upload.
    assert task_names(backend) == []
    assert uploaded(backend) == []


@pytest.mark.asyncio
async def test_the_local_backend_in_use_runs_the_cell_on_its_own_python(
    client: LanguageClient, backend: Backend
) -> None:
    """``flyte.backend`` = ``"local"``: the same py3.10 image does not matter; the check is the local
    backend's interpreter's Python (recorded in its status), equal to the notebook's: the run succeeds."""
    add_cell = open_notebook(client, NOTEBOOK)[2]
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"flyte": configured(backend, backend="local")})
    )
    launched = await command(client, "flyte.execute", {"uri": add_cell, "entity": "add", "inputs": {"x": 41}})
    name = launched["execution"]["name"]
    local_python = backend.status["python_version"]
    assert local_python == platform.python_version()
    assert logged(client, f"add: pythonVersionCheck {local_python} (local: {VENV_PYTHON})")
    assert logged(client, f"Using the local Flyte backend at 127.0.0.1:{backend.port}")

    def succeeded() -> list[types.Diagnostic]:
        return [
            d
            for d in client.diagnostics.get(add_cell, [])
            if d.source == "flyte-exec" and "SUCCEEDED" in d.message
        ]

    found = await wait_until(succeeded, f"the SUCCEEDED status of {name} in cell 2", RUN_DEADLINE)
    assert [d.range.start.line for d in found] == [4], found
    assert "o0=42" in found[0].message, found[0].message
    assert task_names(backend) == ["add"]
