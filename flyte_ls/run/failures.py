"""A failed execution's error message → the Python frames it names → files of the workspace.

flytekit puts the user's traceback into the task's error (and Admin copies it into the execution's
``closure.error.message``)::

    Trace:

        Traceback (most recent call last):
          File "/.../flytekit/core/base_task.py", line 767, in dispatch_execute
          ...
          File "/work/dir/of/the/task/pkg/helpers.py", line 6, in check_positive
            raise ValueError(...)
        ValueError: ...

    Message:

        ValueError: ...

The task ran from the unpacked fast-register archive (a directory of the backend's, or a container path such
as ``/root``), so the paths are not the workspace's: :func:`map_to_workspace` finds, for each frame, the
workspace file with the longest matching relative path suffix.

A task registered from a notebook was pickled by value with cloudpickle, which erases its code's file name
(``File "<dynamic-code>", line 6, in check_positive``) and keeps its lines, relative to the cell that defined
the function (each cell is compiled on its own): :func:`place_in_cells` finds that cell by the function's
name.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DYNAMIC_CODE = "<dynamic-code>"  # cloudpickle 3's co_filename for code it pickled by value
_FRAME = re.compile(r'^\s*File "(?P<file>[^"\n]+)", line (?P<line>\d+)(?:, in (?P<name>[^\n]+?))?\s*$', re.M)


@dataclass(frozen=True)
class Frame:
    """One traceback frame: ``file`` as the traceback names it (or the workspace file once mapped), its
    1-based ``line``, and the function ``name``."""

    file: str
    line: int
    name: str

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "name": self.name}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Frame:
        return cls(str(data["file"]), int(data["line"]), str(data.get("name", "")))  # type: ignore[call-overload]


def is_dynamic(file: str) -> bool:
    """A frame's ``file`` of code cloudpickle pickled by value (a notebook's): no file, a line in its cell."""
    return file == DYNAMIC_CODE


def _pseudo(file: str) -> bool:
    return file.startswith("<") and file.endswith(">")


def frames_from_error(message: str) -> list[Frame]:
    """The traceback frames of a Flyte error message, outermost first (innermost = last). Frames of
    ``<string>``-like pseudo files are dropped, except ``<dynamic-code>`` ones (see :func:`place_in_cells`);
    a message without a traceback gives ``[]``."""
    frames = []
    for m in _FRAME.finditer(message or ""):
        file = m.group("file").strip()
        if _pseudo(file) and file != DYNAMIC_CODE:
            continue
        frames.append(Frame(file, int(m.group("line")), (m.group("name") or "").strip()))
    return frames


def map_to_workspace(
    frames: list[Frame], source_root: str | os.PathLike[str], keep_dynamic: bool = False
) -> list[Frame]:
    """The frames whose file is a workspace file under ``source_root``, with ``file`` replaced by that file's
    absolute path; order kept (the deepest workspace frame is the last). A frame's path is matched by its
    longest path suffix that names an existing file under ``source_root`` (``.../work/n1-0/pkg/mod.py`` →
    ``<root>/pkg/mod.py``, then ``<root>/mod.py``); a path already under ``source_root`` is kept as is.
    Frames of site-packages and the standard library never match unless the workspace holds such a path, nor
    do frames of pseudo files; ``keep_dynamic``: ``<dynamic-code>`` frames are kept as they are, in their
    place (a notebook's code, see :func:`place_in_cells`)."""
    root = Path(source_root).resolve()
    mapped = []
    for frame in frames:
        if is_dynamic(frame.file) and keep_dynamic:
            mapped.append(frame)
            continue
        target = None if _pseudo(frame.file) else _workspace_file(frame.file, root)
        if target is not None:
            mapped.append(Frame(str(target), frame.line, frame.name))
    return mapped


def deepest(frames: list[Frame]) -> Frame | None:
    """The innermost frame (the raising line), if any."""
    return frames[-1] if frames else None


def place_in_cells(frame: Frame, cells: Sequence[str], up_to: int | None = None) -> tuple[int, int] | None:
    """Where a ``<dynamic-code>`` frame is in a notebook: ``(cell index, 0-based line in that cell)``.

    ``cells``: the code cells' Python (IPython syntax blanked, lines kept), in order. The frame's line is
    relative to the cell that defined its function: the cell whose code has a ``def`` named ``frame.name``
    (``<lambda>``, ``<genexpr>``... : a lambda, a comprehension) whose lines, decorators included, hold that
    line. Only cells ``0..up_to`` count when ``up_to`` is given (the cells run before the entity was pickled);
    of several, the last (the definition the kernel kept). None when no cell fits (edited since, a cell that
    does not parse)."""
    if not is_dynamic(frame.file) or frame.line < 1:
        return None
    last = len(cells) - 1 if up_to is None else min(up_to, len(cells) - 1)
    for index in range(last, -1, -1):
        if _defines(cells[index], frame.name, frame.line):
            return index, frame.line - 1
    return None


_ANONYMOUS: dict[str, tuple[type[ast.AST], ...]] = {
    "<lambda>": (ast.Lambda,),
    "<listcomp>": (ast.ListComp,),
    "<setcomp>": (ast.SetComp,),
    "<dictcomp>": (ast.DictComp,),
    "<genexpr>": (ast.GeneratorExp,),
}


def _defines(code: str, name: str, line: int) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    kinds = _ANONYMOUS.get(name)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if kinds is not None or node.name != name:
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        elif kinds is not None and isinstance(node, kinds) and isinstance(node, ast.expr):
            first = node.lineno
        else:
            continue
        if first <= line <= (node.end_lineno or node.lineno):
            return True
    return False


def _workspace_file(path: str, root: Path) -> Path | None:
    posix = PurePosixPath(path.replace("\\", "/"))
    try:
        absolute = Path(path).resolve()
        if absolute.is_relative_to(root) and absolute.is_file():
            return absolute
    except (OSError, ValueError):
        pass
    if "site-packages" in posix.parts or "dist-packages" in posix.parts:
        return None
    parts = [p for p in posix.parts if p not in ("/", "")]
    for start in range(len(parts)):  # the longest suffix first
        candidate = root.joinpath(*parts[start:])
        if candidate.is_file():
            return candidate
    return None
