"""Workflows for tests/run/test_tracker.py, registered with the real `pyflyte register`."""

import time
from datetime import timedelta

from flytekit import approve, task, workflow

from trackflows.helpers import check_positive


@task
def nap(seconds: int) -> int:
    time.sleep(seconds)
    return seconds


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def validate(x: int) -> int:
    return check_positive(x)


@workflow
def two_steps(seconds: int = 2) -> int:
    slept = nap(seconds=seconds)
    return add(x=slept, y=40)


@workflow
def failing(x: int = -1) -> int:
    ok = nap(seconds=0)
    return add(x=validate(x=x), y=ok)


@workflow
def gated(x: int = 1) -> int:
    y = add(x=x, y=1)
    approved = approve(y, "go", timeout=timedelta(minutes=10))
    return add(x=approved, y=100)
