"""initialize / initialized / shutdown: read the client, settle the settings, start the background work."""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from flyte_ls.server.features import configuration
from flyte_ls.server.positions import Codec
from flyte_ls.server.server import FlyteLanguageServer

log = logging.getLogger(__name__)


def setup(server: FlyteLanguageServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: FlyteLanguageServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        ls.start_housekeeping()
        ls.codec = Codec(str(ls.workspace.position_encoding or "utf-16"))
        ls.init_options = params.initialization_options
        client = params.client_info
        log.info(
            "flyte-ls %s initialising for %s %s (position encoding %s)",
            ls.version,
            client.name if client else "an unnamed client",
            (client.version or "") if client else "",
            ls.codec.encoding,
        )
        configuration.apply_raw(ls)

    @server.feature(types.INITIALIZED)
    def initialized(ls: FlyteLanguageServer, params: types.InitializedParams) -> None:
        ls.run_task("initialized", _after_initialized(ls))

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: FlyteLanguageServer, params: None) -> None:
        log.info("Shutting down (%d background tasks still running)", len(ls.running_tasks()))
        ls.lint_worker.close()


async def _after_initialized(server: FlyteLanguageServer) -> None:
    if await configuration.pull(server):
        configuration.apply_raw(server)
    server.emit(server.on_initialized)
