"""Module names for files, computed the way flytekit does. (Skeleton: the analysis agent fills it in.)"""

from __future__ import annotations

from pathlib import Path


def source_root_for(path: str | Path) -> Path:
    """The nearest ancestor folder of ``path`` that has no ``__init__.py``."""
    raise NotImplementedError


def module_name_for(path: str | Path) -> str:
    """Dotted module name of ``path`` relative to its source root (``pkg/sub/mod.py`` → ``pkg.sub.mod``)."""
    raise NotImplementedError
