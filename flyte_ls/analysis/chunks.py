"""Split a module into top-level statement chunks and parse each on its own, with a cache keyed by chunk text.

A chunk starts at a line whose first character begins a statement at column 0 (not blank, not a comment, not a
closing bracket, not ``else``/``elif``/``except``/``finally``); decorators stay with the ``def``/``class``
they decorate. That split is only a guess — a column-0 line may sit inside a multi-line string or an open
bracket — so a chunk that fails to parse with a "continue on the next line" error (unterminated triple-quoted
string, unclosed bracket, unexpected EOF) is merged with the following chunks until it parses, within bounds.
A chunk that still fails is reported as broken and the following chunks are parsed on their own: what parses
is recovered.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from flyte_ls.analysis.imports import Binding, statement_bindings
from flyte_ls.analysis.positions import LineTable

_STATEMENT_START = re.compile(r"\n(?=[^\s#)\]}])")
_CONTINUATION = re.compile(r"(?:else|elif|except|finally)\b")
_DEF = re.compile(r"(?:def|class|async)\b")
_OPENERS = "([{"
_CLOSERS = ")]}"
MAX_MERGE_LINES = 5000
MAX_MERGE_ATTEMPTS = 6


@dataclass
class Parsed:
    """One chunk's parse: its statements (positions relative to the chunk) or its syntax error."""

    text: str
    lines: LineTable
    stmts: list[ast.stmt] | None
    error: BaseException | None
    bindings: tuple[Binding, ...] = ()
    bindings_hash: int = 0


@dataclass(frozen=True)
class Chunk:
    start: int  # 0-based line of the chunk in the module
    parsed: Parsed


def parse_text(text: str) -> Parsed:
    """Parse ``text`` (never raises; the error is recorded instead)."""
    lines = LineTable(text.split("\n"))
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as error:
        return Parsed(text, lines, None, error)
    except Exception as error:
        return Parsed(text, lines, None, error)
    bindings: list[Binding] = []
    for stmt in tree.body:
        try:
            bindings.extend(statement_bindings(stmt))
        except RecursionError:
            continue
    frozen = tuple(bindings)
    return Parsed(text, lines, tree.body, None, frozen, hash(frozen))


def candidate_starts(text: str) -> list[int]:
    """Character offsets where a top-level statement chunk may start (the first is always 0)."""
    starts = [0]
    in_decorators = text.startswith("@")
    for match in _STATEMENT_START.finditer(text):
        pos = match.end()
        if _CONTINUATION.match(text, pos):
            continue
        char = text[pos]
        if char == "@":
            if in_decorators:
                continue
            in_decorators = True
        elif in_decorators:
            if _DEF.match(text, pos):
                in_decorators = False
                continue
            in_decorators = False
        starts.append(pos)
    return starts


def _continues(error: BaseException | None) -> str | None:
    """Whether a parse error means "the statement goes on after this text": ``quote``, ``bracket`` or None."""
    if not isinstance(error, SyntaxError):
        return None
    message = error.msg or ""
    if "unterminated triple-quoted" in message:
        return "quote"
    if "never closed" in message or "unexpected EOF" in message or "unexpected end" in message:
        return "bracket"
    return None


def _balance(text: str) -> int:
    return sum(text.count(c) for c in _OPENERS) - sum(text.count(c) for c in _CLOSERS)


class ChunkParser:
    """Parses chunks with a cache keyed by chunk text; the cache keeps what the last two runs used."""

    def __init__(self) -> None:
        self._cache: dict[str, Parsed] = {}
        self._used: dict[str, Parsed] = {}

    def parse(self, text: str) -> Parsed:
        parsed = self._used.get(text)
        if parsed is None:
            parsed = self._cache.get(text)
            if parsed is None:
                parsed = parse_text(text)
            self._used[text] = parsed
        return parsed

    def chunks(self, text: str) -> list[Chunk]:
        """All chunks of ``text`` (a normalised module source), parsed."""
        self._used = {}
        try:
            result = list(self._chunks(text))
        finally:
            self._cache = self._used
        return result

    def _chunks(self, text: str) -> Iterator[Chunk]:
        starts = candidate_starts(text)
        starts.append(len(text))
        count = len(starts) - 1
        line = 0
        index = 0
        while index < count:
            begin = starts[index]
            parsed = self.parse(text[begin : starts[index + 1]])
            end = index + 1
            kind = _continues(parsed.error)
            if kind is not None:
                merged, end = self._merge(text, starts, index, parsed, kind)
                if merged is not None:
                    parsed = merged
                else:
                    end = index + 1
            yield Chunk(line, parsed)
            line += text.count("\n", begin, starts[end])
            index = end

    def _merge(
        self, text: str, starts: list[int], index: int, parsed: Parsed, kind: str
    ) -> tuple[Parsed | None, int]:
        """Grow chunk ``index`` over the next candidates until it parses; (None, _) when it never does."""
        count = len(starts) - 1
        begin = starts[index]
        balance = _balance(parsed.text)
        lines = parsed.text.count("\n")
        attempts = 0
        end = index + 1
        while end < count and attempts < MAX_MERGE_ATTEMPTS and lines < MAX_MERGE_LINES:
            added = text[starts[end] : starts[end + 1]]
            end += 1
            lines += added.count("\n")
            balance += _balance(added)
            ready = ('"""' in added or "'''" in added) if kind == "quote" else balance <= 0
            if not ready:
                continue
            attempts += 1
            merged = self.parse(text[begin : starts[end]])
            if merged.error is None:
                return merged, end
            kind_now = _continues(merged.error)
            if kind_now is None:
                return None, end
            if kind_now != kind:
                kind = kind_now
                balance = _balance(merged.text)
        return None, end
