"""Console pages of registered entities: a project's tasks / workflows / launch plans, and one entity.

- ``/console/projects/<p>/domains/<d>/{tasks,workflows,launchPlans}``: the names registered.
- ``.../<kind>/<name>``: the entity at its newest version; ``.../<kind>/<name>/version/<v>`` (the URL flytekit
  prints after registering; ``task``, ``workflow``, ``launch_plan`` or FlyteConsole's plural words) one
  version. Both show the interface (inputs with their types and defaults -- a workflow's from its default
  launch plan --, outputs), what it runs (a task's container and settings; a workflow's graph, or a launch
  plan's workflow's, drawn by :mod:`.console_dag`, with the tasks it uses), the registered versions (newest
  first, paged with ``limit`` and ``token``, this one highlighted) and the entity's recent executions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flyteidl.admin import common_pb2, launch_plan_pb2, schedule_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, interface_pb2, types_pb2, workflow_pb2

from flyte_ls.local import console_lists
from flyte_ls.local.console_dag import build_graph, render_dag
from flyte_ls.local.console_html import clip, dur, e, entity_url, link, literal, page, seg, table, ts
from flyte_ls.local.errors import AdminError, NotFound

if TYPE_CHECKING:
    from flyte_ls.local.console import Console


@dataclass(frozen=True)
class Kind:
    resource_type: int
    title: str
    get: str  # Get RPC
    list_ids: str  # List...Ids RPC
    list_versions: str  # List RPC
    field: str  # the list response's repeated field
    plural: str  # FlyteConsole's URL word
    filter_key: str  # ListExecutions filter prefix


TASK = Kind(identifier_pb2.TASK, "Task", "GetTask", "ListTaskIds", "ListTasks", "tasks", "tasks", "task")
WORKFLOW = Kind(
    identifier_pb2.WORKFLOW,
    "Workflow",
    "GetWorkflow",
    "ListWorkflowIds",
    "ListWorkflows",
    "workflows",
    "workflows",
    "workflow",
)
LAUNCH_PLAN = Kind(
    identifier_pb2.LAUNCH_PLAN,
    "Launch plan",
    "GetLaunchPlan",
    "ListLaunchPlanIds",
    "ListLaunchPlans",
    "launch_plans",
    "launchPlans",
    "launch_plan",
)
# URL word -> kind
KINDS = {
    "task": TASK,
    "tasks": TASK,
    "workflow": WORKFLOW,
    "workflows": WORKFLOW,
    "launch_plan": LAUNCH_PLAN,
    "launchPlans": LAUNCH_PLAN,
}
LIST_KINDS = ("tasks", "workflows", "launchPlans")
RECENT_EXECUTIONS = 20
MAX_NESTING = 8  # subworkflows and branches followed for the DAG's links
_SIMPLE = {
    types_pb2.INTEGER: "int",
    types_pb2.FLOAT: "float",
    types_pb2.STRING: "str",
    types_pb2.BOOLEAN: "bool",
    types_pb2.DATETIME: "datetime",
    types_pb2.DURATION: "timedelta",
    types_pb2.NONE: "None",
    types_pb2.STRUCT: "dict (struct)",
    types_pb2.BINARY: "bytes",
}


def type_name(t: types_pb2.LiteralType) -> str:
    """A Python-like name for a Flyte literal type."""
    kind = t.WhichOneof("type")
    if kind == "simple":
        return _SIMPLE.get(t.simple, types_pb2.SimpleType.Name(t.simple))
    if kind == "collection_type":
        return f"list[{type_name(t.collection_type)}]"
    if kind == "map_value_type":
        return f"dict[str, {type_name(t.map_value_type)}]"
    if kind == "blob":
        multi = t.blob.dimensionality == types_pb2.BlobType.MULTIPART
        return ("FlyteDirectory" if multi else "FlyteFile") + (f" ({t.blob.format})" if t.blob.format else "")
    if kind == "enum_type":
        return "enum(" + ", ".join(t.enum_type.values) + ")"
    if kind == "union_type":
        return " | ".join(type_name(v) for v in t.union_type.variants)
    if kind == "structured_dataset_type":
        return "StructuredDataset"
    if kind == "schema":
        return "FlyteSchema"
    return kind or "?"


def _base(project: str, domain: str) -> str:
    return f"/console/projects/{seg(project)}/domains/{seg(domain)}"


def _name_url(kind: Kind, project: str, domain: str, name: str) -> str:
    return f"{_base(project, domain)}/{kind.plural}/{seg(name)}"


def _version_url(kind: Kind, ident: identifier_pb2.Identifier) -> str:
    return f"{_name_url(kind, ident.project, ident.domain, ident.name)}/version/{seg(ident.version)}"


def _nav(project: str, domain: str, kind: Kind, name: str = "") -> str:
    out = (
        console_lists.nav(project, domain)
        + f" / {link(f'{_base(project, domain)}/{kind.plural}', kind.plural)}"
    )
    if name:
        out += f" / {link(_name_url(kind, project, domain, name), name)}"
    return out


def entity_list(console: Console, project: str, domain: str, word: str) -> bytes:
    """The names of a project's tasks, workflows or launch plans."""
    kind = KINDS[word]
    console.check_project(project, domain)
    req = common_pb2.NamedEntityIdentifierListRequest(
        project=project,
        domain=domain,
        limit=1000,
        sort_by=common_pb2.Sort(key="name", direction=common_pb2.Sort.ASCENDING),
    )
    listed = console.call(kind.list_ids, req).entities
    rows = [f"<tr><td>{link(_name_url(kind, project, domain, n.name), n.name)}</td></tr>" for n in listed]
    body = f"<h1>{e(project)} / {e(domain)}: {e(kind.plural)}</h1>"
    body += table(
        [kind.title.lower()],
        rows,
        f"no {kind.plural} registered",
        caption=f"{kind.title}s by name",
        show_caption=False,
    )
    return page(f"{project}/{domain} {kind.plural}", body, nav=_nav(project, domain, kind))


