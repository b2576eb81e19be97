"""The workspace index: small entity summaries for every Python file in the workspace folders.

No LSP here (the ``workspace_symbols`` feature is the glue): walking folders with ``.gitignore``-style
excludes, reading and analysing files (``analyze(..., lint=False)``; meant to run in a worker thread), and
answering symbol queries and the lints' cross-module ``lookup``. Only summaries are kept — no ASTs, no sources
— so that thousands of files fit in a few megabytes. Positions are converted to the client's encoding while
the source is at hand.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from flyte_ls.analysis import ModuleAnalysis, analyze
from flyte_ls.analysis.model import Entity
from flyte_ls.server.constants import SKIPPED_DIR_NAMES
from flyte_ls.server.documents import module_for_path
from flyte_ls.server.positions import Codec, Text

log = logging.getLogger(__name__)

ClientRange = tuple[int, int, int, int]  # start line, start column, end line, end column (client units)


@dataclass(frozen=True)
class Symbol:
    name: str
    flyte_name: str
    kind: str  # EntityKind value
    module: str
    path: str
    selection: ClientRange
    folded: str = ""  # "<name>\n<flyte name>", lower-cased once, for matching

    def __post_init__(self) -> None:
        if not self.folded:
            object.__setattr__(self, "folded", f"{self.name.lower()}\n{self.flyte_name.lower()}")


@dataclass
class IndexEntry:
    path: str
    module: str
    mtime_ns: int
    size: int
    symbols: list[Symbol]
    analysis: ModuleAnalysis  # entities without calls or docstrings (enough for cross-module lint checks)


class Excludes:
    """What one workspace folder leaves out: the ``flyte.exclude`` globs and every ``.gitignore``."""

    def __init__(self, root: str, patterns: Iterable[str] = ()) -> None:
        self.root = os.path.abspath(root)
        self._settings = pathspec.GitIgnoreSpec.from_lines(list(patterns))
        self._gitignores: dict[str, pathspec.GitIgnoreSpec | None] = {}  # directory -> its .gitignore, if any

    def _gitignore(self, directory: str) -> pathspec.GitIgnoreSpec | None:
        if directory not in self._gitignores:
            spec = None
            try:
                with open(os.path.join(directory, ".gitignore"), encoding="utf-8", errors="replace") as fh:
                    spec = pathspec.GitIgnoreSpec.from_lines(fh.read().splitlines())
            except OSError:
                pass
            self._gitignores[directory] = spec
        return self._gitignores[directory]

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        path = os.path.abspath(path)
        rel = os.path.relpath(path, self.root)
        if rel.startswith(".."):
            return False
        suffix = "/" if is_dir else ""
        rel_posix = rel.replace(os.sep, "/")
        if self._settings.match_file(rel_posix + suffix):
            return True
        # Every .gitignore from the folder root down to the file's directory applies, relative to
        # its own folder.
        directory = self.root
        parts = rel_posix.split("/")
        for depth in range(len(parts)):
            spec = self._gitignore(directory)
            if spec is not None and spec.match_file("/".join(parts[depth:]) + suffix):
                return True
            directory = os.path.join(directory, parts[depth])
        return False


def _skipped_dir(entry: os.DirEntry[str]) -> bool:
    name = entry.name
    if name.startswith(".") or name in SKIPPED_DIR_NAMES:
        return True
    return os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))  # a virtualenv, whatever its name


def walk_python_files(excludes: Excludes) -> Iterator[str]:
    """Every ``*.py`` file under the folder that is not excluded, skipping hidden folders and virtualenvs."""
    stack = [excludes.root]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            log.info("Cannot list %s (%s); skipped.", directory, exc)
            continue
        subdirs = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not _skipped_dir(entry) and not excludes.excluded(entry.path, is_dir=True):
                        subdirs.append(entry.path)
                elif entry.name.endswith(".py") and entry.is_file() and not excludes.excluded(entry.path):
                    yield entry.path
            except OSError:
                continue
        stack.extend(reversed(subdirs))


def _strip(entity: Entity) -> Entity:
    return dataclasses.replace(entity, calls=[], docstring=None)


def summarise(path: str, module: str, analysis: ModuleAnalysis, text: Text, codec: Codec) -> IndexEntry:
    """An index entry from an analysis (of a file on disk or of an open document's current text)."""
    symbols = []
    for e in analysis.entities:
        sel = e.selection_range
        selection = (
            sel.start.line,
            codec.column_to_client(text, sel.start.line, sel.start.character),
            sel.end.line,
            codec.column_to_client(text, sel.end.line, sel.end.character),
        )
        symbols.append(Symbol(e.name, e.flyte_name, e.kind.value, module, path, selection))
    stripped = ModuleAnalysis(module=module, entities=[_strip(e) for e in analysis.entities])
    try:
        stat = os.stat(path)
        mtime_ns, size = stat.st_mtime_ns, stat.st_size
    except OSError:
        mtime_ns, size = 0, len(text.source)
    return IndexEntry(path, module, mtime_ns, size, symbols, stripped)


def scan_file(path: str, codec: Codec, max_size: int) -> tuple[IndexEntry | None, str | None]:
    """Read and analyse one file (blocking: for a worker thread or process).

    Returns the entry, or None and why it was skipped (worker processes have no log: the caller logs it).
    """
    try:
        size = os.path.getsize(path)
        if size > max_size:
            return None, (
                f"Skipped {path}: {size} bytes, over flyte.index.maxFileSizeBytes ({max_size}); "
                "raise it to index the file."
            )
        data = Path(path).read_bytes()
    except OSError as exc:
        return None, f"Skipped {path}: cannot read it ({exc.strerror or exc})."
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            None,
            f"Skipped {path}: not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8 to index it.",
        )
    module = module_for_path(path)
    if "flyte" not in source:
        # Entities need a flytekit (or flytekitplugins) import: a file that never says "flyte" has none.
        analysis = ModuleAnalysis(module=module)
    else:
        try:
            analysis = analyze(source, module, path=path, lint=False)
        except Exception as exc:  # the analysis promises never to raise; one file must not stop the indexing
            return (
                None,
                f"Analysing {path} failed ({type(exc).__name__}: {exc}); it is left out of the index.",
            )
    return summarise(path, module, analysis, Text(source), codec), None


