"""Finding the Python interpreter that runs tasks: it must be able to import flytekit.

flyte-ls never imports flytekit itself; tasks run in ``--python`` (default: the first ``python3`` on ``PATH``
that can import flytekit), so the check runs that interpreter in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHECK_TIMEOUT_S = 60.0
# flytekit's version, then the interpreter's Python version ("3.11.7"), on one line
_PROBE = (
    "import flytekit, platform, sys; sys.stdout.write(flytekit.__version__ + ' ' + platform.python_version())"
)


class InterpreterError(Exception):
    """No usable interpreter; the message says what was tried and how to fix it."""


@dataclass(frozen=True)
class Interpreter:
    path: str
    flytekit_version: str
    python_version: str = ""
    """``3.11.7``: a notebook task's pickle loads only on the Python major.minor that pickled it."""


def probe(python: str, timeout: float = CHECK_TIMEOUT_S) -> tuple[Interpreter | None, str]:
    """(the interpreter, "") when ``python`` imports flytekit, else (None, why not)."""
    try:
        proc = subprocess.run(
            [python, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"`import flytekit` did not finish within {timeout:.0f} s"
    except OSError as exc:
        return None, f"cannot run it ({exc.strerror or exc})"
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return None, lines[-1] if lines else f"`import flytekit` exited with status {proc.returncode}"
    flytekit_version, _, python_version = proc.stdout.strip().partition(" ")
    return Interpreter(python, flytekit_version or "unknown", python_version.strip()), ""


def path_candidates(path_env: str | None = None, name: str = "python3") -> list[str]:
    """Every executable ``name`` on ``PATH``, in order, without duplicates. Symlinks are kept as they are:
    a venv's ``bin/python3`` resolves to the base interpreter, which would lose the venv."""
    seen: set[str] = set()
    found: list[str] = []
    for d in (path_env if path_env is not None else os.environ.get("PATH", "")).split(os.pathsep):
        if not d:
            continue
        candidate = os.path.join(os.path.abspath(d), name)
        if candidate in seen:
            continue
        seen.add(candidate)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            found.append(candidate)
    return found


_REMEDY = (
    "Run `flyte-ls local start --python /path/to/venv/bin/python` with an interpreter that has flytekit, "
    "or `pip install flytekit` into the first python3 on PATH."
)


def find_python(explicit: str | None, path_env: str | None = None) -> Interpreter:
    """The interpreter tasks run with: ``explicit`` if given (it must import flytekit), else the first
    ``python3`` on ``PATH`` that imports flytekit. Raises :class:`InterpreterError` naming what was tried."""
    if explicit:
        python = explicit
        if os.sep in explicit or (os.altsep and os.altsep in explicit):
            python = os.path.abspath(explicit)
        if not Path(python).exists() and os.sep not in explicit:
            # a bare name: look it up on PATH like a shell would
            hits = path_candidates(path_env, explicit)
            python = hits[0] if hits else explicit
        found, why = probe(python)
        if found is None:
            raise InterpreterError(f"--python {explicit}: cannot import flytekit: {why}. {_REMEDY}")
        return found
    tried: list[str] = []
    for python in path_candidates(path_env):
        found, why = probe(python)
        if found is not None:
            return found
        tried.append(f"  {python}: {why}")
    if not tried:
        raise InterpreterError(f"no python3 found on PATH to run tasks with. {_REMEDY}")
    listing = "\n".join(tried)
    raise InterpreterError(f"no python3 on PATH can import flytekit; tried:\n{listing}\n{_REMEDY}")
