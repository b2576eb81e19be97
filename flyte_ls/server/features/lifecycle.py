"""initialize / initialized / shutdown: read the client, settle the settings, start the background work."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time

from lsprotocol import types

from flyte_ls.server.features import configuration
from flyte_ls.server.positions import Codec
from flyte_ls.server.server import FlyteLanguageServer

log = logging.getLogger(__name__)

EXIT_GRACE_S = 5.0  # after `exit`, the process is gone within this, whatever still runs
SHUTDOWN_HOOK_TIMEOUT_S = 5.0  # each service (worker, tracker) gets this long to stop on `shutdown`


def exit_watchdog(returncode: int, grace_s: float = EXIT_GRACE_S) -> threading.Thread:
    """Make sure the process ends ``grace_s`` after the client's ``exit``.

    pygls raises SystemExit from the handler; the interpreter then waits for the event loop's pending work,
    the default executor and every non-daemon thread (an indexing batch, a slow file system). The LSP says the
    server exits on ``exit``: an editor waiting for it must not hang, so this daemon thread logs what is still
    running and ends the process with ``os._exit`` if it has not ended by then."""

    def watch() -> None:
        time.sleep(grace_s)
        me = threading.current_thread()
        alive = [t.name for t in threading.enumerate() if t is not me and t.is_alive()]
        log.warning("still running %.0f s after exit (threads: %s): ending the process", grace_s, alive)
        for handler in logging.getLogger().handlers:
            try:
                handler.flush()
            except Exception:  # a closed stream: nothing more to say
                pass
        sys.stderr.flush()
        os._exit(returncode)

    thread = threading.Thread(target=watch, name="flyte-ls-exit-watchdog", daemon=True)
    thread.start()
    return thread


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

    shutdown_received = False

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: FlyteLanguageServer, params: None) -> None:
        nonlocal shutdown_received
        shutdown_received = True
        log.info("Shutting down (%d background tasks still running)", len(ls.running_tasks()))
        ls.lint_worker.close()
        await ls.close_services(SHUTDOWN_HOOK_TIMEOUT_S)

    @server.feature(types.EXIT)
    def exit_(ls: FlyteLanguageServer, params: None) -> None:
        # pygls exits after this handler (status 0 after a shutdown request, 1 without, as the LSP says)
        ls.lint_worker.close()
        exit_watchdog(0 if shutdown_received else 1)


async def _after_initialized(server: FlyteLanguageServer) -> None:
    if await configuration.pull(server):
        configuration.apply_raw(server)
    server.emit(server.on_initialized)
