"""Column conversion between the analysis (code points) and the client's negotiated position encoding.

LSP columns count UTF-16 code units unless the client offered ``utf-8`` or ``utf-32`` at initialize. Lines are
split on ``\\n``, ``\\r\\n`` and ``\\r`` only (LSP's definition; ``str.splitlines`` also splits on form feeds
and U+2028, which would shift every following line). No lsprotocol here: index worker processes import this
module, and lsprotocol costs them 0.25 s to import. An all-ASCII text needs no conversion at all, which is the
common case and keeps ``flyte/entities`` fast on large files.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from flyte_ls.analysis.model import Position, Range


class ClientPosition(Protocol):
    line: int
    character: int


UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
SUPPORTED = (UTF16, UTF8, UTF32)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def choose_encoding(offered: list[str] | None) -> str:
    """The first encoding the client offers that we support; UTF-16 (mandatory for every client) otherwise."""
    for enc in offered or []:
        if enc in SUPPORTED:
            return str(enc)
    return UTF16


class Text:
    """An immutable snapshot of a document's text with lazily split lines."""

    __slots__ = ("_lines", "is_ascii", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.is_ascii = source.isascii()
        self._lines: list[str] | None = None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = _LINE_BREAK.split(self.source)
        return self._lines

    def line(self, index: int) -> str:
        lines = self.lines
        return lines[index] if 0 <= index < len(lines) else ""


def _units(text: str, encoding: str) -> int:
    if encoding == UTF16:
        return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text)


class Codec:
    """Converts positions for one negotiated encoding."""

    def __init__(self, encoding: str = UTF16) -> None:
        self.encoding = encoding if encoding in SUPPORTED else UTF16

    def exact(self, text: Text) -> bool:
        """Whether columns in ``text`` are the same in code points and in client units."""
        return text.is_ascii or self.encoding == UTF32

    def column_to_client(self, text: Text, line: int, column: int) -> int:
        if text.is_ascii or self.encoding == UTF32:
            return column
        line_text = text.line(line)
        if line_text.isascii():
            return column
        return _units(line_text[:column], self.encoding) + max(0, column - len(line_text))

    def column_from_client(self, text: Text, line: int, units: int) -> int:
        """Code point column for a client column; a column inside a character or past the end is clamped."""
        if text.is_ascii or self.encoding == UTF32:
            return units
        line_text = text.line(line)
        if line_text.isascii():
            return units
        seen = 0
        for index, ch in enumerate(line_text):
            width = _units(ch, self.encoding)
            if seen + width > units:
                return index
            seen += width
        return len(line_text)

    def position_from_client(self, text: Text, position: ClientPosition) -> Position:
        return Position(position.line, self.column_from_client(text, position.line, position.character))

    def range_dict(self, text: Text, rng: Range) -> dict[str, Any]:
        """As :meth:`range`, but plain JSON (``flyte/entities`` avoids lsprotocol objects for speed)."""
        start, end = rng.start, rng.end
        return {
            "start": {
                "line": start.line,
                "character": self.column_to_client(text, start.line, start.character),
            },
            "end": {"line": end.line, "character": self.column_to_client(text, end.line, end.character)},
        }
