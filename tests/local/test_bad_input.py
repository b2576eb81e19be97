"""Issue 3 "Bad input", against a started ``flyte-ls local start``: each case gets a clear gRPC or HTTP error,
nothing is written outside the state dir and nothing is corrupted.

Covered elsewhere (not repeated here): uploads with a wrong MD5 (test_dataproxy.py::
test_wrong_md5_writes_nothing), upload names and paths that traverse or follow symlinks out
(test_dataproxy.py::test_invalid_requests, test_http.py::test_traversal_is_refused and
test_symlink_out_of_uploads_is_refused), DataProxy's 20 MiB limit (test_dataproxy.py::
test_oversized_request_is_refused), identifiers of Get RPCs (test_admin_entities.py::
test_identifier_validation), CreateExecution's inputs and launch plan (test_executions.py::
test_create_errors), a ``--python`` without flytekit and no interpreter with flytekit on PATH (test_cli.py::
test_explicit_python_without_flytekit, test_no_python_on_path_can_import_flytekit), a damaged store
(test_cli.py::test_damaged_store_is_a_clear_error). The type checks of inputs are tested here.
"""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import (
    common_pb2,
    execution_pb2,
    launch_plan_pb2,
    project_pb2,
    task_pb2,
    version_pb2,
    workflow_pb2,
)
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2, dataproxy_pb2_grpc
from local_backend import VENV_PYTHON, Backend, start_backend, upload

from flyte_ls.local.dataproxy import UploadRefused, check_fast_archive

pytestmark = pytest.mark.timeout(60)

PROJECT, DOMAIN = "flytesnacks", "development"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad-input")


@pytest.fixture(scope="module")
def backend(root: Path) -> Iterator[Backend]:
    b = start_backend(root / "state")
    yield b
    b.stop()


@pytest.fixture(scope="module")
def channel(backend: Backend) -> Iterator[grpc.Channel]:
    # the client may send more than the server accepts: the server's limit is what is tested
    with grpc.insecure_channel(
        f"127.0.0.1:{backend.port}",
        options=[
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ],
    ) as ch:
        yield ch


@pytest.fixture(scope="module")
def admin(channel: grpc.Channel) -> admin_pb2_grpc.AdminServiceStub:
    return admin_pb2_grpc.AdminServiceStub(channel)


def code_of(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), str(err.value.details())


def task_id(
    name: str = "bad.t", version: str = "v1", project: str = PROJECT, domain: str = DOMAIN
) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project=project, domain=domain, name=name, version=version
    )


def task_request(ident: identifier_pb2.Identifier, padding: int = 0) -> task_pb2.TaskCreateRequest:
    template = tasks_pb2.TaskTemplate(
        id=ident,
        type="python-task",
        container=tasks_pb2.Container(image="img", args=["pyflyte-execute", "--inputs", "{{.input}}"]),
    )
    if padding:
        template.custom.update({"padding": "x" * padding})
    return task_pb2.TaskCreateRequest(id=ident, spec=task_pb2.TaskSpec(template=template))


# --- malformed and oversized requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "/flyteidl.service.AdminService/CreateTask",
        "/flyteidl.service.AdminService/CreateExecution",
        "/flyteidl.service.AdminService/ListTasks",
        "/flyteidl.service.DataProxyService/CreateUploadLocation",
        "/flyteidl.service.SignalService/SetSignal",
    ],
)
def test_malformed_request_bytes(
    channel: grpc.Channel, admin: admin_pb2_grpc.AdminServiceStub, method: str
) -> None:
    raw: grpc.UnaryUnaryMultiCallable = channel.unary_unary(
        method, request_serializer=lambda b: b, response_deserializer=lambda b: b
    )
    for body in (b"\xff\xff\xff\xff", b"\x0a\x05ab"):  # not a protobuf; a truncated field

        def call(body: bytes = body) -> object:
            return raw(body, timeout=10)

        code, details = code_of(call)
        assert code == grpc.StatusCode.INTERNAL, details  # never UNKNOWN (flytekit would start an auth dance)
        assert "deserializing request" in details
    admin.GetVersion(version_pb2.GetVersionRequest(), timeout=10)  # and the backend still answers


