"""Bad input never takes the server down: malformed Python, non-UTF-8 and oversized files, non-file URIs,
closed or unknown documents, malformed params. Each gets a proper LSP error or an empty result and a log line,
and the next request still works."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsp_helpers import (
    CLIENTS,
    CONFIG,
    DEFAULT_TIMEOUT,
    copy_examples,
    entities,
    logged,
    next_diagnostics,
    open_document,
    raw_notify,
    raw_request,
    start_session,
    stop_session,
    uri,
    wait_until,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcMethodNotFound
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.timeout(90)

BIG = 5 * 1024 * 1024 + 100  # just over the default flyte.index.maxFileSizeBytes


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_examples(tmp_path_factory.mktemp("bad") / "examples")
    (root / "latin1.py").write_bytes("# caf\xe9\nfrom flytekit import task\n".encode("latin-1"))
    (root / "huge.py").write_text("# flyte\n" + "x = 1\n" * (BIG // 6))
    (root / "garbage.py").write_bytes(
        b"from flytekit import task\n\n@task\ndef f(x: int -> int:\n\x00\x01 ))))\n"
    )
    return root


@pytest_lsp.fixture(config=CONFIG, params=CLIENTS, scope="module")
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    root: Path = request.getfixturevalue("project")
    lsp_client.preset = request.param  # type: ignore[attr-defined]
    lsp_client.root = root  # type: ignore[attr-defined]
    lsp_client.init_result = await start_session(lsp_client, request.param, root)  # type: ignore[attr-defined]
    yield
    await stop_session(lsp_client)


def root(client: LanguageClient) -> Path:
    return client.root  # type: ignore[attr-defined,no-any-return]


async def still_alive(client: LanguageClient) -> None:
    """The server answers a normal request after the bad one."""
    items = await entities(client, uri(root(client) / "workflows/pipeline.py"))
    assert len(items) == 8


async def entities_error(client: LanguageClient, params: object) -> str:
    with pytest.raises(JsonRpcInvalidParams) as info:
        await raw_request(client, "flyte/entities", params)
    return str(info.value)


async def test_the_index_skips_unreadable_files_with_a_log_line(client: LanguageClient) -> None:
    await wait_until(lambda: logged(client, "Indexed the workspace"), "the end of indexing")
    assert logged(client, "latin1.py", "not UTF-8")
    assert logged(client, "huge.py", "maxFileSizeBytes")


async def test_malformed_python(client: LanguageClient) -> None:
    doc = open_document(client, root(client) / "garbage.py")
    diagnostics = await next_diagnostics(client, doc, 0)
    assert [d.code for d in diagnostics] == ["FL000"]
    assert isinstance(await entities(client, doc), list)
    await still_alive(client)


async def test_non_utf8_file_on_disk(client: LanguageClient) -> None:
    message = await entities_error(client, {"textDocument": {"uri": uri(root(client) / "latin1.py")}})
    assert "not UTF-8" in message
    assert logged(client, "latin1.py", "not UTF-8")
    await still_alive(client)


async def test_oversized_file_on_disk(client: LanguageClient) -> None:
    message = await entities_error(client, {"textDocument": {"uri": uri(root(client) / "huge.py")}})
    assert "maxFileSizeBytes" in message
    await still_alive(client)


async def test_missing_file(client: LanguageClient) -> None:
    message = await entities_error(client, {"textDocument": {"uri": uri(root(client) / "nope.py")}})
    assert "no such file" in message
    assert logged(client, "nope.py", "no such file")
    await still_alive(client)


@pytest.mark.parametrize(
    "bad_uri",
    ["untitled:Untitled-1", "vscode-notebook-cell:/work/nb.ipynb#W0sZmlsZQ%3D%3D", "https://x/y.py"],
)
async def test_non_file_uris_that_are_not_open(client: LanguageClient, bad_uri: str) -> None:
    message = await entities_error(client, {"textDocument": {"uri": bad_uri}})
    assert "neither an open document nor a file: URI" in message
    assert logged(client, bad_uri, "not a file URI")
    await still_alive(client)


async def test_an_open_untitled_document_is_served(client: LanguageClient) -> None:
    text = "from flytekit import task\n\n\n@task\ndef scratch(x: int) -> int:\n    return x\n"
    doc = "untitled:Untitled-2"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=doc, language_id="python", version=1, text=text)
        )
    )
    items = await entities(client, doc)
    assert [(e["name"], e["module"]) for e in items] == [("scratch", "")]
    assert await next_diagnostics(client, doc, 0) == []


async def test_requests_for_closed_or_unknown_documents(client: LanguageClient) -> None:
    doc = open_document(client, root(client) / "workflows/external.py")
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=doc))
    )
    unknown = uri(root(client) / "never_opened.py")
    for target in (doc, unknown):
        ident = types.TextDocumentIdentifier(uri=target)
        hover = await asyncio.wait_for(
            client.text_document_hover_async(
                types.HoverParams(text_document=ident, position=types.Position(line=1, character=1))
            ),
            DEFAULT_TIMEOUT,
        )
        assert hover is None
        lenses = await asyncio.wait_for(
            client.text_document_code_lens_async(types.CodeLensParams(text_document=ident)), DEFAULT_TIMEOUT
        )
        assert not lenses
    assert logged(client, "Hover for", "not open")
    # A closed document that exists on disk is still answered, from the disk.
    assert [e["name"] for e in await entities(client, doc)] == [
        "normalize",
        "word_count",
        "checksum",
        "describe",
        "imperative",
    ]
    await still_alive(client)


@pytest.mark.parametrize(
    "params",
    [
        None,
        {},
        [],
        {"textDocument": 5},
        {"textDocument": {}},
        {"textDocument": {"uri": None}},
        "file:///x.py",
    ],
)
async def test_malformed_entities_params(client: LanguageClient, params: object) -> None:
    message = await entities_error(client, params)
    assert "flyte/entities" in message
    assert logged(client, "flyte/entities", "malformed params")
    await still_alive(client)


async def test_malformed_params_of_standard_requests(client: LanguageClient) -> None:
    with pytest.raises(JsonRpcInvalidParams):
        await raw_request(client, "textDocument/hover", {"textDocument": {}})
    with pytest.raises(JsonRpcInvalidParams):
        await raw_request(client, "textDocument/codeLens", {"textDocument": "file:///x.py"})
    assert logged(client, "textDocument/codeLens", "malformed params")
    # Loosely typed but usable params (a number for a URI, an unknown key) get an empty result instead.
    assert await raw_request(client, "textDocument/codeLens", {"textDocument": {"uri": 3}, "extra": []}) == []
    with pytest.raises(JsonRpcInvalidParams):
        await raw_request(
            client, "workspace/executeCommand", {"command": "flyte.entity.info", "arguments": [{}]}
        )
    with pytest.raises(JsonRpcMethodNotFound):
        await raw_request(client, "flyte/noSuchRequest", {})
    await still_alive(client)


async def test_malformed_and_out_of_order_notifications(client: LanguageClient) -> None:
    raw_notify(
        client, "textDocument/didOpen", {"textDocument": {"uri": "file:///x.py"}}
    )  # no text, no version
    raw_notify(
        client,
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri(root(client) / "not_open.py"), "version": 2},
            "contentChanges": [{"text": "x"}],
        },
    )
    raw_notify(client, "workspace/didChangeWatchedFiles", {"changes": [{"uri": "untitled:1", "type": 1}]})
    raw_notify(client, "textDocument/didClose", {"textDocument": {"uri": uri(root(client) / "not_open.py")}})
    await wait_until(
        lambda: logged(client, "textDocument/didOpen", "malformed params"), "a log line about didOpen"
    )
    await still_alive(client)
