"""Helpers for the end-to-end tests: ``flyte-ls serve`` over stdio, driven by pytest-lsp.

Every wait has a deadline: pytest-lsp's ``wait_for_notification`` has none and only sees future notifications,
so these helpers poll what the client recorded (including a per-URI count of diagnostics publishes) instead.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SERVER_COMMAND = [sys.executable, "-m", "flyte_ls", "serve", "-v"]

# The presets every end-to-end test runs against: VS Code 1.65 (utf-16, configuration pull, dynamic watchers,
# markdown) and Neovim 0.11 (utf-8 positions, lens resolve support, no dynamic watcher registration).
CLIENTS = ["visual-studio-code", "neovim"]

DEFAULT_TIMEOUT = 15.0


def _publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
    client.diagnostics[params.uri] = params.diagnostics
    counts: dict[str, int] = client.publish_counts  # type: ignore[attr-defined]
    counts[params.uri] = counts.get(params.uri, 0) + 1


def _register_capability(client: LanguageClient, params: types.RegistrationParams) -> None:
    client.registrations.extend(params.registrations)  # type: ignore[attr-defined]


def _code_lens_refresh(client: LanguageClient, params: None) -> None:
    client.code_lens_refreshes += 1  # type: ignore[attr-defined]


def make_client() -> LanguageClient:
    """pytest-lsp's client, plus a per-URI count of diagnostics publishes, client/registerCapability and
    workspace/codeLens/refresh (which VS Code implements and pytest-lsp does not)."""
    client = LanguageClient(converter_factory=default_converter)
    client.publish_counts = {}  # type: ignore[attr-defined]
    client.registrations = []  # type: ignore[attr-defined]
    client.code_lens_refreshes = 0  # type: ignore[attr-defined]
    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = _publish
    features[types.CLIENT_REGISTER_CAPABILITY] = _register_capability
    features[types.WORKSPACE_CODE_LENS_REFRESH] = _code_lens_refresh
    register_lsp_features(client, features)
    return client


CONFIG = ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client)


def copy_examples(dest: Path) -> Path:
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def uri(path: Path) -> str:
    return from_fs_path(str(path))


async def wait_until(cond: Callable[[], Any], what: str, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Poll ``cond`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = cond()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


def publish_count(client: LanguageClient, doc_uri: str) -> int:
    return client.publish_counts.get(doc_uri, 0)  # type: ignore[attr-defined]


async def next_diagnostics(
    client: LanguageClient, doc_uri: str, after: int, timeout: float = DEFAULT_TIMEOUT
) -> list[types.Diagnostic]:
    """The diagnostics of the first publish for ``doc_uri`` after the ``after``-th one."""
    await wait_until(lambda: publish_count(client, doc_uri) > after, f"diagnostics for {doc_uri}", timeout)
    return list(client.diagnostics[doc_uri])


def open_document(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    doc_uri = uri(path)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=doc_uri,
                language_id="python",
                version=version,
                text=path.read_text() if text is None else text,
            )
        )
    )
    return doc_uri


def close_document(client: LanguageClient, doc_uri: str) -> None:
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=doc_uri))
    )


def replace_text(
    client: LanguageClient,
    doc_uri: str,
    version: int,
    start: tuple[int, int],
    end: tuple[int, int],
    text: str,
) -> None:
    """An incremental edit (positions in the client's encoding)."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=doc_uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=start[0], character=start[1]),
                        end=types.Position(line=end[0], character=end[1]),
                    ),
                    text=text,
                )
            ],
        )
    )


async def entities(
    client: LanguageClient, doc_uri: str, timeout: float = DEFAULT_TIMEOUT
) -> list[dict[str, Any]]:
    """``flyte/entities`` as plain JSON."""
    result = await asyncio.wait_for(
        client.protocol.send_request_async("flyte/entities", {"textDocument": {"uri": doc_uri}}), timeout
    )
    return to_json(result)


