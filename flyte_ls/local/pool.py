"""A warm, pre-imported flytekit process per task interpreter (a fork server) for the backend's attempts.

Spawning `pyflyte-execute` costs an interpreter start and a flytekit import (0.7-2.4 s, twice for
`pyflyte-fast-execute`). `launch` instead asks a long-lived server in the task's interpreter
(flyte_ls/local/pool_server.py: standard library and flytekit only) to fork a child that runs the same console
script with the same argv, env, cwd and log as the spawned command would, in a session of its own (so the
runner kills it as a process group, like a spawned attempt). pool_server.py says what the child redoes to look
like a fresh process.

- One server per interpreter path, started on first use (or by `prestart`). A server that exited is restarted;
  one that does not answer a request, or does not report an attempt that ended, within `ANSWER_TIMEOUT_S` is
  killed (its attempts die with it) and restarted on next use; one whose site-packages changed (a package
  installed) is replaced once its running attempts end.
- `PoolUnavailable` says why the pool cannot take an attempt: the runner then spawns (and logs the reason).
- Opt out with the environment variable `FLYTE_LS_LOCAL_POOL=0` (or `off`, `false`, `spawn`), read per
  attempt.
- `shutdown_all()` stops every server (also registered with atexit). If the backend dies, each server sees EOF
  on its stdin and kills its attempts; an attempt whose server died ends with exit code -9
  (`PooledProcess.lost`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

POOL_ENV = "FLYTE_LS_LOCAL_POOL"
SERVER_SCRIPT = Path(__file__).with_name("pool_server.py")
START_TIMEOUT_S = 90.0  # importing flytekit on a busy machine
ANSWER_TIMEOUT_S = 20.0  # a fork is milliseconds; longer means the server is stuck
RETRY_START_AFTER_S = 30.0  # a server that failed to start is not retried for every attempt
_HEALTH_CHECK_S = 1.0  # how often a waiting attempt checks that its server still reaps
# Run the server file as __main__ without putting its directory (flyte_ls/local: http.py...) on sys.path.
_BOOT = "import sys; sys.path.pop(0); p = sys.argv.pop(1); exec(compile(open(p).read(), p, 'exec'))"


class PoolUnavailable(Exception):
    """The pool cannot run this attempt; the message says why (the caller spawns instead)."""


def disabled_reason() -> str | None:
    """Why attempts are spawned without asking the pool, or None when the pool is to be used."""
    if os.environ.get(POOL_ENV, "1").strip().lower() in {"0", "off", "false", "no", "spawn"}:
        return f"{POOL_ENV}={os.environ[POOL_ENV]}"
    if sys.platform != "linux":  # PR_SET_PDEATHSIG and /proc/self/task are Linux's
        return f"the fork server needs Linux (this is {sys.platform})"
    return None


class PooledProcess:
    """A forked attempt, shaped like `subprocess.Popen` for the runner: `pid` (its process group), `wait`."""

    def __init__(self, server: _Server, conn: socket.socket, pid: int, rest: bytes) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None
        self.lost = False  # the server died before reporting the exit
        self._conn = conn
        self._buffer = bytearray(rest)
        self._zombie_since: float | None = None

    def poll(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.wait(0)
        return None

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: killed by that signal); raises `subprocess.TimeoutExpired` like Popen."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            if b"\n" in self._buffer:
                line, _, rest = bytes(self._buffer).partition(b"\n")
                self._buffer = bytearray(rest)
                message = json.loads(line)
                if "exit" in message:
                    self._done(int(message["exit"]))
                continue
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._conn.settimeout(_HEALTH_CHECK_S if remaining is None else min(remaining, _HEALTH_CHECK_S))
            try:
                chunk = self._conn.recv(4096)
            except (TimeoutError, BlockingIOError):
                if self._unreaped():  # the attempt ended but the server does not report it: it is stuck
                    self.server.stop(grace_s=0.0)
                    chunk = b""
                elif remaining is None or time.monotonic() < deadline:  # type: ignore[operator]
                    continue
                else:
                    raise subprocess.TimeoutExpired(f"fork server attempt {self.pid}", timeout or 0) from None
            except OSError:
                chunk = b""
            if not chunk:  # the server died: PR_SET_PDEATHSIG killed the attempt; make sure of its group
                self.lost = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
                self._done(-signal.SIGKILL)
            else:
                self._buffer += chunk
        return self.returncode

    def _unreaped(self) -> bool:
        """True once the attempt has been a zombie (ended, not reaped by the server) for ANSWER_TIMEOUT_S."""
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            state = ""
        if state != "Z":
            self._zombie_since = None
            return False
        now = time.monotonic()
        if self._zombie_since is None:
            self._zombie_since = now
        return now - self._zombie_since >= ANSWER_TIMEOUT_S

    def _done(self, code: int) -> None:
        self.returncode = code
        self._conn.close()
        self.server.attempt_ended()


class _Server:
    def __init__(self, python: str, env: Mapping[str, str]) -> None:
        self.python = python
        self.dir = Path(tempfile.mkdtemp(prefix="flyte-ls-pool-"))
        if len(str(self.dir / "sock")) > 100:  # AF_UNIX path limit
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = Path(tempfile.mkdtemp(prefix="flyte-ls-pool-", dir="/tmp"))
        self.socket_path = str(self.dir / "sock")
        self.log_path = self.dir / "server.log"
        (self.dir / "tmp").mkdir()
        self.running = 0
        self.retired = False
        self._lock = threading.Lock()
        # A forked attempt's /proc/<pid>/environ is the server's start-up environment (the child changes only
        # its copy), so the marker of a task process that the orphan reaper (flyte_ls.local.orphans) looks for
        # is put there; the child's own environment is the attempt's.
        server_env = {
            **env,
            "TMPDIR": str(self.dir / "tmp"),
            "FLYTE_INTERNAL_EXECUTION_ID": "flyte-ls-fork-server",
        }
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                [python, "-c", _BOOT, str(SERVER_SCRIPT), self.socket_path],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                cwd=self.dir,
                env=server_env,
                start_new_session=True,
            )
        try:
            self.info = self._ready()
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + START_TIMEOUT_S
        data = b""
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PoolUnavailable(f"the fork server did not start within {START_TIMEOUT_S:g} s")
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise PoolUnavailable(f"the fork server exited at start: {self.log_tail()}")
                data += chunk
        self.proc.stdout.close()
        info: dict[str, Any] = json.loads(data.split(b"\n", 1)[0])
        if "error" in info:
            raise PoolUnavailable(f"the fork server cannot run in {self.python}: {info['error']}")
        return info

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, limit: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:].strip() or "(no output)"
        except OSError:
            return "(no log)"

    def run(self, request: dict[str, Any]) -> PooledProcess:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(ANSWER_TIMEOUT_S)
        sent = False
        try:
            conn.connect(self.socket_path)
            conn.sendall(json.dumps(request).encode() + b"\n")
            sent = True
            data = b""
            while b"\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    raise ConnectionError("the fork server closed the connection")
                data += chunk
        except OSError as exc:
            conn.close()
            if sent:  # it may have forked: kill it (its children die with it), never run the attempt twice
                self.stop(grace_s=0.0)
            if not isinstance(exc, TimeoutError):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=1.0)
                if not self.alive():
                    raise _Dead(str(exc)) from exc
            raise PoolUnavailable(f"the fork server did not answer ({exc}); it will be restarted") from exc
        line, _, rest = data.partition(b"\n")
        reply = json.loads(line)
        if "pid" not in reply:
            conn.close()
            if reply.get("error") == "stale":
                raise _Stale(reply.get("message", ""))
            raise PoolUnavailable(f"the fork server refused the attempt: {reply.get('message') or reply}")
        with self._lock:
            self.running += 1
        return PooledProcess(self, conn, int(reply["pid"]), rest)

    def attempt_ended(self) -> None:
        with self._lock:
            self.running -= 1
            done = self.retired and self.running == 0
        if done:
            self.stop()

    def retire(self) -> None:
        """Stop taking attempts; stop once the running ones have ended."""
        with self._lock:
            self.retired = True
            done = self.running == 0
        if done:
            self.stop()

    def stop(self, grace_s: float = 5.0) -> None:
        """Close the lifeline (the server kills its attempts and exits), reap it, remove its directory."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class _Stale(Exception):
    pass


