"""Diagnostics end to end: published on open, debounced on change, immediate on save, cleared on close; the
syntax error of a half-typed edit is reported while the last good entities stay visible."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsp_helpers import (
    CLIENTS,
    CONFIG,
    close_document,
    entities,
    next_diagnostics,
    open_document,
    publish_count,
    replace_text,
    start_session,
    stop_session,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.timeout(90)

DEBOUNCE_MS = 3000  # long enough that "not before the debounce" and "at once on save" cannot be confused


@pytest_lsp.fixture(config=CONFIG, params=CLIENTS, scope="module")
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    root: Path = request.getfixturevalue("project")
    lsp_client.preset = request.param  # type: ignore[attr-defined]
    lsp_client.root = root  # type: ignore[attr-defined]
    options = {"diagnostics": {"debounceMs": DEBOUNCE_MS}}
    lsp_client.init_result = await start_session(lsp_client, request.param, root, options)  # type: ignore[attr-defined]
    yield
    await stop_session(lsp_client)


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return sorted(str(d.code) for d in diagnostics)


async def test_lint_diagnostics_on_open(client: LanguageClient) -> None:
    path = client.root / "mistakes.py"  # type: ignore[attr-defined]
    doc = open_document(client, path)
    diagnostics = await next_diagnostics(client, doc, 0)
    assert diagnostics, "mistakes.py has deliberate Flyte mistakes"
    assert {d.source for d in diagnostics} == {"flyte"}
    untyped = [d for d in diagnostics if d.code == "FL001"]
    assert untyped and untyped[0].severity == types.DiagnosticSeverity.Error
    assert untyped[0].range.start.line == 11  # def untyped(x, ...)
    assert "x" in untyped[0].message and "annotation" in untyped[0].message
    close_document(client, doc)


async def test_clean_file_publishes_an_empty_list(client: LanguageClient) -> None:
    doc = open_document(client, client.root / "workflows/pipeline.py")  # type: ignore[attr-defined]
    assert await next_diagnostics(client, doc, 0) == []
    close_document(client, doc)


async def test_change_is_debounced_save_is_immediate_close_clears(client: LanguageClient) -> None:
    path: Path = client.root / "workflows/tasks.py"  # type: ignore[attr-defined]
    text = path.read_text()
    last_line = text.count("\n")
    doc = open_document(client, path, text)
    assert await next_diagnostics(client, doc, 0) == []
    before = await entities(client, doc)

    # A half-typed definition: a syntax error, reported only after the debounce.
    loop = asyncio.get_running_loop()
    replace_text(client, doc, 2, (last_line, 0), (last_line, 0), "\n@task\ndef half_typed(x: int\n")
    changed_at = loop.time()
    await asyncio.sleep(1.0)
    assert publish_count(client, doc) == 1, "published before the debounce delay"
    diagnostics = await next_diagnostics(client, doc, 1)
    assert loop.time() - changed_at >= DEBOUNCE_MS / 1000 * 0.9
    assert codes(diagnostics) == ["FL000"]
    assert diagnostics[0].severity == types.DiagnosticSeverity.Error
    assert diagnostics[0].range.start.line >= last_line
    # While the text does not parse, the last good entities are still served.
    assert [e["name"] for e in await entities(client, doc)] == [e["name"] for e in before]

    # Finish the edit and save: linted at once, not after the debounce.
    replace_text(
        client,
        doc,
        3,
        (last_line + 2, 0),
        (last_line + 3, 0),
        "def half_typed(x: int) -> int:\n    return x\n",
    )
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=doc))
    )
    saved_at = loop.time()
    assert await next_diagnostics(client, doc, 2) == []
    assert loop.time() - saved_at < DEBOUNCE_MS / 1000 * 0.6
    assert "half_typed" in [e["name"] for e in await entities(client, doc)]

    # Break it again, then close before the debounce: the pending lint is dropped and the list is cleared.
    replace_text(client, doc, 4, (last_line + 2, 0), (last_line + 2, 0), "def oops(:\n")
    close_document(client, doc)
    assert await next_diagnostics(client, doc, 3) == []
    await asyncio.sleep(DEBOUNCE_MS / 1000 + 0.5)
    assert publish_count(client, doc) == 4, "a lint of a closed document was published"


async def test_cross_module_checks_use_the_workspace_index(client: LanguageClient) -> None:
    path: Path = client.root / "workflows/cross.py"  # type: ignore[attr-defined]
    text = (
        "from flytekit import workflow\n\nfrom workflows.tasks import load_data\n\n\n"
        "@workflow\ndef wf() -> None:\n    load_data(bogus=1)\n"
    )
    path.write_text(text)
    doc = open_document(client, path, text)
    seen = 0
    for _ in range(5):  # the first pass may run before the index knows workflows.tasks
        diagnostics = await next_diagnostics(client, doc, seen)
        seen = publish_count(client, doc)
        if any("bogus" in d.message for d in diagnostics):
            break
    else:
        raise AssertionError(f"no diagnostic about the unknown input `bogus`: {diagnostics}")
    close_document(client, doc)
