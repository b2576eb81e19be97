"""One ``grpc.aio`` channel to Flyte Admin and the policy every RPC goes through: a deadline, retries only
where a retry can help, metadata, and errors mapped to :mod:`flyte_ls.remote.errors`.

Why not flytekit's policy: it retries *every* mapped error (a ``NOT_FOUND`` probe is sent four times) with
no backoff, and sets no deadline outside ``sync_execution`` (../shared/reference/flytekit-remote.md §1). Here:

* every attempt has a deadline (reads 10 s, creates and updates 60 s; :class:`Deadlines`);
* ``UNAVAILABLE`` and ``RESOURCE_EXHAUSTED`` are retried, ``DEADLINE_EXCEEDED`` too for reads (idempotent),
  with exponential backoff and full jitter, within a total time budget (:class:`RetryPolicy`); nothing else
  is retried — not ``NOT_FOUND``, ``ALREADY_EXISTS`` or ``INVALID_ARGUMENT``. A create retried after
  ``UNAVAILABLE`` may answer ``ALREADY_EXISTS`` if the first attempt did land; Admin's creates are keyed by
  identifier, so callers that tolerate re-registration already handle that;
* keepalive pings, so a dead connection fails instead of hanging (flytekit PR #3433);
* ``accept: application/grpc`` on every call, plus the headers of the ``metadata_plugins`` (auth).

A :class:`Transport` belongs to one event loop: the channel is created lazily in the loop of the first call.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import grpc
import grpc.aio
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2_grpc, signal_pb2_grpc

from flyte_ls.remote.errors import from_rpc_error, is_untrusted_certificate

log = logging.getLogger(__name__)

Kind = Literal["read", "create", "update"]
Headers = Mapping[str, str]
# A source of call metadata, e.g. an auth header; called before every attempt, so a refreshed token is used
# by the next attempt. It may be async (token endpoints are network calls).
MetadataPlugin = Callable[[], "Headers | Awaitable[Headers]"]

MiB = 1024 * 1024
# The channel options flytekit uses (reference §1); keys given in ``options`` replace these.
DEFAULT_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_metadata_size", 32 * 1024),
    ("grpc.max_receive_message_length", 20 * MiB),  # Admin's own limit
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)
ACCEPT = ("accept", "application/grpc")


@dataclass(frozen=True)
class Deadlines:
    """Seconds each attempt of an RPC may take, by kind."""

    read: float = 10.0
    create: float = 60.0
    update: float = 60.0

    def for_kind(self, kind: Kind) -> float:
        if kind not in ("read", "create", "update"):
            raise ValueError(f"kind must be 'read', 'create' or 'update', not {kind!r}")
        return float(getattr(self, kind))


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: before retry ``n`` (1-based) sleep a uniform random time in
    ``[0, min(max_backoff, initial_backoff * multiplier ** (n - 1))]``.

    A call makes at most ``max_attempts`` attempts and stops retrying once ``budget`` seconds (or the
    attempt deadline, if longer) have passed since it started; the last attempt's deadline is cut to fit.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    multiplier: float = 2.0
    budget: float = 30.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        cap = min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry - 1))
        return rng.uniform(0.0, cap)


_ALWAYS_RETRIED = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
# Below this much time left in the budget, another attempt could not get an answer anyway.
_MIN_ATTEMPT_S = 0.05


def is_retryable(err: grpc.RpcError, kind: Kind) -> bool:
    """Whether a failed attempt of a ``kind`` RPC is worth another try."""
    code = err.code()
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in str(err.details() or ""):
        return False  # the response exceeds the receive limit: it will again
    if code == grpc.StatusCode.UNAVAILABLE and is_untrusted_certificate(str(err.details() or "")):
        return False  # the certificate will not become trusted by itself
    if code in _ALWAYS_RETRIED:
        return True
    return code == grpc.StatusCode.DEADLINE_EXCEEDED and kind == "read"


class Transport:
    """A lazily created ``grpc.aio`` channel to ``endpoint`` with stubs for Admin, Signal and DataProxy.

    ``insecure`` uses plaintext; otherwise TLS trusting ``root_certificates`` (PEM bytes) or the system roots.
    ``options`` extend or replace :data:`DEFAULT_OPTIONS`. ``metadata_plugins`` add headers to every call
    (auth). ``on_unauthenticated`` is the seam for credential refresh: when an attempt fails with
    ``UNAUTHENTICATED`` it is awaited once per call, and if it returns True the attempt is repeated with fresh
    metadata (the auth module plugs in here; without it, ``UNAUTHENTICATED`` raises at once).
    """

    def __init__(
        self,
        endpoint: str,
        *,
        insecure: bool,
        root_certificates: bytes | None = None,
        options: Sequence[tuple[str, Any]] = (),
        metadata_plugins: Sequence[MetadataPlugin] = (),
        deadlines: Deadlines = Deadlines(),
        retry: RetryPolicy = RetryPolicy(),
        on_unauthenticated: Callable[[], Awaitable[bool]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.insecure = insecure
        self.deadlines = deadlines
        self.retry = retry
        self._root_certificates = root_certificates
        self._options = tuple({**dict(DEFAULT_OPTIONS), **dict(options)}.items())
        self._plugins = tuple(metadata_plugins)
        self._on_unauthenticated = on_unauthenticated
        self._rng = rng or random.Random()
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stubs: dict[str, Any] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"Transport({self.endpoint!r}, insecure={self.insecure})"

    # -- channel and stubs ---------------------------------------------------------------------------------

    @property
    def options(self) -> tuple[tuple[str, Any], ...]:
        """The channel options in effect."""
        return self._options

    def channel(self) -> grpc.aio.Channel:
        """The channel, created on first use in the running event loop."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; create a new Transport")
        loop = asyncio.get_running_loop()
        if self._channel is None:
            if self.insecure:
                self._channel = grpc.aio.insecure_channel(self.endpoint, options=self._options)
            else:
                credentials = grpc.ssl_channel_credentials(root_certificates=self._root_certificates)
                self._channel = grpc.aio.secure_channel(self.endpoint, credentials, options=self._options)
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError(
                f"{self!r} was first used from another event loop; a Transport (its grpc.aio channel) serves "
                "one loop — create one per loop"
            )
        return self._channel

    def _stub(self, name: str, factory: Callable[[grpc.aio.Channel], Any]) -> Any:
        channel = self.channel()
        if name not in self._stubs:
            self._stubs[name] = factory(channel)
        return self._stubs[name]

    @property
    def admin(self) -> admin_pb2_grpc.AdminServiceStub:
        return self._stub("admin", admin_pb2_grpc.AdminServiceStub)

    @property
    def signal(self) -> signal_pb2_grpc.SignalServiceStub:
        return self._stub("signal", signal_pb2_grpc.SignalServiceStub)

    @property
    def dataproxy(self) -> dataproxy_pb2_grpc.DataProxyServiceStub:
        return self._stub("dataproxy", dataproxy_pb2_grpc.DataProxyServiceStub)

    def _resolve(self, rpc: str | Any) -> tuple[str, Any]:
        """(RPC name, multi-callable) for a name such as ``"GetTask"`` or a stub method."""
        if isinstance(rpc, str):
            for stub in (self.admin, self.signal, self.dataproxy):
                method = None if rpc.startswith("_") else getattr(stub, rpc, None)
                if method is not None:
                    return rpc, method
            raise ValueError(f"no RPC named {rpc!r} in AdminService, SignalService or DataProxyService")
        path = getattr(rpc, "_method", b"")  # b"/flyteidl.service.AdminService/GetTask"
        name = path.decode() if isinstance(path, bytes) else str(path)
        return name.rsplit("/", 1)[-1] or repr(rpc), rpc

    async def _metadata(self) -> tuple[tuple[str, str], ...]:
        pairs = [ACCEPT]
        for plugin in self._plugins:
            headers = plugin()
            if inspect.isawaitable(headers):
                headers = await headers
            pairs.extend((key.lower(), value) for key, value in headers.items())
        return tuple(pairs)

    # -- calls ---------------------------------------------------------------------------------------------

    async def call(self, rpc: str | Any, request: Any, *, kind: Kind, timeout: float | None = None) -> Any:
        """Send ``request`` through ``rpc`` (a name like ``"GetTask"``, or a method of :attr:`admin`,
        :attr:`signal` or :attr:`dataproxy`) and return the response.

        ``timeout`` replaces the ``kind``'s deadline for each attempt. Raises a
        :class:`flyte_ls.remote.errors.FlyteException` subclass when the RPC fails for good.
        """
        per_attempt = timeout if timeout is not None else self.deadlines.for_kind(kind)
        name, method = self._resolve(rpc)
        started = time.monotonic()
        give_up_at = started + max(self.retry.budget, per_attempt)
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            attempt_timeout = max(min(per_attempt, give_up_at - time.monotonic()), _MIN_ATTEMPT_S)
            try:
                return await method(request, timeout=attempt_timeout, metadata=await self._metadata())
            except grpc.aio.AioRpcError as err:
                if await self._refreshed(err, refreshed):
                    refreshed = True
                    attempt -= 1  # the credentials were stale, not the backend
                    continue
                delay = self._retry_delay(err, kind, attempt, give_up_at)
                if delay is None:
                    raise from_rpc_error(
                        err,
                        name,
                        endpoint=self.endpoint,
                        timeout=attempt_timeout,
                        attempts=attempt,
                        elapsed=time.monotonic() - started,
                    ) from err
                log.debug("%s to %s: %s, attempt %d; retrying in %.2f s", name, self.endpoint,
                          err.code().name, attempt, delay)  # fmt: skip
                await asyncio.sleep(delay)

    async def _refreshed(self, err: grpc.aio.AioRpcError, already: bool) -> bool:
        """Seam for refresh-on-UNAUTHENTICATED: True when new credentials are worth one more attempt."""
        if already or err.code() != grpc.StatusCode.UNAUTHENTICATED or self._on_unauthenticated is None:
            return False
        return bool(await self._on_unauthenticated())

    def _retry_delay(
        self, err: grpc.aio.AioRpcError, kind: Kind, attempt: int, give_up_at: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the call should fail now."""
        if attempt >= self.retry.max_attempts or not is_retryable(err, kind):
            return None
        delay = self.retry.backoff(attempt, self._rng)
        if time.monotonic() + delay + _MIN_ATTEMPT_S > give_up_at:
            return None
        return delay

    async def aclose(self) -> None:
        """Close the channel (cancelling RPCs in flight); the Transport cannot be used afterwards."""
        self._closed = True
        channel, self._channel = self._channel, None
        self._stubs.clear()
        if channel is not None:
            await channel.close()

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = [
    "DEFAULT_OPTIONS",
    "Deadlines",
    "Kind",
    "MetadataPlugin",
    "RetryPolicy",
    "Transport",
    "is_retryable",
]