def scan_batch(paths: list[str], encoding: str, max_size: int) -> list[tuple[IndexEntry | None, str | None]]:
    """:func:`scan_file` for several files: the unit of work sent to an index worker process."""
    codec = Codec(encoding)
    return [scan_file(p, codec, max_size) for p in paths]


def import_key(module: str) -> str:
    """The name Python code imports a module by: flytekit's module name for ``pkg/__init__.py`` is
    ``pkg.__init__`` (that prefixes its Flyte names), but ``from pkg import t`` names ``pkg``."""
    return module.removesuffix(".__init__")


class WorkspaceIndex:
    """Entries by path; mutated on the event loop only (readers in other threads see whole entries)."""

    def __init__(self) -> None:
        self._entries: dict[str, IndexEntry] = {}
        # module -> (stamp, entities); the stamp changes with every put, so that a worker process holding a
        # copy of a module's entities can ask whether it is still current without receiving them again.
        self._by_module: dict[str, tuple[int, ModuleAnalysis]] = {}
        self._stamps = itertools.count(1)

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, entry: IndexEntry) -> None:
        old = self._entries.get(entry.path)
        if old is not None and old.module != entry.module:
            self._by_module.pop(import_key(old.module), None)
        self._entries[entry.path] = entry
        if entry.module:
            self._by_module[import_key(entry.module)] = (next(self._stamps), entry.analysis)

    def remove(self, path: str) -> bool:
        old = self._entries.pop(path, None)
        if old is None:
            return False
        key = import_key(old.module)
        known = self._by_module.get(key)
        if known is not None and known[1] is old.analysis:
            del self._by_module[key]
        return True

    def remove_under(self, root: str) -> int:
        prefix = os.path.join(os.path.abspath(root), "")
        doomed = [p for p in self._entries if p.startswith(prefix)]
        for p in doomed:
            self.remove(p)
        return len(doomed)

    def get(self, path: str) -> IndexEntry | None:
        return self._entries.get(path)

    def paths(self) -> list[str]:
        return list(self._entries)

    def lookup(self, module: str) -> ModuleAnalysis | None:
        """The lints' ``ModuleLookup``: cheap, never raises."""
        known = self._by_module.get(module)
        return None if known is None else known[1]

    def stamped(self, module: str) -> tuple[int | None, ModuleAnalysis | None]:
        """A module's entities and their stamp (``(None, None)`` when unknown), for the lint worker."""
        return self._by_module.get(module, (None, None))

    def entity_count(self) -> int:
        return sum(len(e.symbols) for e in self._entries.values())

    def search(self, query: str, limit: int) -> list[Symbol]:
        """Case-insensitive match on the Python and the Flyte name: exact, prefix, substring, then fuzzy
        (the query's characters in order, ``trpl`` -> ``training_pipeline``) when nothing else matches."""
        q = query.strip().lower()
        symbols = [sym for entry in self._entries.values() for sym in entry.symbols]
        if not q:
            return sorted(symbols, key=lambda s: (len(s.name), s.flyte_name))[:limit]
        scored: list[tuple[int, int, str, Symbol]] = []
        for sym in symbols:
            if q in sym.folded:
                name, _, flyte = sym.folded.partition("\n")
                scored.append((_rank(q, name, flyte), len(sym.name), sym.flyte_name, sym))
        if not scored:
            fuzzy = re.compile(".*?".join(re.escape(ch) for ch in q))
            for sym in symbols:  # on the Python name only: dotted module prefixes match almost anything
                if fuzzy.search(sym.folded.partition("\n")[0]):
                    scored.append((3, len(sym.name), sym.flyte_name, sym))
        scored.sort(key=lambda t: t[:3])
        return [t[3] for t in scored[:limit]]


def _rank(query: str, name: str, flyte: str) -> int:
    """0 exact, 1 prefix (of the name or of the Flyte name's last part), 2 substring."""
    if query in (name, flyte):
        return 0
    if name.startswith(query) or flyte.rsplit(".", 1)[-1].startswith(query) or flyte.startswith(query):
        return 1
    return 2
