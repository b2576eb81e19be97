"""Notebook document sync over stdio (pytest-lsp): a Jupyter notebook (tests/server/data/flows.ipynb) is
one module made of its code cells; lenses, hovers, ``flyte/entities`` and lint diagnostics land in the right
cell at the right line, through didOpen, didChange (a cell edited, added, removed) and didClose."""

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
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from flyte_ls.server.documents import CellSpan
from flyte_ls.server.features.notebooks import cell_code, entity_cells, module_text, to_cell
from flyte_ls.server.server import FlyteLanguageServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from lsp_helpers import (
    entities,
    make_client,
    next_diagnostics,
    publish_count,
    stop_session,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)

DATA = Path(__file__).parent / "data"
NOTEBOOK = DATA / "flows.ipynb"
NB_URI = NOTEBOOK.resolve().as_uri()
CACHE = tempfile.mkdtemp(prefix="flyte-ls-notebooks-cache-")  # the server's state stays out of ~/.cache
SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "flyte_ls", "serve", "-v"],
    client_factory=make_client,
    server_env={**os.environ, "XDG_CACHE_HOME": CACHE},
)
UNTYPED = "FL001"  # an input without a type annotation


def cells() -> list[tuple[str, str, str]]:
    """(uri, kind, source) of the fixture's cells."""
    nb = json.loads(NOTEBOOK.read_text())
    return [
        (f"vscode-notebook-cell:{NOTEBOOK.resolve()}#C{i}", c["cell_type"], "".join(c["source"]))
        for i, c in enumerate(nb["cells"])
    ]


def cell_item(uri: str, kind: str, source: str) -> tuple[types.NotebookCell, types.TextDocumentItem]:
    lang = "python" if kind == "code" else "markdown"
    cell_kind = types.NotebookCellKind.Code if kind == "code" else types.NotebookCellKind.Markup
    return (
        types.NotebookCell(kind=cell_kind, document=uri),
        types.TextDocumentItem(uri=uri, language_id=lang, version=1, text=source),
    )


def change(client: LanguageClient, version: int, cells: types.NotebookDocumentCellChanges) -> None:
    client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(uri=NB_URI, version=version),
            change=types.NotebookDocumentChangeEvent(cells=cells),
        )
    )


def edit_cell(
    client: LanguageClient, version: int, uri: str, line: int, cols: tuple[int, int], text: str
) -> None:
    """An incremental edit of one cell's line (the cell's version and the notebook's both ``version``)."""
    edit = types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(line, cols[0]), types.Position(line, cols[1])), text=text
    )
    content = types.NotebookDocumentCellContentChanges(
        document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), changes=[edit]
    )
    change(client, version, types.NotebookDocumentCellChanges(text_content=[content]))


def test_magics_blanked_lines_kept() -> None:
    assert cell_code("%time x = 1\ny = 2\n  !ls") == ["", "y = 2", ""]
    assert cell_code("%%bash\necho hi") == ["", ""]
    assert cell_code("files = !ls\na, b = %time f()\n?len\nx = 1 != 2\ny = a % b") == [
        "",
        "",
        "",
        "x = 1 != 2",
        "y = a % b",
    ]
    text, spans = module_text([("a", "x = 1\n"), ("b", "%%time\ny = 2")])
    assert text == "x = 1\n\n\n\n"
    assert spans == [CellSpan("a", 0, 2), CellSpan("b", 2, 2)]
    lens = {"range": {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 4}}}
    assert to_cell([lens], spans[1]) == [
        {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 4}}}
    ]
    assert to_cell([lens], spans[0]) == []


def test_entity_cells() -> None:
    server = FlyteLanguageServer()
    sources = [
        "%pip install flytekit\nfrom flytekit import task",
        "x = 1",
        "@task\ndef t(a: int) -> int:\n    return a",
    ]
    text, spans = module_text((f"cell:{i}", s) for i, s in enumerate(sources))
    server.documents.set_cells("file:///nb.ipynb", spans)
    server.documents.open("file:///nb.ipynb", text, 1, "python", notebook=True)
    found = entity_cells(server, "file:///nb.ipynb", "t")
    assert found is not None and (found.sources, found.index) == (sources, 2)
    assert found.uris == [f"cell:{i}" for i in range(3)]
    assert entity_cells(server, "file:///nb.ipynb", "missing") is None
    assert entity_cells(server, "file:///other.ipynb", "t") is None
    found = server.documents.cell("cell:2")
    assert found is not None and found[1].start == 3


@pytest_lsp.fixture(config=SERVER, params=["visual-studio-code", "neovim"])
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    # The presets predate notebook sync: the capability a notebook-aware client sends, added.
    capabilities = client_capabilities(request.param)
    capabilities.notebook_document = types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities()
    )
    params = types.InitializeParams(
        capabilities=capabilities,
        root_uri=DATA.resolve().as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=DATA.resolve().as_uri(), name="data")],
    )
    result = await asyncio.wait_for(lsp_client.initialize_session(params), 15)
    sync = result.capabilities.notebook_document_sync
    assert isinstance(sync, types.NotebookDocumentSyncOptions)
    yield
    await stop_session(lsp_client)
    shutil.rmtree(CACHE, ignore_errors=True)


