"""Following the executions started from the editor until they end: one poll loop for all of them.

The phase poll, per round: one ``ListExecutions`` per (project, domain) and per 50 names, filtered with
``value_in(execution.name,a;b;c)`` — never one request per execution. Rounds start on a fixed cadence
that adapts: every 0.5 s for the first 5 s after a track, every 1 s until 15 s after it, then doubling to
10 s while nothing changes (a phase change brings it back to 1 s). A round waits for nothing but its list.

Detail reads run beside the rounds (background tasks; at most one of each kind per execution in flight), each
calling ``on_change`` itself when it changes something:

* while a workflow execution runs: its node progress from one ``ListNodeExecutions`` page — the first once
  it has run for 0.5 s, then every 2 s for an execution tracked less than 30 s ago, every 5 s after that —
  and, for a workflow that declares gate nodes, its waiting gates from ``ListSignals`` on the same clocks.
  Each kind also has a budget for all executions together (about :data:`DETAIL_READS_PER_S` a second, the
  stalest first), so 50 running workflows cost about what one does. The workflow itself is fetched once per
  version (its node count and gates); a single-task execution needs none of this.
* once, when it ends (the execution stays in its previous phase until this read is done, then changes all at
  once: one terminal ``on_change`` with everything in it): ``GetExecutionData`` for the outputs of a success;
  the node tree (paged, into parent nodes and child executions) and the failing node's task executions (log
  links) for a failure, its node counts from the same tree; one ``ListNodeExecutions`` page for an abort.

Finished executions stay listed (history for lenses and hovers) but are not polled. The list is saved as JSON
(atomically) on every change and loaded at construction, so tracking resumes after a restart. Backend errors
are logged once per outage; :meth:`ExecutionTracker.run` never raises. :meth:`ExecutionTracker.close` cancels
the round and the reads in flight: no ``on_change`` after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyteidl.admin import common_pb2, node_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, types_pb2

from flyte_ls.remote.entities import walk_nodes
from flyte_ls.remote.literals_types import type_info
from flyte_ls.run.failures import frames_from_error

if TYPE_CHECKING:
    from flyteidl.core import workflow_pb2 as core_wf_pb2

    from flyte_ls.remote.entities import FlyteNodeExecution, FlyteWorkflowExecution
    from flyte_ls.remote.remote import AsyncFlyteRemote

log = logging.getLogger(__name__)

STORE_VERSION = 1
FAST_INTERVAL_S = 0.5  # the phase poll for the first FAST_S after a track
FAST_S = 5.0
MIN_INTERVAL_S = (
    1.0  # then, until QUICK_S after a track; where the back-off starts again after a phase change
)
QUICK_S = 15.0
MAX_INTERVAL_S = 10.0
FIRST_DETAIL_S = 0.5  # node progress is first read once an execution has run this long (0/N before: no RPC)
YOUNG_S = 30.0  # an execution tracked less than this ago has its details read every DETAIL_EVERY_YOUNG_S
DETAIL_EVERY_YOUNG_S = 2.0
DETAIL_EVERY_S = 5.0
DETAIL_READS_PER_S = 1.0  # per kind (node progress, signals), all executions together: ~60 of each a minute
DETAIL_BURST = 2.0
NAMES_PER_LIST = 50
MISSING_ROUNDS = 5  # rounds an execution may be absent from ListExecutions before it is given up
SUMMARY_CHARS = 200
DETAIL_CONCURRENCY = 8

_WF = core_execution_pb2.WorkflowExecution
_NODE = core_execution_pb2.NodeExecution
DONE_PHASES = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "UNKNOWN"})
_FAILED_PHASES = frozenset({"FAILED", "TIMED_OUT"})
_NODE_DONE = frozenset({_NODE.SUCCEEDED, _NODE.FAILED, _NODE.SKIPPED, _NODE.ABORTED, _NODE.TIMED_OUT})
_NODE_FAILED = frozenset({_NODE.FAILED, _NODE.TIMED_OUT})
_NODE_OK = frozenset({_NODE.SUCCEEDED, _NODE.SKIPPED, _NODE.RECOVERED})  # what "nodes done" counts
_BOUNDARY = frozenset({"start-node", "end-node"})
_SIMPLE = {
    types_pb2.INTEGER: "int",
    types_pb2.FLOAT: "float",
    types_pb2.STRING: "str",
    types_pb2.BOOLEAN: "bool",
    types_pb2.DATETIME: "datetime",
    types_pb2.DURATION: "timedelta",
    types_pb2.STRUCT: "dict",
}

RemoteProvider = Callable[[], Awaitable["AsyncFlyteRemote"]]
ExecutionKey = tuple[str, str, str]


@dataclass
class Tracked:
    """One tracked execution, as the editor shows it; plain JSON values only (``to_json``/``from_json``).

    ``phase`` is Admin's phase name (``QUEUED``, ``RUNNING``, ``SUCCEEDED``, ``FAILED``, ``ABORTED``,
    ``TIMED_OUT``...), ``UNDEFINED`` until first seen, ``UNKNOWN`` when the backend no longer knows it.
    ``error`` = ``{message, kind, node_id, frames: [{file, line, name}], logs: [{name, uri}]}`` (frames as
    the task saw them: map them with :func:`flyte_ls.run.failures.map_to_workspace`). ``gates`` = the gates
    waiting now: ``[{signal_id, node_id, kind: "approve"|"signal", type, type_info}]`` (``type_info``:
    :func:`~flyte_ls.remote.literals_types.type_info` of the signal's type). ``inputs`` are those it was
    launched with (for Re-run)."""

    execution: dict[str, str]
    uri: str
    entity: str
    phase: str = "UNDEFINED"
    console_url: str | None = None
    started_at: str | None = None
    duration: float | None = None
    nodes_done: int | None = None
    nodes_total: int | None = None
    error: dict[str, Any] | None = None
    outputs_summary: str | None = None
    gates: list[dict[str, Any]] = field(default_factory=list)
    inputs: dict[str, Any] | None = None
    tracked_at: str = ""

    @property
    def key(self) -> ExecutionKey:
        return (self.execution["project"], self.execution["domain"], self.execution["name"])

    @property
    def is_done(self) -> bool:
        return self.phase in DONE_PHASES

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tracked:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    def _signature(self) -> tuple[Any, ...]:
        """What counts as a change (duration moves on every poll and does not)."""
        return (
            self.phase,
            self.started_at,
            self.nodes_done,
            self.nodes_total,
            json.dumps(self.error, sort_keys=True),
            self.outputs_summary,
            json.dumps(self.gates, sort_keys=True),
        )


@dataclass
class _Gate:
    node_id: str
    kind: str
    type: str
    literal_type: types_pb2.LiteralType = field(default_factory=types_pb2.LiteralType)


@dataclass
class _Shape:
    """What the tracker needs of a workflow version: its top-level node count and its gates by signal id."""

    nodes_total: int
    gates: dict[str, _Gate]


@dataclass
class _Live:
    """Per-execution state that is not persisted (``time.monotonic()`` times)."""

    tracked_at: float = field(default_factory=time.monotonic)
    running_since: float | None = None  # when first seen RUNNING
    progress_at: float | None = None  # when its last node-progress read started
    gates_at: float | None = None  # when its last ListSignals started
    shape_at: float | None = None  # when its workflow's shape was last asked for (a failed fetch waits)
    missing: int = 0
    shape: _Shape | None = None
    single_task: bool = False
    reading: set[str] = field(
        default_factory=set
    )  # the detail reads in flight: shape, progress, gates, final

    @property
    def finishing(self) -> bool:
        return "final" in self.reading


class _Budget:
    """A token bucket: about ``rate`` reads a second, ``burst`` at once."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, time.monotonic()

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def execution_key(execution_id: Any) -> ExecutionKey:
    """``(project, domain, name)`` from an execution id: a ``WorkflowExecutionIdentifier`` (ours or its
    proto), a mapping with those keys, an object with ``id``, or ``ex:<project>:<domain>:<name>``."""
    if isinstance(execution_id, str):
        from flyte_ls.remote.identifiers import WorkflowExecutionIdentifier

        ident = WorkflowExecutionIdentifier.parse(execution_id)
        return (ident.project, ident.domain, ident.name)
    if isinstance(execution_id, dict):
        return (str(execution_id["project"]), str(execution_id["domain"]), str(execution_id["name"]))
    ident = getattr(execution_id, "id", execution_id)
    return (str(ident.project), str(ident.domain), str(ident.name))


class ExecutionTracker:
    """Tracks executions in the background (:meth:`run`) and calls ``on_change(tracked)`` on every phase,
    progress or gate change, and once when one ends. Use it from one event loop's thread."""

    def __init__(
        self,
        remote_provider: RemoteProvider,
        store_path: str | os.PathLike[str],
        on_change: Callable[[Tracked], None] | None = None,
    ) -> None:
        self._remote_provider = remote_provider
        self.store_path = Path(store_path)
        self._on_change = on_change
        self._tracked: dict[ExecutionKey, Tracked] = {}
        self._live: dict[ExecutionKey, _Live] = {}
        self._shapes: dict[str, _Shape] = {}
        self._shape_locks: dict[str, asyncio.Lock] = {}
        self._shapes_of: object | None = None  # the remote the cached shapes were read from
        self._last_track = time.monotonic()  # resumed executions are polled quickly at first too
        self._quiet = 0  # rounds in a row without a phase change, once past QUICK_S
        self._interval = FAST_INTERVAL_S
        self._budgets = {kind: _Budget(DETAIL_READS_PER_S, DETAIL_BURST) for kind in ("progress", "gates")}
        self._limit = asyncio.Semaphore(DETAIL_CONCURRENCY)
        self._jobs: set[asyncio.Task[None]] = set()
        self._round_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._outage: str | None = None
        self._closed = False
        self._load()

    # --- the public list ----------------------------------------------------------------------------------

    def track(
        self,
        execution_id: Any,
        uri: str,
        entity: str,
        *,
        console_url: str | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> Tracked:
        """Start following an execution (again if already listed: its state is kept, its details are read
        again soon); polled at once, and quickly for the next seconds."""
        key = execution_key(execution_id)
        tracked = self._tracked.get(key)
        if tracked is None:
            tracked = Tracked(
                execution={"project": key[0], "domain": key[1], "name": key[2]},
                uri=uri,
                entity=entity,
                console_url=console_url,
                inputs=inputs,
                tracked_at=datetime.now(timezone.utc).isoformat(),
            )
            self._tracked[key] = tracked
        else:
            tracked.uri, tracked.entity = uri, entity
            tracked.console_url = console_url or tracked.console_url
            tracked.inputs = inputs if inputs is not None else tracked.inputs
        now = time.monotonic()
        live = self._live.setdefault(key, _Live())
        live.tracked_at = now
        live.progress_at = live.gates_at = None  # e.g. after an approval: the gates are read at once
        self._last_track, self._quiet, self._interval = now, 0, FAST_INTERVAL_S
        self._save()
        if self._wake is not None:
            self._wake.set()
        return tracked

    def untrack(self, execution_id: Any) -> Tracked | None:
        """Forget an execution (no longer polled nor listed); the removed entry, if there was one."""
        key = execution_key(execution_id)
        self._live.pop(key, None)
        removed = self._tracked.pop(key, None)
        if removed is not None:
            self._save()
        return removed

    def tracked(self) -> list[Tracked]:
        """Every listed execution, finished ones included, oldest tracked first."""
        return list(self._tracked.values())

    def get(self, execution_id: Any) -> Tracked | None:
        return self._tracked.get(execution_key(execution_id))

    @property
    def interval(self) -> float:
        """Seconds between the start of the last round and the next (for tests and the bench)."""
        return self._interval

    def close(self) -> None:
        """Stop: the round and the detail reads in flight are cancelled, a running :meth:`run` returns at its
        next step, ``on_change`` is not called any more; the list is saved."""
        if not self._closed:
            self._closed = True
            for task in [self._round_task, *self._jobs]:
                if task is not None and not task.done():
                    task.cancel()
            if self._wake is not None:
                self._wake.set()
        self._save()

    # --- the loop -----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """The poll loop: rounds while something is pending, asleep otherwise; :meth:`close` (or cancel it)
        to stop. Rounds start every :attr:`interval` seconds, however long the previous one took. Never
        raises."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            while not self._closed:
                self._wake.clear()
                started = loop.time()
                if any(not t.is_done for t in self._tracked.values()):
                    self._round_task = round_task = asyncio.ensure_future(self._poll())
                    await asyncio.wait({round_task})  # close() cancels it: run returns, it does not raise
                    self._round_task = None
                    if not round_task.cancelled() and round_task.exception() is not None:
                        log.error("execution tracking: a round failed", exc_info=round_task.exception())
                    timeout: float | None = max(0.0, started + self._interval - loop.time())
                else:
                    timeout = None
                if self._closed:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            for task in [self._round_task, *self._jobs]:
                if task is not None and not task.done():
                    task.cancel()
            self._round_task = None

    async def poll_once(self) -> None:
        """One round and the detail reads it started, awaited (tests, the bench, callers without the loop).
        Backend errors are logged (once per outage), not raised."""
        if self._closed:
            return
        await self._poll()
        await self.settle()

    async def settle(self) -> None:
        """Wait until no detail read is in flight."""
        while self._jobs:
            await asyncio.wait(set(self._jobs))

    async def _poll(self) -> None:
        try:
            eventful = await self._round()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the loop must survive any backend failure
            reason = f"{type(exc).__name__}: {exc}"
            if self._outage is None:
                log.warning(
                    "execution tracking: the Flyte backend failed (%s); retrying every %.0f s",
                    reason,
                    MAX_INTERVAL_S,
                )
            self._outage = reason
            self._interval = MAX_INTERVAL_S
            return
        if self._outage is not None:
            log.info("execution tracking: the Flyte backend answers again")
            self._outage = None
        since = time.monotonic() - self._last_track
        if eventful:
            self._quiet = 0
        self._interval = round_interval(since, self._quiet)
        if since >= QUICK_S and not eventful:
            self._quiet += 1

    async def _round(self) -> bool:
        """One phase poll and the detail reads it calls for (started, not awaited): whether a phase changed
        (or an execution ended)."""
        pending = [t for t in self._tracked.values() if not t.is_done and not self._live_of(t).finishing]
        if not pending:
            return False
        remote = await self._remote_provider()
        if remote is not self._shapes_of:
            self._shapes, self._shape_locks, self._shapes_of = {}, {}, remote
        seen = await self._list(remote, pending)
        now = time.monotonic()
        changed = eventful = False
        for t in pending:
            if self._tracked.get(t.key) is not t:
                continue  # untracked while the list was read
            before = t._signature()
            ended = self._apply(remote, t, seen.get(t.key), now)
            signature = t._signature()
            eventful = eventful or ended
            if signature != before or t.is_done:
                changed = True
                eventful = eventful or t.is_done or _events(signature) != _events(before)
                self._emit(t)
        self._schedule(remote, seen, now)
        if changed:
            self._save()
        return eventful

    async def _list(
        self, remote: AsyncFlyteRemote, pending: list[Tracked]
    ) -> dict[ExecutionKey, FlyteWorkflowExecution]:
        """The pending executions as Admin has them: a ``ListExecutions`` per project/domain and 50 names."""
        groups: dict[tuple[str, str], list[str]] = {}
        for t in pending:
            groups.setdefault(t.key[:2], []).append(t.key[2])
        lists = [
            remote.recent_executions(project, domain, limit=len(chunk), filters=[_names_filter(chunk)])
            for (project, domain), names in groups.items()
            for chunk in _chunks(names, NAMES_PER_LIST)
        ]
        seen: dict[ExecutionKey, FlyteWorkflowExecution] = {}
        for listed in await asyncio.gather(*lists):
            for ex in listed:
                seen[(ex.id.project, ex.id.domain, ex.id.name)] = ex
        return seen

    def _live_of(self, t: Tracked) -> _Live:
        return self._live.setdefault(t.key, _Live())

    def _apply(
        self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution | None, now: float
    ) -> bool:
        """Update ``t`` from its listed execution; whether it has just ended (its final read started: it
        changes, all at once, when that is done)."""
        live = self._live_of(t)
        if ex is None:
            live.missing += 1
            if live.missing >= MISSING_ROUNDS:  # deleted, another backend's, or a wrong name: give up
                t.phase = "UNKNOWN"
                message = f"execution {t.key[2]} is not on this backend ({t.key[0]}/{t.key[1]})"
                t.error = {"message": message, "kind": "UNKNOWN", "node_id": None, "frames": [], "logs": []}
            return False
        live.missing = 0
        live.single_task = ex.spec.launch_plan.resource_type == identifier_pb2.TASK
        if ex.is_done:
            self._start(t, "final", lambda: self._final(remote, t, ex))
            return True
        self._apply_closure(t, ex)
        running = t.phase == "RUNNING"
        if running and live.running_since is None:
            live.running_since = now
        if live.single_task:
            if running:
                t.nodes_done, t.nodes_total = 0, 1
            return False
        if live.shape is None:  # read while it is queued already: its first RUNNING has the node count
            key = _shape_key(ex)
            live.shape = self._shapes.get(key) if key is not None else None
            if (
                live.shape is None
                and key is not None
                and (live.shape_at is None or now - live.shape_at >= DETAIL_EVERY_S)
            ):
                live.shape_at = now
                self._start(t, "shape", lambda: self._shape_of(remote, t, ex))
        if running and live.shape is not None and t.nodes_total is None:
            t.nodes_done, t.nodes_total = t.nodes_done or 0, live.shape.nodes_total
        return False

    def _schedule(
        self, remote: AsyncFlyteRemote, seen: dict[ExecutionKey, FlyteWorkflowExecution], now: float
    ) -> None:
        """Start the node-progress and gate reads that are due, within their budgets (the stalest first)."""
        for kind in ("progress", "gates"):
            due: list[tuple[float, ExecutionKey]] = []
            for key in seen:
                t, live = self._tracked.get(key), self._live.get(key)
                if t is None or live is None or t.phase != "RUNNING" or live.single_task:
                    continue
                if kind in live.reading or live.finishing:
                    continue  # one read of a kind at a time: a slow backend is not asked again meanwhile
                if kind == "gates" and (live.shape is None or not live.shape.gates):
                    continue
                last = live.progress_at if kind == "progress" else live.gates_at
                if _due(live, t, last, now, first_after=FIRST_DETAIL_S if kind == "progress" else 0.0):
                    due.append((last if last is not None else -1.0, key))
            budget = self._budgets[kind]
            for _, key in sorted(due):
                if not budget.take(now):
                    break
                t, live, ex = self._tracked[key], self._live[key], seen[key]
                if kind == "progress":
                    live.progress_at = now
                    self._start(t, kind, functools.partial(self._progress, remote, t, ex))
                else:
                    live.gates_at = now
                    self._start(t, kind, functools.partial(self._gates, remote, t, ex))

    # --- detail reads: each returns what to apply to the execution (then, if still current) ---------------

    def _start(self, t: Tracked, kind: str, read: Callable[[], Awaitable[Callable[[], None] | None]]) -> None:
        live = self._live_of(t)
        if kind in live.reading:
            return
        live.reading.add(kind)
        task = asyncio.ensure_future(self._job(t, kind, read))
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def _job(
        self, t: Tracked, kind: str, read: Callable[[], Awaitable[Callable[[], None] | None]]
    ) -> None:
        live = self._live_of(t)
        apply: Callable[[], None] | None = None
        try:
            if kind in ("progress", "gates"):  # a few at a time; an end or a shape is never kept waiting
                async with self._limit:
                    apply = await read()
            else:
                apply = await read()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # read again when due; the execution's own state is still shown
            log.info("execution tracking: reading the %s of %s failed: %s", kind, t.key[2], exc)
        finally:
            live.reading.discard(kind)
        if apply is None or self._closed or self._tracked.get(t.key) is not t:
            return
        if kind != "final" and (t.is_done or live.finishing):
            return  # the final read says it all
        before = t._signature()
        apply()
        if kind == "final" or t._signature() != before:
            self._save()
            self._emit(t)

    async def _final(
        self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution
    ) -> Callable[[], None]:
        """Everything about an execution that has ended, read once; never raises (what could not be read
        is left out)."""
        single = self._live_of(t).single_task
        nodes = (t.nodes_done, t.nodes_total)
        outputs: str | None = None
        error: dict[str, Any] | None = None
        phase = ex.phase_name
        if phase == "SUCCEEDED":
            outputs = await self._outputs(remote, t, ex)
            total = 1 if single else await self._total(remote, ex, t.nodes_total)
            nodes = (total, total)
        elif phase in _FAILED_PHASES:
            error, listed = await self._failure(remote, t, ex)
            if single:
                nodes = (0, 1)
            elif listed is not None:
                total = await self._total(remote, ex, t.nodes_total)
                nodes = (listed[0], max(total or 0, listed[1]) or None)
        elif single:
            nodes = (0, 1)
        else:  # aborted: how far it got
            with contextlib.suppress(Exception):
                nodes = await self._count_nodes(remote, ex)

        def apply() -> None:
            self._apply_closure(t, ex)
            t.gates = []
            t.nodes_done, t.nodes_total = nodes
            if outputs is not None:
                t.outputs_summary = outputs
            t.error = error

        return apply

    async def _total(
        self, remote: AsyncFlyteRemote, ex: FlyteWorkflowExecution, known: int | None
    ) -> int | None:
        if known is not None:
            return known
        with contextlib.suppress(Exception):  # the count is a nicety: the workflow may be gone
            shape = await self._shape(remote, ex)
            return shape.nodes_total if shape is not None else None
        return None

    async def _shape_of(
        self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution
    ) -> Callable[[], None]:
        shape = await self._shape(remote, ex)
        live = self._live_of(t)
        live.shape = shape

        def apply() -> None:
            if shape is not None and t.nodes_total is None and t.phase == "RUNNING":
                t.nodes_done, t.nodes_total = t.nodes_done or 0, shape.nodes_total

        return apply

    async def _progress(
        self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution
    ) -> Callable[[], None]:
        nodes = await self._count_nodes(remote, ex)

        def apply() -> None:
            t.nodes_done, t.nodes_total = nodes

        return apply

    async def _count_nodes(
        self, remote: AsyncFlyteRemote, ex: FlyteWorkflowExecution
    ) -> tuple[int | None, int | None]:
        """(top-level nodes done, total) from one ``ListNodeExecutions`` page and the workflow's shape."""
        request = node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=ex.id.to_proto(),
            limit=100,
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING),
        )
        page = await remote.transport.call("ListNodeExecutions", request, kind="read")
        nodes = [
            ne for ne in page.node_executions if (ne.metadata.spec_node_id or ne.id.node_id) not in _BOUNDARY
        ]
        total = await self._total(remote, ex, None)
        return sum(1 for ne in nodes if ne.closure.phase in _NODE_OK), max(total or 0, len(nodes)) or None

    async def _gates(
        self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution
    ) -> Callable[[], None] | None:
        shape = self._live_of(t).shape
        if shape is None or not shape.gates:
            return None
        signals = await remote.list_signals(ex.id.name, ex.id.project, ex.id.domain)
        waiting = []
        for signal in signals:
            if signal.HasField("value"):
                continue
            sid = signal.id.signal_id
            gate = shape.gates.get(sid, _Gate("", "signal", type_name(signal.type)))
            declared = signal.type if signal.HasField("type") else gate.literal_type
            waiting.append({"signal_id": sid, "node_id": gate.node_id, "kind": gate.kind,
                            "type": gate.type or type_name(signal.type),
                            "type_info": type_info(declared)})  # fmt: skip
        gates = sorted(waiting, key=lambda g: g["signal_id"])

        def apply() -> None:
            t.gates = gates

        return apply

    # --- what one execution says ----------------------------------------------------------------------------

    @staticmethod
    def _apply_closure(t: Tracked, ex: FlyteWorkflowExecution) -> None:
        closure = ex.closure
        t.phase = ex.phase_name
        if closure.started_at.seconds or closure.started_at.nanos:
            t.started_at = closure.started_at.ToDatetime(tzinfo=timezone.utc).isoformat()
        if closure.duration.seconds or closure.duration.nanos:
            t.duration = closure.duration.ToTimedelta().total_seconds()
        elif t.started_at is not None and not ex.is_done:
            t.duration = round(
                (datetime.now(timezone.utc) - datetime.fromisoformat(t.started_at)).total_seconds(), 3
            )

    async def _outputs(self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution) -> str:
        try:
            synced = await remote.sync_execution(ex)
        except Exception as exc:  # a success without readable outputs is still a success
            log.info("execution tracking: outputs of %s not read: %s", t.key[2], exc)
            return ""
        return summarize(synced.outputs or {})

    async def _failure(
        self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution
    ) -> tuple[dict[str, Any], tuple[int, int] | None]:
        """The error (the failing node's, its log links) and (top-level nodes done, listed) from the node
        tree read for it."""
        err = ex.error
        message = err.message if err is not None else ""
        kind = _error_kind(err)
        node_id: str | None = None
        logs: list[dict[str, str]] = []
        counts: tuple[int, int] | None = None
        try:
            synced = await remote.sync_execution(ex, sync_nodes=True)
            top = synced.node_executions.values()
            counts = (sum(1 for n in top if n.closure.phase in _NODE_OK), len(top))
            node = failing_node(synced.node_executions)
            if node is not None:
                node_id = node.node_id
                node_error = node.closure.error if node.closure.HasField("error") else None
                if node_error is not None and node_error.message:
                    # The node's own error when the execution's says less (no traceback in it).
                    if not message or (
                        frames_from_error(node_error.message) and not frames_from_error(message)
                    ):
                        message = node_error.message
                    kind = _error_kind(node_error)
                attempts = await remote.fetch_task_executions(node)
                if attempts:
                    logs = [{"name": lg.name, "uri": lg.uri} for lg in attempts[-1].closure.logs]
        except Exception as exc:  # the execution's own error is enough to show
            log.info("execution tracking: failing node of %s not found: %s", t.key[2], exc)
        frames = [f.to_json() for f in frames_from_error(message)]
        error = {"message": message, "kind": kind, "node_id": node_id, "frames": frames, "logs": logs}
        return error, counts

    async def _shape(self, remote: AsyncFlyteRemote, ex: FlyteWorkflowExecution) -> _Shape | None:
        cache_key = _shape_key(ex)
        if cache_key is None:
            return None
        wf_id = ex.closure.workflow_id
        # One fetch per workflow version, even when a round asks for it for many executions at once.
        async with self._shape_locks.setdefault(cache_key, asyncio.Lock()):
            if cache_key not in self._shapes:
                wf = await remote.fetch_workflow(wf_id.project, wf_id.domain, wf_id.name, wf_id.version)
                self._shapes[cache_key] = workflow_shape(wf.template, wf.sub_workflows)
        return self._shapes[cache_key]

    # --- callbacks and the store ----------------------------------------------------------------------------

    def _emit(self, t: Tracked) -> None:
        if self._on_change is None or self._closed:
            return
        try:
            self._on_change(t)
        except Exception:
            log.exception("execution tracking: on_change failed for %s", t.key[2])

    def _save(self) -> None:
        data = {"version": STORE_VERSION, "executions": [t.to_json() for t in self._tracked.values()]}
        try:
            self.store_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".executions-", suffix=".tmp", dir=self.store_path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(data, out, indent=1, default=str)
                os.replace(tmp, self.store_path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("execution tracking: cannot save %s: %s", self.store_path, exc)

    def _load(self) -> None:
        try:
            text = self.store_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning(
                "execution tracking: cannot read %s (%s); starting with no executions", self.store_path, exc
            )
            return
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != STORE_VERSION:
                raise ValueError(f"not a version {STORE_VERSION} store")
            loaded = [Tracked.from_json(item) for item in data["executions"]]
        except (ValueError, KeyError, TypeError) as exc:
            aside = self.store_path.with_name(f"{self.store_path.name}.bad-{int(time.time())}")
            with contextlib.suppress(OSError):
                os.replace(self.store_path, aside)
            log.warning("execution tracking: %s is unreadable (%s); moved to %s, starting with no executions",
                        self.store_path, exc, aside)  # fmt: skip
            return
        for t in loaded:
            self._tracked[t.key] = t
            self._live[t.key] = _Live()


# --- helpers (pure) -----------------------------------------------------------------------------------------


def round_interval(since_track: float, quiet_rounds: int) -> float:
    """Seconds from one phase-poll round to the next, ``since_track`` seconds after the latest track and after
    ``quiet_rounds`` rounds in a row (counted once past :data:`QUICK_S`) in which no phase changed."""
    if since_track < FAST_S:
        return FAST_INTERVAL_S
    if since_track < QUICK_S:
        return MIN_INTERVAL_S
    return min(MIN_INTERVAL_S * 2.0**quiet_rounds, MAX_INTERVAL_S)


def _due(live: _Live, t: Tracked, last: float | None, now: float, *, first_after: float) -> bool:
    """Whether a running execution's detail read (last started at ``last``) is due again."""
    if live.running_since is None:
        return False
    if last is None:  # the first: once it has run ``first_after`` seconds (by our clock or Admin's)
        return now - live.running_since >= first_after or (t.duration or 0.0) >= first_after
    every = DETAIL_EVERY_YOUNG_S if now - live.tracked_at < YOUNG_S else DETAIL_EVERY_S
    return now - last >= every


def _shape_key(ex: FlyteWorkflowExecution) -> str | None:
    wf_id = ex.closure.workflow_id
    return f"{wf_id.project}:{wf_id.domain}:{wf_id.name}:{wf_id.version}" if wf_id.name else None


def _events(signature: tuple[Any, ...]) -> tuple[Any, ...]:
    """What of a :meth:`Tracked._signature` is not node progress: phase, start, error, outputs, gates."""
    return signature[:2] + signature[4:]


def _names_filter(names: Iterable[str]) -> str:
    return f"value_in(execution.name,{';'.join(names)})"


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _error_kind(err: core_execution_pb2.ExecutionError | None) -> str:
    if err is None:
        return "UNKNOWN"
    return str(core_execution_pb2.ExecutionError.ErrorKind.Name(err.kind))


def failing_node(nodes: dict[str, FlyteNodeExecution]) -> FlyteNodeExecution | None:
    """The deepest failed node: a failed node whose children (subworkflow, dynamic, branch, child execution)
    have a failed one is descended into; the first failed node (by creation) wins at each level."""
    failed = [n for n in nodes.values() if n.closure.phase in _NODE_FAILED]
    if not failed:
        return None
    first = min(failed, key=lambda n: (n.closure.created_at.seconds, n.closure.created_at.nanos))
    return failing_node(first.subworkflow_node_executions) or first


def workflow_shape(
    template: core_wf_pb2.WorkflowTemplate, sub_workflows: Iterable[core_wf_pb2.WorkflowTemplate] = ()
) -> _Shape:
    """The top-level node count of a workflow and its gate nodes (of it and its subworkflows) by signal id."""
    total = sum(1 for node in template.nodes if node.id not in _BOUNDARY)
    gates: dict[str, _Gate] = {}
    for tmpl in [template, *sub_workflows]:
        for node in walk_nodes(tmpl.nodes):
            if not node.HasField("gate_node"):
                continue
            gate = node.gate_node
            if gate.HasField("approve"):
                boolean = types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
                gates[gate.approve.signal_id] = _Gate(node.id, "approve", "bool", boolean)
            elif gate.HasField("signal"):
                signal = gate.signal
                gates[signal.signal_id] = _Gate(node.id, "signal", type_name(signal.type), signal.type)
    return _Shape(total, gates)


def type_name(literal_type: types_pb2.LiteralType) -> str:
    """A short Python-ish name of a declared type: ``int``, ``list[str]``, ``dict[str, float]``..."""
    kind = literal_type.WhichOneof("type")
    if kind == "simple":
        return _SIMPLE.get(literal_type.simple, types_pb2.SimpleType.Name(literal_type.simple).lower())
    if kind == "collection_type":
        return f"list[{type_name(literal_type.collection_type)}]"
    if kind == "map_value_type":
        return f"dict[str, {type_name(literal_type.map_value_type)}]"
    if kind == "union_type":
        return " | ".join(type_name(v) for v in literal_type.union_type.variants) or "union"
    if kind == "blob":
        return "directory" if literal_type.blob.dimensionality == 1 else "file"
    if kind == "enum_type":
        return "enum"
    return kind or "unknown"


def summarize(outputs: dict[str, Any], limit: int = SUMMARY_CHARS) -> str:
    """``name=value, ...`` of the outputs, at most ``limit`` characters (``…`` when cut)."""
    text = ", ".join(f"{name}={value!r}" for name, value in outputs.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"
