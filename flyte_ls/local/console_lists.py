"""Console list pages: the projects (``/console``, ``/console/select-project``) and a project's executions.

The project page (``/console/projects/<p>``, ``/console/projects/<p>/executions?domain=<d>``,
``/console/projects/<p>/domains/<d>`` and ``.../domains/<d>/executions``) links the project's domains and its
tasks, workflows and launch plans, and lists the executions of one domain, newest first, with filters in a GET
form -- ``phase`` (a workflow execution phase), ``entity`` (a part of the name of the launch plan, workflow
or task the execution ran: ``by`` = ``launch_plan`` (default), ``workflow`` or ``task``) -- and paging
(``limit``, ``token``); the filters are kept in the page links. They become the Admin filter expressions
the local backend supports (:mod:`flyte_ls.local.listing`): ``eq(phase,RUNNING)+contains(workflow.name,x)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flyteidl.admin import common_pb2, execution_pb2, project_pb2

from flyte_ls.local.console_html import (
    WF_PHASE,
    dur,
    e,
    entity_url,
    exec_url,
    link,
    page,
    phase_span,
    seg,
    table,
    ts,
)
from flyte_ls.local.errors import InvalidArgument

if TYPE_CHECKING:
    from flyte_ls.local.console import Console

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
ENTITY_KINDS = {"launch_plan": "launch plan", "workflow": "workflow", "task": "task"}
FILTER_PHASES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT")
_ENTITY_WORDS = ("tasks", "workflows", "launchPlans")


def page_limit(raw: str) -> int:
    """The ``limit`` query parameter: DEFAULT_LIMIT when absent, clamped to 1..MAX_LIMIT."""
    try:
        value = int(raw) if raw else DEFAULT_LIMIT
    except ValueError:
        raise InvalidArgument(f"limit must be a number, got {raw!r}") from None
    return max(1, min(value, MAX_LIMIT))


def domain_url(project: str, domain: str) -> str:
    return f"/console/projects/{seg(project)}/domains/{seg(domain)}"


def nav(project: str, domain: str = "") -> str:
    """The breadcrumb after the home link: `` / project / domain`` (the domain links its executions)."""
    out = f" / {link(f'/console/projects/{seg(project)}', project)}"
    if domain:
        out += f" / {link(f'{domain_url(project, domain)}/executions', domain)}"
    return out


# -- projects --------------------------------------------------------------------------------------------


def projects(console: Console) -> bytes:
    """The landing page: every project with links to its domains' executions."""
    listed = console.call("ListProjects", project_pb2.ProjectListRequest(limit=500)).projects
    rows = [
        f"<tr><th scope='row'>{link(f'/console/projects/{seg(p.id)}', p.id)}</th><td>{e(p.name)}</td>"
        f"<td>{e(p.description)}</td><td>{_domain_links(p)}</td></tr>"
        for p in listed
    ]
    body = "<h1>flyte-ls local Flyte backend</h1><h2>Projects</h2>"
    body += table(
        ["project", "name", "description", "executions"],
        rows,
        "no projects",
        caption="Projects",
        show_caption=False,
    )
    return page("projects", body)


def _domain_links(p: project_pb2.Project) -> str:
    return " ".join(link(f"{domain_url(p.id, d.id)}/executions", d.id) for d in p.domains)


# -- a project's executions ------------------------------------------------------------------------------


def project_page(console: Console, project: str, domain: str, q: dict[str, str]) -> bytes:
    """The project page for ``domain`` (empty: ``development`` when the project has it, else its first)."""
    console.check_project(project, domain)
    p = console.call("GetProject", project_pb2.ProjectGetRequest(id=project))
    domains = [d.id for d in p.domains]
    if not domain:
        domain = "development" if "development" in domains or not domains else domains[0]
    filters = Filters.of(q)
    limit = page_limit(q.get("limit", ""))
    req = common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=project, domain=domain),
        limit=limit,
        token=q.get("token", ""),
        filters=filters.expression(),
        sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
    )
    listed = console.call("ListExecutions", req)
    base = f"{domain_url(project, domain)}/executions"
    kept = filters.params() | ({"limit": q["limit"]} if q.get("limit") else {})
    parts = [
        f"<h1>{e(project)} / {e(domain)}: executions</h1>",
        f"<p>{e(p.description)}</p>" if p.description else "",
        _domain_nav(project, domain, domains),
        "<h2 id='filters'>Filter</h2>",
        filters.form(base, q.get("limit", "")),
        _phase_links(base, filters, kept),
        execution_table(listed.executions, caption=filters.caption(), empty=filters.empty()),
    ]
    pages = []
    if listed.token:
        pages.append(
            link(f"{base}?{urlencode({**kept, 'limit': str(limit), 'token': listed.token})}", "next page")
        )
    if q.get("token"):
        pages.append(link(f"{base}?{urlencode(kept)}" if kept else base, "first page"))
    if pages:
        parts.append(f"<nav aria-label='pages'><p>{' &middot; '.join(pages)}</p></nav>")
    title = f"{project}/{domain} executions"
    return page(title, "".join(parts), nav=nav(project, domain))