async def lenses(client: LanguageClient, uri: str) -> list[tuple[int, str]]:
    params = types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    got = await asyncio.wait_for(client.text_document_code_lens_async(params), 15)
    out = []
    for lens in got or []:
        if lens.command is None:  # a client that resolves lenses (Neovim)
            lens = await asyncio.wait_for(client.code_lens_resolve_async(lens), 15)
        assert lens.command is not None
        out.append((lens.range.start.line, lens.command.title))
    return sorted(out)


async def lint_lines(client: LanguageClient, uri: str, after: int) -> list[tuple[int, str]]:
    diags = await next_diagnostics(client, uri, after)
    return [(d.range.start.line, str(d.code)) for d in diags]


@pytest.mark.asyncio
async def test_notebook_sync(client: LanguageClient) -> None:
    all_cells = cells()
    items = [cell_item(*c) for c in all_cells]
    c0, c2, c4 = all_cells[0][0], all_cells[2][0], all_cells[4][0]
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=NB_URI, notebook_type="jupyter-notebook", version=1, cells=[i[0] for i in items]
            ),
            cell_text_documents=[i[1] for i in items],
        )
    )
    # The lint finding (untyped input) is published for cell 4, line 1 (its def); the other cells get none.
    found = await lint_lines(client, c4, 0)
    assert [line for line, code in found if code == UNTYPED] == [1], found
    assert not client.diagnostics.get(c2)

    # Lenses: add in cell 2 at line 3 (after the blanked !pip line), wf in cell 4 at line 5.
    lens2 = await lenses(client, c2)
    assert {line for line, _ in lens2} == {3}
    assert any(title.startswith("▶ Run") for _, title in lens2)
    assert {line for line, _ in await lenses(client, c4)} == {0, 5}
    assert await lenses(client, c0) == []

    # flyte/entities of a cell: that cell's entities only, in its lines.
    ents = await entities(client, c4)
    assert sorted((e["name"], e["selectionRange"]["start"]["line"]) for e in ents) == [
        ("untyped", 1),
        ("wf", 6),
    ]

    # Hover on `add` in cell 2 (its def line, 4).
    hover = await asyncio.wait_for(
        client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri=c2), types.Position(line=4, character=5))
        ),
        15,
    )
    assert hover is not None and hover.range is not None and hover.range.start.line == 4

    # Edit cell 4: type the input; its diagnostic goes away. Only cell 4 is published again: the other cells'
    # diagnostics did not change (cells 0 and 2 never had any, so they were never published).
    count4 = publish_count(client, c4)
    edit_cell(client, 2, c4, 1, (12, 13), "x: int")
    await wait_until(
        lambda: publish_count(client, c4) > count4 and not client.diagnostics[c4], "cell 4 cleared"
    )
    assert (publish_count(client, c0), publish_count(client, c2)) == (0, 0)

    # Add a cell at the top with a task whose input is untyped: the finding lands in the new cell, line 1,
    # and cell 2's lens moves with nothing (cell lines are the cell's own).
    new = f"vscode-notebook-cell:{NOTEBOOK.resolve()}#new"
    cell, doc = cell_item(new, "code", "@task\ndef bad(y) -> int:\n    return y\n")
    structure = types.NotebookDocumentCellChangeStructure(
        array=types.NotebookCellArrayChange(start=0, delete_count=0, cells=[cell]), did_open=[doc]
    )
    change(client, 3, types.NotebookDocumentCellChanges(structure=structure))
    found = await lint_lines(client, new, 0)
    assert [line for line, code in found if code == UNTYPED] == [1], found
    assert {line for line, _ in await lenses(client, c2)} == {3}

    # Remove it again: its diagnostics are cleared.
    count_new = publish_count(client, new)
    structure = types.NotebookDocumentCellChangeStructure(
        array=types.NotebookCellArrayChange(start=0, delete_count=1),
        did_close=[types.TextDocumentIdentifier(uri=new)],
    )
    change(client, 4, types.NotebookDocumentCellChanges(structure=structure))
    await wait_until(
        lambda: publish_count(client, new) > count_new and not client.diagnostics[new], "new cell cleared"
    )
    assert await lenses(client, new) == []

    # Untype the input again, then close: every cell's diagnostics are cleared, the cells are unknown.
    count4 = publish_count(client, c4)
    edit_cell(client, 5, c4, 1, (12, 18), "x")
    await wait_until(lambda: publish_count(client, c4) > count4 and client.diagnostics[c4], "cell 4 again")
    assert [(d.range.start.line, d.code) for d in client.diagnostics[c4]] == [(1, UNTYPED)]
    counts: dict[str, Any] = {u: publish_count(client, u) for u, _, _ in all_cells}
    client.notebook_document_did_close(
        types.DidCloseNotebookDocumentParams(
            notebook_document=types.NotebookDocumentIdentifier(uri=NB_URI),
            cell_text_documents=[types.TextDocumentIdentifier(uri=u) for u, _, _ in all_cells],
        )
    )
    await wait_until(lambda: publish_count(client, c4) > counts[c4], "cell 4 cleared on close")
    assert not client.diagnostics[c4]
    assert await lenses(client, c4) == []
