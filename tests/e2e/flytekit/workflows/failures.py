"""Failures: a user error (not retried even with retries), a recoverable error retried until it succeeds, and
retries that run out."""

import os
import time

from flytekit import map_task, task, workflow
from flytekit.exceptions.user import FlyteRecoverableException
from flytekit.types.error import FlyteError


def _attempt() -> int:
    # The backend sets FLYTE_ATTEMPT_NUMBER (0 for the first attempt) as propeller does; a local run has none.
    return int(os.environ.get("FLYTE_ATTEMPT_NUMBER", "-1"))


@task(retries=2)
def boom(x: int) -> int:
    if x >= 0:
        raise ValueError(f"boom {x}")
    return x


@task(retries=2)
def flaky(x: int) -> int:
    if _attempt() == 0:
        raise FlyteRecoverableException(f"flaky first attempt for {x}")
    return x + 100


@task(retries=1)
def always_flaky(x: int) -> int:
    if x >= 0:
        raise FlyteRecoverableException(f"always flaky {x} (attempt {_attempt()})")
    return x


@workflow
def user_error_wf(x: int) -> int:
    return boom(x=x)


@workflow
def retry_wf(x: int) -> int:
    return flaky(x=x)


@workflow
def retries_exhausted_wf(x: int) -> int:
    return always_flaky(x=x)


@task
def fragile_square(x: int) -> int:
    if x % 3 == 0:
        raise ValueError(f"{x} is a multiple of 3")
    return x * x


@task
def clean_up(x: int, err: FlyteError | None = None) -> None:
    print(f"cleaning up {x} after: {err.message if err else 'nothing'}")


@workflow
def partial_map_wf(xs: list[int]) -> list[int | None]:
    return map_task(fragile_square, min_success_ratio=0.5)(x=xs)


@workflow(on_failure=clean_up)
def on_failure_wf(x: int) -> int:
    return boom(x=x)


@task
def slow(s: int) -> int:
    time.sleep(s)
    return s


@workflow
def slow_wf(s: int) -> int:
    return slow(s=s)