def versions_page(
    console: Console, project: str, domain: str, word: str, name: str, q: dict[str, str]
) -> bytes:
    """The entity at its newest version, with all its versions."""
    kind = KINDS[word]
    console.check_project(project, domain)
    newest, _ = _list_versions(console, kind, project, domain, name, 1, "")
    if not newest:
        raise NotFound(f"{kind.title.lower()} [{project}/{domain}/{name}] does not exist")
    entity = console.call(kind.get, common_pb2.ObjectGetRequest(id=newest[0].id))
    return _entity_page(console, kind, entity, q, latest=True)


def version_page(
    console: Console,
    project: str,
    domain: str,
    word: str,
    name: str,
    version: str,
    q: dict[str, str] | None = None,
) -> bytes:
    """One version of the entity, highlighted among all its versions."""
    kind = KINDS[word]
    ident = identifier_pb2.Identifier(
        resource_type=kind.resource_type, project=project, domain=domain, name=name, version=version
    )
    entity = console.call(kind.get, common_pb2.ObjectGetRequest(id=ident))
    return _entity_page(console, kind, entity, q or {}, latest=False)


def _entity_page(console: Console, kind: Kind, entity: Any, q: dict[str, str], *, latest: bool) -> bytes:
    ident: identifier_pb2.Identifier = entity.id
    p, d, name = ident.project, ident.domain, ident.name
    which = "newest version" if latest else "version"
    head = (
        f"<p>{e(p)} / {e(d)}</p><h1>{kind.title} {e(name)}</h1>"
        f"<p>{which} {e(ident.version)} &middot; registered {e(ts(entity.closure.created_at))}</p>"
    )
    if kind is TASK:
        body = _task_body(entity)
    elif kind is WORKFLOW:
        body = _workflow_body(console, entity)
    else:
        body = _launch_plan_body(console, entity)
    body += "<h2 id='versions'>Versions</h2>" + _versions(console, kind, ident, q, latest=latest)
    body += "<h2 id='executions'>Recent executions</h2>" + _executions(console, kind, ident, latest=latest)
    return page(f"{kind.title} {name}", head + body, nav=_nav(p, d, kind, name))


# -- interfaces ------------------------------------------------------------------------------------------