def test_oversized_requests_are_refused(admin: admin_pb2_grpc.AdminServiceStub, backend: Backend) -> None:
    """Admin's 20 MiB message limit, for entity registration and executions."""
    code, details = code_of(
        lambda: admin.CreateTask(task_request(task_id("big.t"), 21 * 1024 * 1024), timeout=30)
    )
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
    big_input = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="x" * (21 * 1024 * 1024)))
    )
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT, domain=DOMAIN, inputs=literals_pb2.LiteralMap(literals={"x": big_input})
    )
    code, details = code_of(lambda: admin.CreateExecution(request, timeout=30))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
    # nothing of it was stored, and a request just under the limit still goes through
    code, _ = code_of(lambda: admin.GetTask(common_pb2.ObjectGetRequest(id=task_id("big.t")), timeout=10))
    assert code == grpc.StatusCode.NOT_FOUND
    admin.CreateTask(task_request(task_id("almost.big.t"), 19 * 1024 * 1024), timeout=30)
    got = admin.GetTask(common_pb2.ObjectGetRequest(id=task_id("almost.big.t")), timeout=30)
    assert len(got.closure.compiled_task.template.custom.fields["padding"].string_value) == 19 * 1024 * 1024


# --- unknown projects and domains, invalid names and versions -------------------------------------------


def _unknown_scope_calls(
    admin: admin_pb2_grpc.AdminServiceStub, project: str, domain: str
) -> dict[str, Callable[[], object]]:
    named = common_pb2.NamedEntityIdentifier(project=project, domain=domain)
    wf = identifier_pb2.Identifier(
        resource_type=identifier_pb2.WORKFLOW, project=project, domain=domain, name="w", version="v1"
    )
    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=project, domain=domain, name="w", version="v1"
    )
    return {
        "CreateTask": lambda: admin.CreateTask(
            task_request(task_id(project=project, domain=domain)), timeout=10
        ),
        "CreateWorkflow": lambda: admin.CreateWorkflow(
            workflow_pb2.WorkflowCreateRequest(id=wf, spec=workflow_pb2.WorkflowSpec()), timeout=10
        ),
        "CreateLaunchPlan": lambda: admin.CreateLaunchPlan(
            launch_plan_pb2.LaunchPlanCreateRequest(
                id=lp, spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=wf)
            ),
            timeout=10,
        ),
        "CreateExecution": lambda: admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=project, domain=domain, spec=execution_pb2.ExecutionSpec(launch_plan=lp)
            ),
            timeout=10,
        ),
        "ListTasks": lambda: admin.ListTasks(common_pb2.ResourceListRequest(id=named, limit=10), timeout=10),
        "ListExecutions": lambda: admin.ListExecutions(
            common_pb2.ResourceListRequest(id=named, limit=10), timeout=10
        ),
    }


@pytest.mark.parametrize(
    ("project", "domain", "message"),
    [
        ("nope", DOMAIN, "project [nope] does not exist"),
        (PROJECT, "qa", "domain [qa] is unrecognized"),
        ("", DOMAIN, "missing project"),
        (PROJECT, "", "missing domain"),
    ],
)
def test_unknown_project_or_domain(
    admin: admin_pb2_grpc.AdminServiceStub, project: str, domain: str, message: str
) -> None:
    for rpc_name, call in _unknown_scope_calls(admin, project, domain).items():
        code, details = code_of(call)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (rpc_name, details)
        assert message in details, (rpc_name, details)


