"""Settings end to end: initializationOptions, workspace/configuration (pull) or pushed settings, live
changes, and bad values (reported with window/showMessage, replaced by defaults; the server keeps going)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_helpers import (
    CLIENTS,
    CONFIG,
    DEFAULT_TIMEOUT,
    next_diagnostics,
    open_document,
    publish_count,
    start_session,
    stop_session,
    wait_until,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.timeout(90)

# Neovim 0.7 (the Debian version) cannot answer workspace/configuration: settings are pushed instead.
PRESETS = [*CLIENTS, "neovim@v0.7"]
BAD_INIT = {"codeLens": {"enabled": "yes"}, "diagnostics": {"debounceMs": 50}}


@pytest_lsp.fixture(config=CONFIG, params=PRESETS, scope="module")
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    root: Path = request.getfixturevalue("project")
    lsp_client.preset = request.param  # type: ignore[attr-defined]
    lsp_client.root = root  # type: ignore[attr-defined]
    lsp_client.init_result = await start_session(lsp_client, request.param, root, BAD_INIT)  # type: ignore[attr-defined]
    yield
    await stop_session(lsp_client)


def pulls(client: LanguageClient) -> bool:
    caps = client.capabilities
    return bool(caps and caps.workspace and caps.workspace.configuration)


def warnings(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Warning]


async def change_settings(client: LanguageClient, section: dict[str, Any]) -> None:
    """What an editor does when the user edits the flyte settings."""
    if pulls(client):
        client.set_configuration(section, section="flyte")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    else:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"flyte": section})
        )


async def lenses(client: LanguageClient, doc: str) -> list[types.CodeLens]:
    result = await asyncio.wait_for(
        client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=doc))
        ),
        DEFAULT_TIMEOUT,
    )
    return list(result or [])


async def test_a_bad_initialization_option_is_reported_and_defaulted(client: LanguageClient) -> None:
    messages = await wait_until(lambda: warnings(client), "a settings warning")
    assert any("flyte.codeLens.enabled" in m and '"yes"' in m and "default" in m for m in messages), messages
    doc = open_document(client, client.root / "workflows/pipeline.py")  # type: ignore[attr-defined]
    assert len(await lenses(client, doc)) == 3 * 8  # the default (enabled) is in force: Run, Register, info
    # The good option next to the bad one applies: lint diagnostics come 50 ms after an edit, not 300.
    await next_diagnostics(client, doc, 0)


async def test_live_changes_apply_without_restart(client: LanguageClient) -> None:
    doc = open_document(client, client.root / "workflows/pipeline.py")  # type: ignore[attr-defined]
    await change_settings(client, {"codeLens": {"enabled": False}})
    await wait_until_async(
        lambda: lenses(client, doc), lambda got: got == [], "code lenses to be switched off"
    )

    await change_settings(client, {"codeLens": {"enabled": True}})
    await wait_until_async(
        lambda: lenses(client, doc), lambda got: len(got) == 3 * 8, "code lenses to come back"
    )
    # Clients that can refresh lenses are told to (VS Code); the others are not sent a request they lack.
    refreshes = client.code_lens_refreshes  # type: ignore[attr-defined]
    assert refreshes == (2 if client.preset == "visual-studio-code" else 0)  # type: ignore[attr-defined]


async def test_a_bad_live_value_warns_and_keeps_the_default(client: LanguageClient) -> None:
    doc = open_document(client, client.root / "workflows/pipeline.py")  # type: ignore[attr-defined]
    before = len(warnings(client))
    await change_settings(client, {"codeLens": {"enabled": False}, "diagnostics": {"debounceMs": "soon"}})
    new = await wait_until(lambda: warnings(client)[before:], "a warning about diagnostics.debounceMs")
    assert any("flyte.diagnostics.debounceMs" in m and '"soon"' in m for m in new), new
    # The valid key in the same change still applies.
    await wait_until_async(
        lambda: lenses(client, doc), lambda got: got == [], "code lenses to be switched off"
    )
    await change_settings(client, {})


async def test_diagnostics_can_be_switched_off_and_filtered(client: LanguageClient) -> None:
    doc = open_document(client, client.root / "mistakes.py")  # type: ignore[attr-defined]
    first = await next_diagnostics(client, doc, 0)
    assert "FL001" in {d.code for d in first}

    seen = publish_count(client, doc)
    await change_settings(client, {"lint": {"ignore": ["FL001"]}})
    filtered = await next_diagnostics(client, doc, seen)
    assert filtered and "FL001" not in {d.code for d in filtered}

    seen = publish_count(client, doc)
    await change_settings(client, {"diagnostics": {"enabled": False}})
    assert await next_diagnostics(client, doc, seen) == []

    seen = publish_count(client, doc)
    await change_settings(client, {})
    assert "FL001" in {d.code for d in await next_diagnostics(client, doc, seen)}


async def wait_until_async(fetch: Any, accept: Any, what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEFAULT_TIMEOUT
    while True:
        value = await fetch()
        if accept(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        await asyncio.sleep(0.05)
