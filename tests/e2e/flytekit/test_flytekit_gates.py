"""§7: gate nodes — approve (approved and rejected), wait_for_input (int and str signals) and sleep — through
`pyflyte run --remote --wait` and FlyteRemote (`list_signals`, `approve`, `reject`, `set_input`, `terminate`),
compared with flytekit's local run (which reads the same answers from stdin)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flytekit_e2e import CASES, local_results, normalize_remote, start_local_runs
from flytekit_suite import Runs, Suite

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

WF_SUCCEEDED, WF_FAILED, WF_ABORTED = 4, 6, 7
SIGNALS = {"approve": ["approve-double"], "signal": ["factor", "unit"]}


@pytest.fixture(scope="module")
def runs(suite: Suite) -> Runs:
    local = start_local_runs(suite.project, ["approve", "signal"])
    cli = {key: suite.pyflyte(key) for key in ("approve", "signal")}
    approve_wf = suite.register("gates", "approve_wf")
    input_wf = suite.register("gates", "input_wf")
    cli["approve_timeout"] = suite.pyflyte("approve_timeout")
    executions = {
        "approve_timeout": suite.execute(suite.register("gates", "approve_timeout_wf"), "approve_timeout"),
        "approve": suite.execute(approve_wf, "approve"),
        "early": suite.execute(approve_wf, "approve"),
        "reject": suite.execute(approve_wf, "approve"),
        "signal": suite.execute(input_wf, "signal"),
        "terminate": suite.execute(input_wf, "signal"),
    }
    # approved right away, while its task still runs: before the gate waits
    suite.remote.approve("approve-double", executions["early"].id.name)
    return Runs(local_results(local), cli, executions)


def _waiting_signals(
    suite: Suite, execution_name: str, expected: list[str], timeout: float = 120
) -> dict[str, Any]:
    """The execution's signals once all of ``expected`` exist (the gates wait); none has a value yet."""
    deadline = time.monotonic() + timeout
    while True:
        signals = {s.id.signal_id: s for s in suite.remote.list_signals(execution_name)}
        if set(expected) <= set(signals):
            break
        assert time.monotonic() < deadline, f"signals of {execution_name}: {sorted(signals)}, want {expected}"
        time.sleep(0.5)
    for s in signals.values():
        assert s.id.execution_id.name == execution_name
        assert not s.HasField("value"), s
    return signals


def test_pyflyte_run_remote_approved(suite: Suite, runs: Runs) -> None:
    run = runs.cli["approve"]
    signals = _waiting_signals(suite, run.execution_name, SIGNALS["approve"])
    assert signals["approve-double"].type.simple == 4  # BOOLEAN
    suite.remote.approve("approve-double", run.execution_name)
    run.finish()
    assert run.proc.returncode == 0, run.output
    execution = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["approve"], execution) == runs.local["approve"]["outputs"] == {"o0": 16}


def test_pyflyte_run_remote_with_inputs(suite: Suite, runs: Runs) -> None:
    run = runs.cli["signal"]
    signals = _waiting_signals(suite, run.execution_name, SIGNALS["signal"])
    assert signals["factor"].type.simple == 1 and signals["unit"].type.simple == 3  # INTEGER, STRING
    suite.remote.set_input("factor", run.execution_name, 5)
    suite.remote.set_input("unit", run.execution_name, "kg")
    run.finish()
    assert run.proc.returncode == 0, run.output
    execution = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["signal"], execution) == runs.local["signal"]["outputs"] == {"o0": "15 kg"}


def test_flyteremote_approve(suite: Suite, runs: Runs) -> None:
    name = runs.executions["approve"].id.name
    _waiting_signals(suite, name, SIGNALS["approve"])
    suite.remote.approve("approve-double", name)
    execution = suite.wait(runs.executions["approve"])
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["approve"], execution) == runs.local["approve"]["outputs"]
    (approved,) = suite.remote.list_signals(name)
    assert approved.value.scalar.primitive.boolean is True


def test_flyteremote_reject(suite: Suite, runs: Runs) -> None:
    name = runs.executions["reject"].id.name
    _waiting_signals(suite, name, SIGNALS["approve"])
    suite.remote.reject("approve-double", name)
    execution = suite.wait(runs.executions["reject"])
    assert execution.closure.phase == WF_FAILED
    assert execution.error.code == "ReceivedRejectSignal" and execution.error.kind == 1  # USER
    assert "approve-double" in execution.error.message


def test_flyteremote_set_input(suite: Suite, runs: Runs) -> None:
    from flytekit.exceptions.user import FlyteInvalidInputException

    name = runs.executions["signal"].id.name
    _waiting_signals(suite, name, SIGNALS["signal"])
    with pytest.raises(FlyteInvalidInputException):
        suite.remote.set_input("factor", name, "five")  # a string for an int signal
    with pytest.raises(FlyteInvalidInputException):
        suite.remote.set_input("no-such-gate", name, 5)
    suite.remote.set_input("factor", name, 5)
    suite.remote.set_input("unit", name, "kg")
    execution = suite.wait(runs.executions["signal"])
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["signal"], execution) == runs.local["signal"]["outputs"]
    values = {s.id.signal_id: s.value.scalar.primitive for s in suite.remote.list_signals(name)}
    assert values["factor"].integer == 5 and values["unit"].string_value == "kg"


def test_terminate_a_waiting_execution(suite: Suite, runs: Runs) -> None:
    execution = runs.executions["terminate"]
    _waiting_signals(suite, execution.id.name, SIGNALS["signal"])
    suite.remote.terminate(execution, "no input today")
    execution = suite.wait(execution)
    assert execution.closure.phase == WF_ABORTED
    assert execution.closure.abort_metadata.cause == "no input today"


def test_a_gate_times_out(suite: Suite, runs: Runs) -> None:
    """Nobody approves within the gate's 2 s timeout: the gate fails and so does the execution (flytekit's
    local run would prompt instead, so there is nothing local to compare)."""
    execution = suite.wait(runs.executions["approve_timeout"])
    assert execution.closure.phase == WF_FAILED
    assert "quick-approve" in execution.error.message and "timed out" in execution.error.message
    run = runs.cli["approve_timeout"].finish()
    assert run.proc.returncode != 0 and "phase FAILED" in run.stdout, run.output


def test_approve_before_the_gate_is_reached(suite: Suite, runs: Runs) -> None:
    """flyte-ls accepts an approval sent before the gate waits (the fixture sends it while the task before
    the gate runs; Admin would refuse it): the gate then passes as soon as it is reached."""
    execution = suite.wait(runs.executions["early"])
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["approve"], execution) == runs.local["approve"]["outputs"]
