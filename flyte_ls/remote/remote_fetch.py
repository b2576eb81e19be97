"""Fetching and listing: :class:`FetchMixin`, the read-only methods of the remote."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte_ls.remote.config import Config
    from flyte_ls.remote.transport import Kind


class FetchMixin:
    """fetch_*, list_*, get(flyte_uri) and generate_console_url, over :class:`RemoteBase`."""

    if TYPE_CHECKING:  # provided by RemoteBase
        config: Config
        default_project: str | None
        default_domain: str | None

        async def _call(self, rpc: str, request: Any, *, kind: Kind, timeout: float | None = None) -> Any: ...
