"""The local backend's state directory: layout, the client ``config.yaml``, the status file and the lock.

Layout under the state dir (plain absolute paths everywhere, see local-backend.md §0 and §10)::

    config.yaml        flytekit/flytectl client config pointing at the running backend
    status.json        pid, host, ports, interpreter and start time of the running backend (removed on stop)
    backend.lock       held (flock) while a backend runs on this state dir: two backends never share one
    upload-signing.key the HMAC key of the DataProxy's signed upload URLs (0600; a URL outlives a restart)
    client-secret      with ``--auth client-secret``: the OAuth2 client secret config.yaml names (0600)
    admin.db, blobs/   the Admin store (flyte_ls.local.store)
    uploads/<project>/<domain>/<filename_root or base32(md5)>/<filename>   DataProxy uploads
    tmp/uploads/       partial uploads, renamed into place once their MD5 checked out
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import stat
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

try:  # POSIX only; without it two backends on one state dir are caught by the port check instead
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


SIGNING_KEY_BYTES = 32


def default_state_dir() -> Path:
    """``$XDG_DATA_HOME/flyte-ls/local``, else ``~/.local/share/flyte-ls/local``."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "flyte-ls" / "local"


def connect_host(host: str) -> str:
    """The address a client on this machine uses to reach a server bound to ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "::1"
    return host


def host_port(host: str, port: int) -> str:
    """``host:port`` with IPv6 literals bracketed."""
    h = connect_host(host)
    if ":" in h and not h.startswith("["):
        h = f"[{h}]"
    return f"{h}:{port}"


@dataclass(frozen=True)
class StateDir:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    @property
    def status_path(self) -> Path:
        return self.root / "status.json"

    @property
    def lock_path(self) -> Path:
        return self.root / "backend.lock"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def uploads_tmp(self) -> Path:
        return self.root / "tmp" / "uploads"

    @property
    def signing_key_path(self) -> Path:
        return self.root / "upload-signing.key"

    def signing_key(self) -> bytes:
        """The upload-URL signing key, created (0600, owner only) on first use and kept across restarts.

        The file sits at the top of the state dir, which the HTTP server never serves (``/files/`` needs a
        subdirectory). A key that is unreadable, too short or readable by others is replaced: the URLs it
        signed stop working, which is the safe side."""
        path = self.signing_key_path
        try:
            st = path.stat()
            if stat.S_ISREG(st.st_mode) and not st.st_mode & 0o077:
                key = path.read_bytes()
                if len(key) >= SIGNING_KEY_BYTES:
                    return key
        except OSError:
            pass
        key = secrets.token_bytes(SIGNING_KEY_BYTES)
        write_atomic(path, key)  # mode 0600
        return key

    def clean_tmp(self) -> None:
        """Remove partial uploads left by a backend that died mid-PUT (call with the lock held)."""
        if self.uploads_tmp.is_dir():
            for leftover in self.uploads_tmp.iterdir():
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.uploads.mkdir(exist_ok=True)
        self.uploads_tmp.mkdir(parents=True, exist_ok=True)


def config_yaml(
    host: str, port: int, http_port: int, *, client_id: str | None = None, secret_location: Path | None = None
) -> str:
    """A flytekit/flytectl config for a backend at ``host:port`` with its console at ``http_port``; with
    ``client_id`` and ``secret_location`` (``--auth client-secret``) it authenticates as that client."""
    auth = ""
    if client_id is not None and secret_location is not None:
        auth = (
            "  authType: ClientSecret\n"
            f"  clientId: {json.dumps(client_id)}\n"
            f"  clientSecretLocation: {json.dumps(str(secret_location))}\n"
        )
    return (
        "# Written by `flyte-ls local start`: a flytekit / flytectl config for the local backend.\n"
        "#   pyflyte --config <this file> run --remote my_workflows.py my_wf\n"
        "#   export FLYTECTL_CONFIG=<this file>   (flytectl, and flytekit's Config.auto())\n"
        "admin:\n"
        f"  endpoint: dns:///{host_port(host, port)}\n"
        "  insecure: true\n"
        f"{auth}"
        "console:\n"
        f"  endpoint: http://{host_port(host, http_port)}\n"
    )


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temp file and a rename: readers never see half a
    file. The file has mode 0600 (mkstemp's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class Status:
    """What ``status.json`` holds while a backend runs."""

    pid: int
    host: str
    port: int
    http_port: int
    state_dir: str
    python: str
    flytekit_version: str
    python_version: str  # the task interpreter's ("3.11.7"); "" in a file written before it was recorded
    started_at: str
    config: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Status:
        data: dict[str, Any] = json.loads(text)
        return cls(
            pid=int(data["pid"]),
            host=str(data["host"]),
            port=int(data["port"]),
            http_port=int(data["http_port"]),
            state_dir=str(data["state_dir"]),
            python=str(data.get("python", "")),
            flytekit_version=str(data.get("flytekit_version", "")),
            python_version=str(data.get("python_version", "")),
            started_at=str(data.get("started_at", "")),
            config=str(data.get("config", "")),
        )


def read_status(state: StateDir) -> Status | None:
    """The status file's content, or None when there is none (or it is unreadable)."""
    try:
        return Status.from_json(state.status_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def port_answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when something accepts a TCP connection on ``host:port``."""
    try:
        with socket.create_connection((connect_host(host), port), timeout=timeout):
            return True
    except OSError:
        return False


class StateDirLocked(Exception):
    """Another backend holds this state dir."""


class StateLock:
    """An exclusive ``flock`` on ``backend.lock``, held for the backend's lifetime."""

    def __init__(self, state: StateDir) -> None:
        self._path = state.lock_path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        f = open(self._path, "a+", encoding="utf-8")  # held open until release()
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                f.close()
                raise StateDirLocked(str(self._path)) from exc
        self._file = f

    @property
    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