def _default(param: interface_pb2.Parameter) -> str:
    if param.HasField("default"):
        return f"<code>{e(clip(literal(param.default), 300))}</code>"
    return "<span class='muted'>required</span>" if param.required else "<span class='muted'>none</span>"


def _variables(
    what: str, vm: interface_pb2.VariableMap, defaults: Mapping[str, interface_pb2.Parameter] | None = None
) -> str:
    """A table of an interface's inputs or outputs: name, type, default (when ``defaults`` is given),
    description (when any has one)."""
    # flytekit describes a variable by its own name when the docstring does not: that says nothing
    described = any(v.description not in ("", k) for k, v in vm.variables.items())
    head = (
        [what[:-1], "type"]
        + (["default"] if defaults is not None else [])
        + (["description"] if described else [])
    )
    rows = []
    for k, v in vm.variables.items():
        cells = f"<th>{e(k)}</th><td>{e(type_name(v.type))}</td>"
        if defaults is not None:
            param = defaults.get(k)
            cells += f"<td>{_default(param) if param is not None else ''}</td>"
        if described:
            cells += f"<td>{e(v.description) if v.description != k else ''}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f"<h2 id='{what}'>{what.capitalize()}</h2>" + table(
        head, rows, "none", caption=what.capitalize(), show_caption=False
    )


def _interface(
    iface: interface_pb2.TypedInterface, defaults: Mapping[str, interface_pb2.Parameter] | None = None
) -> str:
    return _variables("inputs", iface.inputs, defaults) + _variables("outputs", iface.outputs)


# -- what each kind shows --------------------------------------------------------------------------------


def _task_body(entity: Any) -> str:
    template = entity.closure.compiled_task.template
    meta, container = template.metadata, template.container
    rows = [("type", e(template.type))]
    if template.HasField("container"):
        rows += [("image", e(container.image)), ("args", f"<pre>{e(' '.join(container.args))}</pre>")]
    if meta.retries.retries:
        rows.append(("retries", str(meta.retries.retries)))
    if meta.HasField("timeout"):
        rows.append(("timeout", e(dur(meta.timeout)) or "none"))
    if meta.discoverable:
        rows.append(("cache", f"on, version {e(meta.discovery_version)}"))
    if meta.interruptible:
        rows.append(("interruptible", "yes"))
    runs = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        _interface(template.interface)
        + f"<h2 id='runs'>Runs</h2><table><caption class='vh'>Task settings</caption>{runs}</table>"
    )


def _workflow_body(console: Console, entity: Any) -> str:
    closure: compiler_pb2.CompiledWorkflowClosure = entity.closure.compiled_workflow
    ident: identifier_pb2.Identifier = entity.id
    lp_id = identifier_pb2.Identifier()
    lp_id.CopyFrom(ident)
    lp_id.resource_type = identifier_pb2.LAUNCH_PLAN
    defaults: Mapping[str, interface_pb2.Parameter] | None
    try:  # pyflyte registers a default launch plan of the same name and version: it holds the defaults
        lp = console.call("GetLaunchPlan", common_pb2.ObjectGetRequest(id=lp_id))
        defaults = lp.spec.default_inputs.parameters
    except AdminError:
        defaults = None
    return _interface(closure.primary.template.interface, defaults) + _graph(
        closure, f"workflow {ident.name}"
    )


def _schedule(schedule: schedule_pb2.Schedule) -> str:
    cron = schedule.cron_schedule.schedule or schedule.cron_expression
    if cron:
        return f" &middot; schedule <code>{e(cron)}</code>"
    if schedule.HasField("rate"):
        unit = schedule_pb2.FixedRateUnit.Name(schedule.rate.unit).lower()
        return f" &middot; every {schedule.rate.value} {e(unit)}"
    return ""


