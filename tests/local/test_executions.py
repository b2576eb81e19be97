"""Execution, node execution and task execution RPCs over real gRPC, on specs from real `pyflyte package`."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import test_admin_entities as entities
from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import catalog_pb2 as core_catalog_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2, metrics_pb2
from flyteidl.event import event_pb2
from flyteidl.service import admin_pb2_grpc
from test_admin_entities import DOMAIN, PROJECT, code_of, lp_id, register, task_id

from flyte_ls.local.admin import AdminServicer
from flyte_ls.local.errors import AlreadyExists, FailedPrecondition
from flyte_ls.local.executions import flytegen
from flyte_ls.local.executions.inputs import child_execution_name, fnv1a_64
from flyte_ls.local.executions.records import ExecutionRecords, NodePhase, TaskPhase, WorkflowPhase
from flyte_ls.local.store import LAUNCH_PLAN, WORKFLOW, Page, Store

pytestmark = pytest.mark.timeout(60)

package = entities.package  # the module-scoped `pyflyte package` fixture
Package = list[tuple[str, bytes]]
NAME_RE = re.compile(r"^a[bcdfghjklmnpqrstvwxz2456789]{19}$")


@dataclass
class Backend(entities.Backend):
    servicer: AdminServicer


def start_backend(state_dir: Path) -> Backend:
    """The AdminServicer (with its default NullExecutor) on a temp Store, served by a real gRPC server."""
    store = Store(state_dir)
    servicer = AdminServicer(store)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    admin_pb2_grpc.add_AdminServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return Backend(store, server, admin_pb2_grpc.AdminServiceStub(channel), channel, port, servicer)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    b = start_backend(tmp_path / "state")
    yield b
    b.stop()


@pytest.fixture
def registered(backend: Backend, package: Package) -> Backend:
    register(backend.stub, package, "v1")
    return backend


def ints(**values: int) -> literals_pb2.LiteralMap:
    out = literals_pb2.LiteralMap()
    for k, v in values.items():
        out.literals[k].scalar.primitive.integer = v
    return out


def strs(**values: str) -> literals_pb2.LiteralMap:
    out = literals_pb2.LiteralMap()
    for k, v in values.items():
        out.literals[k].scalar.primitive.string_value = v
    return out


def values(lm: literals_pb2.LiteralMap) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, lit in lm.literals.items():
        prim = lit.scalar.primitive
        out[k] = getattr(prim, prim.WhichOneof("value"))  # type: ignore[arg-type]
    return out


def create(
    b: Backend,
    launch: identifier_pb2.Identifier,
    inputs: literals_pb2.LiteralMap | None = None,
    name: str = "",
    project: str = PROJECT,
) -> identifier_pb2.WorkflowExecutionIdentifier:
    request = execution_pb2.ExecutionCreateRequest(
        project=project,
        domain=DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=launch),
        inputs=inputs or literals_pb2.LiteralMap(),
    )
    return b.stub.CreateExecution(request, timeout=10).id


def get(b: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier) -> execution_pb2.Execution:
    return b.stub.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident), timeout=10)


def data(
    b: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier
) -> execution_pb2.WorkflowExecutionGetDataResponse:
    return b.stub.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=ident), timeout=10)


def exec_id(name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)


# --- CreateExecution --------------------------------------------------------------------------------


@pytest.mark.flytekit
def test_launch_plan_execution_defaults_and_data(registered: Backend, tmp_path: Path) -> None:
    b = registered
    ident = create(b, lp_id("prepare_small", "v1"))
    assert NAME_RE.match(ident.name), ident.name
    assert (ident.project, ident.domain) == (PROJECT, DOMAIN)

    execution = get(b, ident)
    assert execution.id == ident
    assert execution.closure.phase == WorkflowPhase.QUEUED
    assert execution.closure.workflow_id.name == "workflows.pipeline.prepare"
    assert execution.closure.workflow_id.version == "v1"
    assert execution.spec.launch_plan == lp_id("prepare_small", "v1")
    assert execution.spec.max_parallelism == 25
    assert execution.closure.created_at.seconds > 0

    got = data(b, ident)
    # the LP default n=5 and the workflow default threshold=0.05 are filled in by the server
    assert values(got.full_inputs) == {"n": 5, "threshold": 0.05}
    inputs_file = tmp_path / "state" / "metadata" / PROJECT / DOMAIN / ident.name / "inputs"
    assert got.inputs.url == str(inputs_file.resolve()) and got.inputs.bytes == inputs_file.stat().st_size
    assert literals_pb2.LiteralMap.FromString(inputs_file.read_bytes()) == got.full_inputs
    assert not got.full_outputs.literals and got.outputs.bytes == 0

    given = create(b, lp_id("prepare_small", "v1"), ints(n=9), name="given-n")
    assert given.name == "given-n"
    assert values(data(b, given).full_inputs)["n"] == 9

    # fixed inputs are added and the LP's max_parallelism is kept
    nightly = create(b, lp_id("training_pipeline_nightly", "v1"))
    assert values(data(b, nightly).full_inputs) == {"n": 200, "ratio": 0.8, "label": "nightly"}
    assert get(b, nightly).spec.max_parallelism == 4


@pytest.mark.flytekit
def test_create_errors(registered: Backend) -> None:
    b = registered
    nightly = lp_id("training_pipeline_nightly", "v1")
    code, msg = code_of(lambda: create(b, nightly, strs(label="x")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "label" in msg and "fixed" in msg
    code, msg = code_of(lambda: create(b, nightly, ints(bogus=1)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "invalid input bogus" in msg
    is_large = task_id("workflows.pipeline.is_large", "v1")
    code, msg = code_of(lambda: create(b, is_large, ints(count=3)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "expected_inputs minimum missing" in msg

    code, msg = code_of(lambda: create(b, nightly, strs(n="many")))
    assert (
        code == grpc.StatusCode.INVALID_ARGUMENT and "invalid n input wrong type" in msg and "INTEGER" in msg
    )
    clean = task_id("workflows.tasks.clean", "v1")
    not_a_list = ints(values=1)
    not_a_list.literals["threshold"].scalar.primitive.float_value = 0.1
    code, msg = code_of(lambda: create(b, clean, not_a_list))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "expected a collection" in msg
    wrong_item = literals_pb2.LiteralMap()
    wrong_item.literals["values"].collection.literals.add().scalar.primitive.string_value = "x"
    wrong_item.literals["threshold"].scalar.primitive.float_value = 0.1
    code, msg = code_of(lambda: create(b, clean, wrong_item))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "item 0: expected FLOAT" in msg
    good = literals_pb2.LiteralMap()
    good.literals["values"].collection.literals.add().scalar.primitive.float_value = 0.5
    good.literals["threshold"].scalar.primitive.float_value = 0.1
    create(b, clean, good, name="good-types")

    create(b, nightly, name="dup")
    code, msg = code_of(lambda: create(b, nightly, name="dup"))
    assert code == grpc.StatusCode.ALREADY_EXISTS and "dup" in msg
    for bad in ("Upper", "1abc", "a_b", "a" * 64):
        code, msg = code_of(lambda bad=bad: create(b, nightly, name=bad))  # type: ignore[misc]
        assert code == grpc.StatusCode.INVALID_ARGUMENT, bad
    code, msg = code_of(lambda: create(b, nightly, project="nope"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "nope" in msg
    code, msg = code_of(lambda: create(b, lp_id("no_such_lp", "v1")))
    assert code == grpc.StatusCode.NOT_FOUND and "no_such_lp" in msg
    wf = entities.wf_id("workflows.pipeline.prepare", "v1")
    code, msg = code_of(lambda: create(b, wf))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "WORKFLOW" in msg
    # nothing was stored by the failed requests
    listed = b.stub.ListExecutions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=50
        ),
        timeout=10,
    )
    assert [e.id.name for e in listed.executions] == ["good-types", "dup"]


@pytest.mark.flytekit
def test_single_task_execution_through_flytegen(registered: Backend) -> None:
    b = registered
    load = task_id("workflows.tasks.load_data", "v1")
    first = create(b, load, ints(n=3, seed=1))
    second = create(b, load, ints(n=4, seed=2))  # the hidden entities are created once, then reused
    execution = get(b, first)
    assert execution.spec.launch_plan == load  # flytekit relies on the TASK id staying there
    gen = ".flytegen.workflows.tasks.load_data"
    assert execution.closure.workflow_id == entities.wf_id(gen, "v1")
    assert get(b, second).closure.workflow_id == execution.closure.workflow_id
    assert values(data(b, first).full_inputs) == {"n": 3, "seed": 1}

    wf = b.stub.GetWorkflow(common_pb2.ObjectGetRequest(id=entities.wf_id(gen, "v1")), timeout=10)
    template = wf.closure.compiled_workflow.primary.template
    assert sorted(n.id for n in template.nodes) == ["end-node", "start-node", "workflowstasksloaddata"]
    node = next(n for n in template.nodes if n.id == "workflowstasksloaddata")
    assert node.task_node.reference_id == load
    assert node.metadata.retries.retries == 2  # the task's retries
    assert sorted(template.interface.inputs.variables) == ["n", "seed"]
    assert [o.var for o in template.outputs] == ["o0"]
    lp = b.stub.GetLaunchPlan(common_pb2.ObjectGetRequest(id=lp_id(gen, "v1")), timeout=10)
    assert lp.spec.workflow_id == wf.id
    for resource_type in (WORKFLOW, LAUNCH_PLAN):
        named = b.store.get_named_entity(resource_type, PROJECT, DOMAIN, gen)
        assert named is not None and named.state == 2  # SYSTEM_GENERATED

    # flytekit always sends a (possibly empty) retry strategy: it is kept as is; only a template without one
    # gets Admin's default of 3
    create(b, task_id("workflows.pipeline.warn", "v1"), strs(message="hi"))
    wf2 = b.stub.GetWorkflow(
        common_pb2.ObjectGetRequest(id=entities.wf_id(".flytegen.workflows.pipeline.warn", "v1")), timeout=10
    )
    (warn,) = [
        n for n in wf2.closure.compiled_workflow.primary.template.nodes if n.task_node.reference_id.name
    ]
    assert warn.metadata.HasField("retries") and warn.metadata.retries.retries == 0
    template = b.servicer.get_task_template(task_id("workflows.pipeline.warn", "v1"))
    assert template is not None
    template.metadata.ClearField("retries")
    (bare,) = flytegen.workflow_request(template).spec.template.nodes
    assert bare.metadata.retries.retries == 3


# --- list, terminate, relaunch ----------------------------------------------------------------------


@pytest.mark.flytekit
def test_list_executions(registered: Backend) -> None:
    b = registered
    names = ["e1", "e2", "e3"]
    for name in names:
        create(b, lp_id("prepare_small", "v1"), name=name)
    named = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN)
    newest_first = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING)
    page1 = b.stub.ListExecutions(
        common_pb2.ResourceListRequest(id=named, limit=2, sort_by=newest_first), timeout=10
    )
    assert [e.id.name for e in page1.executions] == ["e3", "e2"] and page1.token
    page2 = b.stub.ListExecutions(
        common_pb2.ResourceListRequest(id=named, limit=2, sort_by=newest_first, token=page1.token), timeout=10
    )
    assert [e.id.name for e in page2.executions] == ["e1"] and not page2.token

    b.stub.TerminateExecution(
        execution_pb2.ExecutionTerminateRequest(id=exec_id("e2"), cause="stop"), timeout=10
    )
    queued = b.stub.ListExecutions(
        common_pb2.ResourceListRequest(id=named, limit=10, filters="eq(execution.phase,QUEUED)"), timeout=10
    )
    assert [e.id.name for e in queued.executions] == ["e1", "e3"]
    picked = b.stub.ListExecutions(
        common_pb2.ResourceListRequest(id=named, limit=10, filters="value_in(name,e1;e2)+neq(phase,QUEUED)"),
        timeout=10,
    )
    assert [e.id.name for e in picked.executions] == ["e2"]
    create(b, lp_id("training_pipeline_nightly", "v1"), name="e4")
    create(b, task_id("workflows.pipeline.warn", "v1"), strs(message="m"), name="e5")

    def names_for(filters: str) -> list[str]:
        request = common_pb2.ResourceListRequest(id=named, limit=10, filters=filters)
        return [e.id.name for e in b.stub.ListExecutions(request, timeout=10).executions]

    assert names_for("eq(launch_plan.name,prepare_small)") == ["e1", "e2", "e3"]
    assert names_for("eq(workflow.name,workflows.pipeline.training_pipeline)+eq(workflow.version,v1)") == [
        "e4"
    ]
    assert names_for("eq(task.name,workflows.pipeline.warn)") == ["e5"]
    assert names_for("eq(launch_plan.name,.flytegen.workflows.pipeline.warn)") == ["e5"]
    assert names_for("eq(task.name,workflows.tasks.clean)") == []

    # archived executions are listed only when a state filter asks for them, as Admin does
    archive = execution_pb2.ExecutionUpdateRequest(id=exec_id("e1"), state=execution_pb2.EXECUTION_ARCHIVED)
    b.stub.UpdateExecution(archive, timeout=10)
    assert names_for("") == ["e2", "e3", "e4", "e5"]
    assert names_for("eq(launch_plan.name,prepare_small)") == ["e2", "e3"]
    assert names_for("eq(execution.state,ARCHIVED)") == ["e1"]
    assert len(names_for("value_in(state,0;1)")) == 5
    archived = get(b, exec_id("e1"))
    assert archived.closure.state_change_details.state == execution_pb2.EXECUTION_ARCHIVED
    assert archived.closure.phase == WorkflowPhase.QUEUED
    code, _ = code_of(
        lambda: b.stub.UpdateExecution(execution_pb2.ExecutionUpdateRequest(id=exec_id("zz"), state=1))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    code, msg = code_of(
        lambda: b.stub.ListExecutions(
            common_pb2.ResourceListRequest(id=named, limit=10, filters="eq(bogus,1)")
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "bogus" in msg


class RecordingExecutor:
    """An Executor that records calls and, on terminate, aborts open nodes as a real executor would."""

    def __init__(self, records: ExecutionRecords, fail_submit: bool = False) -> None:
        self.records = records
        self.fail_submit = fail_submit
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def submit(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier) -> None:
        with self.lock:
            self.calls.append(("submit", execution_id.name))
        if self.fail_submit:
            raise RuntimeError("no worker slots")
        self.records.set_execution_phase(execution_id, WorkflowPhase.RUNNING)
        self.records.start_node(execution_id, "n0")

    def terminate(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, cause: str) -> None:
        with self.lock:
            self.calls.append(("terminate", cause))
        assert self.records.get_execution(execution_id).closure.phase == WorkflowPhase.ABORTING
        self.records.finish_node(execution_id, "n0", NodePhase.ABORTED)


@pytest.mark.flytekit
def test_terminate_and_executor_protocol(registered: Backend) -> None:
    b = registered
    servicer_executor = RecordingExecutor(ExecutionRecords(b.store))
    b.servicer.executor = servicer_executor
    ident = create(b, lp_id("prepare_small", "v1"), name="run1")
    running = get(b, ident)
    assert running.closure.phase == WorkflowPhase.RUNNING and running.closure.started_at.seconds > 0

    b.stub.TerminateExecution(
        execution_pb2.ExecutionTerminateRequest(id=ident, cause="user asked"), timeout=10
    )
    assert servicer_executor.calls == [("submit", "run1"), ("terminate", "user asked")]
    aborted = get(b, ident)
    assert aborted.closure.phase == WorkflowPhase.ABORTED
    assert aborted.closure.abort_metadata.cause == "user asked"
    assert aborted.closure.duration.ToNanoseconds() >= 0
    node = b.stub.GetNodeExecution(
        node_execution_pb2.NodeExecutionGetRequest(
            id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=ident)
        ),
        timeout=10,
    )
    assert node.closure.phase == NodePhase.ABORTED

    code, msg = code_of(
        lambda: b.stub.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=ident, cause="again"))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "ABORTED" in msg
    code, _ = code_of(
        lambda: b.stub.TerminateExecution(
            execution_pb2.ExecutionTerminateRequest(id=exec_id("missing"), cause="x")
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND

    # an executor failing to terminate still leaves the execution ABORTED, never ABORTING forever
    class BrokenTerminate(RecordingExecutor):
        def terminate(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, cause: str) -> None:
            raise RuntimeError("kill failed")

    b.servicer.executor = BrokenTerminate(ExecutionRecords(b.store))
    stuck = create(b, lp_id("prepare_small", "v1"), name="stuck")
    b.stub.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=stuck, cause="stop"), timeout=10)
    assert get(b, stuck).closure.phase == WorkflowPhase.ABORTED

    # a launch the executor refuses is stored as FAILED, as Admin stores a failed launch
    b.servicer.executor = RecordingExecutor(ExecutionRecords(b.store), fail_submit=True)
    failed = get(b, create(b, lp_id("prepare_small", "v1"), name="run2"))
    assert failed.closure.phase == WorkflowPhase.FAILED
    assert "no worker slots" in failed.closure.error.message
    assert failed.closure.error.kind == core_execution_pb2.ExecutionError.SYSTEM


@pytest.mark.flytekit
def test_relaunch_and_recover(registered: Backend) -> None:
    b = registered
    nightly = create(b, lp_id("training_pipeline_nightly", "v1"), ints(n=7), name="orig")
    new = b.stub.RelaunchExecution(
        execution_pb2.ExecutionRelaunchRequest(id=nightly, name="again"), timeout=10
    ).id
    assert new.name == "again"
    relaunched = get(b, new)
    assert relaunched.spec.metadata.mode == execution_pb2.ExecutionMetadata.RELAUNCH
    assert relaunched.spec.metadata.reference_execution == nightly
    assert data(b, new).full_inputs == data(b, nightly).full_inputs
    generated = b.stub.RelaunchExecution(execution_pb2.ExecutionRelaunchRequest(id=nightly), timeout=10).id
    assert NAME_RE.match(generated.name)
    single = create(b, task_id("workflows.pipeline.is_large", "v1"), ints(count=3, minimum=2), name="single")
    again = b.stub.RelaunchExecution(execution_pb2.ExecutionRelaunchRequest(id=single), timeout=10).id
    assert get(b, again).spec.launch_plan == task_id("workflows.pipeline.is_large", "v1")
    assert values(data(b, again).full_inputs) == {"count": 3, "minimum": 2}
    recovered = b.stub.RecoverExecution(
        execution_pb2.ExecutionRecoverRequest(id=nightly, name="recovered"), timeout=10
    ).id
    assert recovered.name == "recovered"
    spec = get(b, recovered).spec
    assert spec.metadata.mode == execution_pb2.ExecutionMetadata.RECOVERED
    assert spec.metadata.reference_execution == nightly
    assert data(b, recovered).full_inputs == data(b, nightly).full_inputs
    code, _ = code_of(
        lambda: b.stub.RecoverExecution(execution_pb2.ExecutionRecoverRequest(id=nightly, name="recovered"))
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS
    code, _ = code_of(
        lambda: b.stub.RecoverExecution(execution_pb2.ExecutionRecoverRequest(id=exec_id("nope")))
    )
    assert code == grpc.StatusCode.NOT_FOUND


@pytest.mark.flytekit
def test_concurrent_creates_of_one_name(registered: Backend, tmp_path: Path) -> None:
    b = registered
    results: dict[int, str] = {}

    def attempt(n: int) -> None:
        try:
            create(b, lp_id("prepare_small", "v1"), ints(n=n), name="race")
            results[n] = "created"
        except grpc.RpcError as err:
            results[n] = err.code().name  # type: ignore[attr-defined]

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [n for n, r in results.items() if r == "created"]
    assert len(winners) == 1 and sorted(set(results.values())) == ["ALREADY_EXISTS", "created"]
    assert values(data(b, exec_id("race")).full_inputs)["n"] == winners[0]
    leftovers = list((tmp_path / "state" / "metadata").rglob("*.tmp"))
    assert leftovers == []


# --- node and task execution records ---------------------------------------------------------------


def write_map(path: Path, lm: literals_pb2.LiteralMap) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lm.SerializeToString())
    return str(path)


def record_run(b: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier, work: Path) -> None:
    """What an executor writes for: start-node, n0 (a task failing once, then succeeding), n1 (a parent
    with two children), end-node."""
    rec = ExecutionRecords(b.store)
    rec.set_execution_phase(ident, WorkflowPhase.RUNNING)
    rec.start_node(ident, "start-node", phase=NodePhase.SUCCEEDED)
    n0_in = write_map(work / "n0" / "inputs.pb", ints(n=5))
    rec.start_node(ident, "n0", input_uri=n0_in)
    task = task_id("workflows.tasks.load_data", "v1")
    log = core_execution_pb2.TaskLog(uri=str(work / "n0-0.log"), name="local log")
    rec.start_task_attempt(ident, "n0", task, 0, input_uri=n0_in, logs=[log], task_type="python-task")
    error = core_execution_pb2.ExecutionError(code="USER:Boom", message="boom", kind=1)
    rec.finish_task_attempt(ident, "n0", 0, TaskPhase.FAILED, error=error, reason="retrying")
    rec.start_task_attempt(ident, "n0", task, 1, input_uri=n0_in)
    out = write_map(work / "n0" / "outputs.pb", ints(o0=25))
    subtask = event_pb2.ExternalResourceInfo(external_id="sub-0", index=0, phase=TaskPhase.SUCCEEDED)
    rec.finish_task_attempt(ident, "n0", 1, TaskPhase.SUCCEEDED, output_uri=out, external_resources=[subtask])
    cache = node_execution_pb2.TaskNodeMetadata(cache_status=core_catalog_pb2.CACHE_POPULATED)
    rec.finish_node(ident, "n0", NodePhase.SUCCEEDED, output_uri=out, task_node_metadata=cache)
    rec.start_node(ident, "n1", is_dynamic=True)
    for child in ("n1-0-n0", "n1-0-n1"):
        rec.start_node(ident, child, parent_node_id="n1", spec_node_id=child.rsplit("-", 1)[1])
        rec.finish_node(ident, child, NodePhase.SUCCEEDED)
    rec.set_dynamic_workflow(ident, "n1", rec.compiled_workflow(ident), str(work / "n1" / "futures.pb"))
    rec.finish_node(ident, "n1", NodePhase.SUCCEEDED)
    rec.start_node(ident, "end-node", phase=NodePhase.SUCCEEDED)
    rec.set_execution_phase(ident, WorkflowPhase.SUCCEEDED, outputs_uri=out)


def node_ident(
    ident: identifier_pb2.WorkflowExecutionIdentifier, node: str
) -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=ident)


def check_records(b: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier, *extra: str) -> None:
    done = get(b, ident)
    assert done.closure.phase == WorkflowPhase.SUCCEEDED
    assert done.closure.started_at.seconds > 0 and done.closure.duration.ToNanoseconds() >= 0
    assert values(data(b, ident).full_outputs) == {"o0": 25}

    asc = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING)
    top = b.stub.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=ident, limit=100, sort_by=asc),
        timeout=10,
    )
    assert [n.id.node_id for n in top.node_executions] == ["start-node", "n0", "n1", "end-node", *extra]
    n1 = next(n for n in top.node_executions if n.id.node_id == "n1")
    assert n1.metadata.is_parent_node and n1.metadata.is_dynamic
    assert n1.closure.dynamic_job_spec_uri.endswith("futures.pb")
    n1_data = b.stub.GetNodeExecutionData(
        node_execution_pb2.NodeExecutionGetDataRequest(id=node_ident(ident, "n1")), timeout=10
    )
    dynamic = n1_data.dynamic_workflow
    assert dynamic.id.name == "workflows.pipeline.prepare" and dynamic.dynamic_job_spec_uri.endswith(
        "futures.pb"
    )
    assert {n.id for n in dynamic.compiled_workflow.primary.template.nodes} >= {"start-node", "end-node"}
    children = b.stub.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=ident, limit=100, sort_by=asc, unique_parent_id="n1"
        ),
        timeout=10,
    )
    assert [(n.id.node_id, n.metadata.spec_node_id) for n in children.node_executions] == [
        ("n1-0-n0", "n0"),
        ("n1-0-n1", "n1"),
    ]
    paged = b.stub.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=ident, limit=3, filters="eq(phase,SUCCEEDED)"
        ),
        timeout=10,
    )
    assert len(paged.node_executions) == 3 and paged.token == "3"

    n0 = b.stub.GetNodeExecution(
        node_execution_pb2.NodeExecutionGetRequest(id=node_ident(ident, "n0")), timeout=10
    )
    assert n0.closure.phase == NodePhase.SUCCEEDED and not n0.metadata.is_parent_node
    assert n0.closure.started_at.seconds > 0
    assert n0.closure.task_node_metadata.cache_status == core_catalog_pb2.CACHE_POPULATED
    n0_data = b.stub.GetNodeExecutionData(
        node_execution_pb2.NodeExecutionGetDataRequest(id=node_ident(ident, "n0")), timeout=10
    )
    assert values(n0_data.full_inputs) == {"n": 5} and values(n0_data.full_outputs) == {"o0": 25}
    assert not n0_data.HasField("dynamic_workflow")
    assert n0_data.inputs.bytes > 0 and n0_data.outputs.url == n0.closure.output_uri
    assert n0_data.flyte_urls.outputs == f"flyte://v1/{PROJECT}/{DOMAIN}/{ident.name}/n0/o"

    attempts = b.stub.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=node_ident(ident, "n0"), limit=100, sort_by=asc
        ),
        timeout=10,
    )
    assert [(t.id.retry_attempt, t.closure.phase) for t in attempts.task_executions] == [
        (0, TaskPhase.FAILED),
        (1, TaskPhase.SUCCEEDED),
    ]
    first = attempts.task_executions[0]
    assert first.closure.error.message == "boom" and first.closure.logs[0].name == "local log"
    assert first.closure.metadata.generated_name == f"{ident.name}-n0-0"
    assert first.closure.reason == "retrying" and first.closure.task_type == "python-task"
    second = b.stub.GetTaskExecution(
        task_execution_pb2.TaskExecutionGetRequest(id=attempts.task_executions[1].id), timeout=10
    )
    assert second.id.task_id.name == "workflows.tasks.load_data"
    assert [r.external_id for r in second.closure.metadata.external_resources] == ["sub-0"]
    task_data = b.stub.GetTaskExecutionData(
        task_execution_pb2.TaskExecutionGetDataRequest(id=second.id), timeout=10
    )
    assert values(task_data.full_outputs) == {"o0": 25}
    assert task_data.flyte_urls.inputs == f"flyte://v1/{PROJECT}/{DOMAIN}/{ident.name}/n0/1/i"

    code, _ = code_of(
        lambda: b.stub.GetNodeExecution(
            node_execution_pb2.NodeExecutionGetRequest(id=node_ident(ident, "zz"))
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND
    missing_attempt = task_execution_pb2.TaskExecutionGetRequest(id=second.id)
    missing_attempt.id.retry_attempt = 7
    code, _ = code_of(lambda: b.stub.GetTaskExecution(missing_attempt))
    assert code == grpc.StatusCode.NOT_FOUND


@pytest.mark.flytekit
def test_node_and_task_records_and_restart(tmp_path: Path, package: Package) -> None:
    b = start_backend(tmp_path / "state")
    try:
        register(b.stub, package, "v1")
        ident = create(b, lp_id("prepare_small", "v1"), name="recorded")
        record_run(b, ident, tmp_path / "work")
        check_records(b, ident)

        rec = ExecutionRecords(b.store)
        with pytest.raises(FailedPrecondition, match="terminal"):
            rec.set_execution_phase(ident, WorkflowPhase.RUNNING)
        with pytest.raises(FailedPrecondition, match="terminal"):
            rec.finish_node(ident, "n0", NodePhase.FAILED)
        with pytest.raises(FailedPrecondition, match="terminal"):
            rec.finish_task_attempt(ident, "n0", 1, TaskPhase.FAILED)
        rec.start_node(ident, "n9", phase=NodePhase.QUEUED)
        rec.start_node(ident, "n9")  # QUEUED -> RUNNING
        with pytest.raises(AlreadyExists):
            rec.start_node(ident, "n9")
        with pytest.raises(FailedPrecondition, match="terminal"):
            rec.start_node(ident, "n0")
        # a node that runs again in an execution resumed after a restart starts afresh
        before = rec.get_node(node_ident(ident, "n0"))
        assert before.closure.phase == NodePhase.SUCCEEDED and before.closure.output_uri
        again = rec.start_node(ident, "n0", input_uri=before.input_uri, restart=True)
        assert again.closure.phase == NodePhase.RUNNING
        assert not again.closure.output_uri and not again.closure.HasField("duration")
        rec.finish_node(
            ident,
            "n0",
            NodePhase.SUCCEEDED,
            output_uri=before.closure.output_uri,
            task_node_metadata=before.closure.task_node_metadata,
        )
        code, _ = code_of(
            lambda: b.stub.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=ident, cause="late"))
        )
        assert code == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        b.stop()

    again = start_backend(tmp_path / "state")  # a restart keeps executions, nodes, attempts and data
    try:
        check_records(again, ident, "n9")
        assert (
            again.stub.GetNodeExecution(
                node_execution_pb2.NodeExecutionGetRequest(id=node_ident(ident, "n9")), timeout=10
            ).closure.phase
            == NodePhase.RUNNING
        )
        assert ExecutionRecords(again.store).compiled_workflow(ident).primary.template.id.name == (
            "workflows.pipeline.prepare"
        )
        rec = ExecutionRecords(again.store)
        assert rec.unfinished_executions() == []
        waiting = create(again, lp_id("prepare_small", "v1"), name="waiting")
        assert rec.unfinished_executions() == [waiting]
    finally:
        again.stop()


def test_without_registration_not_found(backend: Backend) -> None:
    code, _ = code_of(lambda: get(backend, exec_id("nothing")))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = code_of(lambda: data(backend, exec_id("nothing")))
    assert code == grpc.StatusCode.NOT_FOUND
    # as Admin (the ids only filter): no nodes and no attempts for an unknown execution; an unknown parent
    # node is NOT_FOUND
    listed = backend.stub.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_id("nothing"), limit=10)
    )
    assert list(listed.node_executions) == [] and listed.token == ""
    attempts = backend.stub.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=node_ident(exec_id("nothing"), "n0"), limit=10
        )
    )
    assert list(attempts.task_executions) == []
    code, _ = code_of(
        lambda: backend.stub.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(
                workflow_execution_id=exec_id("nothing"), unique_parent_id="n0", limit=10
            )
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND
    # an unknown task for a single-task execution
    code, msg = code_of(lambda: create(backend, task_id("no.such.task", "v1")))
    assert code == grpc.StatusCode.NOT_FOUND and "no.such.task" in msg


# --- a real FlyteRemote client ----------------------------------------------------------------------

REMOTE_SCRIPT = """
import json, sys
from flytekit.configuration import Config
from flytekit.remote import FlyteRemote

