"""conditional(): comparisons, & and |, is_true/is_false/is_none, elif, fail, nested, outputs used."""

from typing import Optional

from flytekit import conditional, task, workflow

from corpus_pkg.tasks import add, double, log_only


@task
def positive(x: int) -> bool:
    return x > 0


@task
def describe(x: int) -> str:
    return f"value {x}"


@workflow
def branches(x: int, y: int = 0, name: Optional[str] = None) -> int:
    is_pos = positive(x=x)
    a = (
        conditional("sign")
        .if_(is_pos.is_true())
        .then(double(x=x))
        .elif_((x == 0) | (y < 0))
        .then(add(x=y, y=1))
        .else_()
        .then(add(x=x, y=-1))
    )
    b = conditional("range").if_((a >= 1) & (a <= 10)).then(double(x=a)).else_().fail("a is out of range")
    conditional("named").if_(name.is_none()).then(log_only(message="no name")).else_().then(log_only(message="named"))
    c = conditional("flag").if_(is_pos.is_false()).then(double(x=b)).else_().then(double(x=a))
    nested = (
        conditional("outer")
        .if_(c > 5)
        .then(conditional_inner(x=c))
        .else_()
        .then(double(x=c))
    )
    return nested


@workflow
def conditional_inner(x: int) -> int:
    return conditional("inner").if_(x != 7).then(double(x=x)).else_().then(add(x=x))


@workflow
def string_result(x: int) -> str:
    return conditional("describe").if_(x > 1).then(describe(x=x)).else_().then(describe(x=0))