def _launch_plan_body(console: Console, entity: Any) -> str:
    spec: launch_plan_pb2.LaunchPlanSpec = entity.spec
    closure: launch_plan_pb2.LaunchPlanClosure = entity.closure
    state = "ACTIVE" if closure.state == launch_plan_pb2.ACTIVE else "INACTIVE"
    wf = spec.workflow_id
    runs = link(entity_url(wf), f"workflow {wf.name} @ {wf.version}")
    out = f"<p>state {state} &middot; runs {runs}{_schedule(spec.entity_metadata.schedule)}"
    out += "</p>"
    params = spec.default_inputs.parameters
    inputs = interface_pb2.VariableMap()
    for k, p in params.items():
        inputs.variables[k].CopyFrom(p.var)
    out += _variables("inputs", inputs, params)
    if spec.fixed_inputs.literals:
        rows = [
            f"<tr><th>{e(k)}</th><td><code>{e(clip(literal(v), 300))}</code></td></tr>"
            for k, v in spec.fixed_inputs.literals.items()
        ]
        out += "<h2 id='fixed-inputs'>Fixed inputs</h2>" + table(
            ["input", "value"], rows, "none", caption="Fixed inputs", show_caption=False
        )
    out += _variables("outputs", closure.expected_outputs)
    try:
        wf_entity = console.call("GetWorkflow", common_pb2.ObjectGetRequest(id=wf))
    except AdminError:
        return out + "<p class='muted'>its workflow is not registered here</p>"
    return out + _graph(wf_entity.closure.compiled_workflow, f"workflow {wf.name}")


# -- a workflow's graph ----------------------------------------------------------------------------------


def _graph(closure: compiler_pb2.CompiledWorkflowClosure, title: str) -> str:
    """The workflow's DAG (a node links what it runs) and a table of its nodes (the DAG's other targets)."""
    template = closure.primary.template
    nodes = [n for n in template.nodes if n.id not in ("start-node", "end-node")]
    links: dict[str, str] = {}
    _links(closure, template.nodes, "", "", links, 0)
    out = "<h2 id='graph'>Graph</h2>" + render_dag(build_graph(closure), links=links, title=title)
    upstream = closure.primary.connections.upstream
    rows = []
    for n in nodes:
        kind, target = _node_target(n)
        ups = list(upstream[n.id].ids) if n.id in upstream else list(n.upstream_node_ids)
        ups = [u for u in ups if u != "start-node"]
        runs = link(entity_url(target), target.name) if target is not None else ""
        rows.append(
            f"<tr id='node-{e(n.id)}'><th scope='row'>{e(n.id)}</th><td>{e(kind)}</td><td>{runs}</td>"
            f"<td>{e(', '.join(ups))}</td></tr>"
        )
    caption = "Nodes: what each runs and the nodes it waits for"
    return (
        out
        + "<h3>Nodes</h3>"
        + table(["node", "kind", "runs", "upstream"], rows, "no nodes", caption=caption, show_caption=False)
    )


def _node_target(node: workflow_pb2.Node) -> tuple[str, identifier_pb2.Identifier | None]:
    """A node's kind and the registered entity it runs, if any."""
    which = node.WhichOneof("target")
    if which == "task_node":
        return "task", node.task_node.reference_id
    if which == "workflow_node":
        wn = node.workflow_node
        if wn.HasField("launchplan_ref"):
            return "launch plan", wn.launchplan_ref
        return "subworkflow", wn.sub_workflow_ref
    if which == "array_node":
        inner = node.array_node.node
        return "array", inner.task_node.reference_id if inner.HasField("task_node") else None
    if which == "gate_node":
        gate = node.gate_node.WhichOneof("condition") or ""
        return f"gate ({gate})" if gate else "gate", None
    return ("branch" if which == "branch_node" else which or "node"), None


def _links(
    closure: compiler_pb2.CompiledWorkflowClosure,
    nodes: Iterable[workflow_pb2.Node],
    prefix: str,
    row: str,
    out: dict[str, str],
    depth: int,
) -> None:
    """DAG links (keys as :mod:`.console_dag` nests them: ``n1/n0``) to what each node runs; a nested node
    that runs nothing registered links the node table's row of its top-level ancestor (``row``)."""
    if depth > MAX_NESTING:
        return
    subs = {_key(w.template.id): w.template for w in closure.sub_workflows}
    for node in nodes:
        if node.id in ("start-node", "end-node"):
            continue
        key = prefix + node.id
        top = row or f"#node-{node.id}"
        target = _node_target(node)[1]
        if target is not None and target.name:
            out[key] = entity_url(target)
        elif row:
            out[key] = row
        if node.HasField("workflow_node") and node.workflow_node.HasField("sub_workflow_ref"):
            sub = subs.get(_key(node.workflow_node.sub_workflow_ref))
            if sub is not None:
                _links(closure, sub.nodes, f"{key}/", top, out, depth + 1)
        elif node.HasField("branch_node"):
            block = node.branch_node.if_else
            cases = [block.case.then_node, *(c.then_node for c in block.other)]
            if block.HasField("else_node"):
                cases.append(block.else_node)
            _links(closure, cases, f"{key}/", top, out, depth + 1)


