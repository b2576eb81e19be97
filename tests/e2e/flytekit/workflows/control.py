"""Node kinds: @dynamic, map tasks (ArrayNode), branches (conditional) and subworkflows."""

from flytekit import conditional, dynamic, map_task, task, workflow


@task
def square(x: int) -> int:
    return x * x


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def label(s: str, n: int) -> str:
    return f"{s}:{n}"


@dynamic
def squares_upto(n: int) -> list[int]:
    return [square(x=i) for i in range(n)]


@workflow
def sum_of_squares(a: int, b: int) -> int:
    return add(a=square(x=a), b=square(x=b))


@workflow
def control_wf(n: int, xs: list[int]) -> tuple[list[int], list[int], str, int]:
    dynamic_out = squares_upto(n=n)
    mapped = map_task(square, concurrency=2)(x=xs)
    branch = (
        conditional("size")
        .if_(n > 3)
        .then(label(s="big", n=n))
        .elif_(n == 3)
        .then(label(s="three", n=n))
        .else_()
        .then(label(s="small", n=n))
    )
    sub = sum_of_squares(a=n, b=2)
    return dynamic_out, mapped, branch, sub
