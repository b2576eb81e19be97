"""The ``flyte.*`` commands (issue 5 §4): register, execute and act on executions from the editor.

Each command takes one JSON object (:mod:`.commands_args` validates it; a bad one is ``InvalidParams`` naming
the field and the form expected). Register and execute serialize the entity in the user's interpreter
(``runs.worker``), register it under a content version (:func:`flyte_ls.run.registration.register`) and, for
execute, launch it and hand it to the tracker. They report work-done progress (serializing → packaging →
uploading → registering → launching) and stop between steps when the client cancels. Backend and worker
failures become LSP errors whose message says what to do; the server stays up. Nothing here blocks the event
loop: file reads go through ``server.in_thread``. The commands on an execution (relaunch, terminate, gates,
outputs, console, tracking) live in :mod:`.commands_executions`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcRequestCancelled

from flyte_ls.analysis.modpath import source_root_for
from flyte_ls.remote.errors import FlyteException
from flyte_ls.remote.identifiers import Identifier, ResourceType
from flyte_ls.remote.literals import LiteralConversionError, literal_types, type_string
from flyte_ls.remote.literals_types import type_info
from flyte_ls.run.paths import user_cache_dir
from flyte_ls.server import constants as c
from flyte_ls.server.documents import fs_path
from flyte_ls.server.features import commands_executions as on_execution
from flyte_ls.server.features.commands_args import Args, execution_json
from flyte_ls.server.features.notebooks import NotebookCells, entity_cells
from flyte_ls.server.runs import RunService, runs_of
from flyte_ls.server.server import FlyteLanguageServer

if TYPE_CHECKING:
    from flyte_ls.run.registration import Registration
    from flyte_ls.run.worker_client import WorkerError

log = logging.getLogger(__name__)

PROGRESS_CREATE_TIMEOUT_S = 5.0
# The worker's error codes (flyte_ls/worker), kept in the LSP error: a client can tell them apart.
WORKER_ERROR_CODES = {"import": -32001, "entity": -32002, "serialize": -32003}
Handler = Callable[[FlyteLanguageServer, Args], Awaitable[Any]]
# The worker's refusal of a notebook entity whose tasks run on another Python (flyte_ls/worker/notebook.py)
PYTHON_VERSION_KIND = "pythonVersion"


# -- errors ----------------------------------------------------------------------------------------------
def _request_failed(command: str, message: str, data: Any = None) -> JsonRpcException:
    return JsonRpcException(
        code=types.LSPErrorCodes.RequestFailed.value, message=f"{command}: {message}", data=data
    )


def translate(command: str, exc: Exception) -> JsonRpcException:
    """A failure of the worker, the registration or the backend as an LSP error that says what to do."""
    if isinstance(exc, JsonRpcException):
        return exc
    if isinstance(exc, LiteralConversionError):
        return JsonRpcInvalidParams(f"{command}: {exc}")
    kind = getattr(exc, "kind", None)
    if isinstance(kind, str) and hasattr(exc, "frames"):  # the worker's: the user's traceback as frames
        data = {"kind": kind, "frames": list(exc.frames), "traceback": getattr(exc, "traceback", "")}
        code = WORKER_ERROR_CODES.get(kind, types.LSPErrorCodes.RequestFailed.value)
        return JsonRpcException(code=code, message=f"{command}: {exc}", data=data)
    if isinstance(exc, FlyteException):
        return _request_failed(command, str(exc))
    if isinstance(exc, (OSError, ValueError, TypeError, RuntimeError)):
        return _request_failed(command, str(exc) or type(exc).__name__)
    log.exception("%s failed", command)
    return _request_failed(command, f"{type(exc).__name__}: {exc} (see the flyte-ls log for the traceback)")


# -- progress --------------------------------------------------------------------------------------------
class Progress:
    """Work-done progress of one command (server-initiated token); ``step`` also checks cancellation."""

    def __init__(self, server: FlyteLanguageServer, command: str, title: str) -> None:
        self.server, self.command, self.title = server, command, title
        self.token: str | None = None

    async def begin(self) -> None:
        if not self.server.client_has("window.work_done_progress"):
            return
        token = f"flyte-ls-{uuid.uuid4().hex[:12]}"
        try:
            await _with_timeout(self.server.work_done_progress.create_async(token), PROGRESS_CREATE_TIMEOUT_S)
        except Exception as exc:  # the client refused or did not answer: run without progress
            log.info("%s: no progress shown (%s)", self.command, exc)
            return
        self.token = token
        self.server.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=self.title, cancellable=True, message="starting")
        )

    def step(self, message: str) -> None:
        """Report the next step; raise ``RequestCancelled`` when the client cancelled the progress."""
        self.check()
        if self.token is not None:
            self.server.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message))

    def check(self) -> None:
        if self.token is None:
            return
        future = self.server.work_done_progress.tokens.get(self.token)
        if future is not None and future.cancelled():
            raise JsonRpcRequestCancelled(f"{self.command}: cancelled")

    def fail(self, error: BaseException) -> None:
        """End the progress with why the command failed (``failed: missing required inputs: n (int)``)."""
        self.end(failure_text(self.command, error))

    def end(self, message: str) -> None:
        if self.token is not None:
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.server.work_done_progress.tokens.pop(self.token, None)
            self.token = None


MAX_FAILURE_TEXT = 200


def failure_text(command: str, error: BaseException) -> str:
    """``failed: <reason>``: the error's message without the command's name, on one line, short; a
    cancellation is ``cancelled``."""
    if isinstance(error, JsonRpcRequestCancelled) or not isinstance(error, Exception):
        return "cancelled"
    message = error.message if isinstance(error, JsonRpcException) else str(error)
    message = message or type(error).__name__
    prefix = f"{command}: "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    reason = " ".join(message.split())
    # "missing required inputs: n (int); pass them in `inputs` or `inputsFile`." -> the first clause
    reason = reason.split("; ", 1)[0].rstrip(".")
    if len(reason) > MAX_FAILURE_TEXT:
        reason = reason[: MAX_FAILURE_TEXT - 1] + "…"
    return f"failed: {reason}"


async def _with_timeout(awaitable: Awaitable[Any], timeout: float) -> Any:
    import asyncio

    return await asyncio.wait_for(asyncio.ensure_future(awaitable), timeout)


# -- shared steps ----------------------------------------------------------------------------------------
class EntityTarget:
    """``{uri, entity, project?, domain?}``: the file (or the open notebook: ``uri`` is the notebook's or
    one of its cells'), its source root, where it goes."""

    def __init__(self, server: FlyteLanguageServer, args: Args) -> None:
        self.uri = args.required("uri")
        self.entity = args.required("entity")
        self.project = args.string("project", required=False) or server.settings.project
        self.domain = args.string("domain", required=False) or server.settings.domain
        self.notebook: NotebookCells | None = None
        notebook_uri = _notebook_of(server, self.uri)
        if notebook_uri is not None:
            # Tracked under the notebook's URI: its status diagnostics are published per cell.
            self.uri = notebook_uri
            self.notebook = entity_cells(server, notebook_uri, self.entity)
            if self.notebook is None:
                raise JsonRpcInvalidParams(
                    f"{args.command}: no task or workflow named {self.entity!r} in the notebook "
                    f"{notebook_uri}."
                )
            path = fs_path(notebook_uri)
            self.path = path or ""
            self.source_root = os.path.dirname(path) if path else os.getcwd()
            return
        path = fs_path(self.uri)
        if path is not None and path.endswith(".ipynb"):
            raise JsonRpcInvalidParams(
                f"{args.command}: the notebook {os.path.basename(path)} is not open: open it in the editor "
                "(Run and Register use its cells as the editor has them, not the file)."
            )
        if path is None or not os.path.isfile(path):
            raise JsonRpcInvalidParams(
                f"{args.command}: `uri` {self.uri!r} is not a file on disk; save the file first "
                "(Run and Register import it from disk)."
            )
        self.path = path
        self.source_root = str(source_root_for(path))


def _notebook_of(server: FlyteLanguageServer, uri: str) -> str | None:
    """The open notebook ``uri`` is (or holds as a cell), else None."""
    if server.documents.cells_of(uri) is not None:
        doc = server.documents.get(uri)
        return doc.uri if doc is not None else uri
    owner = server.documents.cell(uri)
    return owner[0].uri if owner is not None else None


def _notebook_out_dir(target: EntityTarget) -> Path:
    """A folder of the user cache for this notebook entity's pickle, emptied for each request (a pickle
    left from an earlier run is never registered by mistake)."""
    key = hashlib.sha256(f"{target.uri}\0{target.entity}".encode()).hexdigest()[:16]
    out = user_cache_dir() / "notebooks" / key
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


async def _serialize(runs: RunService, target: EntityTarget, progress: Progress) -> Any:
    progress.step(f"serializing {target.entity}")
    runs.ensure_started()
    assert runs.worker is not None
    if target.notebook is not None:
        return await _serialize_notebook(runs, target)
    return await runs.worker.serialize(
        target.path,
        target.entity,
        target.source_root,
        target.project,
        target.domain,
        runs.server.settings.image,
    )


async def _serialize_notebook(runs: RunService, target: EntityTarget) -> Any:
    """Pickle a notebook entity; refused by the worker before anything is pickled or uploaded when the
    notebook's interpreter has another Python than the one its tasks will run on
    (:meth:`RunService.task_python`: the local backend's or the image's; the error says which and what to
    change)."""
    from flyte_ls.run.task_python import mismatch_message
    from flyte_ls.run.worker_client import WorkerError

    assert target.notebook is not None and runs.worker is not None
    tasks = await runs.task_python()
    log.info(
        "%s: pythonVersionCheck %s",
        target.entity,
        f"{tasks.version} ({tasks.source}: {tasks.where})" if tasks is not None else "none (unknown)",
    )
    cells = target.notebook
    out_dir = await runs.server.in_thread(None, _notebook_out_dir, target)
    try:
        return await runs.worker.serialize_notebook(
            cells.sources,
            target.entity,
            cells.index,
            runs.server.settings.image,
            python_version_check=tasks.version if tasks is not None else None,
            cwd=target.source_root,
            out_dir=out_dir,
        )
    except WorkerError as err:
        if err.kind == PYTHON_VERSION_KIND and tasks is not None:
            mine = str(err.data.get("python") or "another version")
            raise WorkerError(mismatch_message(runs.worker.python, mine, tasks), kind=err.kind) from None
        if err.kind == "import" and isinstance(err.data.get("cell"), int):
            raise _failed_cell(err, cells) from None
        raise


def _failed_cell(err: WorkerError, cells: NotebookCells) -> WorkerError:
    """The worker's "running cell N failed" in the user's terms: which code cell (counted from 1, with its
    first line, since editors show no cell numbers) and its line; the frame names the cell's URI."""
    from flyte_ls.run.worker_client import Frame, WorkerError

    index, line = int(err.data["cell"]), int(err.data.get("line") or 0)
    if not 0 <= index < len(cells.uris):
        return err
    first = next((text.strip() for text in cells.sources[index].splitlines() if text.strip()), "")
    shown = first if len(first) <= 40 else first[:39] + "…"
    message = (
        f"running the notebook's code cell {index + 1} of {len(cells.uris)} (`{shown}`) failed at its line "
        f"{line}: {err.data.get('error') or err.message} — fix the cell (cells 1..{cells.index + 1} run "
        "before the entity is pickled)"
    )
    frame = Frame(file=cells.uris[index], line=line, name="<cell>")
    return WorkerError(message, kind=err.kind, frames=[frame], traceback=err.traceback, data=err.data)


async def _register(
    runs: RunService, target: EntityTarget, result: Any, progress: Progress, version: str | None = None
) -> Registration:
    from flyte_ls.run.registration import register, register_notebook_entity

    remote = await runs.remote()
    progress.check()
    if target.notebook is not None:
        registration = await register_notebook_entity(
            remote,
            result,
            result.pickle.path,
            project=target.project,
            domain=target.domain,
            version=version,
            on_step=progress.step,
        )
    else:
        registration = await register(
            remote,
            result,
            source_root=target.source_root,
            project=target.project,
            domain=target.domain,
            version=version,
            on_step=progress.step,
        )
    runs.registrations[(target.uri, target.entity)] = registration
    log.info(
        "Registered %s as %s (%d entities; packaged %s)",
        registration.target.name,
        registration.version,
        len(registration.entities),
        ", ".join(registration.packaged_files),
    )
    return registration


def _registration_json(registration: Registration) -> dict[str, Any]:
    return {
        "version": registration.version,
        "entities": [
            {
                "resourceType": ResourceType(e.resource_type).name,
                "project": e.project,
                "domain": e.domain,
                "name": e.name,
                "version": e.version,
            }
            for e in registration.entities
        ],
        "consoleUrl": registration.console_url,
        "packagedFiles": list(registration.packaged_files),
    }


async def _read_inputs_file(
    server: FlyteLanguageServer, command: str, name: str, root: str
) -> dict[str, Any]:
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = Path(root) / path

    def read() -> Any:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # only an inputs file in YAML needs it

            return yaml.safe_load(text)
        return json.loads(text)

    try:
        data = await server.in_thread(None, read)
    except FileNotFoundError:
        raise JsonRpcInvalidParams(
            f"{command}: `inputsFile` {str(path)!r} does not exist (a relative path is relative to the "
            f"workspace folder {root})."
        ) from None
    except Exception as exc:
        raise JsonRpcInvalidParams(
            f"{command}: `inputsFile` {str(path)!r} is not valid JSON or YAML: {exc}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise JsonRpcInvalidParams(
            f"{command}: `inputsFile` {str(path)!r} must hold one object (input name → value), "
            f"got {type(data).__name__}."
        )
    return data


def _inputs_to_send(command: str, result: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The given inputs plus the signature defaults (as literals) of the others; unknown names are an
    ``InvalidParams`` error and required inputs without a value one whose ``data`` lists them
    (``{"missingInputs": [{name, type, typeInfo}]}``: ``typeInfo`` is :func:`type_info`'s JSON)."""
    variables = result.interface.inputs
    declared = literal_types(variables)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise JsonRpcInvalidParams(
            f"{command}: no input named {', '.join(map(repr, unknown))}; the inputs are: "
            f"{', '.join(sorted(declared)) or 'none'}."
        )
    defaults: Mapping[str, Any] = result.defaults or {}
    missing = [name for name in declared if name not in given and name not in defaults]
    if missing:
        raise JsonRpcException(
            code=types.ErrorCodes.InvalidParams.value,
            message=f"{command}: missing required inputs: "
            + ", ".join(f"{n} ({type_string(declared[n])})" for n in missing)
            + "; pass them in `inputs` or `inputsFile`.",
            data={
                "missingInputs": [
                    {"name": n, "type": type_string(declared[n]), "typeInfo": type_info(declared[n])}
                    for n in missing
                ]
            },
        )
    values: dict[str, Any] = {n: defaults[n] for n in declared if n not in given}
    values.update(given)
    return values


# -- the commands ----------------------------------------------------------------------------------------
async def register_command(ls: FlyteLanguageServer, args: Args) -> Any:
    runs = runs_of(ls)
    target = EntityTarget(ls, args)
    version = args.string("version", required=False)
    progress = Progress(ls, args.command, f"Registering {target.entity}")
    await progress.begin()
    try:
        result = await _serialize(runs, target, progress)
        registration = await _register(runs, target, result, progress, version)
    except BaseException as error:
        progress.fail(error)
        raise
    progress.end(f"registered {registration.version}")
    return _registration_json(registration)


async def execute_command(ls: FlyteLanguageServer, args: Args) -> Any:
    runs = runs_of(ls)
    target = EntityTarget(ls, args)
    given: dict[str, Any] = {}
    if args.has("inputsFile"):
        given.update(
            await _read_inputs_file(ls, args.command, args.required("inputsFile"), runs.workspace_root())
        )
    given.update(args.obj("inputs") or {})  # explicit inputs win over the file's
    progress = Progress(ls, args.command, f"Running {target.entity}")
    await progress.begin()
    try:
        result = await _serialize(runs, target, progress)
        values = _inputs_to_send(args.command, result, given)
        registration = await _register(runs, target, result, progress)
        progress.step("launching")
        remote = await runs.remote()
        execution = await remote.execute(
            registration.target, inputs=values, project=target.project, domain=target.domain
        )
    except BaseException as error:
        progress.fail(error)
        raise
    ident = execution.id
    console_url = remote.generate_console_url(execution)
    runs.remember_inputs(target.uri, target.entity, given)
    assert runs.tracker is not None
    runs.tracker.track(ident, target.uri, target.entity, console_url=console_url, inputs=given)
    progress.end(f"launched {ident.name}")
    return {"execution": execution_json(ident), "consoleUrl": console_url, "version": registration.version}


async def _registered_launch_plan(ls: FlyteLanguageServer, args: Args, progress: Progress) -> Identifier:
    """Register the entity (a launch plan, or a workflow: its default launch plan); the launch plan's id."""
    runs = runs_of(ls)
    target = EntityTarget(ls, args)
    result = await _serialize(runs, target, progress)
    registration = await _register(runs, target, result, progress)
    lp = registration.target
    if lp.resource_type == ResourceType.TASK:
        raise JsonRpcInvalidParams(
            f"{args.command}: {target.entity} is a task; pass a launch plan or workflow."
        )
    return Identifier(ResourceType.LAUNCH_PLAN, lp.project, lp.domain, lp.name, lp.version)


async def activate_launch_plan_command(ls: FlyteLanguageServer, args: Args) -> Any:
    progress = Progress(ls, args.command, f"Activating {args.required('entity')}")
    await progress.begin()
    try:
        lp = await _registered_launch_plan(ls, args, progress)
        progress.step("activating")
        remote = await runs_of(ls).remote()
        await remote.activate_launchplan(lp)
    except BaseException as error:
        progress.fail(error)
        raise
    progress.end(f"activated {lp.name} {lp.version}")
    return {"launchPlan": _ident_json(lp), "consoleUrl": remote.generate_console_url(lp)}


async def backfill_command(ls: FlyteLanguageServer, args: Args) -> Any:
    start, end = args.date("from"), args.date("to")
    if start >= end:
        raise JsonRpcInvalidParams(f"{args.command}: `from` ({start}) must be before `to` ({end}).")
    parallel = args.boolean("parallel")
    runs = runs_of(ls)
    progress = Progress(ls, args.command, f"Backfilling {args.required('entity')}")
    await progress.begin()
    try:
        lp = await _registered_launch_plan(ls, args, progress)
        progress.step("launching")
        remote = await runs.remote()
        execution = await remote.launch_backfill(
            lp.project, lp.domain, start, end, lp.name, launchplan_version=lp.version, parallel=parallel
        )
    except BaseException as error:
        progress.fail(error)
        raise
    ident: Any = getattr(execution, "id", None)  # execute=True: an execution, never a BackfillPlan
    console_url = remote.generate_console_url(execution)
    assert runs.tracker is not None
    runs.tracker.track(ident, args.required("uri"), args.required("entity"), console_url=console_url)
    progress.end(f"launched {ident.name}")
    return {"execution": execution_json(ident), "consoleUrl": console_url, "version": lp.version}


def _ident_json(ident: Identifier) -> dict[str, Any]:
    return {
        "resourceType": ResourceType(ident.resource_type).name,
        "project": ident.project,
        "domain": ident.domain,
        "name": ident.name,
        "version": ident.version,
    }


COMMANDS: dict[str, Handler] = {
    c.REGISTER_COMMAND: register_command,
    c.EXECUTE_COMMAND: execute_command,
    c.RELAUNCH_COMMAND: on_execution.relaunch_command,
    c.TERMINATE_COMMAND: on_execution.terminate_command,
    c.OPEN_CONSOLE_COMMAND: on_execution.open_console_command,
    c.APPROVE_COMMAND: on_execution.approve_command,
    c.REJECT_COMMAND: on_execution.reject_command,
    c.SET_INPUT_COMMAND: on_execution.set_input_command,
    c.DOWNLOAD_OUTPUTS_COMMAND: on_execution.download_outputs_command,
    c.ACTIVATE_LAUNCH_PLAN_COMMAND: activate_launch_plan_command,
    c.BACKFILL_COMMAND: backfill_command,
    c.TRACK_EXECUTION_COMMAND: on_execution.track_execution_command,
}


def wrap(name: str, handler: Handler, *, optional_argument: bool = False) -> Callable[..., Awaitable[Any]]:
    """The command handler pygls calls: validates the argument object (``optional_argument``: none is
    ``{}``), runs ``handler`` and turns its failures into LSP errors that say what to do."""

    # Not functools.wraps: pygls reads the signature (``*arguments``: the raw JSON values, validated here).
    async def command(ls: FlyteLanguageServer, *arguments: Any) -> Any:
        args = Args(name, [{}] if optional_argument and not arguments else arguments)
        try:
            return await handler(ls, args)
        except JsonRpcException:
            raise
        except Exception as exc:
            runs_of(ls).rpc_failed(exc)
            error = translate(name, exc)  # logs the traceback of an unexpected failure (a bug)
            log.info("%s", error.message)  # a backend down, a worker error: the user's to fix
            raise error from exc

    command.__name__ = command.__qualname__ = handler.__name__
    return command


def setup(server: FlyteLanguageServer) -> None:
    from flyte_ls.server import runs

    runs.setup(server)
    for name, handler in COMMANDS.items():
        server.command(name)(wrap(name, handler))
