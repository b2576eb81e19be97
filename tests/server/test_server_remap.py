"""Diagnostics of an older revision moved through the edits made since (flyte_ls.server.remap)."""

from __future__ import annotations

import pytest
from lsprotocol import types

from flyte_ls.server.remap import through_changes

pytestmark = pytest.mark.timeout(10)


def diag(
    line: int, start: int, end: int, code: str = "FL001", end_line: int | None = None
) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(
            start=types.Position(line=line, character=start),
            end=types.Position(line=line if end_line is None else end_line, character=end),
        ),
        message=code,
        code=code,
        source="flyte",
    )


def edit(sl: int, sc: int, el: int, ec: int, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=sl, character=sc), end=types.Position(line=el, character=ec)
        ),
        text=text,
    )


def spans(diagnostics: list[types.Diagnostic] | None) -> list[tuple[str, int, int, int, int]]:
    assert diagnostics is not None
    return [
        (str(d.code), d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character)
        for d in diagnostics
    ]


def test_an_inserted_line_moves_the_diagnostics_below_it_and_not_those_above() -> None:
    old = [diag(2, 4, 9, "A"), diag(10, 0, 3, "B")]
    moved = through_changes(old, [[edit(5, 0, 5, 0, "x = 1\n")]])
    assert spans(moved) == [("A", 2, 4, 2, 9), ("B", 11, 0, 11, 3)]


def test_typing_on_a_line_shifts_what_follows_on_that_line_only() -> None:
    old = [diag(3, 10, 14, "after"), diag(3, 0, 2, "before"), diag(4, 10, 14, "next line")]
    moved = through_changes(old, [[edit(3, 5, 3, 5, "ab")]])
    assert spans(moved) == [("after", 3, 12, 3, 16), ("before", 3, 0, 3, 2), ("next line", 4, 10, 4, 14)]


def test_a_diagnostic_on_edited_text_is_dropped() -> None:
    old = [diag(3, 4, 9, "edited"), diag(8, 0, 1, "kept")]
    moved = through_changes(old, [[edit(3, 0, 3, 20, "def f(x: int) -> int:")]])
    assert spans(moved) == [("kept", 8, 0, 8, 1)]


def test_deleted_lines_move_the_rest_up_and_take_their_diagnostics_with_them() -> None:
    old = [diag(4, 0, 3, "gone"), diag(9, 2, 5, "up")]
    moved = through_changes(old, [[edit(3, 0, 6, 0, "")]])
    assert spans(moved) == [("up", 6, 2, 6, 5)]


def test_a_multi_line_insertion_in_the_middle_of_a_line() -> None:
    # "abcXYZ" with "1\n22\n333" inserted after "abc": "XYZ" moves to line+2, after "333".
    old = [diag(7, 3, 6, "XYZ"), diag(7, 7, 6, "two lines", end_line=8)]
    moved = through_changes(old, [[edit(7, 3, 7, 3, "1\n22\n333")]])
    assert spans(moved) == [("XYZ", 9, 3, 9, 6), ("two lines", 9, 7, 10, 6)]


def test_several_didchanges_apply_in_order() -> None:
    old = [diag(10, 0, 4, "A")]
    moved = through_changes(old, [[edit(0, 0, 0, 0, "# one\n")], [edit(0, 0, 0, 0, "# two\n# three\n")]])
    assert spans(moved) == [("A", 13, 0, 13, 4)]


def test_columns_count_in_the_client_encoding() -> None:
    old = [diag(1, 10, 12, "A")]
    # "é" is one UTF-16 unit but two UTF-8 bytes; "😀" two UTF-16 units, four UTF-8 bytes, one code point.
    assert spans(through_changes(old, [[edit(1, 0, 1, 0, "é😀")]], "utf-16")) == [("A", 1, 13, 1, 15)]
    assert spans(through_changes(old, [[edit(1, 0, 1, 0, "é😀")]], "utf-8")) == [("A", 1, 16, 1, 18)]
    assert spans(through_changes(old, [[edit(1, 0, 1, 0, "é😀")]], "utf-32")) == [("A", 1, 12, 1, 14)]


def test_a_whole_document_change_cannot_be_followed() -> None:
    whole = types.TextDocumentContentChangeWholeDocument(text="x = 1\n")
    assert through_changes([diag(0, 0, 1)], [[whole]]) is None


def test_the_rest_of_a_diagnostic_is_kept() -> None:
    old = [diag(5, 0, 3, "FL004")]
    old[0].severity = types.DiagnosticSeverity.Warning
    [moved] = through_changes(old, [[edit(0, 0, 0, 0, "\n")]]) or []
    assert (moved.code, moved.message, moved.source, moved.severity) == (
        "FL004",
        "FL004",
        "flyte",
        types.DiagnosticSeverity.Warning,
    )
