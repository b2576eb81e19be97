"""Caching of discoverable tasks by the local executor, over real gRPC, on workflows packaged by real
`pyflyte package`; a side-effect file proves whether a task ran."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from executor_backend import DOMAIN, PROJECT, Backend, NodePhase, WorkflowPhase, build_package, lit, start
from flyteidl.admin import execution_pb2, task_execution_pb2
from flyteidl.core import catalog_pb2, identifier_pb2, literals_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from test_executor import Package

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(240)]
Status = catalog_pb2.CatalogCacheStatus

FLOWS = """
from typing import Annotated

from flytekit import Cache, HashMethod, map_task, task, workflow


def _note(marker: str, text: str) -> None:
    with open(marker, "a") as f:
        f.write(text + "\\n")


@task(cache=Cache(version="1", ignored_inputs=("note",)))
def counted(x: int, marker: str, note: str) -> int:
    _note(marker, f"counted {x} {note}")
    return x * 10


@task
def plain(x: int) -> int:
    return x + 1


@workflow
def cached(x: int, marker: str, note: str = "") -> int:
    return plain(x=counted(x=x, marker=marker, note=note))


def same_hash(value: str) -> str:
    return "always-the-same"


@task
def make(s: str) -> Annotated[str, HashMethod(same_hash)]:
    return s


@task(cache=Cache(version="1"))
def shout(s: str, marker: str) -> str:
    _note(marker, f"shout {s}")
    return s.upper()


@workflow
def hashed(s: str, marker: str) -> str:
    return shout(s=make(s=s), marker=marker)


@task(cache=Cache(version="1", serialize=True))
def slow_once(x: int, marker: str) -> int:
    import time

    _note(marker, f"slow {x}")
    time.sleep(1.0)
    return x


@workflow
def serial(x: int, marker: str) -> int:
    return slow_once(x=x, marker=marker)


@task(cache=Cache(version="1"))
def per_item(x: int, marker: str) -> int:
    _note(marker, f"item {x}")
    return x * 3


@workflow
def mapped(xs: list[int], markers: list[str]) -> list[int]:
    return map_task(per_item)(x=xs, marker=markers)
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return build_package(tmp_path_factory.mktemp("cache"), "cache_pkg", FLOWS)


@pytest.fixture(scope="module")
def backend(package: Package, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start(tmp_path_factory.mktemp("cache-state") / "state", package)
    yield b
    b.stop()


def run(
    b: Backend, package: Package, workflow: str, overwrite_cache: bool = False, **inputs: object
) -> tuple[identifier_pb2.WorkflowExecutionIdentifier, object]:
    ident = b.launch(package, workflow, overwrite_cache=overwrite_cache, **inputs)
    done = b.wait(ident)
    assert done.closure.phase == WorkflowPhase.SUCCEEDED, done.closure.error
    return ident, b.outputs(ident)["o0"]


def attempts(b: Backend, ident: identifier_pb2.WorkflowExecutionIdentifier, node: str) -> int:
    listed = b.stub.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=ident),
            limit=10,
        ),
        timeout=10,
    )
    return len(listed.task_executions)


def lines(marker: Path) -> list[str]:
    return marker.read_text().splitlines() if marker.exists() else []


