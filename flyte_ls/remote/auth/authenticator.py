"""Plugs a token flow into a :class:`~flyte_ls.remote.transport.Transport`: a metadata plugin that sends
the cached token (if any) and the ``on_unauthenticated`` seam that discovers the server's auth settings and
fetches a new token. Nothing happens until the server answers ``UNAUTHENTICATED``: a server without auth
never sees a discovery call or a token request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypedDict

from flyte_ls.remote.auth.cache import MEMORY_CACHE, Token, TokenCache
from flyte_ls.remote.auth.flows import ExternalCommand, Flow
from flyte_ls.remote.auth.oauth import AuthMetadata, HttpSettings, discover
from flyte_ls.remote.errors import FlyteAuthenticationException
from flyte_ls.remote.transport import MetadataPlugin, Transport

log = logging.getLogger(__name__)


class TransportOptions(TypedDict):
    """The keyword arguments that plug an :class:`Authenticator` into a :class:`Transport`."""

    metadata_plugins: tuple[MetadataPlugin, ...]
    on_unauthenticated: Callable[[], Awaitable[bool]]


class Authenticator:
    """Credentials for one endpoint, from ``flow``; tokens kept in ``cache`` (by default the process-wide
    memory cache, so every client of an endpoint shares one token).

    Use: ``auth = Authenticator(endpoint, flow)``, ``Transport(endpoint, ..., **auth.transport_options())``,
    then ``auth.attach(transport)`` (discovery uses the transport's channel, without credentials).
    """

    def __init__(
        self,
        endpoint: str,
        flow: Flow | None,
        *,
        cache: TokenCache = MEMORY_CACHE,
        http: HttpSettings | None = None,
        discovery_timeout: float = 10.0,
        unsupported: str = "",
        proxy: ExternalCommand | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.flow = flow
        self.cache = cache
        self.http = http or HttpSettings()
        self.discovery_timeout = discovery_timeout
        self._unsupported = unsupported
        self.proxy = proxy  # proxyCommand: its token goes in proxy-authorization on every call
        self._proxy_token: Token | None = None
        self._transport: Transport | None = None
        self._meta: AuthMetadata | None = None
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"Authenticator({self.endpoint!r}, {self.flow!r})"

    def transport_options(self) -> TransportOptions:
        return {"metadata_plugins": (self.metadata,), "on_unauthenticated": self.refresh}

    def attach(self, transport: Transport) -> None:
        self._transport = transport

    @property
    def owner(self) -> str:
        return self.flow.owner if self.flow is not None else ""

    def token(self) -> Token | None:
        """The cached token this authenticator would send (None before the first refresh)."""
        return self.cache.get(self.endpoint, self.owner) if self.flow is not None else None

    async def metadata(self) -> dict[str, str]:
        """The metadata plugin: the cached token's header (nothing before the first refresh), and the proxy
        command's token in ``proxy-authorization`` (run once, before the first call, as flytekit does)."""
        headers: dict[str, str] = {}
        if self.proxy is not None:
            if self._proxy_token is None:
                self._proxy_token = await self.proxy.fetch(
                    AuthMetadata(header="proxy-authorization"), self.http, None
                )
            headers.update(self._proxy_token.metadata())
        token = self.token()
        if token is not None:
            headers.update(token.metadata())
        return headers

    async def refresh(self) -> bool:
        """The ``on_unauthenticated`` seam: get a new token (once, for concurrent callers); True when there
        is one to retry with. Raises :class:`FlyteAuthenticationException` when none can be had."""
        if self.flow is None:
            raise FlyteAuthenticationException(
                f"{self.endpoint} requires authentication, and {self._unsupported or 'this authType'} is not "
                "supported by flyte_ls.remote: set authType to ClientSecret, DeviceFlow or ExternalCommand "
                "in your Flyte config"
            )
        stale = self.token()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            current = self.token()
            if current is not None and current is not stale:
                return True  # another call refreshed while this one waited
            meta = await self._metadata()
            token = await self.flow.fetch(meta, self.http, stale)
            self.cache.put(self.endpoint, token)
            log.info("new credentials for %s (%s)", self.endpoint, type(self.flow).__name__)
            return True

    async def _metadata(self) -> AuthMetadata:
        if self._meta is None:
            if self._transport is None:
                raise RuntimeError(f"{self!r} is not attached to a Transport (call attach(transport))")
            try:
                self._meta = await discover(self._transport.channel(), self.endpoint, self.discovery_timeout)
            except FlyteAuthenticationException:
                if not isinstance(self.flow, ExternalCommand):
                    raise
                self._meta = AuthMetadata()  # a command's token needs no discovery; the default header
        return self._meta
