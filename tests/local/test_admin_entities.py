"""AdminService entity RPCs over real gRPC, with specs serialized by real flytekit (`pyflyte package`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import common_pb2, launch_plan_pb2, project_pb2, task_pb2, version_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, types_pb2
from flyteidl.service import admin_pb2_grpc
from google.protobuf.message import Message
from google.rpc import status_pb2

from flyte_ls.local.admin import AdminServicer
from flyte_ls.local.errors import AlreadyExists, NotFound
from flyte_ls.local.store import Store

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
PROJECT, DOMAIN = "flytesnacks", "development"
PYFLYTE = Path(sys.executable).parent / "pyflyte"


@dataclass
class Backend:
    store: Store
    server: grpc.Server
    stub: admin_pb2_grpc.AdminServiceStub
    channel: grpc.Channel
    port: int

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(None).wait()
        self.store.close()


def start_backend(state_dir: Path) -> Backend:
    store = Store(state_dir)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminServicer(store), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return Backend(store, server, admin_pb2_grpc.AdminServiceStub(channel), channel, port)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    b = start_backend(tmp_path / "state")
    yield b
    b.stop()


# --- real flytekit specs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    """The example project serialized by `pyflyte package`: (kind, serialized spec) in registration order."""
    if not PYFLYTE.exists():
        pytest.skip("pyflyte is not installed in the test venv")
    work = tmp_path_factory.mktemp("pkg")
    shutil.copytree(ROOT / "examples", work / "examples")
    out = work / "out.tgz"
    subprocess.run(
        [
            str(PYFLYTE),
            "--pkgs",
            "workflows",
            "package",
            "--image",
            "ghcr.io/example/image:1",
            "-o",
            str(out),
            "-f",
        ],
        cwd=work / "examples",
        check=True,
        capture_output=True,
        timeout=60,
    )
    entries: list[tuple[str, bytes]] = []
    with tarfile.open(out) as tar:
        members = sorted((m for m in tar.getmembers() if m.name.endswith(".pb")), key=lambda m: m.name)
        for member in members:
            f = tar.extractfile(member)
            assert f is not None
            kind = {"1": "task", "2": "workflow", "3": "launch_plan"}[member.name.rsplit("_", 1)[1][0]]
            entries.append((kind, f.read()))
    return entries


def hydrate(message: Message, version: str) -> None:
    """Fill the blank project/domain/version of every identifier, as `flytectl register` does."""
    if isinstance(message, identifier_pb2.Identifier):
        message.project = message.project or PROJECT
        message.domain = message.domain or DOMAIN
        message.version = message.version or version
        return
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.is_repeated:
            items = value.values() if field.message_type.GetOptions().map_entry else value
            for item in items:
                if isinstance(item, Message):
                    hydrate(item, version)
        else:
            hydrate(value, version)


def requests(package: list[tuple[str, bytes]], version: str) -> list[Message]:
    out: list[Message] = []
    for kind, data in package:
        if kind == "task":
            spec = task_pb2.TaskSpec.FromString(data)
            hydrate(spec, version)
            out.append(task_pb2.TaskCreateRequest(id=spec.template.id, spec=spec))
        elif kind == "workflow":
            wf = workflow_pb2.WorkflowSpec.FromString(data)
            hydrate(wf, version)
            out.append(workflow_pb2.WorkflowCreateRequest(id=wf.template.id, spec=wf))
        else:
            lp = launch_plan_pb2.LaunchPlan.FromString(data)
            hydrate(lp, version)
            out.append(launch_plan_pb2.LaunchPlanCreateRequest(id=lp.id, spec=lp.spec))
    return out


def create(stub: admin_pb2_grpc.AdminServiceStub, request: Message) -> None:
    if isinstance(request, task_pb2.TaskCreateRequest):
        stub.CreateTask(request, timeout=10)
    elif isinstance(request, workflow_pb2.WorkflowCreateRequest):
        stub.CreateWorkflow(request, timeout=10)
    else:
        stub.CreateLaunchPlan(request, timeout=10)


def register(
    stub: admin_pb2_grpc.AdminServiceStub, package: list[tuple[str, bytes]], version: str
) -> list[Message]:
    reqs = requests(package, version)
    for r in reqs:
        create(stub, r)
    return reqs


def task_id(name: str, version: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project=PROJECT, domain=DOMAIN, name=name, version=version
    )


def wf_id(name: str, version: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.WORKFLOW, project=PROJECT, domain=DOMAIN, name=name, version=version
    )


def lp_id(name: str, version: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=name, version=version
    )


def code_of(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    err = info.value
    return err.code(), err.details()  # type: ignore[attr-defined]


# --- registration ---------------------------------------------------------------------------------


@pytest.mark.flytekit
def test_register_package_and_get(backend: Backend, package: list[tuple[str, bytes]]) -> None:
    reqs = register(backend.stub, package, "v1")
    assert len(reqs) == len(package) >= 20

    task = backend.stub.GetTask(
        common_pb2.ObjectGetRequest(id=task_id("workflows.tasks.load_data", "v1")), timeout=10
    )
    assert task.id == task_id("workflows.tasks.load_data", "v1")
    assert task.closure.compiled_task.template.id == task.id  # template id forced to the request id
    assert task.closure.created_at.seconds > 0

    wf = backend.stub.GetWorkflow(
        common_pb2.ObjectGetRequest(id=wf_id("workflows.pipeline.training_pipeline", "v1")), timeout=10
    )
    compiled = wf.closure.compiled_workflow
    assert compiled.primary.template.id == wf.id
    assert {t.template.id.name for t in compiled.tasks} >= {
        "workflows.tasks.split",
        "workflows.pipeline.warn",
    }
    assert compiled.sub_workflows, "the prepare subworkflow is embedded"

    lp = backend.stub.GetLaunchPlan(common_pb2.ObjectGetRequest(id=lp_id("prepare_small", "v1")), timeout=10)
    assert lp.closure.state == launch_plan_pb2.INACTIVE
    assert lp.spec.workflow_id == wf_id("workflows.pipeline.prepare", "v1")
    expected = lp.closure.expected_inputs.parameters
    assert set(expected) == {"n", "threshold"}
    assert expected["n"].default.scalar.primitive.integer == 5
    assert list(lp.closure.expected_outputs.variables) == ["o0"]

    # The default launch plan: every workflow input becomes an expected input.
    default_lp = backend.stub.GetLaunchPlan(
        common_pb2.ObjectGetRequest(id=lp_id("workflows.pipeline.training_pipeline", "v1")), timeout=10
    )
    assert set(default_lp.closure.expected_inputs.parameters) == {"n", "ratio", "label"}


@pytest.mark.flytekit
def test_reregistration_codes(backend: Backend, package: list[tuple[str, bytes]]) -> None:
    reqs = register(backend.stub, package, "v1")
    for r in reqs:
        code, details = code_of(lambda r=r: create(backend.stub, r))
        assert code == grpc.StatusCode.ALREADY_EXISTS
        assert "with identical structure already exists" in details

    task_req = next(r for r in reqs if isinstance(r, task_pb2.TaskCreateRequest))
    changed = task_pb2.TaskCreateRequest()
    changed.CopyFrom(task_req)
    changed.spec.template.container.image = "ghcr.io/example/other:2"
    code, details = code_of(lambda: backend.stub.CreateTask(changed, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "with different structure already exists. (Please register a new version" in details
    assert "ghcr.io/example/other:2" in details and "ghcr.io/example/image:1" in details  # the diff

    lp_req = next(r for r in reqs if isinstance(r, launch_plan_pb2.LaunchPlanCreateRequest))
    changed_lp = launch_plan_pb2.LaunchPlanCreateRequest()
    changed_lp.CopyFrom(lp_req)
    changed_lp.spec.max_parallelism = 3
    code, details = code_of(lambda: backend.stub.CreateLaunchPlan(changed_lp, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "max_parallelism" in details


@pytest.mark.flytekit
def test_workflow_requires_registered_tasks(backend: Backend, package: list[tuple[str, bytes]]) -> None:
    reqs = requests(package, "v1")
    wf_req = next(
        r
        for r in reqs
        if isinstance(r, workflow_pb2.WorkflowCreateRequest) and r.id.name == "workflows.pipeline.prepare"
    )
    code, details = code_of(lambda: backend.stub.CreateWorkflow(wf_req, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "failed to compile workflow for [flytesnacks/development/workflows.pipeline.prepare/v1]" in details
    assert "task [flytesnacks/development/workflows.tasks.load_data/v1]" in details
    assert "workflows.tasks.clean" in details

    lp_req = next(r for r in reqs if isinstance(r, launch_plan_pb2.LaunchPlanCreateRequest))
    code, details = code_of(lambda: backend.stub.CreateLaunchPlan(lp_req, timeout=10))
    assert code == grpc.StatusCode.NOT_FOUND and "register it first" in details


@pytest.mark.flytekit
def test_activation(backend: Backend, package: list[tuple[str, bytes]]) -> None:
    register(backend.stub, package, "v1")
    register(backend.stub, package, "v2")
    named = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="prepare_small")
    code, details = code_of(
        lambda: backend.stub.GetActiveLaunchPlan(
            launch_plan_pb2.ActiveLaunchPlanRequest(id=named), timeout=10
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND and "No active launch plan could be found" in details

    for version in ("v1", "v2"):
        backend.stub.UpdateLaunchPlan(
            launch_plan_pb2.LaunchPlanUpdateRequest(
                id=lp_id("prepare_small", version), state=launch_plan_pb2.ACTIVE
            ),
            timeout=10,
        )
    active = backend.stub.GetActiveLaunchPlan(launch_plan_pb2.ActiveLaunchPlanRequest(id=named), timeout=10)
    assert active.id.version == "v2" and active.closure.state == launch_plan_pb2.ACTIVE
    v1 = backend.stub.GetLaunchPlan(common_pb2.ObjectGetRequest(id=lp_id("prepare_small", "v1")), timeout=10)
    assert v1.closure.state == launch_plan_pb2.INACTIVE
    listed = backend.stub.ListActiveLaunchPlans(
        launch_plan_pb2.ActiveLaunchPlanListRequest(project=PROJECT, domain=DOMAIN, limit=10), timeout=10
    )
    assert [(lp.id.name, lp.id.version) for lp in listed.launch_plans] == [("prepare_small", "v2")]
    by_state = backend.stub.ListLaunchPlans(
        common_pb2.ResourceListRequest(id=named, limit=10, filters="eq(state,ACTIVE)"), timeout=10
    )
    assert [lp.id.version for lp in by_state.launch_plans] == ["v2"]

    backend.stub.UpdateLaunchPlan(
        launch_plan_pb2.LaunchPlanUpdateRequest(
            id=lp_id("prepare_small", "v2"), state=launch_plan_pb2.INACTIVE
        ),
        timeout=10,
    )
    code, _ = code_of(
        lambda: backend.stub.GetActiveLaunchPlan(
            launch_plan_pb2.ActiveLaunchPlanRequest(id=named), timeout=10
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND


@pytest.mark.flytekit
def test_launch_plan_inputs_checked_against_workflow(
    backend: Backend, package: list[tuple[str, bytes]]
) -> None:
    reqs = requests(package, "v1")
    for r in reqs:
        if not isinstance(r, launch_plan_pb2.LaunchPlanCreateRequest):
            create(backend.stub, r)
    lp_req = next(
        r
        for r in reqs
        if isinstance(r, launch_plan_pb2.LaunchPlanCreateRequest) and r.id.name == "prepare_small"
    )
    wrong_type = launch_plan_pb2.LaunchPlanCreateRequest()
    wrong_type.CopyFrom(lp_req)
    wrong_type.spec.default_inputs.parameters["n"].var.type.simple = types_pb2.STRING
    code, details = code_of(lambda: backend.stub.CreateLaunchPlan(wrong_type, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid default value of input [n] wrong type. Expected STRING, but got INTEGER" in details
    # a default that fits its declared type, but the declared type is not the workflow input's
    wrong_type.spec.default_inputs.parameters["n"].default.scalar.primitive.string_value = "100"
    code, details = code_of(lambda: backend.stub.CreateLaunchPlan(wrong_type, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid default input [n] wrong type. Expected INTEGER (the workflow input's type)" in details

    unknown = launch_plan_pb2.LaunchPlanCreateRequest()
    unknown.CopyFrom(lp_req)
    unknown.spec.default_inputs.parameters["bogus"].CopyFrom(lp_req.spec.default_inputs.parameters["n"])
    code, details = code_of(lambda: backend.stub.CreateLaunchPlan(unknown, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "[bogus] is not an input of the workflow" in details

    # Without defaults, every workflow input becomes a required expected input (Admin's merge).
    bare = launch_plan_pb2.LaunchPlanCreateRequest()
    bare.CopyFrom(lp_req)
    bare.id.name = "prepare_bare"
    bare.spec.ClearField("default_inputs")
    backend.stub.CreateLaunchPlan(bare, timeout=10)
    got = backend.stub.GetLaunchPlan(common_pb2.ObjectGetRequest(id=bare.id), timeout=10)
    params = got.closure.expected_inputs.parameters
    assert {k: p.required for k, p in params.items()} == {"n": True, "threshold": True}
    assert params["n"].var.type.simple == types_pb2.INTEGER
    assert got.spec.default_inputs == got.closure.expected_inputs


@pytest.mark.flytekit
def test_workflow_closure_without_compiler(
    backend: Backend, package: list[tuple[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until the compiler is there, workflows are stored with their template and required tasks embedded."""
    monkeypatch.setitem(sys.modules, "flyte_ls.local.compiler", None)  # the import now raises ImportError
    register(backend.stub, package, "v1")
    wf = backend.stub.GetWorkflow(
        common_pb2.ObjectGetRequest(id=wf_id("workflows.pipeline.prepare", "v1")), timeout=10
    )
    compiled = wf.closure.compiled_workflow
    assert [n.id for n in compiled.primary.template.nodes] == ["n0", "n1"]
    assert not compiled.primary.connections.upstream
    assert [t.template.id.name for t in compiled.tasks] == [
        "workflows.tasks.clean",
        "workflows.tasks.load_data",
    ]


