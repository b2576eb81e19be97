"""The local backend's lifecycle: bind the gRPC and HTTP servers, write config and status, stop cleanly.

The gRPC server is a sync ``grpc.server`` (thread pool, Admin's 20 MiB message limit) serving
AdminService (flyte_ls.local.admin), SignalService (flyte_ls.local.signals) and DataProxyService on an
internal loopback port; the
public ``--port`` is a :class:`~flyte_ls.local.mux.PortMux` that splices gRPC connections to it and serves
HTTP/1.1 there too. The HTTP server (upload PUTs, console pages) also has its own ``--http-port``.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import importlib.util
import logging
import os
import socket
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from flyteidl.service import admin_pb2_grpc, auth_pb2_grpc, dataproxy_pb2_grpc, signal_pb2_grpc

from flyte_ls.local import pool
from flyte_ls.local.admin import AdminServicer
from flyte_ls.local.console import Console
from flyte_ls.local.dataproxy import DataProxyServicer, Uploads
from flyte_ls.local.executions import Executor
from flyte_ls.local.flyte_urls import AdminData
from flyte_ls.local.http import HttpServer, file_url
from flyte_ls.local.interpreter import Interpreter
from flyte_ls.local.mux import PortMux
from flyte_ls.local.runner import interpreter_env
from flyte_ls.local.signals import SignalServicer
from flyte_ls.local.state import (
    StateDir,
    StateDirLocked,
    StateLock,
    Status,
    config_yaml,
    host_port,
    write_atomic,
)
from flyte_ls.local.store import Store

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 20 * 1024 * 1024  # Admin's limit, and flytekit's max_receive_message_length
STOP_GRACE_S = 5.0


class StartError(Exception):
    """The backend cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class Options:
    host: str
    port: int
    http_port: int
    state_dir: Path
    interpreter: Interpreter
    max_upload_bytes: int
    workers: int = 16
    auth: str | None = None  # "client-secret": bearer tokens required (flyte_ls.local.auth)
    auth_header: str = "authorization"
    token_ttl_s: float = 3600.0


