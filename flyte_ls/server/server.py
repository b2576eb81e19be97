"""The language server object: state shared by the features, background task tracking, client capabilities."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer

from flyte_ls import __version__
from flyte_ls.server.analysis_process import AnalysisProcess
from flyte_ls.server.constants import SERVER_NAME
from flyte_ls.server.diagnostics_store import DiagnosticStore
from flyte_ls.server.documents import Document, DocumentStore
from flyte_ls.server.idle_gc import IdleCollector
from flyte_ls.server.index import WorkspaceIndex
from flyte_ls.server.positions import UTF16, Codec
from flyte_ls.server.protocol import FlyteProtocol, expected_error
from flyte_ls.server.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
# The lint worker yields the CPU to the server when both want it (on a busy machine a request would otherwise
# wait for a lint pass's time slice): diagnostics can be a little late, a request cannot.
LINT_WORKER_NICE = 10
# Jupyter notebooks with Python cells are synced as notebooks (features/notebooks.py analyses them).
NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[
        types.NotebookDocumentFilterWithCells(
            notebook="jupyter-notebook", cells=[types.NotebookCellLanguage(language="python")]
        )
    ]
)
DocumentHook = Callable[[Document], None]
SettingsHook = Callable[[Settings, Settings], None]


class FlyteLanguageServer(LanguageServer):
    """pygls server plus the state every feature shares. Features attach to it in their ``setup(server)``."""

    def __init__(self) -> None:
        super().__init__(
            SERVER_NAME, __version__, protocol_cls=FlyteProtocol, notebook_document_sync=NOTEBOOK_SYNC
        )
        self.settings = Settings()
        self.init_options: Any = None  # raw initializationOptions (the flyte section)
        self.client_settings: Any = None  # the latest flyte section from the client (pulled or pushed)
        self.reported_problems: set[str] = (
            set()
        )  # settings problems already shown (do not nag on every change)
        self.documents = DocumentStore()
        self.index = WorkspaceIndex()
        self.diagnostics = DiagnosticStore()
        # What was last published per notebook cell (URI key): a pass republishes only the cells it changed.
        self.cell_diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.codec = Codec(UTF16)
        self.loop: asyncio.AbstractEventLoop | None = None
        # Lint passes run in a worker process (a pass of a large file would hold the GIL for hundreds of
        # milliseconds in a thread); it also takes indexing batches. Small indexing jobs run in a thread.
        self.lint_worker = AnalysisProcess("lint worker", lookup=self.index.stamped, nice=LINT_WORKER_NICE)
        self.index_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flyte-index")
        self._tasks: dict[asyncio.Task[Any], str] = {}
        self.idle_gc = IdleCollector(self._last_message_at)
        self._housekeeping: asyncio.Task[None] | None = None
        # Event fan-out: the documents feature owns the didOpen/didChange/... handlers and calls these.
        self.on_open: list[DocumentHook] = []
        self.on_change: list[DocumentHook] = []
        self.on_save: list[DocumentHook] = []
        self.on_close: list[DocumentHook] = []
        self.on_settings: list[SettingsHook] = []
        self.on_initialized: list[Callable[[], None]] = []
        # Awaited (each within a deadline) on the `shutdown` request: services with processes to stop (the run
        # service's worker and tracker) register here.
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = []
        self.on_index_ready: list[Callable[[], None]] = []  # a full indexing run finished
        self.on_index_changed: list[
            Callable[[str | None], None]
        ] = []  # an entry's interface changed (its path)

    # -- background work
    # ---------------------------------------------------------------------------------------
    def run_task(self, name: str, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start a background coroutine that is named, tracked, and whose exception is logged (never lost)."""
        task = asyncio.ensure_future(coro)
        self._tasks[task] = name
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        name = self._tasks.pop(task, "?")
        if task.cancelled():
            log.debug("Task %s cancelled", name)
            return
        exc = task.exception()
        if exc is not None:
            log.error("Background task %s failed: %s", name, exc, exc_info=exc)

    def running_tasks(self) -> list[str]:
        return sorted(self._tasks.values())

    async def wait_for_tasks(self, timeout: float) -> None:
        """Wait until no background task is running (tasks may start others); for shutdown and tests."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"background tasks still running: {', '.join(self.running_tasks())}")
            await asyncio.wait(list(self._tasks), timeout=remaining)

    async def in_thread(self, executor: ThreadPoolExecutor | None, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work off the event loop (``None``: the default executor)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, fn, *args)

    def _last_message_at(self) -> float:
        return float(getattr(self.protocol, "last_message_at", 0.0))

    def collect_garbage(self) -> None:
        """Ask for a full cyclic-GC pass at the next idle moment (after work that left garbage behind)."""
        self.idle_gc.request()

    def start_housekeeping(self) -> None:
        """Start the idle-time garbage collector (once the loop runs; not a tracked task: it never ends)."""
        if self._housekeeping is None:
            self._housekeeping = asyncio.ensure_future(self.idle_gc.run())

    def emit(self, hooks: list[Callable[..., None]], *args: Any) -> None:
        """Call every hook; one failing hook is logged and does not stop the others."""
        for hook in hooks:
            try:
                hook(*args)
            except Exception:
                log.exception("Hook %s failed", getattr(hook, "__qualname__", hook))

    async def close_services(self, timeout: float) -> None:
        """Await every ``on_shutdown`` hook, each within ``timeout`` seconds (a failing or late one is logged
        and does not stop the others), then stop the background tasks still running (a debounced code lens
        refresh, a diagnostics rebuild): after ``shutdown`` nothing more is worth sending."""
        for hook in self.on_shutdown:
            name = getattr(hook, "__qualname__", repr(hook))
            try:
                await asyncio.wait_for(hook(), timeout)
            except TimeoutError:
                log.error("Shutdown hook %s did not finish within %g s", name, timeout)
            except Exception:
                log.exception("Shutdown hook %s failed", name)
        await self.stop_tasks(timeout)

    async def stop_tasks(self, timeout: float) -> None:
        """Cancel every background task (except the caller's own) and wait for them, within ``timeout``."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current and not t.done()]
        if not tasks:
            return
        log.debug("Stopping background tasks: %s", ", ".join(sorted(self._tasks[t] for t in tasks)))
        for task in tasks:
            task.cancel()
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        if pending:
            log.warning(
                "Background tasks still running %g s after they were cancelled: %s",
                timeout,
                ", ".join(sorted(self._tasks.get(t, "?") for t in pending)),
            )

    def apply_settings(self, settings: Settings) -> None:
        old, self.settings = self.settings, settings
        if old == settings:
            return
        self.emit(self.on_settings, old, settings)

    # -- client capabilities
    # -----------------------------------------------------------------------------------
    def client_has(self, field: str) -> bool:
        """Whether a (dotted, snake_case) client capability is present and truthy."""
        return bool(get_capability(self.client_capabilities, field, False))

    def markup_kind(self) -> types.MarkupKind:
        formats = get_capability(self.client_capabilities, "text_document.hover.content_format", None)
        if formats is not None and types.MarkupKind.Markdown not in formats:
            return types.MarkupKind.PlainText
        return types.MarkupKind.Markdown

    # -- messages
    # ----------------------------------------------------------------------------------------------
    def show_warning(self, message: str) -> None:
        log.warning("%s", message)
        self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls would pop up "Error in server" for every failed handler; log it instead and keep the popup for
        # errors the user can act on (settings problems are reported elsewhere). An error that answers the
        # user (bad params, a backend that is down: see expected_error) is no server failure: INFO, no
        # traceback. Anything else is a bug: ERROR, with its traceback where pygls did not log it already (a
        # failed notification handler: its InternalError carries the traceback as text in ``data``).
        where = getattr(source, "__name__", source)
        if expected_error(error):
            log.info("Request answered with an error (%s): %s", where, error)
            return
        data = getattr(error, "data", None)
        frames = data.get("traceback") if isinstance(data, dict) else None
        if where == "FeatureNotificationError" and isinstance(frames, list) and frames:
            log.error(
                "Error in the language server (%s): %s\nTraceback (most recent call last):\n%s",
                where,
                error,
                "".join(str(f) for f in frames).rstrip(),
            )
        else:
            log.error("Error in the language server (%s): %s", where, error)

    def shutdown(self) -> None:
        protocol = getattr(self, "protocol", None)
        if isinstance(protocol, FlyteProtocol):
            protocol.closed = True  # the loop is over: whatever still tries to send is dropped
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        for task in list(self._tasks):
            task.cancel()
        self.lint_worker.close()
        self.index_executor.shutdown(wait=False, cancel_futures=True)
        super().shutdown()
