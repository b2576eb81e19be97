"""Launch-plan nodes: a child launch plan (default and fixed inputs) launched twice by a parent workflow and
from a @dynamic sub-DAG; a scheduled launch plan for FlyteRemote.launch_backfill."""

from datetime import datetime

from flytekit import CronSchedule, LaunchPlan, dynamic, map_task, task, workflow

from workflows.failures import user_error_wf


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


@dynamic
def powers_of(n: int) -> tuple[list[int], list[int]]:
    """A dynamic sub-DAG with launch-plan nodes, a subworkflow and a map task."""
    via_lp = [child_lp(base=i) for i in range(n)]
    via_sub = child_wf(base=n, exp=3)
    mapped = map_task(power)(base=[n, n], exp=[1, 2])
    return [*via_lp, via_sub], mapped


@workflow
def dynamic_parent_wf(n: int) -> tuple[int, list[int], list[int]]:
    # the static call registers child_power_lp with this workflow's version, which the dynamic's nodes
    # reference (pyflyte run registers what the workflow references statically, not what a @dynamic creates)
    first = child_lp(base=n)
    launched, mapped = powers_of(n=n)
    return first, launched, mapped


@task
def day_of(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


@workflow
def daily_wf(t: datetime) -> str:
    return day_of(t=t)


# a scheduled launch plan: FlyteRemote.launch_backfill builds a workflow of launch-plan nodes, one per tick
daily_lp = LaunchPlan.get_or_create(
    daily_wf, name="daily_lp", schedule=CronSchedule(schedule="0 8 * * *", kickoff_time_input_arg="t")
)


boom_lp = LaunchPlan.get_or_create(user_error_wf, name="boom_lp")


@workflow
def failing_parent_wf(x: int) -> int:
    """The child execution fails: so do its node and the parent."""
    return boom_lp(x=x)
