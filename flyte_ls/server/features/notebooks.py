"""Notebook document sync: a Jupyter notebook is analysed as one module, the concatenation of its code cells.

pygls keeps the notebook model (cells, their text documents); on every notebook event this feature rebuilds
the module text — IPython magics (``%line``, ``%%cell`` cells) and shell escapes (``!cmd``) blanked, so that
every cell line keeps its own line — and hands it to the document store under the notebook's URI, where the
other features analyse it like a file. The cell spans map results back: diagnostics are published per cell
URI (see :func:`split_diagnostics`), lenses, hovers and ``flyte/entities`` for a cell URI are the notebook's,
filtered to the cell and moved to its lines (:func:`to_cell`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from flyte_ls.server.documents import CellSpan, shown_analysis, uri_key
from flyte_ls.server.remap import with_range
from flyte_ls.server.server import FlyteLanguageServer
from flyte_ls.worker.ipython import code_lines

log = logging.getLogger(__name__)


def cell_code(source: str) -> list[str]:
    """A cell's lines as Python: magics, shell escapes and help blanked — the worker's rule
    (:func:`flyte_ls.worker.ipython.code_lines`), so the lines analysed are the lines run."""
    return code_lines(source)


def module_text(cells: Iterable[tuple[str, str]]) -> tuple[str, list[CellSpan]]:
    """The module of ``(uri, source)`` code cells, in order, and where each cell sits in it."""
    out: list[str] = []
    spans: list[CellSpan] = []
    for uri, source in cells:
        lines = cell_code(source)
        spans.append(CellSpan(uri, len(out), len(lines), source))
        out.extend(lines)
    return "\n".join(out) + "\n", spans


def _shift(value: Any, delta: int) -> Any:
    """``value`` with every LSP position's line moved by ``delta`` (plain JSON, any depth)."""
    if isinstance(value, dict):
        moved = {k: _shift(v, delta) for k, v in value.items()}
        if isinstance(value.get("line"), int) and isinstance(value.get("character"), int):
            moved["line"] = value["line"] + delta
        return moved
    if isinstance(value, list):
        return [_shift(v, delta) for v in value]
    return value


def to_cell(items: list[Any], span: CellSpan) -> list[Any]:
    """The items (lenses, entities, diagnostics as JSON) whose range starts in the cell, in cell lines."""
    return [_shift(item, -span.start) for item in items if span.holds(item["range"]["start"]["line"])]


def cell_location(spans: list[CellSpan], rng: types.Range) -> types.Location | None:
    """A range of the notebook's module as the client knows it: in the cell that holds its start, in that
    cell's lines (an end past the cell is clipped to the cell's last line); None outside every cell."""
    for span in spans:
        if span.holds(rng.start.line):
            return types.Location(uri=span.uri, range=_in_cell(span, rng))
    return None


def _in_cell(span: CellSpan, rng: types.Range) -> types.Range:
    end = rng.end
    if not span.holds(end.line):  # clipped to the cell's end
        end = types.Position(line=span.start + span.lines - 1, character=0)
    return types.Range(
        start=types.Position(line=rng.start.line - span.start, character=rng.start.character),
        end=types.Position(line=end.line - span.start, character=end.character),
    )


def split_diagnostics(
    spans: list[CellSpan], diagnostics: list[types.Diagnostic]
) -> list[tuple[str, list[types.Diagnostic]]]:
    """The notebook's diagnostics per cell URI, in cell lines (every cell listed, so stale ones clear)."""
    out: list[tuple[str, list[types.Diagnostic]]] = []
    for span in spans:
        mine = []
        for d in diagnostics:
            if span.holds(d.range.start.line):
                mine.append(with_range(d, _in_cell(span, d.range)))
        out.append((span.uri, mine))
    return out


