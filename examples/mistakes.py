"""Deliberate Flyte mistakes: `flyte-ls check examples/` and the demo show what the server reports."""

from flytekit import task, workflow


@task
def double(x: int) -> int:
    return 2 * x


@task
def untyped(x, y: int = 1):
    return x + y


@workflow
def broken(x: int) -> int:
    a = double(x)  # positional argument: flytekit needs keywords
    if a > 3:  # a promise has no value while the workflow is compiled
        a = double(x=a)
    return double(y=a)  # `double` has no input `y`