def _domain_nav(project: str, domain: str, domains: Iterable[str]) -> str:
    tabs = []
    for d in domains:
        if d == domain:
            tabs.append(f"<b aria-current='page'>{e(d)}</b>")
        else:
            tabs.append(link(f"{domain_url(project, d)}/executions", d))
    entities = " &middot; ".join(link(f"{domain_url(project, domain)}/{w}", w) for w in _ENTITY_WORDS)
    return (
        f"<nav aria-label='domains'><p>domains: {' &middot; '.join(tabs)}</p>"
        f"<p>registered in {e(domain)}: {entities}</p></nav>"
    )


def _phase_links(base: str, filters: Filters, kept: dict[str, str]) -> str:
    others = {k: v for k, v in kept.items() if k != "phase"}

    def url(phase: str) -> str:
        query = urlencode({"phase": phase, **others} if phase else others)
        return f"{base}?{query}" if query else base

    shown = [link(url(""), "all") if filters.phase else "<b>all</b>"]
    for name in FILTER_PHASES:
        shown.append(f"<b>{name}</b>" if name == filters.phase else link(url(name), name))
    return f"<p>show: {' &middot; '.join(shown)}</p>"


class Filters:
    """The executions filters of a query: ``phase``, ``by`` and ``entity`` (validated)."""

    def __init__(self, phase: str, by: str, entity: str) -> None:
        self.phase, self.by, self.entity = phase, by, entity

    @classmethod
    def of(cls, q: dict[str, str]) -> Filters:
        phase = q.get("phase", "").strip().upper()
        if phase and phase not in WF_PHASE.keys():
            raise InvalidArgument(f"unknown phase {phase!r}; one of {', '.join(WF_PHASE.keys())}")
        by = q.get("by", "") or "launch_plan"
        if by not in ENTITY_KINDS:
            raise InvalidArgument(f"unknown entity kind {by!r}; one of {', '.join(ENTITY_KINDS)}")
        entity = q.get("entity", "").strip()
        if any(c in entity for c in "()"):
            # the filter grammar (op(key,value)+...) has no quoting: Flyte names never contain these
            raise InvalidArgument(f"an entity name to filter by cannot contain parentheses: {entity!r}")
        return cls(phase, by, entity)

    def expression(self) -> str:
        """The Admin filter expression (the name term last: its value may contain ``+`` or ``,``)."""
        terms = [f"eq(phase,{self.phase})"] if self.phase else []
        if self.entity:
            terms.append(f"contains({self.by}.name,{self.entity})")
        return "+".join(terms)

    def params(self) -> dict[str, str]:
        """The query parameters that reproduce these filters (nothing for the defaults)."""
        out = {"phase": self.phase} if self.phase else {}
        if self.entity:
            out |= {"by": self.by, "entity": self.entity}
        return out

    def caption(self) -> str:
        what = [f"phase {self.phase}"] if self.phase else []
        if self.entity:
            what.append(f"{ENTITY_KINDS[self.by]} name containing {self.entity!r}")
        return "Executions, newest first" + (" (" + ", ".join(what) + ")" if what else "")

    def empty(self) -> str:
        return "no executions match these filters" if self.params() else "no executions yet"

    def form(self, action: str, limit: str) -> str:
        """The GET form that sets them (a new filter starts at the first page: no token)."""
        phases = "".join(
            f"<option value='{name}'{' selected' if name == self.phase else ''}>{name}</option>"
            for name in WF_PHASE.keys()
            if name != "UNDEFINED"
        )
        kinds = "".join(
            f"<option value='{k}'{' selected' if k == self.by else ''}>{e(v)}</option>"
            for k, v in ENTITY_KINDS.items()
        )
        return (
            f"<form class='filters' method='get' action='{e(action)}' aria-labelledby='filters'>"
            f"<label for='f-phase'>phase<select id='f-phase' name='phase'><option value=''>any</option>"
            f"{phases}</select></label>"
            f"<label for='f-by'>entity kind<select id='f-by' name='by'>{kinds}</select></label>"
            f"<label for='f-entity'>entity name contains<input id='f-entity' name='entity' type='search'"
            f" value='{e(self.entity)}'></label>"
            f"<label for='f-limit'>per page<input id='f-limit' name='limit' type='number' min='1'"
            f" max='{MAX_LIMIT}' value='{e(limit)}' placeholder='{DEFAULT_LIMIT}'></label>"
            "<button type='submit'>Filter</button></form>"
        )


def execution_table(
    executions: Iterable[execution_pb2.Execution], *, caption: str = "", empty: str = "no executions yet"
) -> str:
    """Executions: name (linked), phase, launch plan (linked), created, duration."""
    rows = []
    for ex in executions:
        phase = WF_PHASE.Name(ex.closure.phase)
        i, lp = ex.id, ex.spec.launch_plan
        rows.append(
            f"<tr><th scope='row'>{link(exec_url(i.project, i.domain, i.name), i.name)}</th>"
            f"<td>{phase_span(phase)}</td><td>{link(entity_url(lp), lp.name) if lp.name else ''}</td>"
            f"<td class='t'>{ts(ex.closure.created_at)}</td>"
            f"<td class='t'>{dur(ex.closure.duration)}</td></tr>"
        )
    head = ["execution", "phase", "launch plan", "created", "duration"]
    return table(head, rows, empty, caption=caption)