def publish(server: FlyteLanguageServer, notebook_uri: str, spans: list[CellSpan]) -> None:
    """Publish the notebook's diagnostics per cell — only to the cells whose diagnostics changed since the
    last publish (a pass over a 100-cell notebook usually changes one cell; the client keeps the others)."""
    sent = server.cell_diagnostics
    for uri, diagnostics in split_diagnostics(spans, server.diagnostics.merged(notebook_uri)):
        key = uri_key(uri)
        if sent.get(key, []) == diagnostics:
            continue
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
        )
        if diagnostics:
            sent[key] = diagnostics
        else:
            sent.pop(key, None)


def _clear(server: FlyteLanguageServer, spans: Iterable[CellSpan]) -> None:
    """Cells that are gone (removed, or their notebook closed): cleared in the client, forgotten here."""
    for span in spans:
        if server.cell_diagnostics.pop(uri_key(span.uri), None) is not None:
            server.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=span.uri, diagnostics=[])
            )


@dataclass(frozen=True)
class NotebookCells:
    """What running an entity of a notebook needs: the code cells' sources (as the client has them, magics
    kept), their URIs (a failing cell is reported by its index) and the index of the cell that defines the
    entity."""

    sources: list[str]
    uris: list[str]
    index: int


def entity_cells(server: FlyteLanguageServer, notebook_uri: str, name: str) -> NotebookCells | None:
    """The :class:`NotebookCells` of ``name``; None when ``notebook_uri`` is no open notebook or has no such
    entity."""
    doc, spans = server.documents.get(notebook_uri), server.documents.cells_of(notebook_uri)
    if doc is None or spans is None:
        return None
    entity = shown_analysis(doc, server.settings.index.max_file_size_bytes).entity(name)
    if entity is None:
        return None
    for index, span in enumerate(spans):
        if span.holds(entity.range.start.line):
            return NotebookCells([s.source for s in spans], [s.uri for s in spans], index)
    return None


def _cells(server: FlyteLanguageServer, notebook_uri: str) -> list[tuple[str, str]]:
    notebook = server.workspace.get_notebook_document(notebook_uri=notebook_uri)
    if notebook is None:
        return []
    out = []
    for cell in notebook.cells:
        if cell.kind != types.NotebookCellKind.Code:
            continue
        doc = server.workspace.get_text_document(cell.document)
        if doc.language_id not in (None, "python"):
            continue
        out.append((cell.document, doc.source))
    return out


def sync(server: FlyteLanguageServer, notebook_uri: str, version: int | None, opened: bool) -> None:
    """Rebuild the notebook's module and tell the features (as an open or a change of that document)."""
    source, spans = module_text(_cells(server, notebook_uri))
    gone = server.documents.set_cells(notebook_uri, spans)
    if opened:
        doc = server.documents.open(notebook_uri, source, version, "python", notebook=True)
        server.emit(server.on_open, doc)
    else:
        changed = server.documents.change(notebook_uri, source, version)
        if changed is None:
            return
        server.emit(server.on_change, changed)
    _clear(server, gone)  # a removed cell keeps no diagnostics


def setup(server: FlyteLanguageServer) -> None:
    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def did_open(ls: FlyteLanguageServer, params: types.DidOpenNotebookDocumentParams) -> None:
        nb = params.notebook_document
        log.debug("Opened notebook %s (%d cells)", nb.uri, len(nb.cells))
        sync(ls, nb.uri, nb.version, opened=True)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def did_change(ls: FlyteLanguageServer, params: types.DidChangeNotebookDocumentParams) -> None:
        nb = params.notebook_document
        sync(ls, nb.uri, nb.version, opened=False)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def did_save(ls: FlyteLanguageServer, params: types.DidSaveNotebookDocumentParams) -> None:
        doc = ls.documents.get(params.notebook_document.uri)
        if doc is not None:
            ls.emit(ls.on_save, doc)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def did_close(ls: FlyteLanguageServer, params: types.DidCloseNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        doc = ls.documents.close(uri)
        if doc is not None:
            ls.emit(
                ls.on_close, doc
            )  # the diagnostics feature publishes [] per cell (the spans are still known)
        _clear(ls, ls.documents.drop_cells(uri))
