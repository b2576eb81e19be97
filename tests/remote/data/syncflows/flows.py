"""Workflows for tests/remote/test_remote_sync.py, registered with the real `pyflyte register`."""

import time

from flytekit import LaunchPlan, dynamic, map_task, task, workflow


@task
def step(x: int, pause: float) -> int:
    time.sleep(pause)
    return x + 1


@task
def double(x: int) -> int:
    return x * 2


@workflow
def chain_wf(x: int = 0, pause: float = 0.0) -> int:
    a = step(x=x, pause=pause)
    b = step(x=a, pause=pause)
    return step(x=b, pause=pause)


@workflow
def double_wf(x: int = 5) -> int:
    return double(x=x)


double_lp = LaunchPlan.get_or_create(double_wf, name="syncflows.flows.double_lp", default_inputs={"x": 7})


@dynamic
def fan(n: int) -> list[int]:
    return [double(x=i) for i in range(n)]


@workflow
def tree_wf(n: int) -> tuple[list[int], int]:
    fanned = fan(n=n)
    mapped = map_task(double)(x=fanned)
    child = double_lp(x=n)
    return mapped, child
