"""One task attempt through real flytekit entrypoints (flyte_ls.local.runner), on `pyflyte package` output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from flyteidl.core import dynamic_job_pb2, execution_pb2, literals_pb2, tasks_pb2
from task_package import PYTHON, Package, attempt_paths, package_tasks

from flyte_ls.local.runner import (
    AttemptPaths,
    AttemptPhase,
    AttemptResult,
    ErrorKind,
    ErrorOrigin,
    ExecutionKey,
    attempt_env,
    entrypoint_argv,
    per_retry_unique_key,
    render_args,
    run_task_attempt,
    run_task_attempt_async,
)

DATA = Path(__file__).parent / "data" / "runner"
EXECUTION = ExecutionKey("flytesnacks", "development", "abc123")
MODULE = "runner_pkg.tasks"


def _package(tmp: Path, copy: str) -> Package:
    return package_tasks(DATA, "runner_pkg", tmp, copy, EXECUTION)


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return _package(tmp_path_factory.mktemp("fast"), "all")


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def _str(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value))
    )


def _paths(root: Path, node: str = "n0", attempt: int = 0) -> AttemptPaths:
    return attempt_paths(root, root / "raw" / "ab" / f"{EXECUTION.name}-{node}-{attempt}", node, attempt)


def _run(
    package: Package,
    task: str,
    root: Path,
    inputs: dict[str, literals_pb2.Literal],
    **kwargs: object,
) -> AttemptResult:
    return run_task_attempt(
        package.templates[task],
        inputs=literals_pb2.LiteralMap(literals=inputs),
        python=PYTHON,
        work=_paths(root),
        execution=EXECUTION,
        node_id="n0",
        attempt=0,
        fast_distribution=str(package.tarball) if package.tarball else None,
        **kwargs,  # type: ignore[arg-type]
    )


def _changed_under(root: Path, since: float, depth: int = 3) -> list[str]:
    """Entries under `root` modified after `since` (skipping caches other tools on this machine write)."""
    changed: list[str] = []
    if not root.is_dir():
        return changed
    for current, dirs, files in os.walk(root):
        rel = Path(current).relative_to(root)
        dirs[:] = [d for d in dirs if len(rel.parts) < depth and not (rel == Path() and d in _SKIP_HOME)]
        for name in files + dirs:
            path = Path(current) / name
            with contextlib.suppress(OSError):
                if path.lstat().st_mtime > since:
                    changed.append(str(path))
    return changed


_SKIP_HOME = {".cache", ".npm", ".claude", ".config", ".pyenv", ".rustup", ".cargo", ".m2"}


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_pid_file(workdir: Path, limit_s: float = 60) -> tuple[int, int]:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        for path in workdir.glob("pid-*"):
            text = path.read_text()
            if text:
                return int(path.name.removeprefix("pid-")), int(text)
        time.sleep(0.05)
    raise AssertionError(f"the task never started in {workdir}")


def test_render_args_like_propeller() -> None:
    paths = _paths(Path("/x"))
    args = [
        "pyflyte-fast-execute", "--additional-distribution", "{{ .remote_package_path }}",
        "--dest-dir", "/root",
        "--", "pyflyte-execute", "--inputs", "{{.input}}", "--output-prefix", "{{ .OutputPrefix }}",
        "--raw-output-data-prefix", "{{$rawOutputDataPrefix}}",
        "--checkpoint-path", "{{.checkpointOutputPrefix}}", "--prev-checkpoint", "{{.prevCheckpointPrefix}}",
        "--", "task-module", "m", "task-name", "{{.unknown}}",
    ]  # fmt: skip
    rendered = render_args(args, paths, fast_distribution="/blobs/fast1.tar.gz")
    raw = "/x/raw/ab/abc123-n0-0"
    assert rendered == [
        "pyflyte-fast-execute", "--additional-distribution", "/blobs/fast1.tar.gz",
        "--dest-dir", "/x/work/n0-0",
        "--", "pyflyte-execute", "--inputs", "/x/md/n0/data/inputs.pb", "--output-prefix", "/x/md/n0/data/0",
        "--raw-output-data-prefix", raw,
        "--checkpoint-path", f"{raw}/_flytecheckpoints", "--prev-checkpoint", '""',
        "--", "task-module", "m", "task-name", "{{.unknown}}",
    ]  # fmt: skip
    extra = {"perRetryUniqueKey": per_retry_unique_key("1abc", "n0-0-dn1", 2), "namespace": "p-d"}
    assert render_args(["{{ .PerRetryUniqueKey }}/{{.namespace}}"], paths, extra_values=extra) == [
        "a1abc_n0_0_dn1_2/p-d"
    ]
    argv = entrypoint_argv(rendered, PYTHON)
    assert argv[:2] == [PYTHON, str(Path(PYTHON).with_name("pyflyte-fast-execute"))]
    fallback = entrypoint_argv(["pyflyte-execute", "--inputs", "i"], "/nowhere/python3")
    assert fallback[:2] == ["/nowhere/python3", "-c"] and "execute_task_cmd" in fallback[2]
    assert fallback[3:] == ["--inputs", "i"]


def test_env_drops_server_import_path_and_adds_propeller_variables() -> None:
    template = tasks_pb2.TaskTemplate()
    template.id.project, template.id.domain, template.id.name, template.id.version = "p", "d", "m.t", "v9"
    template.container.env.add(key="_F_SS_C", value="abc")
    env = attempt_env(
        template,
        python="/venv/bin/python",
        execution=EXECUTION,
        attempt=2,
        workflow_name="m.wf",
        array_index=4,
        base_env={
            "PYTHONPATH": "/server",
            "PATH": "/usr/bin",
            "FLYTE_INTERNAL_EXECUTION_ID": "stale",
            "HOME": "/h",
        },
    )
    assert "PYTHONPATH" not in env
    assert env["PATH"] == "/venv/bin:/usr/bin" and env["HOME"] == "/h" and env["_F_SS_C"] == "abc"
    assert env["FLYTE_INTERNAL_EXECUTION_ID"] == "abc123"
    assert env["FLYTE_INTERNAL_EXECUTION_WORKFLOW"] == "flytesnacks:development:m.wf"
    assert (env["FLYTE_INTERNAL_TASK_NAME"], env["FLYTE_INTERNAL_TASK_VERSION"]) == ("m.t", "v9")
    assert env["FLYTE_ATTEMPT_NUMBER"] == "2"
    assert (env["BATCH_JOB_ARRAY_INDEX_VAR_NAME"], env["FLYTE_K8S_ARRAY_INDEX"]) == (
        "FLYTE_K8S_ARRAY_INDEX",
        "4",
    )


def test_missing_fast_distribution_is_a_clear_system_failure(tmp_path: Path) -> None:
    template = tasks_pb2.TaskTemplate()
    template.container.args.extend(
        ["pyflyte-fast-execute", "--additional-distribution", "{{.remote_package_path}}"]
    )
    result = run_task_attempt(
        template, inputs=literals_pb2.LiteralMap(), python=PYTHON, work=_paths(tmp_path), execution=EXECUTION,
        node_id="n0", attempt=0,
    )  # fmt: skip
    assert result.phase is AttemptPhase.FAILED and result.error is not None
    assert result.error.origin is ErrorOrigin.SYSTEM and "remote_package_path" in result.error.message
    assert "remote_package_path" in result.log.read_text()  # the executor links the log: it explains too


@pytest.mark.flytekit
@pytest.mark.timeout(90)
def test_fast_task_succeeds_inside_its_private_dir(fast: Package, tmp_path: Path) -> None:
    root_before = set(os.listdir("/root")) if os.path.isdir("/root") else set()
    since = time.time() - 1  # file system timestamps can lag the clock slightly
    result = _run(
        fast, "add", tmp_path, {"a": _int(21), "b": _str("v")}, workflow_name="runner_pkg.tasks.all_tasks"
    )
    assert result.phase is AttemptPhase.SUCCEEDED, result.log.read_text()[-3000:]
    assert result.error is None and result.exit_code == 0 and result.futures is None
    assert result.outputs is not None
    assert result.outputs.literals["o0"].scalar.primitive.string_value == "v:42"
    assert result.outputs_path == tmp_path / "md" / "n0" / "data" / "0" / "outputs.pb"
    assert result.log.is_file() and result.duration_s > 0
    # The tarball was extracted into the private working dir, not into /root or the server's cwd.
    assert (tmp_path / "work" / "n0-0" / "runner_pkg" / "tasks.py").is_file()
    assert not (Path.cwd() / "runner_pkg").exists()
    root_after = set(os.listdir("/root")) if os.path.isdir("/root") else set()
    assert root_after <= root_before, root_after - root_before
    assert _changed_under(Path("/root"), since) == []
    assert {p.name for p in tmp_path.iterdir()} == {"md", "raw", "work", "logs"}
    # flytekit's per-run sandbox dirs land in the attempt's TMPDIR, not in the machine's /tmp.
    assert any((tmp_path / "work" / "n0-0" / ".tmp").glob("flyte*"))

    where = _run(fast, "where", tmp_path / "where", {})
    assert where.phase is AttemptPhase.SUCCEEDED and where.outputs is not None
    assert where.outputs.literals["o0"].scalar.primitive.string_value == str(
        tmp_path / "where" / "work" / "n0-0"
    )


@pytest.mark.flytekit
@pytest.mark.timeout(90)
def test_user_errors_are_classified_from_the_error_document(fast: Package, tmp_path: Path) -> None:
    failed = _run(fast, "fails", tmp_path / "a", {"x": _int(5)})
    assert failed.phase is AttemptPhase.FAILED and failed.error is not None
    assert failed.exit_code == 0  # pyflyte-execute exits 0 on user errors: only error.pb tells
    assert failed.error.kind is ErrorKind.NON_RECOVERABLE and failed.error.origin is ErrorOrigin.USER
    assert failed.error.code == "USER:RuntimeError"
    assert "ValueError" in failed.error.message and "bad value 5" in failed.error.message
    assert "Traceback" in failed.error.message and failed.outputs is None
    event_error = failed.error.to_execution_error()
    assert event_error.kind == execution_pb2.ExecutionError.USER and event_error.code == "USER:RuntimeError"
    assert event_error.error_uri == str(tmp_path / "a" / "md" / "n0" / "data" / "0" / "error.pb")

    flaky = _run(fast, "flaky", tmp_path / "b", {"x": _int(1)})
    assert flaky.phase is AttemptPhase.FAILED and flaky.error is not None
    assert flaky.error.kind is ErrorKind.RECOVERABLE and flaky.error.recoverable
    assert flaky.error.origin is ErrorOrigin.USER
    assert "try again 1" in flaky.error.message


@pytest.mark.flytekit
@pytest.mark.timeout(60)
def test_crash_without_error_document_is_a_recoverable_system_failure(fast: Package, tmp_path: Path) -> None:
    result = _run(fast, "crash", tmp_path, {"x": _int(1)})
    assert result.phase is AttemptPhase.FAILED and result.error is not None
    assert result.exit_code == 3
    assert result.error.origin is ErrorOrigin.SYSTEM and result.error.kind is ErrorKind.RECOVERABLE
    assert "exited with code 3 without writing an error document" in result.error.message
    assert str(result.log) in result.error.message


@pytest.mark.flytekit
@pytest.mark.timeout(90)
def test_timeout_kills_the_process_group(fast: Package, tmp_path: Path) -> None:
    result = _run(fast, "sleepy", tmp_path, {"x": _int(120)}, timeout_s=10, kill_grace_s=1)
    assert result.phase is AttemptPhase.TIMED_OUT and result.error is not None
    assert result.error.code == "TimeoutExpired" and result.error.recoverable
    assert 10 <= result.duration_s < 20
    _, pgid = _wait_for_pid_file(tmp_path / "work" / "n0-0", limit_s=0.1)
    assert not _group_alive(pgid)


@pytest.mark.flytekit
@pytest.mark.timeout(90)
def test_cancel_aborts_and_kills_the_process_group(fast: Package, tmp_path: Path) -> None:
    cancel = threading.Event()
    started: list[tuple[int, int]] = []

    def watch() -> None:
        started.append(_wait_for_pid_file(tmp_path / "work" / "n0-0"))
        cancel.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    begin = time.monotonic()
    result = _run(fast, "sleepy", tmp_path, {"x": _int(120)}, cancel=cancel, kill_grace_s=1)
    watcher.join(5)
    assert result.phase is AttemptPhase.ABORTED and time.monotonic() - begin < 60
    assert started and not _group_alive(started[0][1])

    # Cancelled before it starts: nothing is launched.
    again = _run(fast, "sleepy", tmp_path / "again", {"x": _int(120)}, cancel=cancel)
    assert again.phase is AttemptPhase.ABORTED and again.exit_code is None
    assert not (tmp_path / "again").exists()


@pytest.mark.flytekit
@pytest.mark.timeout(90)
def test_async_cancellation_aborts_the_attempt(fast: Package, tmp_path: Path) -> None:
    async def scenario() -> None:
        attempt = asyncio.ensure_future(
            run_task_attempt_async(
                fast.templates["sleepy"],
                inputs=literals_pb2.LiteralMap(literals={"x": _int(120)}),
                python=PYTHON, work=_paths(tmp_path), execution=EXECUTION, node_id="n0", attempt=0,
                fast_distribution=str(fast.tarball), kill_grace_s=1,
            )
        )  # fmt: skip
        _, pgid = await asyncio.to_thread(_wait_for_pid_file, tmp_path / "work" / "n0-0")
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
        assert not _group_alive(pgid)

    asyncio.run(scenario())


@pytest.mark.flytekit
@pytest.mark.timeout(90)
def test_dynamic_task_writes_futures(fast: Package, tmp_path: Path) -> None:
    result = _run(fast, "fan_out", tmp_path, {"n": _int(3)})
    assert result.phase is AttemptPhase.SUCCEEDED, result.log.read_text()[-3000:]
    assert result.futures is not None and result.outputs is None
    assert result.futures_path == tmp_path / "md" / "n0" / "data" / "0" / "futures.pb"
    spec = dynamic_job_pb2.DynamicJobSpec.FromString(result.futures)
    assert [n.id for n in spec.nodes] == ["dn0", "dn1", "dn2"] and spec.min_successes == 3
    assert [t.id.name for t in spec.tasks] == [f"{MODULE}.square"]
    # The sub-tasks carry the distribution the parent ran from, already rendered.
    args = list(spec.tasks[0].container.args)
    assert args[args.index("--additional-distribution") + 1] == str(fast.tarball)


@pytest.mark.flytekit
@pytest.mark.timeout(90)
def test_map_task_index(fast: Package, tmp_path: Path) -> None:
    name = next(n for n in fast.templates if n.startswith("map_square"))
    xs = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[_int(2), _int(3), _int(4)]))
    result = _run(fast, name, tmp_path, {"x": xs}, array_index=2)
    assert result.phase is AttemptPhase.SUCCEEDED, result.log.read_text()[-3000:]
    assert result.outputs is not None and result.outputs.literals["o0"].scalar.primitive.integer == 16


@pytest.mark.flytekit
@pytest.mark.timeout(90)
def test_non_fast_task_runs_pyflyte_execute(tmp_path: Path) -> None:
    package = _package(tmp_path, "none")
    assert package.tarball is None
    assert package.templates["square"].container.args[0] == "pyflyte-execute"
    result = _run(
        package, "square", tmp_path / "run", {"x": _int(7)}, extra_env={"PYTHONPATH": str(package.source)}
    )
    assert result.phase is AttemptPhase.SUCCEEDED, result.log.read_text()[-3000:]
    assert result.outputs is not None and result.outputs.literals["o0"].scalar.primitive.integer == 49


@pytest.mark.flytekit
@pytest.mark.timeout(90)
def test_file_output_is_a_plain_path_under_the_raw_prefix_and_deck_is_found(
    fast: Package, tmp_path: Path
) -> None:
    result = _run(fast, "write_file", tmp_path, {"text": _str("payload")})
    assert result.phase is AttemptPhase.SUCCEEDED, result.log.read_text()[-3000:]
    assert result.outputs is not None
    uri = result.outputs.literals["o0"].scalar.blob.uri
    raw = _paths(tmp_path).raw_output_prefix
    assert uri.startswith(str(raw) + "/") and uri.endswith("/out.txt"), uri
    assert Path(uri).read_text() == "payload"
    assert result.deck == tmp_path / "md" / "n0" / "data" / "0" / "deck.html" and result.deck.is_file()


@pytest.mark.flytekit
@pytest.mark.timeout(90)
def test_task_sees_propeller_env_and_not_the_server_import_path(
    fast: Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/server/site")
    monkeypatch.setenv("FLYTE_INTERNAL_EXECUTION_ID", "the-servers-own")
    paths = replace(
        _paths(tmp_path, attempt=1), prev_checkpoint=tmp_path / "raw" / "ab" / "prev" / "_flytecheckpoints"
    )
    result = run_task_attempt(
        fast.templates["env_probe"], inputs=literals_pb2.LiteralMap(), python=PYTHON, work=paths,
        execution=EXECUTION, node_id="n0", attempt=1, fast_distribution=str(fast.tarball),
    )  # fmt: skip
    assert result.phase is AttemptPhase.SUCCEEDED, result.log.read_text()[-3000:]
    assert result.outputs is not None
    seen = {k: v.scalar.primitive.string_value for k, v in result.outputs.literals["o0"].map.literals.items()}
    assert "/server/site" not in seen["PYTHONPATH"]
    assert str(paths.workdir) in seen["PYTHONPATH"].split(os.pathsep)  # fast-execute adds the dest dir
    assert seen["TMPDIR"] == str(paths.workdir / ".tmp")
    assert seen["FLYTE_ATTEMPT_NUMBER"] == "1"
    assert seen["FLYTE_INTERNAL_EXECUTION_ID"] == EXECUTION.name
    assert seen["FLYTE_INTERNAL_TASK_NAME"] == f"{MODULE}.env_probe"


@pytest.mark.timeout(60)
def test_attempts_sharing_one_inputs_file_can_prepare_at_once(tmp_path: Path) -> None:
    """Map-task indexes may share the array node's inputs.pb: concurrent writes must not collide."""
    from concurrent.futures import ThreadPoolExecutor

    from flyteidl.core import literals_pb2

    from flyte_ls.local.runner import AttemptPaths, _prepare

    shared = tmp_path / "node" / "data" / "inputs.pb"
    value = literals_pb2.LiteralMap(
        literals={
            "x": literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=7)))
        }
    )

    def prepare(i: int) -> None:
        base = tmp_path / f"attempt{i}"
        work = AttemptPaths(
            inputs=shared,
            output_prefix=base / "out",
            raw_output_prefix=base / "raw",
            checkpoint=base / "raw" / "_flytecheckpoints",
            prev_checkpoint=None,
            workdir=base / "work",
            log=base / "log.txt",
        )
        for _ in range(25):
            _prepare(work, value)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(prepare, range(8)))
    assert literals_pb2.LiteralMap.FromString(shared.read_bytes()) == value
    assert [p.name for p in shared.parent.iterdir()] == ["inputs.pb"]  # no temporary file left behind