class _Dead(Exception):
    """The server died before it took the request: a new one may take it."""


_lock = threading.Lock()
_servers: dict[str, _Server] = {}
_retired: list[_Server] = []
_failed: dict[str, tuple[float, str]] = {}  # python -> (when, why) a start failed


def _server_for(python: str, env: Mapping[str, str]) -> _Server:
    with _lock:
        server = _servers.get(python)
        if server is not None and server.alive():
            return server
        if server is not None:
            log.warning(
                "fork server for %s exited (code %s); restarting it. Its log: %s",
                python,
                server.proc.returncode,
                server.log_tail(),
            )
            _servers.pop(python)
            server.stop()
        failed = _failed.get(python)
        if failed is not None and time.monotonic() - failed[0] < RETRY_START_AFTER_S:
            raise PoolUnavailable(failed[1])
        try:
            server = _Server(python, env)
        except (OSError, PoolUnavailable) as exc:
            _failed[python] = (time.monotonic(), str(exc))
            raise PoolUnavailable(str(exc)) from exc
        _failed.pop(python, None)
        log.info(
            "fork server for %s started (pid %s, flytekit %s, import %.2f s)",
            python,
            server.info.get("pid"),
            server.info.get("flytekit"),
            server.info.get("import_s", 0.0),
        )
        _servers[python] = server
        return server


