"""The indexing feature on an in-process server (no transport): full runs and watched-file updates."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.uris import from_fs_path
from pygls.workspace import Workspace

from flyte_ls.server.features.indexing import Indexer
from flyte_ls.server.server import FlyteLanguageServer
from flyte_ls.server.settings import parse_settings

pytestmark = pytest.mark.timeout(30)

TASK = "from flytekit import task\n\n\n@task\ndef {name}(x: int) -> int:\n    return x\n"


def make_server(root: Path) -> FlyteLanguageServer:
    server = FlyteLanguageServer()
    folder = types.WorkspaceFolder(uri=from_fs_path(str(root)), name=root.name)
    server.protocol._workspace = Workspace(folder.uri, workspace_folders=[folder])
    server.protocol.client_capabilities = types.ClientCapabilities()
    server.loop = asyncio.get_running_loop()
    return server


def names(server: FlyteLanguageServer) -> list[str]:
    return sorted(s.name for s in server.index.search("", 100))


def event(path: Path, kind: types.FileChangeType) -> types.DidChangeWatchedFilesParams:
    return types.DidChangeWatchedFilesParams(
        changes=[types.FileEvent(uri=from_fs_path(str(path)), type=kind)]
    )


@pytest.fixture
async def indexed(tmp_path: Path) -> tuple[FlyteLanguageServer, Indexer, Path]:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("")
    (tmp_path / "pkg/a.py").write_text(TASK.format(name="alpha"))
    (tmp_path / ".gitignore").write_text("scratch/\n")
    server = make_server(tmp_path)
    indexer = Indexer(server)
    indexer.start("test")
    await server.wait_for_tasks(20)
    return server, indexer, tmp_path


async def test_full_run_indexes_the_folder(indexed: tuple[FlyteLanguageServer, Indexer, Path]) -> None:
    server, _, _ = indexed
    assert names(server) == ["alpha"]
    assert server.index.lookup("pkg.a") is not None


async def test_created_changed_and_deleted_files(indexed: tuple[FlyteLanguageServer, Indexer, Path]) -> None:
    server, indexer, root = indexed
    new = root / "pkg/b.py"
    new.write_text(TASK.format(name="beta"))
    indexer.on_watched_files(event(new, types.FileChangeType.Created))
    await server.wait_for_tasks(10)
    assert names(server) == ["alpha", "beta"]

    new.write_text(TASK.format(name="gamma"))
    indexer.on_watched_files(event(new, types.FileChangeType.Changed))
    await server.wait_for_tasks(10)
    assert names(server) == ["alpha", "gamma"]

    new.unlink()
    indexer.on_watched_files(event(new, types.FileChangeType.Deleted))
    await server.wait_for_tasks(10)
    assert names(server) == ["alpha"]


async def test_ignored_and_outside_files_stay_out(indexed: tuple[FlyteLanguageServer, Indexer, Path]) -> None:
    server, indexer, root = indexed
    ignored = root / "scratch/c.py"
    ignored.parent.mkdir()
    ignored.write_text(TASK.format(name="ignored_task"))
    indexer.on_watched_files(event(ignored, types.FileChangeType.Created))
    await server.wait_for_tasks(10)
    assert names(server) == ["alpha"]
    assert not indexer.wanted(str(root.parent / "elsewhere.py"))


async def test_a_gitignore_change_reindexes(indexed: tuple[FlyteLanguageServer, Indexer, Path]) -> None:
    server, indexer, root = indexed
    (root / ".gitignore").write_text("scratch/\npkg/a.py\n")
    indexer.on_watched_files(event(root / ".gitignore", types.FileChangeType.Changed))
    await server.wait_for_tasks(20)
    assert names(server) == []


async def test_a_deleted_folder_leaves_the_index(indexed: tuple[FlyteLanguageServer, Indexer, Path]) -> None:
    server, indexer, root = indexed
    (root / "pkg/a.py").unlink()
    (root / "pkg/__init__.py").unlink()
    (root / "pkg").rmdir()
    indexer.on_watched_files(event(root / "pkg", types.FileChangeType.Deleted))
    await server.wait_for_tasks(10)
    assert names(server) == []
    assert len(server.index) == 0


async def test_changing_flyte_exclude_reindexes(indexed: tuple[FlyteLanguageServer, Indexer, Path]) -> None:
    server, indexer, _ = indexed
    server.on_settings.append(indexer.on_settings)
    settings, problems, _ = parse_settings({"exclude": ["pkg/"]})
    assert problems == []
    server.apply_settings(settings)
    await server.wait_for_tasks(20)
    assert names(server) == []


async def test_open_documents_win_over_the_disk(indexed: tuple[FlyteLanguageServer, Indexer, Path]) -> None:
    server, indexer, root = indexed
    path = root / "pkg/a.py"
    doc = server.documents.open(from_fs_path(str(path)), TASK.format(name="edited_in_editor"), 1, "python")
    assert indexer.update_from_document(doc)  # the interface changed
    assert names(server) == ["edited_in_editor"]
    indexer.on_watched_files(event(path, types.FileChangeType.Changed))  # the disk is stale while open
    await server.wait_for_tasks(10)
    assert names(server) == ["edited_in_editor"]
    server.documents.close(doc.uri)
    indexer.on_close(doc)  # closing goes back to the file on disk
    await server.wait_for_tasks(10)
    assert names(server) == ["alpha"]
