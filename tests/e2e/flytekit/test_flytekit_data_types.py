"""§7: FlyteFile (uploaded input, task output), FlyteDirectory, nested dataclasses, enums, Optional (given
and left to its None default), unions (int and str), lists and dicts — through `pyflyte run --remote --wait`
and FlyteRemote, compared with flytekit's local run; FlyteRemote `get("flyte://...")` and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flytekit_e2e import (
    CASES,
    DOMAIN,
    INPUT_FILES,
    PROJECT,
    PyflyteRun,
    local_results,
    normalize_remote,
    start_local_runs,
)
from flytekit_suite import Suite

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]


@dataclass
class Runs:
    local: dict[str, dict[str, Any]]
    cli: PyflyteRun
    execution: Any
    dir_cli: PyflyteRun
    dir_execution: Any
    casts_cli: PyflyteRun
    casts: Any


@pytest.fixture(scope="module")
def runs(suite: Suite) -> Runs:
    local = start_local_runs(
        suite.project, ["data_types_cli", "data_types_remote", "dir_input", "casts_cli", "casts_remote"]
    )
    casts_cli = suite.pyflyte("casts_cli")
    cli = suite.pyflyte("data_types_cli")
    dir_cli = suite.pyflyte("dir_input")
    wf = suite.register("data_types", "data_types_wf")
    execution = suite.execute(wf, "data_types_remote")
    dir_execution = suite.execute(suite.register("data_types", "dir_input_wf"), "dir_input")
    casts = suite.execute(suite.register("data_types", "casts_wf"), "casts_remote")
    return Runs(local_results(local), cli, execution, dir_cli, dir_execution, casts_cli, casts)


@pytest.fixture(scope="module")
def finished(suite: Suite, runs: Runs) -> Any:
    execution = suite.wait(runs.execution)
    assert execution.closure.phase == 4, execution.closure.error  # SUCCEEDED
    return execution


def test_pyflyte_run_remote_matches_local(suite: Suite, runs: Runs) -> None:
    run = runs.cli.finish()
    assert run.proc.returncode == 0, run.output
    assert f"Execution {run.execution_name} has succeeded" in run.stdout
    execution = suite.fetch(run.execution_name)
    assert normalize_remote(CASES["data_types_cli"], execution) == runs.local["data_types_cli"]["outputs"]


def test_flyteremote_matches_local(runs: Runs, finished: Any) -> None:
    expected = runs.local["data_types_remote"]["outputs"]
    assert normalize_remote(CASES["data_types_remote"], finished) == expected
    # the FlyteFile input was uploaded through the DataProxy (flyte:// fsspec) and read by the task
    assert finished.outputs.get("o0", as_type=int) == 5


def _node_of(execution: Any, task_suffix: str) -> str:
    for node_id, node in execution.node_executions.items():
        tasks = node.task_executions
        if tasks and tasks[0].id.task_id.name.endswith(task_suffix):
            return str(node_id)
    raise AssertionError(f"no node runs a task named *{task_suffix} in {sorted(execution.node_executions)}")


def test_flyte_urls(suite: Suite, finished: Any) -> None:
    from flytekit.models.literals import Literal

    name = finished.id.name
    node = _node_of(finished, ".read_file")
    base = f"flyte://v1/{PROJECT}/{DOMAIN}/{name}/{node}"
    outputs = suite.remote.get(f"{base}/o")
    assert outputs is not None and outputs.get("o0", as_type=str) == "HELLO FLYTE"
    literal = suite.remote.get(f"{base}/o/o0")
    assert isinstance(literal, Literal) and literal.scalar.primitive.string_value == "HELLO FLYTE"
    inputs = suite.remote.get(f"{base}/i")
    assert inputs is not None and set(inputs.literals) == {"f"}
    attempt = suite.remote.get(f"{base}/0/o")  # the task execution (attempt 0)
    assert attempt is not None and attempt.get("o0", as_type=str) == "HELLO FLYTE"
    # an unknown node: flytekit logs the NOT_FOUND and returns None
    assert suite.remote.get(f"flyte://v1/{PROJECT}/{DOMAIN}/{name}/n99/o") is None


def test_execution_metrics(suite: Suite, finished: Any) -> None:
    span = suite.remote.get_execution_metrics(finished.id).to_flyte_idl()
    assert span.workflow_id.name == finished.id.name
    assert span.start_time.ToDatetime() <= span.end_time.ToDatetime()

    def node_ids(s: Any) -> set[str]:
        found = {s.node_id.node_id} if s.HasField("node_id") else set()
        for child in s.spans:
            found |= node_ids(child)
        return found

    assert {f"n{i}" for i in range(10)} <= node_ids(span)


def test_directory_input_is_uploaded(suite: Suite, runs: Runs) -> None:
    """A FlyteDirectory input: pyflyte and FlyteRemote upload it through the DataProxy, file by file."""
    expected = runs.local["dir_input"]["outputs"]
    assert expected == {"o0": INPUT_FILES}
    execution = suite.wait(runs.dir_execution)
    assert execution.closure.phase == 4, execution.closure.error  # SUCCEEDED
    assert normalize_remote(CASES["dir_input"], execution) == expected
    run = runs.dir_cli.finish()
    assert run.proc.returncode == 0, run.output
    assert normalize_remote(CASES["dir_input"], suite.fetch(run.execution_name)) == expected


def test_promise_casts(suite: Suite, runs: Runs) -> None:
    """The compiled workflow accepts flytekit's casts between task outputs and inputs (csv file → FlyteFile,
    int → Optional / union, list of dataclasses, untyped dict) and the values arrive as in the local run."""
    expected = runs.local["casts_remote"]["outputs"]
    assert expected["o0"] == expected["o1"] == "a,b\n0,0\n1,1\n"
    execution = suite.wait(runs.casts)
    assert execution.closure.phase == 4, execution.closure.error  # SUCCEEDED
    assert normalize_remote(CASES["casts_remote"], execution) == expected
    run = runs.casts_cli.finish()
    assert run.proc.returncode == 0, run.output
    assert (
        normalize_remote(CASES["casts_cli"], suite.fetch(run.execution_name))
        == runs.local["casts_cli"]["outputs"]
    )
