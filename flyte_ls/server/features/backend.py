"""The backend in the editor: ``flyte/backendStatus``, ``flyte/projects`` and the commands that start and stop
the local backend.

- ``flyte/backendStatus`` (params ``{}`` or ``{refresh: true}``) says which backend the commands would use,
  where that choice came from, whether it answers and, if not, what to change; it never starts anything and
  answers within ~3 s (:meth:`flyte_ls.run.backend.Backend.status`). For a status bar. With
  ``flyte.backend`` = ``"local"`` it reports the local backend (``source`` "local backend chosen by
  flyte.backend (...)", ``setting`` ``flyte.backend``), running or not, whatever else is configured.
- ``flyte/projects`` lists the projects and domains of that backend (``ListProjects``, ``GetDomains``); like a
  command, it may start the local backend (with ``flyte.backend`` = ``"local"``: whatever else is
  configured).
- ``flyte.startLocalBackend`` starts (or reuses) the local backend in the user cache whatever
  ``flyte.local.autoStart`` says, with work-done progress; the commands use it from then on when nothing else
  is configured (or ``flyte.backend`` is ``"local"``). ``flyte.stopLocalBackend`` stops it (``flyte-ls local
  stop``); tracked executions stay tracked, and only a command starts it again.

Failures are LSP errors in the commands' style (:func:`.commands.translate`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pygls.exceptions import JsonRpcException

from flyte_ls.server import constants as c
from flyte_ls.server.features.commands import Progress, translate, wrap
from flyte_ls.server.features.commands_args import Args
from flyte_ls.server.protocol import RawJSON
from flyte_ls.server.runs import runs_of
from flyte_ls.server.server import FlyteLanguageServer

log = logging.getLogger(__name__)


def _flag(params: Any, name: str) -> bool:
    value = params.get(name) if isinstance(params, Mapping) else getattr(params, name, None)
    return value is True


async def backend_status(ls: FlyteLanguageServer, refresh: bool) -> dict[str, Any]:
    runs = runs_of(ls)
    runs.ensure_started()
    assert runs.backend is not None
    return await runs.backend.status(refresh=refresh)


async def projects(ls: FlyteLanguageServer) -> dict[str, Any]:
    remote = await runs_of(ls).remote()
    found = await remote.list_projects()
    domains = await remote.get_domains()
    return {
        "projects": [{"id": p.id, "name": p.name or p.id} for p in found],
        "domains": [{"id": d.id, "name": d.name or d.id} for d in domains],
    }


async def start_local_command(ls: FlyteLanguageServer, args: Args) -> Any:
    runs = runs_of(ls)
    progress = Progress(ls, args.command, "Starting the local Flyte backend")
    await progress.begin()
    try:
        progress.step("checking for a running one")
        status, started = await runs.start_local_backend()
    except BaseException as error:
        progress.fail(error)
        raise
    progress.end(f"{'started' if started else 'running'} at {status['admin_endpoint']}")
    return {
        "adminEndpoint": status["admin_endpoint"],
        "consoleUrl": status["console_url"],
        "stateDir": status["state_dir"],
        "started": started,
    }


async def stop_local_command(ls: FlyteLanguageServer, args: Args) -> Any:
    report = await runs_of(ls).stop_local_backend()
    return {"stopped": bool(report.get("stopped")), "stateDir": report.get("state_dir")}


def setup(server: FlyteLanguageServer) -> None:
    server.command(c.START_LOCAL_BACKEND_COMMAND)(
        wrap(c.START_LOCAL_BACKEND_COMMAND, start_local_command, optional_argument=True)
    )
    server.command(c.STOP_LOCAL_BACKEND_COMMAND)(
        wrap(c.STOP_LOCAL_BACKEND_COMMAND, stop_local_command, optional_argument=True)
    )

    @server.feature(c.BACKEND_STATUS_REQUEST)
    async def backend_status_request(ls: FlyteLanguageServer, params: Any) -> RawJSON:
        try:
            return RawJSON(await backend_status(ls, _flag(params, "refresh")))
        except JsonRpcException:
            raise
        except Exception as exc:
            raise translate(c.BACKEND_STATUS_REQUEST, exc) from exc

    @server.feature(c.PROJECTS_REQUEST)
    async def projects_request(ls: FlyteLanguageServer, params: Any) -> RawJSON:
        try:
            return RawJSON(await projects(ls))
        except JsonRpcException:
            raise
        except Exception as exc:
            runs_of(ls).rpc_failed(exc)
            error = translate(c.PROJECTS_REQUEST, exc)
            log.info("%s", error.message)
            raise error from exc
