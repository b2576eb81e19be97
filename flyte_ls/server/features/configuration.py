"""Settings: ``initializationOptions``, ``workspace/configuration`` (section ``flyte``) and live changes.

Precedence: defaults < initializationOptions < the client's configuration (pulled when the client supports
``workspace/configuration``, otherwise what ``workspace/didChangeConfiguration`` pushed). A bad value is
reported once with ``window/showMessage`` and replaced by its default; the server keeps running.
"""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from flyte_ls.server.constants import SETTINGS_SECTION
from flyte_ls.server.server import FlyteLanguageServer
from flyte_ls.server.settings import merge, parse_settings, unwrap_section

log = logging.getLogger(__name__)

CONFIGURATION_TIMEOUT_S = 5.0


def apply_raw(server: FlyteLanguageServer) -> None:
    """Parse init options merged with the client's section, report new problems, apply."""
    raw = merge(unwrap_section(server.init_options) or {}, server.client_settings or {})
    settings, problems, unknown = parse_settings(raw)
    for key in unknown:
        log.info("Unknown setting flyte.%s ignored (this is flyte-ls %s).", key, server.version)
    for problem in problems:
        if problem.message not in server.reported_problems:
            server.show_warning(problem.message)
    server.reported_problems = {p.message for p in problems}
    server.apply_settings(settings)


async def pull(server: FlyteLanguageServer) -> bool:
    """Ask the client for the ``flyte`` section; False when the client cannot, or did not answer in time."""
    if not server.client_has("workspace.configuration"):
        return False
    params = types.ConfigurationParams(items=[types.ConfigurationItem(section=SETTINGS_SECTION)])
    try:
        result = await asyncio.wait_for(server.workspace_configuration_async(params), CONFIGURATION_TIMEOUT_S)
    except asyncio.TimeoutError:
        log.warning(
            "The client did not answer workspace/configuration within %.0f s.", CONFIGURATION_TIMEOUT_S
        )
        return False
    except Exception as exc:
        log.warning("workspace/configuration failed (%s); keeping the current settings.", exc)
        return False
    log.debug("workspace/configuration answered %r", result)
    section = result[0] if isinstance(result, (list, tuple)) and result else None
    # The answer is the section itself; tolerate clients that wrap it anyway.
    server.client_settings = (
        unwrap_section(section) if isinstance(section, dict) and "flyte" in section else section
    )
    return True


def setup(server: FlyteLanguageServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: FlyteLanguageServer, params: types.DidChangeConfigurationParams
    ) -> None:
        log.debug("didChangeConfiguration %r", params.settings)
        if not await pull(ls):
            pushed = unwrap_section(params.settings)
            if pushed is not None:
                ls.client_settings = pushed
        apply_raw(ls)