remote = FlyteRemote(Config.auto(), default_project="flytesnacks", default_domain="development")
out = {}
if sys.argv[1] == "launch":
    lp = remote.fetch_launch_plan(name="prepare_small", version="v1")
    ex = remote.execute(lp, inputs={"n": 3}, execution_name="remote-lp")
    out["lp_execution"] = [ex.id.name, int(ex.closure.phase), ex.is_done]
    again = remote.execute(lp, inputs={"n": 3}, execution_name="remote-lp")  # ALREADY_EXISTS: fetched
    out["again"] = again.id.name
    generated = remote.execute(lp, inputs={})
    out["generated"] = generated.id.name
    task = remote.fetch_task(name="workflows.pipeline.is_large", version="v1")
    tex = remote.execute(task, inputs={"count": 3, "minimum": 2}, execution_name="remote-task")
    out["task_launch"] = [int(tex.spec.launch_plan.resource_type), tex.spec.launch_plan.name]
    out["task_inputs"] = dict(remote.fetch_execution(name="remote-task").inputs.literals.items()) != {}
    out["recent"] = [e.id.name for e in remote.recent_executions(limit=10)]
    remote.terminate(generated, cause="not needed")
    out["terminated"] = remote.fetch_execution(name=generated.id.name).closure.abort_metadata.cause
