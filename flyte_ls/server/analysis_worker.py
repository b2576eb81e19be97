"""The analysis worker process: lint passes and index scans, off the server's interpreter.

A lint pass of a 10,000-line module costs ~250 ms of CPU; in a thread of the server it would hold the GIL
for most of that and slow down every request that arrives meanwhile. Here it runs in a child process that
the server spawns (``python -c`` with the server's ``sys.path``, see
:mod:`flyte_ls.server.analysis_process`) and talks to over its stdin/stdout.

Wire format, both ways: frames of a 4-byte big-endian length and a pickle (a private pipe between two
processes of the same installation). The server sends ``("call", id, op, args)``; the worker answers each
call with ``("ok", id, value)`` or ``("error", id, traceback text)``. During a lint pass the worker may ask
the server for another module's entities — ``("lookup", module, stamp of its copy or None)`` — and reads the
answer, ``("module", module, stamp, analysis or None, unchanged)``, before anything else. It sends
``("log", level, text)`` for its log records. It exits when its stdin closes (the server is gone).

Per-document state lives here (an :class:`~flyte_ls.analysis.Analyzer` per URI, dropped by ``forget``), and
so does a copy of the imported modules' entity summaries, refreshed by stamp on every lookup. The cyclic
garbage collector is off during a call and runs after each reply, when nobody waits for this process.
Nothing here imports the LSP libraries: the process stays small (~20 MB) and starts in ~0.1 s.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import signal
import struct
import sys
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

from flyte_ls.analysis import Analyzer, ModuleAnalysis
from flyte_ls.analysis.model import Finding

HEADER = struct.Struct(">I")
log = logging.getLogger("flyte_ls.worker")

LintResult = tuple[list[Finding], Finding | None]  # findings, syntax error


class ServerGone(BaseException):
    """The server closed the pipe (a BaseException: the analysis must not swallow it)."""


def encode(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def read_frame(stream: BinaryIO) -> Any:
    """The next message, or raise :class:`ServerGone` at the end of the stream."""
    head = _read_exactly(stream, HEADER.size)
    (size,) = HEADER.unpack(head)
    return pickle.loads(_read_exactly(stream, size))


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise ServerGone
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class _FrameLogHandler(logging.Handler):
    def __init__(self, worker: Worker) -> None:
        super().__init__(logging.INFO)
        self.worker = worker

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self.worker.send(("log", record.levelno, text))
        except ServerGone:
            raise
        except Exception:
            self.handleError(record)


class Worker:
    def __init__(self, inp: BinaryIO, out: BinaryIO) -> None:
        self.inp = inp
        self.out = out
        self.analyzers: dict[str, Analyzer] = {}
        self.modules: dict[str, tuple[int | None, ModuleAnalysis | None]] = {}  # module -> (stamp, entities)
        self.ops: dict[str, Callable[..., Any]] = {
            "lint": self.lint,
            "forget": self.forget,
            "scan": self.scan,
            "ping": lambda: os.getpid(),
        }

    def send(self, message: Any) -> None:
        try:
            self.out.write(encode(message))
            self.out.flush()
        except (BrokenPipeError, ValueError):
            raise ServerGone from None

    # -- operations
    # ---------------------------------------------------------------------------------------------
    def lint(self, uri: str, source: str, module: str, path: str | None) -> LintResult:
        analyzer = self.analyzers.get(uri)
        if analyzer is None:
            analyzer = self.analyzers[uri] = Analyzer()
        analysis = analyzer.analyze(source, module, lookup=self._lookup_for_pass(), path=path)
        return analysis.findings, analysis.syntax_error

    def forget(self, uri: str) -> bool:
        return self.analyzers.pop(uri, None) is not None

    def scan(self, paths: list[str], encoding: str, max_size: int) -> Any:
        from flyte_ls.server.index import scan_batch  # only index workers need it (pathspec, positions)

        return scan_batch(paths, encoding, max_size)

    def _lookup_for_pass(self) -> Callable[[str], ModuleAnalysis | None]:
        asked: dict[str, ModuleAnalysis | None] = {}  # one round trip per module and pass

        def lookup(module: str) -> ModuleAnalysis | None:
            if module not in asked:
                asked[module] = self._fetch(module)
            return asked[module]

        return lookup

    def _fetch(self, module: str) -> ModuleAnalysis | None:
        stamp, analysis = self.modules.get(module, (None, None))
        self.send(("lookup", module, stamp))
        reply = read_frame(self.inp)
        if not (isinstance(reply, tuple) and reply[:2] == ("module", module)):
            raise RuntimeError(f"expected the entities of {module!r} from the server, got {reply!r:.200}")
        _, _, new_stamp, new_analysis, unchanged = reply
        if not unchanged:
            stamp, analysis = new_stamp, new_analysis
            if stamp is None:
                self.modules.pop(module, None)
            else:
                self.modules[module] = (stamp, analysis)
        return analysis

    # -- the loop
    # -----------------------------------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            message = read_frame(self.inp)
            kind, call_id, op, args = message
            if kind != "call" or op not in self.ops:
                self.send(("error", call_id, f"unknown message {kind!r} / operation {op!r}"))
                continue
            try:
                reply: tuple[str, int, Any] = ("ok", call_id, self.ops[op](*args))
            except ServerGone:
                raise
            except Exception:
                reply = ("error", call_id, traceback.format_exc())
            self.send(reply)
            del reply, message, args
            gc.collect()  # the server has its answer: collecting now delays nobody


def _die_with_parent() -> None:
    """Linux: get SIGTERM when the server dies, even while busy (when it would not see its stdin close)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def main(nice: int = 0) -> int:
    """Serve calls until stdin closes. ``nice``: lower this process's CPU priority by that much."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    if nice:
        with contextlib.suppress(OSError, AttributeError):
            os.nice(nice)
    sys.stdout = (
        sys.stderr
    )  # stdout is the pipe to the server: stray prints go to stderr (the server logs it)
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        return 0  # the server died before the signal was armed
    worker = Worker(inp, out)
    root = logging.getLogger("flyte_ls")
    root.setLevel(logging.INFO)
    root.propagate = False
    root.addHandler(_FrameLogHandler(worker))
    gc.collect()
    gc.freeze()  # modules and constants live as long as the process: keep them out of every collection
    gc.disable()
    with contextlib.suppress(ServerGone, KeyboardInterrupt):
        worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
