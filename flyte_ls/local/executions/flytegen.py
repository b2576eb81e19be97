"""The hidden workflow and launch plan Admin generates for a single-task execution (``.flytegen.<task>``).

One node (id: the task name reduced to letters, digits and ``-``, the last 63 characters) calls the task with
its retries (3 when the task sets none), every input bound from ``start-node`` and every output mapped to the
workflow outputs; the launch plan has the same name and version, with no defaults (the task's interface).
"""

from __future__ import annotations

import re

from flyteidl.admin import launch_plan_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2

PREFIX = ".flytegen."
DEFAULT_RETRIES = 3
_NOT_ID = re.compile(r"[^A-Za-z0-9-]")


def node_id_for(task_name: str) -> str:
    return _NOT_ID.sub("", task_name)[-63:]


def _promise(node_id: str, var: str) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))


def workflow_request(template: tasks_pb2.TaskTemplate) -> workflow_pb2.WorkflowCreateRequest:
    task_id = template.id
    wf_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.WORKFLOW,
        project=task_id.project,
        domain=task_id.domain,
        name=PREFIX + task_id.name,
        version=task_id.version,
    )
    node_id = node_id_for(task_id.name)
    retries = template.metadata.retries.retries if template.metadata.HasField("retries") else DEFAULT_RETRIES
    iface = template.interface
    node = core_workflow_pb2.Node(
        id=node_id,
        metadata=core_workflow_pb2.NodeMetadata(
            name=task_id.name, retries=literals_pb2.RetryStrategy(retries=retries)
        ),
        inputs=[
            literals_pb2.Binding(var=name, binding=_promise("start-node", name))
            for name in sorted(iface.inputs.variables)
        ],
        task_node=core_workflow_pb2.TaskNode(reference_id=task_id),
    )
    wf = core_workflow_pb2.WorkflowTemplate(
        id=wf_id,
        interface=iface,
        nodes=[node],
        outputs=[
            literals_pb2.Binding(var=name, binding=_promise(node_id, name))
            for name in sorted(iface.outputs.variables)
        ],
    )
    return workflow_pb2.WorkflowCreateRequest(id=wf_id, spec=workflow_pb2.WorkflowSpec(template=wf))


def launch_plan_request(wf_id: identifier_pb2.Identifier) -> launch_plan_pb2.LaunchPlanCreateRequest:
    lp_id = identifier_pb2.Identifier()
    lp_id.CopyFrom(wf_id)
    lp_id.resource_type = identifier_pb2.LAUNCH_PLAN
    return launch_plan_pb2.LaunchPlanCreateRequest(
        id=lp_id, spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=wf_id)
    )
