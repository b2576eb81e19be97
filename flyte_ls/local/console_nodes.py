"""The node table of an execution's console page: every node execution, nested under its subworkflow,
@dynamic, branch or array parent, with its kind (from the compiled workflow), phase, start time, duration,
the task attempts with their phases, durations and log links, error, cache status, deck, child execution
(launch-plan nodes), gate wait (signal id and type), and its inputs and outputs (a short line, the tables
folded in a ``<details>``).

Records are read through the AdminService (ListNodeExecutions with ``unique_parent_id``, ListTaskExecutions,
GetNodeExecutionData for the data and for the workflow a dynamic node generated); the node kinds come from
the execution's compiled workflow (its subworkflows and the dynamic workflows), matched by
``metadata.spec_node_id``. While rendering, the tree also collects what the DAG picture needs: each node's
graph key (``n1/n0`` for node ``n0`` inside ``n1``, see :mod:`.console_dag`), phase and child execution, and
the workflows the dynamic nodes generated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flyteidl.admin import common_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import catalog_pb2, compiler_pb2, identifier_pb2, literals_pb2, workflow_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2

from flyte_ls.local.admin.executions import url_blob
from flyte_ls.local.admin.node_executions import fill_data
from flyte_ls.local.console_entities import type_name
from flyte_ls.local.console_html import (
    NODE_PHASE,
    TASK_PHASE,
    dur,
    e,
    entity_url,
    exec_url,
    link,
    literal,
    phase_span,
    seg,
    table,
    ts,
)
from flyte_ls.local.errors import AdminError
from flyte_ls.local.flyte_urls import call_rpc

MAX_DEPTH = 12
MAX_ROWS = 2000  # node rows on one page; a larger execution says what was left out
MAX_DATA_ROWS = 500  # rows whose inputs and outputs are read; later rows link to the node's page
BRIEF_CHARS = 60  # of the one-line inputs / outputs summary
_PAGE = 200
_HIDDEN = ("start-node", "end-node")
_WAITING = {"UNDEFINED", "QUEUED", "RUNNING"}


def _key(ident: identifier_pb2.Identifier) -> tuple[str, str, str, str]:
    return (ident.project, ident.domain, ident.name, ident.version)


DataTable = Callable[[literals_pb2.LiteralMap, common_pb2.UrlBlob], str]


@dataclass
class Scope:
    """The spec nodes that children of one parent can be (by spec node id), and the subworkflows around."""

    nodes: dict[str, workflow_pb2.Node] = field(default_factory=dict)
    subs: dict[tuple[str, str, str, str], workflow_pb2.WorkflowTemplate] = field(default_factory=dict)

    @classmethod
    def of(cls, closure: compiler_pb2.CompiledWorkflowClosure, outer: Scope | None = None) -> Scope:
        subs = dict(outer.subs) if outer is not None else {}
        subs.update({_key(s.template.id): s.template for s in closure.sub_workflows})
        return cls({n.id: n for n in closure.primary.template.nodes}, subs)

    def within(self, nodes: Iterator[workflow_pb2.Node] | list[workflow_pb2.Node]) -> Scope:
        return Scope({n.id: n for n in nodes}, self.subs)


@dataclass
class Signals:
    """Signals of the execution by id: (type, value literal or None while waiting)."""

    by_id: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def node_kind(spec: workflow_pb2.Node | None, record: node_execution_pb2.NodeExecution) -> str:
    """HTML naming what the node is (task / subworkflow / launch plan / branch / gate / array)."""
    if record.metadata.is_dynamic:
        base = "dynamic"
    elif record.metadata.is_array:
        base = "array (map task)"
    else:
        base = ""
    if spec is None:
        return e(base or "node")
    target = spec.WhichOneof("target")
    if target == "task_node":
        ref = spec.task_node.reference_id
        return f"{e(base or 'task')} {link(entity_url(ref), ref.name)}"
    if target == "workflow_node":
        wn = spec.workflow_node
        if wn.HasField("launchplan_ref"):
            return f"launch plan {link(entity_url(wn.launchplan_ref), wn.launchplan_ref.name)}"
        return f"subworkflow {e(wn.sub_workflow_ref.name)}"
    if target == "branch_node":
        return "branch"
    if target == "gate_node":
        kind = spec.gate_node.WhichOneof("condition") or ""
        return f"gate ({e(kind)})"
    if target == "array_node":
        inner = spec.array_node.node
        if inner.WhichOneof("target") == "task_node":
            return f"array (map task) {e(inner.task_node.reference_id.name)}"
        return "array"
    return e(base or target or "node")


def gate_detail(spec: workflow_pb2.Node, phase: str, signals: Signals) -> str:
    """What a gate node waits for: approval / a typed input (signal id) / a sleep, and the value once set."""
    gate = spec.gate_node
    kind = gate.WhichOneof("condition")
    waiting = phase in _WAITING
    if kind == "sleep":
        wait = f"sleep {dur(gate.sleep.duration) or '0 s'}"
        return f"<div class='waiting'>{e('sleeping: ' + wait)}</div>" if waiting else e(wait)
    if kind == "approve":
        sid = gate.approve.signal_id
        what = f"approval: signal <code>{e(sid)}</code> (bool)"
    elif kind == "signal":
        sid = gate.signal.signal_id
        what = (
            f"input: signal <code>{e(sid)}</code> of type {e(type_name(gate.signal.type))}"
            f" (output {e(gate.signal.output_variable_name)})"
        )
    else:
        return ""
    _, value = signals.by_id.get(sid, (None, None))
    got = f" &middot; value {e(literal(value))}" if value is not None else ""
    if waiting:
        return f"<div class='waiting'>waiting for {what}{got}</div>"
    return f"{what}{got}"


class NodeTree:
    """Renders the node list of one execution (or of one parent node inside it)."""

    def __init__(
        self,
        admin: Any,
        exec_id: identifier_pb2.WorkflowExecutionIdentifier,
        scope: Scope,
        file_link: Callable[[str], str | None],
        signals: Signals,
        data_table: DataTable | None = None,
    ) -> None:
        self.admin = admin
        self.exec_id = exec_id
        self.scope = scope
        self.file_link = file_link
        self.signals = signals
        self.data_table = data_table  # renders inputs / outputs; None: no data column
        self.rows = 0
        self.data_rows = 0
        self.truncated = False
        self.found: dict[str, tuple[node_execution_pb2.NodeExecution, workflow_pb2.Node | None]] = {}
        # for the DAG picture, by graph key ("n1/n0"): the unique node id, and the dynamic workflows
        self.by_key: dict[str, node_execution_pb2.NodeExecution] = {}
        self.dynamic: dict[str, compiler_pb2.CompiledWorkflowClosure] = {}
        self._data: dict[str, node_execution_pb2.NodeExecutionGetDataResponse | None] = {}

    def render(self, highlight: str = "") -> str:
        body = list(self._rows("", "", self.scope, 0, highlight))
        head = ["node", "kind", "phase", "started", "duration", "details", "attempts and logs"]
        if self.data_table is not None:
            head.append("inputs and outputs")
        out = table(head, body, "no nodes have started yet", caption="Node executions")
        if self.truncated:
            out += f"<p class='muted'>only the first {MAX_ROWS} nodes are listed</p>"
        return out

    def node_data(
        self, n: node_execution_pb2.NodeExecution
    ) -> node_execution_pb2.NodeExecutionGetDataResponse | None:
        """GetNodeExecutionData of a node (once per render), or None when it fails. For a node that is not
        dynamic (no generated workflow to read) the answer is built from the listed record with the RPC's own
        helpers: on a page of 500 nodes that saves reading each record again."""
        uid = n.id.node_id
        if uid not in self._data:
            if not n.metadata.is_dynamic:
                self._data[uid] = data_of(n)
                return self._data[uid]
            try:
                req = node_execution_pb2.NodeExecutionGetDataRequest(id=n.id)
                self._data[uid] = call_rpc(self.admin, "GetNodeExecutionData", req)
            except AdminError:
                self._data[uid] = None
        return self._data[uid]

    def _list(self, parent: str) -> list[node_execution_pb2.NodeExecution]:
        out: list[node_execution_pb2.NodeExecution] = []
        token = ""
        while True:
            req = node_execution_pb2.NodeExecutionListRequest(
                workflow_execution_id=self.exec_id,
                limit=_PAGE,
                token=token,
                unique_parent_id=parent,
                sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING),
            )
            try:
                listed = call_rpc(self.admin, "ListNodeExecutions", req)
            except AdminError:
                return out
            out.extend(listed.node_executions)
            token = listed.token
            if not token or len(out) >= MAX_ROWS:
                return out

    def _rows(self, parent: str, parent_key: str, scope: Scope, depth: int, highlight: str) -> Iterator[str]:
        for n in self._list(parent):
            if n.id.node_id in _HIDDEN or n.metadata.spec_node_id in _HIDDEN:
                continue
            if self.rows >= MAX_ROWS:
                self.truncated = True
                return
            self.rows += 1
            spec_id = n.metadata.spec_node_id or n.id.node_id
            spec = scope.nodes.get(spec_id)
            key = f"{parent_key}/{spec_id}" if parent_key else spec_id
            self.found[n.id.node_id] = (n, spec)
            self.by_key[key] = n
            yield self._row(n, spec, depth, highlight)
            if n.metadata.is_parent_node and depth < MAX_DEPTH:
                child_scope = self._child_scope(n, key, spec, scope)
                yield from self._rows(n.id.node_id, key, child_scope, depth + 1, highlight)

    def _child_scope(
        self, n: node_execution_pb2.NodeExecution, key: str, spec: workflow_pb2.Node | None, scope: Scope
    ) -> Scope:
        if n.metadata.is_dynamic:
            data = self.node_data(n)
            if data is None:
                return Scope(subs=scope.subs)
            if data.HasField("dynamic_workflow"):
                self.dynamic[key] = data.dynamic_workflow.compiled_workflow
                return Scope.of(data.dynamic_workflow.compiled_workflow, scope)
        if spec is None:
            return Scope(subs=scope.subs)
        target = spec.WhichOneof("target")
        if target == "workflow_node" and spec.workflow_node.HasField("sub_workflow_ref"):
            sub = scope.subs.get(_key(spec.workflow_node.sub_workflow_ref))
            return scope.within(list(sub.nodes)) if sub is not None else Scope(subs=scope.subs)
        if target == "branch_node":
            ie = spec.branch_node.if_else
            cases = [ie.case, *ie.other]
            nodes = [c.then_node for c in cases] + ([ie.else_node] if ie.HasField("else_node") else [])
            return scope.within(nodes)
        if target == "array_node":
            return scope.within([spec.array_node.node])
        return Scope(subs=scope.subs)

    def _row(
        self, n: node_execution_pb2.NodeExecution, spec: workflow_pb2.Node | None, depth: int, highlight: str
    ) -> str:
        c = n.closure
        phase = NODE_PHASE.Name(c.phase)
        uid = n.id.node_id
        ex = self.exec_id
        node_href = f"{exec_url(ex.project, ex.domain, ex.name)}/nodeId/{seg(uid)}/nodes"
        label = spec.metadata.name if spec is not None and spec.metadata.name else ""
        name = link(node_href, uid) + (f"<br><span class='muted'>{e(label)}</span>" if label else "")
        details = self._details(n, spec, phase)
        cls = " class='hl'" if uid == highlight else ""
        data = f"<td class='io'>{self._io(n, node_href)}</td>" if self.data_table is not None else ""
        return (
            f"<tr id='node-{e(uid)}'{cls}><td class='node' style='padding-left:{0.5 + 1.5 * depth:.1f}em'>"
            f"{name}</td><td class='kind'>{node_kind(spec, n)}</td><td>{phase_span(phase)}</td>"
            f"<td class='t'>{ts(c.started_at)}</td><td class='t'>{dur(c.duration)}</td><td>{details}</td>"
            f"<td>{self.attempts(n.id)}</td>{data}</tr>"
        )

    def _io(self, n: node_execution_pb2.NodeExecution, node_href: str) -> str:
        """The node's inputs and outputs: one short line, the whole tables folded under it."""
        if self.data_table is None:
            return ""
        if self.data_rows >= MAX_DATA_ROWS:
            return link(node_href, "on the node's page")
        self.data_rows += 1
        data = self.node_data(n)
        if data is None:
            return ""
        parts = []
        for label, literals, blob in (
            ("in", data.full_inputs, data.inputs),
            ("out", data.full_outputs, data.outputs),
        ):
            if literals.literals or blob.bytes > 0:
                parts.append((label, brief(literals) or "(large)", self.data_table(literals, blob)))
        if not parts:
            return ""
        summary = " · ".join(f"{label}: {text}" for label, text, _ in parts)
        tables = "".join(
            f"<div class='muted'>{'inputs' if label == 'in' else 'outputs'}</div>{body}"
            for label, _, body in parts
        )
        return f"<details><summary>{e(summary)}</summary>{tables}</details>"

    def _details(
        self, n: node_execution_pb2.NodeExecution, spec: workflow_pb2.Node | None, phase: str
    ) -> str:
        c = n.closure
        out: list[str] = []
        if c.HasField("error"):
            out.append(error_html(c.error))
        if spec is not None and spec.WhichOneof("target") == "gate_node":
            out.append(gate_detail(spec, phase, self.signals))
        child = c.workflow_node_metadata.executionId
        if child.name:
            out.append(
                "child execution " + link(exec_url(child.project, child.domain, child.name), child.name)
            )
        tm = c.task_node_metadata
        if tm.cache_status:
            status = catalog_pb2.CatalogCacheStatus.Name(tm.cache_status)
            cache = f"cache <span class='{e(status)}'>{e(status.removeprefix('CACHE_').lower())}</span>"
            src = tm.catalog_key.source_task_execution.node_execution_id
            if tm.cache_status == catalog_pb2.CACHE_HIT and src.execution_id.name:
                se = src.execution_id
                cache += " from " + link(
                    f"{exec_url(se.project, se.domain, se.name)}/nodeId/{seg(src.node_id)}/nodes",
                    f"{se.name}/{src.node_id}",
                )
            out.append(cache)
        if c.deck_uri:
            url = self.file_link(c.deck_uri)
            out.append(link(url, "deck") if url else "<span class='muted'>deck (not available)</span>")
        return "<br>".join(x for x in out if x)

    def attempts(self, node: identifier_pb2.NodeExecutionIdentifier) -> str:
        req = task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=node,
            limit=100,
            sort_by=common_pb2.Sort(key="retry_attempt", direction=common_pb2.Sort.ASCENDING),
        )
        try:
            attempts = call_rpc(self.admin, "ListTaskExecutions", req).task_executions
        except AdminError:
            return ""
        lines = []
        for t in attempts:
            c = t.closure
            phase = TASK_PHASE.Name(c.phase)
            logs = [link(log.uri, log.name or "log") for log in c.logs if log.uri]
            line = (
                f"<span class='nw'>attempt {t.id.retry_attempt} {phase_span(phase)} {dur(c.duration)}</span>"
            )
            if logs:
                line += " &middot; " + " ".join(logs)
            if c.HasField("error") and len(attempts) > 1:
                line += f"<div class='err'>{message_html(c.error.message)}</div>"
            line += _subtasks(c.metadata.external_resources)
            lines.append(line)
        return "<br>".join(lines)


