"""Module names for files, computed the way flytekit does.

flytekit names an entity ``<module>.<function>``. When it loads a file it walks up from the file's folder
while the folder has an ``__init__.py``; the first folder without one is the source root, and the module name
is the dotted path from there (``flytekit.core.tracker._ModuleSanitizer``). A package's ``__init__.py`` is
imported as the package itself, so its module name is the package name. This is the only module in
:mod:`flyte_ls.analysis` that touches the file system (it looks for ``__init__.py`` files and never reads
them).
"""

from __future__ import annotations

import os
from pathlib import Path

_INIT = "__init__.py"


def _absolute(path: str | Path) -> Path:
    # ``abspath`` rather than ``resolve()``: flytekit does not resolve symlinks either, and resolve() is slow.
    return Path(os.path.abspath(os.fspath(path)))


def _has_init(folder: Path) -> bool:
    try:
        return (folder / _INIT).is_file()
    except OSError:
        return False


def source_root_for(path: str | Path) -> Path:
    """The nearest ancestor folder of ``path`` without an ``__init__.py`` (where flytekit imports from)."""
    folder = _absolute(path).parent
    while _has_init(folder) and folder.parent != folder:
        folder = folder.parent
    return folder


def module_name_for(path: str | Path) -> str:
    """Dotted module name of ``path`` relative to its source root.

    ``root/pkg/sub/mod.py`` → ``pkg.sub.mod`` when ``pkg`` and ``sub`` have an ``__init__.py``;
    ``root/pkg/__init__.py`` → ``pkg``; a file whose folder has no ``__init__.py`` → its stem.
    Never raises; returns ``""`` for a path without a name.
    """
    try:
        absolute = _absolute(path)
        root = source_root_for(absolute)
        parts = list(absolute.relative_to(root).with_suffix("").parts)
    except (OSError, ValueError):
        return ""
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)
