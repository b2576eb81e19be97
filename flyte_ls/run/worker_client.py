"""The server's side of the worker (:mod:`flyte_ls.worker`): one warm worker process in the *user's*
interpreter, spoken to with newline-delimited JSON-RPC over its pipes, asked to serialize entities.

The interpreter: the explicit ``python_path`` (setting ``flyte.pythonPath``), else the one the editor passed
(``initializationOptions.pythonPath``), else the first ``python3`` on ``PATH`` that imports flytekit. The
worker package is copied (content-hashed) to ``<user cache>/worker/<hash>/flyte_ls_worker/`` and that
directory alone is put in front of ``PYTHONPATH``: nothing is installed into the user's environment.

Requests queue (one at a time). Every wait has a deadline: a request past it kills the worker (and its
child) and the next request starts a new one; a worker that died is restarted on the next request, with a
back-off after three quick deaths in a row. Nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import interface_pb2, literals_pb2

from flyte_ls.remote.identifiers import ResourceType
from flyte_ls.run.paths import user_cache_dir

PACKAGE = "flyte_ls_worker"
NO_FLYTEKIT_EXIT = 3  # the worker's exit code when flytekit is missing or too old
START_TIMEOUT_S = 90.0  # importing flytekit takes seconds on a busy machine
GRACE_S = 10.0  # the worker stops a slow child at the request's timeout; past this more, the worker goes
QUICK_DEATH_S = 30.0  # a worker that dies sooner than this after its start died quickly
QUICK_DEATHS = 3  # that many quick deaths in a row: back off before the next start
BACKOFF_S = (5.0, 15.0, 60.0)
PROBE_TIMEOUT_S = 30.0


class Frame(TypedDict):
    """One frame of the user's traceback."""

    file: str
    line: int
    name: str


