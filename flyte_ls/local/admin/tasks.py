"""Task RPCs: CreateTask, GetTask, ListTasks, ListTaskIds (flyteadmin's task_manager semantics)."""

from __future__ import annotations

import grpc
from flyteidl.admin import common_pb2, task_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, tasks_pb2

from flyte_ls.local import listing
from flyte_ls.local.admin.common import (
    Base,
    entity_row,
    ident_str,
    insert_version,
    list_entity_rows,
    next_token,
    page_for,
    timestamp,
    validate_identifier,
    validate_project_domain,
)
from flyte_ls.local.errors import InvalidArgument, rpc
from flyte_ls.local.store import TASK, EntityRow


def task_from_row(row: EntityRow) -> task_pb2.Task:
    closure = task_pb2.TaskClosure.FromString(row.closure)
    spec = task_pb2.TaskSpec.FromString(row.spec)
    return task_pb2.Task(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=row.project,
            domain=row.domain,
            name=row.name,
            version=row.version,
        ),
        closure=closure,
        short_description=spec.description.short_description,
    )


class TaskMixin(Base):
    def get_task_template(self, ident: identifier_pb2.Identifier) -> tasks_pb2.TaskTemplate | None:
        """The stored template of a task, or None (the compiler's ``get_task``)."""
        row = self.store.get_entity(TASK, ident.project, ident.domain, ident.name, ident.version)
        if row is None:
            return None
        return task_pb2.TaskClosure.FromString(row.closure).compiled_task.template

    @rpc
    def CreateTask(
        self, request: task_pb2.TaskCreateRequest, context: grpc.ServicerContext
    ) -> task_pb2.TaskCreateResponse:
        self.create_task(request)
        return task_pb2.TaskCreateResponse()

    def create_task(self, request: task_pb2.TaskCreateRequest) -> None:
        """CreateTask without gRPC (raises :class:`AdminError`s), for other parts of the backend."""
        validate_identifier(self.store, request.id, identifier_pb2.TASK)
        if not request.spec.HasField("template"):
            raise InvalidArgument(f"missing spec.template for task [{ident_str(request.id)}]")
        spec = task_pb2.TaskSpec()
        spec.CopyFrom(request.spec)
        spec.template.id.CopyFrom(request.id)  # Admin forces the template id to the request id
        if not spec.template.type:
            raise InvalidArgument(f"missing task type in the template of task [{ident_str(request.id)}]")
        compiled = compiler_pb2.CompiledTask(template=spec.template)
        closure = task_pb2.TaskClosure(compiled_task=compiled, created_at=timestamp())
        insert_version(
            self.store,
            request.id,
            spec=spec,
            closure=closure,
            structure=compiled,
            registered=lambda row: task_pb2.TaskClosure.FromString(row.closure).compiled_task,
        )

    @rpc
    def GetTask(self, request: common_pb2.ObjectGetRequest, context: grpc.ServicerContext) -> task_pb2.Task:
        return self.get_task(request.id)

    def get_task(self, ident: identifier_pb2.Identifier) -> task_pb2.Task:
        return task_from_row(entity_row(self.store, TASK, ident))

    @rpc
    def ListTasks(
        self, request: common_pb2.ResourceListRequest, context: grpc.ServicerContext
    ) -> task_pb2.TaskList:
        rows, token = list_entity_rows(self.store, TASK, request, listing.ENTITY_COLUMNS)
        return task_pb2.TaskList(tasks=[task_from_row(r) for r in rows], token=token)

    @rpc
    def ListTaskIds(
        self, request: common_pb2.NamedEntityIdentifierListRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntityIdentifierList:
        return list_ids(self, TASK, request)


def list_ids(
    servicer: Base, resource_type: int, request: common_pb2.NamedEntityIdentifierListRequest
) -> common_pb2.NamedEntityIdentifierList:
    """List…Ids: the distinct names of one resource type in a project/domain."""
    validate_project_domain(servicer.store, request.project, request.domain)
    page = page_for(request, listing.NAME_COLUMNS, default_order="name ASC")
    names = servicer.store.list_entity_names(resource_type, request.project, request.domain, page)
    entities = [
        common_pb2.NamedEntityIdentifier(project=request.project, domain=request.domain, name=name)
        for name, _ in names
    ]
    return common_pb2.NamedEntityIdentifierList(entities=entities, token=next_token(page, names))
