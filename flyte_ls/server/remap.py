"""Moving diagnostics computed on an older revision of a document through the edits made since.

A lint pass of a large module takes a few hundred milliseconds; when the user types again before it ends, its
findings describe the text of a moment ago. They are still the newest findings there are: moved through the
edits (positions after an edit shift with it, a diagnostic that overlaps an edited range is dropped, because
its code changed and the next pass will tell), they are published for the current version instead of being
thrown away. This is what editors do with the diagnostics they already show; the follow-up pass replaces them.

Positions are the client's (line, character) in its negotiated encoding, like the edits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lsprotocol import types


def _before(a: types.Position, b: types.Position) -> bool:
    return (a.line, a.character) < (b.line, b.character)


def _shift(pos: types.Position, end: types.Position, new_end: types.Position) -> types.Position:
    """A position at or after an edit's (old) end, moved by the edit."""
    if pos.line == end.line:
        return types.Position(line=new_end.line, character=new_end.character + pos.character - end.character)
    return types.Position(line=pos.line + new_end.line - end.line, character=pos.character)


def _units(text: str, encoding: str) -> int:
    if encoding == "utf-32" or text.isascii():
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


def _new_end(start: types.Position, text: str, encoding: str) -> types.Position:
    """Where an inserted text ends, in the client's units."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) == 1:
        return types.Position(line=start.line, character=start.character + _units(lines[0], encoding))
    return types.Position(line=start.line + len(lines) - 1, character=_units(lines[-1], encoding))


def through_edit(
    diagnostics: Iterable[types.Diagnostic],
    start: types.Position,
    end: types.Position,
    new_end: types.Position,
) -> list[types.Diagnostic]:
    """The diagnostics after replacing ``start..end`` by a text ending at ``new_end``."""
    out = []
    for d in diagnostics:
        r = d.range
        if not _before(start, r.end):  # ends before the edit (or where it starts)
            out.append(d)
        elif not _before(r.start, end):  # starts after the edit
            moved = types.Range(start=_shift(r.start, end, new_end), end=_shift(r.end, end, new_end))
            out.append(with_range(d, moved))
        # else: it overlaps the edited text, which changed: dropped
    return out


def with_range(d: types.Diagnostic, rng: types.Range) -> types.Diagnostic:
    """The same diagnostic at ``rng``."""
    return types.Diagnostic(
        range=rng,
        message=d.message,
        severity=d.severity,
        code=d.code,
        code_description=d.code_description,
        source=d.source,
        tags=d.tags,
        related_information=d.related_information,
        data=d.data,
    )


def through_changes(
    diagnostics: Sequence[types.Diagnostic], edits: Iterable[Sequence[Any]], encoding: str = "utf-16"
) -> list[types.Diagnostic] | None:
    """The diagnostics moved through every content change of ``edits`` (one list of changes per didChange,
    oldest first). None when that is impossible: a change replaced the whole document."""
    current = list(diagnostics)
    for changes in edits:
        for change in changes:
            rng = getattr(change, "range", None)
            if rng is None:
                return None
            current = through_edit(current, rng.start, rng.end, _new_end(rng.start, change.text, encoding))
    return current
