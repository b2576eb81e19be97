"""Execution, node execution and task execution records: the protobufs Admin returns, kept in the Store.

This is the write API of the executor (Admin builds these records from propeller's events; locally the
executor writes them directly). All ids are ``admin``/``core`` protobuf identifiers; times are epoch seconds
(default: now). Every write is one SQLite transaction.

- :meth:`ExecutionRecords.set_execution_phase` — RUNNING (sets ``started_at``), SUCCEEDED (with the
  outputs file), FAILED (with a ``core.ExecutionError``), ABORTED, TIMED_OUT, …; a change after a terminal
  phase raises :class:`FailedPrecondition` (as Admin rejects events after the end).
- :meth:`start_node` / :meth:`finish_node` — a node execution keyed by its *unique* node id (``n0``, or
  ``n1-0-n0`` inside a subworkflow/dynamic parent); ``parent_node_id`` makes it a child listed under
  ``unique_parent_id``; ``is_parent``/``is_dynamic``/``is_array`` fill ``metadata``; the parent flag is also
  inferred when children exist. ``child_execution`` links a launch-plan node to its child execution (name it
  with :func:`~flyte_ls.local.executions.inputs.child_execution_name`); :meth:`set_dynamic_workflow` stores
  the compiled workflow of a dynamic node.
- :meth:`start_task_attempt` / :meth:`finish_task_attempt` — one attempt (``retry_attempt`` 0, 1, …) of the
  task of a node, with its ``logs`` (``core.TaskLog``).

Data files are plain absolute paths of serialized ``core.LiteralMap``s (the ``uri`` fields hold them as they
are, as Admin holds ``s3://`` URIs): the launch inputs live in ``<state>/metadata/<p>/<d>/<name>/inputs`` (and
the request's own inputs in ``user_inputs``); the executor writes node data under
:meth:`ExecutionRecords.data_dir` (``<state>/executions/<p>-<d>-<name>/``).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.event import event_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from flyte_ls.local.errors import AlreadyExists, FailedPrecondition, NotFound
from flyte_ls.local.store import ExecutionRow, NodeRow, Page, Store, TaskRow

WorkflowPhase = core_execution_pb2.WorkflowExecution
NodePhase = core_execution_pb2.NodeExecution
TaskPhase = core_execution_pb2.TaskExecution

WF_TERMINAL = frozenset(
    {WorkflowPhase.SUCCEEDED, WorkflowPhase.FAILED, WorkflowPhase.ABORTED, WorkflowPhase.TIMED_OUT}
)
WF_UNFINISHED = (
    WorkflowPhase.UNDEFINED,
    WorkflowPhase.QUEUED,
    WorkflowPhase.RUNNING,
    WorkflowPhase.SUCCEEDING,
    WorkflowPhase.FAILING,
    WorkflowPhase.ABORTING,
)
NODE_TERMINAL = frozenset(
    {
        NodePhase.SUCCEEDED,
        NodePhase.FAILED,
        NodePhase.ABORTED,
        NodePhase.SKIPPED,
        NodePhase.TIMED_OUT,
        NodePhase.RECOVERED,
    }
)
TASK_TERMINAL = frozenset({TaskPhase.SUCCEEDED, TaskPhase.FAILED, TaskPhase.ABORTED})
TASK_EVENT_VERSION = 1  # propeller's task execution events (flytepropeller nodes/task/transformer.go)


def exec_str(ident: identifier_pb2.WorkflowExecutionIdentifier) -> str:
    return f"{ident.project}/{ident.domain}/{ident.name}"


def ts(seconds: float) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromNanoseconds(int(seconds * 1e9))
    return out


def duration(start: timestamp_pb2.Timestamp, end: float) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromNanoseconds(max(0, int(end * 1e9) - start.ToNanoseconds()))
    return out


def read_literal_map(path: str) -> literals_pb2.LiteralMap | None:
    """The LiteralMap stored at ``path``; None when there is no path or no file."""
    if not path:
        return None
    try:
        return literals_pb2.LiteralMap.FromString(Path(path).read_bytes())
    except FileNotFoundError:
        return None


def write_temp(near: Path, data: bytes) -> Path:
    """``data`` in a new uniquely named file next to ``near`` (to be renamed into place)."""
    near.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{near.name}.", suffix=".tmp", dir=near.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(name)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


class ExecutionRecords:
    """Proto-level access to the executions of a :class:`Store`. Thread-safe (the store serialises)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = store.state_dir.resolve()

    # --- paths -------------------------------------------------------------------------------------------

    def metadata_dir(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> Path:
        return self.root / "metadata" / ident.project / ident.domain / ident.name

    def inputs_path(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> Path:
        return self.metadata_dir(ident) / "inputs"

    def data_dir(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> Path:
        """Where the executor puts node data (propeller's ``<p>-<d>-<name>/<node>/data/...`` layout)."""
        return self.root / "executions" / f"{ident.project}-{ident.domain}-{ident.name}"

    # --- executions --------------------------------------------------------------------------------------

    def create_execution(
        self,
        ident: identifier_pb2.WorkflowExecutionIdentifier,
        spec: execution_pb2.ExecutionSpec,
        launch_plan: identifier_pb2.Identifier,
        workflow: identifier_pb2.Identifier,
        inputs: literals_pb2.LiteralMap,
        user_inputs: literals_pb2.LiteralMap,
        *,
        phase: int = WorkflowPhase.QUEUED,
        error: core_execution_pb2.ExecutionError | None = None,
    ) -> execution_pb2.Execution:
        """Insert the execution and write its inputs files; :class:`AlreadyExists` for a taken name.

        The files are written under temporary names first and moved into place only once the row claimed
        the name, so a concurrent create of the same name never replaces the inputs of the winner."""
        if self.store.get_execution(ident.project, ident.domain, ident.name) is not None:
            raise AlreadyExists(f"execution [{exec_str(ident)}] already exists: choose another name")
        inputs_path = self.inputs_path(ident)
        files = {
            inputs_path: write_temp(inputs_path, inputs.SerializeToString(deterministic=True)),
            inputs_path.with_name("user_inputs"): write_temp(
                inputs_path, user_inputs.SerializeToString(deterministic=True)
            ),
        }
        now = time.time()
        closure = execution_pb2.ExecutionClosure(
            phase=phase,
            created_at=ts(now),
            updated_at=ts(now),
            workflow_id=workflow,
            state_change_details=execution_pb2.ExecutionStateChangeDetails(
                state=execution_pb2.EXECUTION_ACTIVE, occurred_at=ts(now), principal=spec.metadata.principal
            ),
        )
        if error is not None:
            closure.error.CopyFrom(error)
        row = ExecutionRow(
            0,
            ident.project,
            ident.domain,
            ident.name,
            now,
            now,
            phase,
            launch_plan.SerializeToString(deterministic=True),
            workflow.SerializeToString(deterministic=True),
            spec.SerializeToString(deterministic=True),
            closure.SerializeToString(deterministic=True),
            launch_plan.name,
            launch_plan.version,
            workflow.name,
            workflow.version,
            *task_id_of(spec),
        )
        inserted = False
        try:
            inserted = self.store.insert_execution(row)
        finally:
            for final, temp in files.items():
                if inserted:
                    temp.replace(final)
                else:
                    temp.unlink(missing_ok=True)
        if not inserted:
            raise AlreadyExists(f"execution [{exec_str(ident)}] already exists: choose another name")
        return self.get_execution(ident)

    def _row(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> ExecutionRow:
        row = self.store.get_execution(ident.project, ident.domain, ident.name)
        if row is None:
            raise NotFound(f"execution [{exec_str(ident)}] does not exist")
        return row

    def get_execution(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> execution_pb2.Execution:
        return execution_from_row(self._row(ident))

    def list_executions(self, project: str, domain: str, page: Page) -> list[execution_pb2.Execution]:
        return [execution_from_row(r) for r in self.store.list_executions(project, domain, page)]

    def unfinished_executions(self) -> list[identifier_pb2.WorkflowExecutionIdentifier]:
        """Executions not in a terminal phase, oldest first: after a restart the executor resumes them or
        ends them FAILED with a reason (never left RUNNING)."""
        return [
            identifier_pb2.WorkflowExecutionIdentifier(project=r.project, domain=r.domain, name=r.name)
            for r in self.store.executions_in_phases(WF_UNFINISHED)
        ]

    def launch_plan_of(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> identifier_pb2.Identifier:
        """The launch plan actually launched (the ``.flytegen`` one for a single-task execution)."""
        return identifier_pb2.Identifier.FromString(self._row(ident).launch_plan)

    def compiled_workflow(
        self, ident: identifier_pb2.WorkflowExecutionIdentifier
    ) -> compiler_pb2.CompiledWorkflowClosure:
        """The compiled closure of the workflow this execution runs (for the executor)."""
        from flyteidl.admin import workflow_pb2

        wf = identifier_pb2.Identifier.FromString(self._row(ident).workflow)
        row = self.store.get_entity(identifier_pb2.WORKFLOW, wf.project, wf.domain, wf.name, wf.version)
        if row is None:
            raise NotFound(f"workflow [{wf.project}/{wf.domain}/{wf.name}/{wf.version}] does not exist")
        return workflow_pb2.WorkflowClosure.FromString(row.closure).compiled_workflow

    def inputs(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> literals_pb2.LiteralMap:
        self._row(ident)
        return read_literal_map(str(self.inputs_path(ident))) or literals_pb2.LiteralMap()

    def set_execution_phase(
        self,
        ident: identifier_pb2.WorkflowExecutionIdentifier,
        phase: int,
        *,
        outputs_uri: str = "",
        error: core_execution_pb2.ExecutionError | None = None,
        abort_cause: str = "",
        principal: str = "",
        occurred_at: float | None = None,
    ) -> execution_pb2.Execution:
        """Move an execution to ``phase``; refused (FailedPrecondition) once it is terminal."""
        now = time.time() if occurred_at is None else occurred_at
        with self.store.update_execution(ident.project, ident.domain, ident.name) as box:
            row = box[0]
            if row is None:
                raise NotFound(f"execution [{exec_str(ident)}] does not exist")
            closure = execution_pb2.ExecutionClosure.FromString(row.closure)
            if closure.phase in WF_TERMINAL:
                raise FailedPrecondition(
                    f"execution [{exec_str(ident)}] is already in the terminal phase "
                    f"{WorkflowPhase.Phase.Name(closure.phase)}"
                )
            closure.phase = phase
            closure.updated_at.CopyFrom(ts(now))
            if phase == WorkflowPhase.RUNNING and not closure.HasField("started_at"):
                closure.started_at.CopyFrom(ts(now))
            if phase in WF_TERMINAL:
                start = closure.started_at if closure.HasField("started_at") else closure.created_at
                closure.duration.CopyFrom(duration(start, now))
            if outputs_uri:
                closure.outputs.uri = outputs_uri
            if error is not None:
                closure.error.CopyFrom(error)
            if abort_cause or phase in (WorkflowPhase.ABORTING, WorkflowPhase.ABORTED):
                if abort_cause or not closure.HasField("abort_metadata"):
                    closure.abort_metadata.cause = abort_cause or closure.abort_metadata.cause
                    closure.abort_metadata.principal = principal
            box[0] = dataclasses.replace(
                row, updated_at=now, phase=phase, closure=closure.SerializeToString(deterministic=True)
            )
        return self.get_execution(ident)

    def set_execution_state(
        self, ident: identifier_pb2.WorkflowExecutionIdentifier, state: int, principal: str = ""
    ) -> None:
        """Archive (``EXECUTION_ARCHIVED``) or re-activate an execution; its phase is unchanged."""
        now = time.time()
        with self.store.update_execution(ident.project, ident.domain, ident.name) as box:
            row = box[0]
            if row is None:
                raise NotFound(f"execution [{exec_str(ident)}] does not exist")
            closure = execution_pb2.ExecutionClosure.FromString(row.closure)
            closure.state_change_details.CopyFrom(
                execution_pb2.ExecutionStateChangeDetails(
                    state=state, occurred_at=ts(now), principal=principal
                )
            )
            box[0] = dataclasses.replace(
                row, state=state, closure=closure.SerializeToString(deterministic=True)
            )

    # --- node executions ---------------------------------------------------------------------------------

    def start_node(
        self,
        exec_id: identifier_pb2.WorkflowExecutionIdentifier,
        node_id: str,
        *,
        phase: int = NodePhase.RUNNING,
        input_uri: str = "",
        parent_node_id: str = "",
        spec_node_id: str = "",
        retry_group: str = "",
        is_parent: bool = False,
        is_dynamic: bool = False,
        is_array: bool = False,
        child_execution: identifier_pb2.WorkflowExecutionIdentifier | None = None,
        occurred_at: float | None = None,
        restart: bool = False,
        started_at: float | None = None,
    ) -> node_execution_pb2.NodeExecution:
        """Create node execution ``node_id`` (its unique id), or move an existing unfinished one to another
        non-terminal ``phase`` (QUEUED → RUNNING → DYNAMIC_RUNNING, or a node resumed after a restart).
        The same phase again raises AlreadyExists, a finished node FailedPrecondition (as Admin's events).
        ``restart``: the node runs again in an execution resumed after a restart; whatever its record says
        (a previous life's phase, outputs, error), it starts afresh — ``started_at`` (a resumed gate) keeps
        the time its wait began."""
        self._row(exec_id)
        now = time.time() if occurred_at is None else occurred_at
        existing = self.store.get_node(exec_id.project, exec_id.domain, exec_id.name, node_id)
        if existing is not None and restart:
            existing = None
        if existing is not None:
            record = node_execution_pb2.NodeExecution.FromString(existing.record)
            if record.closure.phase in NODE_TERMINAL:
                raise FailedPrecondition(
                    f"node [{node_id}] of [{exec_str(exec_id)}] is already in the terminal phase "
                    f"{NodePhase.Phase.Name(record.closure.phase)}"
                )
            if record.closure.phase == phase:
                raise AlreadyExists(f"node [{node_id}] of [{exec_str(exec_id)}] is already in phase {phase}")
            created = existing.created_at
        else:
            record = node_execution_pb2.NodeExecution(
                id=identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=exec_id),
            )
            record.closure.created_at.CopyFrom(ts(now))
            created = now
        record.input_uri = input_uri or record.input_uri
        record.metadata.spec_node_id = spec_node_id or record.metadata.spec_node_id or node_id
        record.metadata.retry_group = retry_group
        record.metadata.is_parent_node = is_parent or record.metadata.is_parent_node
        record.metadata.is_dynamic = is_dynamic or record.metadata.is_dynamic
        record.metadata.is_array = is_array or record.metadata.is_array
        closure = record.closure
        closure.phase = phase
        closure.updated_at.CopyFrom(ts(now))
        if phase == NodePhase.RUNNING and not closure.HasField("started_at"):
            closure.started_at.CopyFrom(ts(now if started_at is None else started_at))
        if child_execution is not None:
            closure.workflow_node_metadata.executionId.CopyFrom(child_execution)  # camelCase in the proto
        self._put_node(exec_id, node_id, parent_node_id, created, now, phase, record)
        return record

    def finish_node(
        self,
        exec_id: identifier_pb2.WorkflowExecutionIdentifier,
        node_id: str,
        phase: int,
        *,
        output_uri: str = "",
        error: core_execution_pb2.ExecutionError | None = None,
        deck_uri: str = "",
        dynamic_job_spec_uri: str = "",
        task_node_metadata: node_execution_pb2.TaskNodeMetadata | None = None,
        occurred_at: float | None = None,
    ) -> node_execution_pb2.NodeExecution:
        """Move a node execution to ``phase`` (usually terminal); refused once it is terminal.
        ``task_node_metadata`` carries the cache status and catalog key of a task node."""
        now = time.time() if occurred_at is None else occurred_at
        row = self.store.get_node(exec_id.project, exec_id.domain, exec_id.name, node_id)
        if row is None:
            raise NotFound(f"node execution [{node_id}] of [{exec_str(exec_id)}] does not exist")
        record = node_execution_pb2.NodeExecution.FromString(row.record)
        closure = record.closure
        if closure.phase in NODE_TERMINAL:
            raise FailedPrecondition(
                f"node [{node_id}] of [{exec_str(exec_id)}] is already in the terminal phase "
                f"{NodePhase.Phase.Name(closure.phase)}"
            )
        closure.phase = phase
        closure.updated_at.CopyFrom(ts(now))
        if phase in NODE_TERMINAL:
            start = closure.started_at if closure.HasField("started_at") else closure.created_at
            closure.duration.CopyFrom(duration(start, now))
        if output_uri:
            closure.output_uri = output_uri
        if error is not None:
            closure.error.CopyFrom(error)
        if deck_uri:
            closure.deck_uri = deck_uri
        if dynamic_job_spec_uri:
            closure.dynamic_job_spec_uri = dynamic_job_spec_uri
        if task_node_metadata is not None:
            closure.task_node_metadata.CopyFrom(task_node_metadata)
        self._put_node(exec_id, node_id, row.parent_id, row.created_at, now, phase, record)
        return record

    def link_child_execution(
        self,
        exec_id: identifier_pb2.WorkflowExecutionIdentifier,
        node_id: str,
        child: identifier_pb2.WorkflowExecutionIdentifier,
    ) -> None:
        """Record the child execution a launch-plan node launched (``workflow_node_metadata``; flytekit and
        the console follow it). The node must exist."""
        row = self.store.get_node(exec_id.project, exec_id.domain, exec_id.name, node_id)
        if row is None:
            raise NotFound(f"node execution [{node_id}] of [{exec_str(exec_id)}] does not exist")
        record = node_execution_pb2.NodeExecution.FromString(row.record)
        record.closure.workflow_node_metadata.executionId.CopyFrom(child)  # camelCase in the proto
        self._put_node(exec_id, node_id, row.parent_id, row.created_at, row.updated_at, row.phase, record)

    def dynamic_workflow_path(
        self, exec_id: identifier_pb2.WorkflowExecutionIdentifier, node_id: str
    ) -> Path:
        return self.metadata_dir(exec_id) / "nodes" / node_id / "dynamic_workflow"

    def set_dynamic_workflow(
        self,
        exec_id: identifier_pb2.WorkflowExecutionIdentifier,
        node_id: str,
        compiled: compiler_pb2.CompiledWorkflowClosure,
        dynamic_job_spec_uri: str = "",
    ) -> None:
        """Record the workflow a dynamic node generated (GetNodeExecutionData's ``dynamic_workflow``; flytekit
        syncs the node's children through it). The node must exist; it becomes ``is_dynamic``."""
        row = self.store.get_node(exec_id.project, exec_id.domain, exec_id.name, node_id)
        if row is None:
            raise NotFound(f"node execution [{node_id}] of [{exec_str(exec_id)}] does not exist")
        meta = node_execution_pb2.DynamicWorkflowNodeMetadata(
            id=compiled.primary.template.id,
            compiled_workflow=compiled,
            dynamic_job_spec_uri=dynamic_job_spec_uri,
        )
        write_atomic(self.dynamic_workflow_path(exec_id, node_id), meta.SerializeToString(deterministic=True))
        record = node_execution_pb2.NodeExecution.FromString(row.record)
        record.metadata.is_dynamic = True
        record.metadata.is_parent_node = True
        if dynamic_job_spec_uri:
            record.closure.dynamic_job_spec_uri = dynamic_job_spec_uri
        self._put_node(exec_id, node_id, row.parent_id, row.created_at, row.updated_at, row.phase, record)

    def dynamic_workflow(
        self, ident: identifier_pb2.NodeExecutionIdentifier
    ) -> node_execution_pb2.DynamicWorkflowNodeMetadata | None:
        path = self.dynamic_workflow_path(ident.execution_id, ident.node_id)
        try:
            return node_execution_pb2.DynamicWorkflowNodeMetadata.FromString(path.read_bytes())
        except FileNotFoundError:
            return None

    def _put_node(
        self,
        exec_id: identifier_pb2.WorkflowExecutionIdentifier,
        node_id: str,
        parent_id: str,
        created: float,
        now: float,
        phase: int,
        record: node_execution_pb2.NodeExecution,
    ) -> None:
        data = record.SerializeToString(deterministic=True)
        row = NodeRow(
            0, exec_id.project, exec_id.domain, exec_id.name, node_id, parent_id, created, now, phase, data
        )
        self.store.put_node(row)

    def get_node(self, ident: identifier_pb2.NodeExecutionIdentifier) -> node_execution_pb2.NodeExecution:
        e = ident.execution_id
        row = self.store.get_node(e.project, e.domain, e.name, ident.node_id)
        if row is None:
            raise NotFound(f"node execution [{ident.node_id}] of [{exec_str(e)}] does not exist")
        return self._node_from_row(row)

    def list_nodes(
        self, exec_id: identifier_pb2.WorkflowExecutionIdentifier, parent_id: str, page: Page
    ) -> list[node_execution_pb2.NodeExecution]:
        self._row(exec_id)
        rows = self.store.list_nodes(exec_id.project, exec_id.domain, exec_id.name, parent_id, page)
        return [self._node_from_row(r) for r in rows]

    def _node_from_row(self, row: NodeRow) -> node_execution_pb2.NodeExecution:
        record = node_execution_pb2.NodeExecution.FromString(row.record)
        if not record.metadata.is_parent_node and self.store.has_child_nodes(
            row.project, row.domain, row.execution, row.node_id
        ):
            record.metadata.is_parent_node = True
        return record

    # --- task executions ---------------------------------------------------------------------------------

    def start_task_attempt(
        self,
        exec_id: identifier_pb2.WorkflowExecutionIdentifier,
        node_id: str,
        task_id: identifier_pb2.Identifier,
        retry_attempt: int,
        *,
        phase: int = TaskPhase.RUNNING,
        input_uri: str = "",
        logs: Sequence[core_execution_pb2.TaskLog] = (),
        task_type: str = "",
        occurred_at: float | None = None,
    ) -> task_execution_pb2.TaskExecution:
        """Create attempt ``retry_attempt`` of the task of node ``node_id`` (the node must exist)."""
        if self.store.get_node(exec_id.project, exec_id.domain, exec_id.name, node_id) is None:
            raise NotFound(f"node execution [{node_id}] of [{exec_str(exec_id)}] does not exist")
        now = time.time() if occurred_at is None else occurred_at
        record = task_execution_pb2.TaskExecution(
            id=identifier_pb2.TaskExecutionIdentifier(
                task_id=task_id,
                node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                    node_id=node_id, execution_id=exec_id
                ),
                retry_attempt=retry_attempt,
            ),
            input_uri=input_uri,
        )
        closure = record.closure
        closure.phase = phase
        closure.created_at.CopyFrom(ts(now))
        closure.updated_at.CopyFrom(ts(now))
        if phase == TaskPhase.RUNNING:
            closure.started_at.CopyFrom(ts(now))
        closure.logs.extend(logs)
        closure.task_type = task_type
        closure.event_version = TASK_EVENT_VERSION
        closure.metadata.generated_name = f"{exec_id.name}-{node_id}-{retry_attempt}"
        self._put_task(exec_id, node_id, retry_attempt, now, now, phase, record)
        return record

    def finish_task_attempt(
        self,
        exec_id: identifier_pb2.WorkflowExecutionIdentifier,
        node_id: str,
        retry_attempt: int,
        phase: int,
        *,
        output_uri: str = "",
        error: core_execution_pb2.ExecutionError | None = None,
        logs: Sequence[core_execution_pb2.TaskLog] = (),
        reason: str = "",
        external_resources: Sequence[event_pb2.ExternalResourceInfo] = (),
        occurred_at: float | None = None,
    ) -> task_execution_pb2.TaskExecution:
        """Move an attempt to ``phase`` (RUNNING once started, then terminal); new ``logs`` are merged;
        ``external_resources`` (the per-index sub-tasks of a map task / ArrayNode) replace earlier ones."""
        row = self.store.get_task(exec_id.project, exec_id.domain, exec_id.name, node_id, retry_attempt)
        if row is None:
            raise NotFound(
                f"task execution [{node_id}] attempt {retry_attempt} of [{exec_str(exec_id)}] does not exist"
            )
        now = time.time() if occurred_at is None else occurred_at
        record = task_execution_pb2.TaskExecution.FromString(row.record)
        closure = record.closure
        if closure.phase in TASK_TERMINAL:
            raise FailedPrecondition(
                f"task execution [{node_id}] attempt {retry_attempt} of [{exec_str(exec_id)}] is already in "
                f"the terminal phase {TaskPhase.Phase.Name(closure.phase)}"
            )
        closure.phase = phase
        closure.updated_at.CopyFrom(ts(now))
        if phase == TaskPhase.RUNNING and not closure.HasField("started_at"):
            closure.started_at.CopyFrom(ts(now))
        if phase in TASK_TERMINAL:
            start = closure.started_at if closure.HasField("started_at") else closure.created_at
            closure.duration.CopyFrom(duration(start, now))
        known = {(log.name, log.uri) for log in closure.logs}
        closure.logs.extend(log for log in logs if (log.name, log.uri) not in known)
        if output_uri:
            closure.output_uri = output_uri
        if error is not None:
            closure.error.CopyFrom(error)
        if external_resources:
            del closure.metadata.external_resources[:]
            closure.metadata.external_resources.extend(external_resources)
        if reason:
            closure.reason = reason
            closure.reasons.add(occurred_at=ts(now), message=reason)
        self._put_task(exec_id, node_id, retry_attempt, row.created_at, now, phase, record)
        return record

    def _put_task(
        self,
        exec_id: identifier_pb2.WorkflowExecutionIdentifier,
        node_id: str,
        attempt: int,
        created: float,
        now: float,
        phase: int,
        record: task_execution_pb2.TaskExecution,
    ) -> None:
        data = record.SerializeToString(deterministic=True)
        row = TaskRow(
            0, exec_id.project, exec_id.domain, exec_id.name, node_id, attempt, created, now, phase, data
        )
        self.store.put_task(row)

    def get_task_attempt(
        self, ident: identifier_pb2.TaskExecutionIdentifier
    ) -> task_execution_pb2.TaskExecution:
        n = ident.node_execution_id
        e = n.execution_id
        row = self.store.get_task(e.project, e.domain, e.name, n.node_id, ident.retry_attempt)
        if row is None:
            attempt = ident.retry_attempt
            raise NotFound(
                f"task execution [{n.node_id}] attempt {attempt} of [{exec_str(e)}] does not exist"
            )
        return task_execution_pb2.TaskExecution.FromString(row.record)

    def list_task_attempts(
        self, node: identifier_pb2.NodeExecutionIdentifier, page: Page
    ) -> list[task_execution_pb2.TaskExecution]:
        e = node.execution_id
        rows = self.store.list_tasks(e.project, e.domain, e.name, node.node_id, page)
        return [task_execution_pb2.TaskExecution.FromString(r.record) for r in rows]


def task_id_of(spec: execution_pb2.ExecutionSpec) -> tuple[str, str]:
    """(name, version) of the task of a single-task execution, else empty."""
    if spec.launch_plan.resource_type == identifier_pb2.TASK:
        return spec.launch_plan.name, spec.launch_plan.version
    return "", ""


def execution_from_row(row: ExecutionRow) -> execution_pb2.Execution:
    return execution_pb2.Execution(
        id=identifier_pb2.WorkflowExecutionIdentifier(project=row.project, domain=row.domain, name=row.name),
        spec=execution_pb2.ExecutionSpec.FromString(row.spec),
        closure=execution_pb2.ExecutionClosure.FromString(row.closure),
    )
