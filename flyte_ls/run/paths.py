"""Where flyte-ls keeps its per-user files: the user cache directory and the per-workspace state under it.

``$XDG_CACHE_HOME/flyte-ls`` (else ``~/.cache/flyte-ls``) holds the copied worker package, the auto-started
local backend's state (``local/``) and one folder per workspace (``workspaces/<hash>/``: tracked executions).
Nothing here creates a directory: callers create what they write.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

APP_NAME = "flyte-ls"


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/flyte-ls``, else ``~/.cache/flyte-ls`` (read at each call: tests and the server may
    change the environment)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / APP_NAME


def local_backend_dir() -> Path:
    """The state directory of the local backend flyte-ls starts when nothing else is configured."""
    return user_cache_dir() / "local"


def workspace_state_dir(root: str | os.PathLike[str]) -> Path:
    """``<user cache>/workspaces/<hash>``: the state of one workspace, keyed by a short hash of its resolved
    root (the same folder opened through a symlink or a relative path shares its state)."""
    resolved = str(Path(root).expanduser().resolve())
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return user_cache_dir() / "workspaces" / digest
