"""Console pages of registered entities: a project's tasks / workflows / launch plans, the versions of one,
and a version (the URL flytekit prints after registering:
``/console/projects/<p>/domains/<d>/<task|workflow|launch_plan>/<name>/version/<v>``; FlyteConsole's plural
words ``tasks``, ``workflows``, ``launchPlans`` work too) with its interface and recent executions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2, interface_pb2, types_pb2

from flyte_ls.local.console_html import e, link, page, seg, table, ts
from flyte_ls.local.errors import AdminError

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


def _interface(iface: interface_pb2.TypedInterface) -> str:
    def rows(vm: interface_pb2.VariableMap) -> str:
        if not vm.variables:
            return "<p class='muted'>none</p>"
        body = "".join(
            f"<tr><th>{e(k)}</th><td>{e(type_name(v.type))}</td></tr>" for k, v in vm.variables.items()
        )
        return f"<table>{body}</table>"

    return f"<h2>Inputs</h2>{rows(iface.inputs)}<h2>Outputs</h2>{rows(iface.outputs)}"


def _base(project: str, domain: str) -> str:
    return f"/console/projects/{seg(project)}/domains/{seg(domain)}"


def _nav(project: str, domain: str, kind: Kind, name: str = "") -> str:
    from flyte_ls.local.console import project_nav

    out = project_nav(project, domain) + f" / {link(f'{_base(project, domain)}/{kind.plural}', kind.plural)}"
    if name:
        out += f" / {link(f'{_base(project, domain)}/{kind.plural}/{seg(name)}', name)}"
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
    rows = [
        f"<tr><td>{link(f'{_base(project, domain)}/{kind.plural}/{seg(n.name)}', n.name)}</td></tr>"
        for n in listed
    ]
    body = f"<h1>{e(project)} / {e(domain)}: {e(kind.plural)}</h1>"
    body += table([kind.title.lower()], rows, f"no {kind.plural} registered")
    return page(f"{project}/{domain} {kind.plural}", body, nav=_nav(project, domain, kind))


def versions_page(
    console: Console, project: str, domain: str, word: str, name: str, q: dict[str, str]
) -> bytes:
    """The registered versions of one task, workflow or launch plan, newest first."""
    from flyte_ls.local.console import _limit
    from flyte_ls.local.errors import NotFound

    kind = KINDS[word]
    console.check_project(project, domain)
    limit = _limit(q.get("limit", ""))
    req = common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=project, domain=domain, name=name),
        limit=limit,
        token=q.get("token", ""),
        sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
    )
    listed = console.call(kind.list_versions, req)
    versions = list(getattr(listed, kind.field))
    if not versions and not q.get("token"):
        raise NotFound(f"{kind.title.lower()} [{project}/{domain}/{name}] does not exist")
    base = f"{_base(project, domain)}/{kind.plural}/{seg(name)}"
    rows = [
        f"<tr><td>{link(f'{base}/version/{seg(v.id.version)}', v.id.version)}</td>"
        f"<td>{ts(v.closure.created_at)}</td></tr>"
        for v in versions
    ]
    body = f"<h1>{e(kind.title)} {e(name)}</h1>" + table(["version", "registered"], rows, "no versions")
    if listed.token:
        more = urlencode({"limit": limit, "token": listed.token})
        body += f"<p>{link(f'{base}?{more}', 'next page')}</p>"
    return page(f"{kind.title} {name}", body, nav=_nav(project, domain, kind))


def version_page(console: Console, project: str, domain: str, word: str, name: str, version: str) -> bytes:
    """One version: its interface, what it runs, and its recent executions."""
    from flyte_ls.local.console import execution_table

    kind = KINDS[word]
    ident = identifier_pb2.Identifier(
        resource_type=kind.resource_type, project=project, domain=domain, name=name, version=version
    )
    entity = console.call(kind.get, common_pb2.ObjectGetRequest(id=ident))
    head = (
        f"<p>{e(project)} / {e(domain)}</p><h1>{kind.title} {e(name)}</h1><p>version {e(version)}"
        f" &middot; registered {e(ts(entity.closure.created_at))}</p>"
    )
    if kind is TASK:
        template = entity.closure.compiled_task.template
        container = template.container
        body = _interface(template.interface)
        body += f"<h2>Container</h2><table><tr><th>type</th><td>{e(template.type)}</td></tr>"
        body += f"<tr><th>image</th><td>{e(container.image)}</td></tr>"
        body += f"<tr><th>args</th><td><pre>{e(' '.join(container.args))}</pre></td></tr></table>"
    elif kind is WORKFLOW:
        template = entity.closure.compiled_workflow.primary.template
        nodes = [n for n in template.nodes if n.id not in ("start-node", "end-node")]
        body = _interface(template.interface)
        body += "<h2>Nodes</h2><ul>" + "".join(f"<li>{e(n.id)}</li>" for n in nodes) + "</ul>"
    else:
        spec = entity.spec
        state = "ACTIVE" if entity.closure.state == 1 else "INACTIVE"
        wf = spec.workflow_id
        wf_link = link(
            f"{_base(wf.project, wf.domain)}/workflow/{seg(wf.name)}/version/{seg(wf.version)}",
            f"workflow {wf.name} @ {wf.version}",
        )
        defaults = "".join(
            f"<tr><th>{e(k)}</th><td>{e(type_name(p.var.type))}</td>"
            f"<td>{'required' if p.required else 'default'}</td></tr>"
            for k, p in spec.default_inputs.parameters.items()
        )
        fixed = ", ".join(e(k) for k in spec.fixed_inputs.literals)
        body = f"<p>state {state} &middot; {wf_link}</p>"
        body += f"<h2>Inputs</h2><table>{defaults}</table>" if defaults else "<h2>Inputs</h2><p>none</p>"
        if fixed:
            body += f"<p>fixed inputs: {fixed}</p>"
    body += "<h2>Recent executions</h2>" + _executions(console, kind, ident, execution_table)
    versions = f"{_base(project, domain)}/{kind.plural}/{seg(name)}"
    body += f"<p>{link(versions, 'all versions')}</p>"
    return page(f"{kind.title} {name}", head + body, nav=_nav(project, domain, kind, name))


def _executions(
    console: Console, kind: Kind, ident: identifier_pb2.Identifier, render: Callable[[Any], str]
) -> str:
    if any(c in ident.name + ident.version for c in ",()+"):
        return "<p class='muted'>not listed for this name</p>"  # the filter grammar cannot quote these
    f = f"eq({kind.filter_key}.name,{ident.name})+eq({kind.filter_key}.version,{ident.version})"
    req = common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=ident.project, domain=ident.domain),
        limit=20,
        filters=f,
        sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
    )
    try:
        listed = console.call("ListExecutions", req).executions
    except AdminError:
        return "<p class='muted'>not available</p>"
    return render(listed)