def launch(
    python: str,
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    log_path: str,
    server_env: Mapping[str, str],
) -> PooledProcess:
    """Start `argv` (as the runner would spawn it) through the fork server of `python`.

    `server_env` is the environment a new server starts with (the backend's, without its import path).
    Raises `PoolUnavailable` with the reason when the attempt must be spawned instead.
    """
    request = {"op": "run", "argv": list(argv), "env": dict(env), "cwd": cwd, "log": log_path}
    for _ in range(2):
        server = _server_for(python, server_env)
        try:
            return server.run(request)
        except _Stale as exc:
            log.info("fork server for %s is stale (%s); replacing it", python, exc)
            with _lock:
                if _servers.get(python) is server:
                    del _servers[python]
                    _retired.append(server)
            server.retire()
        except _Dead as exc:
            log.warning(
                "fork server for %s died (%s); restarting it. Its log: %s", python, exc, server.log_tail()
            )
            with _lock:
                if _servers.get(python) is server:
                    del _servers[python]
            server.stop(grace_s=0.0)
        except PoolUnavailable:
            if not server.alive():
                with _lock:
                    if _servers.get(python) is server:
                        del _servers[python]
            raise
    raise PoolUnavailable("the fork server kept failing (stale packages or died at once); see the log")


def prestart(python: str, server_env: Mapping[str, str]) -> threading.Thread:
    """Start the server for `python` in the background (the first attempt then finds it warm)."""

    def start() -> None:
        with contextlib.suppress(PoolUnavailable):
            _server_for(python, server_env)

    thread = threading.Thread(target=start, name=f"fork-server-start:{python}", daemon=True)
    thread.start()
    return thread


def shutdown_all() -> None:
    """Stop every fork server (their running attempts are killed) and remove their directories."""
    with _lock:
        servers = [*_servers.values(), *_retired]
        _servers.clear()
        _retired.clear()
        _failed.clear()
    for server in servers:
        server.stop()


def running_servers() -> dict[str, int]:
    """Interpreter path -> server pid (for status and tests)."""
    with _lock:
        return {python: server.proc.pid for python, server in _servers.items() if server.alive()}


atexit.register(shutdown_all)
