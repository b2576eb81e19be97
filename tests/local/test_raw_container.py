"""Raw container tasks (flytekit's ContainerTask): `{{.Inputs.<var>}}` rendered as propeller does, the command
run on the host with copilot's data layout, and a clear error when the image's command is not here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import literals_pb2, tasks_pb2, types_pb2
from local_backend import VENV_BIN, VENV_PYTHON, Backend, start_backend
from task_package import attempt_paths

from flyte_ls.local.copilot import (
    go_duration,
    go_float,
    go_float_f,
    parse_go_duration,
    rewrite_paths,
    write_inputs,
)
from flyte_ls.local.runner import (
    AttemptPaths,
    AttemptPhase,
    ErrorKind,
    ErrorOrigin,
    ExecutionKey,
    LaunchError,
    render_args,
    run_task_attempt,
)

pytestmark = pytest.mark.timeout(60)
EXECUTION = ExecutionKey("flytesnacks", "development", "raw123")


def _paths(root: Path) -> AttemptPaths:
    return attempt_paths(root, root / "raw" / "n0-0")


def _p(**primitive: Any) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(**primitive)))


def _blob(uri: str, multipart: bool = False) -> literals_pb2.Literal:
    dim = types_pb2.BlobType.MULTIPART if multipart else types_pb2.BlobType.SINGLE
    meta = literals_pb2.BlobMetadata(type=types_pb2.BlobType(dimensionality=dim))
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=literals_pb2.Blob(metadata=meta, uri=uri)))


def test_go_text_forms() -> None:
    floats = {2.5: "2.5", 3.0: "3", 1e6: "1e+06", 123456.0: "123456", 1234567.0: "1.234567e+06"}
    floats |= {0.0001: "0.0001", 0.00001: "1e-05", -1.5: "-1.5", 0.1: "0.1", 1e21: "1e+21"}
    assert {f: go_float(f) for f in floats} == floats
    assert [go_float_f(f) for f in (1e21, 0.5, 3.0, 1e-7)] == [
        "1000000000000000000000",
        "0.5",
        "3",
        "0.0000001",
    ]
    durations = {(0, 0): "0s", (90, 0): "1m30s", (3600, 0): "1h0m0s", (0, 1_500_000): "1.5ms"}
    durations |= {(5, 500_000_000): "5.5s", (0, 300): "300ns", (3723, 0): "1h2m3s", (-2, 0): "-2s"}
    assert {k: go_duration(*k) for k in durations} == durations
    assert parse_go_duration("1h2m3.5s") == (3723, 500_000_000)
    assert parse_go_duration("300ms") == (0, 300_000_000) and parse_go_duration("0") == (0, 0)
    assert parse_go_duration("-1.5h") == (-5400, 0)
    for bad in ("5", "", "1d", "h"):
        with pytest.raises(ValueError):
            parse_go_duration(bad)


def test_inputs_rendered_like_propeller() -> None:
    paths = _paths(Path("/x"))
    ts = literals_pb2.Literal()
    ts.scalar.primitive.datetime.FromJsonString("2026-01-02T03:04:05.500Z")
    dur = literals_pb2.Literal()
    dur.scalar.primitive.duration.FromSeconds(90)
    inputs = literals_pb2.LiteralMap(
        literals={
            "a": _p(integer=7),
            "x": _p(float_value=2.0),
            "flag": _p(boolean=True),
            "s": _p(string_value="hi there"),
            "t": ts,
            "d": dur,
            "f": _blob("/data/f.csv"),
            "xs": literals_pb2.Literal(
                collection=literals_pb2.LiteralCollection(literals=[_p(integer=1), _p(integer=2)])
            ),
        }
    )
    args = [
        "{{.Inputs.a}}", "{{ .inputs.x }}", "{{$Inputs.flag}}", "n={{.inputs.s}}!", "{{.inputs.t}}",
        "{{.inputs.d}}", "{{.inputs.f}}", "{{.inputs.xs}}", "{{.InputPrefix}}", "{{.OutputPrefix}}",
        "{{.RawOutputDataPrefix}}",
    ]  # fmt: skip
    assert render_args(args, paths, inputs=inputs) == [
        "7", "2", "true", "n=hi there!", "2026-01-02T03:04:05.5Z", "1m30s", "/data/f.csv", "[1,2]",
        "/x/md/n0/data", "/x/md/n0/data/0", "/x/raw/n0-0",
    ]  # fmt: skip
    assert render_args(["{{.inputs.a}}"], paths) == ["{{.inputs.a}}"]  # no inputs given: left as is
    with pytest.raises(LaunchError) as err:
        render_args(["{{.inputs.nope}}"], paths, inputs=inputs)
    assert err.value.origin is ErrorOrigin.USER and "no input [nope]" in str(err.value)
    as_map = literals_pb2.LiteralMap(
        literals={"m": literals_pb2.Literal(map=literals_pb2.LiteralMap(literals={"k": _p(integer=1)}))}
    )
    with pytest.raises(LaunchError, match=r"input template \[\{\{\.inputs\.m\}\}\]: a map value"):
        render_args(["{{.inputs.m}}"], paths, inputs=as_map)


def test_inputs_laid_out_like_copilot(tmp_path: Path) -> None:
    source = tmp_path / "dir"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "x.txt").write_text("x")
    dur = literals_pb2.Literal()
    dur.scalar.primitive.duration.FromNanoseconds(1_500_000_000)
    generic = literals_pb2.Literal()
    generic.scalar.generic.update({"k": [1, "v"]})
    inputs = literals_pb2.LiteralMap(
        literals={
            "x": _p(float_value=1e21),
            "d": dur,
            "none": literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void())),
            "xs": literals_pb2.Literal(
                collection=literals_pb2.LiteralCollection(literals=[_p(string_value="a")])
            ),
            "m": literals_pb2.Literal(map=literals_pb2.LiteralMap(literals={"k": _p(boolean=False)})),
            "dir": _blob(str(source), multipart=True),
            "g": generic,
            "bin": literals_pb2.Literal(
                scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"\x01"))
            ),
        }
    )
    out = tmp_path / "var" / "inputs"
    write_inputs(inputs, out, tasks_pb2.DataLoadingConfig.JSON)
    texts = {name: (out / name).read_text() for name in ("x", "d", "none", "xs/0", "m/k", "dir/sub/x.txt")}
    assert texts == {
        "x": "1000000000000000000000", "d": "1.5s", "none": "null", "xs/0": "a", "m/k": "false",
        "dir/sub/x.txt": "x",
    }  # fmt: skip
    assert json.loads((out / "g").read_text()) == {"k": [1, "v"]} and (out / "bin").read_bytes() == b"\x01"
    assert json.loads((out / "inputs.json").read_text()) == {
        "x": 1e21, "d": 1_500_000_000, "none": None, "xs": ["a"], "m": {"k": False}, "dir": str(out / "dir"),
        "g": {"k": [1, "v"]}, "bin": "AQ==",
    }  # fmt: skip
    local = literals_pb2.LiteralMap.FromString((out / "inputs.pb").read_bytes())
    assert local.literals["dir"].scalar.blob.uri == str(out / "dir")  # blobs point at the local copies
    assert rewrite_paths("cat /var/inputs/x /var/inputsx /var/outputs", {"/var/inputs": out}) == (
        f"cat {out}/x /var/inputsx /var/outputs"
    )


def _container_task(command: list[str], **outputs: type) -> tasks_pb2.TaskTemplate:
    """flytekit's own ContainerTask, serialized as `pyflyte register` would."""
    from flytekit import ContainerTask, kwtypes
    from flytekit.configuration import ImageConfig, SerializationSettings
    from flytekit.tools.translator import get_serializable
    from flytekit.types.file import FlyteFile

    task = ContainerTask(
        name="raw.square",
        image="alpine:3.19",
        input_data_dir="/var/inputs",
        output_data_dir="/var/outputs",
        inputs=kwtypes(a=int, f=FlyteFile),
        outputs=kwtypes(**outputs),
        command=command,
    )
    settings = SerializationSettings(
        image_config=ImageConfig.auto_default_image(),
        project="flytesnacks",
        domain="development",
        version="v1",
    )
    return get_serializable(OrderedDict(), settings, task).template.to_flyte_idl()  # type: ignore[no-any-return]