@pytest.mark.parametrize(
    ("version", "message"),
    [("v 1", "not URL safe"), ("v/1", "not URL safe"), ("v1?x=1", "not URL safe"), ("", "missing version")],
)
def test_invalid_versions(admin: admin_pb2_grpc.AdminServiceStub, version: str, message: str) -> None:
    code, details = code_of(lambda: admin.CreateTask(task_request(task_id(version=version)), timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message in details, details


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Bad_Name", "invalid execution name"),
        ("1abc", "invalid execution name"),
        ("../../etc", "invalid execution name"),
        ("a" * 64, "longer than 63 characters"),
    ],
)
def test_invalid_execution_names(admin: admin_pb2_grpc.AdminServiceStub, name: str, message: str) -> None:
    request = execution_pb2.ExecutionCreateRequest(project=PROJECT, domain=DOMAIN, name=name)
    code, details = code_of(lambda: admin.CreateExecution(request, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message in details, details


@pytest.mark.parametrize("project_id", ["Bad Project!", "../x", "a/b", "x" * 64, ""])
def test_invalid_project_ids(admin: admin_pb2_grpc.AdminServiceStub, project_id: str) -> None:
    request = project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id=project_id, name="x"))
    code, details = code_of(lambda: admin.RegisterProject(request, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "project" in details, details


def test_missing_name_in_identifiers(admin: admin_pb2_grpc.AdminServiceStub) -> None:
    code, details = code_of(lambda: admin.CreateTask(task_request(task_id(name="")), timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "missing name" in details, details


# --- fast-register archives -----------------------------------------------------------------------------


def _archive(*members: tuple[str, bytes, str]) -> bytes:
    """A .tar.gz of (name, tarfile type, link target) members (regular files hold b"x")."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, kind, target in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            if info.type == tarfile.REGTYPE:
                info.size = 1
                tar.addfile(info, io.BytesIO(b"x"))
            else:
                tar.addfile(info)
    return buf.getvalue()


REG, SYM, LNK, CHR = tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE
BAD_ARCHIVES = {
    "dotdot": ([("../escape.py", REG, "")], "outside the code directory"),
    "nested dotdot": ([("pkg/../../escape.py", REG, "")], "outside the code directory"),
    "absolute": ([("/tmp/escape.py", REG, "")], "outside the code directory"),
    "through a symlink": (
        [("out", SYM, "/tmp"), ("out/escape.py", REG, "")],
        "through the archive's symlink",
    ),
    "hard link out": ([("hl", LNK, "/etc/passwd")], "hard link"),
    "device": ([("dev", CHR, "")], "device"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_check_fast_archive_refuses(tmp_path: Path, case: str) -> None:
    members, message = BAD_ARCHIVES[case]
    path = tmp_path / "a.tar.gz"
    path.write_bytes(_archive(("pkg/ok.py", REG, ""), *members))
    with pytest.raises(UploadRefused) as err:
        check_fast_archive(path)
    assert err.value.status == 400 and message in str(err.value)


def test_check_fast_archive_accepts_what_flytekit_writes(tmp_path: Path) -> None:
    path = tmp_path / "a.tar.gz"
    # a project with a symlink pointing anywhere is fine: tar creates the link, nothing is written through it
    path.write_bytes(
        _archive(("pkg", tarfile.DIRTYPE, ""), ("pkg/wf.py", REG, ""), ("pkg/data", SYM, "/data"))
    )
    check_fast_archive(path)
    path.write_bytes(b"not gzip")
    with pytest.raises(UploadRefused, match=r"not a readable \.tar\.gz"):
        check_fast_archive(path)


def test_fast_register_upload_with_traversal_is_refused(channel: grpc.Channel, backend: Backend) -> None:
    dataproxy = dataproxy_pb2_grpc.DataProxyServiceStub(channel)
    for members, message in BAD_ARCHIVES.values():
        body = _archive(("pkg/ok.py", REG, ""), *members)
        md5 = hashlib.md5(body).digest()
        name = f"fast{md5.hex()}.tar.gz"
        where = dataproxy.CreateUploadLocation(
            dataproxy_pb2.CreateUploadLocationRequest(
                project=PROJECT, domain=DOMAIN, filename=name, content_md5=md5
            ),
            timeout=10,
        )
        status, text = upload(where.signed_url, body, md5)
        assert status == 400 and message in text, (status, text)
        assert not Path(where.native_url).exists()
    assert list((backend.state_dir / "tmp" / "uploads").iterdir()) == []
    good = _archive(("pkg/wf.py", REG, ""))
    md5 = hashlib.md5(good).digest()
    where = dataproxy.CreateUploadLocation(
        dataproxy_pb2.CreateUploadLocationRequest(
            project=PROJECT, domain=DOMAIN, filename=f"fast{md5.hex()}.tar.gz", content_md5=md5
        ),
        timeout=10,
    )
    assert upload(where.signed_url, good, md5)[0] == 201
    assert Path(where.native_url).read_bytes() == good


# --- typed inputs: CreateExecution and CreateLaunchPlan check literals against types as Admin does --------


def _typed_interface() -> interface_pb2.TypedInterface:
    enum = types_pb2.LiteralType(enum_type=types_pb2.EnumType(values=["RED", "GREEN"]))
    optional_int = types_pb2.LiteralType(
        union_type=types_pb2.UnionType(
            variants=[
                types_pb2.LiteralType(simple=types_pb2.INTEGER, structure=types_pb2.TypeStructure(tag="int")),
                types_pb2.LiteralType(simple=types_pb2.NONE, structure=types_pb2.TypeStructure(tag="none")),
            ]
        )
    )
    declared = {
        "n": types_pb2.LiteralType(simple=types_pb2.INTEGER),
        "xs": types_pb2.LiteralType(collection_type=types_pb2.LiteralType(simple=types_pb2.FLOAT)),
        "m": types_pb2.LiteralType(map_value_type=types_pb2.LiteralType(simple=types_pb2.STRING)),
        "color": enum,
        "maybe": optional_int,
        "csv": types_pb2.LiteralType(blob=types_pb2.BlobType(format="csv")),
        "either": types_pb2.LiteralType(
            union_type=types_pb2.UnionType(
                variants=[
                    types_pb2.LiteralType(collection_type=types_pb2.LiteralType(simple=s))
                    for s in (types_pb2.INTEGER, types_pb2.STRING)
                ]
            )
        ),
    }
    return interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(
            variables={k: interface_pb2.Variable(type=t) for k, t in declared.items()}
        )
    )


def _lit(**primitive: object) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(**primitive)))  # type: ignore[arg-type]


def _list(*items: literals_pb2.Literal) -> literals_pb2.Literal:
    return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))


def _blob(fmt: str, dim: int = types_pb2.BlobType.SINGLE) -> literals_pb2.Literal:
    meta = literals_pb2.BlobMetadata(type=types_pb2.BlobType(format=fmt, dimensionality=dim))
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=literals_pb2.Blob(metadata=meta, uri="/x")))


def _none() -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))


def _good_inputs() -> dict[str, literals_pb2.Literal]:
    return {
        "n": _lit(integer=3),
        "xs": _list(_lit(float_value=0.5), _lit(float_value=1.5)),
        "m": literals_pb2.Literal(map=literals_pb2.LiteralMap(literals={"a": _lit(string_value="b")})),
        "color": _lit(string_value="GREEN"),
        "maybe": _none(),
        "csv": _blob("csv"),
        "either": _list(_lit(integer=1)),  # fits List[INTEGER] only
    }


@pytest.fixture(scope="module")
def typed_task(admin: admin_pb2_grpc.AdminServiceStub) -> identifier_pb2.Identifier:
    ident = task_id("bad.typed")
    request = task_request(ident)
    request.spec.template.interface.CopyFrom(_typed_interface())
    admin.CreateTask(request, timeout=10)
    return ident


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("n", _lit(string_value="many"), "invalid n input wrong type. Expected INTEGER, but got STRING"),
        ("n", _lit(float_value=1.0), "Expected INTEGER, but got FLOAT"),
        ("n", _none(), "Expected INTEGER, but got NONE"),
        ("xs", _lit(float_value=1.0), "Expected List[FLOAT], but got FLOAT (expected a collection)"),
        (
            "xs",
            _list(_lit(float_value=1.0), _lit(integer=2)),
            "Expected List[FLOAT], but got List[Union[",  # the items' types disagree: a union of both
        ),
        ("xs", _list(_lit(float_value=1.0), _lit(integer=2)), "(item 1: expected FLOAT, got INTEGER)"),
        (
            "m",
            literals_pb2.Literal(map=literals_pb2.LiteralMap(literals={"a": _lit(integer=1)})),
            "Expected Map[str, STRING], but got Map[str, INTEGER] (key 'a': expected STRING, got INTEGER)",
        ),
        ("color", _lit(integer=1), "Expected Enum[RED, GREEN], but got INTEGER"),
        ("color", _lit(string_value="BLUE"), "but got 'BLUE' is not one of its values (RED, GREEN)"),
        ("maybe", _lit(string_value="1"), "Expected Union[INTEGER, NONE], but got STRING"),
        ("csv", _blob("parquet"), "Expected Blob(csv, single), but got Blob(parquet, single)"),
        ("csv", _lit(string_value="/x.csv"), "Expected Blob(csv, single), but got STRING"),
        (
            "csv",
            literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=literals_pb2.Blob(uri="/x"))),
            "unknown",
        ),
        ("n", literals_pb2.Literal(), "the literal has no value"),
        (
            "either",
            _list(),  # an empty list fits both variants: Admin refuses to guess
            "but got List[NONE], which fits more than one variant (List[INTEGER], List[STRING])",
        ),
    ],
)
def test_execution_inputs_are_type_checked(
    admin: admin_pb2_grpc.AdminServiceStub,
    typed_task: identifier_pb2.Identifier,
    name: str,
    value: literals_pb2.Literal,
    message: str,
) -> None:
    inputs = _good_inputs()
    inputs[name] = value
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        spec=execution_pb2.ExecutionSpec(launch_plan=typed_task),
        inputs=literals_pb2.LiteralMap(literals=inputs),
    )
    code, details = code_of(lambda: admin.CreateExecution(request, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert f"invalid {name} input wrong type" in details and message in details, details


def test_launch_plan_inputs_are_type_checked(
    admin: admin_pb2_grpc.AdminServiceStub, typed_task: identifier_pb2.Identifier
) -> None:
    # A refused single-task execution still registered the task's `.flytegen` workflow: launch plans on it.
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT, domain=DOMAIN, spec=execution_pb2.ExecutionSpec(launch_plan=typed_task)
    )
    code_of(lambda: admin.CreateExecution(request, timeout=10))
    wf = identifier_pb2.Identifier(
        resource_type=identifier_pb2.WORKFLOW,
        project=PROJECT,
        domain=DOMAIN,
        name=".flytegen.bad.typed",
        version="v1",
    )
    declared = _typed_interface().inputs.variables

    def lp(name: str, **spec: object) -> launch_plan_pb2.LaunchPlanCreateRequest:
        ident = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=name, version="v1"
        )
        return launch_plan_pb2.LaunchPlanCreateRequest(
            id=ident,
            spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=wf, **spec),  # type: ignore[arg-type]
        )

    def params(**p: interface_pb2.Parameter) -> interface_pb2.ParameterMap:
        return interface_pb2.ParameterMap(parameters=p)

    cases = {
        "fixed-wrong": (
            lp("typed.a", fixed_inputs=literals_pb2.LiteralMap(literals={"n": _lit(string_value="x")})),
            "invalid fixed input [n] wrong type. Expected INTEGER, but got STRING",
        ),
        "fixed-enum": (
            lp(
                "typed.b", fixed_inputs=literals_pb2.LiteralMap(literals={"color": _lit(string_value="BLUE")})
            ),
            "invalid fixed input [color] wrong type. Expected Enum[RED, GREEN], but got 'BLUE'",
        ),
        "default-value": (
            lp(
                "typed.c",
                default_inputs=params(
                    xs=interface_pb2.Parameter(var=declared["xs"], default=_lit(float_value=1.0))
                ),
            ),
            "invalid default value of input [xs] wrong type. Expected List[FLOAT], but got FLOAT",
        ),
        "default-declared": (
            lp(
                "typed.d",
                default_inputs=params(
                    n=interface_pb2.Parameter(
                        var=interface_pb2.Variable(type=types_pb2.LiteralType(simple=types_pb2.STRING)),
                        default=_lit(string_value="3"),
                    )
                ),
            ),
            "invalid default input [n] wrong type. Expected INTEGER (the workflow input's type), "
            "but the launch plan declares STRING",
        ),
        "default-untyped": (
            lp("typed.e", default_inputs=params(n=interface_pb2.Parameter(default=_lit(integer=3)))),
            "default input [n] has no type",
        ),
        "default-neither": (
            lp(
                "typed.f", default_inputs=params(n=interface_pb2.Parameter(var=declared["n"], required=False))
            ),
            "default input [n] has neither a default nor required=true",
        ),
    }
    for case, (req, message) in cases.items():
        code, details = code_of(lambda req=req: admin.CreateLaunchPlan(req, timeout=10))  # type: ignore[misc]
        assert code == grpc.StatusCode.INVALID_ARGUMENT and message in details, (case, details)

    # the valid ones pass: a fixed Optional as None, a default enum and a default empty list
    ok = lp(
        "typed.ok",
        fixed_inputs=literals_pb2.LiteralMap(literals={"maybe": _none(), "csv": _blob("")}),
        default_inputs=params(
            color=interface_pb2.Parameter(var=declared["color"], default=_lit(string_value="RED")),
            xs=interface_pb2.Parameter(var=declared["xs"], default=_list()),
            n=interface_pb2.Parameter(var=declared["n"], required=True),
        ),
    )
    admin.CreateLaunchPlan(ok, timeout=10)
    got = admin.GetLaunchPlan(common_pb2.ObjectGetRequest(id=ok.id), timeout=10)
    assert sorted(got.closure.expected_inputs.parameters) == ["color", "either", "m", "n", "xs"]


@pytest.mark.flytekit
def test_every_flytekit_literal_passes_its_own_type() -> None:
    """Real flytekit: the literal TypeEngine makes for a value fits the type it declares for the same Python
    type (what pyflyte run and FlyteRemote send), for each kind of type; and a mismatch names both types."""
    import dataclasses
    import datetime
    import enum
    import typing

    from flytekit import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine
    from flytekit.types.directory import FlyteDirectory
    from flytekit.types.file import FlyteFile
    from flytekit.types.structured import StructuredDataset

    from flyte_ls.local.executions.inputs import type_mismatch

    class Color(enum.Enum):
        RED = "red"
        GREEN = "green"

    @dataclasses.dataclass
    class Point:
        x: int
        y: list[float]

    here = Path(__file__)
    cases: list[tuple[object, object]] = [
        (int, 3),
        (float, 2.5),
        (str, "s"),
        (bool, True),
        (datetime.datetime, datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)),
        (datetime.timedelta, datetime.timedelta(seconds=5)),
        (list[int], [1, 2]),
        (list[int], []),
        (list[list[float]], [[1.0], []]),
        (dict[str, int], {"a": 1}),
        (dict, {"a": [1, "x"]}),
        (int | None, None),
        (int | None, 4),
        (int | str, "u"),
        (list[int | str], [1, "a"]),
        (Color, Color.GREEN),
        (Point, Point(1, [2.0])),
        (FlyteFile, FlyteFile(str(here))),
        (FlyteFile[typing.TypeVar("csv")], FlyteFile(str(here))),  # type: ignore[misc]
        (FlyteDirectory, FlyteDirectory(str(here.parent))),
        (StructuredDataset, StructuredDataset(uri=str(here.parent))),
    ]
    ctx = FlyteContextManager.current_context()
    for python_type, value in cases:
        lt = TypeEngine.to_literal_type(python_type)
        literal = TypeEngine.to_literal(ctx, value, python_type, lt).to_flyte_idl()  # type: ignore[arg-type]
        assert type_mismatch(literal, lt.to_flyte_idl()) is None, (python_type, value)

    int_lit = TypeEngine.to_literal(ctx, 3, int, TypeEngine.to_literal_type(int)).to_flyte_idl()
    why = type_mismatch(int_lit, TypeEngine.to_literal_type(Point).to_flyte_idl())
    assert why == "Expected STRUCT, but got INTEGER"
    why = type_mismatch(int_lit, TypeEngine.to_literal_type(str | None).to_flyte_idl())
    assert why == "Expected Union[STRING, NONE], but got INTEGER"


# --- nothing outside, nothing corrupted (runs last in this module) --------------------------------------


def test_zz_nothing_written_outside_the_state_dir_and_nothing_corrupted(
    root: Path, backend: Backend, admin: admin_pb2_grpc.AdminServiceStub
) -> None:
    state = backend.state_dir.resolve()
    outside = {p for p in root.rglob("*") if state not in (p.resolve(), *p.resolve().parents)}
    assert outside == {backend.log_dir, backend.log_dir / "stdout", backend.log_dir / "stderr"}
    for escape in ("escape.py", "outside.txt"):
        assert not (Path("/tmp") / escape).exists()
    with sqlite3.connect(f"file:{state / 'admin.db'}?mode=ro", uri=True, timeout=10) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # the backend still answers, with what was stored before the bad requests
    projects = admin.ListProjects(project_pb2.ProjectListRequest(), timeout=10)
    assert [p.id for p in projects.projects] == [PROJECT]
    got = admin.GetTask(common_pb2.ObjectGetRequest(id=task_id("almost.big.t")), timeout=30)
    assert got.id.name == "almost.big.t"


# --- outputs too large to inline -----------------------------------------------------------------------

BIG = """
from flytekit import task, workflow


@task
def big(n: int) -> str:
    return "x" * n


@workflow
def wf(n: int) -> str:
    return big(n=n)
"""

READ_OUTPUTS = """
import sys
from datetime import timedelta

from flytekit.configuration import Config
from flytekit.remote import FlyteRemote

remote = FlyteRemote(Config.auto(sys.argv[1]), default_project="flytesnacks", default_domain="development")
execution = remote.wait(remote.fetch_execution(name=sys.argv[2]), timeout=timedelta(seconds=120),
                        poll_interval=timedelta(seconds=1))
outputs = execution.outputs["o0"], execution.node_executions["n0"].outputs["o0"]
# 12 MiB: not inlined by Get...Data, but one message holds it: flyte:// URLs answer it (DataProxy GetData)
second = remote.execute(remote.fetch_launch_plan(name="big.wf"), inputs={"n": 12 * 1024 * 1024}, wait=True)
got = remote.get(f"flyte://v1/flytesnacks/development/{second.id.name}/n0/o")
print(execution.closure.phase, len(outputs[0]), len(outputs[1]), len(got.get("o0", str)))
"""


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_outputs_larger_than_a_message_are_read_from_their_url(
    root: Path, backend: Backend, admin: admin_pb2_grpc.AdminServiceStub
) -> None:
    """Outputs beyond what one gRPC message holds (20 MiB) are not inlined in Get…Data (as Admin beyond its
    inline limit): the answer carries their path and size, and flytekit reads them from there."""
    size = 21 * 1024 * 1024
    work = root / "big"
    work.mkdir()
    (work / "big.py").write_text(BIG)
    (work / "read.py").write_text(READ_OUTPUTS)
    pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
    cmd = [pyflyte, "--config", str(backend.config), "run", "--remote", "big.py", "wf", "--n", str(size)]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    name = re.findall(r"/executions/([a-z0-9]+)", proc.stdout)[-1]
    proc = subprocess.run(
        [VENV_PYTHON, "read.py", str(backend.config), name],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # SUCCEEDED; the outputs of the execution and of n0; the 12 MiB output through flyte://
    assert proc.stdout.split()[-4:] == ["4", str(size), str(size), str(12 * 1024 * 1024)]
    ident = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)
    data = admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=ident), timeout=30)
    assert not data.full_outputs.literals and data.outputs.bytes > size and Path(data.outputs.url).is_file()
    assert data.full_inputs.literals["n"].scalar.primitive.integer == size  # small data is still inline
