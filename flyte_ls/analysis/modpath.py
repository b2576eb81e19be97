"""Module names for files, computed the way flytekit does.

flytekit names an entity ``<module>.<function>``. When it loads a file it walks up from the file's folder
while the folder has an ``__init__.py``; the first folder without one is the source root, and the module name
is the dotted path from there (``flytekit.core.tracker._ModuleSanitizer``), ``__init__`` included for a
package's ``__init__.py``. This is the only module in :mod:`flyte_ls.analysis` that touches the file system
(it looks for ``__init__.py`` files and never reads them)."""

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


def _parts(path: str | Path) -> list[str]:
    absolute = _absolute(path)
    root = source_root_for(absolute)
    return list(absolute.relative_to(root).with_suffix("").parts)


def module_name_for(path: str | Path) -> str:
    """The module name flytekit gives ``path``: the prefix of its entities' Flyte names.

    ``root/pkg/sub/mod.py`` → ``pkg.sub.mod`` when ``pkg`` and ``sub`` have an ``__init__.py``; a file whose
    folder has no ``__init__.py`` → its stem. A package's ``root/pkg/__init__.py`` → ``pkg.__init__``:
    flytekit builds the name from the file path (``_ModuleSanitizer``), so a task ``t`` defined there is
    ``pkg.__init__.t`` (checked against flytekit 1.16 in the tests). Pass this as ``module`` to
    :func:`flyte_ls.analysis.analyze`. Never raises; returns ``""`` for a path without a name.
    """
    try:
        return ".".join(_parts(path))
    except (OSError, ValueError):
        return ""


def import_name_for(path: str | Path) -> str:
    """The name Python imports ``path`` as: like :func:`module_name_for`, but ``pkg/__init__.py`` → ``pkg``.

    Use it to key modules for :data:`flyte_ls.analysis.ModuleLookup` (imports name packages, not
    ``__init__``).
    """
    try:
        parts = _parts(path)
    except (OSError, ValueError):
        return ""
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)
