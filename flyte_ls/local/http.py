"""The local backend's HTTP server: upload PUTs (DataProxy ``signed_url``), console pages, ``/healthz``.

grpcio cannot serve HTTP on its port, so ``console.endpoint`` in the generated config points here
(local-backend.md §9). A threaded ``http.server`` is enough for one machine. Other modules add GET routes
with :meth:`HttpServer.add_route` (:mod:`flyte_ls.local.console` serves ``/console``; without it,
``/console/...`` answers a small page naming what the URL refers to). The console's own scripts (files of
``console_static/``, shipped with the package) are served at ``/console/static/<name>``.
"""

from __future__ import annotations

import html
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from flyte_ls.local.dataproxy import UploadRefused, Uploads, check_relative
from flyte_ls.local.errors import InvalidArgument

log = logging.getLogger(__name__)

# Data files of the state dir (task logs, decks, uploads, outputs) are served at /files/<path in it>;
# top-level files (admin.db, status.json ...) and these directories are not.
FILES_PREFIX = "/files/"
_PRIVATE_DIRS = frozenset({"tmp", "blobs"})
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".pb": "application/octet-stream",
}


# Console pages load nothing from anywhere else (their style sheet is inline); the only scripts they may run
# are the console's own files under /console/static/ (a running execution's page loads live.js, which
# fetches the page's live part from this origin: connect-src). No inline script, no eval: the browser is
# told so, which also defuses any markup that escaping might have missed.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# A deck (HTML under /files/) is the user's HTML and may run scripts: sandboxed, it gets an opaque origin of
# its own, so that it cannot reach the console pages of this origin. It loads nothing from elsewhere either:
# flytekit's deck template is self-contained (inline scripts and styles, plots and images inline or as data:
# URLs) but for its Google Fonts stylesheet, which the browser then does not fetch (system fonts instead).
DECK_CSP = "sandbox allow-scripts allow-popups; default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:"


