"""Tasks run both through the fork server and spawned (tests/local/test_pool.py): their results must agree."""

import dataclasses
import datetime
import enum
import json
import logging
import os
import random
import re
import signal
import sys
import tempfile
import threading

import flytekit
from flytekit import dynamic, map_task, task, workflow
from flytekit.configuration import Config
from flytekit.exceptions.user import FlyteRecoverableException
from flytekit.types.file import FlyteFile


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str
    tags: list[str]


@task
def scalars(i: int, f: float, s: str, b: bool) -> tuple[int, float, str, bool]:
    return i + 1, f * 2, s.upper(), not b


@task
def collections(
    xs: list[int], m: dict[str, float]
) -> tuple[list[int], dict[str, float], dict[str, list[int]]]:
    return [x * 3 for x in xs], {k: v / 2 for k, v in m.items()}, {"evens": [x for x in xs if x % 2 == 0]}


@task
def make_point(x: int, label: str) -> tuple[Point, Color, str | None, int | None]:
    return Point(x=x, y=x / 4, label=label, tags=[label, "p"]), Color.GREEN, None, x


@task
def move_point(p: Point, c: Color) -> Point:
    return Point(x=p.x + 1, y=p.y, label=f"{p.label}-{c.value}", tags=p.tags[::-1])


@task
def later(d: datetime.datetime, t: datetime.timedelta) -> datetime.datetime:
    return d + t


@task
def nothing() -> None:
    logging.getLogger("user").info("nothing")


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
def file_out(text: str) -> FlyteFile:
    with open("out.txt", "w") as f:
        f.write(text)
    return FlyteFile("out.txt")


@task
def lucky() -> float:
    return random.random()


def _mask(text: str) -> str:
    """mkdtemp / flytekit random directory names → a placeholder (they differ between any two runs)."""
    return re.sub(
        r"(flyte-?|tmp)[a-z0-9_]{8}|/[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", r"\1<r>", text
    )


@task
def probe() -> dict[str, str]:
    """What a task can see of its process: it must be the same forked as spawned."""
    ctx = flytekit.current_context()
    flyte_logger = logging.getLogger("flytekit")
    tmp = tempfile.gettempdir()
    return {
        "env": json.dumps(dict(sorted(os.environ.items()))),
        "cwd": os.getcwd(),
        "tempdir": tmp,
        "tmp_tree": json.dumps(
            sorted(
                _mask(os.path.relpath(os.path.join(d, n), tmp)) for d, ds, fs in os.walk(tmp) for n in ds + fs
            )
        ),
        "argv": json.dumps(sys.argv),
        "executable": sys.executable,
        "path": json.dumps(sys.path),
        "main": getattr(sys.modules["__main__"], "__file__", "<none>"),
        "execution_id": str(ctx.execution_id),
        "working_directory": _mask(ctx.working_directory),
        "sandbox": _mask(Config.auto().local_sandbox_path),
        "loggers": json.dumps(
            [
                (
                    name,
                    logging.getLogger(name).level,
                    [type(h).__name__ for h in logging.getLogger(name).handlers],
                )
                for name in ("flytekit", "user_space", "developer", "")
            ]
        ),
        "flytekit_logger_propagate": str(flyte_logger.propagate),
        "signals": json.dumps(
            {
                s.name: repr(signal.getsignal(s)).split(" at ")[0]
                for s in (
                    signal.SIGINT,
                    signal.SIGTERM,
                    signal.SIGCHLD,
                    signal.SIGPIPE,
                    signal.SIGHUP,
                    signal.SIGUSR1,
                )
            }
        ),
        "blocked": str(sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))),
        "threads": str(threading.active_count()),
        "session": str(os.getsid(0) == os.getpgid(0)),
        "fds": str(sorted(int(fd) for fd in os.listdir("/proc/self/fd"))),
        "stdio": json.dumps([os.path.realpath(f"/proc/self/fd/{fd}") for fd in (0, 1, 2)]),
        "umask": str(os.umask(0o022)),
    }


@task
def sleepy(x: int) -> int:
    import time

    with open(f"pid-{os.getpid()}", "w") as f:
        f.write(str(os.getpgid(0)))
    time.sleep(x)
    return x


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
def everything(n: int = 2) -> list[int]:
    scalars(i=n, f=1.5, s="s", b=True)
    collections(xs=[n], m={"a": 1.0})
    p, c, _, _ = make_point(x=n, label="l")
    move_point(p=p, c=c)
    later(d=datetime.datetime(2024, 1, 1), t=datetime.timedelta(hours=2))
    nothing()
    fails(x=n)
    flaky(x=n)
    file_out(text="t")
    lucky()
    probe()
    sleepy(x=0)
    return fan_out(n=n)
