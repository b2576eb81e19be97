"""Tasks the runner tests launch through pyflyte-execute / pyflyte-fast-execute."""

import os
import time

from flytekit import dynamic, map_task, task, workflow
from flytekit.exceptions.user import FlyteRecoverableException
from flytekit.types.file import FlyteFile


@task
def add(a: int, b: str) -> str:
    return f"{b}:{a * 2}"


@task
def fails(x: int) -> int:
    if x >= 0:
        raise ValueError(f"bad value {x}")
    return x


@task(retries=2)
def flaky(x: int) -> int:
    if x >= 0:
        raise FlyteRecoverableException(f"try again {x}")
    return x


@task
def crash(x: int) -> int:
    if x >= 0:
        os._exit(3)
    return x


@task
def sleepy(x: int) -> int:
    with open(f"pid-{os.getpid()}", "w") as f:
        f.write(str(os.getpgid(0)))
    time.sleep(x)
    return x


@task
def where() -> str:
    return os.getcwd()


@task(enable_deck=True)
def write_file(text: str) -> FlyteFile:
    with open("out.txt", "w") as f:
        f.write(text)
    return FlyteFile("out.txt")


@task
def env_probe() -> dict[str, str]:
    names = (
        "PYTHONPATH",
        "TMPDIR",
        "FLYTE_ATTEMPT_NUMBER",
        "FLYTE_INTERNAL_EXECUTION_ID",
        "FLYTE_INTERNAL_TASK_NAME",
    )
    return {k: os.environ.get(k, "<unset>") for k in names}


@task
def square(x: int) -> int:
    return x * x


@dynamic
def fan_out(n: int) -> list[int]:
    return [square(x=i) for i in range(n)]


@workflow
def mapped(xs: list[int]) -> list[int]:
    return map_task(square)(x=xs)


@workflow
def all_tasks(n: int = 2) -> list[int]:
    add(a=n, b="x")
    fails(x=n)
    flaky(x=n)
    crash(x=n)
    sleepy(x=n)
    where()
    env_probe()
    write_file(text="t")
    return fan_out(n=n)
