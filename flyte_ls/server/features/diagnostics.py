"""Lint diagnostics (source ``flyte``): immediate on open and save, debounced per document on change, cleared
on close.

Lint passes run in the lint worker process (``server.lint_worker``): a pass of a 10,000-line module takes a
few hundred milliseconds of CPU, which the event loop never sees. Per document:

- an edit (re)starts the debounce timer; when it fires, a pass starts for the newest text, unless a pass is
  already running for the document: then exactly one follow-up pass starts when that one ends;
- a running pass is never cancelled. Its result is published if the document has not changed meanwhile. If it
  has, the diagnostics are moved through the edits made since (:mod:`flyte_ls.server.remap`; those overlapping
  an edit are dropped) and published for the current version: they are newer than what the editor shows, and
  the follow-up pass replaces them. So diagnostics keep coming while the user types in bursts, even when the
  pauses are shorter than the debounce plus a pass;
- a worker that dies during a pass is replaced and the pass retried once; one that hangs past its deadline is
  killed and replaced (:mod:`flyte_ls.server.analysis_process`), the diagnostics stay as they were until the
  next edit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from flyte_ls.server.analysis_process import WorkerFailed
from flyte_ls.server.analysis_worker import LintResult
from flyte_ls.server.constants import SOURCE_LINT
from flyte_ls.server.convert import code_selected, diagnostic
from flyte_ls.server.documents import Document, uri_key
from flyte_ls.server.features import notebooks
from flyte_ls.server.positions import Text
from flyte_ls.server.remap import through_changes
from flyte_ls.server.server import FlyteLanguageServer
from flyte_ls.server.settings import Settings

log = logging.getLogger(__name__)


def publish(server: FlyteLanguageServer, uri: str, version: int | None = None) -> None:
    """Send the merged diagnostics of every source for ``uri`` (a notebook's: per cell)."""
    spans = server.documents.cells_of(uri)
    if spans is not None:
        notebooks.publish(server, uri, spans)
        return
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=server.diagnostics.merged(uri), version=version)
    )


def to_diagnostics(
    server: FlyteLanguageServer, result: LintResult, text: Text, settings: Settings
) -> list[types.Diagnostic]:
    """A pass's findings as LSP diagnostics, positioned in ``text`` (the text that was linted)."""
    findings, syntax_error = result
    codec = server.codec
    select, ignore = settings.lint.select, settings.lint.ignore
    out = [diagnostic(f, codec, text) for f in findings if code_selected(f.code, select, ignore)]
    if syntax_error is not None and code_selected(syntax_error.code, None, ignore):
        out.insert(0, diagnostic(syntax_error, codec, text))
    return out


@dataclass
class _State:
    """Per open document."""

    timer: asyncio.Task[None] | None = None  # the debounce
    running: bool = False  # a pass is in the worker
    again: bool = False  # start one more pass when it ends
    edits: list[Sequence[Any]] | None = None  # content changes since the running pass's text; None: unknown


