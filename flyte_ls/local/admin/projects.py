"""Projects, domains, version and named entities (the RPCs flytekit, flytectl and the console need)."""

from __future__ import annotations

import dataclasses
import re

import grpc
from flyteidl.admin import common_pb2, project_pb2, version_pb2

from flyte_ls import __version__
from flyte_ls.local import listing
from flyte_ls.local.admin.common import (
    Base,
    id_str,
    next_token,
    page_for,
    validate_named_id,
    validate_project_domain,
)
from flyte_ls.local.errors import AlreadyExists, InvalidArgument, NotFound, rpc
from flyte_ls.local.store import LAUNCH_PLAN, TASK, WORKFLOW, NamedEntityRow, ProjectRow

# Admin's project ids are DNS-1123 labels (they become Kubernetes namespaces).
_PROJECT_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

NAMED_ENTITY_COLUMNS: dict[str, listing.Column] = {
    "name": listing.Column("name"),
    "description": listing.Column("description"),
    "state": listing.Column(
        "state",
        listing.enum_value({"NAMED_ENTITY_ACTIVE": 0, "NAMED_ENTITY_ARCHIVED": 1, "SYSTEM_GENERATED": 2}),
    ),
}


class ProjectMixin(Base):
    def _project(self, row: ProjectRow) -> project_pb2.Project:
        return project_pb2.Project(
            id=row.id,
            name=row.name,
            description=row.description,
            labels=common_pb2.Labels.FromString(row.labels),
            state=row.state,
            domains=self._domains(),
        )

    def _domains(self) -> list[project_pb2.Domain]:
        return [project_pb2.Domain(id=d, name=d) for d in self.store.domains]

    @rpc
    def ListProjects(
        self, request: project_pb2.ProjectListRequest, context: grpc.ServicerContext
    ) -> project_pb2.Projects:
        page = page_for(request, listing.PROJECT_COLUMNS, "project", require_limit=False)
        if not request.filters:
            # Admin lists only active projects unless the caller filters itself.
            page = dataclasses.replace(page, where="state = ?", params=[0])
        rows = self.store.list_projects(page)
        return project_pb2.Projects(projects=[self._project(r) for r in rows], token=next_token(page, rows))

    @rpc
    def GetProject(
        self, request: project_pb2.ProjectGetRequest, context: grpc.ServicerContext
    ) -> project_pb2.Project:
        if not request.id:
            raise InvalidArgument("missing project id")
        row = self.store.get_project(request.id)
        if row is None:
            raise NotFound(f"project [{request.id}] does not exist")
        return self._project(row)

    @rpc
    def RegisterProject(
        self, request: project_pb2.ProjectRegisterRequest, context: grpc.ServicerContext
    ) -> project_pb2.ProjectRegisterResponse:
        project = request.project
        _validate_project(project)
        if project.domains:
            raise InvalidArgument(
                "Domains are currently only set system wide. "
                "Please retry without domains included in your request."
            )
        if not self.store.put_project(
            project.id,
            project.name,
            project.description,
            project.labels.SerializeToString(deterministic=True),
        ):
            raise AlreadyExists(f"project [{project.id}] already exists")
        return project_pb2.ProjectRegisterResponse()

    @rpc
    def UpdateProject(
        self, request: project_pb2.Project, context: grpc.ServicerContext
    ) -> project_pb2.ProjectUpdateResponse:
        _validate_project(request, name_required=False)
        current = self.store.get_project(request.id)
        if current is None:
            raise NotFound(f"project [{request.id}] does not exist")
        self.store.update_project(
            request.id,
            request.name or current.name,
            request.description,
            request.labels.SerializeToString(deterministic=True),
            request.state,
        )
        return project_pb2.ProjectUpdateResponse()

    @rpc
    def GetDomains(
        self, request: project_pb2.GetDomainRequest, context: grpc.ServicerContext
    ) -> project_pb2.GetDomainsResponse:
        return project_pb2.GetDomainsResponse(domains=self._domains())

    @rpc
    def GetVersion(
        self, request: version_pb2.GetVersionRequest, context: grpc.ServicerContext
    ) -> version_pb2.GetVersionResponse:
        return version_pb2.GetVersionResponse(
            control_plane_version=version_pb2.Version(
                Build="flyte-ls-local", Version=__version__, BuildTime=""
            )
        )

    # --- named entities -----------------------------------------------------------------------------------

    @rpc
    def ListNamedEntities(
        self, request: common_pb2.NamedEntityListRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntityList:
        _check_resource_type(request.resource_type)
        validate_project_domain(self.store, request.project, request.domain)
        page = page_for(request, NAMED_ENTITY_COLUMNS, "named_entity_metadata", default_order="name ASC")
        rows = self.store.list_named_entities(request.resource_type, request.project, request.domain, page)
        return common_pb2.NamedEntityList(
            entities=[_named_entity(r) for r in rows], token=next_token(page, rows)
        )

    @rpc
    def GetNamedEntity(
        self, request: common_pb2.NamedEntityGetRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntity:
        _check_resource_type(request.resource_type)
        ident = request.id
        validate_named_id(self.store, ident, "named entity")
        row = self.store.get_named_entity(request.resource_type, ident.project, ident.domain, ident.name)
        if row is None:
            raise NotFound(f"named entity [{id_str(ident.project, ident.domain, ident.name)}] does not exist")
        return _named_entity(row)

    @rpc
    def UpdateNamedEntity(
        self, request: common_pb2.NamedEntityUpdateRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntityUpdateResponse:
        _check_resource_type(request.resource_type)
        ident = request.id
        validate_named_id(self.store, ident, "named entity")
        updated = self.store.update_named_entity(
            request.resource_type,
            ident.project,
            ident.domain,
            ident.name,
            request.metadata.description,
            request.metadata.state,
        )
        if not updated:
            raise NotFound(f"named entity [{id_str(ident.project, ident.domain, ident.name)}] does not exist")
        return common_pb2.NamedEntityUpdateResponse()


def _validate_project(project: project_pb2.Project, *, name_required: bool = True) -> None:
    if not project.id:
        raise InvalidArgument("missing project id")
    if not _PROJECT_ID.match(project.id):
        raise InvalidArgument(
            f"invalid project id [{project.id}]: use lowercase letters, digits and '-', at most 63 characters"
        )
    if name_required and not project.name:
        raise InvalidArgument(f"missing name for project [{project.id}]")
    if len(project.name) > 64:
        raise InvalidArgument(f"project name of [{project.id}] is longer than 64 characters")
    if len(project.description) > 300:
        raise InvalidArgument(f"project description of [{project.id}] is longer than 300 characters")


def _check_resource_type(resource_type: int) -> None:
    if resource_type not in (TASK, WORKFLOW, LAUNCH_PLAN):
        raise InvalidArgument("resource_type must be TASK, WORKFLOW or LAUNCH_PLAN")


def _named_entity(row: NamedEntityRow) -> common_pb2.NamedEntity:
    return common_pb2.NamedEntity(
        resource_type=row.resource_type,
        id=common_pb2.NamedEntityIdentifier(project=row.project, domain=row.domain, name=row.name),
        metadata=common_pb2.NamedEntityMetadata(description=row.description, state=row.state),
    )
