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
import warnings
from dataclasses import dataclass

from flyte_ls.analysis.imports import Binding, statement_bindings
from flyte_ls.analysis.positions import LineTable

# A line that starts a statement: not blank, not a comment, not a closing bracket or a backslash (form feeds
# may come first).
_STATEMENT_START = re.compile(r"\n\x0c*(?=[^\s#)\]}\\])")
_DECORATOR = re.compile(r"\x0c*@")
_CONTINUATION = re.compile(r"(?:else|elif|except|finally)\b")
_DEF = re.compile(r"(?:def|class|async)\b")
_TRIPLE_QUOTES = ('"""', "'''")
_STRINGS_AND_COMMENTS = re.compile(
    r"'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"|#[^\n]*"
)
_CLOSER_AT_START = re.compile(r"^[)\]}]", re.MULTILINE)
_OPENERS = "([{"
_CLOSERS = ")]}"
MAX_MERGE_LINES = 2000
MAX_MERGE_ATTEMPTS = 6
MAX_GUESS_LINES = 400


@dataclass
class Parsed:
    """One chunk's parse: its statements (positions relative to the chunk) or its syntax error."""

    text: str
    lines: LineTable
    stmts: list[ast.stmt] | None
    error: BaseException | None
    bindings: tuple[Binding, ...] = ()
    bindings_hash: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def statements(self) -> list[ast.stmt]:
        """The statements; parsed again if :meth:`release` dropped them."""
        if self.stmts is not None:
            return self.stmts
        if self.error is not None:
            return []
        try:
            return quiet_parse(self.text).body
        except Exception:
            return []

    def release(self) -> None:
        """Drop the syntax tree (the cache keeps texts and results, not millions of AST nodes for the GC)."""
        self.stmts = None


@dataclass(frozen=True)
class Chunk:
    start: int  # 0-based line of the chunk in the module
    begin: int  # character offset of the chunk in the module text
    parsed: Parsed
    reach: int  # character offset up to which the text was read to split this chunk (merging looks ahead)


