"""Fetching and listing: :class:`FetchMixin`, the read-only methods of the remote (flytekit's names).

Differences from flytekit's FlyteRemote, on purpose: ``fetch_execution`` sends one ``GetExecution`` (not two);
the launch plans a workflow references are fetched concurrently; ``list_signals`` filters work (a list of
``op(key,value)`` terms is joined with ``+``); ``get`` raises :class:`FlyteEntityNotExistException` instead of
logging and returning ``None``; console URLs for node and task executions point at their execution's page
instead of raising.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2, project_pb2, signal_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import dataproxy_pb2

from flyte_ls.remote.entities import (
    FlyteLaunchPlan,
    FlyteTask,
    FlyteWorkflow,
    FlyteWorkflowExecution,
    LazyEntity,
    walk_nodes,
)
from flyte_ls.remote.errors import FlyteAssertion, FlyteEntityNotExistException
from flyte_ls.remote.identifiers import (
    Identifier,
    ResourceType,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)
from flyte_ls.remote.literals_python import to_python, to_python_map
from flyte_ls.remote.remote_data import inline_data, inline_literal

if TYPE_CHECKING:
    from flyte_ls.remote.config import Config
    from flyte_ls.remote.transport import Kind

_LIST_RPC = {
    ResourceType.TASK: "ListTasks",
    ResourceType.WORKFLOW: "ListWorkflows",
    ResourceType.LAUNCH_PLAN: "ListLaunchPlans",
}
_LIST_FIELD = {
    ResourceType.TASK: "tasks",
    ResourceType.WORKFLOW: "workflows",
    ResourceType.LAUNCH_PLAN: "launch_plans",
}
_NEWEST_FIRST = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING)
Filters = str | Sequence[Any] | None


def filter_string(filters: Filters) -> str:
    """Admin's filter string from a string (as is), or a list of terms — ``op(key,value)`` strings or objects
    whose ``to_flyte_idl()`` gives one (flytekit's ``Filter`` models) — joined with ``+``."""
    if filters is None or isinstance(filters, str):
        return filters or ""
    terms = [term if isinstance(term, str) else term.to_flyte_idl() for term in filters]
    for term in terms:
        if not isinstance(term, str) or "(" not in term:
            raise TypeError(f"filter {term!r}: give 'op(key,value)' strings, e.g. 'eq(phase,SUCCEEDED)'")
    return "+".join(terms)


async def latest_version(call: Callable[..., Awaitable[Any]], ident: Identifier) -> Identifier:
    """``ident`` (a task, workflow or launch plan) at its newest registered version: one ``List*`` RPC."""
    request = common_pb2.ResourceListRequest(id=ident.named_entity(), limit=1, sort_by=_NEWEST_FIRST)
    response = await call(_LIST_RPC[ident.resource_type], request, kind="read")
    entities = getattr(response, _LIST_FIELD[ident.resource_type])
    if not entities:
        raise FlyteEntityNotExistException(
            f"no version of {ident.resource_type.name.lower()} {ident.name!r} is registered in"
            f" {ident.project}/{ident.domain}: register it first (pyflyte register) or check the name"
        )
    return ident.with_version(entities[0].id.version)


class FetchMixin:
    """fetch_*, list_*, get(flyte_uri) and generate_console_url, over :class:`RemoteBase`."""

    if TYPE_CHECKING:  # provided by RemoteBase
        config: Config
        default_project: str | None
        default_domain: str | None
        _runner: Callable[[Awaitable[Any]], Any] | None

        async def _call(self, rpc: str, request: Any, *, kind: Kind, timeout: float | None = None) -> Any: ...

    # --- identifiers --------------------------------------------------------------------------------------

    def _scope(self, project: str | None, domain: str | None) -> tuple[str, str]:
        project = project or self.default_project
        domain = domain or self.default_domain
        if not project or not domain:
            raise FlyteAssertion(
                "a project and a domain are needed: pass project=/domain= or set default_project and"
                " default_domain on the remote"
            )
        return project, domain

    async def _resolve_id(
        self,
        resource_type: ResourceType,
        project: str | None,
        domain: str | None,
        name: str | None,
        version: str | None,
    ) -> Identifier:
        """The identifier with defaults applied; version ``None``/``"latest"`` → the newest registered one."""
        if not name:
            raise FlyteAssertion(f"a {resource_type.name.lower()} name is needed")
        project, domain = self._scope(project, domain)
        ident = Identifier(
            resource_type, project, domain, name, None if version in (None, "", "latest") else version
        )
        return ident if ident.version is not None else await latest_version(self._call, ident)

    # --- fetch --------------------------------------------------------------------------------------------

    async def fetch_task(
        self,
        project: str | None = None,
        domain: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> FlyteTask:
        """A task version (``GetTask``); ``version=None`` is the latest."""
        ident = await self._resolve_id(ResourceType.TASK, project, domain, name, version)
        task = await self._call("GetTask", common_pb2.ObjectGetRequest(id=ident.to_proto()), kind="read")
        return FlyteTask.from_proto(task)

    async def fetch_workflow(
        self,
        project: str | None = None,
        domain: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> FlyteWorkflow:
        """A workflow version (``GetWorkflow``) with the launch plans its nodes reference (``GetLaunchPlan``
        each, concurrently)."""
        ident = await self._resolve_id(ResourceType.WORKFLOW, project, domain, name, version)
        wf = FlyteWorkflow.from_proto(
            await self._call("GetWorkflow", common_pb2.ObjectGetRequest(id=ident.to_proto()), kind="read")
        )
        compiled = wf.closure.compiled_workflow
        refs: dict[Identifier, identifier_pb2.Identifier] = {}
        for template in [compiled.primary.template, *(sub.template for sub in compiled.sub_workflows)]:
            for node in walk_nodes(template.nodes):
                if node.HasField("workflow_node") and node.workflow_node.HasField("launchplan_ref"):
                    ref = node.workflow_node.launchplan_ref
                    refs[Identifier.from_proto(ref)] = ref
        lps = await asyncio.gather(
            *(
                self._call("GetLaunchPlan", common_pb2.ObjectGetRequest(id=ref), kind="read")
                for ref in refs.values()
            )
        )
        wf.launch_plans = {key: FlyteLaunchPlan.from_proto(lp) for key, lp in zip(refs, lps, strict=True)}
        return wf

    async def fetch_launch_plan(
        self,
        project: str | None = None,
        domain: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> FlyteLaunchPlan:
        """A launch plan version (``GetLaunchPlan``) and the workflow it launches (:meth:`fetch_workflow`)."""
        ident = await self._resolve_id(ResourceType.LAUNCH_PLAN, project, domain, name, version)
        lp = await self._call("GetLaunchPlan", common_pb2.ObjectGetRequest(id=ident.to_proto()), kind="read")
        return await self._with_workflow(lp)

    async def fetch_active_launchplan(
        self, project: str | None = None, domain: str | None = None, name: str | None = None
    ) -> FlyteLaunchPlan | None:
        """The active version of launch plan ``name`` (``GetActiveLaunchPlan``); ``None`` if none is."""
        if not name:
            raise FlyteAssertion("a launch plan name is needed")
        project, domain = self._scope(project, domain)
        request = launch_plan_pb2.ActiveLaunchPlanRequest(
            id=common_pb2.NamedEntityIdentifier(project=project, domain=domain, name=name)
        )
        try:
            lp = await self._call("GetActiveLaunchPlan", request, kind="read")
        except FlyteEntityNotExistException:
            return None
        return await self._with_workflow(lp)

    async def _with_workflow(self, lp: launch_plan_pb2.LaunchPlan) -> FlyteLaunchPlan:
        wf_id = Identifier.from_proto(lp.spec.workflow_id)
        workflow = await self.fetch_workflow(wf_id.project, wf_id.domain, wf_id.name, wf_id.version)
        return FlyteLaunchPlan.from_proto(lp, workflow)

    def fetch_task_lazy(
        self,
        project: str | None = None,
        domain: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> LazyEntity[FlyteTask]:
        """A :class:`LazyEntity` that calls :meth:`fetch_task` on first use (no RPC now)."""
        return LazyEntity(
            name or "", lambda: self.fetch_task(project, domain, name, version), runner=self._runner
        )

    def fetch_workflow_lazy(
        self,
        project: str | None = None,
        domain: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> LazyEntity[FlyteWorkflow]:
        """A :class:`LazyEntity` that calls :meth:`fetch_workflow` on first use (no RPC now)."""
        return LazyEntity(
            name or "", lambda: self.fetch_workflow(project, domain, name, version), runner=self._runner
        )

    async def fetch_execution(
        self, project: str | None = None, domain: str | None = None, name: str | None = None
    ) -> FlyteWorkflowExecution:
        """An execution (one ``GetExecution``); its nodes are not fetched (see ``sync_execution``)."""
        if not name:
            raise FlyteAssertion("an execution name is needed")
        project, domain = self._scope(project, domain)
        ident = WorkflowExecutionIdentifier(project, domain, name)
        request = execution_pb2.WorkflowExecutionGetRequest(id=ident.to_proto())
        return FlyteWorkflowExecution.from_proto(await self._call("GetExecution", request, kind="read"))

    # --- list ---------------------------------------------------------------------------------------------

    async def list_tasks_by_version(
        self, version: str, project: str | None = None, domain: str | None = None, limit: int = 100
    ) -> list[FlyteTask]:
        """The tasks registered with ``version`` (first page, ``ListTasks``)."""
        project, domain = self._scope(project, domain)
        request = common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=project, domain=domain),
            filters=f"eq(version,{version})",
            limit=limit,
        )
        response = await self._call("ListTasks", request, kind="read")
        return [FlyteTask.from_proto(task) for task in response.tasks]

    async def recent_executions(
        self,
        project: str | None = None,
        domain: str | None = None,
        limit: int = 100,
        filters: Filters = None,
    ) -> list[FlyteWorkflowExecution]:
        """The newest executions first (first page, ``ListExecutions``); ``filters`` as in
        :func:`filter_string`."""
        project, domain = self._scope(project, domain)
        request = common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=project, domain=domain),
            limit=limit,
            filters=filter_string(filters),
            sort_by=_NEWEST_FIRST,
        )
        response = await self._call("ListExecutions", request, kind="read")
        return [FlyteWorkflowExecution.from_proto(ex) for ex in response.executions]

    async def list_projects(
        self, limit: int = 100, filters: Filters = None, sort_by: common_pb2.Sort | Any = None
    ) -> list[project_pb2.Project]:
        """The projects (first page, ``ListProjects``); ``filters`` as in :func:`filter_string`, ``sort_by``
        a ``Sort`` proto (or an object whose ``to_flyte_idl()`` gives one, such as flytekit's model)."""
        if sort_by is not None and not isinstance(sort_by, common_pb2.Sort):
            sort_by = sort_by.to_flyte_idl()
        request = project_pb2.ProjectListRequest(limit=limit, filters=filter_string(filters), sort_by=sort_by)
        return list((await self._call("ListProjects", request, kind="read")).projects)

    async def get_domains(self) -> list[project_pb2.Domain]:
        """The backend's domains (``GetDomains``)."""
        return list((await self._call("GetDomains", project_pb2.GetDomainRequest(), kind="read")).domains)

    async def list_signals(
        self,
        execution_name: str,
        project: str | None = None,
        domain: str | None = None,
        limit: int = 100,
        filters: Filters = None,
    ) -> list[signal_pb2.Signal]:
        """The signals of an execution (first page, ``ListSignals``); ``filters`` as in
        :func:`filter_string`."""
        project, domain = self._scope(project, domain)
        request = signal_pb2.SignalListRequest(
            workflow_execution_id=WorkflowExecutionIdentifier(project, domain, execution_name).to_proto(),
            limit=limit,
            filters=filter_string(filters),
        )
        return list((await self._call("ListSignals", request, kind="read")).signals)

    # --- data and URLs ------------------------------------------------------------------------------------

    async def get(self, flyte_uri: str, *, as_python: bool = True) -> Any:
        """What a ``flyte://v1/...`` URL names (``GetData``): inputs/outputs as a dict by name, one value
        (``.../i/<var>``), or a deck's HTML as bytes. ``as_python=False`` keeps the LiteralMap / Literal.
        An offloaded value (a large output kept in the store) is read from the store, as ``download`` and
        ``sync_execution`` do."""
        response = await self._call("GetData", dataproxy_pb2.GetDataRequest(flyte_url=flyte_uri), kind="read")
        kind = response.WhichOneof("data")
        if kind == "literal_map":
            literal_map = await inline_data(self.config, response.literal_map)
            return to_python_map(literal_map) if as_python else literal_map
        if kind == "literal":
            literal = await inline_literal(self.config, response.literal)
            return to_python(literal) if as_python else literal
        if kind == "pre_signed_urls" and response.pre_signed_urls.signed_url:
            return await asyncio.to_thread(_download, response.pre_signed_urls.signed_url[0])
        raise FlyteEntityNotExistException(f"{flyte_uri} has no data: check the execution, node and attempt")

    def generate_console_url(self, entity: Any) -> str:
        """The console page of an execution, node or task execution, task, workflow or launch plan (an entity,
        an :mod:`.identifiers` identifier or its proto, or flytekit's entity or id model).
        ``console.endpoint`` is honoured."""
        base = self._console_host() + "/console"
        ex = _execution_of(entity)
        if ex is not None:
            return f"{base}/projects/{ex.project}/domains/{ex.domain}/executions/{ex.name}"
        ident = id_proto(entity)
        if isinstance(ident, identifier_pb2.Identifier):
            ident = Identifier.from_proto(ident)
        if not isinstance(ident, Identifier):
            raise TypeError(
                f"no console page for {type(entity).__name__}: pass an entity, execution or identifier"
            )
        kind = {
            ResourceType.TASK: "task",
            ResourceType.WORKFLOW: "workflow",
            ResourceType.LAUNCH_PLAN: "launch_plan",
        }
        return (
            f"{base}/projects/{ident.project}/domains/{ident.domain}/{kind[ident.resource_type]}/{ident.name}"
            f"/version/{ident.version or 'latest'}"
        )

    def _console_host(self) -> str:
        if self.config.console_endpoint:
            return self.config.console_endpoint.rstrip("/")
        return f"{'http' if self.config.insecure else 'https'}://{self.config.endpoint}"


def id_proto(entity: Any) -> Any:
    """The id of an entity (anything with ``id``) or the value itself; a flytekit model (anything whose
    ``to_flyte_idl()`` gives a proto) as that proto, so flytekit's entities and ids work too."""
    ident = getattr(entity, "id", entity)
    to_idl = getattr(ident, "to_flyte_idl", None)
    return to_idl() if callable(to_idl) else ident


def _execution_of(entity: Any) -> WorkflowExecutionIdentifier | None:
    """The workflow execution an execution, node or task execution (or its identifier) belongs to."""
    ident = id_proto(entity)
    if isinstance(ident, WorkflowExecutionIdentifier):
        return ident
    if isinstance(ident, TaskExecutionIdentifier):
        ident = ident.to_proto()
    if isinstance(ident, identifier_pb2.TaskExecutionIdentifier):
        ident = ident.node_execution_id
    if isinstance(ident, identifier_pb2.NodeExecutionIdentifier):
        ident = ident.execution_id
    if isinstance(ident, identifier_pb2.WorkflowExecutionIdentifier):
        return WorkflowExecutionIdentifier.from_proto(ident)
    return None


def _download(url: str) -> bytes:
    import urllib.request  # only get() of a signed URL reads over HTTP: not imported with the client

    with urllib.request.urlopen(url, timeout=30) as response:  # a URL the backend signed
        return bytes(response.read())
