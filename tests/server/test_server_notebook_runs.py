"""Run from a notebook cell over stdio (pytest-lsp): the notebook (a copy of tests/server/data/flows.ipynb)
is opened with notebook sync, ``flyte.execute`` on a cell's task pickles it in the worker, registers it on a
real local backend and launches it; the tracked execution's ``flyte-exec`` status lands in that cell, on the
entity's line — for a task, and for a workflow calling a task of an earlier cell."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import VENV_PYTHON, Backend, start_backend
from lsp_helpers import (
    command,
    exec_diagnostics,
    make_client,
    open_notebook,
    start_notebook_session,
    to_json,
    wait_until,
)

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

CACHE = Path(tempfile.mkdtemp(prefix="flyte-ls-nbruns-cache-"))
WORKSPACE = Path(tempfile.mkdtemp(prefix="flyte-ls-nbruns-ws-"))
NOTEBOOK = WORKSPACE / "flows.ipynb"
NB_URI = NOTEBOOK.as_uri()
CONFIG = ClientServerConfig(
    server_command=[sys.executable, "-m", "flyte_ls", "serve", "-v"],
    client_factory=make_client,
    server_env={**os.environ, "XDG_CACHE_HOME": str(CACHE)},
)
RUN_DEADLINE = 180.0


@pytest.fixture(scope="module", autouse=True)
def backend(tmp_path_factory: pytest.TempPathFactory):
    shutil.copy(Path(__file__).parent / "data" / "flows.ipynb", NOTEBOOK)
    started = start_backend(tmp_path_factory.mktemp("backend") / "state")
    try:
        yield started
    finally:
        started.stop()
        for folder in (CACHE, WORKSPACE):
            shutil.rmtree(folder, ignore_errors=True)


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    backend: Backend = request.getfixturevalue("backend")
    await start_notebook_session(
        lsp_client,
        WORKSPACE,
        {
            "endpoint": f"127.0.0.1:{backend.port}",
            "insecure": True,
            "pythonPath": VENV_PYTHON,
            "local": {"autoStart": False},
        },
    )
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), 30)


@pytest.mark.asyncio
async def test_execute_from_a_cell_puts_its_status_in_that_cell(client: LanguageClient) -> None:
    cell_uris = open_notebook(client, NOTEBOOK)
    add_cell = cell_uris[2]  # `add` is defined at line 4 of cell 2 (after `!pip list` and the decorator)

    registered = await command(client, "flyte.register", {"uri": add_cell, "entity": "add"})
    assert registered["entities"][0]["name"].endswith("add"), registered
    again = await command(client, "flyte.register", {"uri": NB_URI, "entity": "add"})
    assert again["version"] == registered["version"]  # the same cells pickle the same

    launched = await command(client, "flyte.execute", {"uri": add_cell, "entity": "add", "inputs": {"x": 41}})
    assert launched["version"] == registered["version"]
    name = launched["execution"]["name"]

    def succeeded() -> list[types.Diagnostic]:
        return [d for d in exec_diagnostics(client, add_cell) if "SUCCEEDED" in d.message]

    found = await wait_until(succeeded, f"the SUCCEEDED status of {name} in cell 2", RUN_DEADLINE)
    assert [d.range.start.line for d in found] == [4], found
    assert found[0].message.startswith("add: SUCCEEDED") and "o0=42" in found[0].message, found[0].message
    assert found[0].data["execution"]["name"] == name  # type: ignore[index]
    for other in cell_uris[:2] + cell_uris[3:]:
        assert not exec_diagnostics(client, other), other

    # flyte/executions of the cell: its notebook's (tracked under the notebook's URI).
    listed = await asyncio.wait_for(
        client.protocol.send_request_async("flyte/executions", {"uri": add_cell}), 30
    )
    items = to_json(listed)
    items = items if isinstance(items, list) else items.get("executions", [])
    assert [i["execution"]["name"] for i in items] == [name], items


@pytest.mark.asyncio
async def test_an_unknown_entity_of_a_notebook_is_invalid_params(client: LanguageClient) -> None:
    open_notebook(client, NOTEBOOK)
    with pytest.raises(Exception, match="no task or workflow named 'missing'"):
        await command(client, "flyte.execute", {"uri": NB_URI, "entity": "missing"})
    # a notebook the client has not opened: not imported as a Python file, a clear error instead
    closed = WORKSPACE / "closed.ipynb"
    shutil.copy(NOTEBOOK, closed)
    with pytest.raises(JsonRpcException, match=r"the notebook closed\.ipynb is not open: open it in the"):
        await command(client, "flyte.execute", {"uri": closed.as_uri(), "entity": "add"})


@pytest.mark.asyncio
async def test_a_workflow_run_from_its_cell_puts_its_status_on_its_line(client: LanguageClient) -> None:
    """`wf` (cell 4) calls `add`, defined in cell 2: its pickle carries both. Cell 4 also defines `untyped`,
    whose untyped input flytekit refuses when the cell runs (as a kernel would): fixed in the editor
    (notebookDocument/didChange), the workflow runs."""
    cell_uris = open_notebook(client, NOTEBOOK)
    wf_cell = cell_uris[4]  # `def untyped(x)` at line 1; `@workflow` at line 5, `def wf` at line 6

    with pytest.raises(JsonRpcException, match="'x' has no type") as info:
        await command(client, "flyte.execute", {"uri": wf_cell, "entity": "wf", "inputs": {"x": 1}})
    # the failing cell in the user's terms: counted among code cells from 1, its first line, its URI
    assert "code cell 4 of 4 (`@task`) failed at its line 1" in str(info.value), info.value
    assert info.value.data["frames"] == [{"file": wf_cell, "line": 1, "name": "<cell>"}], info.value.data
    fix = types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(1, 13), types.Position(1, 13)), text=": int"
    )  # def untyped(x: int) -> int:
    client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(uri=NB_URI, version=2),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(
                    text_content=[
                        types.NotebookDocumentCellContentChanges(
                            document=types.VersionedTextDocumentIdentifier(uri=wf_cell, version=2),
                            changes=[fix],
                        )
                    ]
                )
            ),
        )
    )

    launched = await command(client, "flyte.execute", {"uri": wf_cell, "entity": "wf", "inputs": {"x": 1}})
    name = launched["execution"]["name"]

    def mine(uri: str) -> list[types.Diagnostic]:
        return [
            d
            for d in exec_diagnostics(client, uri)
            if d.data["execution"]["name"] == name  # type: ignore[index]
        ]

    def succeeded() -> list[types.Diagnostic]:
        return [d for d in mine(wf_cell) if "SUCCEEDED" in d.message]

    found = await wait_until(succeeded, f"the SUCCEEDED status of {name} in cell 4", RUN_DEADLINE)
    assert [d.range.start.line for d in found] == [6], found
    assert found[0].message.startswith("wf: SUCCEEDED") and "o0=2" in found[0].message, found[0].message
    for other in cell_uris[:4]:  # not in `add`'s cell, nor anywhere else
        assert not mine(other), other