def _key(ident: identifier_pb2.Identifier) -> tuple[str, str, str, str]:
    return (ident.project, ident.domain, ident.name, ident.version)


# -- versions and executions -----------------------------------------------------------------------------


def _list_versions(
    console: Console, kind: Kind, project: str, domain: str, name: str, limit: int, token: str
) -> tuple[list[Any], str]:
    req = common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=project, domain=domain, name=name),
        limit=limit,
        token=token,
        sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
    )
    listed = console.call(kind.list_versions, req)
    return list(getattr(listed, kind.field)), listed.token


def _versions(
    console: Console, kind: Kind, ident: identifier_pb2.Identifier, q: dict[str, str], *, latest: bool
) -> str:
    """The entity's versions, newest first, paged (``limit``, ``token``), this one highlighted."""
    limit = console_lists.page_limit(q.get("limit", ""))
    token = q.get("token", "")
    versions, next_token = _list_versions(
        console, kind, ident.project, ident.domain, ident.name, limit, token
    )
    rows = []
    for i, v in enumerate(versions):
        this = v.id.version == ident.version
        mark = ""
        if this:
            mark = " <b>(this version)</b>" if not latest else " <b>(shown above)</b>"
        elif latest is False and i == 0 and not token:
            mark = " <span class='muted'>(newest)</span>"
        attrs = " class='hl' aria-current='true'" if this else ""
        rows.append(
            f"<tr{attrs}><th scope='row'>{link(_version_url(kind, v.id), v.id.version)}{mark}</th>"
            f"<td class='t'>{ts(v.closure.created_at)}</td></tr>"
        )
    out = table(
        ["version", "registered"],
        rows,
        "no versions on this page",
        caption="Versions, newest first",
        show_caption=False,
    )
    here = _name_url(kind, ident.project, ident.domain, ident.name)
    if not latest:
        here += f"/version/{seg(ident.version)}"
    pages = []
    if next_token:
        query = urlencode({"limit": str(limit), "token": next_token})
        pages.append(link(f"{here}?{query}#versions", "more versions"))
    if token:
        pages.append(link(f"{here}#versions", "newest versions"))
    if pages:
        out += f"<nav aria-label='versions pages'><p>{' &middot; '.join(pages)}</p></nav>"
    return out


def _executions(console: Console, kind: Kind, ident: identifier_pb2.Identifier, *, latest: bool) -> str:
    """The entity's executions (of any version on the newest-version page), newest first."""
    if any(c in ident.name + ident.version for c in "()"):
        return "<p class='muted'>not listed for this name</p>"  # the filter grammar cannot quote these
    key = kind.filter_key
    f = f"eq({key}.name,{ident.name})" + ("" if latest else f"+eq({key}.version,{ident.version})")
    req = common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=ident.project, domain=ident.domain),
        limit=RECENT_EXECUTIONS,
        filters=f,
        sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
    )
    try:
        listed = console.call("ListExecutions", req).executions
    except AdminError:
        return "<p class='muted'>not available</p>"
    which = "any version" if latest else f"version {ident.version}"
    caption = f"Executions of this {kind.title.lower()} ({which}), newest first"
    out = console_lists.execution_table(listed, caption=caption, empty="no executions yet")
    query = urlencode({"by": key, "entity": ident.name})
    url = f"{_base(ident.project, ident.domain)}/executions?{query}"
    return out + f"<p>{link(url, f'executions whose {kind.title.lower()} name contains {ident.name}')}</p>"
