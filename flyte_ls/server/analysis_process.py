"""The server's handle on one analysis worker process (:mod:`flyte_ls.server.analysis_worker`).

Everything here runs on the event loop and never blocks it: the process is an asyncio subprocess, calls are
awaited frames on its pipes. One call at a time per process (an asyncio lock, first come first served); a call
has a deadline. A process that dies, or does not answer before the deadline (it is then killed), is replaced
by a fresh one at the next call, and both are logged. The worker asks for other modules' entities during a
lint pass; the ``lookup`` given here answers from the workspace index (on the event loop, between frames).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import Any

from flyte_ls.analysis import ModuleAnalysis
from flyte_ls.server.analysis_worker import HEADER, encode

log = logging.getLogger(__name__)

# (module) -> (stamp, entities); stamp None when the module is unknown.
StampedLookup = Callable[[str], tuple[int | None, ModuleAnalysis | None]]

DEFAULT_DEADLINE_S = 60.0
DEADLINE_ENV = "FLYTE_LS_WORKER_DEADLINE_S"  # tests set a short deadline to exercise the hang handling
_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from flyte_ls.server.analysis_worker import main; sys.exit(main(int(sys.argv[2])))"
)


def default_deadline() -> float:
    raw = os.environ.get(DEADLINE_ENV)
    if raw:
        try:
            return max(0.1, float(raw))
        except ValueError:
            log.warning(
                "%s=%r is not a number of seconds; using %s s.", DEADLINE_ENV, raw, DEFAULT_DEADLINE_S
            )
    return DEFAULT_DEADLINE_S


class WorkerFailed(Exception):
    """The worker died, hung past its deadline, could not start, or the operation raised in it.

    ``retry``: the process died during the call, which a fresh process may well survive (it was killed, ran
    out of memory...). A call that hung or raised would do the same again.
    """

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class AnalysisProcess:
    def __init__(
        self,
        name: str,
        lookup: StampedLookup | None = None,
        deadline_s: float | None = None,
        nice: int = 0,
    ) -> None:
        self.name = name
        self.nice = nice
        self.lookup = lookup
        self.deadline_s = default_deadline() if deadline_s is None else deadline_s
        self.starts = 0  # processes started so far (1 + restarts)
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._next_id = 0
        self._closed = False
        self._killed: set[int] = set()  # pids we killed on purpose (their exit is not news)
        self._watcher: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    # -- process lifetime
    # ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the process now (it also starts on the first call)."""
        async with self._lock:
            await self._ensure()

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self._closed:
            raise WorkerFailed(f"the {self.name} is shut down")
        proc = self._proc
        if proc is not None and proc.returncode is None:
            return proc
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _BOOT,
                json.dumps(sys.path),
                str(self.nice),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=2**20,
            )
        except OSError as exc:
            raise WorkerFailed(f"cannot start the {self.name} ({sys.executable}): {exc}") from exc
        self._proc = proc
        self.starts += 1
        log.debug("Started the %s (pid %d)", self.name, proc.pid)
        self._watcher = asyncio.ensure_future(self._watch(proc))
        return proc

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        """Forward the process's stderr to the log; report an exit nobody asked for."""
        assert proc.stderr is not None
        with contextlib.suppress(Exception):
            while line := await proc.stderr.readline():
                log.warning("%s (pid %d): %s", self.name, proc.pid, line.decode(errors="replace").rstrip())
        code = await proc.wait()
        if proc.pid in self._killed or self._closed or (self._lock.locked() and self._proc is proc):
            self._killed.discard(proc.pid)
            return  # killed on purpose, or the call in flight reports it
        log.warning(
            "The %s (pid %d) exited unexpectedly (%s); a new one starts with the next request.",
            self.name,
            proc.pid,
            _describe_exit(code),
        )

    def kill(self) -> None:
        """Stop the process at once (synchronous: usable after the event loop has stopped)."""
        proc = self._proc
        self._proc = None
        if proc is None or proc.returncode is not None:
            return
        self._killed.add(proc.pid)
        _kill(proc)

    def close(self) -> None:
        """Kill the process and refuse further calls."""
        self._closed = True
        self.kill()

    async def aclose(self) -> None:
        """:meth:`close`, and wait until the process is gone and its pipes are closed."""
        proc = self._proc
        self.close()
        if proc is not None:
            await _exit_code(proc)
        if self._watcher is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._watcher), 2)

    # -- calls
    # -----------------------------------------------------------------------------------------------
    async def call(self, op: str, *args: Any, deadline_s: float | None = None) -> Any:
        """Run ``op(*args)`` in the worker and return its value; :class:`WorkerFailed` on any failure."""
        async with self._lock:
            proc = await self._ensure()
            self._next_id += 1
            call_id = self._next_id
            deadline = self.deadline_s if deadline_s is None else deadline_s
            try:
                return await asyncio.wait_for(self._exchange(proc, call_id, op, args), deadline)
            except asyncio.TimeoutError:
                self.kill()
                log.warning(
                    "The %s (pid %d) did not finish %s within %.1f s: killed; a new one starts with the next "
                    "request.",
                    self.name,
                    proc.pid,
                    op,
                    deadline,
                )
                raise WorkerFailed(f"{op}: no answer within {deadline:.1f} s") from None
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self._proc = None
                code = await _exit_code(proc)
                if self._closed:
                    raise WorkerFailed(f"the {self.name} is shut down") from exc
                log.warning(
                    "The %s (pid %d) died during %s (%s); a new one starts with the next request.",
                    self.name,
                    proc.pid,
                    op,
                    _describe_exit(code),
                )
                raise WorkerFailed(f"{op}: the worker died ({_describe_exit(code)})", retry=True) from exc
            except asyncio.CancelledError:
                # The reply (and the worker's lookups) would arrive during the next call: start over.
                self.kill()
                raise

    async def _exchange(
        self, proc: asyncio.subprocess.Process, call_id: int, op: str, args: tuple[Any, ...]
    ) -> Any:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(encode(("call", call_id, op, args)))
        await proc.stdin.drain()
        while True:
            head = await proc.stdout.readexactly(HEADER.size)
            (size,) = HEADER.unpack(head)
            message = pickle.loads(await proc.stdout.readexactly(size))
            kind = message[0]
            if kind == "lookup":
                _, module, known = message
                proc.stdin.write(encode(self._answer_lookup(module, known)))
                await proc.stdin.drain()
            elif kind == "log":
                _, level, text = message
                log.log(level, "%s", text)
            elif kind in ("ok", "error") and message[1] == call_id:
                if kind == "error":
                    raise WorkerFailed(f"{op} failed in the {self.name}:\n{message[2]}")
                return message[2]
            else:
                log.debug("Ignored an unexpected message from the %s: %.200r", self.name, message)

    def _answer_lookup(self, module: str, known: int | None) -> tuple[Any, ...]:
        stamp: int | None
        analysis: ModuleAnalysis | None
        try:
            stamp, analysis = self.lookup(module) if self.lookup is not None else (None, None)
        except Exception:
            log.exception("Looking up %s for the %s failed", module, self.name)
            stamp, analysis = None, None
        if stamp is not None and stamp == known:
            return ("module", module, stamp, None, True)
        return ("module", module, stamp, analysis, False)


async def _exit_code(proc: asyncio.subprocess.Process) -> int | None:
    try:
        return await asyncio.wait_for(proc.wait(), 2)
    except asyncio.TimeoutError:
        _kill(proc)
        return None


def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        proc.kill()  # SIGKILL, or TerminateProcess on Windows
    except (ProcessLookupError, RuntimeError, OSError):  # the event loop may be closed already (shutdown)
        with contextlib.suppress(ProcessLookupError, OSError):
            os.kill(proc.pid, getattr(signal, "SIGKILL", signal.SIGTERM))


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running, killed"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
