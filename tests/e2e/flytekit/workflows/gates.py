"""Gate nodes: approve (passes its upstream value through), wait_for_input (a typed signal) and sleep."""

from datetime import timedelta

from flytekit import approve, sleep, task, wait_for_input, workflow


@task
def double(x: int) -> int:
    return x * 2


@task
def scale(x: int, factor: int, unit: str) -> str:
    return f"{x * factor} {unit}"


@workflow
def approve_wf(x: int) -> int:
    doubled = double(x=x)
    approved = approve(doubled, "approve-double", timeout=timedelta(minutes=10))
    return double(x=approved)


@workflow
def input_wf(x: int) -> str:
    factor = wait_for_input("factor", timeout=timedelta(minutes=10), expected_type=int)
    unit = wait_for_input("unit", timeout=timedelta(minutes=10), expected_type=str)
    nap = sleep(timedelta(seconds=1))
    result = scale(x=x, factor=factor, unit=unit)
    nap >> result
    return result


@workflow
def approve_timeout_wf(x: int) -> int:
    doubled = double(x=x)
    approved = approve(doubled, "quick-approve", timeout=timedelta(seconds=2))
    return double(x=approved)
