"""Workflows and launch plans wiring the tasks together."""

from datetime import timedelta
from typing import List

from flytekit import CronSchedule, LaunchPlan, conditional, task, workflow

from workflows.tasks import bootstrap, clean, load_data, report, split, squares, summarize


@task
def is_large(count: int, minimum: int) -> bool:
    return count >= minimum


@task
def warn(message: str) -> str:
    return f"WARNING: {message}"


@workflow
def prepare(n: int = 20, threshold: float = 0.05) -> List[float]:
    """Load and clean the data set."""
    raw = load_data(n=n)
    return clean(values=raw, threshold=threshold)


@workflow
def training_pipeline(n: int = 50, ratio: float = 0.8, label: str = "train") -> str:
    """Prepare the data, split it and report statistics on the training part."""
    values = prepare(n=n)
    parts = split(values=values, ratio=ratio)
    squared = squares(x=parts.train)
    stats = summarize(values=squared)
    large = is_large(count=stats.count, minimum=10)
    return (
        conditional("enough_data")
        .if_(large.is_true())
        .then(report(mean=stats.mean, count=stats.count, label=label))
        .else_()
        .then(warn(message="too few values"))
    )


@workflow
def bootstrap_pipeline(n: int = 30, rounds: int = 4) -> List[float]:
    values = prepare(n=n)
    return bootstrap(values=values, rounds=rounds)


nightly = LaunchPlan.get_or_create(
    workflow=training_pipeline,
    name="training_pipeline_nightly",
    default_inputs={"n": 200},
    fixed_inputs={"label": "nightly"},
    schedule=CronSchedule(schedule="0 3 * * *"),
    max_parallelism=4,
)

quick = LaunchPlan.create("bootstrap_quick", bootstrap_pipeline, fixed_inputs={"rounds": 2})

LaunchPlan.get_or_create(workflow=prepare, name="prepare_small", default_inputs={"n": 5})

_RETENTION = timedelta(days=7)
