"""Source text helpers: line splitting the way Python and LSP agree on, and ``ast`` offsets → code point
columns.

``ast`` reports ``col_offset`` as a UTF-8 *byte* offset into the line, while
:class:`~flyte_ls.analysis.model.Position` uses code points. Lines end at ``\\n``, ``\\r\\n`` or a lone
``\\r`` (both Python's tokenizer and LSP agree on these; not ``\\f`` or the other characters
:meth:`str.splitlines` splits on), so the analysis first normalises every line ending to ``\\n``: that changes
no (line, column) position.
"""

from __future__ import annotations

import ast

_BOM = "\ufeff"


def normalize_source(source: str) -> tuple[str, int]:
    """Return ``(text, bom)``: ``source`` with line endings normalised to ``\\n`` and a leading BOM removed.

    ``bom`` is 1 when a BOM was removed (columns on the first line must then be shifted by one), else 0.
    """
    text = source
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith(_BOM):
        return text[1:], 1
    return text, 0


def split_lines(text: str) -> list[str]:
    """Lines of normalised ``text``, without their ``\\n``; always at least one (possibly empty) line."""
    return text.split("\n")


class LineTable:
    """Converts ``ast`` (1-based line, byte column) pairs into 0-based (line, code point column) for one text.

    ``lines`` are the lines of the text that was parsed (a whole module, or one chunk of it).
    """

    __slots__ = ("_ascii", "lines")

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._ascii: dict[int, bool] = {}

    def _is_ascii(self, index: int) -> bool:
        known = self._ascii.get(index)
        if known is None:
            known = self.lines[index].isascii() if 0 <= index < len(self.lines) else True
            self._ascii[index] = known
        return known

    def column(self, lineno: int, byte_col: int) -> int:
        """Code point column of ``byte_col`` on 1-based ``lineno``."""
        index = lineno - 1
        if byte_col <= 0 or self._is_ascii(index):
            return max(byte_col, 0)
        encoded = self.lines[index].encode("utf-8", "surrogatepass")
        return len(encoded[:byte_col].decode("utf-8", "replace"))

    def start(self, node: ast.AST) -> tuple[int, int]:
        """0-based (line, column) where ``node`` starts."""
        lineno = getattr(node, "lineno", 1)
        return lineno - 1, self.column(lineno, getattr(node, "col_offset", 0))

    def end(self, node: ast.AST) -> tuple[int, int]:
        """0-based (line, column) where ``node`` ends (exclusive)."""
        end_lineno: int | None = getattr(node, "end_lineno", None)
        start_lineno: int = getattr(node, "lineno", 1)
        lineno = end_lineno if end_lineno is not None else start_lineno
        col: int | None = getattr(node, "end_col_offset", None)
        if col is None:
            col = int(getattr(node, "col_offset", 0))
        return lineno - 1, self.column(lineno, col)

    def span(self, node: ast.AST) -> tuple[int, int, int, int]:
        """0-based (start line, start column, end line, end column) of ``node``."""
        return (*self.start(node), *self.end(node))

    def text(self, node: ast.AST | None) -> str | None:
        """Source text of ``node`` (like :func:`ast.get_source_segment`, without re-splitting the source)."""
        if node is None or not hasattr(node, "lineno"):
            return None
        sl, sc, el, ec = self.span(node)
        if not (0 <= sl < len(self.lines) and 0 <= el < len(self.lines)):
            return None
        if sl == el:
            return self.lines[sl][sc:ec]
        parts = [self.lines[sl][sc:]]
        parts.extend(self.lines[sl + 1 : el])
        parts.append(self.lines[el][:ec])
        return "\n".join(parts)
