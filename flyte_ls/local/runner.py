"""Run ONE attempt of a Python container task as propeller's k8s plugin would, in a local subprocess.

`run_task_attempt` is a *blocking* function: the executor calls it from a worker thread (or awaits
`run_task_attempt_async`, which runs it in a thread and turns task cancellation into an abort). It renders the
container args (reference §5), launches flytekit's entrypoint with the configured interpreter in a new session
(process group), waits for it under a timeout and a cancel event, and classifies the attempt from
`error.pb` / `futures.pb` / `outputs.pb` in the output prefix — never from the exit code alone, because
pyflyte-execute exits 0 when user code fails.

flytekit's entrypoints are forked from a warm, pre-imported server of the interpreter (flyte_ls.local.pool)
with the same argv, env, cwd and log; when the pool cannot take an attempt, or `FLYTE_LS_LOCAL_POOL=0`, it is
spawned (the attempt's log says why).

Paths are plain absolute paths, never `file://` URIs (reference §0.1).

Raw containers (flytekit's `ContainerTask`, task type `raw-container`): there is no container runtime here,
so the rendered command runs on this machine when its executable is found on the attempt's PATH — with
`{{.Inputs.<var>}}` rendered as propeller does and, when the data config is enabled, the inputs laid out and
the outputs read as Flyte's copilot does (flyte_ls.local.copilot), the container's input/output paths being
directories of the attempt. When the executable is not found, the attempt fails (USER, not retried) with an
error naming the image and the command: install the command here, or run the task on a Flyte cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from flyteidl.core import errors_pb2, execution_pb2, literals_pb2, tasks_pb2

from flyte_ls.local import copilot, pool

ENTRYPOINTS = ("pyflyte-fast-execute", "pyflyte-execute", "pyflyte-map-execute")
_ENTRYPOINT_FUNCTIONS = {
    "pyflyte-fast-execute": "fast_execute_task_cmd",
    "pyflyte-execute": "execute_task_cmd",
    "pyflyte-map-execute": "map_execute_task_cmd",
}
# Propeller's template syntax: case-insensitive, spaces allowed inside the braces, `.` or `$` as the prefix.
_TEMPLATE = re.compile(r"\{\{\s*[.$]([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Server-side variables that must not reach the task: the server's own import path, and flytekit execution
# variables the server process may have inherited.
_DROPPED_ENV_PREFIXES = ("FLYTE_INTERNAL_", "_F_", "BATCH_JOB_ARRAY_INDEX", "FLYTE_K8S_ARRAY_INDEX")
_DROPPED_ENV = frozenset(
    {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "FLYTE_ATTEMPT_NUMBER", "FLYTE_FAIL_ON_ERROR"}
)
KILL_GRACE_S = 2.0
_POLL_S = 0.02
_log = logging.getLogger(__name__)
_spawn_reasons: set[str] = set()


class AttemptPhase(enum.Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


class ErrorKind(enum.IntEnum):
    """`ContainerError.Kind`: whether propeller may retry the node."""

    NON_RECOVERABLE = errors_pb2.ContainerError.NON_RECOVERABLE
    RECOVERABLE = errors_pb2.ContainerError.RECOVERABLE


class ErrorOrigin(enum.IntEnum):
    """`ExecutionError.ErrorKind`: who is to blame (USER code or the SYSTEM)."""

    UNKNOWN = 0
    USER = 1
    SYSTEM = 2


class ExecutionKey(NamedTuple):
    project: str
    domain: str
    name: str


@dataclass(frozen=True)
class AttemptPaths:
    """Where one attempt reads and writes. Every path is a plain absolute path owned by the executor."""

    inputs: Path  # the node's inputs.pb ({{.input}}); written by run_task_attempt from `inputs`
    output_prefix: (
        Path  # <datadir>/<attempt> ({{.outputPrefix}}): outputs.pb, error.pb, futures.pb, deck.html
    )
    raw_output_prefix: Path  # per-attempt raw data ({{.rawOutputDataPrefix}})
    checkpoint: Path  # {{.checkpointOutputPrefix}}, normally <raw>/_flytecheckpoints
    prev_checkpoint: Path | None  # {{.prevCheckpointPrefix}}; None on the first attempt (rendered as `""`)
    workdir: Path  # private cwd and the rewritten --dest-dir (the fast-register code is extracted here)
    log: Path  # stdout + stderr of the attempt
    tmp: Path | None = None  # TMPDIR of the attempt (flytekit's sandbox dirs); default <workdir>/.tmp

    @property
    def tmpdir(self) -> Path:
        return self.tmp if self.tmp is not None else self.workdir / ".tmp"


@dataclass(frozen=True)
class AttemptError:
    code: str
    message: str
    kind: ErrorKind
    origin: ErrorOrigin
    uri: str = ""  # the error.pb this came from, when the task wrote one

    @property
    def recoverable(self) -> bool:
        return self.kind == ErrorKind.RECOVERABLE

    def to_execution_error(self) -> execution_pb2.ExecutionError:
        """The `core.ExecutionError` of task and node events (origin USER/SYSTEM as its kind)."""
        return execution_pb2.ExecutionError(
            code=self.code, message=self.message, error_uri=self.uri, kind=int(self.origin)
        )


@dataclass
class AttemptResult:
    phase: AttemptPhase
    log: Path
    duration_s: float
    exit_code: int | None = None  # None when the process could not be started
    error: AttemptError | None = None  # set unless SUCCEEDED
    outputs: literals_pb2.LiteralMap | None = None  # outputs.pb, when the task wrote one
    outputs_path: Path | None = None
    futures: bytes | None = None  # futures.pb (a serialized core.DynamicJobSpec) of a @dynamic task
    futures_path: Path | None = None
    deck: Path | None = None  # deck.html, when written
    argv: list[str] = field(default_factory=list)


_ABORTED = AttemptError(
    "Aborted", "the attempt was terminated", ErrorKind.NON_RECOVERABLE, ErrorOrigin.SYSTEM
)


class LaunchError(Exception):
    """The attempt cannot be launched as specified (NON_RECOVERABLE; SYSTEM unless the task is to blame)."""

    def __init__(
        self, message: str, origin: ErrorOrigin = ErrorOrigin.SYSTEM, code: str = "LaunchFailed"
    ) -> None:
        super().__init__(message)
        self.origin = origin
        self.code = code


def render_args(
    args: list[str],
    paths: AttemptPaths,
    *,
    fast_distribution: str | None = None,
    extra_values: Mapping[str, str] | None = None,
    inputs: literals_pb2.LiteralMap | None = None,
) -> list[str]:
    """Render propeller's `{{.var}}` templates and point `--dest-dir` at the private working dir.

    `extra_values` adds or overrides templates by lower-case name (`perretryuniquekey`, `namespace`,
    `tasktemplatepath`...). With `inputs`, `{{.Inputs.<var>}}` is rendered last, as propeller does (a value
    that cannot be rendered, or an unknown input, is a USER LaunchError); without, it is left as is.
    """
    values = {
        "input": str(paths.inputs),
        "inputprefix": str(paths.inputs.parent),
        "outputprefix": str(paths.output_prefix),
        "rawoutputdataprefix": str(paths.raw_output_prefix),
        "checkpointoutputprefix": str(paths.checkpoint),
        "prevcheckpointprefix": str(paths.prev_checkpoint) if paths.prev_checkpoint is not None else '""',
    }
    if fast_distribution is not None:
        values["remote_package_path"] = fast_distribution
    if extra_values:
        values.update({k.lower(): v for k, v in extra_values.items()})

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1).lower()
        if key in values:
            return values[key]
        if key == "remote_package_path":
            raise LaunchError(
                "the task's args reference {{ .remote_package_path }} but no fast-register distribution was "
                "given; register the task with `pyflyte register` (it uploads the code) or pass the tarball"
            )
        return match.group(0)

    rendered = [_TEMPLATE.sub(substitute, arg) for arg in args]
    if inputs is not None:
        try:
            rendered = [copilot.render_inputs(arg, inputs) for arg in rendered]
        except copilot.CopilotError as exc:
            raise LaunchError(str(exc), ErrorOrigin.USER) from None
    if rendered and rendered[0] == "pyflyte-fast-execute":
        # Only the fast-execute part (before the first `--`) carries --dest-dir.
        end = rendered.index("--") if "--" in rendered else len(rendered)
        for i in range(1, end - 1):
            if rendered[i] == "--dest-dir":
                rendered[i + 1] = str(paths.workdir)
                break
    return rendered


def per_retry_unique_key(execution_name: str, node_id: str, attempt: int) -> str:
    """`{{.perRetryUniqueKey}}`: the attempt's name as `[a-zA-Z0-9_]`, starting with a letter."""
    key = re.sub(r"[^a-zA-Z0-9_]", "_", f"{execution_name}-{node_id}-{attempt}")
    return key if key[:1].isalpha() else "a" + key


