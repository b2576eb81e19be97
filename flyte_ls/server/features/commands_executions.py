"""The ``flyte.*`` commands that act on an execution: relaunch, terminate, open its console page, answer its
gates, download its outputs, track it. Each takes ``{execution, ...}`` (:meth:`.commands_args.Args.execution`:
``{project, domain, name}``, ``ex:<project>:<domain>:<name>``, a bare name or a console URL) and maps onto one
:mod:`flyte_ls.remote` call; registered by :mod:`.commands`, which also turns their failures into LSP errors.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from flyte_ls.remote.identifiers import WorkflowExecutionIdentifier
from flyte_ls.server.features.commands_args import Args, execution_from_url, execution_json
from flyte_ls.server.runs import runs_of
from flyte_ls.server.server import FlyteLanguageServer

OUTPUTS_FOLDER = "flyte-outputs"
SHOW_DOCUMENT_TIMEOUT_S = 30.0


def _execution_arg(ls: FlyteLanguageServer, args: Args) -> WorkflowExecutionIdentifier:
    return args.execution(ls.settings.project, ls.settings.domain)


async def relaunch_command(ls: FlyteLanguageServer, args: Args) -> Any:
    runs = runs_of(ls)
    ident = _execution_arg(ls, args)
    remote = await runs.remote()
    relaunched = await remote.relaunch_execution(ident)
    new_id = relaunched.id
    console_url = remote.generate_console_url(new_id)
    assert runs.tracker is not None
    previous = runs.tracker.get(ident)
    uri, entity = (previous.uri, previous.entity) if previous is not None else ("", "")
    inputs = previous.inputs if previous is not None else None
    runs.tracker.track(new_id, uri, entity, console_url=console_url, inputs=inputs)
    return {"execution": execution_json(new_id), "consoleUrl": console_url}


async def terminate_command(ls: FlyteLanguageServer, args: Args) -> Any:
    ident = _execution_arg(ls, args)
    cause = args.string("cause", required=False) or "terminated from the editor (flyte-ls)"
    remote = await runs_of(ls).remote()
    await remote.terminate(ident, cause)
    tracker = runs_of(ls).tracker
    if tracker is not None and tracker.get(ident) is None:
        tracker.track(ident, "", "", console_url=remote.generate_console_url(ident))
    return {"execution": execution_json(ident)}


async def open_console_command(ls: FlyteLanguageServer, args: Args) -> Any:
    runs = runs_of(ls)
    if args.has("execution"):
        ident = _execution_arg(ls, args)
        url = (await runs.remote()).generate_console_url(ident)
    else:
        uri, entity = args.required("uri"), args.required("entity")
        registration = runs.registrations.get((uri, entity))
        if registration is None:
            raise JsonRpcInvalidParams(
                f"{args.command}: {entity} has not been registered or run in this session; "
                "run or register it first, or pass `execution`."
            )
        url = registration.console_url
    shown = False
    if ls.client_has("window.show_document.support"):
        result = await asyncio.wait_for(
            ls.window_show_document_async(types.ShowDocumentParams(uri=url, external=True)),
            SHOW_DOCUMENT_TIMEOUT_S,
        )
        shown = bool(getattr(result, "success", False))
    return {"consoleUrl": url, "shown": shown}


async def _signal(ls: FlyteLanguageServer, args: Args, action: str) -> Any:
    ident = _execution_arg(ls, args)
    signal_id = args.required("signalId")
    remote = await runs_of(ls).remote()
    if action == "approve":
        await remote.approve(signal_id, ident)
    elif action == "reject":
        await remote.reject(signal_id, ident)
    else:
        await remote.set_signal(signal_id, ident, args.value("value"))
    return {"execution": execution_json(ident), "signalId": signal_id}


async def approve_command(ls: FlyteLanguageServer, args: Args) -> Any:
    return await _signal(ls, args, "approve")


async def reject_command(ls: FlyteLanguageServer, args: Args) -> Any:
    return await _signal(ls, args, "reject")


async def set_input_command(ls: FlyteLanguageServer, args: Args) -> Any:
    return await _signal(ls, args, "set")


async def download_outputs_command(ls: FlyteLanguageServer, args: Args) -> Any:
    runs = runs_of(ls)
    ident = _execution_arg(ls, args)
    root = runs.workspace_root()
    to = args.string("to", required=False)
    dest = Path(to).expanduser() if to else Path(OUTPUTS_FOLDER) / ident.name
    if not dest.is_absolute():
        dest = Path(root) / dest
    remote = await runs.remote()
    files = await remote.download(ident, str(dest))
    return {"to": str(dest), "outputs": {name: str(path) for name, path in files.items()}}


async def track_execution_command(ls: FlyteLanguageServer, args: Args) -> Any:
    runs = runs_of(ls)
    if args.has("url"):
        ident = execution_from_url(args.required("url"))
        if ident is None:
            raise JsonRpcInvalidParams(
                f"{args.command}: `url` is not an execution's console URL "
                "(…/console/projects/<project>/domains/<domain>/executions/<name>)."
            )
    else:
        ident = _execution_arg(ls, args)
    remote = await runs.remote()
    execution = await remote.fetch_execution(ident.project, ident.domain, ident.name)  # it exists?
    console_url = remote.generate_console_url(execution)
    uri = args.string("uri", required=False) or ""
    entity = args.string("entity", required=False) or ""
    assert runs.tracker is not None
    tracked = runs.tracker.track(ident, uri, entity, console_url=console_url)
    return {"execution": execution_json(ident), "consoleUrl": console_url, "phase": tracked.phase}
