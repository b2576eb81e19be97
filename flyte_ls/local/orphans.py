"""Task processes left behind by a backend that died without stopping them (``kill -9``, a crash).

Every task attempt runs in its own session (process group) with its working directory under
``<state dir>/executions/`` and ``FLYTE_INTERNAL_EXECUTION_ID`` in its environment (flyte_ls.local.runner).
A backend that stops cleanly kills those groups itself; one that is killed cannot. Two things cover that:

- :func:`reap`, called when a backend starts (before it resumes executions), kills the groups a previous
  backend left on the same state dir, so a resumed node never races its old attempt.
- :class:`Watchdog`, a small process the backend starts next to itself (``python -m
  flyte_ls.local.orphans STATE_DIR``, in its own session). It blocks reading a pipe whose only writer is the
  backend; when the backend dies for any reason the pipe closes and the watchdog reaps at once.

Processes are found through ``/proc`` (Linux). Elsewhere nothing is found and :func:`reap` logs it once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

_PROC = Path("/proc")
_MARKER = b"FLYTE_INTERNAL_EXECUTION_ID="


def _cwd_and_environ(pid: int) -> tuple[str, bytes] | None:
    try:
        cwd = os.readlink(_PROC / str(pid) / "cwd")
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:  # gone meanwhile, or another user's process
        return None
    return cwd, environ


def leftover_groups(state_dir: Path) -> set[int]:
    """Process groups of task attempts running under ``state_dir``: a process whose cwd is below
    ``<state_dir>/executions/`` and whose environment has the attempt marker (a shell a user opened in a work
    directory has no marker and is left alone). Never this process's own group."""
    if not _PROC.is_dir():
        return set()
    root = str(state_dir.resolve() / "executions") + os.sep
    own = {os.getpid(), os.getpgrp()}
    groups: set[int] = set()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) in own:
            continue
        found = _cwd_and_environ(int(entry.name))
        if found is None:
            continue
        cwd, environ = found
        if not (cwd + os.sep).startswith(root) or not any(
            v.startswith(_MARKER) for v in environ.split(b"\0")
        ):
            continue
        with contextlib.suppress(OSError):
            pgid = os.getpgid(int(entry.name))
            if pgid not in own:
                groups.add(pgid)
    return groups


def reap(state_dir: Path) -> list[int]:
    """Kill (SIGKILL) the task process groups left under ``state_dir``; returns the groups killed."""
    if not _PROC.is_dir():
        log.info("cannot look for task processes left by a previous backend on this platform (no /proc)")
        return []
    killed = []
    for pgid in sorted(leftover_groups(state_dir)):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            continue
        killed.append(pgid)
    if killed:
        log.warning("killed %d task process group(s) left running by a previous backend", len(killed))
    return killed


class Watchdog:
    """The reaper process of a running backend (see the module docstring). ``close()`` on a clean stop."""

    def __init__(self, state_dir: Path) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flyte_ls.local.orphans", str(state_dir.resolve())],
                stdin=subprocess.PIPE,  # the backend holds the only write end (not inherited by tasks)
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal reaches the backend, not the watchdog
            )
        except OSError as exc:
            log.warning("no watchdog for task processes (%s): a killed backend may leave tasks running", exc)

    def close(self, timeout: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def _watch(state_dir: Path) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        while sys.stdin.buffer.read(
            4096
        ):  # nothing is ever written: returns at EOF, when the backend is gone
            pass
    reap(state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(_watch(Path(sys.argv[1])))
