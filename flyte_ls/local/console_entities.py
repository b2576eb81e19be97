"""Console pages of registered entities: a task, workflow or launch plan version (the URLs flytekit prints
after registering: ``/console/projects/<p>/domains/<d>/<task|workflow|launch_plan>/<name>/version/<v>``).
"""

from __future__ import annotations

import html
from typing import Any

from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2, interface_pb2, types_pb2

from flyte_ls.local.flyte_urls import call_rpc

e = html.escape

# URL word -> (resource type, Get RPC, title)
KINDS = {
    "task": (identifier_pb2.TASK, "GetTask", "Task"),
    "tasks": (identifier_pb2.TASK, "GetTask", "Task"),
    "workflow": (identifier_pb2.WORKFLOW, "GetWorkflow", "Workflow"),
    "workflows": (identifier_pb2.WORKFLOW, "GetWorkflow", "Workflow"),
    "launch_plan": (identifier_pb2.LAUNCH_PLAN, "GetLaunchPlan", "Launch plan"),
    "launchPlans": (identifier_pb2.LAUNCH_PLAN, "GetLaunchPlan", "Launch plan"),
}


def type_name(t: types_pb2.LiteralType) -> str:
    """A Python-like name for a Flyte literal type."""
    kind = t.WhichOneof("type")
    if kind == "simple":
        return {
            types_pb2.INTEGER: "int",
            types_pb2.FLOAT: "float",
            types_pb2.STRING: "str",
            types_pb2.BOOLEAN: "bool",
            types_pb2.DATETIME: "datetime",
            types_pb2.DURATION: "timedelta",
            types_pb2.NONE: "None",
            types_pb2.STRUCT: "dict (struct)",
            types_pb2.BINARY: "bytes",
        }.get(t.simple, types_pb2.SimpleType.Name(t.simple))
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
            return "<p>none</p>"
        body = "".join(
            f"<tr><th>{e(k)}</th><td>{e(type_name(v.type))}</td></tr>" for k, v in vm.variables.items()
        )
        return f"<table>{body}</table>"

    return f"<h2>Inputs</h2>{rows(iface.inputs)}<h2>Outputs</h2>{rows(iface.outputs)}"


def entity_page(admin: Any, project: str, domain: str, kind: str, name: str, version: str) -> tuple[str, str]:
    """(title, body HTML) of an entity version page; AdminError (e.g. NotFound) if it does not exist."""
    resource_type, rpc_name, title = KINDS[kind]
    ident = identifier_pb2.Identifier(
        resource_type=resource_type, project=project, domain=domain, name=name, version=version
    )
    entity = call_rpc(admin, rpc_name, common_pb2.ObjectGetRequest(id=ident))
    head = (
        f"<p>{e(project)} / {e(domain)}</p><h1>{title} {e(name)}</h1><p>version {e(version)}"
        f" &middot; registered {e(entity.closure.created_at.ToDatetime().isoformat(sep=' '))} UTC</p>"
    )
    if resource_type == identifier_pb2.TASK:
        template = entity.closure.compiled_task.template
        container = template.container
        body = _interface(template.interface)
        body += f"<h2>Container</h2><table><tr><th>image</th><td>{e(container.image)}</td></tr>"
        body += f"<tr><th>args</th><td><pre>{e(' '.join(container.args))}</pre></td></tr></table>"
    elif resource_type == identifier_pb2.WORKFLOW:
        template = entity.closure.compiled_workflow.primary.template
        nodes = [n.id for n in template.nodes if n.id not in ("start-node", "end-node")]
        body = _interface(template.interface)
        body += "<h2>Nodes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in nodes) + "</ul>"
    else:
        spec = entity.spec
        state = "ACTIVE" if entity.closure.state == 1 else "INACTIVE"
        wf = spec.workflow_id
        defaults = "".join(
            f"<tr><th>{e(k)}</th><td>{e(type_name(p.var.type))}</td>"
            f"<td>{'required' if p.required else 'default'}</td></tr>"
            for k, p in spec.default_inputs.parameters.items()
        )
        fixed = ", ".join(e(k) for k in spec.fixed_inputs.literals)
        body = f"<p>state {state} &middot; workflow {e(wf.name)} @ {e(wf.version)}</p>"
        body += f"<h2>Inputs</h2><table>{defaults}</table>" if defaults else "<h2>Inputs</h2><p>none</p>"
        if fixed:
            body += f"<p>fixed inputs: {fixed}</p>"
    return f"{title} {name}", head + body
