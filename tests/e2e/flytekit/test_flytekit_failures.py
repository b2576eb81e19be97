"""§7: failures — a user error with retries left (not retried), a recoverable error retried until it
succeeds, retries that run out — through `pyflyte run --remote --wait` and FlyteRemote, compared with
flytekit's local run."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flytekit_e2e import CASES, local_results, normalize_remote, start_local_runs
from flytekit_suite import Runs, Suite

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

KEYS = ["user_error", "retry", "retries_exhausted", "partial_map", "on_failure"]
WF_SUCCEEDED, WF_FAILED, WF_ABORTED = 4, 6, 7
NODE_RUNNING, NODE_ABORTED = 2, 6
TASK_SUCCEEDED = 3


@pytest.fixture(scope="module")
def runs(suite: Suite) -> Runs:
    local = start_local_runs(suite.project, KEYS)
    cli = {key: suite.pyflyte(key) for key in KEYS}
    executions = {}
    for key in KEYS:
        wf = suite.register("failures", CASES[key].workflow)
        executions[key] = suite.execute(wf, key)
    cli["slow"] = suite.pyflyte("slow")
    executions["slow"] = suite.execute(suite.register("failures", "slow_wf"), "slow")
    return Runs(local_results(local), cli, executions)


def test_pyflyte_run_remote(suite: Suite, runs: Runs) -> None:
    for key in KEYS:
        runs.cli[key].finish()
    failed = runs.cli["user_error"]
    assert failed.proc.returncode != 0, failed.output
    assert "did not complete successfully, phase FAILED" in failed.stdout and "boom 7" in failed.stdout
    assert "boom 7" in runs.local["user_error"]["error"]

    retried = runs.cli["retry"]
    assert retried.proc.returncode == 0, retried.output
    execution = suite.fetch(retried.execution_name)
    assert normalize_remote(CASES["retry"], execution) == runs.local["retry"]["outputs"] == {"o0": 101}

    exhausted = runs.cli["retries_exhausted"]
    assert exhausted.proc.returncode != 0, exhausted.output
    assert "always flaky 3 (attempt 1)" in exhausted.stdout


def _attempts(execution: Any) -> list[Any]:
    return list(execution.node_executions["n0"].task_executions)


def test_user_error_is_not_retried(suite: Suite, runs: Runs) -> None:
    execution = suite.wait(runs.executions["user_error"])
    assert execution.closure.phase == WF_FAILED
    assert "boom 7" in execution.error.message
    assert execution.error.kind == 1  # USER
    assert len(_attempts(execution)) == 1  # retries=2, but a non-recoverable error is final


def test_recoverable_error_is_retried(suite: Suite, runs: Runs) -> None:
    execution = suite.wait(runs.executions["retry"])
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["retry"], execution) == runs.local["retry"]["outputs"]
    attempts = _attempts(execution)
    assert [a.id.retry_attempt for a in attempts] == [0, 1]
    assert attempts[0].closure.phase != TASK_SUCCEEDED
    assert "flaky first attempt for 1" in attempts[0].closure.error.message
    assert attempts[1].closure.phase == TASK_SUCCEEDED


def test_retries_run_out(suite: Suite, runs: Runs) -> None:
    execution = suite.wait(runs.executions["retries_exhausted"])
    assert execution.closure.phase == WF_FAILED
    assert "always flaky 3 (attempt 1)" in execution.error.message
    assert "always flaky 3" in runs.local["retries_exhausted"]["error"]
    assert [a.id.retry_attempt for a in _attempts(execution)] == [0, 1]


def test_map_task_with_failed_indexes(suite: Suite, runs: Runs) -> None:
    """min_success_ratio=0.5: index 2 (x=3) fails, the map succeeds with None in its slot, as locally."""
    expected = runs.local["partial_map"]["outputs"]
    assert expected == {"o0": [1, 4, None, 16]}
    execution = suite.wait(runs.executions["partial_map"])
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["partial_map"], execution) == expected
    run = runs.cli["partial_map"].finish()
    assert run.proc.returncode == 0, run.output
    assert normalize_remote(CASES["partial_map"], suite.fetch(run.execution_name)) == expected


def test_on_failure_node_runs(suite: Suite, runs: Runs) -> None:
    """The workflow's on_failure task runs with the workflow inputs and the error; the execution still fails
    with the original error, as flytekit's local run does."""
    assert "boom 5" in runs.local["on_failure"]["error"]
    execution = suite.wait(runs.executions["on_failure"])
    assert execution.closure.phase == WF_FAILED
    assert "boom 5" in execution.error.message
    handlers = [
        n
        for n in execution.node_executions.values()
        if n.metadata.spec_node_id not in ("n0", "start-node", "end-node")
    ]
    assert len(handlers) == 1 and handlers[0].closure.phase == 3, handlers  # the failure node SUCCEEDED
    err = handlers[0].inputs["err"]
    assert "boom 5" in err.message
    run = runs.cli["on_failure"].finish()
    assert run.proc.returncode != 0 and "boom 5" in run.stdout, run.output


def _wait_until_running(suite: Suite, name: str) -> Any:
    from flytekit.exceptions.user import FlyteEntityNotExistException

    deadline = time.monotonic() + 120
    while True:
        try:
            execution = suite.fetch(name)
        except FlyteEntityNotExistException:  # pyflyte has not created it yet
            execution = None
        node = execution.node_executions.get("n0") if execution is not None else None
        if node is not None and node.closure.phase == NODE_RUNNING and node.task_executions:
            return execution
        assert time.monotonic() < deadline, f"n0 of {name} never ran"
        time.sleep(0.5)


def test_terminate_a_running_task(suite: Suite, runs: Runs) -> None:
    """Terminating while a task sleeps: both executions (pyflyte's and FlyteRemote's) end ABORTED promptly,
    the task node too, and pyflyte's wait reports the phase."""
    names = [runs.executions["slow"].id.name, runs.cli["slow"].execution_name]
    for name in names:
        suite.remote.terminate(_wait_until_running(suite, name), "enough")
    started = time.monotonic()
    for name in names:
        execution = suite.wait(suite.remote.fetch_execution(name=name))
        assert execution.closure.phase == WF_ABORTED
        assert execution.closure.abort_metadata.cause == "enough"
        assert execution.node_executions["n0"].closure.phase == NODE_ABORTED
    assert time.monotonic() - started < 60  # not the task's 120 s
    run = runs.cli["slow"].finish()
    assert run.proc.returncode != 0 and "phase ABORTED" in run.stdout, run.output
