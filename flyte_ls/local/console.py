"""Console pages, first cut: an execution's phase, inputs, outputs and nodes (with log links), and a
project's executions list, at FlyteConsole's paths. Plain server-rendered HTML, no JavaScript; a running
execution's page refreshes itself. Data comes from the AdminService's own RPCs, called in-process.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote, unquote

from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from flyte_ls.local.console_entities import KINDS, entity_page
from flyte_ls.local.errors import AdminError, NotFound
from flyte_ls.local.flyte_urls import call_rpc

HTML = "text/html; charset=utf-8"
_WF_PHASE = core_execution_pb2.WorkflowExecution.Phase
_NODE_PHASE = core_execution_pb2.NodeExecution.Phase
_TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}
_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
    ".SUCCEEDED{color:#080}.FAILED,.TIMED_OUT{color:#b00}.RUNNING,.QUEUED{color:#06c}.ABORTED{color:#777}"
    "pre{white-space:pre-wrap;max-width:60em}"
)

e = html.escape


def _page(title: str, body: str, refresh: bool = False) -> bytes:
    meta = "<meta http-equiv='refresh' content='3'>" if refresh else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>{meta}<title>{e(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>\n"
    ).encode()


def _ts(t: timestamp_pb2.Timestamp) -> str:
    return t.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC") if t.seconds or t.nanos else ""


def _dur(d: duration_pb2.Duration) -> str:
    return f"{d.seconds + d.nanos / 1e9:.2f} s" if d.seconds or d.nanos else ""


def _literal(lit: literals_pb2.Literal) -> str:
    """A short, readable rendering of a literal."""
    kind = lit.WhichOneof("value")
    if kind == "scalar":
        s = lit.scalar
        which = s.WhichOneof("value")
        if which == "primitive":
            p = s.primitive
            v = p.WhichOneof("value")
            if v == "datetime":
                return _ts(p.datetime)
            if v == "duration":
                return _dur(p.duration)
            return repr(getattr(p, v)) if v else ""
        if which == "blob":
            return s.blob.uri
        if which == "none_type":
            return "None"
        if which == "union":
            return _literal(s.union.value)
        if which == "generic":
            return str(dict(s.generic))[:500]
        if which == "binary":
            return f"<{len(s.binary.value)} bytes {s.binary.tag}>"
        if which == "structured_dataset":
            return s.structured_dataset.uri
        return f"<{which}>"
    if kind == "collection":
        items = [_literal(x) for x in lit.collection.literals[:20]]
        more = ", ..." if len(lit.collection.literals) > 20 else ""
        return "[" + ", ".join(items) + more + "]"
    if kind == "map":
        pairs = [f"{k!r}: {_literal(v)}" for k, v in list(lit.map.literals.items())[:20]]
        return "{" + ", ".join(pairs) + "}"
    if kind == "offloaded_metadata":
        return f"<offloaded: {lit.offloaded_metadata.uri}>"
    return ""


def _literal_table(lm: literals_pb2.LiteralMap) -> str:
    if not lm.literals:
        return "<p>none</p>"
    rows = "".join(
        f"<tr><th>{e(k)}</th><td><pre>{e(_literal(v))}</pre></td></tr>" for k, v in lm.literals.items()
    )
    return f"<table>{rows}</table>"


class Console:
    """GET routes for ``/console/...`` over an AdminServicer."""

    def __init__(self, admin: Any) -> None:
        self.admin = admin

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        parts = [p for p in path.split("/") if p]
        try:
            # /console/projects/<p>/domains/<d>/executions/<name>[/...]
            if (
                len(parts) >= 7
                and parts[1] == "projects"
                and parts[3] == "domains"
                and parts[5] == "executions"
            ):
                return 200, HTML, self.execution(parts[2], parts[4], parts[6])
            # /console/projects/<p>/domains/<d>/executions and /console/projects/<p>/executions?domain=<d>
            if (
                len(parts) == 6
                and parts[1] == "projects"
                and parts[3] == "domains"
                and parts[5] == "executions"
            ):
                return 200, HTML, self.executions(parts[2], parts[4])
            # /console/projects/<p>/domains/<d>/<task|workflow|launch_plan>/<name>/version/<version>
            if (
                len(parts) == 9
                and parts[1] == "projects"
                and parts[3] == "domains"
                and parts[5] in KINDS
                and parts[7] == "version"
            ):
                title, body = entity_page(
                    self.admin, parts[2], parts[4], parts[5], unquote(parts[6]), parts[8]
                )
                return 200, HTML, _page(title, body)
            if len(parts) == 4 and parts[1] == "projects" and parts[3] == "executions":
                domain = query.get("domain", ["development"])[0]
                return 200, HTML, self.executions(parts[2], domain)
        except NotFound as exc:
            return 404, HTML, _page("not found", f"<h1>Not found</h1><p>{e(exc.message)}</p>")
        except AdminError as exc:
            return 400, HTML, _page("error", f"<h1>Error</h1><p>{e(exc.message)}</p>")
        from flyte_ls.local.http import placeholder_console_page

        return 200, HTML, placeholder_console_page(path).encode()

    def execution(self, project: str, domain: str, name: str) -> bytes:
        ident = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
        ex = call_rpc(self.admin, "GetExecution", execution_pb2.WorkflowExecutionGetRequest(id=ident))
        c = ex.closure
        phase = _WF_PHASE.Name(c.phase)
        lp = ex.spec.launch_plan
        parts = [
            f"<p><a href='/console/projects/{e(quote(project))}/domains/{e(quote(domain))}/executions'>"
            f"{e(project)} / {e(domain)}</a></p>",
            f"<h1>Execution {e(name)} <span class='{phase}'>{phase}</span></h1>",
            "<table>",
            f"<tr><th>launch plan</th><td>{e(lp.name)} @ {e(lp.version)}</td></tr>",
            f"<tr><th>created</th><td>{_ts(c.created_at)}</td></tr>",
            f"<tr><th>started</th><td>{_ts(c.started_at)}</td></tr>",
            f"<tr><th>duration</th><td>{_dur(c.duration)}</td></tr>",
            "</table>",
        ]
        if c.HasField("error"):
            parts.append(f"<h2>Error</h2><pre>{e(c.error.code)}: {e(c.error.message)}</pre>")
        if c.abort_metadata.cause or c.abort_cause:
            parts.append(f"<h2>Aborted</h2><pre>{e(c.abort_metadata.cause or c.abort_cause)}</pre>")
        try:
            data = call_rpc(
                self.admin, "GetExecutionData", execution_pb2.WorkflowExecutionGetDataRequest(id=ident)
            )
            parts.append("<h2>Inputs</h2>" + _literal_table(data.full_inputs))
            if phase == "SUCCEEDED":
                parts.append("<h2>Outputs</h2>" + _literal_table(data.full_outputs))
        except AdminError:
            pass
        parts.append("<h2>Nodes</h2>" + self._nodes(ident))
        return _page(f"{name} {phase}", "".join(parts), refresh=phase not in _TERMINAL)

    def _nodes(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> str:
        req = node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=ident,
            limit=100,
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING),
        )
        try:
            nodes = call_rpc(self.admin, "ListNodeExecutions", req).node_executions
        except AdminError:
            return "<p>no node records</p>"
        rows = []
        for n in nodes:
            if n.id.node_id in ("start-node", "end-node"):
                continue
            c = n.closure
            phase = _NODE_PHASE.Name(c.phase)
            error = f"<pre>{e(c.error.message)}</pre>" if c.HasField("error") else ""
            rows.append(
                f"<tr><td>{e(n.id.node_id)}</td><td class='{phase}'>{phase}</td><td>{_ts(c.started_at)}</td>"
                f"<td>{_dur(c.duration)}</td><td>{error}</td><td>{self._logs(n.id)}</td></tr>"
            )
        if not rows:
            return "<p>no nodes have started yet</p>"
        head = (
            "<tr><th>node</th><th>phase</th><th>started</th><th>duration</th><th>error</th><th>logs</th></tr>"
        )
        return f"<table>{head}{''.join(rows)}</table>"

    def _logs(self, node: identifier_pb2.NodeExecutionIdentifier) -> str:
        req = task_execution_pb2.TaskExecutionListRequest(node_execution_id=node, limit=100)
        try:
            attempts = call_rpc(self.admin, "ListTaskExecutions", req).task_executions
        except AdminError:
            return ""
        links = [
            f"<a href='{e(log.uri)}'>{e(log.name or 'log')} (attempt {t.id.retry_attempt})</a>"
            for t in attempts
            for log in t.closure.logs
            if log.uri
        ]
        return "<br>".join(links)

    def executions(self, project: str, domain: str) -> bytes:
        req = common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=project, domain=domain),
            limit=100,
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
        )
        listed = call_rpc(self.admin, "ListExecutions", req).executions
        rows = []
        for ex in listed:
            phase = _WF_PHASE.Name(ex.closure.phase)
            href = (
                f"/console/projects/{quote(project)}/domains/{quote(domain)}/executions/{quote(ex.id.name)}"
            )
            rows.append(
                f"<tr><td><a href='{e(href)}'>{e(ex.id.name)}</a></td><td class='{phase}'>{phase}</td>"
                f"<td>{e(ex.spec.launch_plan.name)}</td><td>{_ts(ex.closure.created_at)}</td>"
                f"<td>{_dur(ex.closure.duration)}</td></tr>"
            )
        head = (
            "<tr><th>execution</th><th>phase</th><th>launch plan</th><th>created</th><th>duration</th></tr>"
        )
        table = f"<table>{head}{''.join(rows)}</table>" if rows else "<p>no executions yet</p>"
        return _page(
            f"{project}/{domain} executions", f"<h1>{e(project)} / {e(domain)}: executions</h1>{table}"
        )