def to_json(value: Any) -> Any:
    """pygls hands unknown results back as namedtuples; turn them back into plain JSON."""
    if hasattr(value, "_asdict"):
        return {k: to_json(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


async def start_session(
    client: LanguageClient, preset: str, root: Path, init_options: dict[str, Any] | None = None
) -> types.InitializeResult:
    params = types.InitializeParams(
        capabilities=client_capabilities(preset),
        root_uri=uri(root),
        workspace_folders=[types.WorkspaceFolder(uri=uri(root), name=root.name)],
        initialization_options=init_options,
    )
    return await asyncio.wait_for(client.initialize_session(params), DEFAULT_TIMEOUT)


async def stop_session(client: LanguageClient) -> None:
    await asyncio.wait_for(client.shutdown_session(), DEFAULT_TIMEOUT)


async def raw_request(
    client: LanguageClient, method: str, params: Any, timeout: float = DEFAULT_TIMEOUT
) -> Any:
    """Send a request exactly as given (possibly malformed: the typed client API would refuse to build it)."""
    msg_id = f"raw-{uuid.uuid4()}"
    future: Future[Any] = Future()
    client.protocol._request_futures[msg_id] = future
    body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode()
    client.protocol.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)  # type: ignore[union-attr]
    return await asyncio.wait_for(asyncio.wrap_future(future), timeout)


def raw_notify(client: LanguageClient, method: str, params: Any) -> None:
    body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode()
    client.protocol.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)  # type: ignore[union-attr]


def logged(client: LanguageClient, *fragments: str) -> bool:
    """Whether some window/logMessage contains every fragment."""
    return any(all(f in m.message for f in fragments) for m in client.log_messages)


def encoding(client: LanguageClient) -> str:
    return str(client.init_result.capabilities.position_encoding or "utf-16")  # type: ignore[attr-defined]


# -- notebooks ---------------------------------------------------------------------------------------------
NOTEBOOK_CAPABILITIES = types.NotebookDocumentClientCapabilities(
    synchronization=types.NotebookDocumentSyncClientCapabilities()
)


async def start_notebook_session(
    client: LanguageClient, root: Path, init_options: dict[str, Any]
) -> types.InitializeResult:
    """``initialize`` as a notebook editor does (notebook sync, work-done progress) in ``root``."""
    params = types.InitializeParams(
        capabilities=types.ClientCapabilities(
            window=types.WindowClientCapabilities(work_done_progress=True),
            notebook_document=NOTEBOOK_CAPABILITIES,
        ),
        root_uri=uri(root),
        workspace_folders=[types.WorkspaceFolder(uri=uri(root), name=root.name)],
        initialization_options=init_options,
    )
    return await asyncio.wait_for(client.initialize_session(params), 30)


def open_notebook(client: LanguageClient, path: Path) -> list[str]:
    """``notebookDocument/didOpen`` of the ``.ipynb`` at ``path`` with all its cells, once per client (a
    second call answers the same); the cell URIs by cell index, markdown cells included."""
    opened: dict[Path, list[str]] = vars(client).setdefault("_flyte_ls_notebooks", {})
    if path in opened:
        return list(opened[path])
    uris, cells, docs = [], [], []
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        cell_uri = f"vscode-notebook-cell:{path}#C{i}"
        code = cell["cell_type"] == "code"
        uris.append(cell_uri)
        kind = types.NotebookCellKind.Code if code else types.NotebookCellKind.Markup
        cells.append(types.NotebookCell(kind=kind, document=cell_uri))
        text = "".join(cell["source"])
        language = "python" if code else "markdown"
        docs.append(types.TextDocumentItem(uri=cell_uri, language_id=language, version=1, text=text))
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=uri(path), notebook_type="jupyter-notebook", version=1, cells=cells
            ),
            cell_text_documents=docs,
        )
    )
    opened[path] = uris
    return list(uris)


async def command(client: LanguageClient, name: str, *arguments: Any, timeout: float = 180.0) -> Any:
    """``workspace/executeCommand`` with a deadline; the result as plain JSON."""
    params = types.ExecuteCommandParams(command=name, arguments=list(arguments))
    return to_json(await asyncio.wait_for(client.workspace_execute_command_async(params), timeout))


def exec_diagnostics(client: LanguageClient, doc_uri: str, name: str | None = None) -> list[types.Diagnostic]:
    """The ``flyte-exec`` diagnostics last published for ``doc_uri`` (of execution ``name``, if given)."""
    return [
        d
        for d in client.diagnostics.get(doc_uri, [])
        if d.source == "flyte-exec"
        and (name is None or (d.data or {}).get("execution", {}).get("name") == name)
    ]
