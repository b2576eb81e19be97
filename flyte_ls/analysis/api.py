"""The analysis entry points: :func:`analyze` (stateless) and :class:`Analyzer` (incremental, one per
document).

Both run the same extraction (:mod:`flyte_ls.analysis.extract`) and post-pass
(:mod:`flyte_ls.analysis.resolve`); :func:`analyze` over the whole parse tree, :class:`Analyzer` per top-level
statement chunk with caches, so that after a small edit only the edited chunk is parsed again. Neither ever
raises.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flyte_ls.analysis.chunks import Chunk, ChunkParser, Parsed, parse_text
from flyte_ls.analysis.dialect import FLYTEKIT, Dialect
from flyte_ls.analysis.drafts import Facts
from flyte_ls.analysis.extract import extract
from flyte_ls.analysis.imports import ImportTable
from flyte_ls.analysis.model import Entity, EntityKind, Finding, ModuleAnalysis, Position, Range, Severity
from flyte_ls.analysis.positions import LineTable, normalize_source
from flyte_ls.analysis.resolve import Context, Shifter, build_context, finalize, shift_entity

log = logging.getLogger(__name__)

# Given a dotted module name, return that module's analysis (entities are enough) or None when unknown.
# The server's workspace index and ``flyte-ls check`` provide one so that lints can check calls to entities
# imported from sibling modules. Must be cheap and must not raise.
ModuleLookup = Callable[[str], "ModuleAnalysis | None"]

SYNTAX_ERROR_CODE = "FL000"
_LINE_IN_MESSAGE = re.compile(r"(\bline )(\d+)")


def _is_package(path: str | None) -> bool:
    return bool(path) and str(path).replace("\\", "/").rsplit("/", 1)[-1] == "__init__.py"


def syntax_error_finding(error: BaseException, text: str, line_offset: int = 0, bom: int = 0) -> Finding:
    """FL000 for a parse error of ``text`` (a chunk starting at ``line_offset``, or the whole module)."""
    message = getattr(error, "msg", None) or str(error) or type(error).__name__
    lineno = getattr(error, "lineno", None)
    offset = getattr(error, "offset", None)
    lines = text.split("\n")
    if lineno is None:
        if "\x00" in text:  # "source code string cannot contain null bytes" has no position
            at = text.index("\x00")
            lineno = text.count("\n", 0, at) + 1
            offset = at - (text.rfind("\n", 0, at) + 1) + 1
        else:
            lineno, offset = 1, 1
    line = max(min(int(lineno), len(lines)), 1) - 1
    column = max(min(int(offset or 1) - 1, len(lines[line])), 0)
    end_column = len(lines[line]) if column >= len(lines[line]) else column + 1
    line += line_offset
    shift = bom if line == 0 else 0
    if isinstance(error, RecursionError | MemoryError):
        message = "the code is nested too deeply for Python to parse it"
    elif line_offset:
        # Messages of a chunk's parse count lines from the chunk ("... on line 1"): count from the module.
        message = _LINE_IN_MESSAGE.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + line_offset}", message)
    return Finding(
        code=SYNTAX_ERROR_CODE,
        message=f"Syntax error: {message}",
        severity=Severity.ERROR,
        range=Range(Position(line, column + shift), Position(line, max(end_column, column) + shift)),
    )


@dataclass
class _Full:
    """A full-path extraction: entities plus what the lints need."""

    analysis: ModuleAnalysis
    tree: ast.Module
    imports: ImportTable
    entity_nodes: dict[str, ast.AST]
    text: str
    bom: int


def _extract_tree(
    tree: ast.Module, text: str, bom: int, module: str, is_package: bool, dialect: Dialect
) -> _Full:
    imports = ImportTable.from_tree(tree, module, is_package=is_package, dialect=dialect)
    facts = extract(tree.body, imports, LineTable(text.split("\n")), module)
    ctx = build_context([(facts, 0)], module)
    shift = Shifter(0, bom)
    entities = [finalize(draft, ctx, shift) for draft in facts.drafts]
    nodes: dict[str, ast.AST] = {}
    for draft in facts.drafts:
        if draft.node is not None:
            nodes.setdefault(draft.name, draft.node)
    return _Full(ModuleAnalysis(module, entities), tree, imports, nodes, text, bom)


def _recovered_tree(chunks: Sequence[Chunk]) -> ast.Module:
    """A module of the chunks that parse, re-parsed (fresh nodes) and moved to their module lines."""
    body: list[ast.stmt] = []
    for chunk in chunks:
        if not chunk.parsed.ok:
            continue
        fresh = parse_text(chunk.parsed.text)
        for stmt in fresh.stmts or ():
            ast.increment_lineno(stmt, chunk.start)
            body.append(stmt)
    return ast.Module(body=body, type_ignores=[])


def _full(
    source: str, module: str, path: str | None, dialect: Dialect, parser: ChunkParser | None = None
) -> _Full:
    text, bom = normalize_source(source)
    is_package = _is_package(path)
    parsed = parse_text(text)
    if parsed.stmts is not None:
        tree = ast.Module(body=parsed.stmts, type_ignores=[])
        return _extract_tree(tree, text, bom, module, is_package, dialect)
    assert parsed.error is not None
    chunks = (parser or ChunkParser()).chunks(text)
    full = _extract_tree(_recovered_tree(chunks), text, bom, module, is_package, dialect)
    full.analysis.syntax_error = syntax_error_finding(parsed.error, text, 0, bom)
    return full


def _lint(full: _Full, lookup: ModuleLookup | None) -> list[Finding]:
    from flyte_ls.analysis.lints import LintContext, run_lints

    ctx = LintContext(full.text, full.tree, full.analysis, full.imports, full.entity_nodes, lookup)
    findings = run_lints(ctx)
    if full.bom:
        findings = [_bom_shift(f) for f in findings]
    return findings


def _bom_shift(finding: Finding) -> Finding:
    start, end = finding.range.start, finding.range.end
    if start.line != 0 and end.line != 0:
        return finding
    start = Position(0, start.character + 1) if start.line == 0 else start
    end = Position(0, end.character + 1) if end.line == 0 else end
    return Finding(finding.code, finding.message, finding.severity, Range(start, end), finding.entity)


def _analyze_full(
    source: str,
    module: str,
    path: str | None,
    lookup: ModuleLookup | None,
    lint: bool,
    dialect: Dialect,
    parser: ChunkParser | None = None,
) -> ModuleAnalysis:
    try:
        full = _full(source, module, path, dialect, parser)
    except Exception:
        log.exception("analysis failed for %s", path or module or "<source>")
        return ModuleAnalysis(module)
    if lint:
        try:
            full.analysis.findings = _lint(full, lookup)
        except Exception:
            log.exception("lints failed for %s", path or module or "<source>")
    return full.analysis


def analyze(
    source: str,
    module: str = "",
    *,
    path: str | None = None,
    lookup: ModuleLookup | None = None,
    lint: bool = True,
) -> ModuleAnalysis:
    """Analyse one module's source, statelessly. Never raises.

    ``module`` is the dotted module name (see :func:`flyte_ls.analysis.module_name_for`); it prefixes Flyte
    names. ``path`` is used in messages and to tell a package ``__init__.py`` (for relative imports).
    ``lookup`` resolves imported modules for cross-module checks. With ``lint=False`` only entities are
    extracted (workspace indexing). On a syntax error the entities of the statements that still parse are
    returned and ``syntax_error`` is set.
    """
    return _analyze_full(source, module, path, lookup, lint, FLYTEKIT)


@dataclass
class _Placed:
    """A chunk's entities at one position (reused while the chunk, its line and the context are unchanged)."""

    parsed: Parsed
    facts: Facts
    start: int
    bom: int
    context_key: int | None  # None when no entity of the chunk depends on other chunks
    entities: list[Entity]

    def reusable(self, parsed: Parsed, facts: Facts, bom: int, context_key: int | None) -> bool:
        return (
            self.parsed is parsed
            and self.facts is facts
            and self.bom == bom
            and self.context_key == context_key
        )

    def movable(self, parsed: Parsed, facts: Facts, context_key: int | None) -> bool:
        """Whether these entities can move to another line (imperative workflows' calls live elsewhere)."""
        return (
            self.parsed is parsed
            and self.facts is facts
            and not self.bom
            and self.context_key == context_key
            and all(e.kind is not EntityKind.IMPERATIVE_WORKFLOW for e in self.entities)
        )


