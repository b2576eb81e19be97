"""Diagnostics are stored per (source, uri) and merged before publishing."""

from __future__ import annotations

import pytest
from lsprotocol import types

from flyte_ls.server.constants import SOURCE_EXEC, SOURCE_LINT
from flyte_ls.server.diagnostics_store import DiagnosticStore

pytestmark = pytest.mark.timeout(10)

URI = "file:///work/my%20project/wf.py"


def diag(message: str, source: str) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=1)),
        message=message,
        source=source,
    )


def test_sources_are_merged_and_replaced_independently() -> None:
    store = DiagnosticStore()
    store.set(SOURCE_LINT, URI, [diag("lint 1", SOURCE_LINT), diag("lint 2", SOURCE_LINT)])
    store.set(SOURCE_EXEC, URI, [diag("run failed", SOURCE_EXEC)])
    assert [d.message for d in store.merged(URI)] == ["lint 1", "lint 2", "run failed"]

    store.set(SOURCE_LINT, URI, [diag("lint 3", SOURCE_LINT)])  # a new lint pass replaces only the lints
    assert [d.message for d in store.merged(URI)] == ["lint 3", "run failed"]

    store.clear(SOURCE_LINT, URI)  # closing the document clears the lints, not the execution status
    assert [d.message for d in store.merged(URI)] == ["run failed"]
    assert store.sources(URI) == [SOURCE_EXEC]


def test_uris_are_normalised_but_published_as_sent() -> None:
    store = DiagnosticStore()
    store.set(SOURCE_LINT, URI, [diag("x", SOURCE_LINT)])
    assert [d.message for d in store.merged("file:///work/my project/wf.py")] == ["x"]
    assert store.uris() == [URI]


def test_empty_entries_are_forgotten() -> None:
    store = DiagnosticStore()
    store.set(SOURCE_LINT, URI, [diag("x", SOURCE_LINT)])
    store.clear(SOURCE_LINT, URI)
    assert store.uris() == []
    store.forget_empty()
    assert store.merged(URI) == []
    assert store.sources(URI) == []