@pytest.mark.flytekit
def test_workflow_failure_reason_detail(backend: Backend, package: list[tuple[str, bytes]]) -> None:
    """Like Admin, CreateWorkflow's status carries a CreateWorkflowFailureReason (grpc-status-details-bin)."""
    reqs = register(backend.stub, package, "v1")
    wf_req = next(r for r in reqs if isinstance(r, workflow_pb2.WorkflowCreateRequest))

    def reason_of(request: workflow_pb2.WorkflowCreateRequest) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as info:
            backend.stub.CreateWorkflow(request, timeout=10)
        err = info.value
        raw = dict(err.trailing_metadata())["grpc-status-details-bin"]  # type: ignore[attr-defined]
        status = status_pb2.Status.FromString(raw)
        reason = workflow_pb2.CreateWorkflowFailureReason()
        assert status.details[0].Unpack(reason)
        assert getattr(reason, reason.WhichOneof("reason") or "").id == request.id
        return err.code(), reason.WhichOneof("reason") or ""  # type: ignore[attr-defined]

    assert reason_of(wf_req) == (grpc.StatusCode.ALREADY_EXISTS, "exists_identical_structure")
    changed = workflow_pb2.WorkflowCreateRequest()
    changed.CopyFrom(wf_req)
    changed.spec.template.metadata.on_failure = 1
    assert reason_of(changed) == (grpc.StatusCode.INVALID_ARGUMENT, "exists_different_structure")