def entrypoint_argv(rendered: list[str], python: str) -> list[str]:
    """Turn `pyflyte-execute ...` into a command run by the configured interpreter's environment.

    The console script next to `python` (`<bin>/pyflyte-execute`, as flytekit installs it) is preferred;
    otherwise flytekit's entrypoint function is called through `python -c`.
    """
    if not rendered:
        raise LaunchError("the task's container has neither command nor args; nothing to run")
    head, rest = rendered[0], rendered[1:]
    if head not in ENTRYPOINTS:
        return rendered
    script = Path(python).parent / head
    if script.is_file() and os.access(script, os.X_OK):
        return [python, str(script), *rest]
    function = _ENTRYPOINT_FUNCTIONS[head]
    return [python, "-c", f"from flytekit.bin.entrypoint import {function}; {function}()", *rest]


def interpreter_env(python: str, base_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The backend's env (or `base_env`) minus its import path and execution variables; `python`'s bin first
    on PATH."""
    source = os.environ if base_env is None else base_env
    env = {
        k: v for k, v in source.items() if k not in _DROPPED_ENV and not k.startswith(_DROPPED_ENV_PREFIXES)
    }
    bin_dir = str(Path(python).parent)
    env["PATH"] = os.pathsep.join([bin_dir, *[p for p in env.get("PATH", "").split(os.pathsep) if p]])
    return env


def attempt_env(
    template: tasks_pb2.TaskTemplate,
    *,
    python: str,
    execution: ExecutionKey,
    attempt: int,
    workflow_name: str = "",
    array_index: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    tmpdir: Path | None = None,
) -> dict[str, str]:
    """The attempt's env: the server's minus its import path, the template env, then propeller's variables."""
    env = interpreter_env(python, base_env)
    if tmpdir is not None:
        # flytekit makes a sandbox dir per run (tempfile.mkdtemp) and leaves it: keep it inside the attempt.
        env["TMPDIR"] = str(tmpdir)
    for kv in template.container.env:
        env[kv.key] = kv.value
    task = template.id
    env.update(
        {
            "FLYTE_INTERNAL_EXECUTION_ID": execution.name,
            "FLYTE_INTERNAL_EXECUTION_PROJECT": execution.project,
            "FLYTE_INTERNAL_EXECUTION_DOMAIN": execution.domain,
            "FLYTE_INTERNAL_EXECUTION_WORKFLOW": f"{execution.project}:{execution.domain}:{workflow_name}",
            "FLYTE_INTERNAL_TASK_PROJECT": task.project,
            "FLYTE_INTERNAL_TASK_DOMAIN": task.domain,
            "FLYTE_INTERNAL_TASK_NAME": task.name,
            "FLYTE_INTERNAL_TASK_VERSION": task.version,
            "FLYTE_ATTEMPT_NUMBER": str(attempt),
        }
    )
    if extra_env:
        env.update(extra_env)
    if array_index is not None:
        env["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] = "FLYTE_K8S_ARRAY_INDEX"
        env["FLYTE_K8S_ARRAY_INDEX"] = str(array_index)
    return env


def run_task_attempt(
    template: tasks_pb2.TaskTemplate,
    *,
    inputs: literals_pb2.LiteralMap,
    python: str,
    work: AttemptPaths,
    execution: ExecutionKey | tuple[str, str, str],
    node_id: str,
    attempt: int,
    fast_distribution: str | None = None,
    timeout_s: float | None = None,
    cancel: threading.Event | None = None,
    workflow_name: str = "",
    array_index: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    kill_grace_s: float = KILL_GRACE_S,
) -> AttemptResult:
    """Run one attempt of `template` to completion. BLOCKING: call it from a thread, never from an event loop.

    `cancel.set()` (from any thread) kills the attempt's process group → ABORTED; `timeout_s` → TIMED_OUT.
    `array_index` runs one index of a map task (`pyflyte-map-execute` picks that element of the full inputs).
    `node_id` only labels the log; the paths in `work` already encode it.
    """
    start = time.monotonic()
    execution = ExecutionKey(*execution)
    if cancel is not None and cancel.is_set():
        return AttemptResult(AttemptPhase.ABORTED, work.log, 0.0, error=_ABORTED)
    _prepare(work, inputs)
    env = attempt_env(
        template,
        python=python,
        tmpdir=work.tmpdir,
        execution=execution,
        attempt=attempt,
        workflow_name=workflow_name,
        array_index=array_index,
        extra_env=extra_env,
    )
    data_dirs: tuple[Path, Path] | None = None
    try:
        rendered = render_args(
            rendered_source(template),
            work,
            fast_distribution=fast_distribution,
            extra_values={
                "perRetryUniqueKey": per_retry_unique_key(execution.name, node_id, attempt),
                "namespace": f"{execution.project}-{execution.domain}",
                "taskTemplatePath": str(work.inputs.parent / "task.pb"),
            },
            inputs=inputs,
        )
        if any("tasktemplatepath" in arg.lower() for arg in rendered_source(template)):
            (work.inputs.parent / "task.pb").write_bytes(template.SerializeToString(deterministic=True))
        if rendered and rendered[0] not in ENTRYPOINTS:
            data_dirs, rendered = _raw_container(template, rendered, inputs, work, env)
        argv = entrypoint_argv(rendered, python)
    except LaunchError as exc:
        _log_line(work.log, f"# {execution.name}/{node_id} attempt {attempt} not launched: {exc}")
        error = AttemptError(exc.code, str(exc), ErrorKind.NON_RECOVERABLE, exc.origin)
        return AttemptResult(AttemptPhase.FAILED, work.log, time.monotonic() - start, error=error)
    with open(work.log, "ab") as log:
        log.write(f"# {execution.name}/{node_id} attempt {attempt}: {' '.join(argv)}\n".encode())
        log.flush()
        try:
            proc = _launch(argv, python, env, work, log, pooled=rendered[0] in ENTRYPOINTS)
        except OSError as exc:
            message = f"could not start {argv[0]!r}: {exc}; check the backend's --python interpreter"
            log.write(f"{message}\n".encode())
            error = AttemptError("LaunchFailed", message, ErrorKind.NON_RECOVERABLE, ErrorOrigin.SYSTEM)
            return AttemptResult(
                AttemptPhase.FAILED, work.log, time.monotonic() - start, error=error, argv=argv
            )
        try:
            stopped = _wait(proc, start, timeout_s, cancel, kill_grace_s)
        except BaseException:  # never leave a task running behind an interrupted waiter
            _kill_group(proc, 0.0)
            raise
    duration = time.monotonic() - start
    if isinstance(proc, pool.PooledProcess) and proc.lost:
        _log_line(work.log, "# the fork server exited during the attempt; the attempt was killed with it")
    result = AttemptResult(AttemptPhase.FAILED, work.log, duration, exit_code=proc.returncode, argv=argv)
    deck = work.output_prefix / "deck.html"
    result.deck = deck if deck.is_file() else None
    if stopped == "timeout":
        result.phase = AttemptPhase.TIMED_OUT
        result.error = AttemptError(
            "TimeoutExpired",
            f"task {template.id.name} did not finish within {timeout_s:g}s and was killed; "
            f"see the log {work.log}",
            ErrorKind.RECOVERABLE,
            ErrorOrigin.USER,
        )
        return result
    if stopped == "cancel":
        result.phase = AttemptPhase.ABORTED
        result.error = _ABORTED
        return result
    if data_dirs is not None and proc.returncode == 0:
        _collect_copilot_outputs(template, data_dirs[1], work)
    return _classify(result, template, work)


def _raw_container(
    template: tasks_pb2.TaskTemplate,
    rendered: list[str],
    inputs: literals_pb2.LiteralMap,
    work: AttemptPaths,
    env: Mapping[str, str],
) -> tuple[tuple[Path, Path] | None, list[str]]:
    """A command that is no flytekit entrypoint: check it exists here, and lay out copilot's data dirs."""
    command = rendered[0]
    if "/" in command:
        found = (work.workdir / command).is_file() and os.access(work.workdir / command, os.X_OK)
    else:
        found = shutil.which(command, path=env.get("PATH", "")) is not None
    if not found:
        image = template.container.image or "(none)"
        raise LaunchError(
            f"task {template.id.name} runs {command!r} in the container image {image!r}, and the local "
            "backend has no container runtime: it runs the command on this machine, where "
            f"{command!r} is not found on PATH ({env.get('PATH', '')}). Install {command!r} here, "
            "or run the task on a Flyte cluster.",
            ErrorOrigin.USER,
            "CommandNotFound",
        )
    config = template.container.data_config
    if not config.enabled:
        return None, rendered
    try:
        input_dir = copilot.host_dir(work.workdir, config.input_path or "/var/flyte/inputs")
        output_dir = copilot.host_dir(work.workdir, config.output_path or "/var/flyte/outputs")
        for directory in (input_dir, output_dir):
            if directory.exists():  # a re-run of this attempt after a restart starts clean
                shutil.rmtree(directory)
        output_dir.mkdir(parents=True)
        copilot.write_inputs(inputs, input_dir, config.format)
    except (copilot.CopilotError, OSError) as exc:
        raise LaunchError(
            f"the raw container's inputs could not be laid out: {exc}", ErrorOrigin.USER
        ) from None
    mapping = {
        path: host
        for path, host in ((config.input_path, input_dir), (config.output_path, output_dir))
        if path
    }
    return (input_dir, output_dir), [copilot.rewrite_paths(arg, mapping) for arg in rendered]


def _collect_copilot_outputs(template: tasks_pb2.TaskTemplate, output_dir: Path, work: AttemptPaths) -> None:
    """Turn what the command left in its output dir into outputs.pb (or error.pb), as copilot's sidecar."""
    try:
        outputs = copilot.read_outputs(
            template.interface.outputs.variables, output_dir, work.raw_output_prefix
        )
    except (copilot.CopilotError, OSError) as exc:
        user_error = isinstance(exc, copilot.CopilotError) and str(exc).startswith("User Error: ")
        document = errors_pb2.ErrorDocument(
            error=errors_pb2.ContainerError(
                code="USER:RawContainerError" if user_error else "USER:RawContainerOutputs",
                message=str(exc),
                kind=errors_pb2.ContainerError.NON_RECOVERABLE,
                origin=execution_pb2.ExecutionError.USER,
            )
        )
        (work.output_prefix / "error.pb").write_bytes(document.SerializeToString(deterministic=True))
        return
    (work.output_prefix / "outputs.pb").write_bytes(outputs.SerializeToString(deterministic=True))


async def run_task_attempt_async(
    template: tasks_pb2.TaskTemplate,
    **kwargs: object,
) -> AttemptResult:
    """`run_task_attempt` in a thread; cancelling the awaiting task aborts the attempt and waits for it."""
    cancel = kwargs.pop("cancel", None) or threading.Event()
    assert isinstance(cancel, threading.Event)
    future = asyncio.ensure_future(asyncio.to_thread(run_task_attempt, template, cancel=cancel, **kwargs))  # type: ignore[arg-type]
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        cancel.set()
        with contextlib.suppress(Exception):
            await future
        raise


def _launch(
    argv: list[str], python: str, env: dict[str, str], work: AttemptPaths, log: BinaryIO, *, pooled: bool
) -> subprocess.Popen[bytes] | pool.PooledProcess:
    """Fork the attempt from the warm pool when it can take it; otherwise spawn it (the log says why)."""
    reason = pool.disabled_reason() if pooled else "not a flytekit entrypoint"
    if reason is None:
        try:
            return pool.launch(
                python,
                argv,
                env=env,
                cwd=str(work.workdir),
                log_path=str(work.log),
                server_env=interpreter_env(python),
            )
        except pool.PoolUnavailable as exc:
            reason = str(exc)
            # Once per reason at WARNING (a map task's thousand indexes must not repeat it), then DEBUG.
            level = logging.DEBUG if reason in _spawn_reasons else logging.WARNING
            _spawn_reasons.add(reason)
            _log.log(level, "task attempt spawned instead of forked from the pool: %s", reason)
            _clear_outputs(work)  # whatever a killed pool child may have begun to write
    log.write(f"# spawned: {reason}\n".encode())
    log.flush()
    return subprocess.Popen(
        argv,
        cwd=work.workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def rendered_source(template: tasks_pb2.TaskTemplate) -> list[str]:
    return [*template.container.command, *template.container.args]


def _log_line(path: Path, line: str) -> None:
    with open(path, "ab") as log:
        log.write(f"{line}\n".encode())


def _prepare(work: AttemptPaths, inputs: literals_pb2.LiteralMap) -> None:
    for directory in (
        work.output_prefix,
        work.raw_output_prefix,
        work.workdir,
        work.tmpdir,
        work.inputs.parent,
        work.log.parent,
    ):
        directory.mkdir(parents=True, exist_ok=True)
    # A re-run of the same attempt (after a backend restart) must not read a previous run's results.
    _clear_outputs(work)
    # A unique temporary name: attempts that share one inputs file (map-task indexes) may write it at once.
    fd, tmp_name = tempfile.mkstemp(prefix=work.inputs.name + ".", suffix=".tmp", dir=work.inputs.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(inputs.SerializeToString(deterministic=True))
        os.replace(tmp_name, work.inputs)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _clear_outputs(work: AttemptPaths) -> None:
    for name in ("outputs.pb", "error.pb", "futures.pb", "deck.html"):
        (work.output_prefix / name).unlink(missing_ok=True)


def _wait(
    proc: subprocess.Popen[bytes] | pool.PooledProcess,
    start: float,
    timeout_s: float | None,
    cancel: threading.Event | None,
    grace_s: float,
) -> str | None:
    """Wait for the process; on timeout or cancel kill its whole group. Returns "timeout", "cancel", None."""
    deadline = None if timeout_s is None else start + timeout_s
    reason: str | None = None
    while True:
        try:
            proc.wait(timeout=_POLL_S)
            break
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.is_set():
            reason = "cancel"
        elif deadline is not None and time.monotonic() >= deadline:
            reason = "timeout"
        if reason is not None:
            _kill_group(proc, grace_s)
            break
    # Whatever the task left behind in its session dies with the attempt, as a pod's processes do. (The fork
    # server does this itself before it reaps the attempt: here its pid may already be reused.)
    if isinstance(proc, subprocess.Popen):
        _signal_group(proc.pid, signal.SIGKILL)
    return reason


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill_group(proc: subprocess.Popen[bytes] | pool.PooledProcess, grace_s: float) -> None:
    if proc.poll() is not None:
        return
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _classify(result: AttemptResult, template: tasks_pb2.TaskTemplate, work: AttemptPaths) -> AttemptResult:
    error_pb = work.output_prefix / "error.pb"
    if error_pb.is_file():
        document = errors_pb2.ErrorDocument.FromString(error_pb.read_bytes())
        container = document.error
        result.error = AttemptError(
            container.code,
            container.message,
            ErrorKind(container.kind),
            ErrorOrigin(container.origin) if container.origin in (1, 2) else ErrorOrigin.UNKNOWN,
            str(error_pb),
        )
        return result
    if result.exit_code != 0:
        result.error = AttemptError(
            "ProcessExited",
            f"the task process exited with code {result.exit_code} without writing an error document; "
            f"see the log {work.log}\n{_tail(work.log)}",
            ErrorKind.RECOVERABLE,
            ErrorOrigin.SYSTEM,
        )
        return result
    futures = work.output_prefix / "futures.pb"
    if futures.is_file():
        result.futures = futures.read_bytes()
        result.futures_path = futures
        result.phase = AttemptPhase.SUCCEEDED
        return result
    outputs = work.output_prefix / "outputs.pb"
    if outputs.is_file():
        result.outputs = literals_pb2.LiteralMap.FromString(outputs.read_bytes())
        result.outputs_path = outputs
    elif template.interface.outputs.variables:
        result.error = AttemptError(
            "OutputsNotFound",
            f"the task declares outputs but wrote no {outputs}; see the log {work.log}",
            ErrorKind.RECOVERABLE,
            ErrorOrigin.SYSTEM,
        )
        return result
    result.phase = AttemptPhase.SUCCEEDED
    return result


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode(errors="replace")
    except OSError:
        return ""
