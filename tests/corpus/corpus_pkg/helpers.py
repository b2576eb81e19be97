"""Helper functions that build parts of a graph at compile time, node creation, gates, misc valid patterns."""

from datetime import timedelta
from typing import List

from flytekit import approve, sleep, task, wait_for_input, workflow
from flytekit.core.node_creation import create_node

from corpus_pkg.tasks import add, double, log_only


def double_twice(value):
    """Called with a promise: it only passes it on to tasks, which is fine."""
    first = double(x=value)
    return double(x=first)


def describe(prefix: str, count: int) -> str:
    return f"{prefix}: {count}"


def pick(values, index=0):
    return values[index]


@task
def report(text: str) -> str:
    return text


@workflow
def with_helpers(x: int, xs: List[int]) -> int:
    y = double_twice(x)
    report(text=describe("sizes", 3))
    head = pick(xs)
    return add(x=y, y=head)


@workflow
def with_nodes(x: int) -> int:
    first = create_node(double, x=x)
    second = create_node(log_only, message="after")
    first >> second
    return add(x=first.o0, y=1)


@workflow
def with_gates(x: int) -> int:
    waited = sleep(timedelta(seconds=1))
    answer = wait_for_input("threshold", timeout=timedelta(hours=1), expected_type=int)
    doubled = double(x=answer)
    waited >> doubled
    approved = approve(doubled, "approve-result", timeout=timedelta(hours=2))
    return add(x=approved, y=x)
