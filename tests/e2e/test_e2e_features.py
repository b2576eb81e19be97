"""The read-only features end to end, over stdio, for each client preset (VS Code, Neovim)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import (
    DEFAULT_TIMEOUT,
    encoding,
    entities,
    open_document,
    to_json,
    uri,
    wait_until,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.timeout(60)

PIPELINE_ENTITIES = [
    ("is_large", "task", "workflows.pipeline.is_large"),
    ("warn", "task", "workflows.pipeline.warn"),
    ("prepare", "workflow", "workflows.pipeline.prepare"),
    ("training_pipeline", "workflow", "workflows.pipeline.training_pipeline"),
    ("bootstrap_pipeline", "workflow", "workflows.pipeline.bootstrap_pipeline"),
    ("nightly", "launch_plan", "training_pipeline_nightly"),
    ("quick", "launch_plan", "bootstrap_quick"),
    ("prepare_small", "launch_plan", "prepare_small"),
]


def root(client: LanguageClient) -> Path:
    return client.root  # type: ignore[attr-defined,no-any-return]


async def test_initialize_advertises_the_features(client: LanguageClient) -> None:
    result: types.InitializeResult = client.init_result  # type: ignore[attr-defined]
    caps = result.capabilities
    assert result.server_info is not None and result.server_info.name == "flyte-ls"
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.change == types.TextDocumentSyncKind.Incremental and sync.open_close
    assert caps.hover_provider
    assert caps.code_lens_provider is not None and caps.code_lens_provider.resolve_provider
    assert caps.workspace_symbol_provider
    assert caps.execute_command_provider is not None
    assert "flyte.entity.info" in caps.execute_command_provider.commands
    # Neovim 0.11 offers utf-8 first; VS Code 1.65 offers nothing, so utf-16.
    assert caps.position_encoding == ("utf-8" if client.preset == "neovim" else "utf-16")  # type: ignore[attr-defined]


async def test_entities_of_an_open_document(client: LanguageClient) -> None:
    doc = open_document(client, root(client) / "workflows/pipeline.py")
    items = await entities(client, doc)
    assert [(e["name"], e["kind"], e["flyteName"]) for e in items] == PIPELINE_ENTITIES
    prepare = items[2]
    assert prepare["range"] == {"start": {"line": 20, "character": 0}, "end": {"line": 24, "character": 49}}
    assert prepare["selectionRange"] == {
        "start": {"line": 21, "character": 4},
        "end": {"line": 21, "character": 11},
    }
    assert prepare["inputs"] == [
        {"name": "n", "type": "int", "default": "20", "required": False},
        {"name": "threshold", "type": "float", "default": "0.05", "required": False},
    ]
    assert prepare["outputs"] == [{"name": "o0", "type": "List[float]"}]
    assert prepare["module"] == "workflows.pipeline"
    assert items[0]["inputs"][0] == {"name": "count", "type": "int", "default": None, "required": True}


async def test_entities_of_a_file_on_disk_with_details(client: LanguageClient) -> None:
    doc = uri(root(client) / "workflows/tasks.py")  # never opened
    items = await entities(client, doc)
    load = next(e for e in items if e["name"] == "load_data")
    assert load["flyteName"] == "workflows.tasks.load_data" and "settings" not in load
    detailed = to_json(
        await asyncio.wait_for(
            client.protocol.send_request_async(
                "flyte/entities", {"textDocument": {"uri": doc}, "details": True}
            ),
            DEFAULT_TIMEOUT,
        )
    )
    load = next(e for e in detailed if e["name"] == "load_data")
    assert load["settings"]["cache"] == "True" and load["settings"]["retries"] == "2"
    assert load["docstring"].startswith("Generate a reproducible data set")


async def test_positions_use_the_negotiated_encoding(client: LanguageClient) -> None:
    # "tâche" is 5 code points: 5 UTF-16 units, 6 UTF-8 bytes. "ü" before the launch plan's name shifts it.
    text = (
        "from flytekit import LaunchPlan, task, workflow\n\n\n"
        "@task\ndef tâche(x: int) -> int:\n    return x\n\n\n"
        "@workflow\ndef wf(x: int) -> int:\n    return tâche(x=x)\n\n\n"
        'lp = LaunchPlan.get_or_create(workflow=wf, name="ü_plan")  # ü\n'
    )
    doc = open_document(client, root(client) / "encoding_demo.py", text)
    items = await entities(client, doc)
    tache = items[0]
    width = 6 if encoding(client) == "utf-8" else 5
    assert tache["name"] == "tâche"
    assert tache["selectionRange"]["end"] == {"line": 4, "character": 4 + width}
    wf = items[1]
    assert wf["range"]["end"] == {"line": 10, "character": len("    return tâche(x=x)") + width - 5}
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=doc))
    )
    assert [lens.range.start.line for lens in lenses] == [3] * 3 + [8] * 3 + [13] * 3  # Run, Register, info


async def hover(client: LanguageClient, doc: str, line: int, character: int) -> types.Hover | None:
    return await asyncio.wait_for(
        client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=doc),
                position=types.Position(line=line, character=character),
            )
        ),
        DEFAULT_TIMEOUT,
    )


def hover_text(result: types.Hover | None) -> str:
    assert result is not None
    assert isinstance(result.contents, types.MarkupContent)
    assert result.contents.kind == types.MarkupKind.Markdown  # both presets render markdown
    return result.contents.value


async def test_hover_on_entities_decorators_and_calls(client: LanguageClient) -> None:
    doc = open_document(client, root(client) / "workflows/pipeline.py")
    text = hover_text(await hover(client, doc, 21, 6))  # on `prepare`
    assert "**workflow** `prepare`" in text
    assert "Flyte name: `workflows.pipeline.prepare`" in text
    assert "- `n`: `int` = `20`" in text
    assert "**Calls**" in text and "`load_data` → `workflows.tasks.load_data`" in text
    assert "Load and clean the data set." in text

    assert "**workflow** `prepare`" in hover_text(await hover(client, doc, 20, 3))  # on `@workflow`

    # On a call to an entity of a sibling module: found through the workspace index.
    await wait_until(lambda: index_end(client), "the workspace index")
    text = hover_text(await hover(client, doc, 23, 10))  # `load_data(n=n)`
    assert "**task** `load_data`" in text and "- `cache` = `True`" in text

    assert await hover(client, doc, 19, 0) is None  # a blank line
    assert await hover(client, doc, 0, 5) is None  # the module docstring


async def test_code_lenses_resolve_and_command(client: LanguageClient) -> None:
    doc = open_document(client, root(client) / "workflows/pipeline.py")
    lenses = await asyncio.wait_for(
        client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=doc))
        ),
        DEFAULT_TIMEOUT,
    )
    # Three per entity: ▶ Run, ⬆ Register and the information lens.
    assert [lens.range.start.line for lens in lenses] == [
        n for n in (10, 15, 20, 27, 44, 50, 59, 61) for _ in "123"
    ]
    lazy = client.preset == "neovim"  # type: ignore[attr-defined]  # it declares codeLens.resolveSupport
    assert all((lens.command is None) == lazy for lens in lenses)
    resolved = [
        await asyncio.wait_for(client.code_lens_resolve_async(lens), DEFAULT_TIMEOUT) if lazy else lens
        for lens in lenses
    ]
    titles = [lens.command.title for lens in resolved if lens.command]
    assert titles[0::3] == ["▶ Run"] * 8 and titles[1::3] == ["⬆ Register"] * 8
    assert [lens.command.command for lens in resolved[:2] if lens.command] == [
        "flyte.execute",
        "flyte.register",
    ]
    assert titles[2::3] == [
        "task · 2 inputs → 1 output",
        "task · 1 input → 1 output",
        "workflow · 2 inputs → 1 output · calls 2 entities",
        "workflow · 3 inputs → 1 output · calls 7 entities",
        "workflow · 2 inputs → 1 output · calls 2 entities",
        "launch_plan → workflows.pipeline.training_pipeline",
        "launch_plan → workflows.pipeline.bootstrap_pipeline",
        "launch_plan → workflows.pipeline.prepare",
    ]
    command = resolved[3 * 2 + 2].command  # the information lens of the third entity
    assert command is not None and command.command == "flyte.entity.info"
    info: Any = await asyncio.wait_for(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
        ),
        DEFAULT_TIMEOUT,
    )
    info = to_json(info)
    assert info["name"] == "prepare" and info["flyteName"] == "workflows.pipeline.prepare"
    assert [c["callee"] for c in info["calls"]] == ["load_data", "clean"]


def index_end(client: LanguageClient) -> list[Any] | None:
    for reports in client.progress_reports.values():
        if (
            reports
            and isinstance(reports[0], types.WorkDoneProgressBegin)
            and reports[0].title == "Flyte: indexing"
        ):
            if isinstance(reports[-1], types.WorkDoneProgressEnd):
                return reports
    return None


async def symbols(client: LanguageClient, query: str) -> list[types.SymbolInformation]:
    result = await asyncio.wait_for(
        client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query)), DEFAULT_TIMEOUT
    )
    return list(result or [])  # type: ignore[arg-type]


async def test_workspace_symbols_after_indexing_with_progress(client: LanguageClient) -> None:
    reports = await wait_until(lambda: index_end(client), "the indexing progress to end")
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert reports[-1].message is not None and reports[-1].message.startswith("Indexed ")
    assert any(
        isinstance(r, types.WorkDoneProgressReport) and r.message and "files" in r.message for r in reports
    )
    assert logged_index(client)

    found = await symbols(client, "load_data")
    assert [(s.name, s.kind, s.container_name) for s in found] == [
        ("load_data", types.SymbolKind.Function, "workflows.tasks")
    ]
    assert found[0].location.uri == uri(root(client) / "workflows/tasks.py")
    assert found[0].location.range.start == types.Position(line=15, character=4)

    pipelines = {s.name: s.kind for s in await symbols(client, "PIPELINE")}
    assert pipelines["training_pipeline"] == types.SymbolKind.Class
    assert pipelines["bootstrap_pipeline"] == types.SymbolKind.Class
    assert {s.name for s in await symbols(client, "workflows.pipeline.")} >= {"prepare", "warn", "is_large"}
    assert [s.name for s in await symbols(client, "ldda")] == ["load_data"]  # fuzzy
    assert await symbols(client, "no_such_entity_anywhere") == []


def logged_index(client: LanguageClient) -> bool:
    return any("Indexed the workspace" in m.message for m in client.log_messages)


async def test_watched_file_changes_update_the_index(client: LanguageClient) -> None:
    await wait_until(lambda: index_end(client), "the indexing progress to end")
    registrations = client.registrations  # type: ignore[attr-defined]
    if client.preset == "visual-studio-code":  # type: ignore[attr-defined]  # dynamic registration supported
        assert [r.method for r in registrations] == ["workspace/didChangeWatchedFiles"]
        globs = [w["globPattern"] for w in registrations[0].register_options["watchers"]]
        assert globs == ["**/*.py", "**/.gitignore"]
    else:
        assert registrations == []

    path = root(client) / "workflows/extra.py"
    path.write_text(
        "from flytekit import task\n\n\n@task\ndef freshly_written(x: int) -> int:\n    return x\n"
    )
    notify(client, path, types.FileChangeType.Created)
    await wait_until_symbols(client, "freshly_written", 1)

    path.write_text(
        "from flytekit import task\n\n\n@task\ndef renamed_on_disk(x: int) -> int:\n    return x\n"
    )
    notify(client, path, types.FileChangeType.Changed)
    await wait_until_symbols(client, "renamed_on_disk", 1)
    assert await symbols(client, "freshly_written") == []

    path.unlink()
    notify(client, path, types.FileChangeType.Deleted)
    await wait_until_symbols(client, "renamed_on_disk", 0)


def notify(client: LanguageClient, path: Path, kind: types.FileChangeType) -> None:
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(changes=[types.FileEvent(uri=uri(path), type=kind)])
    )


async def wait_until_symbols(client: LanguageClient, query: str, count: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEFAULT_TIMEOUT
    while len(await symbols(client, query)) != count:
        if loop.time() > deadline:
            raise AssertionError(f"workspace/symbol {query!r} never returned {count} results")
        await asyncio.sleep(0.05)


async def test_workspace_folders_added_and_removed(client: LanguageClient, tmp_path: Path) -> None:
    await wait_until(lambda: index_end(client), "the indexing progress to end")
    (tmp_path / "extra_task.py").write_text(
        "from flytekit import task\n\n\n@task\ndef from_another_folder(x: int) -> int:\n    return x\n"
    )
    folder = types.WorkspaceFolder(uri=uri(tmp_path), name="other")
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[folder], removed=[])
        )
    )
    await wait_until_symbols(client, "from_another_folder", 1)
    assert len(await symbols(client, "load_data")) == 1  # the first folder is still indexed

    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[], removed=[folder])
        )
    )
    await wait_until_symbols(client, "from_another_folder", 0)