else:
    ex = remote.fetch_execution(name="remote-lp")
    ex = remote.sync_execution(ex, sync_nodes=True)
    out["done"] = ex.is_done
    out["outputs"] = ex.outputs["o0"]
    out["inputs_n"] = ex.inputs["n"]
    out["nodes"] = sorted(ex.node_executions)
    n0 = ex.node_executions["n0"]
    out["attempts"] = len(n0.task_executions)
    out["n0_outputs"] = n0.outputs["o0"]
    span = remote.get_execution_metrics(id=ex.id, depth=10).to_flyte_idl()
    out["metrics"] = [s.operation_id or s.node_id.node_id for s in span.spans]
print(json.dumps(out))
"""


def floats(*xs: float) -> literals_pb2.LiteralMap:
    out = literals_pb2.LiteralMap()
    coll = out.literals["o0"].collection
    for x in xs:
        coll.literals.add().scalar.primitive.float_value = x
    return out


def record_prepare_run(b: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier, work: Path) -> None:
    """What an executor writes for a finished `prepare` workflow (n0 = load_data, n1 = clean)."""
    rec = ExecutionRecords(b.store)
    rec.set_execution_phase(ident, WorkflowPhase.RUNNING)
    inputs = str(rec.inputs_path(ident))
    rec.start_node(ident, "start-node", phase=NodePhase.SUCCEEDED)
    tasks = {"n0": "workflows.tasks.load_data", "n1": "workflows.tasks.clean"}
    for node, task in tasks.items():
        out = write_map(work / node / "outputs.pb", floats(0.5, 0.75) if node == "n0" else floats(0.75))
        rec.start_node(ident, node, input_uri=inputs)
        rec.start_task_attempt(ident, node, task_id(task, "v1"), 0, input_uri=inputs)
        rec.finish_task_attempt(ident, node, 0, TaskPhase.SUCCEEDED, output_uri=out)
        rec.finish_node(ident, node, NodePhase.SUCCEEDED, output_uri=out)
    rec.start_node(ident, "end-node", phase=NodePhase.SUCCEEDED)
    rec.set_execution_phase(ident, WorkflowPhase.SUCCEEDED, outputs_uri=str(work / "n1" / "outputs.pb"))


def run_remote(b: Backend, tmp_path: Path, phase: str) -> dict[str, object]:
    env = {
        **os.environ,
        "FLYTE_PLATFORM_URL": f"127.0.0.1:{b.port}",
        "FLYTE_PLATFORM_INSECURE": "True",
        "FLYTECTL_CONFIG": str(tmp_path / "none.yaml"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", REMOTE_SCRIPT, phase],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.flytekit
@pytest.mark.timeout(200)
def test_flyteremote_execute_fetch_sync_terminate(tmp_path: Path, package: Package) -> None:
    b = start_backend(tmp_path / "state")
    try:
        register(b.stub, package, "v1")
        out = run_remote(b, tmp_path, "launch")
        assert out["lp_execution"] == ["remote-lp", WorkflowPhase.QUEUED, False]
        assert out["again"] == "remote-lp"
        generated = out["generated"]
        assert isinstance(generated, str) and NAME_RE.match(generated)
        assert out["task_launch"] == [identifier_pb2.TASK, "workflows.pipeline.is_large"]
        flytegen_wf = get(b, exec_id("remote-task")).closure.workflow_id.name
        assert flytegen_wf == ".flytegen.workflows.pipeline.is_large"
        assert out["task_inputs"] is True
        assert out["recent"] == ["remote-task", generated, "remote-lp"]  # newest first
        assert out["terminated"] == "not needed"

        record_prepare_run(b, exec_id("remote-lp"), tmp_path / "work")
        synced = run_remote(b, tmp_path, "sync")
    finally:
        b.stop()
    assert synced["done"] is True
    assert synced["outputs"] == [0.75] and synced["inputs_n"] == 3
    assert synced["nodes"] == ["end-node", "n0", "n1", "start-node"]
    assert synced["attempts"] == 1 and synced["n0_outputs"] == [0.5, 0.75]
    assert synced["metrics"] == ["WORKFLOW_SETUP", "n0", "n1", "WORKFLOW_TEARDOWN"]


def ops(span: metrics_pb2.Span) -> list[str]:
    return [s.operation_id or s.node_id.node_id or f"attempt {s.task_id.retry_attempt}" for s in span.spans]


@pytest.mark.flytekit
def test_execution_metrics(registered: Backend, tmp_path: Path) -> None:
    b = registered
    ident = create(b, lp_id("prepare_small", "v1"), name="measured")

    def metrics(depth: int) -> metrics_pb2.Span:
        request = execution_pb2.WorkflowExecutionGetMetricsRequest(id=ident, depth=depth)
        return b.stub.GetExecutionMetrics(request, timeout=10).span

    queued = metrics(10)
    assert queued.workflow_id == ident and ops(queued) == ["WORKFLOW_SETUP"]

    record_prepare_run(b, ident, tmp_path / "work")
    done = get(b, ident)
    span = metrics(10)
    assert span.start_time == done.closure.created_at and span.end_time == done.closure.updated_at
    assert ops(span) == ["WORKFLOW_SETUP", "n0", "n1", "WORKFLOW_TEARDOWN"]
    n0 = span.spans[1]
    assert n0.node_id == node_ident(ident, "n0")
    assert ops(n0) == ["NODE_TRANSITION", "NODE_SETUP", "attempt 0", "NODE_TEARDOWN"]
    assert ops(n0.spans[2]) == ["TASK_SETUP", "TASK_RUNTIME", "TASK_TEARDOWN"]
    n1 = span.spans[2]
    # n1 runs after n0: its transition starts when n0 finished
    assert n1.spans[0].start_time == n0.end_time
    for parent in (span, n0, n0.spans[2]):
        for child in parent.spans:
            assert child.start_time.ToNanoseconds() <= child.end_time.ToNanoseconds()
            if child.operation_id != "NODE_TRANSITION":  # the wait before the node was created
                assert parent.start_time.ToNanoseconds() <= child.start_time.ToNanoseconds()

    assert ops(metrics(1)) == ["WORKFLOW_SETUP", "n0", "n1", "WORKFLOW_TEARDOWN"]
    assert ops(metrics(1).spans[1]) == ["NODE_TRANSITION"]  # depth bounds the recursion
    assert ops(metrics(2).spans[1]) == ["NODE_TRANSITION", "NODE_SETUP", "NODE_TEARDOWN"]
    assert ops(metrics(0)) == []
    code, _ = code_of(
        lambda: b.stub.GetExecutionMetrics(execution_pb2.WorkflowExecutionGetMetricsRequest(id=exec_id("x")))
    )
    assert code == grpc.StatusCode.NOT_FOUND


def test_child_execution_names() -> None:
    assert fnv1a_64(b"") == 0xCBF29CE484222325 and fnv1a_64(b"a") == 0xAF63DC4C8601EC8C  # FNV test vectors
    assert child_execution_name("abc", "n0", 0) == "abc-n0-0"
    long = child_execution_name("apc7p4rst2ptbfqgsgxd", "n0", 1)
    assert re.match(r"^f[a-z1-6]{13}$", long), long
    assert long == child_execution_name("apc7p4rst2ptbfqgsgxd", "n0", 1)
    assert long != child_execution_name("apc7p4rst2ptbfqgsgxd", "n0", 2)
    # the parts are joined before hashing, so the base32 of the joined string's hash is the name
    digest = fnv1a_64(b"apc7p4rst2ptbfqgsgxd-n0-1").to_bytes(8, "big")
    expected = base64.b32encode(digest).decode().rstrip("=").lower()
    assert long == "f" + expected.translate(str.maketrans("234567", "123456"))


def test_store_adds_columns_to_an_older_executions_table(tmp_path: Path) -> None:
    """A state dir created before the filter columns existed still opens, lists and stores executions."""
    db = sqlite3.connect(tmp_path / "admin.db")
    db.executescript(
        """
        CREATE TABLE executions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, domain TEXT NOT NULL,
            name TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL, phase INTEGER NOT NULL,
            launch_plan BLOB NOT NULL, workflow BLOB NOT NULL, spec BLOB NOT NULL, closure BLOB NOT NULL,
            UNIQUE (project, domain, name)
        );
        INSERT INTO executions (project, domain, name, created_at, updated_at, phase, launch_plan, workflow,
            spec, closure) VALUES ('flytesnacks', 'development', 'old', 1, 1, 1, x'', x'', x'', x'');
        """
    )
    db.close()
    store = Store(tmp_path)
    try:
        (old,) = store.list_executions(PROJECT, DOMAIN, Page())
        assert old.name == "old" and old.workflow_name == ""
        new = dataclasses.replace(old, name="new", workflow_name="wf")
        assert store.insert_execution(new)
        where = Page(where="workflow_name = ?", params=["wf"])
        assert [r.name for r in store.list_executions(PROJECT, DOMAIN, where)] == ["new"]
    finally:
        store.close()