class DiagnosticsFeature:
    def __init__(self, server: FlyteLanguageServer) -> None:
        self.server = server
        self._states: dict[str, _State] = {}  # uri key -> state
        self.passes = 0  # lint passes finished (for logs and tests)

    # -- scheduling
    # ---------------------------------------------------------------------------------------------
    def schedule(self, doc: Document, delay_s: float) -> None:
        if not self.server.settings.diagnostics.enabled:
            return
        state = self._states.setdefault(uri_key(doc.uri), _State())
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        if delay_s <= 0:
            self._start(doc, state)
        else:
            state.timer = self.server.run_task(f"debounce {doc.uri}", self._after(delay_s, doc, state))

    async def _after(self, delay_s: float, doc: Document, state: _State) -> None:
        await asyncio.sleep(delay_s)
        state.timer = None
        if self._states.get(uri_key(doc.uri)) is state:
            self._start(doc, state)

    def _start(self, doc: Document, state: _State) -> None:
        if state.running:
            state.again = True
            return
        state.running, state.again, state.edits = True, False, []
        # The snapshot is taken now: edits from here on are recorded in state.edits.
        self.server.run_task(f"lint {doc.uri}", self._pass(doc, state, doc.revision, doc.text))

    async def _pass(self, doc: Document, state: _State, revision: int, text: Text) -> None:
        server = self.server
        try:
            result = await self._lint(doc, text)
        finally:
            state.running = False
        self.passes += 1
        if self._states.get(uri_key(doc.uri)) is not state or server.documents.get(doc.uri) is not doc:
            return  # closed (or closed and reopened) meanwhile
        edits, state.edits = state.edits, None
        if result is not None and server.settings.diagnostics.enabled:
            diagnostics: list[types.Diagnostic] | None = to_diagnostics(server, result, text, server.settings)
            if doc.revision != revision and diagnostics is not None:
                encoding = server.codec.encoding
                diagnostics = None if edits is None else through_changes(diagnostics, edits, encoding)
            if diagnostics is not None:
                server.diagnostics.set(SOURCE_LINT, doc.uri, diagnostics)
                publish(server, doc.uri, doc.version)
        if state.again:
            self._start(doc, state)

    async def _lint(self, doc: Document, text: Text) -> LintResult | None:
        """The pass's findings, or None when the worker failed (logged)."""
        if not doc.is_python or len(text.source) > self.server.settings.index.max_file_size_bytes:
            return [], None
        for attempt in (1, 2):
            try:
                result: LintResult = await self.server.lint_worker.call(
                    "lint", doc.uri, text.source, doc.module, doc.path
                )
                return result
            except WorkerFailed as exc:
                if self.server.lint_worker.closed:
                    return None  # the server is shutting down
                if attempt == 1 and exc.retry:
                    continue
                log.error("Linting %s failed (%s); its diagnostics are left as they were.", doc.uri, exc)
        return None

    # -- events
    # -------------------------------------------------------------------------------------------------
    def on_open(self, doc: Document) -> None:
        self.schedule(doc, 0)

    def on_save(self, doc: Document) -> None:
        self.schedule(doc, 0)

    def on_change(self, doc: Document) -> None:
        state = self._states.get(uri_key(doc.uri))
        if state is not None and state.running and state.edits is not None:
            if doc.changes:
                state.edits.append(doc.changes)
            else:
                state.edits = None
        self.schedule(doc, self.server.settings.diagnostics.debounce_ms / 1000)

    def on_close(self, doc: Document) -> None:
        state = self._states.pop(uri_key(doc.uri), None)
        if state is not None and state.timer is not None:
            state.timer.cancel()
        self.server.diagnostics.clear(SOURCE_LINT, doc.uri)
        publish(self.server, doc.uri)
        self.server.diagnostics.forget_empty()
        if self.server.lint_worker.pid is not None:
            self.server.run_task(f"forget {doc.uri}", self._forget(doc.uri))

    async def _forget(self, uri: str) -> None:
        with contextlib.suppress(WorkerFailed):
            await self.server.lint_worker.call("forget", uri)

    def relint_all(self) -> None:
        for doc in self.server.documents.all():
            self.schedule(doc, 0)

    def on_index_changed(self, path: str | None) -> None:
        """Another module's entities changed: lint open documents that may import it again (debounced)."""
        delay = self.server.settings.diagnostics.debounce_ms / 1000
        for doc in self.server.documents.all():
            if doc.path != path:
                self.schedule(doc, delay)

    def on_settings(self, old: Settings, new: Settings) -> None:
        if not new.diagnostics.enabled:
            for state in self._states.values():
                if state.timer is not None:
                    state.timer.cancel()
                    state.timer = None
                state.again = False
            for uri in self.server.diagnostics.uris():
                self.server.diagnostics.clear(SOURCE_LINT, uri)
                publish(self.server, uri)
            return
        if (old.diagnostics.enabled, old.lint, old.index) != (True, new.lint, new.index):
            self.relint_all()


def setup(server: FlyteLanguageServer) -> None:
    feature = DiagnosticsFeature(server)
    server.on_open.append(feature.on_open)
    server.on_change.append(feature.on_change)
    server.on_save.append(feature.on_save)
    server.on_close.append(feature.on_close)
    server.on_settings.append(feature.on_settings)
    server.on_index_ready.append(feature.relint_all)
    server.on_index_changed.append(feature.on_index_changed)

    def start_worker() -> None:  # now, rather than with the first pass: the first diagnostics come sooner
        server.run_task("start the lint worker", server.lint_worker.start())

    server.on_initialized.append(start_worker)
