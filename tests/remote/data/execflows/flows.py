"""Workflows for tests/remote/test_remote_execute.py, registered with the real `pyflyte register`."""

import time
from dataclasses import dataclass
from datetime import timedelta

from flytekit import LaunchPlan, approve, dynamic, map_task, task, wait_for_input, workflow


@dataclass
class Point:
    x: int
    y: float


@task
def describe(n: int, ratio: float, name: str, flag: bool, xs: list[int], p: Point, maybe: int | None) -> str:
    return f"{n}|{ratio}|{name}|{flag}|{sum(xs)}|{p.x + p.y}|{maybe}"


@task
def double(x: int) -> int:
    return x * 2


@task
def nap(seconds: int) -> int:
    time.sleep(seconds)
    return seconds


@task
def scale(x: int, factor: int) -> int:
    return x * factor


@workflow
def typed_wf(
    n: int, ratio: float, name: str, flag: bool, xs: list[int], p: Point, maybe: int | None = None
) -> str:
    return describe(n=n, ratio=ratio, name=name, flag=flag, xs=xs, p=p, maybe=maybe)


@workflow
def double_wf(x: int = 5) -> int:
    return double(x=x)


double_lp = LaunchPlan.get_or_create(double_wf, name="execflows.flows.double_lp", default_inputs={"x": 7})


@workflow
def slow_wf(seconds: int = 120) -> int:
    return nap(seconds=seconds)


@workflow
def gate_wf(x: int) -> int:
    doubled = double(x=x)
    approved = approve(doubled, "ok", timeout=timedelta(minutes=10))
    factor = wait_for_input("factor", timeout=timedelta(minutes=10), expected_type=int)
    return scale(x=approved, factor=factor)


@dynamic
def fan(n: int) -> list[int]:
    return [double(x=i) for i in range(n)]


@workflow
def tree_wf(n: int) -> tuple[list[int], int]:
    fanned = fan(n=n)
    mapped = map_task(double)(x=fanned)
    child = double_lp(x=n)
    return mapped, child
