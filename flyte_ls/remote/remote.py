"""The client: :class:`AsyncFlyteRemote` (asyncio, for the language server) and :class:`FlyteRemote` (the same
methods, synchronous, for scripts), with flytekit's ``FlyteRemote`` method names.

One implementation: the methods are coroutines of the mixins (:mod:`.remote_fetch`, :mod:`.remote_execute`)
over :class:`RemoteBase`, which owns the configuration, the defaults and the :class:`Transport`.
:class:`FlyteRemote` runs those same coroutines on a private event-loop thread; its methods are generated from
:class:`AsyncFlyteRemote`'s, so a method added to a mixin is available in both APIs at once.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import ssl
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flyte_ls.remote.config import Config
from flyte_ls.remote.remote_data import DataMixin
from flyte_ls.remote.remote_execute import ExecuteMixin
from flyte_ls.remote.remote_fetch import FetchMixin
from flyte_ls.remote.remote_register import RegisterMixin
from flyte_ls.remote.transport import Deadlines, Kind, RetryPolicy, Transport

if TYPE_CHECKING:
    from flyte_ls.remote.auth import DeviceCodeHook, TokenCache

T = TypeVar("T")
R = TypeVar("R", bound="RemoteBase")
F = TypeVar("F", bound="_Factories")

DEFAULT_UPLOAD_LOCATION = "flyte://my-s3-bucket/"
"""flytekit's default ``data_upload_location``: uploads go through the backend's DataProxy."""


class _Factories:
    """The constructors from configuration, shared by :class:`RemoteBase` and :class:`FlyteRemote`."""

    def __init__(
        self,
        config: Config | None = None,
        default_project: str | None = None,
        default_domain: str | None = None,
        data_upload_location: str = DEFAULT_UPLOAD_LOCATION,
        *,
        deadlines: Deadlines | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        raise NotImplementedError

    @classmethod
    def auto(
        cls: type[F],
        config_file: str | os.PathLike[str] | None = None,
        default_project: str | None = None,
        default_domain: str | None = None,
        data_upload_location: str = DEFAULT_UPLOAD_LOCATION,
        *,
        deadlines: Deadlines | None = None,
        retry: RetryPolicy | None = None,
    ) -> F:
        """A remote configured from ``config_file`` (or the discovered one) and ``FLYTE_*`` variables."""
        return cls(
            Config.auto(config_file),
            default_project,
            default_domain,
            data_upload_location,
            deadlines=deadlines,
            retry=retry,
        )

    @classmethod
    def for_sandbox(
        cls: type[F],
        default_project: str | None = "flytesnacks",
        default_domain: str | None = "development",
        data_upload_location: str = DEFAULT_UPLOAD_LOCATION,
        *,
        deadlines: Deadlines | None = None,
        retry: RetryPolicy | None = None,
    ) -> F:
        """A remote for the sandbox / ``flyte-ls local start`` at localhost:30080 (plaintext)."""
        return cls(
            Config.for_sandbox(),
            default_project,
            default_domain,
            data_upload_location,
            deadlines=deadlines,
            retry=retry,
        )

    @classmethod
    def for_endpoint(
        cls: type[F],
        endpoint: str,
        insecure: bool | None = None,
        *,
        config_file: str | os.PathLike[str] | None = None,
        default_project: str | None = None,
        default_domain: str | None = None,
        data_upload_location: str = DEFAULT_UPLOAD_LOCATION,
        deadlines: Deadlines | None = None,
        retry: RetryPolicy | None = None,
    ) -> F:
        """A remote for ``endpoint`` (``host:port``); other settings from the config file and environment."""
        return cls(
            Config.for_endpoint(endpoint, insecure, config_file=config_file),
            default_project,
            default_domain,
            data_upload_location,
            deadlines=deadlines,
            retry=retry,
        )


class RemoteBase(_Factories):
    """Configuration, defaults and the transport shared by every method. Construction makes no network call.

    ``config`` defaults to :meth:`Config.auto` (files and ``FLYTE_*`` variables). The :attr:`transport`
    (one gRPC channel) is built on first use, in the event loop of the first RPC, and belongs to that loop:
    use one :class:`AsyncFlyteRemote` per event loop, and :meth:`aclose` it when done.

    ``deadlines`` (seconds per attempt of a read, create or update RPC) and ``retry`` (attempts, backoff and
    the time budget of retried reads) configure that transport; ``None`` keeps :class:`Deadlines` /
    :class:`RetryPolicy`'s defaults.

    Tokens are kept in memory, one cache per endpoint for the process; set :attr:`token_cache` to a
    :class:`~flyte_ls.remote.auth.FileTokenCache` (a 0600 file) before the first RPC to keep them across
    processes.
    """

    def __init__(
        self,
        config: Config | None = None,
        default_project: str | None = None,
        default_domain: str | None = None,
        data_upload_location: str = DEFAULT_UPLOAD_LOCATION,
        *,
        deadlines: Deadlines | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.config = config if config is not None else Config.auto()
        self.default_project = default_project
        self.default_domain = default_domain
        self.data_upload_location = data_upload_location
        self.deadlines = deadlines if deadlines is not None else Deadlines()
        self.retry = retry if retry is not None else RetryPolicy()
        self._transport: Transport | None = None
        self._transport_lock = threading.Lock()
        self._on_device_code: DeviceCodeHook | None = None
        self.token_cache: TokenCache | None = None  # None: the per-endpoint memory cache
        # Set by FlyteRemote: runs a coroutine on its loop thread, so that lazy entities work synchronously.
        self._runner: Callable[[Awaitable[Any]], Any] | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self.config.endpoint!r},"
            f" default_project={self.default_project!r}, default_domain={self.default_domain!r})"
        )

    @property
    def on_device_code(self) -> DeviceCodeHook:
        """Shows the user a DeviceFlow / PKCE sign-in (URL and code); by default in the log
        (:func:`~flyte_ls.remote.auth.log_device_code`). Set it before the first RPC to show it elsewhere."""
        if self._on_device_code is None:
            from flyte_ls.remote.auth import log_device_code

            self._on_device_code = log_device_code
        return self._on_device_code

    @on_device_code.setter
    def on_device_code(self, hook: DeviceCodeHook) -> None:
        self._on_device_code = hook

    @property
    def transport(self) -> Transport:
        """The :class:`Transport` for :attr:`config`, built on first access (no RPC yet)."""
        with self._transport_lock:
            if self._transport is None:
                self._transport = self._make_transport()
            return self._transport

    def _make_transport(self) -> Transport:
        """The Transport for :attr:`config`, with auth (flyte_ls.remote.auth) plugged into its metadata and
        refresh seams: credentials are fetched only when the server answers UNAUTHENTICATED. The auth package
        is imported here, not with this module: a script that never sends an RPC does not pay for it."""
        from flyte_ls.remote.auth import authenticator_for

        cfg = self.config
        if self.token_cache is None:
            auth = authenticator_for(cfg, on_device_code=self.on_device_code)
        else:
            auth = authenticator_for(cfg, on_device_code=self.on_device_code, cache=self.token_cache)
        transport = Transport(
            cfg.endpoint,
            insecure=cfg.insecure,
            root_certificates=_root_certificates(cfg),
            deadlines=self.deadlines,
            retry=self.retry,
            **auth.transport_options(),
        )
        auth.attach(transport)
        return transport

    async def _call(self, rpc: str, request: Any, *, kind: Kind, timeout: float | None = None) -> Any:
        """Send ``request`` through the RPC named ``rpc`` (e.g. ``"GetTask"``); errors are FlyteExceptions."""
        return await self.transport.call(rpc, request, kind=kind, timeout=timeout)

    async def aclose(self) -> None:
        """Close the channel; a later RPC opens a new one."""
        with self._transport_lock:
            transport, self._transport = self._transport, None
        if transport is not None:
            await transport.aclose()

    async def __aenter__(self: R) -> R:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _root_certificates(cfg: Config) -> bytes | None:
    """PEM to trust: ``ca_cert_file_path``, or (``insecure_skip_verify``) the server's own certificate."""
    if cfg.insecure:
        return None
    if cfg.ca_cert_file_path:
        return Path(cfg.ca_cert_file_path).expanduser().read_bytes()
    if cfg.insecure_skip_verify:
        host, _, port = cfg.endpoint.rpartition(":")
        if not host:
            host, port = cfg.endpoint, "443"
        # flytekit does the same (a blocking fetch); it happens once, when the transport is first built.
        return ssl.get_server_certificate((host.strip("[]"), int(port))).encode()
    return None


