"""Deliberate Flyte mistakes: `flyte-ls check examples/` and the demo show what the server reports."""

from flytekit import task, workflow


@task
def double(x: int) -> int:
    return 2 * x


@task(cache=True)  # a cached task needs a cache_version
def untyped(x, y: int = 1):  # `x` has no type annotation
    return x + y


@workflow
def broken(x: int) -> int:
    a = double(x=x)
    if a > 3:  # a promise has no value while the workflow is compiled: use conditional()
        a = double(x=a)
    total = a + 1  # arithmetic on a promise: do it in a task
    return double(y=total)  # `double` has no input `y`
