"""The fork-server pool (flyte_ls.local.pool) gives exactly what spawning flytekit's entrypoints gives.

Every comparison runs the same attempt twice in the same directories, once spawned (`FLYTE_LS_LOCAL_POOL=0`)
and once forked from the pool, with real flytekit and real `pyflyte package` output, and compares
outputs.pb / error.pb / futures.pb. What is not deterministic in flytekit itself, run after run:
- the order of map entries on the wire (a LiteralMap with several outputs, a dict output, protobuf maps inside
  futures.pb): the protobuf runtime iterates its maps in an order seeded per process (two spawned runs differ
  too). Files are compared byte for byte after re-serializing them deterministically (map keys sorted), and
  raw byte for byte where they hold at most one entry per map.
- `ContainerError.timestamp` in error.pb (the time of the failure);
- the random directory flytekit puts a FlyteFile under (`<raw prefix>/<32 hex>/out.txt`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flyteidl.core import dynamic_job_pb2, errors_pb2, literals_pb2
from google.protobuf.message import Message
from task_package import PYTHON, REPO, Package, attempt_paths, package_tasks

from flyte_ls.local import pool
from flyte_ls.local.runner import AttemptPaths, AttemptPhase, AttemptResult, ExecutionKey, run_task_attempt

pytestmark = pytest.mark.flytekit

DATA = Path(__file__).parent / "data" / "pool"
EXECUTION = ExecutionKey("flytesnacks", "development", "pool1")
MODULE = "pool_pkg.tasks"
RESULT_FILES = ("outputs.pb", "error.pb", "futures.pb")


def _package(tmp: Path, copy: str) -> Package:
    return package_tasks(DATA, "pool_pkg", tmp, copy, EXECUTION)


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Package]:
    yield _package(tmp_path_factory.mktemp("fast"), "all")
    pool.shutdown_all()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return _package(tmp_path_factory.mktemp("plain"), "none")


def _paths(root: Path) -> AttemptPaths:
    return attempt_paths(root, root / "raw" / "ab" / f"{EXECUTION.name}-n0-0")


def _lit(value: object) -> literals_pb2.Literal:
    if isinstance(value, list):
        return literals_pb2.Literal(
            collection=literals_pb2.LiteralCollection(literals=[_lit(v) for v in value])
        )
    if isinstance(value, dict):
        return literals_pb2.Literal(
            map=literals_pb2.LiteralMap(literals={k: _lit(v) for k, v in value.items()})
        )
    if isinstance(value, bool):
        primitive = literals_pb2.Primitive(boolean=value)
    elif isinstance(value, int):
        primitive = literals_pb2.Primitive(integer=value)
    elif isinstance(value, float):
        primitive = literals_pb2.Primitive(float_value=value)
    else:
        primitive = literals_pb2.Primitive(string_value=str(value))
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


@contextlib.contextmanager
def _mode(mode: str) -> Iterator[None]:
    before = os.environ.get(pool.POOL_ENV)
    os.environ[pool.POOL_ENV] = "0" if mode == "spawn" else "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(pool.POOL_ENV, None)
        else:
            os.environ[pool.POOL_ENV] = before


@dataclass
class Run:
    result: AttemptResult
    files: dict[str, bytes]
    log: str


def _attempt(package: Package, task: str, root: Path, inputs: dict[str, literals_pb2.Literal], mode: str,
             **kwargs: object) -> Run:  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)
    kwargs.setdefault("python", PYTHON)
    with _mode(mode):
        result = run_task_attempt(
            package.templates[task],
            inputs=literals_pb2.LiteralMap(literals=inputs),
            work=_paths(root),
            execution=EXECUTION,
            node_id="n0",
            attempt=0,
            fast_distribution=str(package.tarball) if package.tarball else None,
            workflow_name=f"{MODULE}.everything",
            **kwargs,  # type: ignore[arg-type]
        )
    out = _paths(root).output_prefix
    files = {name: (out / name).read_bytes() for name in RESULT_FILES if (out / name).is_file()}
    log = result.log.read_text()
    if mode == "spawn":
        assert f"# spawned: {pool.POOL_ENV}=0" in log
    else:
        assert "# spawned" not in log and "fork server" not in log, log[-3000:]
    return Run(result, files, log)


def _both(package: Package, task: str, root: Path, inputs: dict[str, literals_pb2.Literal],
          **kwargs: object) -> tuple[Run, Run]:  # fmt: skip
    spawned = _attempt(package, task, root, inputs, "spawn", **kwargs)
    forked = _attempt(package, task, root, inputs, "pool", **kwargs)
    assert spawned.result.phase == forked.result.phase, (spawned.log[-2000:], forked.log[-2000:])
    assert spawned.result.exit_code == forked.result.exit_code
    assert set(spawned.files) == set(forked.files)
    return spawned, forked


_TYPES: dict[str, type[Message]] = {
    "outputs.pb": literals_pb2.LiteralMap,
    "error.pb": errors_pb2.ErrorDocument,
    "futures.pb": dynamic_job_pb2.DynamicJobSpec,
}


def _canonical(name: str, data: bytes) -> bytes:
    return _TYPES[name].FromString(data).SerializeToString(deterministic=True)


def _assert_same(spawned: Run, forked: Run, *, raw: bool = False) -> None:
    """The same result files; `raw`: the same bytes as written (no map with several entries in them)."""
    assert set(forked.files) == set(spawned.files)
    for name, data in spawned.files.items():
        assert _canonical(name, forked.files[name]) == _canonical(name, data), name
        if raw:
            assert forked.files[name] == data, name


def _outputs(run: Run) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap.FromString(run.files["outputs.pb"])


@pytest.mark.timeout(240)
def test_plain_types_give_identical_outputs(fast: Package, tmp_path: Path) -> None:
    cases: list[tuple[str, dict[str, literals_pb2.Literal], bool]] = [
        ("scalars", {"i": _lit(41), "f": _lit(1.25), "s": _lit("héllo"), "b": _lit(True)}, False),
        ("collections", {"xs": _lit([1, 2, 3, 4]), "m": _lit({"b": 3.0, "a": 5.0})}, False),
        ("make_point", {"x": _lit(8), "label": _lit("pt")}, False),
        ("nothing", {}, True),
        ("square", {"x": _lit(-4)}, True),
    ]
    made = None
    for task, inputs, raw in cases:
        spawned, forked = _both(fast, task, tmp_path / task, inputs)
        assert spawned.result.phase is AttemptPhase.SUCCEEDED, spawned.log[-3000:]
        _assert_same(spawned, forked, raw=raw)
        if task == "make_point":
            made = _outputs(forked)
    assert made is not None
    # A dataclass and an enum produced by flytekit, fed back in.
    spawned, forked = _both(
        fast, "move_point", tmp_path / "move", {"p": made.literals["o0"], "c": made.literals["o1"]}
    )
    assert spawned.result.phase is AttemptPhase.SUCCEEDED
    _assert_same(spawned, forked, raw=True)  # one output: a dataclass (msgpack bytes)
    date = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive()))
    date.scalar.primitive.datetime.FromJsonString("2024-02-28T23:30:00Z")
    delta = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive()))
    delta.scalar.primitive.duration.FromSeconds(3600)
    spawned, forked = _both(fast, "later", tmp_path / "later", {"d": date, "t": delta})
    assert spawned.result.phase is AttemptPhase.SUCCEEDED
    _assert_same(spawned, forked, raw=True)
    assert _outputs(forked).literals["o0"].scalar.primitive.datetime.ToJsonString() == "2024-02-29T00:30:00Z"


@pytest.mark.timeout(240)
def test_failures_give_identical_error_documents_but_the_time(fast: Package, tmp_path: Path) -> None:
    for task, kind in (("fails", errors_pb2.ContainerError.NON_RECOVERABLE),
                       ("flaky", errors_pb2.ContainerError.RECOVERABLE)):  # fmt: skip
        spawned, forked = _both(fast, task, tmp_path / task, {"x": _lit(3)})
        assert forked.result.phase is AttemptPhase.FAILED and forked.result.error is not None
        assert forked.result.error.kind == kind and forked.result.exit_code == 0
        assert set(forked.files) == {"error.pb"}
        ours = errors_pb2.ErrorDocument.FromString(forked.files["error.pb"])
        theirs = errors_pb2.ErrorDocument.FromString(spawned.files["error.pb"])
        assert ours.error.timestamp.seconds > 0
        ours.error.timestamp.CopyFrom(theirs.error.timestamp)  # when it failed: the only difference
        assert ours.SerializeToString() == spawned.files["error.pb"], (ours, theirs)
        assert "Traceback" in ours.error.message or "Trace:" in ours.error.message


@pytest.mark.timeout(240)
def test_dynamic_futures_and_map_index_are_identical(fast: Package, tmp_path: Path) -> None:
    spawned, forked = _both(fast, "fan_out", tmp_path / "dyn", {"n": _lit(3)})
    assert forked.result.phase is AttemptPhase.SUCCEEDED, forked.log[-3000:]
    assert set(forked.files) == {"futures.pb"}
    _assert_same(spawned, forked)  # its task templates hold protobuf maps (config, custom)

    name = next(n for n in fast.templates if n.startswith("map_square"))
    spawned, forked = _both(fast, name, tmp_path / "map", {"x": _lit([2, 3, 4])}, array_index=1)
    assert forked.result.phase is AttemptPhase.SUCCEEDED, forked.log[-3000:]
    _assert_same(spawned, forked, raw=True)
    assert _outputs(forked).literals["o0"].scalar.primitive.integer == 9


@pytest.mark.timeout(240)
def test_file_output_differs_only_in_flytekits_random_directory(fast: Package, tmp_path: Path) -> None:
    spawned, forked = _both(fast, "file_out", tmp_path / "file", {"text": _lit("payload")})
    assert forked.result.phase is AttemptPhase.SUCCEEDED, forked.log[-3000:]
    uris = [_outputs(run).literals["o0"].scalar.blob.uri for run in (spawned, forked)]
    random_dir = re.compile(r"/[0-9a-f]{32}/out\.txt$")
    assert all(random_dir.search(uri) for uri in uris), uris
    assert Path(uris[1]).read_text() == "payload"
    aligned = forked.files["outputs.pb"].replace(uris[1].encode(), uris[0].encode())
    assert aligned == spawned.files["outputs.pb"]


def _probe(package: Package, root: Path, **kwargs: object) -> tuple[dict[str, str], dict[str, str]]:
    spawned, forked = _both(package, "probe", root, {}, **kwargs)
    assert forked.result.phase is AttemptPhase.SUCCEEDED, forked.log[-3000:]
    seen = []
    for run in (spawned, forked):
        values = {
            k: v.scalar.primitive.string_value for k, v in _outputs(run).literals["o0"].map.literals.items()
        }
        env = json.loads(values["env"])
        env.pop(pool.POOL_ENV, None)  # the switch this test flips
        values["env"] = json.dumps(env)
        seen.append(values)
    return seen[0], seen[1]


@pytest.mark.timeout(240)
def test_the_task_sees_the_process_a_spawned_task_sees(fast: Package, plain: Package, tmp_path: Path) -> None:
    for package, root, extra in (
        (fast, tmp_path / "fast", {}),
        (plain, tmp_path / "plain", {"extra_env": {"PYTHONPATH": f"{plain.source}{os.pathsep}relative"}}),
    ):
        spawned, forked = _probe(package, root, **extra)
        env_s, env_f = json.loads(spawned["env"]), json.loads(forked["env"])
        assert {
            k: ("spawned", env_s.get(k), "forked", env_f.get(k))
            for k in {*env_s, *env_f}
            if env_s.get(k) != env_f.get(k)
        } == {}
        for key in spawned:
            assert forked[key] == spawned[key], (key, spawned[key], forked[key])
        assert spawned["cwd"] == str(root / "work" / "n0-0")
        assert spawned["tempdir"] == str(root / "work" / "n0-0" / ".tmp")
    path = json.loads(forked["path"])
    assert path[1:3] == [str(plain.source), str(root / "work" / "n0-0" / "relative")]


@pytest.mark.timeout(120)
def test_forked_attempts_draw_their_own_random_numbers(fast: Package, tmp_path: Path) -> None:
    values = set()
    for i in range(2):
        run = _attempt(fast, "lucky", tmp_path / str(i), {}, "pool")
        values.add(_outputs(run).literals["o0"].scalar.primitive.float_value)
    assert len(values) == 2


@pytest.mark.timeout(120)
def test_a_start_up_variable_that_differs_makes_the_child_exec_the_command(
    fast: Package, tmp_path: Path
) -> None:
    with _mode("pool"):
        result = run_task_attempt(
            fast.templates["square"], inputs=literals_pb2.LiteralMap(literals={"x": _lit(6)}), python=PYTHON,
            work=_paths(tmp_path), execution=EXECUTION, node_id="n0", attempt=0,
            fast_distribution=str(fast.tarball), extra_env={"PYTHONHASHSEED": "7"},
        )  # fmt: skip
    log = result.log.read_text()
    assert result.phase is AttemptPhase.SUCCEEDED, log[-3000:]
    assert result.outputs is not None and result.outputs.literals["o0"].scalar.primitive.integer == 36
    assert "PYTHONHASHSEED differs from the server's" in log and "# spawned" not in log


def _server_pid() -> int:
    return pool.running_servers()[PYTHON]


def _square(fast: Package, root: Path, mode: str = "pool") -> Run:
    run = _attempt(fast, "square", root, {"x": _lit(5)}, mode)
    assert run.result.phase is AttemptPhase.SUCCEEDED, run.log[-3000:]
    assert _outputs(run).literals["o0"].scalar.primitive.integer == 25
    return run


def _start_sleepy(
    fast: Package, root: Path, seconds: int
) -> tuple[threading.Thread, list[AttemptResult], Path]:
    """An attempt of `sleepy` (``seconds`` long) in a thread, returned once its task process wrote its pid
    file (or after 60 s): the thread, the list its result goes to, the attempt's workdir."""
    results: list[AttemptResult] = []

    def run() -> None:
        results.append(
            run_task_attempt(
                fast.templates["sleepy"], inputs=literals_pb2.LiteralMap(literals={"x": _lit(seconds)}),
                python=PYTHON, work=_paths(root), execution=EXECUTION, node_id="n0", attempt=0,
                fast_distribution=str(fast.tarball),
            )
        )  # fmt: skip

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    workdir = _paths(root).workdir
    deadline = time.monotonic() + 60
    while not list(workdir.glob("pid-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    return thread, results, workdir


@pytest.mark.timeout(120)
def test_a_crashed_server_is_restarted(fast: Package, tmp_path: Path) -> None:
    _square(fast, tmp_path / "a")
    first = _server_pid()
    os.kill(first, signal.SIGKILL)
    _square(fast, tmp_path / "b")
    assert _server_pid() != first


@pytest.mark.timeout(120)
def test_a_hung_server_is_killed_and_the_attempt_spawned(
    fast: Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _square(fast, tmp_path / "a")
    hung = _server_pid()
    monkeypatch.setattr(pool, "ANSWER_TIMEOUT_S", 1.0)
    os.kill(hung, signal.SIGSTOP)
    try:
        shutil.rmtree(tmp_path / "b", ignore_errors=True)
        with _mode("pool"):
            result = run_task_attempt(
                fast.templates["square"], inputs=literals_pb2.LiteralMap(literals={"x": _lit(5)}),
                python=PYTHON, work=_paths(tmp_path / "b"), execution=EXECUTION, node_id="n0", attempt=0,
                fast_distribution=str(fast.tarball),
            )  # fmt: skip
        log = result.log.read_text()
        assert result.phase is AttemptPhase.SUCCEEDED, log[-3000:]
        assert "# spawned: the fork server did not answer" in log
        assert not _alive(hung)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(hung, signal.SIGCONT)
    monkeypatch.setattr(pool, "ANSWER_TIMEOUT_S", 20.0)  # a busy machine may take more than a second
    _square(fast, tmp_path / "c")
    assert _server_pid() != hung


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _zombie_children() -> list[int]:
    zombies = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[0] == "Z" and int(fields[1]) == os.getpid():
                    zombies.append(int(entry.name))
    return zombies


@pytest.mark.timeout(120)
def test_shutdown_kills_running_attempts_and_leaves_no_process(fast: Package, tmp_path: Path) -> None:
    _square(fast, tmp_path / "warm")
    server = _server_pid()
    server_dir = Path(os.readlink(f"/proc/{server}/cwd"))
    assert server_dir.name.startswith("flyte-ls-pool-")
    thread, results, workdir = _start_sleepy(fast, tmp_path / "sleepy", 120)
    (pid_file,) = workdir.glob("pid-*")
    group = int(pid_file.read_text())
    task_pid = int(pid_file.name.removeprefix("pid-"))
    # What an orphan reaper sees of a task process in /proc, as for a spawned one: its cwd and the marker.
    assert os.readlink(f"/proc/{task_pid}/cwd") == str(workdir)
    assert b"FLYTE_INTERNAL_EXECUTION_ID=" in Path(f"/proc/{task_pid}/environ").read_bytes()
    pool.shutdown_all()
    thread.join(30)
    assert results and results[0].phase is AttemptPhase.FAILED and results[0].error is not None
    assert results[0].exit_code == -signal.SIGKILL and results[0].error.recoverable
    assert "fork server exited during the attempt" in results[0].log.read_text()
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
    assert not _alive(server) and pool.running_servers() == {}
    assert _zombie_children() == []
    assert not server_dir.exists()


def test_shadowing_modules_on_the_task_path_are_detected(tmp_path: Path) -> None:
    from flyte_ls.local.pool_server import _shadowed

    (tmp_path / "json.py").write_text("")
    (tmp_path / "own_module_of_the_task.py").write_text("")
    assert "would shadow 'json'" in (_shadowed([str(tmp_path)]) or "")
    (tmp_path / "json.py").unlink()
    assert _shadowed([str(tmp_path), str(tmp_path / "missing")]) is None


@pytest.mark.timeout(120)
def test_concurrent_attempts_are_all_forked(fast: Package, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> Run:
        return _attempt(fast, "square", tmp_path / str(i), {"x": _lit(i)}, "pool")

    with _mode("pool"), ThreadPoolExecutor(6) as executor:
        runs = list(executor.map(one, range(6)))
    squares = [_outputs(run).literals["o0"].scalar.primitive.integer for run in runs]
    assert squares == [i * i for i in range(6)]
    assert PYTHON in pool.running_servers()


@pytest.mark.timeout(120)
def test_a_server_that_stops_reaping_is_killed_and_the_attempt_ends(
    fast: Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _square(fast, tmp_path / "warm")
    server = _server_pid()
    thread, results, _ = _start_sleepy(fast, tmp_path / "sleepy", 1)
    monkeypatch.setattr(pool, "ANSWER_TIMEOUT_S", 1.0)  # how long an ended attempt may stay unreported
    os.kill(server, signal.SIGSTOP)  # the attempt ends in a second; nobody reaps or reports it
    try:
        thread.join(30)
        assert results, "the attempt never ended"
        assert results[0].phase is AttemptPhase.FAILED and results[0].error is not None
        assert results[0].error.recoverable
        assert "fork server exited during the attempt" in results[0].log.read_text()
        assert not _alive(server)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server, signal.SIGCONT)
    monkeypatch.setattr(pool, "ANSWER_TIMEOUT_S", 20.0)
    _square(fast, tmp_path / "after")
    assert _server_pid() != server


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv that sees the project's packages through a .pth but has no console scripts of its own."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    main_site = next((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    (site / "project.pth").write_text(f"{main_site}\n")
    python = str(venv / "bin" / "python")
    assert not (venv / "bin" / "pyflyte-execute").exists()
    return python


@pytest.mark.timeout(180)
def test_an_interpreter_without_console_scripts_gets_the_c_form_and_a_pool_of_its_own(
    plain: Package, bare_python: str, tmp_path: Path
) -> None:
    extra = {"python": bare_python, "extra_env": {"PYTHONPATH": str(plain.source)}}
    spawned, forked = _probe(plain, tmp_path / "probe", **extra)
    assert json.loads(forked["argv"])[0] == "-c" and json.loads(forked["path"])[0] == ""
    for key in spawned:
        assert forked[key] == spawned[key], (key, spawned[key], forked[key])
    spawned_run, forked_run = _both(plain, "fails", tmp_path / "fails", {"x": _lit(1)}, **extra)
    assert forked_run.result.error is not None and forked_run.result.error.code == "USER:RuntimeError"
    ours = errors_pb2.ErrorDocument.FromString(forked_run.files["error.pb"])
    theirs = errors_pb2.ErrorDocument.FromString(spawned_run.files["error.pb"])
    ours.error.timestamp.CopyFrom(theirs.error.timestamp)
    assert ours.SerializeToString() == spawned_run.files["error.pb"]
    assert set(pool.running_servers()) >= {bare_python}


@pytest.mark.timeout(120)
def test_when_the_backend_dies_the_server_kills_its_attempts_and_removes_its_directory(
    fast: Package, tmp_path: Path
) -> None:
    _square(fast, tmp_path / "warm")
    server = pool._servers[PYTHON]  # what a killed backend leaves: nobody but the lifeline pipe's EOF
    directory = server.dir
    thread, results, workdir = _start_sleepy(fast, tmp_path / "sleepy", 120)
    (pid_file,) = workdir.glob("pid-*")
    group = int(pid_file.read_text())
    assert server.proc.stdin is not None
    server.proc.stdin.close()  # as when the backend's process is gone
    assert server.proc.wait(30) == 0
    thread.join(30)
    assert results and results[0].phase is AttemptPhase.FAILED
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
    assert not directory.exists()


@pytest.mark.timeout(120)
def test_prestart_starts_the_server_in_the_background() -> None:
    from flyte_ls.local.runner import interpreter_env

    pool.shutdown_all()
    assert PYTHON not in pool.running_servers()
    started = time.monotonic()
    thread = pool.prestart(PYTHON, interpreter_env(PYTHON))
    assert time.monotonic() - started < 0.5  # it does not wait for flytekit's import
    thread.join(90)
    assert PYTHON in pool.running_servers()
