"""Launch-plan nodes: a parent workflow launches a child launch plan (default and fixed inputs) twice."""

from flytekit import LaunchPlan, task, workflow


@task
def power(base: int, exp: int) -> int:
    return base**exp


@task
def combine(a: int, b: int) -> str:
    return f"{a}+{b}={a + b}"


@workflow
def child_wf(base: int, exp: int) -> int:
    return power(base=base, exp=exp)


child_lp = LaunchPlan.get_or_create(
    child_wf, name="child_power_lp", default_inputs={"base": 3}, fixed_inputs={"exp": 2}
)


@workflow
def parent_wf(x: int) -> str:
    given = child_lp(base=x)
    defaulted = child_lp()
    return combine(a=given, b=defaulted)