class WorkerError(Exception):
    """Serializing failed. ``kind``: ``"import"`` (the user's module failed to import; ``frames`` point into
    it), ``"entity"`` (no such entity, or not a task/workflow/launch plan), ``"serialize"`` (flytekit
    refused it), ``"flytekit"`` (no usable flytekit in the interpreter), ``"timeout"`` (past the deadline;
    stopped), ``"worker"`` (the worker process failed or is backing off). The message says what to do."""

    def __init__(
        self,
        message: str,
        kind: str = "worker",
        frames: list[Frame] | None = None,
        traceback: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.frames: list[Frame] = list(frames or [])
        self.traceback = traceback
        self.data: dict[str, Any] = dict(
            data or {}
        )  # the worker's error data (a failing cell: cell, line, error)


@dataclass(frozen=True)
class WorkerTarget:
    """What was asked for: its resource type and Flyte name (``module.function``, or a launch plan's)."""

    resource_type: ResourceType
    name: str


@dataclass(frozen=True)
class WorkerResult:
    """An entity serialized by the worker, with what it needs, as the server's flyteidl protos. Project,
    domain and version are the registration placeholders; the container args hold
    ``{{ .remote_package_path }}`` (flyte_ls.remote's ``register_*`` fill both)."""

    target: WorkerTarget
    tasks: list[task_pb2.TaskSpec]
    workflows: list[workflow_pb2.WorkflowSpec]
    launch_plans: list[tuple[launch_plan_pb2.LaunchPlan, bool]]  # (launch plan, auto-activate)
    files: list[str]  # absolute paths of the source files under the source root the import loaded
    image: str  # the default image's full name
    interface: interface_pb2.TypedInterface  # the target's (a launch plan's: without its fixed inputs)
    defaults: dict[str, literals_pb2.Literal]  # default inputs (launch plan defaults / signature defaults)


@dataclass(frozen=True)
class PickleFile:
    """The ``pkl.gz`` the worker wrote for a notebook entity: its path, the md5 (hex) of the pickle in it,
    its size in bytes and the Python version that pickled it (``3.11.7``)."""

    path: str
    md5: str
    size: int
    python_version: str


@dataclass(frozen=True)
class NotebookResult(WorkerResult):
    """An entity defined in notebook cells, serialized with flytekit's notebook task resolver (its tasks'
    container args: ``--resolver ...default_notebook_task_resolver -- entity-name <name>``), and its
    pickle, which the registration uploads as the tasks' distribution. ``files`` is empty."""

    pickle: PickleFile


@dataclass(frozen=True)
class WorkerInfo:
    """The worker's answer to ``hello``."""

    python: str
    flytekit_version: str
    pid: int


class WorkerClient:
    """One worker in the user's interpreter. ``python``: the explicit interpreter; ``editor_python``:
    the one the editor passed; ``cache_dir``: where the worker package is copied (default: the user cache
    directory); ``env``: added to the worker's environment; ``on_log``: called with each stderr line of the
    worker (the user's prints and warnings among them)."""

    def __init__(
        self,
        python: str | None = None,
        *,
        editor_python: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        on_log: Callable[[str], None] | None = None,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        self.python_path = python or None
        self.editor_python = editor_python or None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.env = dict(env or {})
        self.on_log = on_log
        self.start_timeout = start_timeout
        self.info: WorkerInfo | None = None
        self._python: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._started_at = 0.0
        self._stderr: deque[str] = deque(maxlen=40)
        self._stderr_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._next_id = 0
        self._quick_deaths = 0
        self._retry_at = 0.0

    @property
    def python(self) -> str | None:
        """The interpreter the worker runs in (once started; before, the one given, if any)."""
        return self._python or self.python_path or self.editor_python

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> WorkerInfo:
        """Start the worker (if it is not running) and return its ``hello``."""
        async with self._lock:
            return await self._ensure()

    async def serialize(
        self,
        file: str | os.PathLike[str],
        entity: str,
        source_root: str | os.PathLike[str],
        project: str | None = None,
        domain: str | None = None,
        image: str | None = None,
        *,
        timeout: float = 60.0,
    ) -> WorkerResult:
        """Import ``file`` (as its module under ``source_root``) afresh and serialize ``entity`` (its
        Python name) with what it needs for ``image`` (default: flytekit's default image). The specs carry
        the registration placeholders, so ``project`` and ``domain`` (where the caller will register) do not
        change them. Raises :class:`WorkerError`."""
        del project, domain  # filled at registration
        params = {
            "file": os.path.abspath(file),
            "entity": entity,
            "sourceRoot": os.path.abspath(source_root),
            "image": image,
            "timeout": timeout,
        }
        return _result(await self._call("serialize", params, timeout, what=f"serializing {entity}"))

    async def serialize_notebook(
        self,
        cells: Sequence[str],
        entity: str,
        up_to: int | None = None,
        image: str | None = None,
        *,
        out_dir: str | os.PathLike[str],
        python_version_check: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float = 60.0,
    ) -> NotebookResult:
        """Run the notebook's code ``cells`` 0..``up_to`` (default: all) afresh, as a kernel would, and
        pickle ``entity`` (its Python name) in flytekit's interactive-mode format into
        ``<out_dir>/pkl.gz`` (the caller's folder: it owns and removes it), with its specs for ``image``,
        which run it through flytekit's notebook task resolver. ``python_version_check``: the task
        interpreter's Python (``"3.11"``), refused early when the notebook's differs. ``cwd``: where the
        cells run (the notebook's folder, as Jupyter; default: the worker's). Raises :class:`WorkerError`
        (a failing cell: kind ``"import"``, the message names the cell and line)."""
        params = {
            "cells": list(cells),
            "upTo": len(cells) - 1 if up_to is None else up_to,
            "entity": entity,
            "image": image,
            "pythonVersionCheck": python_version_check,
            "outDir": os.path.abspath(out_dir),
            "cwd": None if cwd is None else os.path.abspath(cwd),
            "timeout": timeout,
        }
        reply = await self._call("serializeNotebook", params, timeout, what=f"pickling {entity}")
        pickle = reply["pickle"]
        return NotebookResult(
            **vars(_result(reply)),
            pickle=PickleFile(
                path=str(pickle["path"]),
                md5=str(pickle["md5"]),
                size=int(pickle["size"]),
                python_version=str(pickle["pythonVersion"]),
            ),
        )

    async def _call(self, method: str, params: dict[str, Any], timeout: float, *, what: str) -> Any:
        """One request answered in a child of the worker, started if need be; a worker that died while
        idle is replaced once."""
        async with self._lock:
            reused = self.running and self.info is not None
            await self._ensure()
            try:
                reply = await self._request(method, params, timeout + GRACE_S, what=what)
            except WorkerError as err:
                if not (reused and err.kind == "worker" and not self.running):
                    raise
                # it had died while idle (killed, out of memory): once more with a new worker
                await self._ensure()
                reply = await self._request(method, params, timeout + GRACE_S, what=what)
        self._quick_deaths = 0
        return reply

    async def close(self) -> None:
        """Ask the worker to exit (killed after a short wait) and stop reading it."""
        async with self._lock:
            proc = self._proc
            if proc is not None and proc.returncode is None:
                try:
                    await self._request("shutdown", {}, 2.0, what="shutting down")
                    await asyncio.wait_for(proc.wait(), 2.0)
                except (WorkerError, asyncio.TimeoutError):
                    await self._kill()
            if proc is not None:
                _kill_group(proc)  # what the user's code left running in the worker's session
                _release(proc)
            self._proc = None
            if self._stderr_task is not None:
                self._stderr_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._stderr_task
                self._stderr_task = None

    # --- the process ------------------------------------------------------------------------------------

    async def _ensure(self) -> WorkerInfo:
        if self.running and self.info is not None:
            return self.info
        now = time.monotonic()
        if now < self._retry_at:
            raise WorkerError(
                f"the flyte-ls worker in {self._python} exited {self._quick_deaths} times in a row just "
                f"after starting; trying again in {self._retry_at - now:.0f} s. "
                f"Its last words: {self._last_words()}"
            )
        python = self._python = self._python or await self._resolve_python()
        package = await asyncio.to_thread(install_worker, self.cache_dir or user_cache_dir())
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(package), env.get("PYTHONPATH")) if p)
        self._stderr.clear()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                python, "-m", PACKAGE,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=env, limit=1 << 26, start_new_session=sys.platform != "win32",
            )  # fmt: skip
        except OSError as exc:
            raise WorkerError(
                f"cannot start {python}: {exc} — set flyte.pythonPath to a Python interpreter that has "
                "flytekit",
                kind="flytekit",
            ) from exc
        self._started_at = time.monotonic()
        self._stderr_task = asyncio.create_task(self._read_stderr(self._proc))
        try:
            hello = await self._request("hello", {}, self.start_timeout, what="starting")
        except WorkerError as err:
            if self._proc is not None and self._proc.returncode == NO_FLYTEKIT_EXIT:
                self._quick_deaths, self._retry_at = 0, 0.0  # a setup problem, not a crash: no back-off
                await self._drain_stderr()
                words = self._last_words()
                if "older than" in words:
                    message = (
                        f"the flytekit in {python} is too old ({words}): pip install -U flytekit in that "
                        "environment or set flyte.pythonPath"
                    )
                else:
                    message = (
                        f"flytekit is not importable in {python}: pip install flytekit in that environment "
                        f"or set flyte.pythonPath ({words})"
                    )
                raise WorkerError(message, kind="flytekit") from err
            raise
        self.info = WorkerInfo(str(hello["python"]), str(hello["flytekitVersion"]), int(hello["pid"]))
        return self.info

    async def _request(self, method: str, params: dict[str, Any], deadline: float, *, what: str) -> Any:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        self._next_id += 1
        ident = self._next_id
        message = {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}
        try:
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            await asyncio.wait_for(proc.stdin.drain(), deadline)
            reply = await asyncio.wait_for(_read_reply(proc.stdout, ident), deadline)
        except asyncio.TimeoutError:
            await self._kill()
            raise WorkerError(
                f"the flyte-ls worker in {self._python} did not finish {what} within {deadline:g} s and was "
                "stopped; the next request starts a new one",
                kind="timeout",
            ) from None
        except (ConnectionError, OSError):
            reply = None
        if reply is None:
            code = await self._died()
            raise WorkerError(
                f"the flyte-ls worker in {self._python} exited (code {code}) while {what}; the next request "
                f"restarts it. Its last words: {self._last_words()}"
            )
        if "error" in reply:
            error = reply["error"] or {}
            data = error.get("data") or {}
            raise WorkerError(
                str(error.get("message", "the worker failed")),
                kind=str(data.get("kind", "worker")),
                frames=list(data.get("frames") or []),
                traceback=str(data.get("traceback") or ""),
                data=data,
            )
        return reply.get("result")

    async def _died(self) -> int | None:
        """Note an unexpected exit: count quick deaths, back off after too many."""
        proc = self._proc
        code = None
        if proc is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                code = await asyncio.wait_for(proc.wait(), 5.0)
            await self._drain_stderr()
            _release(proc)
        if time.monotonic() - self._started_at < QUICK_DEATH_S:
            self._quick_deaths += 1
        else:
            self._quick_deaths = 1
        if self._quick_deaths >= QUICK_DEATHS:
            step = min(self._quick_deaths - QUICK_DEATHS, len(BACKOFF_S) - 1)
            self._retry_at = time.monotonic() + BACKOFF_S[step]
        self.info = None
        return code

    async def _kill(self) -> None:
        """Kill the worker and the child it may have forked (its own process group)."""
        proc = self._proc
        self.info = None
        if proc is None or proc.returncode is not None:
            return
        _kill_group(proc)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 5.0)
        _release(proc)

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self._stderr.append(text)
            if self.on_log is not None:
                self.on_log(text)

    async def _drain_stderr(self) -> None:
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 2.0)

    def _last_words(self) -> str:
        lines = [line for line in self._stderr if line.strip()]
        return " | ".join(lines[-3:]) if lines else "nothing on stderr"

    async def _resolve_python(self) -> str:
        for given, what in ((self.python_path, "flyte.pythonPath"), (self.editor_python, "the editor's")):
            if given:
                path = os.path.expanduser(given)
                if os.sep in path and not os.path.exists(path):
                    raise WorkerError(
                        f"the Python interpreter {path} ({what}) does not exist: set flyte.pythonPath to one "
                        "that has flytekit",
                        kind="flytekit",
                    )
                return path
        tried = []
        for candidate in python3_candidates():
            tried.append(candidate)
            if await _imports_flytekit(candidate):
                return candidate
        raise WorkerError(
            f"no python3 on PATH can import flytekit (tried: {', '.join(tried) or 'none found'}): pip "
            "install flytekit, or set flyte.pythonPath to an interpreter that has it",
            kind="flytekit",
        )