def data_of(n: node_execution_pb2.NodeExecution) -> node_execution_pb2.NodeExecutionGetDataResponse:
    """What GetNodeExecutionData answers about a node's inputs and outputs, from its record."""
    out = node_execution_pb2.NodeExecutionGetDataResponse(
        inputs=url_blob(n.input_uri), outputs=url_blob(n.closure.output_uri)
    )
    fill_data(out, n.input_uri, n.closure.output_uri)
    return out


def brief(literals: literals_pb2.LiteralMap) -> str:
    """``x=1, s='hi'``, cut at BRIEF_CHARS characters (unescaped)."""
    text = ", ".join(f"{k}={literal(v)}" for k, v in sorted(literals.literals.items()))
    return text if len(text) <= BRIEF_CHARS else text[: BRIEF_CHARS - 1] + "…"


def _subtasks(resources: Any) -> str:
    """The per-index sub-tasks of a map task attempt (``external_resources``), folded."""
    if not resources:
        return ""
    items = []
    for r in resources:
        phase = TASK_PHASE.Name(r.phase) if r.phase in TASK_PHASE.values() else str(r.phase)
        logs = " ".join(link(log.uri, log.name or "log") for log in r.logs if log.uri)
        cache = catalog_pb2.CatalogCacheStatus.Name(r.cache_status) if r.cache_status else ""
        extra = f" cache {e(cache.removeprefix('CACHE_').lower())}" if cache else ""
        retry = f" (attempt {r.retry_attempt})" if r.retry_attempt else ""
        items.append(f"<li>index {r.index}{retry} {phase_span(phase)}{extra} {logs}</li>")
    return f"<details><summary>{len(items)} sub-tasks</summary><ul>{''.join(items)}</ul></details>"


def message_html(message: str) -> str:
    """An error message: its last line (where flytekit puts the exception) with the whole text folded
    under it (``<details>`` needs no script)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        return f"<pre>{e(message)}</pre>"
    last = lines[-1] if len(lines[-1]) <= 300 else lines[-1][:300] + "..."
    return f"<details><summary>{e(last)}</summary><pre>{e(message)}</pre></details>"


def error_html(err: core_execution_pb2.ExecutionError) -> str:
    kind = core_execution_pb2.ExecutionError.ErrorKind.Name(err.kind) if err.kind else ""
    head = " ".join(x for x in (err.code, f"({kind.lower()} error)" if kind else "") if x)
    return f"<div class='err'>{e(head)}{message_html(err.message)}</div>"
