"""Column conversion between code points (the analysis) and the client's encoding (utf-16, utf-8, utf-32)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from flyte_ls.analysis.model import Position, Range
from flyte_ls.server.positions import UTF8, UTF16, UTF32, Codec, Text, choose_encoding

pytestmark = pytest.mark.timeout(10)

# "é" is 1 UTF-16 unit and 2 UTF-8 bytes; "😋" is 2 UTF-16 units (a surrogate pair) and 4 UTF-8 bytes.
LINE = 'x = "é😋" + name'
NAME_COL = LINE.index("name")  # 12 code points


def test_choose_encoding_prefers_the_clients_order_and_defaults_to_utf16() -> None:
    assert choose_encoding(None) == UTF16
    assert choose_encoding([]) == UTF16
    assert choose_encoding(["utf-8", "utf-16"]) == UTF8
    assert choose_encoding(["utf-32", "utf-8"]) == UTF32
    assert choose_encoding(["latin-1"]) == UTF16


@pytest.mark.parametrize(
    ("encoding", "expected"), [(UTF16, NAME_COL + 1), (UTF8, NAME_COL + 4), (UTF32, NAME_COL)]
)
def test_column_to_client(encoding: str, expected: int) -> None:
    text = Text("first line\n" + LINE + "\n")
    codec = Codec(encoding)
    assert codec.column_to_client(text, 1, NAME_COL) == expected
    assert codec.column_to_client(text, 0, 5) == 5  # an ASCII line needs no conversion
    assert codec.column_from_client(text, 1, expected) == NAME_COL


def test_a_client_column_inside_a_character_or_past_the_end_is_clamped() -> None:
    text = Text(LINE)
    emoji = LINE.index("😋")
    # UTF-16: the emoji occupies units emoji..emoji+1; the unit in the middle maps to the emoji itself.
    assert Codec(UTF16).column_from_client(text, 0, emoji + 1) == emoji
    assert Codec(UTF8).column_from_client(text, 0, emoji + 2) == emoji
    assert Codec(UTF16).column_from_client(text, 0, 999) == len(LINE)


def test_lines_split_only_on_lsp_line_breaks() -> None:
    # A form feed and U+2028 are not line breaks in LSP (str.splitlines would split on both).
    text = Text("a\x0cb\u2028c\r\nd\re\nf")
    assert text.lines == ["a\x0cb\u2028c", "d", "e", "f"]
    assert text.line(3) == "f"
    assert text.line(99) == "" and text.line(-1) == ""


def test_position_beyond_the_line_keeps_the_extra_columns() -> None:
    text = Text("é\n")
    assert Codec(UTF8).column_to_client(text, 0, 3) == 4  # 2 bytes for é, then 2 columns past the end


def test_ascii_text_is_never_converted() -> None:
    text = Text("def f():\n    pass\n")
    assert text.is_ascii
    for encoding in (UTF8, UTF16, UTF32):
        assert Codec(encoding).exact(text)
    assert not Codec(UTF16).exact(Text(LINE))
    assert Codec(UTF32).exact(Text(LINE))


def test_range_dict_and_position_from_client() -> None:
    text = Text(LINE)
    codec = Codec(UTF16)
    rng = Range(Position(0, NAME_COL), Position(0, NAME_COL + 4))
    assert codec.range_dict(text, rng) == {
        "start": {"line": 0, "character": NAME_COL + 1},
        "end": {"line": 0, "character": NAME_COL + 5},
    }
    client_pos = SimpleNamespace(line=0, character=NAME_COL + 1)
    assert codec.position_from_client(text, client_pos) == Position(0, NAME_COL)


def test_unknown_encoding_falls_back_to_utf16() -> None:
    assert Codec("latin-1").encoding == UTF16
