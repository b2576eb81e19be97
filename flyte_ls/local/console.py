"""The local backend's console: server-rendered pages at FlyteConsole's paths (reference local-backend.md §9),
so the URLs flytekit and flyte-ls print open here.

- ``/console``, ``/console/select-project``: the projects; ``/console/projects/<p>`` (``?domain=<d>``),
  ``/console/projects/<p>/domains/<d>/executions``: the project page, its executions with filters and paging
  (:mod:`.console_lists`).
- ``/console/projects/<p>/domains/<d>/executions/<name>``: the summary, the DAG (:mod:`.console_dag`, nodes
  coloured by phase), the timeline (:mod:`.console_timeline`, from GetExecutionMetrics), signals, the node
  table (:mod:`.console_nodes`), inputs and outputs; ``.../<name>/nodeId/<unique node id>/nodes`` (propeller's
  ``FLYTE_EXECUTION_URL``) adds that node's inputs, outputs and attempts. ``?part=live`` answers only the
  page's live part (``<div id='live' data-terminal='true|false'>``): a page of an unfinished execution loads
  ``/console/static/live.js``, which fetches it every LIVE_MS and swaps it in place until the execution ends
  (without scripts, a ``<noscript>`` refresh reloads the page instead). A finished execution's page loads no
  script.
- Task, workflow and launch plan pages (:mod:`.console_entities`).

Plain HTML, nothing loaded from elsewhere, no script but the console's own live.js, every value escaped
(:mod:`.console_html`). Data
comes from the AdminService's and the SignalService's own RPCs, called in-process; unknown things get a 404
page that says what is missing and links to what exists.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from flyteidl.admin import (
    common_pb2,
    execution_pb2,
    node_execution_pb2,
    project_pb2,
    signal_pb2,
    workflow_pb2,
)
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2

from flyte_ls.local import console_entities, console_lists
from flyte_ls.local.console_dag import Graph, build_graph, render_dag
from flyte_ls.local.console_entities import type_name
from flyte_ls.local.console_html import (
    HTML,
    NODE_PHASE,
    WF_PHASE,
    WF_TERMINAL,
    dur,
    e,
    entity_url,
    exec_url,
    link,
    literal,
    literal_table,
    page,
    phase_span,
    seg,
    table,
    ts,
)
from flyte_ls.local.console_nodes import MAX_DEPTH, NodeTree, Scope, Signals, error_html, node_kind
from flyte_ls.local.console_timeline import render_timeline
from flyte_ls.local.errors import AdminError, InvalidArgument, NotFound
from flyte_ls.local.flyte_urls import call_rpc

Response = tuple[int, str, bytes]
_MODE = execution_pb2.ExecutionMetadata.ExecutionMode
LIVE_MS = 1500  # how often live.js fetches a running execution's live part
LIVE_PART = "live"
METRICS_DEPTH = 2 * MAX_DEPTH + 4  # GetExecutionMetrics: each nesting level takes one or two
NODE_DONE = frozenset(
    NODE_PHASE.Value(p) for p in ("SUCCEEDED", "FAILED", "ABORTED", "SKIPPED", "TIMED_OUT", "RECOVERED")
)


def project_nav(project: str, domain: str = "") -> str:
    out = f" / {link(f'/console/projects/{seg(project)}', project)}"
    if domain:
        out += f" / {link(f'/console/projects/{seg(project)}/domains/{seg(domain)}/executions', domain)}"
    return out


class Console:
    """GET routes for ``/console/...`` over an AdminServicer (its ``store.state_dir`` locates data files)."""

    def __init__(self, admin: Any) -> None:
        self.admin = admin
        store = getattr(admin, "store", None)
        state_dir = getattr(store, "state_dir", None)
        self.files_root = Path(state_dir).resolve() if state_dir is not None else None
        self.signal_service: Any = None  # the SignalService over the same store (one source of truth)
        if store is not None:
            from flyte_ls.local.signals import SignalServicer

            self.signal_service = SignalServicer(store)

    # -- routing -----------------------------------------------------------------------------------------
    def route(self, path: str, query: dict[str, list[str]]) -> Response:
        parts = [unquote(p) for p in path.split("/") if p][1:]  # without "console"
        q = {k: v[0] for k, v in query.items() if v}
        try:
            return 200, HTML, self._dispatch(parts, q)
        except NotFound as exc:
            return 404, HTML, self._not_found(parts, exc.message)
        except AdminError as exc:
            return 400, HTML, page("error", f"<h1>Bad request</h1><p>{e(exc.message)}</p>")

    def _dispatch(self, parts: list[str], q: dict[str, str]) -> bytes:
        n = len(parts)
        if n == 0 or parts == ["select-project"] or parts == ["projects"]:
            return console_lists.projects(self)
        if parts[0] != "projects" or n < 2:
            raise NotFound(f"there is no console page at /console/{'/'.join(parts)}")
        project = parts[1]
        if n == 2 or (n == 3 and parts[2] == "executions"):
            return console_lists.project_page(self, project, q.get("domain", ""), q)
        if n == 3 and parts[2] in console_entities.LIST_KINDS:
            return console_entities.entity_list(self, project, q.get("domain", "development"), parts[2])
        if n >= 4 and parts[2] == "domains":
            domain, rest = parts[3], parts[4:]
            if not rest or rest == ["executions"]:
                return console_lists.project_page(self, project, domain, q)
            if rest[0] == "executions" and len(rest) == 2:
                return self.execution(project, domain, rest[1], part=q.get("part", ""))
            if rest[0] == "executions" and len(rest) in (4, 5) and rest[2] == "nodeId":
                if len(rest) == 4 or rest[4] == "nodes":
                    return self.execution(project, domain, rest[1], node=rest[3], part=q.get("part", ""))
            if rest[0] in console_entities.KINDS:
                if len(rest) == 1:
                    return console_entities.entity_list(self, project, domain, rest[0])
                if len(rest) == 2:
                    return console_entities.versions_page(self, project, domain, rest[0], rest[1], q)
                if len(rest) == 4 and rest[2] == "version":
                    return console_entities.version_page(self, project, domain, rest[0], rest[1], rest[3], q)
        raise NotFound(f"there is no console page at /console/{'/'.join(parts)}")

    def call(self, method: str, request: Any) -> Any:
        return call_rpc(self.admin, method, request)

    def check_project(self, project: str, domain: str = "") -> None:
        """NotFound naming what exists, for an unknown project or domain."""
        try:
            p = self.call("GetProject", project_pb2.ProjectGetRequest(id=project))
        except InvalidArgument:
            raise NotFound("no project given") from None
        if domain and domain not in [d.id for d in p.domains]:
            known = ", ".join(d.id for d in p.domains)
            raise NotFound(f"project [{project}] has no domain [{domain}] (its domains: {known})")

    def _not_found(self, parts: list[str], message: str) -> bytes:
        hints = ["<li><a href='/console'>all projects</a></li>"]
        if len(parts) >= 2 and parts[0] == "projects":
            try:
                self.check_project(parts[1])
            except AdminError:
                pass
            else:
                base = f"/console/projects/{seg(parts[1])}"
                hints.insert(0, f"<li>{link(base, f'project {parts[1]}')}</li>")
                if len(parts) >= 4 and parts[2] == "domains":
                    url = f"{base}/domains/{seg(parts[3])}/executions"
                    hints.insert(0, f"<li>{link(url, f'executions in {parts[1]} / {parts[3]}')}</li>")
        body = f"<h1>Not found</h1><p>{e(message)}</p><p>See instead:</p><ul>{''.join(hints)}</ul>"
        return page("not found", body)

    def file_link(self, path: str) -> str | None:
        """The same-origin URL (``/files/...``) of a data file of the state dir, or None."""
        if self.files_root is None or not path:
            return None
        from flyte_ls.local.http import file_url

        try:
            real = Path(path.removeprefix("file://")).resolve()
            real.relative_to(self.files_root)
        except (OSError, ValueError):
            return None
        return file_url("", self.files_root, real) if real.is_file() else None

    def data_table(self, literals: literals_pb2.LiteralMap, blob: common_pb2.UrlBlob) -> str:
        """Inputs or outputs; a map too large for Get…Data to inline is linked as its file instead."""
        if literals.literals or blob.bytes <= 0:
            return literal_table(literals)
        url = self.file_link(blob.url)
        size = f"{blob.bytes / (1024 * 1024):.1f} MiB"
        where = f": {link(url, 'the literal map file')}" if url else ""
        return f"<p class='muted'>too large to show here ({size}){where}</p>"

    def execution(self, project: str, domain: str, name: str, node: str = "", part: str = "") -> bytes:
        """The execution page (or of one of its nodes); ``part='live'``: only its live part."""
        if part not in ("", LIVE_PART):
            raise InvalidArgument(f"unknown part {part!r} of an execution page (there is {LIVE_PART!r})")
        ident = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
        ex = self.call("GetExecution", execution_pb2.WorkflowExecutionGetRequest(id=ident))
        phase = WF_PHASE.Name(ex.closure.phase)
        title = f"{name} {phase}" + (f" · {node}" if node else "")
        live = self._live(ex, node, title)
        if part == LIVE_PART:
            return live.encode()
        nav = project_nav(project, domain) + f" / {e(name)}"
        if phase in WF_TERMINAL:
            return page(title, live, nav=nav)
        # live.js swaps the live part in place; without scripts the page reloads itself (<noscript>)
        body = f"{live}<p id='live-status' class='vh' role='status' aria-live='polite'></p>"
        return page(title, body, nav=nav, reload=True, scripts=("live.js",))

    def _live(self, ex: execution_pb2.Execution, node: str, title: str) -> str:
        """What changes while the execution runs: the phase header, summary, DAG, timeline, signals, node
        table, inputs and outputs, in ``<div id='live'>`` marked terminal or not."""
        ident, c = ex.id, ex.closure
        phase = WF_PHASE.Name(c.phase)
        running = phase not in WF_TERMINAL
        scope, signals = self._scope(c.workflow_id), self._signals(ident)
        tree = NodeTree(self.admin, ident, scope, self.file_link, signals, self.data_table)
        nodes = tree.render(highlight=node)
        parts = [f"<h1>Execution {e(ident.name)} {phase_span(phase)}</h1>", self._summary(ex)]
        if node:
            if node not in tree.found:
                raise NotFound(
                    f"execution [{ident.project}/{ident.domain}/{ident.name}] has no node execution [{node}]"
                )
            parts.append(self._node_section(tree, node))
        if c.HasField("error"):
            parts.append(f"<h2>Error</h2>{error_html(c.error)}")
        if c.abort_metadata.cause or c.abort_cause:
            who = f" by {c.abort_metadata.principal}" if c.abort_metadata.principal else ""
            parts.append(f"<h2>Aborted{e(who)}</h2><pre>{e(c.abort_metadata.cause or c.abort_cause)}</pre>")
        parts.append(f"<section id='graph'><h2>Graph</h2>{self._dag(c.workflow_id, tree)}</section>")
        timeline = self._timeline(ident, tree if running else None)
        parts.append(f"<section id='timeline'><h2>Timeline</h2>{timeline}</section>")
        if tree.signals.by_id:
            parts.append(
                "<section id='signals'><h2>Signals</h2>"
                + signals_table(tree.signals, ident.name, running=running)
                + "</section>"
            )
        parts.append(f"<section id='nodes'><h2>Nodes</h2>{nodes}</section>")
        try:
            data = self.call("GetExecutionData", execution_pb2.WorkflowExecutionGetDataRequest(id=ident))
        except AdminError:
            data = None
        if data is not None:
            whose = "Execution i" if node else "I"
            parts.append(f"<h2>{whose}nputs</h2>" + self.data_table(data.full_inputs, data.inputs))
            if phase == "SUCCEEDED":
                whose = "Execution o" if node else "O"
                parts.append(f"<h2>{whose}utputs</h2>" + self.data_table(data.full_outputs, data.outputs))
        if running:
            parts.append("<p class='muted'>This page updates itself while the execution runs.</p>")
        terminal = "false" if running else "true"
        return (
            f"<div id='live' data-terminal='{terminal}' data-phase='{e(phase)}' data-title='{e(title)}' "
            f"data-interval='{LIVE_MS}'>{''.join(parts)}</div>"
        )

    def _dag(self, workflow_id: identifier_pb2.Identifier, tree: NodeTree) -> str:
        """The workflow's graph with each node's phase from its node execution, linked to its row (a launch
        plan node to its child execution; a node that never ran to nothing), dynamic nodes expanded into the
        workflow they generated."""
        closure = self._closure(workflow_id)
        if closure is None:
            return "<p class='muted'>the workflow definition is not available</p>"
        try:
            graph = build_graph(closure)
        except LookupError as exc:
            return f"<p class='muted'>{e(exc)}</p>"
        phases: dict[str, str] = {}
        links: dict[str, str] = {}
        for key, record in tree.by_key.items():
            phases[key] = NODE_PHASE.Name(record.closure.phase)
            child = record.closure.workflow_node_metadata.executionId
            if child.name:
                links[key] = exec_url(child.project, child.domain, child.name)
            else:
                links[key] = f"#node-{seg(record.id.node_id)}"
        dynamic: dict[str, Graph] = {}
        for key, generated in tree.dynamic.items():
            try:
                dynamic[key] = build_graph(generated)
            except LookupError:
                continue
        # a node that never ran (a branch case not taken, a node not started yet) has no row: no link
        title = f"Graph of {workflow_id.name}"
        return render_dag(graph, phases=phases, links=links, dynamic=dynamic, title=title, link_rows=False)

    def _timeline(self, ident: identifier_pb2.WorkflowExecutionIdentifier, running: NodeTree | None) -> str:
        """The timeline from GetExecutionMetrics; while the execution runs (``running``: its node tree), the
        spans of the nodes not finished yet are drawn up to now."""
        req = execution_pb2.WorkflowExecutionGetMetricsRequest(id=ident, depth=METRICS_DEPTH)
        try:
            span = self.call("GetExecutionMetrics", req).span
        except AdminError as exc:
            return f"<p class='muted'>no timeline: {e(exc.message)}</p>"
        if running is None:
            return render_timeline(span)
        going = {uid for uid, (n, _) in running.found.items() if n.closure.phase not in NODE_DONE}
        return render_timeline(span, now=time.time_ns(), running=going)

    def _summary(self, ex: execution_pb2.Execution) -> str:
        c, meta = ex.closure, ex.spec.metadata
        lp = ex.spec.launch_plan
        rows = [("launch plan", link(entity_url(lp), f"{lp.name} @ {lp.version}") if lp.name else "")]
        if c.workflow_id.name:
            wf = c.workflow_id
            rows.append(("workflow", link(entity_url(wf), f"{wf.name} @ {wf.version}")))
        mode = _MODE.Name(meta.mode) if meta.mode in _MODE.values() else str(meta.mode)
        parent = meta.parent_node_execution
        if parent.execution_id.name:
            pe = parent.execution_id
            url = f"{exec_url(pe.project, pe.domain, pe.name)}/nodeId/{seg(parent.node_id)}/nodes"
            mode += f" (launched by node {link(url, f'{pe.name}/{parent.node_id}')})"
        rows += [
            ("mode", mode),
            ("principal", e(meta.principal)),
            ("created", ts(c.created_at)),
            ("started", ts(c.started_at)),
            ("updated", ts(c.updated_at)),
            ("duration", dur(c.duration)),
        ]
        return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows if v) + "</table>"

    def _node_section(self, tree: NodeTree, uid: str) -> str:
        record, spec = tree.found[uid]
        phase = NODE_PHASE.Name(record.closure.phase)
        out = [
            f"<h2 id='node'>Node {e(uid)} {phase_span(phase)}</h2>",
            f"<p>{node_kind(spec, record)} &middot; <a href='#node-{e(uid)}'>in the node list</a></p>",
        ]
        try:
            data = self.call(
                "GetNodeExecutionData", node_execution_pb2.NodeExecutionGetDataRequest(id=record.id)
            )
        except AdminError:
            data = None
        if data is not None:
            out.append("<h3>Inputs</h3>" + self.data_table(data.full_inputs, data.inputs))
            out.append("<h3>Outputs</h3>" + self.data_table(data.full_outputs, data.outputs))
            urls = [data.flyte_urls.inputs, data.flyte_urls.outputs]
            out.append("<p class='muted'>" + " ".join(f"<code>{e(u)}</code>" for u in urls if u) + "</p>")
        out.append("<h3>Attempts</h3>" + (tree.attempts(record.id) or "<p class='muted'>none</p>"))
        return "".join(out)

    def _closure(self, workflow_id: identifier_pb2.Identifier) -> compiler_pb2.CompiledWorkflowClosure | None:
        """The compiled workflow (read once per request: the node table and the DAG both use it)."""
        if not workflow_id.name:
            return None
        try:
            wf: workflow_pb2.Workflow = self.call("GetWorkflow", common_pb2.ObjectGetRequest(id=workflow_id))
        except AdminError:
            return None
        return wf.closure.compiled_workflow

    def _scope(self, workflow_id: identifier_pb2.Identifier) -> Scope:
        closure = self._closure(workflow_id)
        return Scope() if closure is None else Scope.of(closure)

    def _signals(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> Signals:
        out = Signals()
        token = ""
        while self.signal_service is not None:
            req = signal_pb2.SignalListRequest(workflow_execution_id=ident, limit=100, token=token)
            try:
                listed = call_rpc(self.signal_service, "ListSignals", req)
            except AdminError:
                break
            for sig in listed.signals:
                out.by_id[sig.id.signal_id] = (sig.type, sig.value if sig.HasField("value") else None)
            token = listed.token
            if not token or len(out.by_id) >= 1000:
                break
        return out


def signals_table(signals: Signals, execution: str, running: bool) -> str:
    """The execution's signals: id, type, value (or waiting, with how to set it from flytekit)."""
    rows = []
    for sid, (type_, value) in sorted(signals.by_id.items()):
        if value is not None:
            state = f"<pre>{e(literal(value))}</pre>"
        elif running:
            how = (
                f"remote.approve({sid!r}, {execution!r})"
                if type_name(type_) == "bool"
                else f"remote.set_input({sid!r}, {execution!r}, value)"
            )
            state = "<span class='waiting'>waiting</span>"
            state += f" <span class='muted'>(FlyteRemote: <code>{e(how)}</code>)</span>"
        else:
            state = "<span class='muted'>never set</span>"
        rows.append(f"<tr><td><code>{e(sid)}</code></td><td>{e(type_name(type_))}</td><td>{state}</td></tr>")
    return table(["signal", "type", "value"], rows, "no signals")
