"""Failures and gates inside notebook cells, over stdio (pytest-lsp) on a real local backend: the notebook
(a copy of tests/server/data/failures.ipynb) is opened with notebook sync and its entities are run from their
cells.

- ``validate`` (cell 3) calls ``check_positive``, a plain function of cell 2 that raises: the task's traceback
  names ``<dynamic-code>`` (cloudpickle 3 erases the cells' file names, keeping the cell-relative lines), and
  the Error lands in cell 2 on the ``raise`` line, the status in cell 3 points there; the same from the
  workflow ``checked`` (cell 4), whose failing node is ``validate``;
- ``gated`` (cell 4) waits for an approval: the gate diagnostic is in cell 4, a code action on the cell
  approves it, and the run ends SUCCEEDED.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import VENV_PYTHON, Backend, start_backend
from lsp_helpers import (
    command,
    exec_diagnostics,
    make_client,
    open_notebook,
    raw_request,
    start_notebook_session,
    to_json,
    wait_until,
)

from flyte_ls.server.documents import CellSpan
from flyte_ls.server.features import notebooks

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

CACHE = Path(tempfile.mkdtemp(prefix="flyte-ls-nbfail-cache-"))
WORKSPACE = Path(tempfile.mkdtemp(prefix="flyte-ls-nbfail-ws-"))
NOTEBOOK = WORKSPACE / "failures.ipynb"
CONFIG = ClientServerConfig(
    server_command=[sys.executable, "-m", "flyte_ls", "serve", "-v"],
    client_factory=make_client,
    server_env={**os.environ, "XDG_CACHE_HOME": str(CACHE)},
)
RUN_DEADLINE = 180.0
WAIT_S = 30.0


@pytest.fixture(scope="module", autouse=True)
def backend(tmp_path_factory: pytest.TempPathFactory):
    shutil.copy(Path(__file__).parent / "data" / "failures.ipynb", NOTEBOOK)
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


def cell_line(index: int, fragment: str) -> int:
    """The 0-based line of ``fragment`` in code cell ``index`` of the fixture."""
    source = "".join(json.loads(NOTEBOOK.read_text())["cells"][index]["source"])
    return next(i for i, line in enumerate(source.split("\n")) if fragment in line)


def on_execution(client: LanguageClient, uri: str, name: str) -> list[types.Diagnostic]:
    return [d for d in exec_diagnostics(client, uri) if d.data and d.data["execution"]["name"] == name]


async def code_actions(client: LanguageClient, uri: str, rng: types.Range) -> list[dict[str, Any]]:
    """``textDocument/codeAction`` as plain JSON (pytest-lsp's client reads a CodeAction as a Command)."""
    where = {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }
    params = {"textDocument": {"uri": uri}, "range": where, "context": {"diagnostics": []}}
    return to_json(await raw_request(client, "textDocument/codeAction", params, WAIT_S)) or []


async def hover_text(client: LanguageClient, uri: str, line: int, character: int) -> str:
    hover = await asyncio.wait_for(
        client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=character),
            )
        ),
        WAIT_S,
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent), hover
    return hover.contents.value


@pytest.mark.asyncio
async def test_a_failure_lands_on_the_raise_line_of_the_helpers_cell(client: LanguageClient) -> None:
    cells = open_notebook(client, NOTEBOOK)
    helper_cell, task_cell = cells[2], cells[3]
    launched = await command(
        client, "flyte.execute", {"uri": task_cell, "entity": "validate", "inputs": {"x": -3}}
    )
    name = launched["execution"]["name"]

    (raised,) = await wait_until(
        lambda: on_execution(client, helper_cell, name),
        f"the Error of {name} in the helper's cell",
        RUN_DEADLINE,
    )
    raise_line = cell_line(2, "raise ValueError")
    assert raised.severity == types.DiagnosticSeverity.Error
    assert (raised.range.start.line, raised.range.start.character) == (raise_line, 8), raised.range
    assert raised.range.end.line == raise_line
    assert raised.message.startswith("ValueError: x must be positive, got -3 (raised in check_positive"), (
        raised.message
    )
    assert raised.data["frame"] == {
        "file": "<dynamic-code>",
        "line": raise_line + 1,
        "name": "check_positive",
    }  # type: ignore[index]
    assert raised.related_information is not None
    back = raised.related_information[0].location
    assert back.uri == task_cell and back.range.start.line == cell_line(3, "def validate"), back

    (status,) = on_execution(client, task_cell, name)
    assert status.severity == types.DiagnosticSeverity.Error and status.message.startswith("validate: FAILED")
    assert status.range.start.line == cell_line(3, "def validate")
    assert status.related_information is not None
    (here,) = status.related_information
    assert here.message == "raised here"
    assert here.location.uri == helper_cell and here.location.range == raised.range
    for other in (cells[0], cells[1], cells[4]):  # nowhere else
        assert not on_execution(client, other, name), other

    # The hover of the cell's entity lists its run.
    text = await hover_text(client, task_cell, cell_line(3, "def validate"), 5)
    assert f"- **FAILED** [{name}](" in text, text