# The console's scripts: /console/static/<name> serves console_static/<name> (no subdirectories).
STATIC_PREFIX = "/console/static/"
STATIC_DIR = Path(__file__).resolve().parent / "console_static"
_STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def static_file(name: str) -> tuple[bytes, str] | None:
    """The content and content type of the console's static file ``name``, or None if there is none."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    ctype = _STATIC_TYPES.get(Path(name).suffix.lower())
    if ctype is None:
        return None
    try:
        return (STATIC_DIR / name).read_bytes(), ctype
    except OSError:
        return None


def _content_type(path: Path) -> str:
    return _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


def file_url(base_url: str, state_root: Path, path: Path) -> str:
    """The URL at which the HTTP server at ``base_url`` serves ``path`` (a file under ``state_root``)."""
    return base_url.rstrip("/") + FILES_PREFIX + quote(path.relative_to(state_root).as_posix())


# A GET route: (path, query) -> (status, content type, body)
Route = Callable[[str, dict[str, list[str]]], tuple[int, str, bytes]]
# A POST route (small form posts, e.g. the OAuth2 token endpoint of --auth):
# (path, headers, body) -> (status, content type, body, extra headers)
PostRoute = Callable[[str, Any, bytes], tuple[int, str, bytes, dict[str, str]]]
MAX_POST_BYTES = 64 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: HttpServer

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.app._idle:
            self.app._active += 1
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.app._idle:
                self.app._active -= 1
                self.app._idle.notify_all()


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "flyte-ls-local"
    timeout = 120  # seconds a client may stay silent (mid-request or between keep-alive requests)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s: " + format, self.client_address[0], *args)

    def _reply(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _text(self, status: int, message: str) -> None:
        self._reply(status, (message + "\n").encode())

    def do_PUT(self) -> None:
        url = urlsplit(self.path)
        if not url.path.startswith("/upload/"):
            self.close_connection = True
            self._text(404, f"no PUT endpoint at {url.path}; uploads go to /upload/...")
            return
        try:
            self.server.app.handle_upload(self, url.path, parse_qs(url.query))
        except UploadRefused as exc:
            log.info("upload refused (%s): %s", exc.status, exc.message)
            # the unread body (if any) would be parsed as the next request: drop the connection
            self.close_connection = True
            self._text(exc.status, exc.message)
        else:
            self._text(201, "created")

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith(FILES_PREFIX):
            self._send_file(url.path[len(FILES_PREFIX) :])
            return
        if url.path.startswith(STATIC_PREFIX):
            self._send_static(unquote(url.path[len(STATIC_PREFIX) :]))
            return
        if url.path == "/favicon.ico":
            # browsers ask for it with every page; there is none (a 404 would be an error in their console)
            self._reply(204, b"", "image/x-icon", {"Cache-Control": "max-age=86400"})
            return
        status, ctype, body = self.server.app.handle_get(url.path, parse_qs(url.query))
        self._reply(
            status,
            body,
            ctype,
            self.server.app.page_headers(url.path) if ctype.startswith("text/html") else None,
        )

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        route = self.server.app.post_routes.get(url.path)
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if route is None or not 0 <= length <= MAX_POST_BYTES:
            self.close_connection = True  # the body is not read
            self._text(404 if route is None else 413, f"no POST endpoint at {url.path} for this body")
            return
        body = self.rfile.read(length)
        try:
            status, ctype, out, headers = route(url.path, self.headers, body)
        except Exception:
            log.exception("POST %s failed", url.path)
            status, ctype, out, headers = 500, "text/plain; charset=utf-8", b"internal error\n", {}
        self._reply(status, out, ctype, headers)

    def _send_static(self, name: str) -> None:
        found = static_file(name)
        if found is None:
            self._text(404, f"no console file {STATIC_PREFIX}{name}")
            return
        body, ctype = found
        # no-cache: revalidated on every load, so a page never runs a script older than the backend
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
        self._reply(200, body, ctype, headers)

    def _send_file(self, raw: str) -> None:
        try:
            path = self.server.app.resolve_file(raw)
        except UploadRefused as exc:
            self._text(exc.status, exc.message)
            return
        try:
            f = open(path, "rb")  # closed below, after streaming
        except OSError:
            self._text(404, f"no file at {FILES_PREFIX}{raw}")
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", _content_type(path))
            self.send_header("Content-Length", str(size))
            self.send_header("X-Content-Type-Options", "nosniff")
            if _content_type(path).startswith("text/html"):
                self.send_header("Content-Security-Policy", DECK_CSP)  # a deck: see DECK_CSP
            self.end_headers()
            if self.command == "HEAD":
                return
            for block in iter(lambda: f.read(1 << 16), b""):
                self.wfile.write(block)

    def do_HEAD(self) -> None:
        self.do_GET()


class HttpServer:
    """Serves uploads, console pages and ``/healthz`` on ``host:port`` from a background thread."""

    def __init__(self, host: str, port: int, uploads: Uploads | None = None) -> None:
        self.uploads = uploads
        self._routes: list[tuple[str, Route]] = []
        server_cls = _Server6 if ":" in host else _Server
        self._httpd = server_cls((host.strip("[]"), port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None
        self._active = 0  # requests being served: stop() lets them finish
        self._idle = threading.Condition()
        self.health: dict[str, object] = {"status": "ok", "pid": os.getpid()}
        self.files_root: Path | None = None  # the state dir: its data files are served under /files/
        self.post_routes: dict[str, PostRoute] = {}  # exact path -> handler
        # pages (path prefix -> headers) that need other headers than PAGE_HEADERS, e.g. sign-in forms
        self.form_page_headers: dict[str, dict[str, str]] = {}

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def page_headers(self, path: str) -> dict[str, str]:
        """The security headers of the HTML page at ``path``."""
        for prefix, headers in self.form_page_headers.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return headers
        return PAGE_HEADERS

    def add_route(self, prefix: str, route: Route) -> None:
        """Serve GETs under ``prefix`` with ``route`` (longest prefix wins)."""
        self._routes.append((prefix, route))
        self._routes.sort(key=lambda r: -len(r[0]))

    def serve_connection(self, conn: socket.socket, addr: Any) -> None:
        """Serve a connection accepted elsewhere (the shared gRPC/HTTP port), in the calling thread."""
        self._httpd.process_request_thread(conn, addr)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="flyte-ls-local-http", daemon=True
        )
        self._thread.start()

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, then give requests in flight (an upload, say) ``grace`` seconds to finish."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        with self._idle:
            if not self._idle.wait_for(lambda: self._active == 0, timeout=grace):
                log.warning("stopping with %d HTTP request(s) still in flight", self._active)

    # -- handlers --------------------------------------------------------------------------------------
    def handle_upload(self, req: _Handler, path: str, query: dict[str, list[str]]) -> None:
        if self.uploads is None:
            raise UploadRefused(503, "uploads are not available on this server")
        raw = path[len("/upload/") :]
        if "%2f" in raw.lower() or "%5c" in raw.lower():
            raise UploadRefused(400, "encoded path separators are not allowed in upload paths")
        rel = unquote(raw)

        def q(name: str) -> str:
            return query.get(name, [""])[0]

        dest = self.uploads.authorize(rel, q("expires"), q("md5"), q("signature"))
        if (
            req.headers.get("Transfer-Encoding", "").lower() == "chunked"
            or req.headers.get("Content-Length") is None
        ):
            raise UploadRefused(411, "Content-Length is required for uploads")
        try:
            length = int(req.headers["Content-Length"])
        except ValueError:
            raise UploadRefused(400, "Content-Length is not a number") from None
        if length < 0:
            raise UploadRefused(400, "Content-Length is negative")
        if length > self.uploads.max_upload_bytes:
            raise UploadRefused(
                413,
                f"the upload is {length} bytes, over this backend's limit of "
                f"{self.uploads.max_upload_bytes} bytes (flyte-ls local start --max-upload-mib N raises it)",
            )
        self.uploads.store(dest, req.rfile, length, req.headers.get("Content-MD5"), q("md5"))
        log.info("stored upload %s (%d bytes)", dest, length)

    def resolve_file(self, raw: str) -> Path:
        """The file under ``files_root`` that ``/files/<raw>`` names, else UploadRefused (404/400/403)."""
        if self.files_root is None:
            raise UploadRefused(404, "no files are served here")
        if "%2f" in raw.lower() or "%5c" in raw.lower():
            raise UploadRefused(400, "encoded path separators are not allowed")
        rel = unquote(raw)
        try:
            parts = check_relative(rel, "file path")
        except InvalidArgument as exc:
            raise UploadRefused(400, exc.message) from None
        if len(parts) < 2 or parts[0] in _PRIVATE_DIRS:
            raise UploadRefused(403, f"{FILES_PREFIX}{rel} is not a served data file")
        root = os.path.realpath(self.files_root)
        real = os.path.realpath(self.files_root.joinpath(*parts))
        if os.path.commonpath([root, real]) != root or not os.path.isfile(real):
            raise UploadRefused(404, f"no file at {FILES_PREFIX}{rel}")
        return Path(real)

    def handle_get(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        if path == "/":
            path = "/console"  # the landing page
        if path == "/healthz":
            return 200, "application/json", json.dumps(self.health).encode()
        for prefix, route in self._routes:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                try:
                    return route(path, query)
                except Exception:  # a broken page must not kill the server thread's client
                    log.exception("GET %s failed", path)
                    return 500, "text/plain; charset=utf-8", b"internal error rendering this page\n"
        if path == "/" or path == "/console" or path.startswith("/console/"):
            return 200, "text/html; charset=utf-8", placeholder_console_page(path).encode()
        return 404, "text/plain; charset=utf-8", f"nothing at {path}\n".encode()


def placeholder_console_page(path: str) -> str:
    """A minimal page for a console URL when no console is attached: it names what the URL refers to."""
    parts = [p for p in path.split("/") if p]
    what = "the local Flyte backend"
    if len(parts) >= 6 and parts[:2] == ["console", "projects"] and parts[3] == "domains":
        project, domain, kind = parts[2], parts[4], parts[5]
        rest = " / ".join(unquote(p) for p in parts[6:])
        what = f"{kind} {rest} in project {project}, domain {domain}"
    elif len(parts) >= 3 and parts[:2] == ["console", "projects"]:
        what = f"project {parts[2]}"
    title = html.escape(what)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>flyte-ls local: "
        f"{title}</title></head><body><h1>flyte-ls local backend</h1><p>{title}</p>"
        "<p>This HTTP server has no console attached; use <code>pyflyte</code>, "
        "<code>flytectl</code> or FlyteRemote against this backend.</p></body></html>\n"
    )
