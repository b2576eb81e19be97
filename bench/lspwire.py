"""A small, dependency-free LSP client over stdio (JSON-RPC 2.0 with Content-Length framing).

Used by the benchmark (``bench/run.py``) and the scripted editor session (``scripts/demo_session.py``).

Why not pygls' ``LanguageClient``: the benchmark must add as little client-side cost as possible and the same
cost for every server it measures, so responses are time-stamped the moment their bytes are read, before JSON
decoding, and are kept as plain dicts (no cattrs structuring). Every wait takes a deadline and fails with a
message that says what did not arrive and shows the tail of the server's stderr.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JsonObj = dict[str, Any]


class LspError(RuntimeError):
    """The server answered a request with an error, died, or did not answer in time."""


@dataclass
class Notification:
    method: str
    params: Any
    at: float  # perf_counter() when the message's last byte was read


@dataclass
class _Waiter:
    predicate: Callable[[Notification], bool]
    future: asyncio.Future[Notification]


@dataclass
class ProgressToken:
    """Work-done progress as the server reported it for one token."""

    token: Any
    created_at: float | None = None
    begin: JsonObj | None = None
    begin_at: float | None = None
    reports: list[JsonObj] = field(default_factory=list)
    end: JsonObj | None = None
    end_at: float | None = None


def file_uri(path: str | os.PathLike[str]) -> str:
    return Path(path).resolve().as_uri()


class LspClient:
    """One language server process and the client side of its connection.

    ``settings`` answers ``workspace/configuration`` requests (by section); every other server-to-client
    request gets a neutral answer, so a server never blocks waiting for us.
    """

    def __init__(
        self, argv: Sequence[str], *, cwd: str | None = None, settings: JsonObj | None = None
    ) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.settings = settings or {}
        self.proc: asyncio.subprocess.Process | None = None
        self.spawned_at = 0.0
        self.notifications: list[Notification] = []
        self.progress: dict[str, ProgressToken] = {}
        self.server_requests: list[tuple[str, Any]] = []
        self._waiters: list[_Waiter] = []
        self._pending: dict[int, tuple[asyncio.Future[tuple[Any, float]], str]] = {}
        self._next_id = 0
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._tasks: list[asyncio.Task[None]] = []
        self._closed_reason: str | None = None
        self.last_answer_at = 0.0  # perf_counter() when the last byte of the latest response was read

    # -- process ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.spawned_at = time.perf_counter()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.cwd,
            )
        except OSError as exc:
            raise LspError(f"could not start the server {self.argv!r}: {exc}") from exc
        self._tasks.append(asyncio.create_task(self._read_stdout()))
        self._tasks.append(asyncio.create_task(self._read_stderr()))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stderr_tail(self) -> str:
        return "".join(self._stderr_tail).rstrip()

    def _fail_message(self, what: str) -> str:
        tail = self.stderr_tail()
        rc = self.proc.returncode if self.proc is not None else None
        msg = f"{what} (server: {' '.join(self.argv)}"
        msg += f", exited with {rc})" if rc is not None else ")"
        if tail:
            msg += "\n--- last lines of the server's stderr ---\n" + tail
        return msg

    async def close(self, timeout: float = 5.0) -> None:
        """``shutdown`` + ``exit`` with a deadline; kill the process if it does not go away."""
        if self.proc is None:
            return
        if self.proc.returncode is None and self._closed_reason is None:
            with contextlib.suppress(LspError, ConnectionError, RuntimeError):
                await self.request("shutdown", None, timeout=timeout)
                self.notify("exit", None)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- sending ---------------------------------------------------------------------------------------------
    def _write(self, payload: JsonObj) -> None:
        if self.proc is None or self.proc.stdin is None:
            raise LspError("the server is not started")
        if self._closed_reason is not None:
            raise LspError(
                self._fail_message(
                    f"cannot send {payload.get('method', 'a response')}: {self._closed_reason}"
                )
            )
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method: str, params: Any) -> float:
        """Send a notification; returns the perf_counter() time it was written."""
        self._write({"jsonrpc": "2.0", "method": method, "params": params})
        return time.perf_counter()

    def send_request(self, method: str, params: Any) -> asyncio.Future[tuple[Any, float]]:
        """Send a request; the future resolves to ``(result, received_at)``."""
        self._next_id += 1
        msg_id = self._next_id
        fut: asyncio.Future[tuple[Any, float]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = (fut, method)
        self._write({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return fut

    async def request(self, method: str, params: Any, *, timeout: float = 10.0) -> Any:
        result, _ = await self.timed_request(method, params, timeout=timeout)
        return result

    async def timed_request(self, method: str, params: Any, *, timeout: float = 10.0) -> tuple[Any, float]:
        """Send a request and wait for its answer; returns ``(result, seconds from send to answer)``."""
        t0 = time.perf_counter()
        fut = self.send_request(method, params)
        try:
            result, received = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise LspError(self._fail_message(f"no answer to {method} within {timeout:g} s")) from None
        return result, received - t0

    async def drain(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            await self.proc.stdin.drain()

    # -- waiting for notifications ---------------------------------------------------------------------------
    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Notification], bool] | None = None,
        *,
        timeout: float,
        since: int = 0,
        what: str | None = None,
    ) -> Notification:
        """The first notification ``method`` (matching ``predicate``) from index ``since`` on, or raise."""

        def match(n: Notification) -> bool:
            return n.method == method and (predicate is None or predicate(n))

        for n in self.notifications[since:]:
            if match(n):
                return n
        if self._closed_reason is not None:
            raise LspError(self._fail_message(f"waiting for {what or method}: {self._closed_reason}"))
        fut: asyncio.Future[Notification] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(match, fut)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise LspError(
                self._fail_message(f"{what or method} did not arrive within {timeout:g} s")
            ) from None
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    # -- reading ---------------------------------------------------------------------------------------------
    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            self._stderr_tail.append(line.decode("utf-8", "replace"))

    async def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        reader = self.proc.stdout
        try:
            while True:
                length = -1
                while True:
                    line = await reader.readline()
                    if not line:
                        raise EOFError
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.decode("ascii", "replace").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length < 0:
                    raise ValueError("a message without Content-Length")
                body = await reader.readexactly(length)
                received = time.perf_counter()
                self._dispatch(json.loads(body), received)
        except (EOFError, asyncio.IncompleteReadError):
            self._closed_reason = "the server closed its output (it exited or crashed)"
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 1.0)  # so that the message can show the exit status
            await asyncio.sleep(0.05)  # and the last lines of its stderr
        except (ValueError, json.JSONDecodeError) as exc:
            self._closed_reason = f"the server wrote something that is not LSP on stdout: {exc}"
        self._fail_all()

    def _fail_all(self) -> None:
        for fut, method in self._pending.values():
            if not fut.done():
                fut.set_exception(
                    LspError(self._fail_message(f"no answer to {method}: {self._closed_reason}"))
                )
        self._pending.clear()
        for w in self._waiters:
            if not w.future.done():
                w.future.set_exception(LspError(self._fail_message(str(self._closed_reason))))

    def _dispatch(self, msg: JsonObj, received: float) -> None:
        if "method" in msg and "id" in msg:
            self._answer_server_request(msg)
        elif "method" in msg:
            note = Notification(msg["method"], msg.get("params"), received)
            self._track_progress(note)
            self.notifications.append(note)
            for w in list(self._waiters):
                if not w.future.done() and w.predicate(note):
                    w.future.set_result(note)
        elif "id" in msg:
            entry = self._pending.pop(msg["id"], None)
            if entry is None:
                return
            fut, method = entry
            if fut.done():
                return
            if "error" in msg:
                err = msg["error"] or {}
                fut.set_exception(LspError(f"{method} failed: [{err.get('code')}] {err.get('message')}"))
            else:
                self.last_answer_at = received
                fut.set_result((msg.get("result"), received))

    def _track_progress(self, note: Notification) -> None:
        if note.method != "$/progress" or not isinstance(note.params, dict):
            return
        key = json.dumps(note.params.get("token"))
        tok = self.progress.setdefault(key, ProgressToken(note.params.get("token")))
        value = note.params.get("value") or {}
        kind = value.get("kind")
        if kind == "begin":
            tok.begin, tok.begin_at = value, note.at
        elif kind == "report":
            tok.reports.append(value)
        elif kind == "end":
            tok.end, tok.end_at = value, note.at

    def _answer_server_request(self, msg: JsonObj) -> None:
        method, params = msg["method"], msg.get("params")
        self.server_requests.append((method, params))
        result: Any = None
        if method == "window/workDoneProgress/create":
            key = json.dumps((params or {}).get("token"))
            self.progress.setdefault(
                key, ProgressToken((params or {}).get("token"))
            ).created_at = time.perf_counter()
        elif method == "workspace/configuration":
            items = (params or {}).get("items") or []
            result = [self._setting(item.get("section")) for item in items]
        elif method == "window/showDocument":
            result = {"success": False}
        elif method in (
            "client/registerCapability",
            "client/unregisterCapability",
            "window/showMessageRequest",
        ) or method.endswith("/refresh"):
            result = None
        else:
            self._write(
                {
                    "jsonrpc": "2.0",
                    "id": msg["id"],
                    "error": {"code": -32601, "message": f"{method} unsupported"},
                }
            )
            return
        self._write({"jsonrpc": "2.0", "id": msg["id"], "result": result})

    def _setting(self, section: str | None) -> Any:
        if not section:
            return self.settings
        value: Any = self.settings
        for part in section.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    # -- LSP conveniences ------------------------------------------------------------------------------------
    async def initialize(
        self,
        *,
        root: str | None,
        capabilities: JsonObj | None = None,
        initialization_options: Any = None,
        timeout: float = 10.0,
    ) -> tuple[JsonObj, float]:
        """``initialize`` + ``initialized``; returns the result and seconds from spawn to the answer."""
        params: JsonObj = {
            "processId": os.getpid(),
            "clientInfo": {"name": "flyte-ls-bench", "version": "1"},
            "capabilities": capabilities if capabilities is not None else default_capabilities(),
            "initializationOptions": initialization_options,
        }
        if root is not None:
            params["rootUri"] = file_uri(root)
            params["rootPath"] = str(Path(root).resolve())
            params["workspaceFolders"] = [{"uri": file_uri(root), "name": Path(root).name}]
        else:
            params["rootUri"] = None
            params["workspaceFolders"] = None
        fut = self.send_request("initialize", params)
        try:
            result, received = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise LspError(self._fail_message(f"no answer to initialize within {timeout:g} s")) from None
        self.notify("initialized", {})
        return result, received - self.spawned_at

    def did_open(self, uri: str, text: str, version: int = 1, language_id: str = "python") -> None:
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": language_id, "version": version, "text": text}},
        )

    def did_change_line(self, uri: str, version: int, line: int, old: str, new: str) -> float:
        """Replace one whole line (incremental sync); returns the time it was sent."""
        return self.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": line, "character": 0},
                            "end": {"line": line, "character": len(old)},
                        },
                        "text": new,
                    }
                ],
            },
        )


def default_capabilities() -> JsonObj:
    """What a modern editor announces (close to VS Code's), incl. work-done progress and code lens resolve."""
    return {
        "general": {"positionEncodings": ["utf-16"]},
        "window": {"workDoneProgress": True, "showDocument": {"support": True}},
        "workspace": {
            "configuration": True,
            "workspaceFolders": True,
            "didChangeConfiguration": {"dynamicRegistration": True},
            "didChangeWatchedFiles": {"dynamicRegistration": True, "relativePatternSupport": True},
            "symbol": {"dynamicRegistration": False},
            "codeLens": {"refreshSupport": True},
        },
        "textDocument": {
            "synchronization": {"dynamicRegistration": False, "didSave": True},
            "hover": {"contentFormat": ["markdown", "plaintext"]},
            "codeLens": {"dynamicRegistration": False, "resolveSupport": {"properties": ["command"]}},
            "documentSymbol": {"hierarchicalDocumentSymbolSupport": True},
            "publishDiagnostics": {"relatedInformation": True, "versionSupport": True},
        },
    }
