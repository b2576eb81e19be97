"""Every import style: module aliases, name aliases, deep imports, star imports, stacked decorators."""

import functools
import typing

import flytekit
import flytekit as fk
from flytekit import dynamic as flyte_dynamic
from flytekit import task as flyte_task
from flytekit import workflow as flyte_workflow
from flytekit.core.dynamic_workflow_task import dynamic as deep_dynamic
from flytekit.core.task import task as deep_task
from flytekit.core.workflow import workflow as deep_workflow


@flytekit.task
def via_module(x: int) -> int:
    return x + 1


@fk.task(retries=1)
def via_alias(x: int) -> int:
    return x * 3


@flyte_task
def via_name_alias(x: int) -> int:
    return x - 1


@deep_task(cache=True, cache_version="1")
def via_deep(x: int) -> int:
    return x


@flyte_dynamic
def dyn_alias(n: int) -> typing.List[int]:
    return [via_module(x=i) for i in range(n)]


@deep_dynamic(retries=2)
def dyn_deep(n: int) -> int:
    return via_alias(x=n)


def task(x):
    """A user function that happens to be called `task`: not flytekit's."""
    return x


def workflow(fn):
    """A user decorator called `workflow`: the functions it decorates are plain Python."""
    return fn


@workflow
def not_a_flyte_workflow(x):
    if x:
        return x + 1
    return len(str(x))


def retry_twice(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


@fk.workflow
def via_fk(x: int = 1) -> int:
    a = via_module(x=x)
    b = via_alias(x=a)
    return via_name_alias(x=b)


@flyte_workflow
def via_flyte_alias(x: int) -> int:
    return via_deep(x=x)


@deep_workflow
@retry_twice
def stacked(x: int) -> int:
    return dyn_deep(n=x)


@flytekit.workflow(interruptible=True)
def via_qualified(n: int) -> typing.List[int]:
    task(n)  # the user's `task`, called with a promise: it just returns it
    return dyn_alias(n=n)