# --- lists ----------------------------------------------------------------------------------------


@pytest.mark.flytekit
def test_lists_filters_sort_paging(backend: Backend, package: list[tuple[str, bytes]]) -> None:
    for version in ("v1", "v2", "v3"):
        register(backend.stub, package, version)
    name = "workflows.tasks.load_data"
    named = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name=name)
    newest_first = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING)

    # flytekit's "latest version": limit 1, created_at DESC.
    latest = backend.stub.ListTasks(
        common_pb2.ResourceListRequest(id=named, limit=1, sort_by=newest_first), timeout=10
    )
    assert [t.id.version for t in latest.tasks] == ["v3"] and latest.token == "1"

    # Paging: the token is an offset, returned only while pages are full.
    versions: list[str] = []
    token = ""
    for _ in range(5):
        page = backend.stub.ListTasks(
            common_pb2.ResourceListRequest(id=named, limit=2, token=token, sort_by=newest_first), timeout=10
        )
        versions += [t.id.version for t in page.tasks]
        token = page.token
        if not token:
            break
    assert versions == ["v3", "v2", "v1"]

    # list_tasks_by_version: no name, a version filter.
    by_version = backend.stub.ListTasks(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
            limit=100,
            filters="eq(version,v2)",
        ),
        timeout=10,
    )
    task_count = sum(1 for kind, _ in package if kind == "task")
    assert len(by_version.tasks) == task_count and {t.id.version for t in by_version.tasks} == {"v2"}

    both = backend.stub.ListWorkflows(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
            limit=100,
            filters="value_in(version,v1;v3)+contains(name,prepare)",
            sort_by=common_pb2.Sort(key="version", direction=common_pb2.Sort.ASCENDING),
        ),
        timeout=10,
    )
    assert [(w.id.name, w.id.version) for w in both.workflows] == [
        ("workflows.pipeline.prepare", "v1"),
        ("workflows.pipeline.prepare", "v3"),
    ]

    ids = backend.stub.ListLaunchPlanIds(
        common_pb2.NamedEntityIdentifierListRequest(project=PROJECT, domain=DOMAIN, limit=100), timeout=10
    )
    names = [e.name for e in ids.entities]
    assert names == sorted(set(names)) and "prepare_small" in names

    for bad, message in [("eq(digest,x)", "unknown key 'digest'"), ("foo", "expected op(key,value)")]:
        code, details = code_of(
            lambda bad=bad: backend.stub.ListTasks(
                common_pb2.ResourceListRequest(id=named, limit=10, filters=bad), timeout=10
            )
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and message in details
    code, details = code_of(
        lambda: backend.stub.ListTasks(common_pb2.ResourceListRequest(id=named), timeout=10)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "invalid limit" in details


# --- persistence and errors -----------------------------------------------------------------------


@pytest.mark.flytekit
def test_restart_keeps_everything(tmp_path: Path, package: list[tuple[str, bytes]]) -> None:
    first = start_backend(tmp_path)
    register(first.stub, package, "v1")
    first.stub.UpdateLaunchPlan(
        launch_plan_pb2.LaunchPlanUpdateRequest(
            id=lp_id("prepare_small", "v1"), state=launch_plan_pb2.ACTIVE
        ),
        timeout=10,
    )
    first.stub.RegisterProject(
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="other", name="Other")), timeout=10
    )
    before = first.stub.GetWorkflow(
        common_pb2.ObjectGetRequest(id=wf_id("workflows.pipeline.training_pipeline", "v1")), timeout=10
    )
    first.stop()

    second = start_backend(tmp_path)
    try:
        after = second.stub.GetWorkflow(
            common_pb2.ObjectGetRequest(id=wf_id("workflows.pipeline.training_pipeline", "v1")), timeout=10
        )
        assert after == before
        active = second.stub.GetActiveLaunchPlan(
            launch_plan_pb2.ActiveLaunchPlanRequest(
                id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="prepare_small")
            ),
            timeout=10,
        )
        assert active.id.version == "v1"
        assert second.stub.GetProject(project_pb2.ProjectGetRequest(id="other"), timeout=10).name == "Other"
        # Re-registering after the restart is still idempotent.
        code, _ = code_of(lambda: register(second.stub, package, "v1"))
        assert code == grpc.StatusCode.ALREADY_EXISTS
    finally:
        second.stop()


