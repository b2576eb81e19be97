"""Text synchronisation (incremental): keeps the document store current and tells the other features.

pygls applies the edits to its workspace first; these handlers then snapshot the new text and fan the event
out to the features that registered hooks (diagnostics, the workspace index).
"""

from __future__ import annotations

import logging

from lsprotocol import types

from flyte_ls.server.server import FlyteLanguageServer

log = logging.getLogger(__name__)


def setup(server: FlyteLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FlyteLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        doc = ls.documents.open(item.uri, item.text, item.version, item.language_id)
        log.debug("Opened %s (module %r, version %s)", item.uri, doc.module, item.version)
        ls.emit(ls.on_open, doc)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: FlyteLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if ls.documents.get(uri) is None:
            log.warning(
                "didChange for %s, which is not open: ignored (the client must send didOpen first).", uri
            )
            return
        source = ls.workspace.get_text_document(uri).source
        doc = ls.documents.change(uri, source, params.text_document.version, params.content_changes)
        if doc is not None:
            ls.emit(ls.on_change, doc)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: FlyteLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            log.info("didSave for %s, which is not open: ignored.", params.text_document.uri)
            return
        ls.emit(ls.on_save, doc)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FlyteLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        doc = ls.documents.close(params.text_document.uri)
        if doc is None:
            log.info("didClose for %s, which is not open: ignored.", params.text_document.uri)
            return
        ls.emit(ls.on_close, doc)
