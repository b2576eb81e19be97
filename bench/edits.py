"""The edit scripts the benchmark replays against every server: realistic one-line edits in a big module.

The document is mirrored here, so that each edit is a correct incremental ``didChange`` (range = the whole old
line) and both servers see exactly the same sequence of versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BODY = re.compile(r"^    total = 0\.0$")
_SIG_DEFAULT = re.compile(r"^def \w+\(.*: int = (\d+)")
_SIG_ANNOTATED = re.compile(r"^def \w+\((\w+): (int|float|str|bool)([,)])")


@dataclass
class Edit:
    line: int
    old: str
    new: str


class MirroredDocument:
    """The text as the server should see it; produces edits and applies them."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.version = 1

    def text(self) -> str:
        return "\n".join(self.lines)

    def edit(self, line: int, new: str) -> Edit:
        e = Edit(line, self.lines[line], new)
        self.lines[line] = new
        self.version += 1
        return e


def spread(indices: list[int], k: int) -> list[int]:
    """``k`` indices spread evenly over ``indices`` (start, middle and end of the file)."""
    if len(indices) <= k:
        return indices
    step = len(indices) / k
    return [indices[int(i * step)] for i in range(k)]


def typing_edits(doc: MirroredDocument, n: int) -> list[tuple[int, str]]:
    """``n`` edits as a user makes them: mostly inside task bodies, one in five changes a signature default.

    Returns (line, new text) pairs; apply them with :meth:`MirroredDocument.edit` in order. The entity set
    never changes, so every response can be checked for completeness.
    """
    body = spread([i for i, s in enumerate(doc.lines) if _BODY.match(s)], 8)
    sigs = spread([i for i, s in enumerate(doc.lines) if _SIG_DEFAULT.match(s)], 4)
    if not body or not sigs:
        raise ValueError("the benchmark module has no editable task bodies or signatures")
    current = {i: doc.lines[i] for i in body + sigs}
    plan: list[tuple[int, str]] = []
    for k in range(n):
        if k % 5 == 4:
            line = sigs[(k // 5) % len(sigs)]
            m = _SIG_DEFAULT.match(current[line])
            assert m is not None
            value = int(m.group(1)) % 9 + 1
            new = current[line][: m.start(1)] + str(value) + current[line][m.end(1) :]
        else:
            line = body[k % len(body)]
            new = f"    total = 0.{k % 9 + 1}"
        current[line] = new
        plan.append((line, new))
    return plan


def mistake_toggles(doc: MirroredDocument, n: int) -> list[tuple[int, str]]:
    """``n`` edits that alternately remove and restore a task input's type annotation (a Flyte error), so that
    every edit changes the diagnostics the server must publish."""
    lines = [i for i, s in enumerate(doc.lines) if _SIG_ANNOTATED.match(s)]
    if not lines:
        raise ValueError("the benchmark module has no annotated task signature")
    line = spread(lines, 3)[1]
    original = doc.lines[line]
    m = _SIG_ANNOTATED.match(original)
    assert m is not None
    broken = original[: m.end(1)] + original[m.end(2) :]
    return [(line, broken if k % 2 == 0 else original) for k in range(n)]
