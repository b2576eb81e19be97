"""Following the executions started from the editor until they end: one poll loop for all of them.

Cost model, per round (the interval adapts: 1 s right after a track, doubling to 10 s while nothing changes):

* one ``ListExecutions`` per (project, domain) and per 50 names, filtered with
  ``value_in(execution.name,a;b;c)`` — never one request per execution;
* while an execution runs: its node progress from one ``ListNodeExecutions`` page, at most every 5 s per
  execution and about :data:`PROGRESS_READS_PER_S` reads a second for all of them together (the stalest
  first; a single-task execution needs none), and ``ListSignals`` only for executions whose workflow declares
  gate nodes; the workflow itself is fetched once per workflow version;
* once, when it ends: ``GetExecutionData`` for the outputs of a success; the node tree (paged, into parent
  nodes and child executions) and the failing node's task executions (log links) for a failure.

Finished executions stay listed (history for lenses and hovers) but are not polled. The list is saved as JSON
(atomically) on every change and loaded at construction, so tracking resumes after a restart. Backend errors
are logged once per outage; :meth:`ExecutionTracker.run` never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from flyte_ls.run.failures import frames_from_error

if TYPE_CHECKING:
    from flyteidl.core import workflow_pb2 as core_wf_pb2

    from flyte_ls.remote.entities import FlyteNodeExecution, FlyteWorkflowExecution
    from flyte_ls.remote.remote import AsyncFlyteRemote

log = logging.getLogger(__name__)

STORE_VERSION = 1
MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 10.0
PROGRESS_EVERY_S = 5.0
PROGRESS_READS_PER_S = 1.0  # node-progress reads, all executions together: at most ~60 a minute
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
    waiting now: ``[{signal_id, node_id, kind: "approve"|"signal", type}]``. ``inputs`` are those it was
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


@dataclass
class _Shape:
    """What the tracker needs of a workflow version: its top-level node count and its gates by signal id."""

    nodes_total: int
    gates: dict[str, _Gate]


@dataclass
class _Live:
    """Per-execution state that is not persisted."""

    progress_at: float = 0.0
    missing: int = 0
    shape: _Shape | None = None
    single_task: bool = False


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
        self._interval = MIN_INTERVAL_S
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
        """Start following an execution (again if already listed: its state is kept); polled at once."""
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
        self._live.setdefault(key, _Live())
        self._interval = MIN_INTERVAL_S
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
        """Seconds until the next round (for tests and the bench)."""
        return self._interval

    def close(self) -> None:
        """Stop polling (a running :meth:`run` returns) and save the list."""
        self._closed = True
        if self._wake is not None:
            self._wake.set()
        self._save()

    # --- the loop -----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """The poll loop: rounds while something is pending, asleep otherwise; cancel it (or :meth:`close`)
        to stop. Never raises."""
        self._wake = asyncio.Event()
        while not self._closed:
            self._wake.clear()
            if any(not t.is_done for t in self._tracked.values()):
                await self.poll_once()
                timeout: float | None = self._interval
            else:
                timeout = None
            if self._closed:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def poll_once(self) -> None:
        """One round over the pending executions; backend errors are logged (once per outage), not raised."""
        try:
            changed, eventful = await self._round()
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
        if changed:
            self._save()
        # Node counts moving do not keep the phase poll fast: they are read on their own clock.
        if not eventful:
            self._interval = min(self._interval * 2, MAX_INTERVAL_S)

    async def _round(self) -> tuple[bool, bool]:
        """One round: (anything changed, a phase / gate / error changed)."""
        pending = [t for t in self._tracked.values() if not t.is_done]
        if not pending:
            return False, False
        remote = await self._remote_provider()
        if remote is not self._shapes_of:
            self._shapes, self._shape_locks, self._shapes_of = {}, {}, remote
        seen = await self._list(remote, pending)
        before = {t.key: t._signature() for t in pending}
        now = time.monotonic()
        detail: list[Awaitable[None]] = []
        progress: list[tuple[float, ExecutionKey]] = []
        for t in pending:
            detail.extend(self._apply(remote, t, seen.get(t.key), now, progress))
        budget = max(1, int(self._interval * PROGRESS_READS_PER_S))  # reads until the next round
        for _, key in sorted(progress)[:budget]:
            self._live[key].progress_at = now
            detail.append(self._progress(remote, self._tracked[key], seen[key]))
        await self._details(detail)
        changed = eventful = False
        for t in pending:
            signature = t._signature()
            if signature != before[t.key] or t.is_done:
                changed = True
                eventful = eventful or t.is_done or _events(signature) != _events(before[t.key])
                self._emit(t)
        return changed, eventful

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

    def _apply(
        self,
        remote: AsyncFlyteRemote,
        t: Tracked,
        ex: FlyteWorkflowExecution | None,
        now: float,
        progress: list[tuple[float, ExecutionKey]],
    ) -> list[Awaitable[None]]:
        """Update ``t`` from its listed execution; the detail it needs (appends progress candidates)."""
        live = self._live.setdefault(t.key, _Live())
        if ex is None:
            live.missing += 1
            if live.missing >= MISSING_ROUNDS:  # deleted, another backend's, or a wrong name: give up
                t.phase = "UNKNOWN"
                message = f"execution {t.key[2]} is not on this backend ({t.key[0]}/{t.key[1]})"
                t.error = {"message": message, "kind": "UNKNOWN", "node_id": None, "frames": [], "logs": []}
            return []
        live.missing = 0
        self._apply_closure(t, ex)
        live.single_task = ex.spec.launch_plan.resource_type == identifier_pb2.TASK
        if t.is_done:
            t.gates = []
        if t.phase == "SUCCEEDED":
            if live.single_task:
                t.nodes_done = t.nodes_total = 1
            return [self._outputs(remote, t, ex)]
        if t.phase in _FAILED_PHASES:
            return [self._failure(remote, t, ex)]
        if t.phase != "RUNNING":
            return []
        if live.single_task:
            t.nodes_done, t.nodes_total = 0, 1
            return []
        if now - live.progress_at >= PROGRESS_EVERY_S:
            progress.append((live.progress_at, t.key))
        return [self._gates(remote, t, ex, live)]

    async def _details(self, jobs: list[Awaitable[None]]) -> None:
        """Run the detail reads, a few at a time; one that fails is logged and read again next round."""
        limit = asyncio.Semaphore(DETAIL_CONCURRENCY)

        async def bounded(job: Awaitable[None]) -> None:
            async with limit:
                await job

        results = await asyncio.gather(*(bounded(job) for job in jobs), return_exceptions=True)
        failures = [r for r in results if isinstance(r, Exception)]
        if failures:
            log.info("execution tracking: %d detail read(s) failed, e.g. %s", len(failures), failures[0])

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

    async def _outputs(self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution) -> None:
        try:
            synced = await remote.sync_execution(ex)
        except Exception as exc:  # a success without readable outputs is still a success
            log.info("execution tracking: outputs of %s not read: %s", t.key[2], exc)
            t.outputs_summary = ""
        else:
            t.outputs_summary = summarize(synced.outputs or {})
        if t.nodes_total is None and ex.spec.launch_plan.resource_type != identifier_pb2.TASK:
            with contextlib.suppress(Exception):  # the count is a nicety: the workflow may be gone
                shape = await self._shape(remote, ex)
                t.nodes_total = shape.nodes_total if shape is not None else None
        if t.nodes_total is not None:
            t.nodes_done = t.nodes_total

    async def _failure(self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution) -> None:
        err = ex.error
        message = err.message if err is not None else ""
        kind = _error_kind(err)
        node_id: str | None = None
        logs: list[dict[str, str]] = []
        try:
            synced = await remote.sync_execution(ex, sync_nodes=True)
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
        t.error = {"message": message, "kind": kind, "node_id": node_id, "frames": frames, "logs": logs}

    async def _progress(self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution) -> None:
        shape = await self._shape(remote, ex)
        request = node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=ex.id.to_proto(),
            limit=100,
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING),
        )
        page = await remote.transport.call("ListNodeExecutions", request, kind="read")
        nodes = [
            ne for ne in page.node_executions if (ne.metadata.spec_node_id or ne.id.node_id) not in _BOUNDARY
        ]
        t.nodes_done = sum(1 for ne in nodes if ne.closure.phase in _NODE_DONE)
        t.nodes_total = max(shape.nodes_total if shape else 0, len(nodes)) or None

    async def _gates(
        self, remote: AsyncFlyteRemote, t: Tracked, ex: FlyteWorkflowExecution, live: _Live
    ) -> None:
        shape = live.shape = await self._shape(remote, ex)
        if shape is not None and t.nodes_total is None:
            t.nodes_total = shape.nodes_total  # cached per workflow version: no RPC
        if shape is None or not shape.gates:
            return
        signals = await remote.list_signals(ex.id.name, ex.id.project, ex.id.domain)
        waiting = []
        for signal in signals:
            if signal.HasField("value"):
                continue
            sid = signal.id.signal_id
            gate = shape.gates.get(sid, _Gate("", "signal", type_name(signal.type)))
            waiting.append({"signal_id": sid, "node_id": gate.node_id, "kind": gate.kind,
                            "type": gate.type or type_name(signal.type)})  # fmt: skip
        t.gates = sorted(waiting, key=lambda g: g["signal_id"])

    async def _shape(self, remote: AsyncFlyteRemote, ex: FlyteWorkflowExecution) -> _Shape | None:
        wf_id = ex.closure.workflow_id
        if not wf_id.name:
            return None
        cache_key = f"{wf_id.project}:{wf_id.domain}:{wf_id.name}:{wf_id.version}"
        # One fetch per workflow version, even when a round asks for it for many executions at once.
        async with self._shape_locks.setdefault(cache_key, asyncio.Lock()):
            if cache_key not in self._shapes:
                wf = await remote.fetch_workflow(wf_id.project, wf_id.domain, wf_id.name, wf_id.version)
                self._shapes[cache_key] = workflow_shape(wf.template, wf.sub_workflows)
        return self._shapes[cache_key]

    # --- callbacks and the store ----------------------------------------------------------------------------

    def _emit(self, t: Tracked) -> None:
        if self._on_change is None:
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
        for node in _walk(tmpl.nodes):
            if not node.HasField("gate_node"):
                continue
            gate = node.gate_node
            if gate.HasField("approve"):
                gates[gate.approve.signal_id] = _Gate(node.id, "approve", "bool")
            elif gate.HasField("signal"):
                gates[gate.signal.signal_id] = _Gate(node.id, "signal", type_name(gate.signal.type))
    return _Shape(total, gates)


def _walk(nodes: Iterable[core_wf_pb2.Node]) -> Iterable[core_wf_pb2.Node]:
    for node in nodes:
        yield node
        if node.HasField("branch_node"):
            ifelse = node.branch_node.if_else
            inner = [ifelse.case.then_node, *(case.then_node for case in ifelse.other)]
            if ifelse.HasField("else_node"):
                inner.append(ifelse.else_node)
            yield from _walk(inner)


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
