"""§7: execution environment variables — `pyflyte run --remote --envvars` and FlyteRemote `execute(envs=...)`
reach the tasks (also in a subworkflow), as in flytekit's local run with the same variables set."""

from __future__ import annotations

import pytest
from flytekit_e2e import CASES, local_results, normalize_remote, start_local_runs
from flytekit_suite import Suite

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]


def test_envs_reach_the_tasks(suite: Suite) -> None:
    local = start_local_runs(suite.project, ["env"])
    cli = suite.pyflyte("env")
    execution = suite.execute(suite.register("environment", "env_wf"), "env")
    expected = local_results(local)["env"]["outputs"]
    assert expected == {"o0": "ahoy, flyte", "o1": "ahoy, ahoy, flyte"}

    execution = suite.wait(execution)
    assert execution.closure.phase == 4, execution.closure.error  # SUCCEEDED
    assert normalize_remote(CASES["env"], execution) == expected

    run = cli.finish()
    assert run.proc.returncode == 0, run.output
    assert normalize_remote(CASES["env"], suite.fetch(run.execution_name)) == expected
