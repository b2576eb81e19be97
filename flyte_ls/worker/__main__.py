"""The worker's loop: newline-delimited JSON-RPC 2.0 over stdin/stdout.

Methods: ``hello`` → ``{python, flytekitVersion, pid}``; ``serialize`` ``{file, entity, sourceRoot, image?,
timeout?}`` → see :func:`.serialize.serialize`; ``serializeNotebook`` ``{cells, upTo, entity, image?,
pythonVersionCheck?, outDir?, timeout?}`` → see :func:`.notebook.serialize_notebook` (both answered in a child
process, :mod:`.isolate`); ``shutdown``
→ ``null``, then the worker exits. The real stdout carries only the protocol: file descriptor 1 and
``sys.stdout`` point at stderr, so whatever the user's code prints cannot corrupt it.

Exits with code 3 and one line on stderr when flytekit is missing or older than 1.10.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, BinaryIO, NoReturn

MIN_FLYTEKIT = (1, 10)
NO_FLYTEKIT_EXIT = 3
DEFAULT_TIMEOUT_S = 60.0


def _flytekit_version() -> str:
    """Import flytekit (and what serializing needs, so every forked child starts warm); exit with code 3
    when it is missing or too old."""
    try:
        import flytekit
    except Exception as exc:
        _fail(f"flytekit is not importable in {sys.executable}: {type(exc).__name__}: {exc}")
    version = str(getattr(flytekit, "__version__", "0"))
    numbers = []
    for part in version.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        numbers.append(int(digits or 0))
    if tuple(numbers) != (0, 0) and tuple(numbers) < MIN_FLYTEKIT:
        _fail(f"flytekit {version} in {sys.executable} is older than 1.10")
    import flytekit.configuration
    import flytekit.core.interface
    import flytekit.tools.translator

    return version


def _fail(line: str) -> NoReturn:
    sys.stderr.write(line.replace("\n", " ") + "\n")
    sys.stderr.flush()
    raise SystemExit(NO_FLYTEKIT_EXIT)


def _handle(request: dict[str, Any], version: str, reply_fd: int) -> tuple[dict[str, Any], bool]:
    """The reply to one request, and whether to stop after it."""
    from . import isolate

    method, params = request.get("method"), request.get("params") or {}
    if method == "hello":
        info = {"python": sys.executable, "flytekitVersion": version, "pid": os.getpid()}
        return {"result": info}, False
    if method in isolate.HANDLERS:
        timeout = float(params.get("timeout") or DEFAULT_TIMEOUT_S)
        return isolate.run(params, timeout, close_fds=(reply_fd,), method=str(method)), False
    if method == "shutdown":
        return {"result": None}, True
    return {"error": {"code": -32601, "message": f"unknown method {method!r}"}}, False


def _send(out: BinaryIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode() + b"\n")
    out.flush()


def main() -> int:
    reply_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = os.fdopen(reply_fd, "wb")
    version = _flytekit_version()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as exc:
            _send(out, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": str(exc)}})
            continue
        reply, stop = _handle(request, version, reply_fd)
        _send(out, {"jsonrpc": "2.0", "id": request.get("id"), **reply})
        if stop:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
