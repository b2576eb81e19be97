"""Which Flyte backend the editor's commands talk to: :class:`Backend`, built from the ``flyte.*`` settings.

Resolution, on each :meth:`Backend.ensure` that needs it (a healthy answer is trusted for ``recheck_after``
seconds, so the tracker's frequent calls cost nothing):

1. ``flyte.endpoint`` (with ``flyte.insecure`` and the config file's auth), else ``flyte.configFile``, else
   the config flytekit would discover (``FLYTECTL_CONFIG``, ``./flytekit.config`` in the workspace,
   ``~/.flyte``), else ``FLYTE_PLATFORM_URL``: that backend, whether it answers or not — one that does not
   answer is an error naming the endpoint and the setting to change, never a reason to start something else;
2. nothing configured: whatever answers at the sandbox address (``localhost:30080``: ``flytectl demo`` or a
   ``flyte-ls local start`` with its defaults);
3. otherwise, with ``flyte.local.autoStart``: the local backend in ``<user cache>/flyte-ls/local`` — reused
   when ``flyte-ls local status`` finds it running, else started detached (``flyte-ls local start --port 0``,
   in its own session: it outlives the language server, and the next server reuses it). The user is told
   once where it is.

With ``local_only`` (``flyte.backend`` = ``"local"``) none of that is looked at: always the local backend in
``<user cache>/flyte-ls/local``, reused when it runs, else started whatever ``flyte.local.autoStart`` says
(the user chose it) — except by the tracker after a stop, as below.

:meth:`Backend.status` reports the same resolution without starting anything (the editor's status bar);
:meth:`Backend.start_local` / :meth:`Backend.stop_local` start or stop the local backend on request. After a
stop, only a command (``ensure()``) starts it again, not the tracker (``ensure(start_after_stop=False)``).

"Answers" means a ``GetDomains`` with a short deadline, sent without credentials and without retries: any gRPC
answer counts (``UNAUTHENTICATED`` too), only ``UNAVAILABLE`` / ``DEADLINE_EXCEEDED`` do not. Nothing here
blocks the event loop: files are read and processes started in threads or through asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
from flyteidl.admin import project_pb2

from flyte_ls.remote.config import SANDBOX_ENDPOINT, Config, ConfigError, discover_config_file
from flyte_ls.remote.errors import FlyteException, FlyteUserException
from flyte_ls.remote.remote import AsyncFlyteRemote, _root_certificates
from flyte_ls.remote.transport import Deadlines, RetryPolicy, Transport
from flyte_ls.run.paths import local_backend_dir

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
START_TIMEOUT_S = 120.0  # the backend checks its task interpreter (`import flytekit`): seconds when busy
STATUS_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 60.0  # `flyte-ls local stop`: a clean stop (30 s at most), then SIGKILL and its wait
RECHECK_AFTER_S = 30.0
# `status()` (the editor's status bar) answers within ~3 s whatever hangs: each check has a shorter deadline
STATUS_PROBE_S = 2.0
LOCAL_STATUS_S = 2.5
STATUS_CACHE_S = 5.0
_DOWN = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


class BackendError(FlyteUserException):
    """No usable backend; the message says which endpoint failed and which setting to change."""

    error_code = "USER:BackendUnavailable"

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class _Source:
    """A configured backend: its config, where it came from (for messages) and the setting that changes it."""

    config: Config
    where: str
    setting: str


class Backend:
    """One :class:`AsyncFlyteRemote` for the backend the settings name (module docstring).

    ``local_only``: always the local backend, whatever is configured (``flyte.backend`` = ``"local"``).
    ``on_message`` is called once with the notice about a local backend that was started (or found running).
    ``state_dir``, ``local_python`` (the interpreter that runs tasks; default: the backend's own discovery),
    ``command`` (how to run ``flyte-ls``), ``default_endpoint`` and ``cwd`` (where ``./flytekit.config`` is
    looked for: the workspace) are for the server's wiring and for tests.
    """

    def __init__(
        self,
        config_file: str | None = None,
        endpoint: str | None = None,
        insecure: bool | None = None,
        console_endpoint: str | None = None,
        project: str = "flytesnacks",
        domain: str = "development",
        auto_start: bool = True,
        *,
        local_only: bool = False,
        on_message: Callable[[str], None] | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        local_python: str | None = None,
        command: Sequence[str] | None = None,
        default_endpoint: str = SANDBOX_ENDPOINT,
        cwd: str | os.PathLike[str] | None = None,
        probe_timeout: float = PROBE_TIMEOUT_S,
        start_timeout: float = START_TIMEOUT_S,
        recheck_after: float = RECHECK_AFTER_S,
    ) -> None:
        self.config_file = config_file or None
        self.endpoint = endpoint or None
        self.insecure = insecure
        self.console_endpoint = console_endpoint or None
        self.project = project
        self.domain = domain
        self.auto_start = auto_start
        self.local_only = local_only
        self.on_message = on_message
        self.state_dir = Path(state_dir) if state_dir is not None else local_backend_dir()
        self.local_python = local_python
        self.command = list(command) if command is not None else [sys.executable, "-m", "flyte_ls"]
        self.default_endpoint = default_endpoint
        self.cwd = cwd
        self.probe_timeout = probe_timeout
        self.start_timeout = start_timeout
        self.recheck_after = recheck_after
        self.notice: str | None = None
        """The last notice about the local backend (also passed to ``on_message``): once per backend found or
        started, so a local backend started again after it died is announced again."""
        self.local_status: dict[str, Any] | None = None
        """``flyte-ls local status --json`` of the local backend in use, when that is what is used."""
        self.started_process: subprocess.Popen[bytes] | None = None
        """The local backend process this Backend started (it is not stopped with the Backend)."""
        self.local_held = False
        """The local backend was stopped on request: only a command (``ensure()``) starts it again."""
        self._remote: AsyncFlyteRemote | None = None
        self._checked_at = 0.0
        self._local: Config | None = None
        self._told: str | None = None
        self._lock = asyncio.Lock()
        self._status_cache: tuple[float, dict[str, Any]] | None = None  # (when, the last status())

    def __repr__(self) -> str:
        endpoint = self._remote.config.endpoint if self._remote is not None else None
        return f"Backend(endpoint={endpoint!r}, project={self.project!r}, domain={self.domain!r})"

    @property
    def remote(self) -> AsyncFlyteRemote | None:
        """The remote of the last successful :meth:`ensure` (None before)."""
        return self._remote

    @property
    def local_in_use(self) -> dict[str, Any] | None:
        """``flyte-ls local status --json`` of the local backend when it is what the last successful
        :meth:`ensure` chose (auto-started, ``local_only``, or found running), else None (a configured
        backend or the sandbox address): its ``python_version`` is the Python tasks run on."""
        remote, local = self._remote, self._local
        if remote is None or local is None or remote.config != local:
            return None
        return self.local_status

    def invalidate(self) -> None:
        """Check the backend again at the next :meth:`ensure` (e.g. after an RPC found it gone)."""
        self._checked_at = 0.0
        self._status_cache = None

    async def ensure(self, *, start_after_stop: bool = True) -> AsyncFlyteRemote:
        """The remote for the backend, after checking that it answers (at most every ``recheck_after``
        seconds); starts the local backend when nothing is configured and nothing answers (unless
        it was stopped by :meth:`stop_local` and ``start_after_stop`` is False). Raises :class:`BackendError`
        with what to do."""
        async with self._lock:
            fresh = time.monotonic() - self._checked_at < self.recheck_after
            if self._remote is not None and fresh:
                return self._remote
            config = await self._resolve(start_after_stop)
            if self._remote is None or self._remote.config != config:
                previous, self._remote = self._remote, AsyncFlyteRemote(config, self.project, self.domain)
                if previous is not None:
                    await previous.aclose()
            self._checked_at = time.monotonic()
            return self._remote

    async def aclose(self) -> None:
        """Close the remote's channel. A local backend that was started keeps running (it is shared)."""
        remote, self._remote = self._remote, None
        if remote is not None:
            await remote.aclose()

    close = aclose

    # -- resolution -----------------------------------------------------------------------------------------

    async def _resolve(self, start_after_stop: bool = True) -> Config:
        if self.local_only:
            return await self._resolve_local(start_after_stop)
        source = await asyncio.to_thread(self._configured)
        if source is not None:
            problem = await self._probe(source.config)
            if problem is not None:
                raise BackendError(
                    f"The Flyte backend at {source.config.endpoint} ({source.where}) does not answer: "
                    f"{problem}. Start it, or change {source.setting}.",
                    setting=source.setting,
                )
            return source.config
        sandbox = self._with_overrides(replace(Config.for_sandbox(), endpoint=self.default_endpoint))
        if await self._probe(sandbox) is None:
            return sandbox
        if self._local is not None and await self._probe(self._local) is None:
            return self._local
        if not self.auto_start or self.local_held:
            # Not started here, but one already running in the state dir is used.
            status = await self._status()
            if status is not None:
                self._local = await self._use_local(status, started=False)
                return self._local
            if not (self.auto_start and start_after_stop):
                raise self._nothing_error()
            self.local_held = False  # a command after a stop: start it again
            self._local = await self._use_local(await self._start(), started=True)
            return self._local
        self._local = await self._local_backend()
        return self._local

    async def _resolve_local(self, start_after_stop: bool) -> Config:
        """``local_only``: the local backend in ``state_dir``, reused or started (``auto_start`` does not
        matter); after a stop, only a command starts it again."""
        if self._local is not None and await self._probe(self._local) is None:
            return self._local
        status = await self._status()
        if status is not None:
            self._local = await self._use_local(status, started=False)
            return self._local
        if self.local_held and not start_after_stop:
            raise self._nothing_error()
        self.local_held = False
        self._local = await self._use_local(await self._start(), started=True)
        return self._local

    @property
    def _local_setting(self) -> str:
        """The setting that decides about the local backend: ``flyte.backend`` when it chose it."""
        return "flyte.backend" if self.local_only else "flyte.local.autoStart"

    def _nothing_error(self) -> BackendError:
        if self.local_held and (self.auto_start or self.local_only):
            return BackendError(
                f"The local Flyte backend ({self.state_dir}) is not running: it was stopped from the editor. "
                "Run or register an entity, or start it (flyte.startLocalBackend), to start it again.",
                setting=self._local_setting,
            )
        return BackendError(
            "No Flyte backend: nothing is configured (flyte.endpoint, flyte.configFile, FLYTECTL_CONFIG, "
            f"~/.flyte/config.yaml) and nothing answers at {self.default_endpoint}. Set flyte.endpoint "
            "or flyte.configFile, start one (`flyte-ls local start`), or turn flyte.local.autoStart on.",
            setting="flyte.local.autoStart",
        )

    def _configured(self) -> _Source | None:
        """The backend the settings, a discovered config file or FLYTE_PLATFORM_URL name (reads files: run
        in a thread); None when nothing is configured."""
        try:
            if self.endpoint:
                config = Config.for_endpoint(
                    self.endpoint, self.insecure, config_file=self.config_file, cwd=self.cwd
                )
                return _Source(self._with_overrides(config), "setting flyte.endpoint", "flyte.endpoint")
            if self.config_file:
                path = Path(self.config_file).expanduser()
                if not path.is_file():
                    raise BackendError(
                        f"flyte.configFile names {path}, which is not a file: fix the setting or clear it",
                        setting="flyte.configFile",
                    )
                config = self._with_overrides(Config.auto(path, cwd=self.cwd), apply_insecure=True)
                return _Source(config, f"from {path}, setting flyte.configFile", "flyte.configFile")
            found = discover_config_file(cwd=self.cwd)
            if found is not None:
                config = self._with_overrides(Config.auto(cwd=self.cwd), apply_insecure=True)
                return _Source(
                    config,
                    f"from {found}, found by flytekit's config discovery",
                    f"flyte.endpoint or flyte.configFile (or edit {found})",
                )
            if os.environ.get("FLYTE_PLATFORM_URL"):
                config = self._with_overrides(Config.auto(cwd=self.cwd), apply_insecure=True)
                return _Source(config, "from FLYTE_PLATFORM_URL", "FLYTE_PLATFORM_URL or flyte.endpoint")
        except ConfigError as err:
            raise BackendError(
                f"{err} — fix it, or point flyte.configFile at another file", setting="flyte.configFile"
            ) from err
        return None

    def _with_overrides(self, config: Config, *, apply_insecure: bool = False) -> Config:
        changes: dict[str, Any] = {}
        if apply_insecure and self.insecure is not None:
            changes["insecure"] = self.insecure
        if self.console_endpoint:
            changes["console_endpoint"] = self.console_endpoint
        return replace(config, **changes) if changes else config

    async def _probe(self, config: Config, timeout: float | None = None) -> str | None:
        """None when something answers gRPC at ``config.endpoint`` within the probe deadline (``timeout``:
        at most that), else why not."""
        deadline = self.probe_timeout if timeout is None else min(timeout, self.probe_timeout)
        try:
            roots = await asyncio.to_thread(_root_certificates, config)
        except OSError as err:
            return f"cannot set up TLS ({err})"
        transport = Transport(
            config.endpoint,
            insecure=config.insecure,
            root_certificates=roots,
            deadlines=Deadlines(read=deadline),
            retry=RetryPolicy(max_attempts=1),
        )
        try:
            request = project_pb2.GetDomainRequest()
            call = transport.call("GetDomains", request, kind="read", timeout=deadline)
            await asyncio.wait_for(call, deadline + (1.0 if timeout is None else 0.5))
        except FlyteException as err:
            if err.code in _DOWN:
                return _first_line(getattr(err, "details", "") or str(err))
        except (TimeoutError, asyncio.TimeoutError):
            return f"no answer within {deadline:g} s"
        finally:
            await transport.aclose()
        return None

    # -- the local backend ----------------------------------------------------------------------------------

    async def _local_backend(self) -> Config:
        """Reuse the local backend running on ``state_dir``, or start one; its config; the notice, once."""
        status = await self._status()
        started = status is None
        if status is None:
            status = await self._start()
        return await self._use_local(status, started)

    async def _use_local(self, status: dict[str, Any], started: bool) -> Config:
        """The config of the local backend ``status`` reports; the notice about it, once."""
        self.local_status = status
        config = await asyncio.to_thread(Config.auto, str(status["config"]), cwd=self.cwd)
        config = self._with_overrides(config)
        if self.local_only:  # FLYTE_PLATFORM_URL & co. would win over the file: they name another backend
            config = replace(config, endpoint=str(status["admin_endpoint"]), insecure=True)
        verb = "Started" if started else "Using"
        where = f"{status['admin_endpoint']} (console {status['console_url']})"
        self._tell(
            str(status["admin_endpoint"]),
            f"{verb} the local Flyte backend at {where}; its state is in {status['state_dir']}"
            + (", and it keeps running after the editor closes." if started else "."),
        )
        return config

    async def _status(self) -> dict[str, Any] | None:
        """``flyte-ls local status --json`` for ``state_dir``: the report when a backend runs there."""
        report = await self._local_cli("status", STATUS_TIMEOUT_S)
        return report if report.get("running") else None

    async def _local_cli(self, action: str, timeout: float, *extra: str) -> dict[str, Any]:
        """``flyte-ls local <action> --json --state-dir <state_dir>``: its JSON report (any exit status)."""
        proc = await asyncio.create_subprocess_exec(
            *self.command, "local", action, "--json", "--state-dir", str(self.state_dir), *extra,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise
        except (TimeoutError, asyncio.TimeoutError):
            proc.kill()
            await proc.wait()
            raise BackendError(
                f"`flyte-ls local {action}` did not answer within {timeout:g} s",
                setting=self._local_setting,
            ) from None
        try:
            report: dict[str, Any] = json.loads(out)
        except ValueError:
            raise BackendError(
                f"`flyte-ls local {action}` failed (exit {proc.returncode}): {_first_line(err.decode())}",
                setting=self._local_setting,
            ) from None
        return report

    # -- on request: start, stop, status --------------------------------------------------------------------

    async def start_local(self) -> tuple[dict[str, Any], bool]:
        """Start the local backend on ``state_dir`` (whatever ``auto_start`` says), or reuse the one running
        there: its ``flyte-ls local status --json`` report and whether it was started now. Commands use it
        from now on when nothing else is configured (always with ``local_only``)."""
        async with self._lock:
            status = await self._status()
            started = status is None
            if status is None:
                status = await self._start()
            self.local_held = False
            self._told = str(status["admin_endpoint"])  # the caller reports it: no second notice
            self._local = await self._use_local(status, started)
            self._checked_at = 0.0  # the next ensure() resolves again (and finds it)
            self._status_cache = None
            return status, started

    async def stop_local(self) -> dict[str, Any]:
        """Stop the local backend on ``state_dir`` (``flyte-ls local stop``): its report, ``{"stopped": bool,
        "state_dir", ...}``. Until a command starts it again, the tracker's ``ensure(start_after_stop=False)``
        does not."""
        async with self._lock:
            report = await self._local_cli("stop", STOP_TIMEOUT_S)
            if "stopped" not in report:
                raise BackendError(f"`flyte-ls local stop` failed: {report}", setting=self._local_setting)
            if self.started_process is not None:
                await asyncio.to_thread(_reap, self.started_process)
            self.local_held = True
            self.local_status = None
            self._local = None
            self._told = None  # a backend started again later is announced again
            self._checked_at = 0.0
            self._status_cache = None
            return report

    async def status(self, refresh: bool = False) -> dict[str, Any]:
        """Which backend commands would use and whether it answers, without starting anything, within ~3 s
        (a backend that hangs costs the probe's deadline); kept for a few seconds unless ``refresh``.

        ``{endpoint, source, setting, reachable, error, project, domain, consoleUrl, configFile, local:
        {stateDir, running, adminEndpoint, consoleUrl, pid}, autoStart}`` (README "Status in the editor")."""
        cached = self._status_cache
        if not refresh and cached is not None and time.monotonic() - cached[0] < STATUS_CACHE_S:
            return dict(cached[1])
        local_task = asyncio.ensure_future(self._quick_local_status())
        try:
            result: dict[str, Any] | None
            if self.local_only:
                result = await self._status_chosen_local(local_task)
            else:
                result = await self._status_of_configured()
                if result is None:
                    result = await self._status_unconfigured(local_task)
            result["local"] = _local_json(self.state_dir, await local_task)
        finally:
            local_task.cancel()
        result |= {"project": self.project, "domain": self.domain, "autoStart": self.auto_start}
        self._status_cache = (time.monotonic(), result)
        return dict(result)

    async def _status_of_configured(self) -> dict[str, Any] | None:
        """The status of the configured backend; None when nothing is configured."""
        try:
            source = await asyncio.to_thread(self._configured)
        except BackendError as err:  # a config file that is missing or wrong
            if self.endpoint:
                where = "setting flyte.endpoint"
            elif self.config_file:
                where = f"setting flyte.configFile ({self.config_file})"
            else:
                where = "flytekit's config discovery"
            return _status_json(None, where, err.setting, str(err))
        if source is None:
            return None
        config = source.config
        problem = await self._probe(config, STATUS_PROBE_S)
        error = None
        if problem is not None:
            error = (
                f"The Flyte backend at {config.endpoint} ({source.where}) does not answer: {problem}. "
                f"Start it, or change {source.setting}."
            )
        return _status_json(config, source.where, source.setting, error)

    async def _status_unconfigured(self, local_task: asyncio.Future[dict[str, Any]]) -> dict[str, Any]:
        sandbox = self._with_overrides(replace(Config.for_sandbox(), endpoint=self.default_endpoint))
        if await self._probe(sandbox, STATUS_PROBE_S) is None:
            return _status_json(sandbox, f"sandbox {self.default_endpoint}", "flyte.endpoint", None)
        local = await local_task
        if local.get("running"):
            source = f"local backend (flyte-ls local, state in {self.state_dir})"
            return self._running_local_json(local, source, "flyte.endpoint")
        if self.auto_start and not self.local_held:
            error = (
                "Nothing is configured (flyte.endpoint, flyte.configFile, FLYTECTL_CONFIG, "
                f"~/.flyte/config.yaml) and nothing answers at {self.default_endpoint}: the first Run or "
                f"Register starts the local backend (state in {self.state_dir}), or start it now "
                "(flyte.startLocalBackend)."
            )
        else:
            error = str(self._nothing_error())
        result = _status_json(None, "none", "flyte.endpoint", error)
        return result

    async def _status_chosen_local(self, local_task: asyncio.Future[dict[str, Any]]) -> dict[str, Any]:
        """``local_only``: the status of the local backend, whatever else is configured."""
        source = f"local backend chosen by flyte.backend (flyte-ls local, state in {self.state_dir})"
        local = await local_task
        if local.get("running"):
            return self._running_local_json(local, source, "flyte.backend")
        if self.local_held:
            error = str(self._nothing_error())
        else:
            error = (
                "The local Flyte backend (chosen by flyte.backend) is not running: the first Run or "
                f"Register starts it (state in {self.state_dir}), or start it now (flyte.startLocalBackend)."
            )
        return _status_json(None, source, "flyte.backend", error)

    def _running_local_json(self, local: Mapping[str, Any], source: str, setting: str) -> dict[str, Any]:
        """The part of :meth:`status` about the running local backend ``local`` (its status report)."""
        console = f"{self.console_endpoint.rstrip('/')}/console" if self.console_endpoint else None
        return {
            "endpoint": local.get("admin_endpoint"),
            "source": source,
            "setting": setting,
            "reachable": True,
            "error": None,
            "consoleUrl": console or local.get("console_url"),
            "configFile": local.get("config"),
        }

    async def _quick_local_status(self) -> dict[str, Any]:
        """``flyte-ls local status --json`` of ``state_dir`` within :data:`LOCAL_STATUS_S` (not running
        when it does not answer in time)."""
        try:
            return await self._local_cli("status", LOCAL_STATUS_S)
        except BackendError as err:
            return {"running": False, "reason": str(err)}

    async def _start(self) -> dict[str, Any]:
        """Start ``flyte-ls local start`` detached and wait until ``status`` reports it (or another one that
        won the race for the state directory) running."""
        log_path = self.state_dir.parent / f"{self.state_dir.name}.log"
        cmd = [*self.command, "local", "start", "--port", "0", "--state-dir", str(self.state_dir)]
        if self.local_python:
            cmd += ["--python", self.local_python]
        log.info("starting the local Flyte backend: %s (log %s)", " ".join(cmd), log_path)
        # Popen, not asyncio's subprocess: asyncio kills a child still running when its transport is closed,
        # and this one must outlive the server. Its own session keeps it out of the editor's signals.
        proc = self.started_process = await asyncio.to_thread(_spawn, cmd, log_path)
        deadline = time.monotonic() + self.start_timeout
        while True:
            exited = proc.poll() is not None
            status = await self._status()
            if status is not None:
                return status
            if exited:  # a start that lost the race to another one is fine: the status above found it
                instead = (
                    'set flyte.backend to "auto" and configure a backend with flyte.endpoint or '
                    "flyte.configFile"
                    if self.local_only
                    else "configure a backend with flyte.endpoint or flyte.configFile, or turn "
                    "flyte.local.autoStart off"
                )
                raise BackendError(
                    f"The local Flyte backend did not start (exit {proc.returncode}): "
                    f"{await asyncio.to_thread(_tail, log_path)} (log: {log_path}). Fix that, or {instead}.",
                    setting=self._local_setting,
                )
            if time.monotonic() > deadline:
                proc.kill()
                raise BackendError(
                    f"The local Flyte backend did not become ready within {self.start_timeout:g} s "
                    f"(log: {log_path}).",
                    setting=self._local_setting,
                )
            await asyncio.sleep(0.3)

    def _tell(self, endpoint: str, message: str) -> None:
        if endpoint == self._told:
            return
        self._told = endpoint
        self.notice = message
        log.info("%s", message)
        if self.on_message is not None:
            self.on_message(message)


def console_base(config: Config) -> str:
    """The console's base URL for ``config`` (``console.endpoint``, else the endpoint) + ``/console``."""
    host = config.console_endpoint or f"{'http' if config.insecure else 'https'}://{config.endpoint}"
    return host.rstrip("/") + "/console"


def _status_json(
    config: Config | None, source: str, setting: str | None, error: str | None
) -> dict[str, Any]:
    """The part of :meth:`Backend.status` about one backend (``config`` None: none)."""
    return {
        "endpoint": config.endpoint if config is not None else None,
        "source": source,
        "setting": setting,
        "reachable": config is not None and error is None,
        "error": error,
        "consoleUrl": console_base(config) if config is not None else None,
        "configFile": str(config.source) if config is not None and config.source is not None else None,
    }


def _local_json(state_dir: Path, report: Mapping[str, Any]) -> dict[str, Any]:
    """``local`` of :meth:`Backend.status`, from ``flyte-ls local status --json``."""
    running = bool(report.get("running"))
    return {
        "stateDir": str(state_dir),
        "running": running,
        "adminEndpoint": report.get("admin_endpoint") if running else None,
        "consoleUrl": report.get("console_url") if running else None,
        "pid": report.get("pid") if running else None,
    }


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Collect the exit status of a local backend this process started and that was stopped (no zombie)."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _spawn(cmd: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True
        )


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(text[-lines:]) or "no output"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no details"