def _run(template: tasks_pb2.TaskTemplate, root: Path, inputs: dict[str, literals_pb2.Literal]) -> Any:
    return run_task_attempt(
        template,
        inputs=literals_pb2.LiteralMap(literals=inputs),
        python=VENV_PYTHON,
        work=_paths(root),
        execution=EXECUTION,
        node_id="n0",
        attempt=0,
        timeout_s=30,
    )


@pytest.mark.flytekit
def test_container_task_runs_on_the_host_with_copilot_data(tmp_path: Path) -> None:
    from flytekit.types.file import FlyteFile

    source = tmp_path / "in.txt"
    source.write_text("payload\n")
    script = (
        "echo $(( {{.inputs.a}} * {{.inputs.a}} )) > /var/outputs/out"
        " && cp /var/inputs/f /var/outputs/copy && cat /var/inputs/inputs.json > /var/outputs/seen"
        " && cat /var/inputs/a > /var/outputs/a_file"
    )
    template = _container_task(["sh", "-c", script], out=int, copy=FlyteFile, seen=str, a_file=int)
    assert template.type == "raw-container" and template.container.data_config.enabled
    result = _run(template, tmp_path, {"a": _p(integer=7), "f": _blob(str(source))})
    assert result.phase is AttemptPhase.SUCCEEDED, (result.error, result.log.read_text())
    assert result.outputs is not None and result.outputs_path == _paths(tmp_path).output_prefix / "outputs.pb"
    out = result.outputs.literals
    assert out["out"].scalar.primitive.integer == 49 and out["a_file"].scalar.primitive.integer == 7
    copy = Path(out["copy"].scalar.blob.uri)
    assert copy == _paths(tmp_path).raw_output_prefix / "copy" and copy.read_text() == "payload\n"
    assert json.loads(out["seen"].scalar.primitive.string_value) == {
        "a": 7,
        "f": str(_paths(tmp_path).workdir / "var/inputs/f"),
    }
    # the container paths were directories of the attempt, never the host's /var/inputs or /var/outputs
    assert (_paths(tmp_path).workdir / "var" / "inputs" / "inputs.pb").is_file()
    assert not Path("/var/outputs/out").exists()


