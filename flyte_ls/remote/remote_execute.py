"""Launching and following executions: :class:`ExecuteMixin` of the remote client.

Written against :class:`~flyte_ls.remote.remote.RemoteBase`'s attributes only (``config``,
``default_project``, ``default_domain``, ``async _call(rpc, request, *, kind, timeout=None)``), so it mixes
into ``AsyncFlyteRemote``; the sync facade runs the same coroutines.

How it differs from flytekit's FlyteRemote (../shared/reference/flytekit-remote.md §2, §5, §6, §11):

* inputs become literals from the entity's *declared* types (a launch plan's expected inputs, a task's
  interface) through :mod:`flyte_ls.remote.literals` — no TypeEngine; a value that does not fit names the
  input, the expected type and what was given;
* a launch plan without a version runs the *active* version when there is one (flyte#5834), else the latest;
* :meth:`ExecuteMixin.wait` polls ``GetExecution`` only (at a fixed ``poll_interval``, or adaptively from
  0.5 s to 10 s), and raises :class:`FlyteTimeout` at its deadline after one last look;
* :meth:`ExecuteMixin.sync_execution` fetches nodes only when asked, pages them, follows child executions and
  dynamic/subworkflow/branch parents, reuses finished nodes of a previous sync, and does not fetch again an
  execution that is already done; a node's task executions and data are loaded for that node only, on request
  (:meth:`ExecuteMixin.fetch_task_executions`, :meth:`ExecuteMixin.fetch_node_data`;
  :mod:`flyte_ls.remote.remote_sync`);
* a signal's value is converted with the signal's own declared type (``ListSignals``).

Entities and executions may be given as :class:`Identifier` / :class:`WorkflowExecutionIdentifier`, their
protos, flytekit's id models (anything whose ``to_flyte_idl()`` gives the proto), the cli string forms
(``lp:proj:dom:name:version``, ``ex:proj:dom:name``), or any object with an ``id`` attribute holding one of
those (our entity classes and flytekit's); an execution also as its bare name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2, signal_pb2, task_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, metrics_pb2, security_pb2, types_pb2
from google.protobuf import wrappers_pb2

from flyte_ls.remote.entities import FlyteNodeExecution, FlyteTaskExecution, FlyteWorkflowExecution
from flyte_ls.remote.errors import FlyteEntityNotExistException, FlyteException, FlyteTimeout
from flyte_ls.remote.identifiers import Identifier, ResourceType, WorkflowExecutionIdentifier
from flyte_ls.remote.literals import to_literal, to_literal_map
from flyte_ls.remote.remote_data import inline_data
from flyte_ls.remote.remote_fetch import id_proto, latest_version
from flyte_ls.remote.remote_sync import node_data, node_task_executions, sync_tree

if TYPE_CHECKING:
    from flyte_ls.remote.config import Config
    from flyte_ls.remote.transport import Kind

FIRST_POLL_S = 0.5
DEFAULT_POLL_CAP_S = 10.0
Timeout = float | int | datetime.timedelta | None


@dataclasses.dataclass
class Options:
    """Per-execution options (flytekit's ``Options``): labels, annotations, where raw outputs go, the
    parallelism cap, who the execution runs as, and notifications (``disable_notifications=None`` keeps the
    launch plan's, ``True`` disables them all, ``False`` sends ``notifications``)."""

    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None
    raw_output_data_prefix: str | None = None
    max_parallelism: int | None = None
    security_context: security_pb2.SecurityContext | None = None
    notifications: Sequence[common_pb2.Notification] = ()
    disable_notifications: bool | None = None


def _idl(value: Any) -> Any:
    """A flytekit model as its proto (``to_flyte_idl()``); anything else as it is."""
    to_idl = getattr(value, "to_flyte_idl", None)
    return to_idl() if callable(to_idl) else value


def _apply_options(spec: execution_pb2.ExecutionSpec, options: Any) -> None:
    """Our :class:`Options` or flytekit's ``Options`` (duck-typed: the same attribute names, its models
    converted with ``to_flyte_idl()``; flytekit is never imported here) onto ``spec``."""
    if options is None:
        return
    for field in ("labels", "annotations"):
        values = _idl(getattr(options, field, None))
        if values is not None and not isinstance(values, Mapping):
            values = values.values  # admin.Labels / Annotations hold their map in ``values``
        getattr(spec, field).values.update(dict(values or {}))
    prefix = getattr(options, "raw_output_data_prefix", None)
    config = _idl(getattr(options, "raw_output_data_config", None))
    prefix = prefix or getattr(config, "output_location_prefix", None)
    if prefix:
        spec.raw_output_data_config.output_location_prefix = prefix
    if getattr(options, "max_parallelism", None) is not None:
        spec.max_parallelism = options.max_parallelism
    security = _idl(getattr(options, "security_context", None))
    if security is not None:
        spec.security_context.CopyFrom(security)
    disable = getattr(options, "disable_notifications", None)
    if disable:
        spec.disable_all = True
    elif disable is False:
        spec.notifications.notifications.extend(
            _idl(n) for n in getattr(options, "notifications", None) or ()
        )


def as_seconds(timeout: Timeout) -> float | None:
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return None if timeout is None else float(timeout)


def _declared(
    entity: Any,
) -> tuple[identifier_pb2.Identifier, interface_pb2.VariableMap | interface_pb2.ParameterMap] | None:
    """A fetched task or launch plan (:mod:`.entities`) already holds its id and declared inputs: no RPC."""
    closure, ident = getattr(entity, "closure", None), getattr(entity, "id", None)
    if not isinstance(ident, Identifier) or ident.version is None:
        return None
    if isinstance(closure, task_pb2.TaskClosure) and closure.HasField("compiled_task"):
        return ident.to_proto(), closure.compiled_task.template.interface.inputs
    spec = getattr(entity, "spec", None)
    if isinstance(closure, launch_plan_pb2.LaunchPlanClosure) and isinstance(
        spec, launch_plan_pb2.LaunchPlanSpec
    ):
        params = closure.expected_inputs if closure.expected_inputs.parameters else spec.default_inputs
        return ident.to_proto(), params
    return None


class ExecuteMixin:
    """execute / relaunch_execution / wait / sync_execution / terminate / signals / launch plan activation /
    metrics."""

    if TYPE_CHECKING:  # provided by RemoteBase
        config: Config
        default_project: str | None
        default_domain: str | None

        async def _call(self, rpc: str, request: Any, *, kind: Kind, timeout: float | None = None) -> Any: ...

    # --- identifiers ---------------------------------------------------------------------------------------

    def _entity_id(
        self,
        entity: Any,
        project: str | None,
        domain: str | None,
        version: str | None,
        action: str = "execute",
        kinds: str = "a task, workflow or launch plan",
    ) -> Identifier:
        """The id of an entity — ours or flytekit's (anything with ``id``), an identifier (ours, a proto, or
        a model whose ``to_flyte_idl()`` gives one), or its string form — with ``version`` applied."""
        ident = id_proto(entity)
        if isinstance(ident, str):
            ident = Identifier.parse(
                ident,
                default_project=project or self.default_project,
                default_domain=domain or self.default_domain,
            )
        elif isinstance(ident, identifier_pb2.Identifier):
            ident = Identifier.from_proto(ident)
        if not isinstance(ident, Identifier):
            raise TypeError(
                f"cannot {action} {entity!r}: pass {kinds}, its Identifier, or a string such as"
                " 'lp:<project>:<domain>:<name>:<version>'"
            )
        if version is not None:
            ident = ident.with_version(version)
        return ident

    def _execution_id(
        self, execution: Any, project: str | None = None, domain: str | None = None
    ) -> WorkflowExecutionIdentifier:
        ident = id_proto(execution)
        if isinstance(ident, str):
            if ident.startswith("ex:"):
                return WorkflowExecutionIdentifier.parse(
                    ident, default_project=self.default_project, default_domain=self.default_domain
                )
            project, domain = project or self.default_project, domain or self.default_domain
            if not project or not domain:
                raise ValueError(
                    f"execution {ident!r}: give project and domain (or the remote's default_project/"
                    "default_domain), or the form 'ex:<project>:<domain>:<name>'"
                )
            return WorkflowExecutionIdentifier(project, domain, ident)
        if isinstance(ident, identifier_pb2.WorkflowExecutionIdentifier):
            return WorkflowExecutionIdentifier.from_proto(ident)
        if isinstance(ident, WorkflowExecutionIdentifier):
            return ident
        raise TypeError(f"not an execution: {execution!r} (pass an execution, its id or its name)")

    # --- execute -------------------------------------------------------------------------------------------

    async def _launch_target(
        self, ident: Identifier
    ) -> tuple[identifier_pb2.Identifier, interface_pb2.VariableMap | interface_pb2.ParameterMap]:
        """The id to launch and the variables its inputs are typed by."""
        if ident.resource_type == ResourceType.TASK:
            if ident.version is None:
                ident = await latest_version(self._call, ident)
            task = await self._call("GetTask", common_pb2.ObjectGetRequest(id=ident.to_proto()), kind="read")
            return task.id, task.closure.compiled_task.template.interface.inputs
        if ident.resource_type == ResourceType.WORKFLOW:
            # A workflow runs through its default launch plan (same name and version).
            if ident.version is None:
                ident = await latest_version(self._call, ident)
            lp_ident = Identifier(
                ResourceType.LAUNCH_PLAN, ident.project, ident.domain, ident.name, ident.version
            )
            try:
                lp = await self._get_launch_plan(lp_ident)
            except FlyteEntityNotExistException as err:
                raise FlyteEntityNotExistException(
                    f"workflow {ident} has no default launch plan ({lp_ident}): register the workflow with "
                    "its default launch plan (pyflyte register does), or execute a launch plan"
                ) from err
        elif ident.version is None:
            lp = await self._active_or_latest(ident)
        else:
            lp = await self._get_launch_plan(ident)
        params = (
            lp.closure.expected_inputs if lp.closure.expected_inputs.parameters else lp.spec.default_inputs
        )
        return lp.id, params

    async def _get_launch_plan(self, ident: Identifier) -> launch_plan_pb2.LaunchPlan:
        return await self._call(
            "GetLaunchPlan", common_pb2.ObjectGetRequest(id=ident.to_proto()), kind="read"
        )

    async def _active_or_latest(self, ident: Identifier) -> launch_plan_pb2.LaunchPlan:
        try:
            request = launch_plan_pb2.ActiveLaunchPlanRequest(id=ident.named_entity())
            return await self._call("GetActiveLaunchPlan", request, kind="read")
        except FlyteEntityNotExistException:
            return await self._get_launch_plan(await latest_version(self._call, ident))

    async def _inputs(
        self,
        inputs: Mapping[str, Any],
        variables: interface_pb2.VariableMap | interface_pb2.ParameterMap,
        project: str,
        domain: str,
    ) -> literals_pb2.LiteralMap:
        upload_file = getattr(self, "upload_file", None)
        if upload_file is None:
            return to_literal_map(inputs, variables)
        loop = asyncio.get_running_loop()

        def upload(path: str, is_dir: bool) -> str:
            if is_dir:
                raise ValueError(f"{path} is a directory: upload it first and pass its remote URI")
            future = asyncio.run_coroutine_threadsafe(upload_file(path, project=project, domain=domain), loop)
            _, native_url = future.result()
            return str(native_url)

        # Conversion may upload local files: off the loop, so the upload coroutines can run on it.
        return await asyncio.to_thread(to_literal_map, inputs, variables, upload=upload)

    async def execute(
        self,
        entity: Any,
        inputs: Mapping[str, Any] | None = None,
        project: str | None = None,
        domain: str | None = None,
        version: str | None = None,
        execution_name: str | None = None,
        execution_name_prefix: str | None = None,
        options: Options | Any = None,
        wait: bool = False,
        overwrite_cache: bool | None = None,
        interruptible: bool | None = None,
        envs: Mapping[str, str] | None = None,
        tags: Sequence[str] | None = None,
        cluster_pool: str | None = None,
        execution_cluster_label: str | None = None,
        timeout: Timeout = None,
    ) -> FlyteWorkflowExecution:
        """Launch a task, a launch plan, or a workflow (through its default launch plan) and return the
        execution (``wait=True``: once it is done, within ``timeout``).

        The execution lands in ``project``/``domain`` (default: the entity's, then the remote's defaults).
        ``entity`` may be ours or flytekit's (a fetched entity or an id model), and ``options`` our
        :class:`Options` or flytekit's (its ``Labels``, ``Annotations``, ``RawOutputDataConfig``,
        ``SecurityContext`` and notification models are converted with their ``to_flyte_idl()``).
        """
        if execution_name and execution_name_prefix:
            raise ValueError("give execution_name or execution_name_prefix, not both")
        if execution_name_prefix:
            import uuid  # only prefixed names need it: not imported with the client

            execution_name = f"{execution_name_prefix}-{uuid.uuid4().hex[:19]}"
        ident = self._entity_id(entity, project, domain, version)
        known = _declared(entity) if version is None else None
        launch_id, variables = known or await self._launch_target(ident)
        project = project or ident.project
        domain = domain or ident.domain
        literal_inputs = await self._inputs(dict(inputs or {}), variables, project, domain)
        spec = self._spec(
            launch_id,
            options,
            overwrite_cache,
            interruptible,
            envs,
            tags,
            cluster_pool,
            execution_cluster_label,
        )
        request = execution_pb2.ExecutionCreateRequest(
            project=project, domain=domain, name=execution_name or "", spec=spec, inputs=literal_inputs
        )
        try:
            created = await self._call("CreateExecution", request, kind="create")
            exec_id = created.id
        except FlyteException as err:
            # The same name again is the same execution (flytekit tolerates it too).
            if err.code != grpc.StatusCode.ALREADY_EXISTS or not execution_name:
                raise
            exec_id = identifier_pb2.WorkflowExecutionIdentifier(
                project=project, domain=domain, name=execution_name
            )
        if wait:
            return await self.wait(exec_id, timeout=timeout)
        return await self._get_execution(exec_id)

    @staticmethod
    def _spec(
        launch_id: identifier_pb2.Identifier,
        options: Options | Any,
        overwrite_cache: bool | None,
        interruptible: bool | None,
        envs: Mapping[str, str] | None,
        tags: Sequence[str] | None,
        cluster_pool: str | None,
        execution_cluster_label: str | None,
    ) -> execution_pb2.ExecutionSpec:
        spec = execution_pb2.ExecutionSpec(
            launch_plan=launch_id,
            metadata=execution_pb2.ExecutionMetadata(mode=execution_pb2.ExecutionMetadata.MANUAL),
        )
        _apply_options(spec, options)
        if overwrite_cache is not None:
            spec.overwrite_cache = overwrite_cache
        if interruptible is not None:
            spec.interruptible.CopyFrom(wrappers_pb2.BoolValue(value=interruptible))
        for key, value in (envs or {}).items():
            spec.envs.values.add(key=key, value=value)
        spec.tags.extend(tags or ())
        if cluster_pool:
            spec.cluster_assignment.cluster_pool_name = cluster_pool
        if execution_cluster_label:
            spec.execution_cluster_label.value = execution_cluster_label
        return spec

    # --- follow --------------------------------------------------------------------------------------------

    async def _get_execution(self, execution: Any) -> FlyteWorkflowExecution:
        request = execution_pb2.WorkflowExecutionGetRequest(id=self._execution_id(execution).to_proto())
        return FlyteWorkflowExecution.from_proto(await self._call("GetExecution", request, kind="read"))

    async def wait(
        self,
        execution: Any,
        timeout: Timeout = None,
        poll_interval: Timeout = None,
        sync_nodes: bool = False,
    ) -> FlyteWorkflowExecution:
        """Poll ``GetExecution`` (nothing else) until the execution is done. ``poll_interval`` (seconds or
        a timedelta) polls at that fixed interval, as flytekit does; ``None`` adapts: 0.5 s, doubling to 10 s.
        At ``timeout`` (``None``: forever) one last look, then :class:`FlyteTimeout`.

        Given an execution object (what ``execute`` returns), what it says is not asked again: one that is
        done is returned as it is (terminal phases never change), and the first poll comes one interval after
        the object was read from Admin (at once if that is longer ago).

        ``sync_nodes=True`` (flytekit's default, which syncs inputs, outputs and every node on *every* poll)
        syncs once, when the execution is done: the result is :meth:`sync_execution` ``(done,
        sync_nodes=True)`` — inputs, outputs and the node tree. ``False`` (ours) returns the execution as
        polled; call :meth:`sync_execution` for its data."""
        done = await self._wait(execution, timeout, poll_interval)
        return await self.sync_execution(done, sync_nodes=True) if sync_nodes else done

    async def _wait(self, execution: Any, timeout: Timeout, poll_interval: Timeout) -> FlyteWorkflowExecution:
        if isinstance(execution, FlyteWorkflowExecution) and execution.is_done:
            return execution
        fixed = as_seconds(poll_interval)
        if fixed is not None and fixed <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval!r}")
        budget = as_seconds(timeout)
        start = time.monotonic()
        deadline = None if budget is None else start + budget
        interval = fixed or FIRST_POLL_S
        seen = execution.observed_at if isinstance(execution, FlyteWorkflowExecution) else None
        age = None if seen is None else start - seen
        # A negative age is another process's clock (an unpickled execution): poll at once.
        delay = interval - age if age is not None and 0 <= age < interval else 0.0
        if delay > 0 and fixed is None:
            interval = min(interval * 2, DEFAULT_POLL_CAP_S)  # that observation was the first poll
        while True:
            if delay > 0:
                now = time.monotonic()
                await asyncio.sleep(delay if deadline is None else min(delay, max(0.0, deadline - now)))
            current = await self._get_execution(execution)
            if current.is_done:
                return current
            if deadline is not None and time.monotonic() >= deadline:
                phase = core_execution_pb2.WorkflowExecution.Phase.Name(current.closure.phase)
                raise FlyteTimeout(
                    f"execution {self._execution_id(execution)} is still {phase} after {budget:g} s: wait "
                    "longer (timeout=...), or terminate it"
                )
            delay = interval
            if fixed is None:
                interval = min(interval * 2, DEFAULT_POLL_CAP_S)

    async def sync_execution(
        self,
        execution: Any,
        entity_definition: Any = None,
        sync_nodes: bool = False,
        rpc_timeout: Timeout = None,
        *,
        previous: FlyteWorkflowExecution | None = None,
    ) -> FlyteWorkflowExecution:
        """The execution with its inputs and (once succeeded) outputs; with ``sync_nodes`` its node tree too —
        child executions' nodes and dynamic/subworkflow/branch children, one ``ListNodeExecutions`` page per
        100 nodes. Task executions and node data are not fetched here: :meth:`fetch_task_executions` and
        :meth:`fetch_node_data` load them for the nodes that need them. An execution object that is already
        done is not fetched again (``GetExecution``), and finished nodes of ``previous`` (an earlier sync of
        the same execution) or of ``execution`` itself are reused, not fetched again. Data Admin did not
        inline (offloaded outputs, a UrlBlob) is read from the store.

        flytekit's parameters, in its order: ``entity_definition`` is accepted and ignored (the node tree
        comes from Admin, not from the entity's definition); ``rpc_timeout`` (seconds or a timedelta) is the
        deadline of each RPC of this sync (``None``: the remote's read deadline)."""
        known = execution if isinstance(execution, FlyteWorkflowExecution) else None
        exec_id = self._execution_id(execution).to_proto()
        call = self._call
        seconds = as_seconds(rpc_timeout)
        if seconds is not None:
            call = functools.partial(self._call, timeout=seconds)
        return await sync_tree(call, exec_id, sync_nodes, previous, known, read=self._inline)

    async def _inline(self, full: literals_pb2.LiteralMap, blob: Any) -> literals_pb2.LiteralMap:
        return await inline_data(self.config, full, blob)

    async def fetch_task_executions(self, node: FlyteNodeExecution) -> list[FlyteTaskExecution]:
        """The node's task executions (its attempts; an array node's items), stored on
        ``node.task_executions`` — ``ListTaskExecutions``, paged; none again for a finished node already
        loaded."""
        return await node_task_executions(self._call, node)

    async def fetch_node_data(self, node: FlyteNodeExecution) -> FlyteNodeExecution:
        """Load the node's ``inputs`` and, once it succeeded, ``outputs`` (plain Python) —
        ``GetNodeExecutionData``; none again for a finished node already loaded; offloaded data read from
        the store. Returns the node."""
        return await node_data(self._call, node, read=self._inline)

    sync = sync_execution

    async def terminate(self, execution: Any, cause: str) -> None:
        """Abort a running execution (``cause`` is recorded on it)."""
        request = execution_pb2.ExecutionTerminateRequest(
            id=self._execution_id(execution).to_proto(), cause=cause
        )
        await self._call("TerminateExecution", request, kind="update")

    async def relaunch_execution(
        self, execution: Any, name: str | None = None, overwrite_cache: bool = False
    ) -> FlyteWorkflowExecution:
        """Run an execution again with the same launch plan version and inputs (``RelaunchExecution``; not a
        flytekit method). ``name``: the new execution's name (default: Admin picks one); ``overwrite_cache``:
        recompute cached task outputs. Returns the new execution."""
        request = execution_pb2.ExecutionRelaunchRequest(
            id=self._execution_id(execution).to_proto(), name=name or "", overwrite_cache=overwrite_cache
        )
        created = await self._call("RelaunchExecution", request, kind="create")
        return await self._get_execution(created.id)

    # --- signals -------------------------------------------------------------------------------------------

    async def _signal_type(self, exec_id: identifier_pb2.WorkflowExecutionIdentifier, signal_id: str) -> Any:
        token = ""
        while True:
            request = signal_pb2.SignalListRequest(workflow_execution_id=exec_id, limit=100, token=token)
            listed = await self._call("ListSignals", request, kind="read")
            for signal in listed.signals:
                if signal.id.signal_id == signal_id:
                    return signal.type
            token = listed.token
            if not token:
                break
        raise FlyteEntityNotExistException(
            f"execution {exec_id.name} has no signal {signal_id!r} (yet): check the gate's name, or wait "
            "until the execution reaches the gate node"
        )

    async def set_signal(
        self,
        signal_id: str,
        execution_name: Any,
        value: Any,
        project: str | None = None,
        domain: str | None = None,
        python_type: Any = None,
        literal_type: types_pb2.LiteralType | Any = None,
    ) -> None:
        """Answer a ``wait_for_input`` (or approve) gate; ``value`` is converted with the signal's declared
        type (``literal_type`` — a proto or flytekit's model — overrides it; a ``core.Literal`` is sent as
        is). ``python_type`` is accepted for flytekit's signature and ignored: flytekit needs it to pick a
        TypeEngine transformer, here the declared LiteralType decides the conversion (every signal has one,
        the gate declares it)."""
        del python_type
        exec_id = self._execution_id(execution_name, project, domain).to_proto()
        converted = _idl(value)  # flytekit's Literal model as its proto
        if isinstance(converted, literals_pb2.Literal):
            value = converted
        else:
            lt = (
                _idl(literal_type)
                if literal_type is not None
                else await self._signal_type(exec_id, signal_id)
            )
            value = to_literal(value, lt, name=signal_id)
        sid = core_identifier_signal(signal_id, exec_id)
        await self._call("SetSignal", signal_pb2.SignalSetRequest(id=sid, value=value), kind="update")

    set_input = set_signal

    async def approve(
        self, signal_id: str, execution_name: Any, project: str | None = None, domain: str | None = None
    ) -> None:
        await self._set_bool(signal_id, execution_name, project, domain, True)

    async def reject(
        self, signal_id: str, execution_name: Any, project: str | None = None, domain: str | None = None
    ) -> None:
        await self._set_bool(signal_id, execution_name, project, domain, False)

    async def _set_bool(
        self, signal_id: str, execution_name: Any, project: str | None, domain: str | None, value: bool
    ) -> None:
        literal = literals_pb2.Literal(
            scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=value))
        )
        await self.set_signal(signal_id, execution_name, literal, project, domain)

    # --- launch plans, metrics -----------------------------------------------------------------------------

    async def activate_launchplan(self, ident: Any) -> None:
        """Make this launch plan version the active one (Admin deactivates the previous one)."""
        await self._set_launch_plan_state(ident, launch_plan_pb2.ACTIVE)

    async def deactivate_launchplan(self, ident: Any) -> None:
        await self._set_launch_plan_state(ident, launch_plan_pb2.INACTIVE)

    deactivate = deactivate_launchplan

    async def _set_launch_plan_state(self, ident: Any, state: int) -> None:
        action = "activate" if state == launch_plan_pb2.ACTIVE else "deactivate"
        lp_id = self._entity_id(ident, None, None, None, action, "a launch plan")
        if lp_id.resource_type != ResourceType.LAUNCH_PLAN:
            raise TypeError(f"cannot {action} {lp_id}: it is not a launch plan")
        if lp_id.version is None:
            lp_id = await latest_version(self._call, lp_id)
        request = launch_plan_pb2.LaunchPlanUpdateRequest(id=lp_id.to_proto(), state=state)
        await self._call("UpdateLaunchPlan", request, kind="update")

    async def get_execution_metrics(self, id: Any, depth: int = 10) -> metrics_pb2.Span:
        """The span tree (timings of nodes and tasks), ``depth`` levels deep, of the execution ``id`` (an
        execution, its id — ours, a proto or flytekit's — or its name)."""
        request = execution_pb2.WorkflowExecutionGetMetricsRequest(
            id=self._execution_id(id).to_proto(), depth=depth
        )
        response = await self._call("GetExecutionMetrics", request, kind="read")
        return response.span


def core_identifier_signal(
    signal_id: str, exec_id: identifier_pb2.WorkflowExecutionIdentifier
) -> identifier_pb2.SignalIdentifier:
    return identifier_pb2.SignalIdentifier(signal_id=signal_id, execution_id=exec_id)
