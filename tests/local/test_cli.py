"""``flyte-ls local start|status`` as a user runs them: real processes, real ports, real signals."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import psutil
import pytest
from flyteidl.admin import common_pb2, execution_pb2, project_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc
from local_backend import VENV_PYTHON, Backend, env_with_path, free_port, run_cli, start_backend

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("cli") / "state")
    yield b
    b.stop()


def test_start_writes_config_status_and_banner(backend: Backend) -> None:
    config = backend.config.read_text()
    assert f"endpoint: dns:///127.0.0.1:{backend.port}\n" in config
    assert "insecure: true\n" in config
    assert f"console:\n  endpoint: http://127.0.0.1:{backend.http_port}\n" in config
    status = backend.status
    assert status["pid"] == backend.proc.pid
    assert status["host"] == "127.0.0.1"
    assert status["state_dir"] == str(backend.state_dir)
    assert status["python"] == VENV_PYTHON
    assert status["flytekit_version"]
    # the status file is written before the banner is printed: wait for the banner (bounded)
    deadline = time.monotonic() + 20
    while "Ctrl-C" not in backend.stdout() and time.monotonic() < deadline:
        time.sleep(0.05)
    out = backend.stdout()
    assert f"pyflyte --config {backend.config} run --remote" in out
    assert f"export FLYTECTL_CONFIG={backend.config}" in out
    assert f"127.0.0.1:{backend.port}" in out


def test_config_is_read_by_flytekit(backend: Backend) -> None:
    """flytekit's own config loader sees the endpoint, insecure and console endpoint we wrote."""
    code = (
        "import json, sys; from flytekit.configuration import Config; "
        "c = Config.auto(config_file=sys.argv[1]).platform; "
        "print(json.dumps([c.endpoint, c.insecure, c.console_endpoint]))"
    )
    proc = subprocess.run(
        [VENV_PYTHON, "-c", code, str(backend.config)], capture_output=True, text=True, timeout=90
    )
    assert proc.returncode == 0, proc.stderr
    endpoint, insecure, console = json.loads(proc.stdout.strip().splitlines()[-1])
    assert endpoint == f"127.0.0.1:{backend.port}"
    assert insecure is True
    assert console == f"http://127.0.0.1:{backend.http_port}"


