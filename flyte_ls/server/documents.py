"""Open documents: their text snapshots, per-document analyzers and the last good analysis.

The pygls workspace applies the incremental edits; this store keeps what the features need on top: a
:class:`~flyte_ls.analysis.Analyzer` per document (entities, incremental, used on the event loop; the lint
passes have their own in the lint worker process), the module name, a revision counter and the last edit (for
diagnostics computed on an older revision), and the last analysis that parsed — so that while the user is
typing a syntax error the entities and lenses stay visible.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from pygls.uris import to_fs_path

from flyte_ls.analysis import Analyzer, ModuleAnalysis, module_name_for
from flyte_ls.server.fragments import RenderCache
from flyte_ls.server.positions import Text

log = logging.getLogger(__name__)

PYTHON_SUFFIXES = (".py", ".pyi")


def uri_key(uri: str) -> str:
    """The key documents are stored under (clients differ in how much of a URI they percent-encode)."""
    return unquote(uri)


def fs_path(uri: str) -> str | None:
    """The path of a ``file:`` URI; None for other schemes (``untitled:``, notebook cells...)."""
    if not uri.startswith("file:"):
        return None
    try:
        return to_fs_path(uri)
    except Exception:  # a malformed URI is the client's problem, not a crash
        return None


def module_for_path(path: str | None) -> str:
    """Dotted module name for a file, "" when unknown (non-file documents, unreadable folders)."""
    if path is None:
        return ""
    try:
        return module_name_for(path)
    except Exception as exc:
        log.warning(
            "Cannot compute the module name of %s (%s); Flyte names will lack the module prefix.", path, exc
        )
        return ""


@dataclass
class Document:
    uri: str  # as the client sent it (diagnostics must be published under the same URI)
    path: str | None
    module: str
    language_id: str
    version: int | None
    text: Text
    analyzer: Analyzer = field(default_factory=Analyzer)
    revision: int = 0  # +1 per change: unlike the client's version, always present and increasing
    changes: Sequence[Any] = ()  # the content changes (TextDocumentContentChangeEvent) of the last edit
    last_good: ModuleAnalysis | None = None
    # Per-version caches: (version, value). Cleared by every edit.
    shown: tuple[int | None, ModuleAnalysis] | None = None
    rendered: RenderCache = field(default_factory=RenderCache)  # JSON of entities/lenses, per version
    too_large_logged: bool = False

    @property
    def is_python(self) -> bool:
        if self.language_id == "python":
            return True
        return self.path is not None and self.path.endswith(PYTHON_SUFFIXES)


@dataclass(frozen=True)
class CellSpan:
    """Where a notebook cell's lines sit in its notebook's module text (a cell line is one module line)."""

    uri: str
    start: int  # the module line of the cell's first line
    lines: int
    source: str = field(default="", compare=False)  # the cell's text as the client has it (magics kept)

    def holds(self, line: int) -> bool:
        return self.start <= line < self.start + self.lines


class DocumentStore:
    """The open documents, by normalised URI.

    A notebook is one document (under the notebook's URI) whose text is its code cells concatenated; the spans
    of its cells map that text back to the cell URIs the client knows.
    """

    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}
        self._cells: dict[str, list[CellSpan]] = {}  # notebook key -> its code cells, in order
        self._owner: dict[str, str] = {}  # cell key -> notebook key

    def open(
        self, uri: str, source: str, version: int | None, language_id: str, notebook: bool = False
    ) -> Document:
        # A notebook's module is no file on disk: no path (the index and the lints must not read the .ipynb).
        path = None if notebook else fs_path(uri)
        doc = Document(
            uri=uri,
            path=path,
            module=module_for_path(path),
            language_id=language_id,
            version=version,
            text=Text(source),
        )
        self._docs[uri_key(uri)] = doc
        return doc

    def change(
        self, uri: str, source: str, version: int | None, changes: Sequence[Any] = ()
    ) -> Document | None:
        doc = self.get(uri)
        if doc is None:
            return None
        doc.version = version
        doc.revision += 1
        doc.changes = changes
        doc.text = Text(source)
        doc.shown = None
        return doc

    def close(self, uri: str) -> Document | None:
        return self._docs.pop(uri_key(uri), None)

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri_key(uri))

    def set_cells(self, notebook_uri: str, spans: list[CellSpan]) -> list[CellSpan]:
        """Record a notebook's cells; returns the cells it had that are gone now."""
        key = uri_key(notebook_uri)
        old = self._cells.get(key, [])
        kept = {uri_key(s.uri) for s in spans}
        for span in old:
            self._owner.pop(uri_key(span.uri), None)
        for span in spans:
            self._owner[uri_key(span.uri)] = key
        self._cells[key] = spans
        return [s for s in old if uri_key(s.uri) not in kept]

    def drop_cells(self, notebook_uri: str) -> list[CellSpan]:
        gone = self.set_cells(notebook_uri, [])
        del self._cells[uri_key(notebook_uri)]
        return gone

    def cells_of(self, uri: str) -> list[CellSpan] | None:
        """The cells of a notebook document; None when ``uri`` is not a notebook."""
        return self._cells.get(uri_key(uri))

    def cell(self, uri: str) -> tuple[Document, CellSpan] | None:
        """The notebook document holding the cell ``uri``, and where the cell sits in it."""
        key = self._owner.get(uri_key(uri))
        doc = self._docs.get(key) if key is not None else None
        if doc is None or key is None:
            return None
        for span in self._cells.get(key, []):
            if uri_key(span.uri) == uri_key(uri):
                return doc, span
        return None

    def get_by_path(self, path: str) -> Document | None:
        for doc in self._docs.values():
            if doc.path == path:
                return doc
        return None

    def all(self) -> list[Document]:
        return list(self._docs.values())

    def __len__(self) -> int:
        return len(self._docs)


def shown_analysis(doc: Document, max_size: int) -> ModuleAnalysis:
    """The entities to show for the document's current version (incremental; cached per version).

    While the text does not parse, the last good analysis is shown (its positions may be a few lines off
    until the user finishes typing); the syntax error itself is reported by the diagnostics feature.
    """
    if doc.shown is not None and doc.shown[0] == doc.version:
        return doc.shown[1]
    if not doc.is_python:
        result = ModuleAnalysis(module=doc.module)
    elif len(doc.text.source) > max_size:
        if not doc.too_large_logged:
            log.warning(
                "%s has %d characters, more than flyte.index.maxFileSizeBytes (%d): not analysed. "
                "Raise the setting to analyse it.",
                doc.uri,
                len(doc.text.source),
                max_size,
            )
            doc.too_large_logged = True
        result = ModuleAnalysis(module=doc.module)
    else:
        try:
            analysis = doc.analyzer.entities(doc.text.source, doc.module)
        except Exception:  # the analysis promises never to raise; a bug there must not break the editor
            log.exception("Analysing %s failed; showing the last good result", doc.uri)
            analysis = ModuleAnalysis(module=doc.module, syntax_error=None)
            analysis = doc.last_good or analysis
        if analysis.syntax_error is None:
            doc.last_good = analysis
            result = analysis
        else:
            result = doc.last_good if doc.last_good is not None else analysis
    doc.shown = (doc.version, result)
    return result
