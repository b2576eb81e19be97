"""Background indexing of the workspace folders, kept current through file watching and document edits.

Indexing starts after ``initialized`` (once the settings are known), reports work-done progress when the
client supports it, and parses in the index worker thread in batches, yielding to the event loop between
batches. Open documents win over the files on disk: their entries come from the editor's text.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid

from lsprotocol import types

from flyte_ls.server.constants import WATCHER_REGISTRATION_ID
from flyte_ls.server.documents import Document, fs_path, shown_analysis
from flyte_ls.server.index import Excludes, IndexEntry, scan_batch, summarise, walk_python_files
from flyte_ls.server.scanning import ScanResult, scan_files
from flyte_ls.server.server import FlyteLanguageServer
from flyte_ls.server.settings import Settings

log = logging.getLogger(__name__)


def _interface(entry: IndexEntry | None) -> object:
    if entry is None:
        return None
    return [(e.name, e.flyte_name, e.kind, e.inputs, e.outputs) for e in entry.analysis.entities]


class Indexer:
    def __init__(self, server: FlyteLanguageServer) -> None:
        self.server = server
        self._run: asyncio.Task[None] | None = None
        self._doc_updates: dict[str, asyncio.Task[None]] = {}

    # -- folders
    # -----------------------------------------------------------------------------------------------
    def folders(self) -> list[str]:
        ws = self.server.workspace
        paths = [fs_path(f.uri) for f in ws.folders.values()]
        if not paths and ws.root_uri:
            paths = [fs_path(ws.root_uri)]
        return [os.path.abspath(p) for p in paths if p]

    def excludes_for(self, path: str) -> Excludes | None:
        path = os.path.abspath(path)
        for folder in sorted(self.folders(), key=len, reverse=True):
            if path == folder or path.startswith(os.path.join(folder, "")):
                return Excludes(folder, self.server.settings.exclude)
        return None

    def wanted(self, path: str) -> bool:
        """Whether ``path`` belongs in the index: a .py file in a workspace folder, not excluded or hidden."""
        excludes = self.excludes_for(path)
        if excludes is None or not path.endswith(".py"):
            return False
        rel = os.path.relpath(path, excludes.root).replace(os.sep, "/").split("/")
        if any(part.startswith(".") for part in rel[:-1]):
            return False
        return not excludes.excluded(path)

    # -- full runs
    # ---------------------------------------------------------------------------------------------
    def start(self, reason: str) -> None:
        if self._run is not None and not self._run.done():
            self._run.cancel()
        self._run = self.server.run_task(f"index workspace ({reason})", self._index_all(reason))

    async def _index_all(self, reason: str) -> None:
        server = self.server
        folders = self.folders()
        started = time.perf_counter()
        token: str | None = None
        if server.client_has("window.work_done_progress"):
            token = f"flyte-ls-index-{uuid.uuid4()}"
            try:
                await asyncio.wait_for(server.work_done_progress.create_async(token), 5)
            except Exception as exc:
                log.info("The client refused a progress token (%s); indexing without progress.", exc)
                token = None
        if token is not None:
            server.work_done_progress.begin(
                token,
                types.WorkDoneProgressBegin(title="Flyte: indexing", message="listing files", percentage=0),
            )
        try:
            excludes = [Excludes(folder, server.settings.exclude) for folder in folders]
            paths: list[str] = []
            for ex in excludes:
                paths += await server.in_thread(
                    server.index_executor, lambda ex=ex: list(walk_python_files(ex))
                )
            open_paths = {d.path for d in server.documents.all() if d.path}
            todo = [p for p in paths if p not in open_paths]
            fresh: set[str] = set(paths)
            done = 0

            def on_batch(batch: list[str], results: list[ScanResult]) -> None:
                nonlocal done
                for path, (entry, note) in zip(batch, results, strict=True):
                    if note is not None:
                        log.info("%s", note)
                    if entry is None:
                        server.index.remove(path)
                    elif server.documents.get_by_path(path) is None:  # opened meanwhile: the editor wins
                        server.index.put(entry)
                done += len(batch)
                if token is not None:
                    percentage = int(100 * done / max(1, len(todo)))
                    server.work_done_progress.report(
                        token,
                        types.WorkDoneProgressReport(
                            message=f"{done}/{len(todo)} files", percentage=percentage
                        ),
                    )

            await scan_files(
                todo,
                server.codec.encoding,
                server.settings.index.max_file_size_bytes,
                server.index_executor,
                on_batch,
                shared=[server.lint_worker],
            )
            for doc in server.documents.all():
                self.update_from_document(doc)
                if doc.path:
                    fresh.add(doc.path)
            for stale in set(server.index.paths()) - fresh:
                server.index.remove(stale)
        finally:
            elapsed = time.perf_counter() - started
            summary = f"{len(server.index)} files, {server.index.entity_count()} entities in {elapsed:.2f} s"
            if token is not None:
                server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=f"Indexed {summary}"))
        log.info("Indexed the workspace (%s): %s", reason, summary)
        server.collect_garbage()
        server.emit(server.on_index_ready)

    # -- documents
    # ---------------------------------------------------------------------------------------------
    def update_from_document(self, doc: Document) -> bool:
        """Refresh the entry of an open document from its text; True when its interface changed."""
        if doc.path is None or not self.wanted(doc.path):
            return False
        analysis = shown_analysis(doc, self.server.settings.index.max_file_size_bytes)
        old = self.server.index.get(doc.path)
        entry = summarise(doc.path, doc.module, analysis, doc.text, self.server.codec)
        self.server.index.put(entry)
        return _interface(old) != _interface(entry)

    def on_change(self, doc: Document) -> None:
        # Debounced like the diagnostics: the index needs no keystroke precision.
        key = doc.uri
        old = self._doc_updates.pop(key, None)
        if old is not None:
            old.cancel()
        self._doc_updates[key] = self.server.run_task(f"index {doc.uri}", self._update_later(doc))

    async def _update_later(self, doc: Document) -> None:
        await asyncio.sleep(self.server.settings.diagnostics.debounce_ms / 1000)
        self._doc_updates.pop(doc.uri, None)
        if self.server.documents.get(doc.uri) is doc and self.update_from_document(doc):
            self.server.emit(self.server.on_index_changed, doc.path)

    def on_open(self, doc: Document) -> None:
        if self.update_from_document(doc):
            self.server.emit(self.server.on_index_changed, doc.path)

    def on_close(self, doc: Document) -> None:
        task = self._doc_updates.pop(doc.uri, None)
        if task is not None:
            task.cancel()
        if doc.path is not None:
            # The editor's unsaved text is gone: go back to the file on disk.
            self.server.run_task(f"rescan {doc.path}", self.rescan([doc.path]))

    # -- file events
    # -------------------------------------------------------------------------------------------
    async def rescan(self, paths: list[str]) -> None:
        server = self.server
        encoding, max_size = server.codec.encoding, server.settings.index.max_file_size_bytes
        changed = False
        for path in paths:
            if server.documents.get_by_path(path) is not None:
                continue
            if not os.path.isfile(path) or not self.wanted(path):
                changed |= server.index.remove(path)
                continue
            [(entry, note)] = await server.in_thread(
                server.index_executor, scan_batch, [path], encoding, max_size
            )
            if note is not None:
                log.info("%s", note)
            if server.documents.get_by_path(path) is not None:
                continue
            old = server.index.get(path)
            if entry is None:
                changed |= server.index.remove(path)
            else:
                server.index.put(entry)
                changed |= _interface(old) != _interface(entry)
        if changed:
            server.emit(server.on_index_changed, None)

    def on_watched_files(self, params: types.DidChangeWatchedFilesParams) -> None:
        rescan: list[str] = []
        for change in params.changes:
            path = fs_path(change.uri)
            if path is None:
                continue
            if os.path.basename(path) == ".gitignore":
                log.info("%s changed: re-indexing the workspace.", path)
                self.start(".gitignore changed")
                return
            if change.type == types.FileChangeType.Deleted and not path.endswith(".py"):
                removed = self.server.index.remove_under(path)  # a deleted folder
                if removed:
                    log.info("%s deleted: %d files left the index.", path, removed)
                continue
            if path.endswith(".py"):
                rescan.append(path)
        if rescan:
            self.server.run_task(f"rescan {len(rescan)} files", self.rescan(rescan))

    async def register_watcher(self) -> None:
        if not self.server.client_has("workspace.did_change_watched_files.dynamic_registration"):
            log.info("The client cannot watch files for us: the index follows edits in open documents only.")
            return
        options = types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[
                types.FileSystemWatcher(glob_pattern="**/*.py"),
                types.FileSystemWatcher(glob_pattern="**/.gitignore"),
            ]
        )
        registration = types.Registration(
            id=WATCHER_REGISTRATION_ID,
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=options,
        )
        try:
            await asyncio.wait_for(
                self.server.client_register_capability_async(
                    types.RegistrationParams(registrations=[registration])
                ),
                5,
            )
        except Exception as exc:
            log.warning(
                "Could not register the file watcher (%s): files changed outside the editor are missed.", exc
            )

    def on_settings(self, old: Settings, new: Settings) -> None:
        if self._run is None:
            return  # not started yet: the first run will use the new settings
        if old.exclude != new.exclude or old.index != new.index:
            self.start("settings changed")


def setup(server: FlyteLanguageServer) -> None:
    indexer = Indexer(server)

    def on_initialized() -> None:
        server.run_task("register file watcher", indexer.register_watcher())
        indexer.start("startup")

    server.on_initialized.append(on_initialized)
    server.on_open.append(indexer.on_open)
    server.on_change.append(indexer.on_change)
    server.on_close.append(indexer.on_close)
    server.on_settings.append(indexer.on_settings)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: FlyteLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        indexer.on_watched_files(params)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(ls: FlyteLanguageServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        for folder in params.event.removed:
            path = fs_path(folder.uri)
            if path:
                ls.index.remove_under(path)
        if params.event.added:
            indexer.start("workspace folders added")