def test_status_reports_running_backend(backend: Backend) -> None:
    proc = run_cli("status", "--state-dir", str(backend.state_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"pid {backend.proc.pid}" in proc.stdout
    assert f"127.0.0.1:{backend.port}" in proc.stdout
    assert f"http://127.0.0.1:{backend.http_port}/console" in proc.stdout
    assert f"Tasks run with:         {VENV_PYTHON} (Python {_python_version(VENV_PYTHON)}, flytekit " in (
        proc.stdout
    )


def _python_version(python: str) -> str:
    """``3.11.7``: the version ``python`` reports when it runs."""
    code = "import platform; print(platform.python_version())"
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout.strip()


def test_status_json_running(backend: Backend) -> None:
    proc = run_cli("status", "--json", "--state-dir", str(backend.state_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["running"] is True
    assert report["pid"] == backend.proc.pid
    assert (report["host"], report["port"], report["http_port"]) == (
        "127.0.0.1",
        backend.port,
        backend.http_port,
    )
    assert report["admin_endpoint"] == f"127.0.0.1:{backend.port}"
    assert report["console_url"] == f"http://127.0.0.1:{backend.http_port}/console"
    assert report["state_dir"] == str(backend.state_dir)
    assert report["config"] == str(backend.config)
    assert report["python"] == VENV_PYTHON and report["flytekit_version"]
    assert report["python_version"] == _python_version(VENV_PYTHON)  # asked of the task interpreter itself
    assert report["started_at"]


def test_status_not_running(tmp_path: Path) -> None:
    proc = run_cli("status", "--state-dir", str(tmp_path / "nothing-here"))
    assert proc.returncode == 1
    assert "no local backend is running" in proc.stdout
    proc = run_cli("status", "--json", "--state-dir", str(tmp_path / "nothing-here"))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["running"] is False and report["state_dir"] == str(tmp_path / "nothing-here")
    assert "no local backend is running" in report["reason"]


def test_status_honours_xdg_data_home(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path))
    proc = run_cli("status", env=env)
    assert proc.returncode == 1
    assert str(tmp_path / "flyte-ls" / "local") in proc.stdout


def test_status_stale_file(tmp_path: Path) -> None:
    """A status file left by a backend that died (kill -9): its pid is gone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(30)
    status = {
        "pid": dead.pid,
        "host": "127.0.0.1",
        "port": free_port(),
        "http_port": free_port(),
        "state_dir": str(tmp_path),
        "python": VENV_PYTHON,
        "flytekit_version": "1.16.31",
        "started_at": "2026-01-01T00:00:00+00:00",
        "config": str(tmp_path / "config.yaml"),
    }
    (tmp_path / "status.json").write_text(json.dumps(status))
    proc = run_cli("status", "--state-dir", str(tmp_path))
    assert proc.returncode == 1
    assert "stale status file" in proc.stdout and str(dead.pid) in proc.stdout
    proc = run_cli("status", "--json", "--state-dir", str(tmp_path))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["running"] is False and "stale status file" in report["reason"]


def test_status_pid_reused_by_another_process(tmp_path: Path) -> None:
    """A live pid that is not a backend (here: the test process itself) and no server: not running."""
    status = {"pid": os.getpid(), "host": "127.0.0.1", "port": free_port(), "http_port": free_port()}
    status |= {"state_dir": str(tmp_path)}
    (tmp_path / "status.json").write_text(json.dumps(status))
    proc = run_cli("status", "--state-dir", str(tmp_path))
    assert proc.returncode == 1
    assert "does not answer" in proc.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_stops_cleanly(tmp_path: Path, sig: int) -> None:
    b = start_backend(tmp_path / "state")
    assert (tmp_path / "state" / "status.json").exists()
    # a client keeps its channel open across the stop: the backend must not wait for it
    channel = grpc.insecure_channel(f"127.0.0.1:{b.port}")
    admin = admin_pb2_grpc.AdminServiceStub(channel)
    admin.GetDomains(project_pb2.GetDomainRequest(), timeout=10)
    assert b.stop(sig) == 0
    channel.close()
    assert not (tmp_path / "state" / "status.json").exists()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", b.port), timeout=2):
        pass
    proc = run_cli("status", "--state-dir", str(tmp_path / "state"))
    assert proc.returncode == 1 and "no local backend is running" in proc.stdout
    assert "Traceback" not in b.stderr()
    # and it starts again on the same state dir
    again = start_backend(tmp_path / "state")
    assert again.stop() == 0


def test_partial_uploads_of_a_dead_backend_are_removed(tmp_path: Path) -> None:
    leftover = tmp_path / "state" / "tmp" / "uploads" / "put-abc.part"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half an upload")
    b = start_backend(tmp_path / "state")
    try:
        assert not leftover.exists()
    finally:
        b.stop()


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_cli("start", "--port", str(port), "--state-dir", str(tmp_path), "--python", VENV_PYTHON)
        assert proc.returncode == 1
        assert f"port {port}" in proc.stderr and "--port" in proc.stderr
        assert "Traceback" not in proc.stderr
        proc = run_cli(
            "start",
            "--port",
            "0",
            "--http-port",
            str(port),
            "--state-dir",
            str(tmp_path),
            "--python",
            VENV_PYTHON,
        )
        assert proc.returncode == 1
        assert f"port {port}" in proc.stderr and "--http-port" in proc.stderr
    assert not (tmp_path / "status.json").exists()


def test_second_backend_on_same_state_dir(backend: Backend) -> None:
    proc = run_cli("start", "--port", "0", "--state-dir", str(backend.state_dir), "--python", VENV_PYTHON)
    assert proc.returncode == 1
    assert "another flyte-ls local backend is running" in proc.stderr
    # the running backend's status file survives the refused start
    assert json.loads((backend.state_dir / "status.json").read_text())["pid"] == backend.proc.pid


def test_http_port_defaults_to_port_plus_one(tmp_path: Path) -> None:
    for _ in range(20):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        break
    b = start_backend(tmp_path / "state", port=port, http_port=None)
    try:
        assert (b.port, b.http_port) == (port, port + 1)
    finally:
        b.stop()


def _fake_python(directory: Path, name: str = "python3") -> Path:
    """A stand-in interpreter that cannot import flytekit. A fake, because whether a real interpreter on
    this machine lacks flytekit depends on the machine; this one fails `import flytekit` as such a python
    does."""
    directory.mkdir(parents=True, exist_ok=True)
    fake = directory / name
    fake.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'flytekit'\" >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return fake


def test_explicit_python_without_flytekit(tmp_path: Path) -> None:
    fake = _fake_python(tmp_path / "bin")
    proc = run_cli("start", "--port", "0", "--state-dir", str(tmp_path / "state"), "--python", str(fake))
    assert proc.returncode == 1
    assert str(fake) in proc.stderr
    assert "No module named 'flytekit'" in proc.stderr
    assert "--python /path/to/venv/bin/python" in proc.stderr and "pip install flytekit" in proc.stderr
    assert not (tmp_path / "state" / "status.json").exists()


def test_no_python_on_path_can_import_flytekit(tmp_path: Path) -> None:
    fake = _fake_python(tmp_path / "bin")
    env = env_with_path(str(tmp_path / "bin"))
    proc = run_cli("start", "--port", "0", "--state-dir", str(tmp_path / "state"), env=env)
    assert proc.returncode == 1
    assert "no python3 on PATH can import flytekit" in proc.stderr
    assert str(fake) in proc.stderr
    assert "pip install flytekit" in proc.stderr


def test_default_python_is_first_on_path_that_imports_flytekit(tmp_path: Path) -> None:
    _fake_python(tmp_path / "first")
    good = tmp_path / "second" / "python3"
    good.parent.mkdir()
    good.write_text(f'#!/bin/sh\nexec {VENV_PYTHON} "$@"\n')  # the venv's python under another path
    good.chmod(good.stat().st_mode | stat.S_IXUSR)
    env = env_with_path(f"{tmp_path / 'first'}{os.pathsep}{tmp_path / 'second'}")
    b = start_backend(tmp_path / "state", python=None, env=env)
    try:
        assert b.status["python"] == str(good)
    finally:
        b.stop()


_WORKFLOWS = """
from flytekit import task, workflow


@task
def double(x: int) -> int:
    return 2 * x


@workflow
def pipeline(x: int = 3) -> int:
    return double(x=double(x=x))
"""


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_pyflyte_register_against_started_backend(backend: Backend, tmp_path: Path) -> None:
    """Real `pyflyte --config <config.yaml> register`: fast-register upload (DataProxy + PUT) and the entities
    (AdminService) reach the backend that `flyte-ls local start` runs."""
    pkg = tmp_path / "proj" / "wfpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "flows.py").write_text(_WORKFLOWS)
    cmd = [
        str(Path(VENV_PYTHON).parent / "pyflyte"),
        "--config",
        str(backend.config),
        "register",
        "--project",
        "flytesnacks",
        "--domain",
        "development",
        "--version",
        "v1",
        "wfpkg",
    ]
    for attempt in range(2):  # the second run re-registers the same version: must succeed too
        proc = subprocess.run(cmd, cwd=pkg.parent, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, f"attempt {attempt}: {proc.stdout}\n{proc.stderr}"
    uploads = list((backend.state_dir / "uploads" / "flytesnacks" / "development").rglob("fast*.tar.gz"))
    assert uploads, "the fast-register archive was not uploaded"

    with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        wf_id = identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW,
            project="flytesnacks",
            domain="development",
            name="wfpkg.flows.pipeline",
            version="v1",
        )
        wf = admin.GetWorkflow(common_pb2.ObjectGetRequest(id=wf_id), timeout=10)
        assert wf.id.name == "wfpkg.flows.pipeline"
        task_id = identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project="flytesnacks",
            domain="development",
            name="wfpkg.flows.double",
            version="v1",
        )
        task = admin.GetTask(common_pb2.ObjectGetRequest(id=task_id), timeout=10)
        args = list(task.closure.compiled_task.template.container.args)
        # the task's fast-register distribution is the uploaded archive, as a plain absolute path
        assert str(uploads[0]) in args

    # the console pages of the registered versions (the URLs flytekit prints for entities)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    dev = "/console/projects/flytesnacks/domains/development"
    base = f"http://127.0.0.1:{backend.http_port}{dev}"
    double = f"<a href='{dev}/task/wfpkg.flows.double/version/v1'>wfpkg.flows.double</a>"
    for kind, name, expect in [
        ("task", "wfpkg.flows.double", ["<th>x</th><td>int</td>"]),
        (
            "workflow",
            "wfpkg.flows.pipeline",
            [  # the node table: each node, its kind, the task version it runs, the nodes it waits for
                f"<tr id='node-n0'><th scope='row'>n0</th><td>task</td><td>{double}</td><td></td></tr>",
                f"<tr id='node-n1'><th scope='row'>n1</th><td>task</td><td>{double}</td><td>n0</td></tr>",
            ],
        ),
        ("launch_plan", "wfpkg.flows.pipeline", ["workflow wfpkg.flows.pipeline @ v1"]),
    ]:
        with opener.open(f"{base}/{kind}/{name}/version/v1", timeout=30) as resp:
            page = resp.read().decode()
        assert resp.status == 200 and name in page, page
        assert all(x in page for x in expect), (expect, page)
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(f"{base}/task/wfpkg.flows.double/version/v9", timeout=30)
    assert err.value.code == 404


def test_ipv6_loopback(tmp_path: Path) -> None:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    b = start_backend(tmp_path / "state", "--host", "::1", wait_host="::1")
    try:
        config = b.config.read_text()
        assert f"endpoint: dns:///[::1]:{b.port}\n" in config
        assert f"endpoint: http://[::1]:{b.http_port}\n" in config
        proc = run_cli("status", "--state-dir", str(b.state_dir))
        assert proc.returncode == 0, proc.stdout
        assert f"[::1]:{b.port}" in proc.stdout
    finally:
        b.stop()


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_pyflyte_run_remote_prints_console_url_that_opens(backend: Backend, tmp_path: Path) -> None:
    """Real `pyflyte --config <config.yaml> run --remote`: the execution is created and the console URL that
    pyflyte prints opens a page on this backend."""
    (tmp_path / "flows.py").write_text(_WORKFLOWS)
    pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
    cmd = [pyflyte, "--config", str(backend.config), "run", "--remote", "flows.py", "pipeline", "--x", "4"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    urls = re.findall(r"http://\S+/console/projects/\S+/executions/[a-z0-9]+", proc.stdout)
    assert urls, proc.stdout
    url = urls[-1]
    assert url.startswith(
        f"http://127.0.0.1:{backend.http_port}/console/projects/flytesnacks/domains/development/"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    name = url.rsplit("/", 1)[-1]
    with opener.open(url, timeout=30) as resp:
        assert resp.status == 200
        page = resp.read().decode()
    assert f"Execution {name}" in page
    assert "flows.pipeline" in page  # the launch plan
    assert "<th>x</th><td><pre>4</pre>" in page  # the input
    listing = url.rsplit("/", 1)[0]  # the project's executions list
    with opener.open(listing, timeout=30) as resp:
        assert name in resp.read().decode()
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(listing + "/nosuchexec", timeout=30)
    assert err.value.code == 404


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "--port", "70000"], "--port 70000 is not a port number"),
        (["start", "--port", "30100", "--http-port", "30100"], "--http-port must differ from --port"),
        (["start", "--max-upload-mib", "0"], "--max-upload-mib must be positive"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_cli(*args, "--state-dir", str(tmp_path))
    assert proc.returncode == 1 and message in proc.stderr
    assert not (tmp_path / "status.json").exists()


def test_no_action_prints_usage() -> None:
    proc = run_cli()
    assert proc.returncode == 2 and "flyte-ls local {start,status,stop}" in proc.stderr


def test_damaged_store_is_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "admin.db").write_bytes(b"this is not a sqlite database" * 100)
    proc = run_cli("start", "--port", "0", "--state-dir", str(state), "--python", VENV_PYTHON)
    assert proc.returncode == 1
    assert "cannot open the backend's store" in proc.stderr and str(state) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (state / "admin.db").read_bytes().startswith(b"this is not a sqlite database")  # left as it was
    assert not (state / "status.json").exists()


_FILE_WORKFLOW = """
from flytekit import task
from flytekit.types.file import FlyteFile


@task
def size(f: FlyteFile) -> int:
    with open(f) as fh:
        return len(fh.read())
"""


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_pyflyte_run_remote_uploads_flytefile_input(backend: Backend, tmp_path: Path) -> None:
    """A FlyteFile input of `pyflyte run --remote` goes through CreateUploadLocation + PUT (flytekit's
    flyte:// file system); the execution's input is the plain absolute path of the stored upload."""
    (tmp_path / "files.py").write_text(_FILE_WORKFLOW)
    data = tmp_path / "data.txt"
    data.write_text("twelve bytes")
    pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
    cmd = [pyflyte, "--config", str(backend.config), "run", "--remote", "files.py", "size", "--f", str(data)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    name = re.findall(r"/executions/([a-z0-9]+)", proc.stdout)[-1]
    ident = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)
    with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        got = admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=ident), timeout=10)
    uri = got.full_inputs.literals["f"].scalar.blob.uri
    assert not uri.startswith("file://")
    stored = Path(uri)
    assert stored.is_relative_to(backend.state_dir / "uploads" / "flytesnacks" / "development")
    assert stored.read_text() == "twelve bytes"


_WF = core_execution_pb2.WorkflowExecution
_WF_TERMINAL = (_WF.SUCCEEDED, _WF.FAILED, _WF.ABORTED, _WF.TIMED_OUT)

_FLYTEKIT_GET = """
import json, sys
from flytekit.configuration import Config
from flytekit.remote import FlyteRemote
remote = FlyteRemote(Config.auto(config_file=sys.argv[1]))
outputs = remote.get(sys.argv[2])
print(json.dumps({"o0": outputs.get("o0", int)}))
"""


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_executed_run_console_page_logs_and_flyte_url(backend: Backend, tmp_path: Path) -> None:
    """A real `pyflyte run --remote`, run by the backend's executor: its console page shows the outcome and
    the nodes with log links that open, and flytekit's `remote.get("flyte://...")` reads a node's outputs."""
    (tmp_path / "flows.py").write_text(_WORKFLOWS)
    pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
    cmd = [pyflyte, "--config", str(backend.config), "run", "--remote", "flows.py", "pipeline", "--x", "4"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    url = re.findall(r"http://\S+/console/projects/\S+/executions/[a-z0-9]+", proc.stdout)[-1]
    name = url.rsplit("/", 1)[-1]
    ident = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)
    with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        deadline = time.monotonic() + 180
        while True:
            ex = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident), timeout=10)
            if ex.closure.phase in _WF_TERMINAL:
                break
            assert time.monotonic() < deadline, f"execution still in phase {ex.closure.phase}"
            time.sleep(0.5)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as resp:
        page = resp.read().decode()
    assert "<span class='SUCCEEDED'>SUCCEEDED</span>" in page, page
    assert "<h2>Outputs</h2>" in page and "<pre>16</pre>" in page
    assert "refresh" not in page  # a finished execution's page does not reload itself
    logs = re.findall(r"href='(http://[^']+/files/[^']+)'", page)
    assert len(logs) >= 2, page  # one per task node
    with opener.open(logs[0], timeout=30) as resp:
        assert resp.status == 200

    proc = subprocess.run(
        [
            VENV_PYTHON,
            "-c",
            _FLYTEKIT_GET,
            str(backend.config),
            f"flyte://v1/flytesnacks/development/{name}/n1/o",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"o0": 16}


_SLOW = """
import time

from flytekit import task


@task
def slow(s: int) -> int:
    time.sleep(s)
    return s
"""


def _processes_of(state: Path, wait_s: float = 5.0) -> list[str]:
    """Live processes of the backend on ``state`` (after up to ``wait_s`` for them to exit): those that
    mention it on their command line (spawned tasks, helpers) or run in it (tasks forked by the pool)."""
    deadline = time.monotonic() + wait_s
    text = str(state)
    while True:
        found = []
        for p in psutil.process_iter(["cmdline", "cwd", "status"]):
            cmdline = " ".join(p.info["cmdline"] or [])
            in_state = (p.info["cwd"] or "").startswith(text + os.sep)
            if (text in cmdline or in_state) and p.pid != os.getpid() and p.info["status"] != "zombie":
                found.append(cmdline)
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_sigterm_with_a_running_execution_then_restart(tmp_path: Path) -> None:
    """SIGTERM while a task runs: the backend still stops promptly, kills the task and removes its status
    file; the execution ends ABORTED with the reason (a clean stop aborts; only a killed backend's executions
    are resumed, tests/local/test_recovery.py), and the next start leaves it so."""
    b = start_backend(tmp_path / "state")
    (tmp_path / "slow.py").write_text(_SLOW)
    pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
    cmd = [pyflyte, "--config", str(b.config), "run", "--remote", "slow.py", "slow", "--s", "120"]
    try:
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        name = re.findall(r"/executions/([a-z0-9]+)", proc.stdout)[-1]
        ident = identifier_pb2.WorkflowExecutionIdentifier(
            project="flytesnacks", domain="development", name=name
        )
        with grpc.insecure_channel(f"127.0.0.1:{b.port}") as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            deadline = time.monotonic() + 60
            while (
                admin.GetExecution(
                    execution_pb2.WorkflowExecutionGetRequest(id=ident), timeout=10
                ).closure.phase
                != _WF.RUNNING
            ):
                assert time.monotonic() < deadline, "the execution never started running"
                time.sleep(0.2)
        deadline = time.monotonic() + 60
        while not _processes_of(tmp_path / "state" / "executions", wait_s=0):
            assert time.monotonic() < deadline, "no task process was started"
            time.sleep(0.2)
        started = time.monotonic()
        assert b.stop(signal.SIGTERM, timeout=30) == 0
        assert time.monotonic() - started < 30
        assert not (tmp_path / "state" / "status.json").exists()
        assert _processes_of(tmp_path / "state") == [], "the task's process outlived the backend"
    finally:
        b.stop(signal.SIGKILL)

    again = start_backend(tmp_path / "state")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{again.port}") as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            ex = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident), timeout=10)
        assert ex.closure.phase == _WF.ABORTED
        assert "the local backend was stopped" in ex.closure.abort_metadata.cause
    finally:
        again.stop()
