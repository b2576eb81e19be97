"""A toggle per lens kind (``codeLens.run``, ``.register``, ``.info``, ``.outcome``, ``.rerun``,
``.openConsole``): over stdio, each setting switched off removes its lens kind and nothing else, switched
on again brings it back; all of them off leave the entity without lenses. The execution lenses come from a
tracked execution resumed from the state file (no backend needed), for a client that gets complete lenses
(VS Code) and one that resolves them (Neovim)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from flyte_ls.run.paths import workspace_state_dir
from flyte_ls.run.tracker import Tracked

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import free_port
from lsp_helpers import make_client

pytestmark = pytest.mark.timeout(120)

CACHE = Path(tempfile.mkdtemp(prefix="flyte-ls-lens-toggles-cache-"))
WORKSPACE = Path(tempfile.mkdtemp(prefix="flyte-ls-lens-toggles-ws-"))
SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "flyte_ls", "serve", "-v"],
    client_factory=make_client,
    server_env={**os.environ, "XDG_CACHE_HOME": str(CACHE)},
)
WAIT_S = 20.0

FLOWS = """from flytekit import task, workflow


@task
def add(x: int) -> int:
    return x + 1


@workflow
def wf(x: int) -> int:
    return add(x=x)
"""
FLOWS_PATH = WORKSPACE / "flows.py"
FLOWS_URI = from_fs_path(str(FLOWS_PATH))
LENS_LINE = 8  # the @workflow decorator of wf

# setting -> how its lens's title starts
KINDS = {
    "run": "▶ Run",
    "register": "⬆ Register",
    "info": "workflow · 1 input → 1 output",
    "outcome": "✓ SUCCEEDED",
    "rerun": "⟳ Re-run",
    "openConsole": "Open console",
}


def _write_state() -> None:
    FLOWS_PATH.write_text(FLOWS)
    execution = {"project": "flytesnacks", "domain": "development", "name": "lens01"}
    url = "http://127.0.0.1:1/console/projects/flytesnacks/domains/development/executions/lens01"
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))
    done = Tracked(execution, FLOWS_URI, "wf", "SUCCEEDED", url, started, duration=3.0, inputs={"x": 1})
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(CACHE)  # the server's user cache (paths read it at each call)
    try:
        state = workspace_state_dir(WORKSPACE)
    finally:
        if saved is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = saved
    state.mkdir(parents=True, exist_ok=True)
    (state / "executions.json").write_text(json.dumps({"version": 1, "executions": [done.to_json()]}))


BASE_SETTINGS: dict[str, Any] = {
    "endpoint": f"127.0.0.1:{free_port()}",  # nothing there: no lens needs a backend
    "insecure": True,
    "local": {"autoStart": False},
}


@pytest_lsp.fixture(config=SERVER, scope="module", params=["visual-studio-code", "neovim"])
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    _write_state()
    params = types.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=from_fs_path(str(WORKSPACE)),
        workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(WORKSPACE)), name="ws")],
        initialization_options=BASE_SETTINGS,
    )
    await asyncio.wait_for(lsp_client.initialize_session(params), 30)
    lsp_client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=FLOWS_URI, language_id="python", version=1, text=FLOWS)
        )
    )
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), 30)


@pytest.fixture(scope="module", autouse=True)
def cleanup():
    yield
    for folder in (CACHE, WORKSPACE):
        shutil.rmtree(folder, ignore_errors=True)


def configure(client: LanguageClient, code_lens: dict[str, bool]) -> None:
    """The new settings, pulled (workspace/configuration) or pushed, whichever the client does."""
    settings = {**BASE_SETTINGS, "codeLens": code_lens}
    client.set_configuration(settings, section="flyte")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"flyte": settings})
    )


async def titles(client: LanguageClient) -> list[str]:
    params = types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=FLOWS_URI))
    lenses = await asyncio.wait_for(client.text_document_code_lens_async(params), WAIT_S)
    out = []
    for lens in lenses or []:
        if lens.range.start.line != LENS_LINE:
            continue
        if lens.command is None:
            lens = await asyncio.wait_for(client.code_lens_resolve_async(lens), WAIT_S)
        assert lens.command is not None
        out.append(lens.command.title)
    return out


def kinds_of(shown: list[str]) -> list[str]:
    return [next(k for k, start in KINDS.items() if title.startswith(start)) for title in shown]


async def until_kinds(client: LanguageClient, expected: Callable[[list[str]], bool]) -> list[str]:
    """The lens kinds once they satisfy ``expected`` (a settings change applies asynchronously)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        kinds = kinds_of(await titles(client))
        if expected(kinds) or loop.time() > deadline:
            return kinds
        await asyncio.sleep(0.1)


async def test_every_lens_kind_shows_by_default(client: LanguageClient) -> None:
    everything = list(KINDS)
    kinds = await until_kinds(client, lambda k: k == everything)  # the state loads on `initialized`
    assert kinds == everything


@pytest.mark.parametrize("setting", list(KINDS))
async def test_each_toggle_removes_its_lens_kind_only(client: LanguageClient, setting: str) -> None:
    everything = list(KINDS)
    others = [k for k in everything if k != setting]
    configure(client, {setting: False})
    assert await until_kinds(client, lambda k: k == others) == others
    configure(client, {})
    assert await until_kinds(client, lambda k: k == everything) == everything


async def test_all_toggles_off_leave_no_lens(client: LanguageClient) -> None:
    configure(client, dict.fromkeys(KINDS, False))
    assert await until_kinds(client, lambda k: k == []) == []
    # a valid (empty) lens list for the whole document, not only this line
    params = types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=FLOWS_URI))
    assert await asyncio.wait_for(client.text_document_code_lens_async(params), WAIT_S) in ([], (), None)
    configure(client, {})
    assert await until_kinds(client, lambda k: k == list(KINDS)) == list(KINDS)
