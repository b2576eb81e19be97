"""``server.runs``: the register/execute machinery the features share, built from the settings.

One :class:`RunService` per server, attached in ``setup`` and started on ``initialized``:

* ``backend`` (:class:`flyte_ls.run.backend.Backend`): the configured Flyte backend, or the local one it
  starts (always the local one with ``flyte.backend`` = ``"local"``); ``await runs.remote()`` is its
  :class:`~flyte_ls.remote.remote.AsyncFlyteRemote`;
* ``worker`` (:class:`flyte_ls.run.worker_client.WorkerClient`): serializes entities in the user's
  interpreter;
* ``tracker`` (:class:`flyte_ls.run.tracker.ExecutionTracker`): follows executions in the background and calls
  the ``server.on_execution_changed`` hooks (through ``server.emit``) on every change;
* ``last_inputs`` (``(uri, entity)`` → the JSON inputs of the last execution, for Re-run) and
  ``registrations`` (``(uri, entity)`` → the last :class:`~flyte_ls.run.registration.Registration`, for
  hover).

A settings change rebuilds the backend (and the worker when ``pythonPath`` changes); the tracker asks for the
remote at every poll, so tracked executions carry over. Nothing here knows LSP types: the commands
(:mod:`flyte_ls.server.features.commands`) translate.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_ls.run.paths import workspace_state_dir
from flyte_ls.server.constants import BACKEND_LOCAL
from flyte_ls.server.documents import fs_path
from flyte_ls.server.settings import Settings

if TYPE_CHECKING:
    # Imported when the service starts, not with the server: flyteidl and the remote cost import time.
    from flyte_ls.remote.remote import AsyncFlyteRemote
    from flyte_ls.run.backend import Backend
    from flyte_ls.run.registration import Registration
    from flyte_ls.run.task_python import TaskPython
    from flyte_ls.run.tracker import ExecutionTracker, Tracked
    from flyte_ls.run.worker_client import WorkerClient
    from flyte_ls.server.server import FlyteLanguageServer

log = logging.getLogger(__name__)

EXECUTIONS_FILE = "executions.json"

ExecutionHook = Callable[["Tracked"], None]


def backend_settings(settings: Settings) -> tuple[Any, ...]:
    """The settings a backend is built from: a change to any of them rebuilds it."""
    return (
        settings.backend,
        settings.config_file,
        settings.endpoint,
        settings.insecure,
        settings.console_endpoint,
        settings.project,
        settings.domain,
        settings.local.auto_start,
    )


class RunService:
    """The backend, the worker, the tracker and what the commands remember (module docstring)."""

    def __init__(self, server: FlyteLanguageServer) -> None:
        self.server = server
        self.backend: Backend | None = None
        self.worker: WorkerClient | None = None
        self.tracker: ExecutionTracker | None = None
        self.last_inputs: dict[tuple[str, str], dict[str, Any]] = {}
        self.registrations: dict[tuple[str, str], Registration] = {}
        self.state_dir: Path | None = None
        self._python: str | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self.tracker is not None

    def start(self) -> None:
        """Build everything from the current settings and start the tracker (on ``initialized``)."""
        if self.started:
            return
        from flyte_ls.run.tracker import ExecutionTracker

        settings = self.server.settings
        self.state_dir = workspace_state_dir(self.workspace_root())
        self.backend = self._make_backend(settings)
        self.worker = self._make_worker(settings)
        self.tracker = ExecutionTracker(self._tracker_remote, self.state_dir / EXECUTIONS_FILE, self._changed)
        for tracked in self.tracker.tracked():  # oldest first: the newest inputs of an entity win
            if tracked.inputs is not None:
                self.remember_inputs(tracked.uri, tracked.entity, tracked.inputs)
        self.server.run_task("execution tracker", self.tracker.run())
        log.info("Run service ready (state in %s)", self.state_dir)

    def ensure_started(self) -> None:
        """Commands may arrive before ``initialized`` ran its hooks (a fast client)."""
        if not self.started:
            self.start()

    async def close(self) -> None:
        """Stop the tracker, the worker and the remote (on shutdown)."""
        tracker, self.tracker = self.tracker, None
        if tracker is not None:
            await _maybe_await(getattr(tracker, "close", None))
        worker, self.worker = self.worker, None
        if worker is not None:
            await worker.close()
        backend, self.backend = self.backend, None
        if backend is not None:
            await _maybe_await(getattr(backend, "close", None))

    def on_settings(self, old: Settings, new: Settings) -> None:
        """Rebuild the backend (and the worker for a new interpreter) without losing tracked executions."""
        if not self.started:
            return
        if backend_settings(old) != backend_settings(new):
            previous, self.backend = self.backend, self._make_backend(new)
            log.info("Backend settings changed: the next command uses the new backend.")
            if previous is not None and hasattr(previous, "close"):
                self.server.run_task("close the previous backend", _maybe_await(previous.close))
        if old.python_path != new.python_path:
            previous_worker, self.worker = self.worker, self._make_worker(new)
            log.info("flyte.pythonPath changed: the worker restarts with %s.", self._python or "discovery")
            if previous_worker is not None:
                self.server.run_task("close the previous worker", previous_worker.close())

    # -- parts ----------------------------------------------------------------------------------------------
    def _make_backend(self, settings: Settings) -> Backend:
        from flyte_ls.run.backend import Backend

        return Backend(
            config_file=settings.config_file,
            endpoint=settings.endpoint,
            insecure=settings.insecure,
            console_endpoint=settings.console_endpoint,
            project=settings.project,
            domain=settings.domain,
            auto_start=settings.local.auto_start,
            local_only=settings.backend == BACKEND_LOCAL,  # the user chose it: nothing else is looked at
            on_message=self._backend_message,
            cwd=self.workspace_root(),  # where ./flytekit.config is looked for
            # the interpreter that runs the local backend's tasks: the worker's (it has flytekit)
            local_python=self._worker_python(settings),
        )

    def _worker_python(self, settings: Settings) -> str | None:
        """The interpreter the worker runs in: the one it resolved once started, else the one it will use
        when one is given (``flyte.pythonPath``, else the editor's); None: the backend's own discovery."""
        worker = self.worker
        resolved = worker.python if worker is not None else None
        return resolved or settings.python_path or _editor_python(self.server.init_options)

    def _make_worker(self, settings: Settings) -> WorkerClient:
        from flyte_ls.run.worker_client import WorkerClient

        self._python = settings.python_path
        return WorkerClient(
            settings.python_path,
            editor_python=_editor_python(self.server.init_options),
            on_log=_worker_log,
        )

    def _backend_message(self, message: str) -> None:
        """What the backend tells the user once (e.g. where the local backend it started lives)."""
        from lsprotocol import types

        log.info("%s", message)
        self.server.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=message))

    def _changed(self, tracked: Tracked) -> None:
        self.server.emit(execution_hooks(self.server), tracked)

    async def remote(self) -> AsyncFlyteRemote:
        """The backend's remote (starting the local backend when that is what the settings say)."""
        self.ensure_started()
        assert self.backend is not None
        if self.backend.remote is None:  # not resolved yet: a local backend started now uses the worker's
            self.backend.local_python = self._worker_python(self.server.settings)
        return await self.backend.ensure()

    async def task_python(self) -> TaskPython | None:
        """The Python the tasks of a notebook entity will run on (``flyte_ls.run.task_python``): the local
        backend's interpreter when it is the backend in use (resolved here: a local backend may be started),
        else the one ``flyte.image`` names, else None (unknown). Sent to the worker as
        ``pythonVersionCheck``."""
        from flyte_ls.run.task_python import task_python

        await self.remote()
        assert self.backend is not None
        return task_python(self.backend.local_in_use, self.server.settings.image)

    async def _tracker_remote(self) -> AsyncFlyteRemote:
        """The tracker's remote: like :meth:`remote`, except that it does not start the local backend again
        after the user stopped it (``flyte.stopLocalBackend``); the next command does."""
        self.ensure_started()
        assert self.backend is not None
        if self.backend.remote is None:
            self.backend.local_python = self._worker_python(self.server.settings)
        return await self.backend.ensure(start_after_stop=False)

    async def start_local_backend(self) -> tuple[dict[str, Any], bool]:
        """Start (or reuse) the local backend in the user cache, whatever ``flyte.local.autoStart`` says: its
        ``flyte-ls local status --json`` report and whether it was started now."""
        self.ensure_started()
        assert self.backend is not None
        self.backend.local_python = self._worker_python(self.server.settings)
        return await self.backend.start_local()

    async def stop_local_backend(self) -> dict[str, Any]:
        """Stop the local backend in the user cache (``flyte-ls local stop``); tracked executions stay
        tracked."""
        self.ensure_started()
        assert self.backend is not None
        return await self.backend.stop_local()

    def rpc_failed(self, error: BaseException) -> None:
        """A command's RPC failed: when the backend was unreachable (``FlyteSystemUnavailableException``),
        the next command checks it again at once instead of trusting the last healthy answer."""
        from flyte_ls.remote.errors import FlyteSystemUnavailableException

        if isinstance(error, FlyteSystemUnavailableException) and self.backend is not None:
            log.info("The Flyte backend did not answer (%s): checking it again on the next command.", error)
            self.backend.invalidate()

    # -- workspace, remembered inputs -----------------------------------------------------------------------
    def workspace_root(self) -> str:
        """The first workspace folder (else the root URI, else the current directory)."""
        try:
            ws = self.server.workspace
        except RuntimeError:  # before initialize
            return os.getcwd()
        paths = [fs_path(f.uri) for f in ws.folders.values()]
        if not paths and ws.root_uri:
            paths = [fs_path(ws.root_uri)]
        found = [p for p in paths if p]
        return os.path.abspath(found[0]) if found else os.getcwd()

    def remember_inputs(self, uri: str, entity: str, inputs: dict[str, Any]) -> None:
        """Keep the inputs of the last execution of an entity (for Re-run); they persist with the tracker's
        state (each ``Tracked`` holds its inputs), which :meth:`start` reads them back from."""
        self.last_inputs.pop((uri, entity), None)
        self.last_inputs[(uri, entity)] = inputs


def _worker_log(line: str) -> None:
    """The worker's stderr (the user's prints and warnings while their module is imported)."""
    log.info("worker: %s", line)


def _editor_python(init_options: Any) -> str | None:
    """``initializationOptions.pythonPath`` outside the ``flyte`` section (the editor's interpreter)."""
    if isinstance(init_options, dict):
        value = init_options.get("pythonPath")
        if isinstance(value, str) and value:
            return value
    return None


async def _maybe_await(fn: Any) -> None:
    if fn is None:
        return
    result = fn()
    if hasattr(result, "__await__"):
        await result


def runs_of(server: FlyteLanguageServer) -> RunService:
    """``server.runs``, typed (attached by :func:`setup`)."""
    runs: RunService = getattr(server, "runs")  # noqa: B009 (the attribute is added at runtime)
    return runs


def execution_hooks(server: FlyteLanguageServer) -> list[ExecutionHook]:
    """``server.on_execution_changed``: called with a ``Tracked`` on every tracker change."""
    hooks: list[ExecutionHook] | None = getattr(server, "on_execution_changed", None)
    if hooks is None:
        hooks = []
        setattr(server, "on_execution_changed", hooks)  # noqa: B010
    return hooks


def setup(server: FlyteLanguageServer) -> RunService:
    """Attach ``server.runs`` and ``server.on_execution_changed``; start on ``initialized``."""
    runs = RunService(server)
    setattr(server, "runs", runs)  # noqa: B010
    execution_hooks(server)
    server.on_initialized.append(runs.start)
    server.on_settings.append(runs.on_settings)
    server.on_shutdown.append(runs.close)
    return runs
