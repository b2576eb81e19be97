"""Branch conditions: on a task's bool output (is_true), a float output with & and elif, an Optional output
(is_none), and an else that fails the execution."""

from flytekit import conditional, task, workflow


@task
def is_even(x: int) -> bool:
    return x % 2 == 0


@task
def quarter(x: int) -> float:
    return x / 4


@task
def maybe(x: int) -> int | None:
    return None if x < 0 else x


@task
def say(s: str) -> str:
    return s


@workflow
def branches_wf(x: int) -> tuple[str, str, str]:
    even = is_even(x=x)
    parity = conditional("parity").if_(even.is_true()).then(say(s="even")).else_().then(say(s="odd"))
    q = quarter(x=x)
    size = (
        conditional("size")
        .if_((q > 0.5) & (q < 2.0))
        .then(say(s="mid"))
        .elif_(q >= 2.0)
        .then(say(s="high"))
        .else_()
        .then(say(s="low"))
    )
    m = maybe(x=x)
    presence = conditional("presence").if_(m.is_none()).then(say(s="none")).else_().then(say(s="some"))
    return parity, size, presence


@workflow
def must_be_positive_wf(x: int) -> str:
    return conditional("sign").if_(x > 0).then(say(s="positive")).else_().fail("x must be positive")
