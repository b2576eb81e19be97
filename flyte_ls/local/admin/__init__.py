"""The local Admin's AdminService: entity registration and lookup (tasks, workflows, launch plans), projects,
domains and named entities, over a :class:`flyte_ls.local.store.Store`.

Every RPC is wrapped by :func:`flyte_ls.local.errors.rpc`, so failures reach clients with Admin's status codes
and never as ``UNKNOWN``. Methods not implemented here answer ``UNIMPLEMENTED`` (the generated base class);
execution, node execution and task execution RPCs come from :mod:`.executions` and :mod:`.node_executions`;
``executor`` (see :mod:`flyte_ls.local.executions`) runs what CreateExecution accepts.
"""

from __future__ import annotations

from flyteidl.service import admin_pb2_grpc

from flyte_ls.local.admin.launch_plans import LaunchPlanMixin
from flyte_ls.local.admin.node_executions import NodeExecutionMixin
from flyte_ls.local.admin.projects import ProjectMixin
from flyte_ls.local.admin.tasks import TaskMixin
from flyte_ls.local.admin.workflows import WorkflowMixin
from flyte_ls.local.executions import Executor
from flyte_ls.local.store import Store


class AdminServicer(
    NodeExecutionMixin,
    TaskMixin,
    WorkflowMixin,
    LaunchPlanMixin,
    ProjectMixin,
    admin_pb2_grpc.AdminServiceServicer,
):
    """AdminService entity RPCs; sync methods, thread-safe (the store serialises access)."""

    def __init__(self, store: Store, executor: Executor | None = None) -> None:
        super().__init__(store)
        if executor is not None:
            self.executor = executor


__all__ = ["AdminServicer"]
