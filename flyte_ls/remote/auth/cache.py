"""Tokens and where they are kept: one entry per endpoint, in memory (shared by every client in the
process) and optionally in a file only the user can read (0600)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Token:
    """An access token and what to send it in. ``owner`` names the flow and client that obtained it, so a
    token is never used by a client configured with other credentials; ``expires_at`` (epoch seconds) is
    ``None`` when unknown. The token values never appear in ``repr``."""

    access_token: str = field(repr=False)
    header: str = "authorization"
    owner: str = ""
    expires_at: float | None = None
    refresh_token: str | None = field(default=None, repr=False)

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (time.time() if now is None else now)

    def metadata(self) -> dict[str, str]:
        return {self.header: f"Bearer {self.access_token}"}


class TokenCache:
    """Tokens by endpoint, in memory; thread-safe (a sync facade and an event loop may share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}

    def get(self, endpoint: str, owner: str) -> Token | None:
        with self._lock:
            token = self._tokens.get(endpoint)
        return token if token is not None and token.owner == owner else None

    def put(self, endpoint: str, token: Token) -> None:
        with self._lock:
            self._tokens[endpoint] = token

    def discard(self, endpoint: str, token: Token | None = None) -> None:
        """Forget the endpoint's token (only if it is still ``token``, when given)."""
        with self._lock:
            if token is None or self._tokens.get(endpoint) is token:
                self._tokens.pop(endpoint, None)


class FileTokenCache(TokenCache):
    """A :class:`TokenCache` that also keeps its tokens in ``path`` (JSON, mode 0600, written atomically),
    so another process for the same endpoint need not fetch one again. A file that others can read is
    ignored (and replaced on the next write)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self._load()

    def _load(self) -> None:
        try:
            st = self.path.stat()
            if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077:
                log.warning("ignoring the token cache %s: others may read it (it should be 0600)", self.path)
                return
            data = json.loads(self.path.read_text(encoding="utf-8"))
            tokens = {str(k): Token(**v) for k, v in data.items()}
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError) as exc:
            log.warning("ignoring the unreadable token cache %s (%s)", self.path, type(exc).__name__)
            return
        with self._lock:
            self._tokens.update(tokens)

    def put(self, endpoint: str, token: Token) -> None:
        super().put(endpoint, token)
        self._save()

    def discard(self, endpoint: str, token: Token | None = None) -> None:
        super().discard(endpoint, token)
        self._save()

    def _save(self) -> None:
        import tempfile  # only file caches write

        with self._lock:
            data = {k: asdict(v) for k, v in self._tokens.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


MEMORY_CACHE = TokenCache()
"""The process-wide cache every :class:`~flyte_ls.remote.auth.Authenticator` uses unless given another."""
