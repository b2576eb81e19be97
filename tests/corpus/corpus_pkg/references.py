"""References to entities registered elsewhere: decorators and classes; calling them from workflows."""

from typing import List

from flytekit import (
    get_reference_entity,
    reference_launch_plan,
    reference_task,
    reference_workflow,
    workflow,
)
from flytekit.core.base_task import kwtypes
from flytekit.core.task import ReferenceTask
from flytekit.core.workflow import ReferenceWorkflow
from flytekit.models.core.identifier import ResourceType


@reference_task(project="flytesnacks", domain="development", name="recipes.tasks.normalize", version="v1")
def normalize(values: List[float], scale: float = 1.0) -> List[float]:
    ...


@reference_workflow(project="flytesnacks", domain="development", name="recipes.pipeline", version="v1")
def remote_pipeline(n: int) -> float:
    """A reference workflow's body never runs: `return ...` documents the output."""
    return ...


@reference_launch_plan(project="flytesnacks", domain="development", name="recipes.nightly", version="v1")
def remote_nightly(n: int) -> float:
    ...


square = ReferenceTask(
    project="flytesnacks",
    domain="development",
    name="recipes.tasks.square",
    version="v1",
    inputs=kwtypes(x=int),
    outputs=kwtypes(o0=int),
)
scoring = ReferenceWorkflow(
    "flytesnacks", "development", "recipes.scoring", "v1", inputs=kwtypes(x=int), outputs=kwtypes(o0=float)
)
by_id = get_reference_entity(
    ResourceType.TASK,
    "flytesnacks",
    "development",
    "recipes.tasks.cube",
    "v1",
    inputs=kwtypes(x=int),
    outputs=kwtypes(o0=int),
)


@workflow
def uses_references(values: List[float], n: int = 3) -> float:
    normalize(values=values, scale=2.0)
    square(x=n)
    by_id(x=n)
    return remote_nightly(n=n)
