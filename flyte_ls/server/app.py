"""``flyte-ls serve``: build the server with every feature and run it over stdio or TCP."""

from __future__ import annotations

import logging
import sys

from flyte_ls.server.features import setup_all
from flyte_ls.server.idle_gc import configure_process
from flyte_ls.server.logs import configure
from flyte_ls.server.server import FlyteLanguageServer

log = logging.getLogger(__name__)


def create_server() -> FlyteLanguageServer:
    server = FlyteLanguageServer()
    setup_all(server)
    return server


def _parse_tcp(tcp: str) -> tuple[str, int]:
    host, sep, port = tcp.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--tcp expects HOST:PORT (e.g. 127.0.0.1:2087), got {tcp!r}")
    return host or "127.0.0.1", int(port)


def serve(tcp: str | None, log_file: str | None, verbose: int) -> int:
    """Run the language server until the client exits it; returns the process exit status."""
    if tcp is not None:
        try:
            host, port = _parse_tcp(tcp)
        except ValueError as exc:
            print(f"flyte-ls: {exc}", file=sys.stderr)
            return 2
    server = create_server()
    # Everything imported so far lives as long as the process: frozen; full passes only at idle moments.
    configure_process()
    try:
        configure(server, log_file, verbose)
    except OSError as exc:
        print(f"flyte-ls: cannot open the log file: {exc}", file=sys.stderr)
        return 2
    if tcp is not None:
        log.info("flyte-ls listening on %s:%d", host, port)
        server.start_tcp(host, port)
        return 0
    # stdout is the protocol: anything else that prints (a library, a stray print) goes to stderr instead.
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr
    server.start_io(sys.stdin.buffer, stdout)
    return 0
