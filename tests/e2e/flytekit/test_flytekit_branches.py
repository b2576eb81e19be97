"""§7: branch conditions on task outputs (bool is_true, float with & and elif, Optional is_none) and an else
that fails — through `pyflyte run --remote --wait` and FlyteRemote, compared with flytekit's local run."""

from __future__ import annotations

import pytest
from flytekit_e2e import CASES, local_results, normalize_remote, start_local_runs
from flytekit_suite import Runs, Suite

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

WF_SUCCEEDED, WF_FAILED = 4, 6


@pytest.fixture(scope="module")
def runs(suite: Suite) -> Runs:
    local = start_local_runs(suite.project, ["branches_cli", "branches_remote", "branch_fails"])
    cli = {key: suite.pyflyte(key) for key in ("branches_cli", "branch_fails")}
    executions = {
        "branches_remote": suite.execute(suite.register("branches", "branches_wf"), "branches_remote"),
        "branch_fails": suite.execute(suite.register("branches", "must_be_positive_wf"), "branch_fails"),
    }
    return Runs(local_results(local), cli, executions)


def test_conditions_on_task_outputs(suite: Suite, runs: Runs) -> None:
    assert runs.local["branches_cli"]["outputs"] == {"o0": "even", "o1": "low", "o2": "none"}
    assert runs.local["branches_remote"]["outputs"] == {"o0": "odd", "o1": "mid", "o2": "some"}
    run = runs.cli["branches_cli"].finish()
    assert run.proc.returncode == 0, run.output
    execution = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["branches_cli"], execution) == runs.local["branches_cli"]["outputs"]

    execution = suite.wait(runs.executions["branches_remote"])
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["branches_remote"], execution) == runs.local["branches_remote"]["outputs"]


def test_else_fail(suite: Suite, runs: Runs) -> None:
    assert "x must be positive" in runs.local["branch_fails"]["error"]
    execution = suite.wait(runs.executions["branch_fails"])
    assert execution.closure.phase == WF_FAILED
    assert "x must be positive" in execution.error.message
    run = runs.cli["branch_fails"].finish()
    assert run.proc.returncode != 0 and "x must be positive" in run.stdout, run.output