def test_miss_populate_hit_and_ignored_inputs(backend: Backend, package: Package, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    first, value = run(backend, package, "cached", x=2, marker=str(marker), note="a")
    assert value == 21 and lines(marker) == ["counted 2 a"]
    node = backend.nodes(first)["n0"]
    meta = node.closure.task_node_metadata
    assert meta.cache_status == Status.CACHE_POPULATED
    assert meta.catalog_key.dataset_id.name == "flyte_task-cache_pkg.flows.counted"
    assert meta.catalog_key.dataset_id.version.startswith("1-")
    assert meta.catalog_key.artifact_tag.name.startswith("flyte_cached-")
    source = meta.catalog_key.source_task_execution
    assert (
        source.node_execution_id.execution_id.name,
        source.node_execution_id.node_id,
        source.retry_attempt,
    ) == (first.name, "n0", 0)
    assert backend.nodes(first)["n1"].closure.task_node_metadata.cache_status == Status.CACHE_DISABLED

    # same inputs except the ignored `note`: a hit, the task does not run, no task execution
    second, value = run(backend, package, "cached", x=2, marker=str(marker), note="b")
    assert value == 21 and lines(marker) == ["counted 2 a"]
    node = backend.nodes(second)["n0"]
    assert node.closure.phase == NodePhase.SUCCEEDED
    assert node.closure.task_node_metadata.cache_status == Status.CACHE_HIT
    assert node.closure.task_node_metadata.catalog_key.source_task_execution == source
    assert attempts(backend, second, "n0") == 0
    assert attempts(backend, second, "n1") == 1  # the uncached consumer still runs

    # other inputs: another entry
    _, value = run(backend, package, "cached", x=3, marker=str(marker), note="a")
    assert value == 31 and lines(marker) == ["counted 2 a", "counted 3 a"]

    # overwrite_cache: runs, reports SKIPPED, and replaces the entry
    third, value = run(backend, package, "cached", overwrite_cache=True, x=2, marker=str(marker), note="c")
    assert value == 21 and lines(marker)[-1] == "counted 2 c"
    meta = backend.nodes(third)["n0"].closure.task_node_metadata
    assert meta.cache_status == Status.CACHE_SKIPPED
    assert meta.catalog_key.source_task_execution.node_execution_id.execution_id.name == third.name
    assert attempts(backend, third, "n0") == 1
    fourth, _ = run(backend, package, "cached", x=2, marker=str(marker), note="d")
    meta = backend.nodes(fourth)["n0"].closure.task_node_metadata
    assert meta.cache_status == Status.CACHE_HIT
    assert meta.catalog_key.source_task_execution.node_execution_id.execution_id.name == third.name
    assert len(lines(marker)) == 3


def test_literal_hash_replaces_the_value_in_the_key(
    backend: Backend, package: Package, tmp_path: Path
) -> None:
    marker = tmp_path / "ran.txt"
    _, value = run(backend, package, "hashed", s="a", marker=str(marker))
    assert value == "A"
    # `make` hashes every value to the same hash: the cached `shout` does not run for another value
    ident, value = run(backend, package, "hashed", s="b", marker=str(marker))
    assert value == "A" and lines(marker) == ["shout a"]
    assert backend.nodes(ident)["n1"].closure.task_node_metadata.cache_status == Status.CACHE_HIT


def test_serialized_cache_runs_once_for_concurrent_executions(
    backend: Backend, package: Package, tmp_path: Path
) -> None:
    marker = tmp_path / "ran.txt"
    idents = [backend.launch(package, "serial", x=7, marker=str(marker)) for _ in range(3)]
    statuses = []
    for ident in idents:
        done = backend.wait(ident)
        assert done.closure.phase == WorkflowPhase.SUCCEEDED, done.closure.error
        assert backend.outputs(ident) == {"o0": 7}
        statuses.append(backend.nodes(ident)["n0"].closure.task_node_metadata.cache_status)
    assert lines(marker) == ["slow 7"]
    assert sorted(statuses) == [Status.CACHE_HIT, Status.CACHE_HIT, Status.CACHE_POPULATED]


def test_map_task_indexes_are_cached_one_by_one(backend: Backend, package: Package, tmp_path: Path) -> None:
    marker = str(tmp_path / "ran.txt")

    def launch(xs: list[int]) -> identifier_pb2.WorkflowExecutionIdentifier:
        lp = next(lp.id for lp in package.launch_plans if lp.id.name.endswith(".flows.mapped"))
        inputs = literals_pb2.LiteralMap(
            literals={
                "xs": literals_pb2.Literal(
                    collection=literals_pb2.LiteralCollection(literals=[lit(x) for x in xs])
                ),
                "markers": literals_pb2.Literal(
                    collection=literals_pb2.LiteralCollection(literals=[lit(marker) for _ in xs])
                ),
            }
        )
        request = execution_pb2.ExecutionCreateRequest(
            project=PROJECT, domain=DOMAIN, spec=execution_pb2.ExecutionSpec(launch_plan=lp), inputs=inputs
        )
        ident = backend.stub.CreateExecution(request, timeout=10).id
        done = backend.wait(ident)
        assert done.closure.phase == WorkflowPhase.SUCCEEDED, done.closure.error
        return ident

    def indexes(ident: identifier_pb2.WorkflowExecutionIdentifier) -> list[tuple[int, int, int]]:
        node = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=ident)
        [attempt] = backend.stub.ListTaskExecutions(
            task_execution_pb2.TaskExecutionListRequest(node_execution_id=node, limit=10), timeout=10
        ).task_executions
        return [(r.index, r.phase, r.cache_status) for r in attempt.closure.metadata.external_resources]

    first = launch([1, 2, 3])
    assert backend.outputs(first) == {"o0": [3, 6, 9]}
    assert sorted(lines(Path(marker))) == ["item 1", "item 2", "item 3"]
    ok = core_execution_pb2.TaskExecution.SUCCEEDED
    assert indexes(first) == [(i, ok, Status.CACHE_POPULATED) for i in range(3)]
    second = launch([2, 3, 4])
    assert backend.outputs(second) == {"o0": [6, 9, 12]}
    assert sorted(lines(Path(marker))) == ["item 1", "item 2", "item 3", "item 4"]
    assert indexes(second) == [
        (0, ok, Status.CACHE_HIT),
        (1, ok, Status.CACHE_HIT),
        (2, ok, Status.CACHE_POPULATED),
    ]


def test_cache_survives_a_restart(package: Package, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    b = start(tmp_path / "state", package)
    try:
        run(b, package, "cached", x=5, marker=str(marker), note="")
    finally:
        b.stop()
    b = start(tmp_path / "state")  # the registrations and the cache are in the state dir
    try:
        ident, value = run(b, package, "cached", x=5, marker=str(marker), note="")
        assert value == 51 and lines(marker) == ["counted 5 "]
        assert b.nodes(ident)["n0"].closure.task_node_metadata.cache_status == Status.CACHE_HIT
    finally:
        b.stop()
