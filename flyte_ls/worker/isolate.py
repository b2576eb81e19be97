"""Run one serialize (or serializeNotebook) request in a process of its own, so the user's code is imported
(or the notebook's cells run) afresh each time and whatever it does (edits, ``os._exit``, an endless loop at
import) never touches the worker.

A forked child where ``os.fork`` exists (it shares the worker's warm flytekit import), else a fresh
``python -m <this package>.isolate`` (set ``FLYTE_LS_WORKER_ISOLATION=subprocess`` to choose it). The child
sends one JSON object, ``{"result": ...}`` or ``{"error": {code, message, data}}``, through a pipe.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from .notebook import serialize_notebook
from .serialize import IMPORT_ERROR, SERIALIZE_ERROR, RequestError, frames, serialize

TIMEOUT_ERROR = -32004

HANDLERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "serialize": serialize,
    "serializeNotebook": serialize_notebook,
}
"""The requests answered in a child process, by method."""


def run(
    params: dict[str, Any], timeout: float, close_fds: tuple[int, ...] = (), method: str = "serialize"
) -> dict[str, Any]:
    """Answer ``params`` (a request of one of the :data:`HANDLERS`) in a child process within ``timeout``
    seconds; the child is killed past it. ``close_fds`` are closed in a forked child (the worker's protocol
    pipe)."""
    if hasattr(os, "fork") and os.environ.get("FLYTE_LS_WORKER_ISOLATION") != "subprocess":
        return _forked(params, timeout, close_fds, method)
    return _subprocess(params, timeout, method)


def answer(params: dict[str, Any], method: str = "serialize") -> dict[str, Any]:
    """The reply object for ``params``, never raising."""
    try:
        return {"result": HANDLERS[method](params)}
    except RequestError as exc:
        return {"error": exc.to_json()}
    except BaseException as exc:  # anything else is a serialization failure with its traceback
        import traceback

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        message = f"serializing {params.get('entity')} failed: {type(exc).__name__}: {exc}"
        data = {"kind": "serialize", "frames": frames(exc), "traceback": text}
        return {"error": {"code": SERIALIZE_ERROR, "message": message, "data": data}}


def _forked(
    params: dict[str, Any], timeout: float, close_fds: tuple[int, ...], method: str
) -> dict[str, Any]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the worker's loop
        try:
            os.close(read_fd)
            for fd in close_fds:
                os.close(fd)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)  # the user's code must not read the worker's requests
            sys.dont_write_bytecode = True
            data = json.dumps(answer(params, method)).encode()
            view = memoryview(len(data).to_bytes(8, "big") + data)
            while view:
                view = view[os.write(write_fd, view) :]
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        data, done = _read_until(read_fd, time.monotonic() + timeout)
    finally:
        os.close(read_fd)
    if not done:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if not done:
        return _timeout(params, timeout)
    if data:
        return json.loads(data.decode())
    code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
    return _died(params, code)


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """The child's reply (8 bytes of length, then the JSON) and whether it came before the deadline: the
    length tells when it is complete, even if a process the user's code started holds the pipe open."""
    buffer = bytearray()
    while len(buffer) < 8 or len(buffer) < 8 + int.from_bytes(buffer[:8], "big"):
        left = deadline - time.monotonic()
        if left <= 0:
            return b"", False
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # the child ended without a (complete) reply
                return b"", True
            buffer += chunk
    return bytes(buffer[8:]), True


def _subprocess(params: dict[str, Any], timeout: float, method: str) -> dict[str, Any]:
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"{__package__}.isolate"],
            input=json.dumps({"method": method, "params": params}).encode(),
            stdout=subprocess.PIPE,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _timeout(params, timeout)
    if proc.stdout.strip():
        return json.loads(proc.stdout.decode())
    return _died(params, proc.returncode)


def _doing(params: dict[str, Any]) -> str:
    if "cells" in params:
        return f"running the notebook's cells and pickling {params.get('entity')}"
    return f"importing {params.get('file')} and serializing {params.get('entity')}"


def _timeout(params: dict[str, Any], timeout: float) -> dict[str, Any]:
    message = (
        f"{_doing(params)} took longer than {timeout:g} s and was stopped: "
        "does the code do slow work when it runs?"
    )
    return {"error": {"code": TIMEOUT_ERROR, "message": message, "data": _data("timeout")}}


def _died(params: dict[str, Any], code: int) -> dict[str, Any]:
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    message = f"the process {_doing(params)} {how} (os._exit or a crash in the user's code?)"
    return {"error": {"code": IMPORT_ERROR, "message": message, "data": _data("import")}}


def _data(kind: str) -> dict[str, Any]:
    return {"kind": kind, "frames": [], "traceback": ""}


def _main() -> None:
    """The subprocess form: ``{method, params}`` on stdin, the reply on stdout (user prints go to stderr)."""
    request = json.loads(sys.stdin.read())
    method, params = request["method"], request["params"]
    reply_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    data = json.dumps(answer(params, method)).encode()
    with os.fdopen(reply_fd, "wb") as out:
        out.write(data)


if __name__ == "__main__":
    _main()
