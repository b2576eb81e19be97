"""Logging: the server's own log goes to the client (``window/logMessage``) and to an optional file, never
stdout.

pygls's logs never go to the client: at INFO it logs every message it sends, and sending a log message would
log again. Records from worker threads are handed to the event loop, because the protocol's writer is not
thread-safe.

Verbosity: default INFO from flyte-ls; ``-v`` DEBUG from flyte-ls; ``-vv`` also pygls's DEBUG log (every
message, to stderr and the log file only).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from flyte_ls.server.server import FlyteLanguageServer

_LSP_LEVEL = {
    logging.CRITICAL: types.MessageType.Error,
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LspLogHandler(logging.Handler):
    """Forwards records to the client as ``window/logMessage``."""

    def __init__(self, server: FlyteLanguageServer) -> None:
        super().__init__()
        self.server = server
        self._local = threading.local()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._local, "busy", False):
            return  # a record raised while sending a record
        loop = self.server.loop
        if loop is None or loop.is_closed():
            return  # before initialize nobody listens; the log file still has it
        try:
            level = _LSP_LEVEL.get(record.levelno, types.MessageType.Log)
            params = types.LogMessageParams(type=level, message=self.format(record))
            try:
                on_loop = asyncio.get_running_loop() is loop
            except RuntimeError:
                on_loop = False
            if on_loop:
                self._send(params)
            else:
                loop.call_soon_threadsafe(self._send, params)
        except Exception:
            self.handleError(record)

    def _send(self, params: types.LogMessageParams) -> None:
        self._local.busy = True
        try:
            self.server.window_log_message(params)
        except Exception:
            pass  # the client is gone; nothing sensible to do with a log line
        finally:
            self._local.busy = False


class _DropExpectedErrors(logging.Filter):
    """pygls logs a traceback for every error response; InvalidParams is an answer, not a server failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, JsonRpcInvalidParams)


def configure(server: FlyteLanguageServer, log_file: str | None, verbose: int) -> None:
    ours = logging.getLogger("flyte_ls")
    ours.setLevel(logging.DEBUG if verbose >= 1 else logging.INFO)
    ours.propagate = False
    ours.addHandler(LspLogHandler(server))

    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(FORMAT))
    stderr.setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    stderr.addFilter(_DropExpectedErrors())
    ours.addHandler(stderr)

    pygls_logger = logging.getLogger("pygls")
    pygls_logger.setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    pygls_logger.propagate = False
    pygls_logger.addHandler(stderr)

    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(FORMAT))
        file_handler.setLevel(logging.DEBUG)
        file_handler.addFilter(_DropExpectedErrors())
        ours.addHandler(file_handler)
        pygls_logger.addHandler(file_handler)
