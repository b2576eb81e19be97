"""§7: nesting — a branch calling a subworkflow whose @dynamic returns files, a map task over dataclasses,
a deck, single tasks run directly (Admin's `.flytegen` workflows) and a child launch plan with gates (signals
set on the child, terminate of the parent reaching the child); compared with flytekit's local run."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flytekit_e2e import CASES, DOMAIN, PROJECT, local_results, normalize_remote, start_local_runs
from flytekit_suite import Runs, Suite

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

WF_SUCCEEDED, WF_ABORTED = 4, 7
NODE_SUCCEEDED = 3
LOCAL = ["nested_cli", "nested_remote", "task_cli", "task_remote", "gated_child"]


@pytest.fixture(scope="module")
def runs(suite: Suite) -> Runs:
    local = start_local_runs(suite.project, LOCAL)
    cli = {key: suite.pyflyte(key) for key in ("nested_cli", "task_cli")}
    nested_wf = suite.register("nested", "nested_wf")
    count = suite.register("nested", "count")
    gated = suite.register("nested", "gated_parent_wf")
    executions = {
        "nested_remote": suite.execute(nested_wf, "nested_remote"),
        "task_remote": suite.execute(count, "task_remote"),
        "gated_child": suite.execute(gated, "gated_child"),
        "gated_terminate": suite.execute(gated, "gated_child"),
    }
    return Runs(local_results(local), cli, executions)


def _walk(nodes: dict[str, Any]) -> list[Any]:
    found = []
    for node in nodes.values():
        found.append(node)
        found += _walk(node.subworkflow_node_executions)
    return found


def test_pyflyte_run_remote_matches_local(suite: Suite, runs: Runs) -> None:
    run = runs.cli["nested_cli"].finish()
    assert run.proc.returncode == 0, run.output
    execution = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["nested_cli"], execution) == runs.local["nested_cli"]["outputs"]
    assert runs.local["nested_cli"]["outputs"] == {"o0": [1.5, 3.0, 4.5], "o1": 30}
    # branch → subworkflow → @dynamic → three item_file nodes, all with long (hashed) unique ids
    nodes = _walk(execution.node_executions)
    files = [n for n in nodes if n.metadata.spec_node_id.startswith("dn")]
    assert len(files) == 3 and all(n.closure.phase == NODE_SUCCEEDED for n in files)
    assert all(len(n.id.node_id) <= 20 for n in nodes), [n.id.node_id for n in nodes]

    # flyte:// URLs address nested nodes by their unique ids
    for node in files:
        outputs = suite.remote.get(f"flyte://v1/{PROJECT}/{DOMAIN}/{run.execution_name}/{node.id.node_id}/o")
        assert outputs is not None and set(outputs.literals) == {"o0"}, node.id.node_id

    deck = suite.remote.get(f"flyte://v1/{PROJECT}/{DOMAIN}/{run.execution_name}/n0/d")
    assert isinstance(deck, bytes) and b"item2" in deck


def test_flyteremote_matches_local(suite: Suite, runs: Runs) -> None:
    execution = suite.wait(runs.executions["nested_remote"])
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["nested_remote"], execution) == runs.local["nested_remote"]["outputs"]


def test_single_tasks(suite: Suite, runs: Runs) -> None:
    run = runs.cli["task_cli"].finish()
    assert run.proc.returncode == 0, run.output
    execution = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["task_cli"], execution) == runs.local["task_cli"]["outputs"] == {"o0": 6.0}
    # Admin keeps the TASK id as the spec's launch plan (it runs a `.flytegen` workflow); flytekit syncs by it
    assert execution.spec.launch_plan.resource_type == 1 and execution.spec.launch_plan.name.endswith(
        ".price"
    )

    execution = suite.wait(runs.executions["task_remote"])
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["task_remote"], execution) == runs.local["task_remote"]["outputs"]


def _child_name(suite: Suite, parent: Any) -> str:
    """The child execution of the parent's launch-plan node n0, once it exists."""
    deadline = time.monotonic() + 120
    while True:
        node = suite.remote.sync_execution(parent, sync_nodes=True).node_executions.get("n0")
        metadata = node.closure.workflow_node_metadata if node is not None else None
        if metadata is not None and metadata.execution_id.name:
            return str(metadata.execution_id.name)
        assert time.monotonic() < deadline, "no child execution for node n0"
        time.sleep(0.5)


def _wait_for_signals(suite: Suite, name: str, expected: set[str]) -> None:
    deadline = time.monotonic() + 120
    while {s.id.signal_id for s in suite.remote.list_signals(name)} < expected:
        assert time.monotonic() < deadline, f"signals {expected} of {name} never appeared"
        time.sleep(0.5)


def test_signals_set_on_a_child_execution(suite: Suite, runs: Runs) -> None:
    parent = runs.executions["gated_child"]
    child = _child_name(suite, parent)
    _wait_for_signals(suite, child, {"factor", "unit"})
    assert suite.remote.list_signals(parent.id.name) == []  # the gates belong to the child
    suite.remote.set_input("factor", child, 2)
    suite.remote.set_input("unit", child, "m")
    execution = suite.wait(parent)
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["gated_child"], execution) == runs.local["gated_child"]["outputs"]


def test_terminate_reaches_the_child(suite: Suite, runs: Runs) -> None:
    parent = runs.executions["gated_terminate"]
    child = _child_name(suite, parent)
    _wait_for_signals(suite, child, {"factor", "unit"})
    suite.remote.terminate(parent, "stop the family")
    assert suite.wait(parent).closure.phase == WF_ABORTED
    child_execution = suite.wait(suite.remote.fetch_execution(name=child))
    assert child_execution.closure.phase == WF_ABORTED