def _check_port_free(host: str, port: int, flag: str) -> None:
    """Fail with a clear message when ``host:port`` is taken (grpcio only logs an opaque bind error)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartError(f"cannot resolve --host {host!r}: {exc}") from None
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(addr)
            except OSError as exc:
                raise StartError(
                    f"port {port} on {host} is not available ({exc.strerror}): another process (maybe "
                    f"another flyte-ls local backend) uses it. Stop it, or choose another port with {flag} N."
                ) from None


@dataclass(frozen=True)
class BackendContext:
    """What an executor gets from the running backend (see :func:`_create_executor`)."""

    store: Store
    admin: AdminServicer
    state_dir: Path
    python: str
    http_base_url: str  # files under state_dir are served at http.file_url(http_base_url, state_dir, path)


def _create_executor(ctx: BackendContext) -> Executor | None:
    """The executor that runs what CreateExecution accepts: ``flyte_ls.local.executor.create_executor(ctx)``
    when that module exists (it may also have ``close()``, called on stop before the store closes); until
    then executions stay QUEUED (the AdminService's NullExecutor). Executions a killed backend left RUNNING
    are resumed (``resume=True``)."""
    if importlib.util.find_spec("flyte_ls.local.executor") is None:
        return None
    factory = getattr(importlib.import_module("flyte_ls.local.executor"), "create_executor", None)
    return factory(ctx, resume=True) if factory is not None else None


class LocalBackend:
    """One running local backend. ``start()`` binds everything; ``stop()`` undoes it; not restartable."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.state = StateDir(opts.state_dir)
        self._lock = StateLock(self.state)
        self._grpc: grpc.Server | None = None
        self._http: HttpServer | None = None
        self._mux: PortMux | None = None
        self._store: Store | None = None
        self._executor: Executor | None = None
        self.port = opts.port
        self.http_port = opts.http_port
        self._stopped = threading.Event()

    def start(self) -> Status:
        o = self.opts
        try:
            self.state.create()
        except OSError as exc:
            raise StartError(
                f"cannot create the state dir {o.state_dir}: {exc}. Choose one with --state-dir."
            ) from None
        try:
            self._lock.acquire()
        except StateDirLocked:
            raise StartError(
                f"another flyte-ls local backend is running with the state dir {o.state_dir} "
                "(`flyte-ls local status` says where). Stop it, or use another --state-dir."
            ) from None
        try:
            self.state.clean_tmp()
            return self._start_locked()
        except BaseException:
            self.stop()
            raise

    def _start_locked(self) -> Status:
        o = self.opts
        _check_port_free(o.host, o.port, "--port")
        _check_port_free(o.host, o.http_port, "--http-port")
        try:
            self._http = HttpServer(o.host, o.http_port)
        except OSError as exc:
            raise StartError(
                f"cannot serve HTTP on {o.host}:{o.http_port} ({exc.strerror}); "
                "choose another port with --http-port N."
            ) from None
        self.http_port = self._http.port
        self._http.files_root = o.state_dir
        uploads = Uploads(self.state, o.host, self.http_port, o.max_upload_bytes)
        self._http.uploads = uploads

        auth = None
        if o.auth is not None:
            from flyte_ls.local.auth import LocalAuth

            base_url = f"http://{host_port(o.host, self.http_port)}"
            auth = LocalAuth(o.state_dir, base_url, header=o.auth_header, token_ttl_s=o.token_ttl_s)
            for path in auth.post_paths():
                self._http.post_routes[path] = auth.handle_post
            for prefix, route in auth.get_routes():
                self._http.add_route(prefix, route)
                self._http.form_page_headers[prefix] = auth.page_headers()
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=o.workers, thread_name_prefix="flyte-ls-local-grpc"),
            interceptors=[auth.interceptor()] if auth is not None else None,
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                # grpcio sets SO_REUSEPORT by default: a second backend would then silently share the port
                ("grpc.so_reuseport", 0),
            ],
        )
        self._grpc = server
        try:
            self._store = store = Store(o.state_dir)
        except Exception as exc:  # sqlite3 errors, permissions, a damaged db: say where and what
            raise StartError(
                f"cannot open the backend's store in {o.state_dir}: {exc}. Move that directory away to start "
                "afresh, or choose another --state-dir."
            ) from exc
        admin = AdminServicer(store)
        self._executor = _create_executor(
            BackendContext(
                store, admin, o.state_dir, o.interpreter.path, f"http://{host_port(o.host, self.http_port)}"
            )
        )
        if self._executor is None:
            log.warning("no flyte_ls.local.executor.create_executor yet: executions stay QUEUED")
        else:
            admin.executor = self._executor
        admin_pb2_grpc.add_AdminServiceServicer_to_server(admin, server)
        signal_pb2_grpc.add_SignalServiceServicer_to_server(SignalServicer(store), server)
        data = AdminData(admin, self._served_url)
        self._http.add_route("/console", Console(admin).route)
        dataproxy_pb2_grpc.add_DataProxyServiceServicer_to_server(DataProxyServicer(uploads, data), server)
        if auth is not None:
            auth_pb2_grpc.add_AuthMetadataServiceServicer_to_server(auth.metadata_servicer(), server)
        # gRPC listens on an internal loopback port; the public port is the mux's (it serves HTTP too)
        internal = server.add_insecure_port("127.0.0.1:0")
        try:
            self._mux = PortMux(o.host, o.port, internal, self._http)
        except OSError as exc:
            raise StartError(
                f"port {o.port} on {o.host} is not available ({exc.strerror}): "
                "choose another port with --port N."
            ) from None
        self.port = self._mux.port
        server.start()
        self._http.start()
        self._mux.start()

        config = config_yaml(
            o.host,
            self.port,
            self.http_port,
            client_id=auth.client_id if auth is not None else None,
            secret_location=auth.secret_location if auth is not None else None,
        )
        write_atomic(self.state.config_path, config)
        status = Status(
            pid=os.getpid(),
            host=o.host,
            port=self.port,
            http_port=self.http_port,
            state_dir=str(o.state_dir),
            python=o.interpreter.path,
            flytekit_version=o.interpreter.flytekit_version,
            python_version=o.interpreter.python_version,
            started_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            config=str(self.state.config_path),
        )
        write_atomic(self.state.status_path, status.to_json())
        if pool.disabled_reason() is None:  # the first task attempt then finds its fork server warm
            pool.prestart(o.interpreter.path, interpreter_env(o.interpreter.path))
        return status

    def _served_url(self, path: str) -> str | None:
        """The HTTP URL of a data file of the state dir (decks, logs), or None if there is no such file."""
        p = Path(path)
        try:
            if not p.is_absolute() or not p.is_file():
                return None
            rel = p.resolve().relative_to(self.opts.state_dir.resolve())
        except (OSError, ValueError):
            return None
        base = f"http://{host_port(self.opts.host, self.http_port)}"
        return file_url(base, self.opts.state_dir.resolve(), self.opts.state_dir.resolve() / rel)

    def stop(self) -> None:
        """Stop accepting, let in-flight RPCs finish (up to a grace period), close the store, remove the
        status file. Safe to call more than once and after a failed start."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._mux is not None:
            self._mux.stop_accepting()
        if self._grpc is not None:
            self._grpc.stop(grace=STOP_GRACE_S).wait(STOP_GRACE_S + 1)
        if self._mux is not None:
            self._mux.close()
        if self._http is not None:
            try:
                self._http.stop(grace=STOP_GRACE_S)
            except Exception:
                log.exception("stopping the HTTP server failed")
        close_executor = getattr(self._executor, "close", None)
        if close_executor is not None:
            try:
                close_executor()
            except Exception:
                log.exception("stopping the executor failed")
        if self._store is not None:
            try:
                self._store.close()
            except Exception:
                log.exception("closing the store failed")
        if self._lock.held:  # never remove the status file of another backend
            with contextlib.suppress(FileNotFoundError):
                self.state.status_path.unlink()
        self._lock.release()
