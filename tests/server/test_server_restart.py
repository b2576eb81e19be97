"""A server restart resumes tracking (issue 5 §5, §8): an execution launched by one server, still running when
that server shuts down, is followed to its end by the next server on the same workspace and user cache — its
status diagnostic, `flyte/executions` — and the inputs it was launched with are still the Re-run lens's, which
runs again with them. Real local backend, real worker, both servers over stdio."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import VENV_PYTHON, Backend, start_backend
from lsp_helpers import make_client, to_json

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

FLOWS = """
import time

from flytekit import task


@task
def nap(seconds: int) -> int:
    time.sleep(seconds)
    return seconds * 2
"""
DEADLINE = 120.0


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    started = start_backend(tmp_path_factory.mktemp("restart") / "state")
    try:
        yield started
    finally:
        started.stop()


async def _start(cache: Path, workspace: Path, backend: Backend) -> LanguageClient:
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "flyte_ls", "serve", "-v"],
        client_factory=make_client,
        server_env={**os.environ, "XDG_CACHE_HOME": str(cache)},
    )
    client = await config.start(None)  # type: ignore[arg-type]
    params = types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        root_uri=from_fs_path(str(workspace)),
        workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(workspace)), name="ws")],
        initialization_options={
            "endpoint": f"127.0.0.1:{backend.port}",
            "insecure": True,
            "pythonPath": VENV_PYTHON,
            "local": {"autoStart": False},
        },
    )
    await asyncio.wait_for(client.initialize_session(params), 30)
    return client


async def _stop(client: LanguageClient) -> None:
    try:
        await asyncio.wait_for(client.shutdown_session(), 30)
    finally:
        await client.stop()


async def _command(client: LanguageClient, name: str, argument: dict[str, Any]) -> Any:
    params = types.ExecuteCommandParams(command=name, arguments=[argument])
    return to_json(await asyncio.wait_for(client.workspace_execute_command_async(params), 180))


async def _phase(client: LanguageClient, name: str, phases: set[str]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    last: dict[str, Any] = {}
    while loop.time() < deadline:
        items = to_json(
            await asyncio.wait_for(client.protocol.send_request_async("flyte/executions", {}), 30)
        )
        for item in items:
            if item["execution"]["name"] == name:
                last = item
                if item["phase"] in phases:
                    return item
        await asyncio.sleep(0.3)
    raise AssertionError(f"{name} not in {phases} within {DEADLINE} s: {last}")


async def _rerun_lens(client: LanguageClient, uri: str) -> dict[str, Any]:
    params = types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        lenses = await asyncio.wait_for(client.text_document_code_lens_async(params), 30) or []
        for lens in lenses:
            if lens.command is not None and "Re-run" in lens.command.title:
                arguments = [to_json(a) for a in lens.command.arguments or []]
                return {"command": lens.command.command, "arguments": arguments}
        await asyncio.sleep(0.3)
    raise AssertionError(f"no Re-run lens on {uri}")


async def test_the_next_server_follows_a_run_to_its_end_and_reruns_it_with_its_inputs(
    backend: Backend,
) -> None:
    cache = Path(tempfile.mkdtemp(prefix="flyte-ls-restart-cache-"))
    workspace = Path(tempfile.mkdtemp(prefix="flyte-ls-restart-ws-"))
    (workspace / "naps.py").write_text(FLOWS)
    uri = from_fs_path(str(workspace / "naps.py"))
    try:
        first = await _start(cache, workspace, backend)
        try:
            run = await _command(
                first, "flyte.execute", {"uri": uri, "entity": "nap", "inputs": {"seconds": 4}}
            )
            name = run["execution"]["name"]
            running = await _phase(first, name, {"RUNNING", "SUCCEEDED"})
            assert running["phase"] == "RUNNING", "the task sleeps 4 s: the first server must see it running"
        finally:
            await _stop(first)

        second = await _start(cache, workspace, backend)
        try:
            client_doc = types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=(workspace / "naps.py").read_text()
            )
            second.text_document_did_open(types.DidOpenTextDocumentParams(text_document=client_doc))
            done = await _phase(second, name, {"SUCCEEDED", "FAILED", "ABORTED"})
            assert done["phase"] == "SUCCEEDED", done
            assert done["entity"] == "nap" and done["uri"] == uri

            async def status_is_success() -> bool:
                for diagnostic in second.diagnostics.get(uri, []):
                    if diagnostic.source == "flyte-exec" and "SUCCEEDED" in diagnostic.message:
                        return True
                return False

            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while not await status_is_success():
                assert loop.time() < deadline, second.diagnostics.get(uri)
                await asyncio.sleep(0.2)

            rerun = await _rerun_lens(second, uri)
            assert rerun["command"] == "flyte.execute"
            assert rerun["arguments"][0]["inputs"] == {"seconds": 4}, rerun
            again = await _command(second, rerun["command"], rerun["arguments"][0])
            assert again["execution"]["name"] != name
            redone = await _phase(second, again["execution"]["name"], {"SUCCEEDED", "FAILED"})
            assert redone["phase"] == "SUCCEEDED", redone
        finally:
            await _stop(second)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(workspace, ignore_errors=True)
