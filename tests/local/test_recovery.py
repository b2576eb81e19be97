"""Issue 3 §5: a backend killed with SIGKILL mid-execution, restarted on the same state dir, resumes the
execution (nodes that succeeded are not run again) or ends it FAILED with a reason; its task processes do not
outlive it. Real ``flyte-ls local start`` processes, real ``pyflyte run --remote``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import psutil
import pytest
from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc
from local_backend import VENV_PYTHON, Backend, start_backend

from flyte_ls.local.executions.records import ExecutionRecords
from flyte_ls.local.store import Store

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(420)]

_WF = core_execution_pb2.WorkflowExecution
_NODE = core_execution_pb2.NodeExecution

WORKFLOW = """
import os
import time

from flytekit import LaunchPlan, task, workflow


@task
def first(log: str) -> int:
    with open(log, "a") as f:  # the side effect that proves it is not run again
        f.write("first\\n")
    return 1


@task
def blocked(x: int, gate: str) -> int:
    while not os.path.exists(gate):
        time.sleep(0.2)
    return x + 41


@workflow
def wf(log: str, gate: str) -> int:
    return blocked(x=first(log=log), gate=gate)


@workflow
def child(x: int, gate: str) -> int:
    return blocked(x=x, gate=gate)


child_lp = LaunchPlan.get_or_create(child, name="child_lp")


@workflow
def parent(log: str, gate: str) -> int:
    return child_lp(x=first(log=log), gate=gate)