def test_identifier_validation(backend: Backend) -> None:
    cases = [
        (task_id("t", "v 1"), "is not URL safe"),
        (task_id("t", ""), "missing version"),
        (wf_id("t", "v1"), "unexpected resource type WORKFLOW"),
    ]
    unknown = task_id("t", "v1")
    unknown.project = "nope"
    cases.append((unknown, "project [nope] does not exist"))
    bad_domain = task_id("t", "v1")
    bad_domain.domain = "qa"
    cases.append((bad_domain, "domain [qa] is unrecognized"))
    for ident, message in cases:
        code, details = code_of(
            lambda ident=ident: backend.stub.GetTask(common_pb2.ObjectGetRequest(id=ident))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (ident, details)
        assert message in details
    code, details = code_of(lambda: backend.stub.GetTask(common_pb2.ObjectGetRequest(id=task_id("t", "v1"))))
    assert code == grpc.StatusCode.NOT_FOUND and "does not exist" in details
    code, details = code_of(
        lambda: backend.stub.CreateTask(task_pb2.TaskCreateRequest(id=task_id("t", "v1")), timeout=10)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "missing spec.template" in details


def test_internal_error_is_internal(backend: Backend) -> None:
    backend.store.close()  # every query now raises sqlite3.ProgrammingError inside the servicer
    code, details = code_of(lambda: backend.stub.GetTask(common_pb2.ObjectGetRequest(id=task_id("t", "v1"))))
    assert code == grpc.StatusCode.INTERNAL and "ProgrammingError" in details


def test_projects_domains_version(backend: Backend) -> None:
    stub = backend.stub
    projects = stub.ListProjects(project_pb2.ProjectListRequest(), timeout=10)
    assert [p.id for p in projects.projects] == ["flytesnacks"]
    assert [d.id for d in projects.projects[0].domains] == ["development", "staging", "production"]
    domains = stub.GetDomains(project_pb2.GetDomainRequest(), timeout=10)
    assert (domains.domains[0].id, domains.domains[0].name) == ("development", "development")

    stub.RegisterProject(
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="ml", name="ML", description="d")),
        timeout=10,
    )
    code, _ = code_of(
        lambda: stub.RegisterProject(
            project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="ml", name="ML")), timeout=10
        )
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS
    code, details = code_of(
        lambda: stub.RegisterProject(
            project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="Bad_Id", name="x")), timeout=10
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "invalid project id" in details
    page = stub.ListProjects(project_pb2.ProjectListRequest(limit=1), timeout=10)
    assert len(page.projects) == 1 and page.token == "1"

    stub.UpdateProject(
        project_pb2.Project(id="ml", name="ML", state=project_pb2.Project.ARCHIVED), timeout=10
    )
    assert [p.id for p in stub.ListProjects(project_pb2.ProjectListRequest(), timeout=10).projects] == [
        "flytesnacks"
    ]
    archived = stub.ListProjects(project_pb2.ProjectListRequest(filters="eq(state,ARCHIVED)"), timeout=10)
    assert [p.id for p in archived.projects] == ["ml"]
    code, details = code_of(
        lambda: stub.GetTask(
            common_pb2.ObjectGetRequest(
                id=identifier_pb2.Identifier(
                    resource_type=identifier_pb2.TASK, project="ml", domain=DOMAIN, name="t", version="v"
                )
            )
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "not active" in details
    code, _ = code_of(lambda: stub.GetProject(project_pb2.ProjectGetRequest(id="missing"), timeout=10))
    assert code == grpc.StatusCode.NOT_FOUND

    version = stub.GetVersion(version_pb2.GetVersionRequest(), timeout=10)
    assert version.control_plane_version.Build == "flyte-ls-local"


@pytest.mark.flytekit
def test_named_entities(backend: Backend, package: list[tuple[str, bytes]]) -> None:
    register(backend.stub, package, "v1")
    listed = backend.stub.ListNamedEntities(
        common_pb2.NamedEntityListRequest(
            resource_type=identifier_pb2.WORKFLOW, project=PROJECT, domain=DOMAIN, limit=100
        ),
        timeout=10,
    )
    assert "workflows.pipeline.prepare" in [e.id.name for e in listed.entities]
    named = common_pb2.NamedEntityIdentifier(
        project=PROJECT, domain=DOMAIN, name="workflows.pipeline.prepare"
    )
    backend.stub.UpdateNamedEntity(
        common_pb2.NamedEntityUpdateRequest(
            resource_type=identifier_pb2.WORKFLOW,
            id=named,
            metadata=common_pb2.NamedEntityMetadata(description="prepares data"),
        ),
        timeout=10,
    )
    got = backend.stub.GetNamedEntity(
        common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.WORKFLOW, id=named), timeout=10
    )
    assert got.metadata.description == "prepares data"
    missing = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="nope")
    code, _ = code_of(
        lambda: backend.stub.GetNamedEntity(
            common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.WORKFLOW, id=missing), timeout=10
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND


# --- a real FlyteRemote client ----------------------------------------------------------------------

REMOTE_SCRIPT = """
import json
from flytekit.configuration import Config
from flytekit.remote import FlyteRemote

remote = FlyteRemote(Config.auto(), default_project="flytesnacks", default_domain="development")
out = {}
out["task_version"] = remote.fetch_task(name="workflows.tasks.load_data").id.version
wf = remote.fetch_workflow(name="workflows.pipeline.training_pipeline", version="v1")
out["workflow_nodes"] = sorted(n.id for n in wf.flyte_nodes)
lp = remote.fetch_launch_plan(name="prepare_small", version="v1")
out["lp_defaults"] = sorted(lp.default_inputs.parameters)
out["active_before"] = remote.fetch_active_launchplan(name="prepare_small") is not None
remote.activate_launchplan(lp.id)
out["active_version"] = remote.fetch_active_launchplan(name="prepare_small").id.version
out["projects"] = [p.id for p in remote.list_projects()]
out["domains"] = [d.id for d in remote.get_domains()]
print(json.dumps(out))
"""


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_flyteremote_fetch_and_activate(tmp_path: Path, package: list[tuple[str, bytes]]) -> None:
    b = start_backend(tmp_path)
    try:
        register(b.stub, package, "v1")
        register(b.stub, package, "v2")
        env = {
            **os.environ,
            "FLYTE_PLATFORM_URL": f"127.0.0.1:{b.port}",
            "FLYTE_PLATFORM_INSECURE": "True",
            "FLYTECTL_CONFIG": str(tmp_path / "none.yaml"),
        }
        proc = subprocess.run(
            [sys.executable, "-c", REMOTE_SCRIPT],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=100,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        b.stop()
    assert out["task_version"] == "v2"  # the latest registered version
    assert "n0" in out["workflow_nodes"]
    assert out["lp_defaults"] == ["n", "threshold"]
    assert out["active_before"] is False and out["active_version"] == "v1"
    assert out["projects"] == ["flytesnacks"]
    assert out["domains"] == ["development", "staging", "production"]


@pytest.mark.flytekit
def test_in_process_api_raises_admin_errors(tmp_path: Path, package: list[tuple[str, bytes]]) -> None:
    """The executor registers `.flytegen` entities through these methods, without a gRPC context."""
    store = Store(tmp_path)
    try:
        servicer = AdminServicer(store)
        reqs = requests(package, "v1")
        task_req = next(r for r in reqs if isinstance(r, task_pb2.TaskCreateRequest))
        servicer.create_task(task_req)
        with pytest.raises(AlreadyExists):
            servicer.create_task(task_req)
        assert servicer.get_task(task_req.id).id == task_req.id
        with pytest.raises(NotFound):
            servicer.get_workflow(wf_id("missing", "v1"))
    finally:
        store.close()