async def _read_reply(stdout: asyncio.StreamReader, ident: int) -> dict[str, Any] | None:
    """The worker's reply to request ``ident`` (``None`` at its end of output). Replies to earlier requests
    whose caller was cancelled meanwhile are skipped."""
    while line := await stdout.readline():
        try:
            reply = json.loads(line)
        except ValueError:
            continue
        if isinstance(reply, dict) and reply.get("id") == ident:
            return reply
    return None


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the worker's process group (the worker, its child, what they started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL)
        elif proc.returncode is None:
            proc.kill()


def _release(proc: asyncio.subprocess.Process) -> None:
    """Close our end of a finished worker's stdin, so its transport closes with the event loop open."""
    if proc.stdin is not None:
        with contextlib.suppress(Exception):
            proc.stdin.close()


def python3_candidates() -> list[str]:
    """Each distinct ``python3`` on ``PATH``, in order."""
    seen, out = set(), []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        for name in ("python3", "python3.exe") if sys.platform == "win32" else ("python3",):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and os.access(path, os.X_OK) and path not in seen:
                seen.add(path)
                out.append(path)
    return out


async def _imports_flytekit(python: str) -> bool:
    try:
        proc = await asyncio.create_subprocess_exec(
            python, "-c", "import flytekit",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
    except OSError:
        return False
    try:
        return await asyncio.wait_for(proc.wait(), PROBE_TIMEOUT_S) == 0
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return False


def install_worker(cache_dir: str | os.PathLike[str]) -> Path:
    """Copy the worker package to ``<cache_dir>/worker/<content hash>/flyte_ls_worker`` (once per content)
    and return the folder to put on ``PYTHONPATH``."""
    source = Path(__file__).resolve().parents[1] / "worker"
    files = sorted(source.glob("*.py"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    folder = Path(cache_dir) / "worker" / digest.hexdigest()[:16]
    if (folder / PACKAGE / "__main__.py").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f"{folder.name}.tmp-{os.getpid()}-{id(files)}"
    (staging / PACKAGE).mkdir(parents=True)
    for path in files:
        shutil.copyfile(path, staging / PACKAGE / path.name)
    try:
        os.replace(staging, folder)
    except OSError:  # another server installed it first
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _result(reply: dict[str, Any]) -> WorkerResult:
    def parse(cls: Any, text: str) -> Any:
        message = cls()
        message.ParseFromString(base64.b64decode(text))
        return message

    target = reply["target"]
    return WorkerResult(
        target=WorkerTarget(ResourceType[target["resourceType"]], target["name"]),
        tasks=[parse(task_pb2.TaskSpec, t) for t in reply["tasks"]],
        workflows=[parse(workflow_pb2.WorkflowSpec, w) for w in reply["workflows"]],
        launch_plans=[
            (parse(launch_plan_pb2.LaunchPlan, lp["spec"]), bool(lp["autoActivate"]))
            for lp in reply["launchPlans"]
        ],
        files=list(reply["files"]),
        image=str(reply["image"]),
        interface=parse(interface_pb2.TypedInterface, reply["interface"]),
        defaults={k: parse(literals_pb2.Literal, v) for k, v in reply["defaults"].items()},
    )
