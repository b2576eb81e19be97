"""§7: launch-plan nodes (a child execution per node, with the child LP's default and fixed inputs) through
`pyflyte run --remote --wait` and FlyteRemote, compared with flytekit's local run; `activate_launchplan` and
`recent_executions`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from flytekit_e2e import CASES, DOMAIN, PROJECT, PyflyteRun, local_results, normalize_remote, start_local_runs
from flytekit_suite import Suite

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

WF_SUCCEEDED, WF_FAILED = 4, 6
CHILD_WORKFLOW = 4  # admin ExecutionMetadata.ExecutionMode


@dataclass
class Runs:
    local: dict[str, dict[str, Any]]
    cli: PyflyteRun
    execution: Any
    dynamic_cli: PyflyteRun
    dynamic: Any
    failing_cli: PyflyteRun
    failing: Any


@pytest.fixture(scope="module")
def runs(suite: Suite) -> Runs:
    keys = ["launch_plan_cli", "launch_plan_remote", "registered_lp", "dynamic_lp_cli", "dynamic_lp_remote"]
    keys += ["daily_1", "daily_2", "daily_3", "failing_child"]
    local = start_local_runs(suite.project, keys)
    dynamic_cli = suite.pyflyte("dynamic_lp_cli")
    failing_cli = suite.pyflyte("failing_child")
    cli = suite.pyflyte("launch_plan_cli")
    wf = suite.register("launch_plans", "parent_wf")
    execution = suite.execute(wf, "launch_plan_remote")
    dynamic = suite.execute(suite.register("launch_plans", "dynamic_parent_wf"), "dynamic_lp_remote")
    failing = suite.execute(suite.register("launch_plans", "failing_parent_wf"), "failing_child")
    return Runs(local_results(local), cli, execution, dynamic_cli, dynamic, failing_cli, failing)


def test_pyflyte_run_remote_matches_local(suite: Suite, runs: Runs) -> None:
    run = runs.cli.finish()
    assert run.proc.returncode == 0, run.output
    execution = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["launch_plan_cli"], execution) == runs.local["launch_plan_cli"]["outputs"]
    assert runs.local["launch_plan_cli"]["outputs"] == {"o0": "25+9=34"}


def test_pyflyte_runs_a_registered_launch_plan(suite: Suite, runs: Runs) -> None:
    """`pyflyte run --remote remote-launchplan child_power_lp --base 2`: the launch plan the run above
    registered, with its fixed input exp=2."""
    runs.cli.finish()
    run = suite.pyflyte("registered_lp").finish()
    assert run.proc.returncode == 0, run.output
    expected = runs.local["registered_lp"]["outputs"]
    assert expected == {"o0": 4}
    assert normalize_remote(CASES["registered_lp"], suite.fetch(run.execution_name)) == expected


def test_flyteremote_matches_local_with_child_executions(suite: Suite, runs: Runs) -> None:
    execution = suite.wait(runs.execution)
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    expected = runs.local["launch_plan_remote"]["outputs"]
    assert normalize_remote(CASES["launch_plan_remote"], execution) == expected

    children = {}
    for node_id, expected in (("n0", 49), ("n1", 9)):  # base=7 given / base=3 default; exp=2 fixed
        node = execution.node_executions[node_id]
        child_id = node.closure.workflow_node_metadata.execution_id
        assert [w.id.name for w in node.workflow_executions] == [child_id.name]
        child = suite.remote.fetch_execution(name=child_id.name)
        assert child.closure.phase == WF_SUCCEEDED
        assert child.spec.launch_plan.name == "child_power_lp"
        metadata = child.spec.metadata
        assert metadata.mode == CHILD_WORKFLOW and metadata.nesting == 1
        assert metadata.parent_node_execution.execution_id.name == execution.id.name
        assert metadata.parent_node_execution.node_id == node_id
        assert child.outputs.get("o0", as_type=int) == expected
        children[node_id] = child_id.name
    assert len(set(children.values())) == 2

    runs.cli.finish()
    recent = {e.id.name for e in suite.remote.recent_executions(limit=200)}
    assert {execution.id.name, runs.cli.execution_name} <= recent


def test_activate_launchplan(suite: Suite) -> None:
    lp = suite.register("launch_plans", "child_lp")
    # registering (pyflyte run, register_script) leaves a launch plan without schedule inactive
    assert suite.remote.fetch_active_launchplan(name="child_power_lp") is None
    suite.remote.activate_launchplan(lp.id)
    active = suite.remote.fetch_active_launchplan(name="child_power_lp")
    assert active is not None and active.id.version == lp.id.version
    execution = suite.wait(suite.remote.execute(active, inputs={"base": 4}, wait=False))
    assert execution.closure.phase == WF_SUCCEEDED and execution.outputs.get("o0", as_type=int) == 16


def test_dynamic_with_launch_plans_subworkflow_and_map(suite: Suite, runs: Runs) -> None:
    """A @dynamic whose sub-DAG holds launch-plan nodes (child executions), a subworkflow and a map task."""
    assert runs.local["dynamic_lp_cli"]["outputs"] == {"o0": 9, "o1": [0, 1, 4, 27], "o2": [3, 9]}
    run = runs.dynamic_cli.finish()
    assert run.proc.returncode == 0, run.output
    execution = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["dynamic_lp_cli"], execution) == runs.local["dynamic_lp_cli"]["outputs"]
    dynamic = execution.node_executions["n1"]
    children = [n for n in dynamic.subworkflow_node_executions.values() if n.workflow_executions]
    assert len(children) == 3  # one child execution per launch-plan node of the sub-DAG

    execution = suite.wait(runs.dynamic)
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    expected = runs.local["dynamic_lp_remote"]["outputs"]
    assert normalize_remote(CASES["dynamic_lp_remote"], execution) == expected


def test_launch_backfill(suite: Suite, runs: Runs) -> None:
    """FlyteRemote.launch_backfill of a scheduled launch plan: a registered workflow of launch-plan nodes,
    one per cron tick in [from, to), each child run with its kickoff time, as flytekit's local run of it."""
    from flytekit.exceptions.user import FlyteInvalidInputException

    lp = suite.register("launch_plans", "daily_lp")
    start, end = datetime(2024, 1, 1), datetime(2024, 1, 4)
    with pytest.raises(FlyteInvalidInputException, match="URL safe"):
        # flytekit's default backfill version keeps base64's "=" padding, which Admin refuses as well
        suite.remote.launch_backfill(PROJECT, DOMAIN, start, end, "daily_lp", lp.id.version)
    execution = suite.remote.launch_backfill(
        PROJECT, DOMAIN, start, end, "daily_lp", lp.id.version, version="e2e-backfill", parallel=True
    )
    execution = suite.wait(execution)
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    days = []
    for node_id in ("n0", "n1", "n2"):
        (child,) = execution.node_executions[node_id].workflow_executions
        assert child.closure.phase == WF_SUCCEEDED
        days.append(normalize_remote(CASES["daily_1"], child))
    assert days == [runs.local[f"daily_{day}"]["outputs"] for day in (1, 2, 3)]
    assert days[0] == {"o0": "2024-01-01 08:00"}


def test_a_failing_child_fails_the_parent(suite: Suite, runs: Runs) -> None:
    assert "boom 4" in runs.local["failing_child"]["error"]
    execution = suite.wait(runs.failing)
    assert execution.closure.phase == WF_FAILED
    assert "boom 4" in execution.error.message
    node = execution.node_executions["n0"]
    (child,) = node.workflow_executions
    assert node.closure.phase == 5 and child.closure.phase == WF_FAILED  # node FAILED
    run = runs.failing_cli.finish()
    assert run.proc.returncode != 0 and "boom 4" in run.stdout, run.output
