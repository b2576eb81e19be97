"""Executions in the editor: ``flyte-exec`` diagnostics, gate code actions, ``flyte/executionChanged`` and
``flyte/executions``.

The tracker (``server.runs.tracker``) calls ``server.on_execution_changed`` on every phase or progress change;
this feature turns its ``Tracked`` values into:

- a status diagnostic on the entity's name (Information while queued or running, Hint on success, Error on
  failure), with ``codeDescription.href`` = the console URL and ``data`` = ``{execution, phase, consoleUrl}``;
- on a failure whose traceback has workspace frames, an Error on the deepest such frame's line (in that file,
  open or not) with related information pointing back to the entity. An entity of a notebook was pickled by
  value: its frames are ``<dynamic-code>`` with cell-relative lines, placed in the cell whose code defines
  the frame's function (:func:`flyte_ls.run.failures.place_in_cells`);
- a Warning per waiting gate, answered by the code actions "Approve", "Reject" (approval gates) and
  "Provide input…" (input signals), on a notebook's cell too. The last one runs ``flyte.setInput`` with
  ``{execution, signalId}`` and no ``value``: the client must prompt the user for the value and add it to the
  argument before executing;
- the notification ``flyte/executionChanged`` (one execution, see
  :func:`~flyte_ls.server.execution_status.execution_json`) and the request ``flyte/executions`` (all tracked
  executions in that shape, or those of ``{uri}``).

Diagnostics are rebuilt from scratch (a handful of executions) whenever an execution changes or a document
that shows one is edited (debounced like the lints), so ranges always come from the latest analysis; only
URIs whose diagnostics changed are published.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path

from flyte_ls.analysis import analyze
from flyte_ls.run import failures
from flyte_ls.server import execution_status as status
from flyte_ls.server.constants import (
    APPROVE_COMMAND,
    EXECUTION_CHANGED_NOTIFICATION,
    EXECUTIONS_REQUEST,
    REJECT_COMMAND,
    SET_INPUT_COMMAND,
    SKIPPED_DIR_NAMES,
    SOURCE_EXEC,
)
from flyte_ls.server.convert import lsp_range
from flyte_ls.server.documents import Document, fs_path, module_for_path, shown_analysis, uri_key
from flyte_ls.server.execution_status import ExecutionView, Frame
from flyte_ls.server.features import notebooks
from flyte_ls.server.features.diagnostics import publish
from flyte_ls.server.positions import Text
from flyte_ls.server.protocol import RawJSON
from flyte_ls.server.server import FlyteLanguageServer

log = logging.getLogger(__name__)

GATE_COMMANDS = {"approve": APPROVE_COMMAND, "reject": REJECT_COMMAND, "setInput": SET_INPUT_COMMAND}

EVENT_DELAY_S = 0.05  # coalesce bursts of tracker events into one rebuild
LENS_REFRESH_DELAY_S = 0.3
Located = tuple[str, types.Range]  # (uri as the client knows it, range in client units)


class ExecutionsFeature:
    def __init__(self, server: FlyteLanguageServer) -> None:
        self.server = server
        self._seen: dict[tuple[str, str, str], ExecutionView] = {}  # from events, when there is no tracker
        self._published: dict[str, tuple[str, list[types.Diagnostic]]] = {}  # uri key -> (uri, diagnostics)
        self._timer: asyncio.Task[None] | None = None
        self._due = 0.0
        self._lens_timer: asyncio.Task[None] | None = None
        self._disk: dict[str, tuple[int, Text]] = {}  # path -> (mtime_ns, text) of closed files
        self._cache: tuple[tuple[int, ...], list[ExecutionView]] | None = None
        self._lock: asyncio.Lock | None = None  # one rebuild at a time: the last one publishes the newest
        self.rebuilds = 0

    # -- what is tracked
    # ---------------------------------------------------------------------------------------------
    def views(self) -> list[ExecutionView]:
        """Every tracked execution: the tracker's list when there is one, else what events said.

        Cached until the next change event or until the list itself changes (a track or untrack): lenses,
        hovers and every keystroke in a document that shows an execution read it."""
        tracker = getattr(getattr(self.server, "runs", None), "tracker", None)
        if tracker is None:
            return list(self._seen.values())
        try:
            tracked = tracker.tracked()
            identity = tuple(id(t) for t in tracked)
            if self._cache is None or self._cache[0] != identity:
                self._cache = (identity, [status.view(t) for t in tracked])
            return list(self._cache[1])
        except Exception:
            log.exception("Reading the tracked executions failed; using the last events instead")
            return list(self._seen.values())

    def views_for(self, uri: str, entity: str | None = None) -> list[ExecutionView]:
        """The executions tracked for the document ``uri`` (a notebook cell's: its notebook's)."""
        owner = self.server.documents.cell(uri)
        key = uri_key(owner[0].uri if owner is not None else uri)
        return [v for v in self.views() if uri_key(v.uri) == key and (entity is None or v.entity == entity)]

    def latest(self, uri: str, entity: str) -> ExecutionView | None:
        """The entity's newest execution: the last tracked (one just launched has no start time yet)."""
        found = self.views_for(uri, entity)
        return found[-1] if found else None

    # -- events
    # ---------------------------------------------------------------------------------------------------
    def on_execution_changed(self, tracked: Any) -> None:
        v = status.view(tracked)
        self._seen[v.key] = v
        self._cache = None
        self.server.protocol.notify(EXECUTION_CHANGED_NOTIFICATION, status.execution_json(v, time.time()))
        self.schedule(EVENT_DELAY_S)
        self.refresh_lenses()

    def on_document(self, doc: Document) -> None:
        """Opened, edited or closed: rebuild (debounced like the lints) if it shows an execution."""
        if self._shows_executions(doc):
            self.schedule(self.server.settings.diagnostics.debounce_ms / 1000)

    def on_open(self, doc: Document) -> None:
        if self._shows_executions(doc):
            self.schedule(0)

    def _shows_executions(self, doc: Document) -> bool:
        key = uri_key(doc.uri)
        for v in self.views():
            if uri_key(v.uri) == key or (doc.path is not None and any(f.file == doc.path for f in v.frames)):
                return True
        return key in self._published

    # -- rebuilding the diagnostics
    # ----------------------------------------------------------------------------------
    def schedule(self, delay_s: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + delay_s
        if self._timer is not None and not self._timer.done():
            if self._due <= due and delay_s < EVENT_DELAY_S * 2:
                return  # an earlier rebuild is coming and this is not a debounce
            self._timer.cancel()
        self._due = due
        self._timer = self.server.run_task("execution diagnostics", self._after(delay_s))

    async def _after(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._timer = None
        await self.rebuild()

    async def rebuild(self) -> None:
        """Build every ``flyte-exec`` diagnostic again and publish the URIs whose diagnostics changed."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._rebuild()

    async def _rebuild(self) -> None:
        now = time.time()
        built: dict[str, tuple[str, list[types.Diagnostic]]] = {}

        def add(uri: str, diagnostic: types.Diagnostic) -> None:
            built.setdefault(uri_key(uri), (uri, []))[1].append(diagnostic)

        # One status per entity: its newest execution's (an older failure's line is not worth an Error any
        # more once the entity ran again).
        newest: dict[tuple[str, str], ExecutionView] = {}
        for v in self.views():  # oldest tracked first
            newest[(uri_key(v.uri), v.entity)] = v
        for v in newest.values():
            place = await self.entity_place(v.uri, v.entity)
            if place is None:
                log.debug("Execution %s: %s is not in %s any more; no diagnostic.", v.name, v.entity, v.uri)
                continue
            uri, rng = place
            raised_at = None
            if v.phase in ("FAILED", "TIMED_OUT") and v.frames:
                raised = await self.raising_line(v, place)
                if raised is not None:
                    frame, line = raised
                    entity_at = self._location(uri, rng)
                    add(line[0], status.frame_diagnostic(v, frame, line[1], entity_at))
                    raised_at = self._location(*line)
            add(uri, status.status_diagnostic(v, rng, now, raised_at))
            for d in status.gate_diagnostics(v, rng):
                add(uri, d)
        self.rebuilds += 1
        for key in set(self._published) | set(built):
            old = self._published.get(key)
            new = built.get(key)
            if old is not None and new is not None and old[1] == new[1]:
                continue
            uri = (new or old)[0]  # type: ignore[index]
            self.server.diagnostics.set(SOURCE_EXEC, uri, new[1] if new else [])
            doc = self.server.documents.get(uri)
            publish(self.server, uri, doc.version if doc is not None else None)
        self._published = built
        self.server.diagnostics.forget_empty()

    # -- where things are
    # --------------------------------------------------------------------------------------------
    async def entity_place(self, uri: str, entity: str) -> Located | None:
        """The entity's name: from the open document's latest analysis, else the index, else the disk. An
        entity tracked under a notebook cell's URI is placed in its notebook's module (published per cell)."""
        server = self.server
        max_size = server.settings.index.max_file_size_bytes
        doc = server.documents.get(uri)
        owner = server.documents.cell(uri) if doc is None else None
        if owner is not None:
            doc = owner[0]
        if doc is not None:
            e = shown_analysis(doc, max_size).entity(entity)
            return None if e is None else (doc.uri, lsp_range(server.codec, doc.text, e.selection_range))
        path = fs_path(uri)
        if path is None:
            return None
        entry = server.index.get(path)
        if entry is not None:
            for symbol in entry.symbols:
                if symbol.name == entity:
                    sl, sc, el, ec = symbol.selection
                    return uri, types.Range(
                        start=types.Position(line=sl, character=sc), end=types.Position(line=el, character=ec)
                    )
        text = await self._read(path)
        if text is None:
            return None
        module = module_for_path(path)
        analysis = await server.in_thread(None, lambda: analyze(text.source, module, path=path, lint=False))
        e = analysis.entity(entity)
        return None if e is None else (uri, lsp_range(server.codec, text, e.selection_range))

    async def raising_line(self, v: ExecutionView, entity: Located) -> tuple[Frame, Located] | None:
        """The failure's raising line: the innermost frame that is a workspace file's or, for an entity of a
        notebook (``entity``: its module's URI and range), a ``<dynamic-code>`` frame placed in one of its
        cells (one that cannot be placed, edited since, is passed over)."""
        notebook = self.server.documents.cells_of(entity[0]) is not None
        for frame in reversed(await self.workspace_frames(v, keep_dynamic=notebook)):
            if failures.is_dynamic(frame.file):
                line = await self.cell_frame_place(frame, entity)
                if line is not None:
                    return frame, line
            elif self._in_workspace(frame.file):
                line = await self.frame_place(frame)
                return None if line is None else (frame, line)
        return None

    async def workspace_frames(self, v: ExecutionView, keep_dynamic: bool = False) -> list[Frame]:
        """The error's frames that are workspace files, mapped from where the task ran (an unpacked archive,
        a container) by their path under the entity's source root (else a workspace folder); with
        ``keep_dynamic``, the ``<dynamic-code>`` frames (a notebook's code) too, in their place."""
        path = fs_path(v.uri)
        roots = ([source_root(path, module_for_path(path))] if path else []) + _workspace_roots(self.server)
        raw = [failures.Frame(f.file, f.line, f.name) for f in v.frames]
        dynamic = [f for f in raw if failures.is_dynamic(f.file)] if keep_dynamic else []

        def mapped() -> list[failures.Frame]:
            if len(dynamic) == len(raw):
                return dynamic
            for root in dict.fromkeys(r for r in roots if r):
                found = failures.map_to_workspace(raw, root, keep_dynamic)
                if len(found) > len(dynamic):  # some workspace file
                    return found
            return dynamic

        return [Frame(f.file, f.line, f.name) for f in await self.server.in_thread(None, mapped)]

    async def cell_frame_place(self, frame: Frame, entity: Located) -> Located | None:
        """A ``<dynamic-code>`` frame's line in the notebook of ``entity`` (its module's URI and range): in
        the cell that defines the frame's function, among the cells up to the entity's (the ones run before
        it was pickled); in module lines, like every range of the notebook. Parsed in a thread."""
        doc = self.server.documents.get(entity[0])
        spans = self.server.documents.cells_of(entity[0])
        if doc is None or not spans:
            return None
        up_to = next((i for i, s in enumerate(spans) if s.holds(entity[1].start.line)), len(spans) - 1)
        code = ["\n".join(notebooks.cell_code(s.source)) for s in spans]
        raw = failures.Frame(frame.file, frame.line, frame.name)
        found = await self.server.in_thread(None, failures.place_in_cells, raw, code, up_to)
        if found is None:
            return None
        index, line = found
        return doc.uri, self._line_range(doc.text, spans[index].start + line)

    async def frame_place(self, frame: Frame) -> Located | None:
        """The frame's line (its code, not the indentation), in the open document or the file on disk."""
        doc = self.server.documents.get_by_path(frame.file)
        if doc is not None:
            uri, text = doc.uri, doc.text
        else:
            read = await self._read(frame.file)
            if read is None:
                return None
            uri, text = from_fs_path(frame.file), read
        return uri, self._line_range(text, frame.line - 1)

    def _line_range(self, text: Text, line: int) -> types.Range:
        rng = status.line_range(text.line(line) if line < len(text.lines) else None, line)
        codec = self.server.codec
        rng.start.character = codec.column_to_client(text, line, rng.start.character)
        rng.end.character = codec.column_to_client(text, rng.end.line, rng.end.character)
        return rng

    def _location(self, uri: str, rng: types.Range) -> types.Location:
        """A place as the client knows it: a notebook's module range is a range of one of its cells."""
        spans = self.server.documents.cells_of(uri)
        if spans is not None:
            moved = notebooks.cell_location(spans, rng)
            if moved is not None:
                return moved
        return types.Location(uri=uri, range=rng)

    async def _read(self, path: str) -> Text | None:
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return None
        hit = self._disk.get(path)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        try:
            source = await self.server.in_thread(None, Path(path).read_text, "utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            log.info("Cannot read %s for an execution's diagnostics: %s", path, exc)
            return None
        if len(self._disk) > 32:
            self._disk.clear()
        text = Text(source)
        self._disk[path] = (mtime, text)
        return text

    def _in_workspace(self, path: str) -> bool:
        """A user's file: exists, under a workspace folder (when there are any), not in a virtualenv."""
        if self.server.documents.get_by_path(path) is None and not os.path.isfile(path):
            return False
        parts = Path(path).parts
        if any(p in SKIPPED_DIR_NAMES or (p.startswith(".") and p not in (".", "..")) for p in parts):
            return False
        roots = _workspace_roots(self.server)
        return not roots or any(_under(path, root) for root in roots)

    # -- lenses
    # ---------------------------------------------------------------------------------------------------
    def refresh_lenses(self) -> None:
        if not self.server.client_has("workspace.code_lens.refresh_support"):
            return
        if self._lens_timer is None or self._lens_timer.done():
            self._lens_timer = self.server.run_task("code lens refresh", self._lens_refresh())

    async def _lens_refresh(self) -> None:
        await asyncio.sleep(LENS_REFRESH_DELAY_S)
        self.server.workspace_code_lens_refresh(None)

    # -- requests
    # -------------------------------------------------------------------------------------------------
    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        """Gate actions for the gate diagnostics under the range (ours, not only what the client sent); for a
        notebook cell, its notebook's diagnostics that are in the cell, in cell lines (as published)."""
        uri = params.text_document.uri
        owner = self.server.documents.cell(uri)
        published = self._published.get(uri_key(owner[0].uri if owner is not None else uri))
        if published is None:
            return []
        shown = published[1]
        if owner is not None:
            ((_, shown),) = notebooks.split_diagnostics([owner[1]], shown)
        out: list[types.CodeAction] = []
        for d in shown:
            if _overlaps(d.range, params.range):
                out.extend(status.gate_actions(d, GATE_COMMANDS))
        return out

    def executions(self, uri: str | None) -> list[dict[str, Any]]:
        now = time.time()
        chosen = self.views() if uri is None else self.views_for(uri)
        return [status.execution_json(v, now) for v in chosen]  # oldest tracked first


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _workspace_roots(server: FlyteLanguageServer) -> list[str]:
    try:
        folders = server.workspace.folders
    except RuntimeError:  # before initialize
        return []
    roots = [fs_path(f.uri) for f in folders.values()]
    root_uri = getattr(server.workspace, "root_uri", None)
    if not roots and root_uri:
        roots = [fs_path(root_uri)]
    return [r for r in roots if r]


def source_root(path: str, module: str) -> str | None:
    """The folder a module's dotted name is relative to (``/ws/pkg/mod.py``, ``pkg.mod`` → ``/ws``)."""
    if not module:
        return None
    p = Path(path).with_suffix("")
    if p.name == "__init__":
        p = p.parent
    for _ in module.split("."):
        p = p.parent
    return str(p)


def _under(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), os.path.abspath(root)]) == os.path.abspath(root)
    except ValueError:
        return False


def feature_of(server: FlyteLanguageServer) -> ExecutionsFeature | None:
    """The feature attached by :func:`setup` (code lenses and hover read the executions through it)."""
    feature = getattr(server, "executions", None)
    return feature if isinstance(feature, ExecutionsFeature) else None


def _uri_param(params: Any) -> str | None:
    if params is None:
        return None
    value = params.get("uri") if isinstance(params, Mapping) else getattr(params, "uri", None)
    return value if isinstance(value, str) else None


def _subscribe(server: FlyteLanguageServer, hook: Callable[[Any], None]) -> None:
    hooks = getattr(server, "on_execution_changed", None)
    if hooks is None:
        hooks = []
        server.on_execution_changed = hooks  # type: ignore[attr-defined]
    if hook not in hooks:
        hooks.append(hook)


def setup(server: FlyteLanguageServer) -> None:
    feature = ExecutionsFeature(server)
    server.executions = feature  # type: ignore[attr-defined]
    _subscribe(server, feature.on_execution_changed)
    server.on_open.append(feature.on_open)
    server.on_change.append(feature.on_document)
    server.on_close.append(feature.on_document)

    def initialized() -> None:
        _subscribe(server, feature.on_execution_changed)  # in case the list was replaced by the run service
        feature.schedule(EVENT_DELAY_S)  # executions resumed from the last session
        if feature.views():
            feature.refresh_lenses()  # lenses asked for before the state was loaded lack their outcome

    server.on_initialized.append(initialized)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(ls: FlyteLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        return feature.code_actions(params) or None

    @server.feature(EXECUTIONS_REQUEST)
    def executions(ls: FlyteLanguageServer, params: Any) -> RawJSON:
        return RawJSON(feature.executions(_uri_param(params)))
