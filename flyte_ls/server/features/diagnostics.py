"""Lint diagnostics (source ``flyte``): immediate on open and save, debounced per document on change, cleared
on close.

The lint pass runs in the lint worker thread (one document at a time) so that a 10,000-line file never blocks
the event loop; positions are converted there too, against the exact text that was analysed.
"""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from flyte_ls.server.constants import SOURCE_LINT
from flyte_ls.server.convert import code_selected, diagnostic
from flyte_ls.server.documents import Document, uri_key
from flyte_ls.server.positions import Codec, Text
from flyte_ls.server.server import FlyteLanguageServer
from flyte_ls.server.settings import Settings

log = logging.getLogger(__name__)


def publish(server: FlyteLanguageServer, uri: str) -> None:
    """Send the merged diagnostics of every source for ``uri``."""
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=server.diagnostics.merged(uri))
    )


def lint_document(
    server: FlyteLanguageServer, doc: Document, text: Text, settings: Settings
) -> list[types.Diagnostic]:
    """Blocking: run the lints on one snapshot and convert the findings. Runs in the lint thread."""
    if not doc.is_python or len(text.source) > settings.index.max_file_size_bytes:
        return []
    analysis = doc.lint_analyzer.analyze(text.source, doc.module, lookup=server.index.lookup)
    codec: Codec = server.codec
    select, ignore = settings.lint.select, settings.lint.ignore
    out = [diagnostic(f, codec, text) for f in analysis.findings if code_selected(f.code, select, ignore)]
    if analysis.syntax_error is not None and code_selected(analysis.syntax_error.code, None, ignore):
        out.insert(0, diagnostic(analysis.syntax_error, codec, text))
    return out


class DiagnosticsFeature:
    def __init__(self, server: FlyteLanguageServer) -> None:
        self.server = server
        self._pending: dict[str, asyncio.Task[None]] = {}  # uri key -> debounce/lint task

    def schedule(self, doc: Document, delay_s: float) -> None:
        key = uri_key(doc.uri)
        old = self._pending.pop(key, None)
        if old is not None:
            old.cancel()
        if not self.server.settings.diagnostics.enabled:
            return
        self._pending[key] = self.server.run_task(f"lint {doc.uri}", self._run(doc, delay_s))

    async def _run(self, doc: Document, delay_s: float) -> None:
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        server = self.server
        text, settings = doc.text, server.settings
        try:
            diagnostics = await server.in_thread(
                server.lint_executor, lint_document, server, doc, text, settings
            )
        except Exception:
            log.exception("Linting %s failed; its diagnostics are left as they were.", doc.uri)
            return
        finally:
            if self._pending.get(uri_key(doc.uri)) is asyncio.current_task():
                del self._pending[uri_key(doc.uri)]
        if server.documents.get(doc.uri) is not doc:
            return  # closed (or closed and reopened) while linting
        server.diagnostics.set(SOURCE_LINT, doc.uri, diagnostics)
        publish(server, doc.uri)
        server.collect_garbage()  # the user paused typing long enough for the debounce: a quiet moment

    def on_open(self, doc: Document) -> None:
        self.schedule(doc, 0)

    def on_save(self, doc: Document) -> None:
        self.schedule(doc, 0)

    def on_change(self, doc: Document) -> None:
        self.schedule(doc, self.server.settings.diagnostics.debounce_ms / 1000)

    def on_close(self, doc: Document) -> None:
        task = self._pending.pop(uri_key(doc.uri), None)
        if task is not None:
            task.cancel()
        self.server.diagnostics.clear(SOURCE_LINT, doc.uri)
        publish(self.server, doc.uri)
        self.server.diagnostics.forget_empty()

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
            for task in self._pending.values():
                task.cancel()
            self._pending.clear()
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
