"""Expected errors are answers, not server failures, and a session ends quietly.

A real server over stdio with ``-v`` (its stderr kept in a file), a real worker, no backend (the endpoint is a
closed port) and a tracked execution resumed from the state file a previous session left:

- commands that fail with ``InvalidParams`` (missing inputs, a bad argument) or ``RequestFailed`` (the backend
  does not answer) reach the client as errors, and the server's stderr has no ERROR and no traceback for them;
- the work-done progress of a rejected ``flyte.execute`` ends with the reason;
- the outcome lens opens the console (a lens with an empty command is an error in Neovim);
- after ``shutdown`` / ``exit`` nothing writes to the closed stream: stderr still has no ERROR.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from flyte_ls.run.paths import workspace_state_dir
from flyte_ls.run.tracker import Tracked

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import VENV_PYTHON, free_port
from lsp_helpers import make_client, to_json

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(240)]

FLOWS = """
from flytekit import task, workflow


@task
def add_one(x: int) -> int:
    return x + 1


@workflow
def pipeline(x: int) -> int:
    return add_one(x=x)
"""
WAIT_S = 30.0


def _iso(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _write_state(cache: Path, workspace: Path, uri: str) -> None:
    """What a previous session left: a finished and a running execution of ``pipeline``."""

    def item(name: str, phase: str, started: float, **kw: Any) -> dict[str, Any]:
        execution = {"project": "flytesnacks", "domain": "development", "name": name}
        url = f"http://127.0.0.1:1/console/projects/flytesnacks/domains/development/executions/{name}"
        return Tracked(execution, uri, "pipeline", phase, url, _iso(started), **kw).to_json()  # type: ignore[arg-type]

    now = time.time()
    executions = [
        item("done01", "SUCCEEDED", now - 300, duration=12.0, outputs_summary="o0=2", inputs={"x": 1}),
        item("runs01", "RUNNING", now - 30, nodes_done=0, nodes_total=1, inputs={"x": 2}),
    ]
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)  # the server's user cache (paths read it at each call)
    try:
        state = workspace_state_dir(workspace)
    finally:
        if saved is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = saved
    state.mkdir(parents=True, exist_ok=True)
    (state / "executions.json").write_text(json.dumps({"version": 1, "executions": executions}))


async def _command(client: LanguageClient, name: str, argument: Any, timeout: float = 120) -> Any:
    params = types.ExecuteCommandParams(command=name, arguments=[argument])
    return to_json(await asyncio.wait_for(client.workspace_execute_command_async(params), timeout))


def _progress_of(client: LanguageClient, before: set[Any], entity: str) -> list[Any]:
    """The progress tokens created since ``before`` by a command on ``entity`` (others run meanwhile)."""
    return [
        token
        for token in set(client.progress_reports) - before
        if entity in str(getattr(client.progress_reports[token][0], "title", ""))
    ]


def _problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR " in line or "Traceback" in line]


async def test_expected_errors_are_quiet_and_the_session_ends_cleanly() -> None:
    cache = Path(tempfile.mkdtemp(prefix="flyte-ls-quiet-cache-"))
    workspace = Path(tempfile.mkdtemp(prefix="flyte-ls-quiet-ws-"))
    stderr_file = cache / "server-stderr.txt"
    flows = workspace / "flows.py"
    flows.write_text(FLOWS)
    uri = from_fs_path(str(flows))
    _write_state(cache, workspace, uri)
    config = ClientServerConfig(
        # stderr to a file: what a user would see in the editor's server log
        server_command=[
            "/bin/sh",
            "-c",
            'exec "$0" -m flyte_ls serve -v 2>"$1"',
            sys.executable,
            str(stderr_file),
        ],
        client_factory=make_client,
        server_env={**os.environ, "XDG_CACHE_HOME": str(cache)},
    )
    client = await config.start(None)  # type: ignore[arg-type]
    try:
        params = types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=from_fs_path(str(workspace)),
            workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(workspace)), name="ws")],
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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while len(to_json(await client.protocol.send_request_async("flyte/executions", {}))) < 2:
            assert loop.time() < deadline, "the tracked executions were not loaded"
            await asyncio.sleep(0.05)
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=FLOWS)
            )
        )

        # The outcome lens opens the execution's console page (never an empty command).
        lenses = await asyncio.wait_for(
            client.text_document_code_lens_async(
                types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
            ),
            WAIT_S,
        )
        commands = [lens.command for lens in lenses or [] if lens.command is not None]
        assert commands and all(c.command for c in commands), [(c.title, c.command) for c in commands]
        (outcome,) = [c for c in commands if c.title.startswith("● RUNNING")]
        assert outcome.command == "flyte.openConsole"
        assert to_json(outcome.arguments) == [
            {"execution": {"project": "flytesnacks", "domain": "development", "name": "runs01"}}
        ]

        # Missing inputs: InvalidParams with the list, the progress ends with the reason.
        before = set(client.progress_reports)
        with pytest.raises(JsonRpcException) as err:
            await _command(client, "flyte.execute", {"uri": uri, "entity": "pipeline"})
        assert err.value.code == types.ErrorCodes.InvalidParams.value
        assert to_json(err.value.data) == {
            "missingInputs": [{"name": "x", "type": "int", "typeInfo": {"kind": "int"}}]
        }
        (token,) = _progress_of(client, before, "pipeline")
        end = client.progress_reports[token][-1]
        assert isinstance(end, types.WorkDoneProgressEnd)
        assert end.message == "failed: missing required inputs: x (int)", end.message

        # A bad argument, and an unknown input (InvalidParams); the backend down (RequestFailed).
        with pytest.raises(JsonRpcException) as err:
            await _command(client, "flyte.execute", {"uri": uri})
        assert err.value.code == types.ErrorCodes.InvalidParams.value and "`entity`" in err.value.message
        with pytest.raises(JsonRpcException) as err:
            await _command(client, "flyte.execute", {"uri": uri, "entity": "add_one", "inputs": {"y": 1}})
        assert err.value.code == types.ErrorCodes.InvalidParams.value and "'y'" in err.value.message
        before = set(client.progress_reports)
        with pytest.raises(JsonRpcException) as err:
            await _command(client, "flyte.execute", {"uri": uri, "entity": "add_one", "inputs": {"x": 1}})
        assert err.value.code == types.LSPErrorCodes.RequestFailed.value, err.value
        assert "flyte.endpoint" in err.value.message
        (token,) = _progress_of(client, before, "add_one")
        end = client.progress_reports[token][-1]
        assert isinstance(end, types.WorkDoneProgressEnd) and end.message.startswith(
            "failed: The Flyte backend"
        )

        # An edit of a file that shows executions schedules a (debounced) rebuild of their diagnostics, due
        # after the session ends: it is stopped on shutdown, and nothing is written after exit.
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=FLOWS + "\n")],
            )
        )
        await asyncio.wait_for(client.shutdown_async(None), 30)
        client.exit(None)
        assert await asyncio.wait_for(server.wait(), 15) == 0
        await asyncio.sleep(0.2)
        stderr = stderr_file.read_text(encoding="utf-8", errors="replace")
        assert not _problems(stderr), stderr[-6000:]
    finally:
        if client._server is not None and client._server.returncode is None:
            client._server.kill()  # a failed assertion left it running: stop() only waits for it
        await asyncio.wait_for(client.stop(), 15)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(workspace, ignore_errors=True)