@pytest.mark.flytekit
def test_container_task_error_file_and_unreadable_outputs_fail_the_task(tmp_path: Path) -> None:
    failing = _container_task(["sh", "-c", "echo boom > /var/outputs/_ERROR"], out=int)
    result = _run(failing, tmp_path / "a", {"a": _p(integer=1), "f": _blob(__file__)})
    assert result.phase is AttemptPhase.FAILED and result.error is not None
    assert result.error.origin is ErrorOrigin.USER and result.error.kind is ErrorKind.NON_RECOVERABLE
    assert "User Error: boom" in result.error.message
    not_an_int = _container_task(["sh", "-c", "echo many > /var/outputs/out"], out=int)
    result = _run(not_an_int, tmp_path / "b", {"a": _p(integer=1), "f": _blob(__file__)})
    assert result.phase is AttemptPhase.FAILED and result.error is not None
    assert "output [out]: cannot parse 'many'" in result.error.message and "INTEGER" in result.error.message
    missing = _container_task(["true"], out=int)
    result = _run(missing, tmp_path / "c", {"a": _p(integer=1), "f": _blob(__file__)})
    assert result.phase is AttemptPhase.FAILED and result.error is not None
    assert "output [out] was not written" in result.error.message


@pytest.mark.flytekit
def test_image_command_not_on_this_machine_is_a_clear_user_error(tmp_path: Path) -> None:
    template = _container_task(["acme-tool", "--size", "{{.inputs.a}}"], out=int)
    result = _run(template, tmp_path, {"a": _p(integer=1), "f": _blob(__file__)})
    assert result.phase is AttemptPhase.FAILED and result.error is not None
    assert result.error.code == "CommandNotFound" and result.error.origin is ErrorOrigin.USER
    assert result.error.kind is ErrorKind.NON_RECOVERABLE
    message = result.error.message
    assert "'acme-tool'" in message and "'alpine:3.19'" in message and "no container runtime" in message
    assert "Install 'acme-tool' here, or run the task on a Flyte cluster" in message
    assert "acme-tool" in result.log.read_text()  # the linked log explains too


WORKFLOW = """
from flytekit import ContainerTask, kwtypes, task, workflow

square = ContainerTask(
    name="square",
    image="alpine:3.19",
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs=kwtypes(val=int),
    outputs=kwtypes(out=int),
    command=["sh", "-c", "echo $(( {{.inputs.val}} * {{.inputs.val}} )) > /var/outputs/out"],
)

missing = ContainerTask(
    name="missing",
    image="ghcr.io/acme/tool:1",
    inputs=kwtypes(val=int),
    command=["acme-tool", "{{.inputs.val}}"],
)


@task
def plus_one(x: int) -> int:
    return x + 1


@workflow
def wf(val: int) -> int:
    return plus_one(x=square(val=val))


@workflow
def broken(val: int):
    missing(val=val)
"""

READ = """
import sys
from datetime import timedelta
from flytekit.configuration import Config
from flytekit.remote import FlyteRemote

remote = FlyteRemote(Config.auto(sys.argv[1]), default_project="flytesnacks", default_domain="development")
ok = remote.wait(remote.fetch_execution(name=sys.argv[2]), timeout=timedelta(seconds=90))
bad = remote.wait(remote.fetch_execution(name=sys.argv[3]), timeout=timedelta(seconds=90))
print(ok.closure.phase, ok.outputs["o0"], bad.closure.phase, bad.closure.error.message.replace("\\n", " "))
"""


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("raw") / "state")
    yield b
    b.stop()


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_container_task_through_pyflyte_run_remote(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "raw_wf.py").write_text(WORKFLOW)
    pyflyte = str(VENV_BIN / "pyflyte")
    for name, workflow in (("raw-ok", "wf"), ("raw-missing", "broken")):
        proc = subprocess.run(
            [pyflyte, "--config", str(backend.config), "run", "--remote", "--name", name, "raw_wf.py",
             workflow, "--val", "6"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    proc = subprocess.run(
        [sys.executable, "-c", READ, str(backend.config), "raw-ok", "raw-missing"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    ok_phase, value, bad_phase, message = proc.stdout.strip().splitlines()[-1].split(" ", 3)
    assert (ok_phase, value) == ("4", "37")  # SUCCEEDED, 6 * 6 + 1
    assert bad_phase == "6" and "'acme-tool'" in message and "'ghcr.io/acme/tool:1'" in message
