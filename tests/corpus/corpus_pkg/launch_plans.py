"""Launch plans: default ones, named ones with fixed and default inputs, schedules, calls from workflows."""

from datetime import timedelta

import flytekit
from flytekit import CronSchedule, FixedRate, LaunchPlan, workflow
from flytekit.core.launch_plan import LaunchPlan as DeepLaunchPlan

from corpus_pkg import workflows
from corpus_pkg.tasks import add
from corpus_pkg.workflows import chained, simple

default_simple = LaunchPlan.get_or_create(simple)
default_again = LaunchPlan.get_or_create(workflow=simple)
nightly = LaunchPlan.get_or_create(
    workflow=chained,
    name="corpus_chained_nightly",
    default_inputs={"x": 10},
    fixed_inputs={"y": 1},
    schedule=CronSchedule(schedule="0 3 * * *"),
    max_parallelism=4,
)
same_nightly = LaunchPlan.get_or_create(
    workflow=chained,
    name="corpus_chained_nightly",
    default_inputs={"x": 10},
    fixed_inputs={"y": 1},
    schedule=nightly.schedule,
    max_parallelism=4,
)
hourly = LaunchPlan.create(
    "corpus_simple_hourly", simple, default_inputs={"x": 5}, schedule=FixedRate(duration=timedelta(hours=1))
)
qualified = flytekit.LaunchPlan.get_or_create(workflows.with_policy, "corpus_with_policy", {"x": 2})
deep = DeepLaunchPlan.get_or_create(workflows.no_inputs, name="corpus_no_inputs", auto_activate=True)
LaunchPlan.get_or_create(workflows.optionals, name="corpus_optionals_unassigned", default_inputs={"x": None})


@workflow
def calls_launch_plans(x: int) -> int:
    a = nightly(x=x)
    b = nightly()
    c = hourly(x=a)
    d = default_simple(x=b)
    return add(x=c, y=d)