@pytest.mark.asyncio
async def test_a_workflows_failing_node_lands_in_the_helpers_cell(client: LanguageClient) -> None:
    cells = open_notebook(client, NOTEBOOK)
    helper_cell, workflow_cell = cells[2], cells[4]
    launched = await command(
        client, "flyte.execute", {"uri": workflow_cell, "entity": "checked", "inputs": {"x": 0}}
    )
    name = launched["execution"]["name"]

    (raised,) = await wait_until(
        lambda: on_execution(client, helper_cell, name),
        f"the Error of {name} in the helper's cell",
        RUN_DEADLINE,
    )
    assert raised.range.start.line == cell_line(2, "raise ValueError"), raised.range
    assert "x must be positive, got 0" in raised.message, raised.message
    (status,) = on_execution(client, workflow_cell, name)
    assert status.message.startswith("checked: FAILED"), status.message
    assert status.range.start.line == cell_line(4, "def checked")
    assert status.related_information is not None
    assert status.related_information[0].location == types.Location(uri=helper_cell, range=raised.range)
    assert not on_execution(client, cells[3], name) and not on_execution(client, cells[0], name)


@pytest.mark.asyncio
async def test_a_gate_in_a_cell_is_approved_through_the_cells_code_action(client: LanguageClient) -> None:
    cells = open_notebook(client, NOTEBOOK)
    gate_cell = cells[4]
    launched = await command(
        client, "flyte.execute", {"uri": gate_cell, "entity": "gated", "inputs": {"x": 1}}
    )
    name = launched["execution"]["name"]
    gated_line = cell_line(4, "def gated")

    def gates() -> list[types.Diagnostic]:
        return [
            d for d in on_execution(client, gate_cell, name) if d.severity == types.DiagnosticSeverity.Warning
        ]

    (waiting,) = await wait_until(gates, f"the gate of {name} in its cell", RUN_DEADLINE)
    assert waiting.message.startswith("gated: waiting for approval on signal 'go'"), waiting.message
    assert waiting.range.start.line == gated_line, waiting.range
    for other in cells[:4]:
        assert not on_execution(client, other, name), other
    # The notebook's module lines are not the cell's: the same range in another cell offers nothing.
    assert await code_actions(client, cells[3], waiting.range) == []

    actions = await code_actions(client, gate_cell, waiting.range)
    assert [a["title"] for a in actions] == ["Approve (go)", "Reject (go)"], actions
    approve = actions[0]
    assert approve["diagnostics"][0]["range"]["start"] == {"line": gated_line, "character": 4}
    command_ = approve["command"]
    assert command_["arguments"] == [{"execution": launched["execution"], "signalId": "go"}]
    await command(client, command_["command"], *command_["arguments"])

    def ended() -> list[types.Diagnostic]:
        return [
            d for d in on_execution(client, gate_cell, name) if d.data["phase"] in ("SUCCEEDED", "FAILED")
        ]  # type: ignore[index]

    (done,) = await wait_until(ended, f"{name} to end after the approval", RUN_DEADLINE)
    assert done.data["phase"] == "SUCCEEDED", done.message  # type: ignore[index]
    assert done.range.start.line == gated_line and "o0=102" in done.message, done.message
    assert not gates()
    text = await hover_text(client, gate_cell, gated_line, 5)
    assert f"- **SUCCEEDED** [{name}](" in text, text


def test_a_module_range_is_a_cell_location() -> None:
    spans = [CellSpan("cell:0", 0, 3), CellSpan("cell:1", 3, 4)]

    def rng(a: int, b: int, c: int, d: int) -> types.Range:
        return types.Range(start=types.Position(line=a, character=b), end=types.Position(line=c, character=d))

    assert notebooks.cell_location(spans, rng(4, 8, 4, 20)) == types.Location(
        uri="cell:1", range=rng(1, 8, 1, 20)
    )
    assert notebooks.cell_location(spans, rng(2, 0, 2, 5)) == types.Location(
        uri="cell:0", range=rng(2, 0, 2, 5)
    )
    # An end past the cell is clipped to the cell's last line; a start past every cell is nowhere.
    assert notebooks.cell_location(spans, rng(1, 2, 5, 0)) == types.Location(
        uri="cell:0", range=rng(1, 2, 2, 0)
    )
    assert notebooks.cell_location(spans, rng(7, 0, 7, 1)) is None
