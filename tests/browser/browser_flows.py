"""The workflows the browser tests and ``scripts/console_screenshots.py`` run on a real local backend: a
finished one with every kind of node the console draws (task, subworkflow, branch, @dynamic, map task, a
deck, a retry, a cached task), one that stays RUNNING until a file appears, and one that fails."""

import os
import time
from pathlib import Path

import flytekit
from flytekit import conditional, dynamic, map_task, task, workflow
from flytekit.exceptions.user import FlyteRecoverableException

LOG_LINE = "console-flows: summarize saw"  # printed by `summarize`: the tests read it through a log link


@task
def prepare(n: int) -> list[int]:
    return list(range(1, n + 1))


@task
def square(x: int) -> int:
    return x * x


@task
def double(x: int) -> int:
    return x * 2


@task(enable_deck=True)
def summarize(xs: list[int]) -> int:
    print(LOG_LINE, xs, flush=True)
    flytekit.Deck("summary", f"<p>{len(xs)} values, total {sum(xs)}</p>")
    return sum(xs)


@task(retries=1)
def flaky(x: int) -> int:
    if os.environ.get("FLYTE_ATTEMPT_NUMBER", "0") == "0":
        raise FlyteRecoverableException("the first attempt fails on purpose")
    return x


@task(cache=True, cache_version="1")
def cached(x: int) -> int:
    return x + 1


@task
def big(x: int) -> str:
    return f"big {x}"


@task
def small(x: int) -> str:
    return f"small {x}"


@workflow
def inner(x: int) -> int:
    return double(x=square(x=x))


@dynamic
def fan_out(n: int) -> list[int]:
    return [double(x=i) for i in range(n)]


@workflow
def showcase(n: int = 3) -> str:
    """Every kind of node the console draws: a subworkflow, a map task, @dynamic, a deck, a retry, a cached
    task and a branch."""
    xs = prepare(n=n)
    squares = map_task(square)(x=xs)
    doubled = fan_out(n=n)
    total = summarize(xs=squares)
    first = inner(x=n)
    again = flaky(x=total)
    kept = cached(x=again)
    summarize(xs=doubled)
    return conditional("size").if_(n > 2).then(big(x=kept)).else_().then(small(x=first))


@task
def wait_for_file(path: str, timeout_s: int) -> str:
    """Polls for ``path`` (the test creates it): the execution stays RUNNING until then."""
    deadline = time.monotonic() + timeout_s
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout_s} s")
        time.sleep(0.2)
    return Path(path).read_text()


@task
def measure(text: str) -> int:
    return len(text)


@workflow
def waiting(path: str, timeout_s: int = 300) -> str:
    """RUNNING until ``path`` exists: a page that updates live."""
    got = wait_for_file(path=path, timeout_s=timeout_s)
    return big(x=double(x=measure(text=got)))


@task
def explode(x: int) -> int:
    if x > 0:
        raise ValueError(f"explode got {x}")
    return x


@workflow
def fails(x: int = 1) -> int:
    return explode(x=double(x=x))
