"""§7: @dynamic, map tasks (ArrayNode), branches and subworkflows in one workflow — through
`pyflyte run --remote --wait` and FlyteRemote, compared with flytekit's local run; the node tree FlyteRemote
syncs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flytekit_e2e import CASES, PyflyteRun, local_results, normalize_remote, start_local_runs
from flytekit_suite import Suite

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

SUCCEEDED, SKIPPED = 3, 7  # node execution phases


@dataclass
class Runs:
    local: dict[str, dict[str, Any]]
    cli: PyflyteRun
    execution: Any


@pytest.fixture(scope="module")
def runs(suite: Suite) -> Runs:
    local = start_local_runs(suite.project, ["control_cli", "control_remote"])
    cli = suite.pyflyte("control_cli")
    wf = suite.register("control", "control_wf")
    execution = suite.execute(wf, "control_remote")
    return Runs(local_results(local), cli, execution)


def test_pyflyte_run_remote_matches_local(suite: Suite, runs: Runs) -> None:
    run = runs.cli.finish()
    assert run.proc.returncode == 0, run.output
    execution = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["control_cli"], execution) == runs.local["control_cli"]["outputs"]
    assert runs.local["control_cli"]["outputs"]["o2"] == "big:4"


def _children(node: Any) -> dict[str, Any]:
    """Child nodes by spec node id, without start and end nodes."""
    found = {n.metadata.spec_node_id: n for n in node.subworkflow_node_executions.values()}
    return {k: v for k, v in found.items() if k not in ("start-node", "end-node")}


def test_flyteremote_matches_local_and_syncs_the_node_tree(suite: Suite, runs: Runs) -> None:
    execution = suite.wait(runs.execution)
    assert execution.closure.phase == 4, execution.closure.error  # SUCCEEDED
    assert normalize_remote(CASES["control_remote"], execution) == runs.local["control_remote"]["outputs"]

    nodes = execution.node_executions
    dynamic, mapped, branch, sub = nodes["n0"], nodes["n1"], nodes["n2"], nodes["n3"]
    # @dynamic with n=3: a parent node whose sub-DAG ran square three times
    assert dynamic.metadata.is_parent_node
    assert sorted(_children(dynamic)) == ["dn0", "dn1", "dn2"]
    assert all(n.closure.phase == SUCCEEDED for n in _children(dynamic).values())
    # map task: an array node with its task execution
    assert mapped.metadata.is_array and mapped.task_executions
    # branch with n=3: the elif case ran, the others were skipped
    phases = {k: n.closure.phase for k, n in _children(branch).items()}
    assert phases.pop("n2-n1") == SUCCEEDED
    # cases not taken are never run (flyte-ls records them SKIPPED; propeller only marks them in its status)
    assert set(phases.values()) <= {SKIPPED}
    # subworkflow: its three task nodes, each with one attempt
    assert sorted(_children(sub)) == ["n0", "n1", "n2"]
    assert all(len(n.task_executions) == 1 for n in _children(sub).values())
