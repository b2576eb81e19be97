"""Which lines of a notebook cell are IPython syntax rather than Python — one rule for the server (which
analyses a notebook as one module of its code cells) and the worker (which runs them).

A kernel rewrites these lines before Python sees them (IPython's input transformers); flyte-ls blanks them
instead, keeping every line where it was, so positions still point into the cell:

- a cell magic: a cell whose first non-blank text is ``%%`` (``%%bash``, ``%%time``): the whole cell;
- a line magic, shell escape or help: a line starting with ``%``, ``!`` or ``?`` (``%time f()``, ``!ls``);
- an assigned one: ``files = !ls``, ``a, b = %time f()``;
- trailing help: ``len?``, ``obj.attr??``;
- and the ``\\`` continuation lines of any of those.

Standard library only: this module runs in the user's interpreter too.
"""

from __future__ import annotations

import re

_IPYTHON_LINE = re.compile(
    r"\s*(?:[%!?]"  # %magic, !shell, ?help
    r"|[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]"  # x = !ls, a, b = %time f()
    r"|[A-Za-z_][\w.]*\?\??\s*$)"  # len?, obj.attr??
)


def is_cell_magic(source: str) -> bool:
    """Whether the cell is a cell magic (``%%bash``...): none of it is Python."""
    return source.lstrip().startswith("%%")


def code_lines(source: str) -> list[str]:
    """The cell's lines as Python: IPython lines blanked (see the module docstring), as many lines as the
    cell has."""
    lines = source.split("\n")
    if is_cell_magic(source):
        return [""] * len(lines)
    out: list[str] = []
    continued = False
    for line in lines:
        if continued or _IPYTHON_LINE.match(line):
            continued = line.rstrip().endswith("\\")
            out.append("")
        else:
            continued = False
            out.append(line)
    return out
