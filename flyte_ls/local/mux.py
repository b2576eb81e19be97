"""One public port for gRPC and HTTP, told apart by the first bytes a client sends.

flytekit builds console URLs from the Admin address when ``console.endpoint`` is unset
(``Config.for_sandbox()``, flytectl's sandbox config): ``http://localhost:30080/console/...``.
grpcio cannot serve HTTP/1.1 on its port, so the public port is ours: a connection that opens with
the HTTP/2 preface (``PRI * HTTP/2.0``, which every gRPC client sends first) is spliced to the gRPC
server on an internal loopback port; anything else goes to the HTTP server (console pages, uploads).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

from flyte_ls.local.http import HttpServer

log = logging.getLogger(__name__)

_H2_PREFACE = b"PRI "
_PEEK_TIMEOUT_S = 10.0
_CHUNK = 1 << 16


class PortMux:
    """Listens on ``host:port``; ``start()`` serves from background threads; ``stop_accepting()`` then
    ``close()`` (after the gRPC server drained) end it."""

    def __init__(self, host: str, port: int, grpc_port: int, http: HttpServer) -> None:
        self._grpc_addr = ("127.0.0.1", grpc_port)
        self._http = http
        self._listeners: list[socket.socket] = []
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closing = False
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        bound_port = port
        errors: list[OSError] = []
        for family, kind, proto, _, addr in infos:
            s = socket.socket(family, kind, proto)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((addr[0], bound_port, *addr[2:]))
                s.listen(128)
            except OSError as exc:  # e.g. no IPv6 for "localhost": the addresses that did bind are enough
                s.close()
                errors.append(exc)
                continue
            bound_port = s.getsockname()[1]
            self._listeners.append(s)
        if not self._listeners:
            raise errors[0] if errors else OSError(f"{host!r} resolves to no address")
        self.port = bound_port

    def start(self) -> None:
        for s in self._listeners:
            threading.Thread(
                target=self._accept_loop, args=(s,), name="flyte-ls-local-mux", daemon=True
            ).start()

    def stop_accepting(self) -> None:
        self._closing = True
        for s in self._listeners:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        """Drop the connections still open (the gRPC server has stopped by now)."""
        self.stop_accepting()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._closing:
            try:
                conn, addr = listener.accept()
            except OSError:
                return
            threading.Thread(
                target=self._serve, args=(conn, addr), name="flyte-ls-local-conn", daemon=True
            ).start()

    def _track(self, s: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(s)
            else:
                self._conns.discard(s)

    def _serve(self, conn: socket.socket, addr: object) -> None:
        head = self._peek(conn)
        if head is None:
            conn.close()
            return
        if head.startswith(_H2_PREFACE):
            self._splice(conn)
        else:
            conn.settimeout(None)
            self._http.serve_connection(conn, addr)

    @staticmethod
    def _peek(conn: socket.socket) -> bytes | None:
        """The first bytes the client sent (without consuming them), or None if it sent none in time."""
        deadline = time.monotonic() + _PEEK_TIMEOUT_S
        while True:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                head = conn.recv(len(_H2_PREFACE), socket.MSG_PEEK)
            except OSError:
                return None
            if not head:
                return None
            if (
                len(head) >= len(_H2_PREFACE)
                or not _H2_PREFACE.startswith(head)
                or time.monotonic() > deadline
            ):
                return head
            time.sleep(0.005)  # a partial preface: wait for the rest

    def _splice(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._grpc_addr, timeout=10)
        except OSError as exc:
            log.warning("cannot reach the gRPC server on %s: %s", self._grpc_addr, exc)
            conn.close()
            return
        for s in (conn, upstream):
            s.settimeout(None)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._track(s, True)
        back = threading.Thread(
            target=_pump, args=(upstream, conn), name="flyte-ls-local-splice", daemon=True
        )
        back.start()
        _pump(conn, upstream)
        back.join()
        for s in (conn, upstream):
            self._track(s, False)
            s.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(_CHUNK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
