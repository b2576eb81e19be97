"""Workflow shapes the compiler must accept: failure nodes, failing branches, attribute paths, literal
collections of promises, enums, unions, partial map tasks."""

import enum
import functools
from dataclasses import dataclass

from flytekit import LaunchPlan, conditional, map_task, task, workflow
from flytekit.core.array_node import array_node
from flytekit.types.error import FlyteError


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Point:
    x: int
    y: float


@task
def make_point(x: int) -> Point:
    return Point(x=x, y=x / 2)


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def paint(color: Color, n: int) -> str:
    return f"{color.value}:{n}"


@task
def total(values: list[int], named: dict[str, int]) -> int:
    return sum(values) + sum(named.values())


@task
def maybe(x: int | None = None, y: int | str = 1) -> int:
    return (x or 0) + (y if isinstance(y, int) else len(y))


@task
def scale(x: int, factor: int) -> int:
    return x * factor


@task
def cleanup(x: int, color: Color, err: FlyteError | None = None) -> None:
    print(x, color, err)


@workflow(on_failure=cleanup)
def shapes(x: int = 2, color: Color = Color.RED) -> int:
    p = make_point(x=x)
    a = add(a=p.x, b=3)
    paint(color=color, n=a)
    paint(color=Color.BLUE, n=1)
    t = total(values=[a, x, 4], named={"a": a, "x": x})
    m = maybe(y=t)
    scaled = map_task(functools.partial(scale, factor=3))(x=[a, m])
    total(values=scaled, named={})
    return (
        conditional("sign")
        .if_(m > 100)
        .then(add(a=m, b=1))
        .elif_(m < 0)
        .then(conditional("inner").if_(x == 0).then(add(a=x, b=0)).else_().then(add(a=x, b=2)))
        .else_()
        .fail("m is too small")
    )


@workflow
def child(x: int) -> int:
    return add(a=x, b=1)


child_lp = LaunchPlan.get_or_create(child, name="compiler_pkg_child", default_inputs={"x": 0})


@workflow
def mapped_launch_plan(xs: list[int]) -> list[int | None]:
    return array_node(target=child_lp, concurrency=2, min_success_ratio=0.5)(x=xs)