class AsyncFlyteRemote(RemoteBase, FetchMixin, ExecuteMixin, RegisterMixin, DataMixin):
    """flytekit's FlyteRemote as coroutines: ``await remote.fetch_task(...)``."""


class FlyteRemote(_Factories):
    """The synchronous API: every coroutine method of :class:`AsyncFlyteRemote` under the same name, run on a
    private event-loop thread (started on first use, stopped by :meth:`close`). Attributes such as ``config``
    and ``default_project`` are the underlying remote's.

    Safe to call from several threads, and from code that has its own running event loop (the call blocks that
    thread until the result is ready).
    """

    def __init__(
        self,
        config: Config | None = None,
        default_project: str | None = None,
        default_domain: str | None = None,
        data_upload_location: str = DEFAULT_UPLOAD_LOCATION,
        *,
        deadlines: Deadlines | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._remote = AsyncFlyteRemote(
            config, default_project, default_domain, data_upload_location, deadlines=deadlines, retry=retry
        )
        self._remote._runner = self._run
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def async_remote(self) -> AsyncFlyteRemote:
        """The :class:`AsyncFlyteRemote` underneath (its coroutines must run on this remote's loop)."""
        return self._remote

    def __getattr__(self, name: str) -> Any:
        # Plain attributes (config, default_project, transport...) of the async remote.
        if name.startswith("__") or name == "_remote":
            raise AttributeError(name)
        return getattr(self._remote, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # Public attributes (default_project, on_device_code, token_cache...) are the async remote's: a write
        # must reach it, not stop on this facade.
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._remote, name, value)

    def __repr__(self) -> str:
        return repr(self._remote).replace("AsyncFlyteRemote", "FlyteRemote", 1)

    def _loop_for_calls(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="flyte-remote", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` on the private loop and wait for its result (exceptions propagate)."""
        loop = self._loop_for_calls()
        if threading.current_thread() is self._thread:
            raise RuntimeError("a synchronous FlyteRemote method was called from its own event loop thread")
        return asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), loop).result()

    def close(self) -> None:
        """Close the channel and stop the loop thread; a later call starts them again."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._remote.aclose(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def __enter__(self) -> FlyteRemote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _sync_method(name: str, method: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: FlyteRemote, *args: Any, **kwargs: Any) -> Any:
        return self._run(getattr(self._remote, name)(*args, **kwargs))

    return call


def _add_sync_methods() -> None:
    for name, member in inspect.getmembers(AsyncFlyteRemote, inspect.iscoroutinefunction):
        if name.startswith("_") or name in ("aclose",) or name in vars(FlyteRemote):
            continue
        setattr(FlyteRemote, name, _sync_method(name, member))


_add_sync_methods()

__all__ = ["DEFAULT_UPLOAD_LOCATION", "AsyncFlyteRemote", "FlyteRemote", "RemoteBase"]