def quiet_parse(text: str) -> ast.Module:
    """``ast.parse`` without the warnings it emits for user code (invalid escape sequences...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text)


def parse_text(text: str) -> Parsed:
    """Parse ``text`` (never raises; the error is recorded instead)."""
    lines = LineTable(text.split("\n"))
    try:
        tree = quiet_parse(text)
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


def candidate_starts(text: str, begin: int = 0, end: int | None = None) -> tuple[list[int], bool]:
    """Offsets in ``text[begin:end]`` where a top-level statement chunk may start (the first is ``begin``),
    and whether the region ends inside a group of decorators (so the chunk goes on after ``end``)."""
    stop = len(text) if end is None else end
    starts = [begin]
    in_decorators = _DECORATOR.match(text, begin) is not None
    for match in _STATEMENT_START.finditer(text, begin, stop):
        pos = match.end()
        if _CONTINUATION.match(text, pos):
            continue
        char = text[pos]
        if char == "@":
            if in_decorators:
                continue
            in_decorators = True
        elif in_decorators:
            in_decorators = False
            if _DEF.match(text, pos):
                continue
        starts.append(match.start() + 1)
    return starts, in_decorators


def _continues(error: BaseException | None, text: str) -> str | None:
    """Whether a parse error means "the statement goes on after this text": ``quote``, ``bracket`` or None."""
    if not isinstance(error, SyntaxError):
        return None
    message = error.msg or ""
    if "unterminated triple-quoted" in message:
        return "quote"
    if "never closed" in message or "unexpected EOF" in message or "unexpected end" in message:
        return "bracket"
    if message == "invalid syntax" and not error.offset and (error.lineno or 0) >= text.count("\n"):
        return "bracket"  # the text ended where more was expected, e.g. decorators with no ``def`` yet
    return None


def _open_quote(error: BaseException | None, text: str) -> tuple[str, ...]:
    """The delimiter of the unterminated triple-quoted string ``error`` reports (both when unsure)."""
    lineno = getattr(error, "lineno", None)
    offset = getattr(error, "offset", None)
    if lineno and offset:
        lines = text.split("\n", lineno)
        if lineno <= len(lines):
            rest = lines[lineno - 1][offset - 1 :].lstrip("rRbBfFuU")
            if rest[:3] in _TRIPLE_QUOTES:
                return (rest[:3],)
    return _TRIPLE_QUOTES


def _balance(text: str) -> int:
    """Open minus closed brackets outside string literals and comments (a good guess, not a tokenizer)."""
    code = _STRINGS_AND_COMMENTS.sub("", text) if ("'" in text or '"' in text or "#" in text) else text
    return sum(code.count(c) for c in _OPENERS) - sum(code.count(c) for c in _CLOSERS)


class ChunkParser:
    """Parses a document's chunks, reusing what an edit did not touch.

    Chunks before and after the edited region are taken over from the previous run (shifted); the region
    between is split and parsed again, with a cache keyed by chunk text (so undo, or a chunk moved around,
    costs nothing).
    """

    def __init__(self) -> None:
        self._cache: dict[str, Parsed] = {}
        self._used: dict[str, Parsed] = {}
        self._previous: tuple[str, list[Chunk]] | None = None

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
            result = self._splice(text)
        except Exception:
            self._previous = None
            raise
        for chunk in result:
            self._used[chunk.parsed.text] = chunk.parsed
        self._cache = self._used
        self._previous = (text, result)
        return result

    def _splice(self, text: str) -> list[Chunk]:
        if self._previous is None:
            return self._region(text, 0, len(text), 0)[0]
        old_text, old = self._previous
        if old_text == text:
            return old
        # Leading chunks that are unchanged and parse on their own. The last one is split again: its end may
        # no longer be a statement boundary (the edit may have added ``else:`` or indented the next line).
        # Chunks that failed to parse looked ahead for text to complete them: keep those only when what they
        # read is unchanged.
        count = len(old)
        i = 0
        broken: list[int] = []
        while i < count and text.startswith(old[i].parsed.text, old[i].begin):
            if not old[i].parsed.ok:
                broken.append(i)
            i += 1
        keep = max(i - 1, 0)
        changed_at = old[i].begin if i < count else len(old_text)
        for index in broken:
            if old[index].reach >= changed_at:  # (it may have stopped only because the text ended)
                keep = min(keep, index)
                break
        if keep >= count:
            return self._region(text, 0, len(text), 0)[0]
        mid_begin, mid_line = old[keep].begin, old[keep].start
        # Trailing chunks that are unchanged at the same distance from the end, starting on a new line.
        delta = len(text) - len(old_text)
        j = count
        while j > keep + 1:
            chunk = old[j - 1]
            new_begin = chunk.begin + delta
            if new_begin <= mid_begin or not text.startswith(chunk.parsed.text, new_begin):
                break
            j -= 1
        while j < count and text[old[j].begin + delta - 1] != "\n":
            j += 1
        tail_begin = old[j].begin + delta if j < count else len(text)
        middle, open_end = self._region(text, mid_begin, tail_begin, mid_line)
        if j == count:
            return old[:keep] + middle
        if open_end:
            # The region's last statement may go on into the tail (an open bracket or string, a decorator):
            # split everything after the unchanged head again.
            return old[:keep] + self._region(text, mid_begin, len(text), mid_line)[0]
        line_delta = mid_line + text.count("\n", mid_begin, tail_begin) - old[j].start
        tail = [Chunk(c.start + line_delta, c.begin + delta, c.parsed, c.reach + delta) for c in old[j:]]
        return old[:keep] + middle + tail

    def _region(self, text: str, begin: int, end: int, line: int) -> tuple[list[Chunk], bool]:
        """Chunks of ``text[begin:end]`` (starting on module line ``line``), and whether the last one may go
        on after ``end`` (it could not be completed within the region, or it ends in decorators)."""
        starts, open_end = candidate_starts(text, begin, end)
        starts.append(end)
        count = len(starts) - 1
        out: list[Chunk] = []
        index = 0
        while index < count:
            first = starts[index]
            parsed = self.parse(text[first : starts[index + 1]])
            stop = index + 1
            reach = starts[stop]
            kind = _continues(parsed.error, parsed.text)
            if kind is not None:
                merged, reached, reach = self._merge(text, starts, index, parsed, kind)
                if merged is not None:
                    parsed, stop = merged, reached
                elif reached >= count:
                    open_end = True
            out.append(Chunk(line, first, parsed, reach))
            line += text.count("\n", first, starts[stop])
            index = stop
        return out, open_end

    def _merge(
        self, text: str, starts: list[int], index: int, parsed: Parsed, kind: str
    ) -> tuple[Parsed | None, int, int]:
        """Grow chunk ``index`` over the next candidates until it parses: (merged, end index, _); (None,
        count, _) when the text ran out first (more text might complete it); (None, -1, _) when it cannot be
        completed. The last item is the offset up to which the text was read."""
        count = len(starts) - 1
        begin = starts[index]
        balance = _balance(parsed.text)
        quotes = _open_quote(parsed.error, parsed.text)
        lines = parsed.text.count("\n")
        attempts = 0
        end = index + 1
        while end < count and attempts < MAX_MERGE_ATTEMPTS and lines < MAX_MERGE_LINES:
            added = text[starts[end] : starts[end + 1]]
            end += 1
            lines += added.count("\n")
            balance += _balance(added)
            if kind == "quote":
                ready = any(q in added for q in quotes)
            else:
                # Brackets balance; or, in a short statement, a closing bracket at column 0 (where statements
                # usually end: the balance is a guess that brackets in a multi-line string can mislead).
                ready = balance <= 0 or (
                    lines <= MAX_GUESS_LINES and _CLOSER_AT_START.search(added) is not None
                )
            if not ready:
                continue
            attempts += 1
            merged = self.parse(text[begin : starts[end]])
            if merged.error is None:
                return merged, end, starts[end]
            kind_now = _continues(merged.error, merged.text)
            if kind_now is None:
                return None, -1, starts[end]
            kind = kind_now
            balance = _balance(merged.text)
            quotes = _open_quote(merged.error, merged.text)
        if end >= count and attempts < MAX_MERGE_ATTEMPTS and lines < MAX_MERGE_LINES:
            return None, count, starts[end]  # ran out of text, not of patience: more text might complete it
        return None, -1, starts[end]