class Analyzer:
    """Stateful analyser for one document that is edited over time (the server keeps one per open document).

    It caches per top-level statement chunk, so that after a small edit only the edited chunk is re-parsed:
    :meth:`entities` on a 10,000-line module takes a few milliseconds after a one-line edit. The returned
    entities may be shared between calls: treat them as read-only.
    """

    def __init__(self, dialect: Dialect = FLYTEKIT) -> None:
        self._dialect = dialect
        self._reset()

    def _reset(self) -> None:
        """Forget every cache (after an unexpected error, so that it cannot repeat from stale state)."""
        self._parser = ChunkParser()
        self._table_key: tuple[int, str, bool] | None = None
        self._table: ImportTable | None = None
        self._facts: dict[int, tuple[Parsed, int, Facts]] = {}  # id(parsed) -> (parsed, table key, facts)
        self._placed: dict[tuple[int, int], _Placed] = {}  # (id(parsed), start line) -> entities
        self._context: tuple[int, Context] | None = None
        self._dependencies: dict[int, tuple[Facts, int, int]] = {}  # id(facts) -> (facts, context, key)
        self._used_dependencies: dict[int, tuple[Facts, int, int]] = {}
        self._last: tuple[str, str, bool, ModuleAnalysis] | None = None

    def _imports(self, chunks: Sequence[Chunk], module: str, is_package: bool) -> ImportTable:
        key = (hash(tuple(c.parsed.bindings_hash for c in chunks)), module, is_package)
        if self._table is None or key != self._table_key:
            bindings = [b for c in chunks for b in c.parsed.bindings]
            self._table = ImportTable.from_bindings(
                bindings, module, is_package=is_package, dialect=self._dialect
            )
            self._table_key = key
        return self._table

    def _dependency(self, facts: Facts, ctx: Context, context_key: int) -> int | None:
        """What a chunk's entities depend on in other chunks (None: nothing), as a hash.

        Finer than the whole context: typing a new task must not rebuild every workflow's entity.
        """
        if not facts.needs_context:
            return None
        if facts.imperative:
            return context_key  # an imperative workflow's calls come from other chunks
        known = self._dependencies.get(id(facts))
        if known is None or known[0] is not facts or known[1] != context_key:
            known = (facts, context_key, ctx.key_for(facts))
        self._used_dependencies[id(facts)] = known
        return known[2]

    def _entities(self, source: str, module: str, is_package: bool) -> ModuleAnalysis:
        text, bom = normalize_source(source)
        chunks = self._parser.chunks(text)
        imports = self._imports(chunks, module, is_package)
        table_key = hash((imports.fingerprint(), module))
        # 1. Facts per chunk (extraction depends on the chunk text and the import table only).
        facts_by_parsed: dict[int, tuple[Parsed, int, Facts]] = {}
        located: list[tuple[Chunk, Facts]] = []
        syntax_error: Finding | None = None
        previous_facts = self._facts
        for chunk in chunks:
            parsed = chunk.parsed
            if not parsed.ok:
                if syntax_error is None and parsed.error is not None:
                    syntax_error = syntax_error_finding(parsed.error, parsed.text, chunk.start, bom)
                continue
            key = id(parsed)
            known = facts_by_parsed.get(key) or previous_facts.get(key)
            if known is None or known[0] is not parsed or known[1] != table_key:
                facts = extract(parsed.statements(), imports, parsed.lines, module, keep_nodes=False)
                parsed.release()
                known = (parsed, table_key, facts)
            facts_by_parsed[key] = known
            located.append((chunk, known[2]))
        self._facts = facts_by_parsed
        # 2. What chunks tell each other, rebuilt only when an exported fact changed.
        context_key = hash(
            (
                tuple(f.export_key() for _, f in located),
                tuple(c.start for c, f in located if f.builders),
                module,
            )
        )
        if self._context is None or self._context[0] != context_key:
            self._context = (context_key, build_context([(f, c.start) for c, f in located], module))
        ctx = self._context[1]
        # 3. Entities per chunk position: reused when nothing changed, moved when only the line changed.
        entities: list[Entity] = []
        placed: dict[tuple[int, int], _Placed] = {}
        moved: dict[int, _Placed] | None = None  # id(parsed) -> placement at another line, made when needed
        previous = self._placed
        for chunk, facts in located:
            if not facts.drafts:
                continue
            pkey = (id(chunk.parsed), chunk.start)
            dependent = self._dependency(facts, ctx, context_key)
            hit = previous.get(pkey)
            if hit is None or not hit.reusable(chunk.parsed, facts, bom, dependent):
                if moved is None:
                    moved = {id(p.parsed): p for p in previous.values()}
                other = moved.get(id(chunk.parsed))
                if other is not None and not bom and other.movable(chunk.parsed, facts, dependent):
                    delta = chunk.start - other.start
                    entities_here = [shift_entity(e, delta) for e in other.entities]
                else:
                    shift = Shifter(chunk.start, bom)
                    entities_here = [finalize(d, ctx, shift) for d in facts.drafts]
                hit = _Placed(chunk.parsed, facts, chunk.start, bom, dependent, entities_here)
            placed[pkey] = hit
            entities.extend(hit.entities)
        self._placed = placed
        self._dependencies, self._used_dependencies = self._used_dependencies, {}
        return ModuleAnalysis(module, entities, [], syntax_error)

    def entities(self, source: str, module: str = "", *, path: str | None = None) -> ModuleAnalysis:
        """Entities only (no lints); incremental. Never raises."""
        is_package = _is_package(path)
        last = self._last
        if last is not None and last[0] == source and last[1] == module and last[2] == is_package:
            return last[3]
        try:
            result = self._entities(source, module, is_package)
        except Exception:
            log.exception(
                "incremental analysis failed for %s; using a full parse", path or module or "<source>"
            )
            self._reset()
            result = _analyze_full(source, module, path, None, False, self._dialect)
        self._last = (source, module, is_package, result)
        return result

    def analyze(
        self, source: str, module: str = "", *, lookup: ModuleLookup | None = None, path: str | None = None
    ) -> ModuleAnalysis:
        """Entities and lint findings (a full parse: lints need the whole tree). Never raises."""
        return _analyze_full(source, module, path, lookup, True, self._dialect, self._parser)