"""


def _run_remote(
    backend: Backend, cwd: Path, log: Path, gate: Path, workflow: str = "wf"
) -> identifier_pb2.WorkflowExecutionIdentifier:
    pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
    cmd = [pyflyte, "--config", str(backend.config), "run", "--remote", "wf.py", workflow]
    cmd += ["--log", str(log), "--gate", str(gate)]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    name = re.findall(r"/executions/([a-z0-9]+)", proc.stdout)[-1]
    return identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)


def _wait_for(what: str, check: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _node_phase(
    admin: admin_pb2_grpc.AdminServiceStub, ident: identifier_pb2.WorkflowExecutionIdentifier, node: str
) -> int:
    nodes = admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=ident, limit=100), timeout=10
    ).node_executions
    return next((n.closure.phase for n in nodes if n.id.node_id == node), _NODE.UNDEFINED)


def _execution(
    admin: admin_pb2_grpc.AdminServiceStub, ident: identifier_pb2.WorkflowExecutionIdentifier
) -> execution_pb2.Execution:
    return admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident), timeout=10)


def _task_processes(state: Path) -> list[psutil.Process]:
    """Live task processes of the backend on ``state`` (cwd under its executions dir)."""
    root = str(state.resolve() / "executions") + os.sep
    found = []
    for p in psutil.process_iter():
        try:
            if (p.cwd() + os.sep).startswith(root) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            continue
    return found


@pytest.fixture
def channel_to() -> Iterator[object]:
    channels: list[grpc.Channel] = []

    def connect(backend: Backend) -> admin_pb2_grpc.AdminServiceStub:
        channel = grpc.insecure_channel(f"127.0.0.1:{backend.port}")
        channels.append(channel)
        return admin_pb2_grpc.AdminServiceStub(channel)

    yield connect
    for c in channels:
        c.close()


def test_kill_9_mid_execution_then_restart_resumes_or_fails_with_a_reason(
    tmp_path: Path, channel_to: object
) -> None:
    state = tmp_path / "state"
    (tmp_path / "wf.py").write_text(WORKFLOW)
    log_a, gate_a = tmp_path / "a.log", tmp_path / "a.gate"
    log_b, gate_b = tmp_path / "b.log", tmp_path / "b.gate"
    log_c, gate_c = tmp_path / "c.log", tmp_path / "c.gate"  # c: n1 is a launch-plan node, its child blocks
    log_d, gate_d = tmp_path / "d.log", tmp_path / "d.gate"  # d: as c, terminated while the backend is down
    backend = start_backend(state)
    try:
        admin = channel_to(backend)  # type: ignore[operator]
        a = _run_remote(backend, tmp_path, log_a, gate_a)
        b = _run_remote(backend, tmp_path, log_b, gate_b)
        c = _run_remote(backend, tmp_path, log_c, gate_c, "parent")
        d = _run_remote(backend, tmp_path, log_d, gate_d, "parent")
        for ident in (a, b, c, d):  # first succeeded, blocked is running: the moment to die
            _wait_for("n0 to succeed", lambda i=ident: _node_phase(admin, i, "n0") == _NODE.SUCCEEDED)
            _wait_for("n1 to run", lambda i=ident: _node_phase(admin, i, "n1") == _NODE.RUNNING)
        _wait_for("the four blocked tasks to start", lambda: len(_task_processes(state)) >= 4)
        assert backend.stop(signal.SIGKILL) == -signal.SIGKILL
        # the watchdog kills the task processes of the dead backend
        _wait_for("the orphaned tasks to be killed", lambda: not _task_processes(state), timeout=15)
    finally:
        backend.stop(signal.SIGKILL)
    assert log_a.read_text() == log_b.read_text() == log_c.read_text() == "first\n"

    # d was being terminated when the backend died (TerminateExecution had marked it ABORTING)
    store = Store(state)
    try:
        ExecutionRecords(store).set_execution_phase(d, _WF.ABORTING, abort_cause="stop it")
    finally:
        store.close()
    # b cannot resume: the outputs of its succeeded node are damaged
    damaged = state / "executions" / f"flytesnacks-development-{b.name}" / "n0" / "data" / "0" / "outputs.pb"
    assert damaged.is_file()
    damaged.write_bytes(b"\xff not a literal map")

    again = start_backend(state)
    try:
        admin = channel_to(again)  # type: ignore[operator]
        failed = _execution(admin, b)
        assert failed.closure.phase == _WF.FAILED
        assert "could not resume" in failed.closure.error.message

        assert _execution(admin, a).closure.phase == _WF.RUNNING
        assert _execution(admin, c).closure.phase == _WF.RUNNING
        # a's blocked task and c's child's, each once (the child is resumed, not launched twice)
        _wait_for("the blocked tasks to run again", lambda: len(_task_processes(state)) == 2)
        time.sleep(1)
        assert len(_task_processes(state)) == 2
        gate_a.touch()
        gate_c.touch()
        for ident, log in ((a, log_a), (c, log_c)):
            _wait_for(
                "the end", lambda i=ident: _execution(admin, i).closure.phase in (_WF.SUCCEEDED, _WF.FAILED)
            )
            done = _execution(admin, ident)
            assert done.closure.phase == _WF.SUCCEEDED, done.closure.error
            outputs = admin.GetExecutionData(
                execution_pb2.WorkflowExecutionGetDataRequest(id=ident), timeout=10
            ).full_outputs
            assert outputs.literals["o0"] == literals_pb2.Literal(
                scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=42))
            )
            assert log.read_text() == "first\n", "the succeeded node ran again"
            attempts = admin.ListTaskExecutions(
                task_execution_pb2.TaskExecutionListRequest(
                    node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                        node_id="n0", execution_id=ident
                    ),
                    limit=10,
                ),
                timeout=10,
            ).task_executions
            assert [t.closure.phase for t in attempts] == [core_execution_pb2.TaskExecution.SUCCEEDED]
            assert _node_phase(admin, ident, "n1") == _NODE.SUCCEEDED
        listed = admin.ListExecutions(
            common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development"), limit=100
            ),
            timeout=10,
        ).executions
        children = [e for e in listed if e.spec.metadata.parent_node_execution.execution_id.name == c.name]
        assert [e.closure.phase for e in children] == [_WF.SUCCEEDED]  # one child, resumed
        # d ended ABORTED, and its child with it (it did not run on alone)
        assert _execution(admin, d).closure.phase == _WF.ABORTED
        orphans = [e for e in listed if e.spec.metadata.parent_node_execution.execution_id.name == d.name]
        assert [e.closure.phase for e in orphans] == [_WF.ABORTED]
        assert d.name in orphans[0].closure.abort_metadata.cause
    finally:
        again.stop()
    assert not _task_processes(state)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="task processes are found through /proc (Linux)")
@pytest.mark.timeout(30)
def test_reap_kills_marked_task_groups_under_the_state_dir_only(tmp_path: Path) -> None:
    from flyte_ls.local.orphans import leftover_groups, reap

    state = tmp_path / "state"
    work = state / "executions" / "flytesnacks-development-x" / "work" / "n0-0"
    work.mkdir(parents=True)
    sleeper = [VENV_PYTHON, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
               "'import time; time.sleep(60)']); time.sleep(60)"]  # fmt: skip
    marked_env = {**os.environ, "FLYTE_INTERNAL_EXECUTION_ID": "x"}
    task = subprocess.Popen(sleeper, cwd=work, env=marked_env, start_new_session=True)
    shell = subprocess.Popen(sleeper, cwd=work, start_new_session=True)  # a user's shell in a work dir
    elsewhere = subprocess.Popen(sleeper, cwd=tmp_path, env=marked_env, start_new_session=True)
    try:
        _wait_for("the task's child", lambda: len(psutil.Process(task.pid).children()) == 1, timeout=10)
        child = psutil.Process(task.pid).children()[0]
        assert leftover_groups(state) == {task.pid}
        assert reap(state) == [task.pid]
        assert task.wait(10) == -signal.SIGKILL
        child.wait(10)  # the whole group, grandchildren included
        assert shell.poll() is None and elsewhere.poll() is None
        assert leftover_groups(state) == set()
    finally:
        for p in (task, shell, elsewhere):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
