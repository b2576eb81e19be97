"""§7: caching — the first run populates (and its own repeated call hits, as does a call that differs only
in an ignored input), the next run of another registered version hits everywhere without task executions,
overwrite_cache skips the lookup and writes again; outputs compared with flytekit's local run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flytekit_e2e import CASES, PyflyteRun, local_results, normalize_remote, start_local_runs
from flytekit_suite import Suite

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

WF_SUCCEEDED = 4
HIT, POPULATED, SKIPPED = 2, 3, 6  # CatalogCacheStatus
# cached_cube, cached_cube again, cached_add, cached_add (other note), cached_cube with cache_version "2"
NODES = ["n0", "n1", "n2", "n3", "n4"]


@dataclass
class Runs:
    local: dict[str, dict[str, Any]]
    cli: PyflyteRun
    wf: Any
    map_cli: PyflyteRun


@pytest.fixture(scope="module")
def runs(suite: Suite) -> Runs:
    local = start_local_runs(
        suite.project, ["cache_cli", "cache_remote", "cache_parent", "cache_map_cli", "cache_map_remote"]
    )
    cli = suite.pyflyte("cache_cli")
    map_cli = suite.pyflyte("cache_map_cli")
    wf = suite.register("caching", "cache_wf")
    return Runs(local_results(local), cli, wf, map_cli)


def _cache(execution: Any) -> dict[str, tuple[int, int]]:
    """node -> (cache status, number of task executions)."""
    found = {}
    for node_id in NODES:
        node = execution.node_executions[node_id]
        found[node_id] = (node.closure.task_node_metadata.cache_status, len(node.task_executions))
    return found


def test_first_run_populates_then_hits(suite: Suite, runs: Runs) -> None:
    run = runs.cli.finish()
    assert run.proc.returncode == 0, run.output
    execution = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["cache_cli"], execution) == runs.local["cache_cli"]["outputs"]
    assert _cache(execution) == {
        "n0": (POPULATED, 1),
        "n1": (HIT, 0),
        "n2": (POPULATED, 1),
        "n3": (HIT, 0),
        "n4": (POPULATED, 1),
    }
    key = execution.node_executions["n1"].closure.task_node_metadata.catalog_key
    assert key.dataset_id.name.endswith("cached_cube") and key.artifact_tag.name


def test_another_version_hits_everywhere(suite: Suite, runs: Runs) -> None:
    runs.cli.finish()  # the cache entries come from the pyflyte run
    execution = suite.wait(suite.execute(runs.wf, "cache_remote"))
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["cache_remote"], execution) == runs.local["cache_remote"]["outputs"]
    assert _cache(execution) == {node: (HIT, 0) for node in NODES}


def test_overwrite_cache_runs_again(suite: Suite, runs: Runs) -> None:
    runs.cli.finish()
    execution = suite.wait(suite.execute(runs.wf, "cache_remote", overwrite_cache=True))
    assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
    assert normalize_remote(CASES["cache_remote"], execution) == runs.local["cache_remote"]["outputs"]
    assert _cache(execution) == {node: (SKIPPED, 1) for node in NODES}


def test_launch_plan_children_cache_and_inherit_overwrite_cache(suite: Suite, runs: Runs) -> None:
    runs.cli.finish()
    parent_wf = suite.register("caching", "cache_parent_wf")
    statuses = []
    for overwrite in (False, True):
        execution = suite.wait(suite.execute(parent_wf, "cache_parent", overwrite_cache=overwrite))
        assert execution.closure.phase == WF_SUCCEEDED, execution.closure.error
        assert normalize_remote(CASES["cache_parent"], execution) == runs.local["cache_parent"]["outputs"]
        (child,) = execution.node_executions["n0"].workflow_executions
        assert child.spec.overwrite_cache is overwrite
        node = child.node_executions["n0"]
        statuses.append((node.closure.task_node_metadata.cache_status, len(node.task_executions)))
    assert statuses == [(HIT, 0), (SKIPPED, 1)]


def _index_cache(execution: Any) -> list[int]:
    (attempt,) = execution.node_executions["n0"].task_executions
    resources = attempt.closure.to_flyte_idl().metadata.external_resources
    return [r.cache_status for r in sorted(resources, key=lambda r: r.index)]


def test_map_task_indexes_are_cached_each(suite: Suite, runs: Runs) -> None:
    """Per index (flyte-ls' choice): the pyflyte run of [1, 2, 3] populates three entries, the FlyteRemote run
    of [2, 3, 4] then hits two and populates one; statuses in the attempt's external_resources."""
    run = runs.map_cli.finish()
    assert run.proc.returncode == 0, run.output
    first = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["cache_map_cli"], first) == runs.local["cache_map_cli"]["outputs"]
    assert _index_cache(first) == [POPULATED] * 3
    wf = suite.register("caching", "cache_map_wf")
    second = suite.wait(suite.execute(wf, "cache_map_remote"))
    assert normalize_remote(CASES["cache_map_remote"], second) == runs.local["cache_map_remote"]["outputs"]
    assert _index_cache(second) == [HIT, HIT, POPULATED]
