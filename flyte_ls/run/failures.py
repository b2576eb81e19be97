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
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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


def frames_from_error(message: str) -> list[Frame]:
    """The traceback frames of a Flyte error message, outermost first (innermost = last). Frames of
    ``<string>``-like pseudo files are dropped; a message without a traceback gives ``[]``."""
    frames = []
    for m in _FRAME.finditer(message or ""):
        file = m.group("file").strip()
        if file.startswith("<") and file.endswith(">"):
            continue
        frames.append(Frame(file, int(m.group("line")), (m.group("name") or "").strip()))
    return frames


def map_to_workspace(frames: list[Frame], source_root: str | os.PathLike[str]) -> list[Frame]:
    """The frames whose file is a workspace file under ``source_root``, with ``file`` replaced by that file's
    absolute path; order kept (the deepest workspace frame is the last). A frame's path is matched by its
    longest path suffix that names an existing file under ``source_root`` (``.../work/n1-0/pkg/mod.py`` →
    ``<root>/pkg/mod.py``, then ``<root>/mod.py``); a path already under ``source_root`` is kept as is.
    Frames of site-packages and the standard library never match unless the workspace holds such a path."""
    root = Path(source_root).resolve()
    mapped = []
    for frame in frames:
        target = _workspace_file(frame.file, root)
        if target is not None:
            mapped.append(Frame(str(target), frame.line, frame.name))
    return mapped


def deepest(frames: list[Frame]) -> Frame | None:
    """The innermost frame (the raising line), if any."""
    return frames[-1] if frames else None


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
