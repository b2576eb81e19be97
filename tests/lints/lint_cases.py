"""The lint case catalogue: flagged code that real flytekit rejects, and valid variants it accepts.

Every case is a small module. Lines that a rule must flag end with a marker comment ``# expect: FL020``
(several: ``# expect: FL010, FL010``; another severity: ``# expect: FL020 warning``). A *bad* case names where
real flytekit fails (``import``, ``serialize`` or ``run``) and a piece of its error text; a case whose mistake
does not raise (a Warning rule) names ``result``: a piece of the wrong value flytekit produces. A *good* case
must pass flytekit and produce no finding at all.

``test_flytekit_proof.py`` runs all of them through real flytekit (one subprocess); ``test_rules.py`` runs our
analysis on the same sources.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from flyte_ls.analysis.lints.registry import default_severity
from flyte_ls.analysis.model import Severity

HEADER = """\
import functools
import typing
from typing import Dict, List, NamedTuple, Optional, Tuple

from flytekit import Cache, LaunchPlan, Resources, conditional, dynamic, eager, map_task, task, workflow
from flytekit import reference_task, reference_workflow


@task
def t(x: int) -> int:
    return x


@task
def t2(x: int) -> Tuple[int, int]:
    return x, x


@task
def tv(x: int):
    print(x)


@task
def tl(n: int) -> List[int]:
    return list(range(n))


@task
def tb(b: bool) -> bool:
    return b


@task
def ts(s: str) -> str:
    return s


@task
def tf(f: float) -> float:
    return f


@task
async def at(x: int) -> int:
    return x

"""

_MARKER = re.compile(r"#\s*expect:\s*(.+)$")


@dataclass(frozen=True)
class Expected:
    code: str
    line: int  # 1-based
    severity: Severity


@dataclass(frozen=True)
class Case:
    name: str  # also the module name flytekit imports it as
    source: str
    stage: str | None = None  # where flytekit fails: "import" | "serialize" | "run"; None: it does not fail
    error: str = ""  # a piece of flytekit's error text
    run: str | None = None  # expression evaluated in the module after serialization
    result: str = ""  # a piece of repr(result of `run`) that shows the wrong value (Warning rules)
    extra: dict[str, str] = field(default_factory=dict)  # sibling modules: name -> source

    @property
    def expected(self) -> list[Expected]:
        out = []
        for i, line in enumerate(self.source.split("\n"), start=1):
            match = _MARKER.search(line)
            if not match:
                continue
            for item in match.group(1).split(","):
                parts = item.split()
                code = parts[0]
                severity = Severity(parts[1]) if len(parts) > 1 else default_severity(code)
                out.append(Expected(code, i, severity))
        return sorted(out, key=lambda e: (e.line, e.code))

    @property
    def codes(self) -> set[str]:
        return {e.code for e in self.expected}


CASES: list[Case] = []


def bad(name: str, body: str, stage: str, error: str, run: str | None = None, **kw: object) -> None:
    CASES.append(Case(name, HEADER + textwrap.dedent(body), stage, error, run, **kw))  # type: ignore[arg-type]


def warn(name: str, body: str, run: str, result: str, **kw: object) -> None:
    CASES.append(Case(name, HEADER + textwrap.dedent(body), None, "", run, result, **kw))  # type: ignore[arg-type]


def workflow_source(params: str, returns: str, body: str) -> str:
    """A one-workflow module body; ``body`` is written without the function's indentation."""
    return f"\n@workflow\ndef wf({params}) -> {returns}:\n" + textwrap.indent(body, "    ") + "\n"


def good(name: str, body: str, run: str | None = None, **kw: object) -> None:
    CASES.append(Case(name, HEADER + textwrap.dedent(body), None, "", run, **kw))  # type: ignore[arg-type]


# -- FL001 missing input annotation --------------------------------------------------------------------------
bad(
    "fl001_task",
    """
    @task
    def untyped(x, y: int) -> int:  # expect: FL001
        return y
""",
    "import",
    "'x' has no type",
)
bad(
    "fl001_workflow",
    """
    @workflow
    def wf(
        x,  # expect: FL001
    ) -> int:
        return t(x=x)
""",
    "import",
    "'x' has no type",
)
bad(
    "fl001_dynamic",
    """
    @dynamic
    def d(x, y) -> int:  # expect: FL001, FL001
        return t(x=1)
""",
    "import",
    "has no type",
)
bad(
    "fl001_reference_task",
    """
    @reference_task(project="p", domain="d", name="n", version="v")
    def r(x) -> int:  # expect: FL001
        ...
""",
    "import",
    "'x' has no type",
)
good(
    "fl001_ok_pickle_untyped",
    """
    @task(pickle_untyped=True)
    def untyped(x) -> int:
        return 1
""",
)

# -- FL002 declared output, no return value ------------------------------------------------------------------
bad(
    "fl002_task_no_return",
    """
    @task
    def noret(x: int) -> int:  # expect: FL002
        print(x)
""",
    "import",
    "must return a value",
)
bad(
    "fl002_workflow_no_return",
    """
    @workflow
    def wf(x: int) -> int:  # expect: FL002
        t(x=x)
""",
    "import",
    "must return a value",
)
bad(
    "fl002_reference_workflow",
    """
    @reference_workflow(project="p", domain="d", name="n", version="v")
    def r(x: int) -> int:  # expect: FL002
        ...
""",
    "import",
    "must return a value",
)
bad(
    "fl002_task_docstring_only",
    """
    @task
    def noret(x: int) -> int:  # expect: FL002
        '''Should return x.'''
        print(x)
""",
    "run",
    "Python value cannot be None",
    run="noret(x=1)",
)
bad(
    "fl002_workflow_bare_return",
    """
    @workflow
    def wf(x: int) -> int:  # expect: FL002
        t(x=x)
        return
""",
    "serialize",
    "Python value cannot be None",
)
good(
    "fl002_ok_optional",
    """
    @task
    def maybe(x: int) -> Optional[int]:
        print(x)
""",
    run="maybe(x=1)",
)
good(
    "fl002_ok_none_and_branches",
    """
    @task
    def nothing(x: int) -> None:
        print(x)


    @task
    def branches(x: int) -> int:
        if x > 1:
            return 1
        return 2


    @reference_task(project="p", domain="d", name="n", version="v")
    def ref(x: int) -> int:
        ...
""",
    run="branches(x=3)",
)

# -- FL003 workflow returns a value it does not declare ------------------------------------------------------
bad(
    "fl003_undeclared_output",
    """
    @workflow
    def wf(x: int):
        return t(x=x)  # expect: FL003
""",
    "run",
    "Interface output should've been VoidPromise or None",
    run="wf(x=1)",
)
good(
    "fl003_ok_no_value",
    """
    @workflow
    def wf(x: int):
        t(x=x)
""",
    run="wf(x=1)",
)

# -- FL004 unknown decorator argument ------------------------------------------------------------------------
bad(
    "fl004_task_retry",
    """
    @task(retry=3)  # expect: FL004
    def r(x: int) -> int:
        return x
""",
    "import",
    "Unrecognized argument(s) for task",
)
bad(
    "fl004_dynamic_cpu",
    """
    @dynamic(cpu="1")  # expect: FL004
    def d(x: int) -> int:
        return t(x=x)
""",
    "import",
    "Unrecognized argument(s) for task",
)
bad(
    "fl004_task_name",
    """
    @task(name="custom")  # expect: FL004
    def r(x: int) -> int:
        return x
""",
    "import",
    "Unrecognized argument(s) for task",
)
bad(
    "fl004_workflow_retries",
    """
    @workflow(retries=2)  # expect: FL004
    def wf(x: int) -> int:
        return t(x=x)
""",
    "import",
    "unexpected keyword argument 'retries'",
)
good(
    "fl004_ok_known_arguments",
    """
    @task(retries=2, cache=True, cache_version="1", requests=Resources(cpu="1"), timeout=60,
          interruptible=True, environment={"A": "1"}, container_image=None, cache_serialize=True)
    def r(x: int) -> int:
        return x


    @workflow(interruptible=True, on_failure=None)
    def wf(x: int) -> int:
        return r(x=x)
""",
    run="wf(x=2)",
)

# -- FL005 cache settings ------------------------------------------------------------------------------------
bad(
    "fl005_cache_true",
    """
    @task(cache=True)  # expect: FL005 warning
    def c(x: int) -> int:
        return x
""",
    "import",
    "at least one cache policy needs to be set",
)
bad(
    "fl005_dynamic_cache_true",
    """
    @dynamic(cache=True, retries=1)  # expect: FL005 warning
    def d(x: int) -> int:
        return t(x=x)
""",
    "import",
    "at least one cache policy needs to be set",
)
bad(
    "fl005_cache_object_no_version",
    """
    @task(cache=Cache(serialize=True))  # expect: FL005 warning
    def c(x: int) -> int:
        return x
""",
    "import",
    "at least one cache policy needs to be set",
)
bad(
    "fl005_cache_object_and_legacy",
    """
    @task(cache=Cache(version="1"), cache_version="2")  # expect: FL005
    def c(x: int) -> int:
        return x
""",
    "import",
    "deprecated",
)
bad(
    "fl005_serialize_without_cache",
    """
    @task(cache_serialize=True, cache_version="1")  # expect: FL005
    def c(x: int) -> int:
        return x
""",
    "import",
    "Cache serialize is enabled",
)
good(
    "fl005_ok",
    """
    @task(cache=True, cache_version="1")
    def c1(x: int) -> int:
        return x


    @task(cache=Cache(version="2", serialize=True))
    def c2(x: int) -> int:
        return x


    @task(cache=Cache("3"))
    def c3(x: int) -> int:
        return x


    @task(cache_version="4")
    def c4(x: int) -> int:
        return x
""",
    run="c2(x=1)",
)

# -- FL006 nested entity -------------------------------------------------------------------------------------
bad(
    "fl006_nested_task",
    """
    def make():
        @task
        def inner(x: int) -> int:  # expect: FL006
            return x

        return inner


    inner = make()
""",
    "import",
    "cannot be a nested/inner or local function",
)
bad(
    "fl006_nested_in_method",
    """
    class Factory:
        def build(self):
            @dynamic
            def inner(x: int) -> int:  # expect: FL006
                return t(x=x)

            return inner


    inner = Factory().build()
""",
    "import",
    "cannot be a nested/inner or local function",
)
good(
    "test_fl006_ok_test_module",
    """
    def make():
        @task
        def inner(x: int) -> int:
            return x

        return inner


    inner = make()
""",
)
good(
    "fl006_ok_nested_workflow",
    """
    def make():
        @workflow
        def inner(x: int) -> int:
            return t(x=x)

        return inner


    inner = make()
""",
    run="inner(x=1)",
)

# -- FL007 parameter kinds -----------------------------------------------------------------------------------
bad(
    "fl007_task_positional_only",
    """
    @task
    def p(x: int, /) -> int:  # expect: FL007
        return x
""",
    "run",
    "positional-only arguments passed as keyword arguments",
    run="p(x=1)",
)
bad(
    "fl007_workflow_positional_only",
    """
    @workflow
    def wf(x: int, /) -> int:  # expect: FL007
        return t(x=x)
""",
    "serialize",
    "positional-only arguments passed as keyword arguments",
)
bad(
    "fl007_workflow_varargs",
    """
    @workflow
    def wf(*args: int) -> int:  # expect: FL007
        return t(x=1)
""",
    "serialize",
    "unexpected keyword argument 'args'",
)
good(
    "fl007_ok_keyword_only",
    """
    @task
    def k(*, x: int) -> int:
        return x


    @workflow
    def wf(*, x: int) -> int:
        return k(x=x)
""",
    run="wf(x=1)",
)

# -- FL008 output counts -------------------------------------------------------------------------------------
bad(
    "fl008_task_tuple_for_int",
    """
    @task
    def two(x: int) -> int:
        return x, x  # expect: FL008
""",
    "run",
    "received a tuple",
    run="two(x=1)",
)
bad(
    "fl008_task_three_for_two",
    """
    @task
    def three(x: int) -> Tuple[int, int]:
        return x, x, x  # expect: FL008
""",
    "run",
    "",
    run="three(x=1)",
)
bad(
    "fl008_workflow_two_for_one",
    """
    @workflow
    def wf(x: int) -> int:
        return t(x=x), t(x=x)  # expect: FL008
""",
    "serialize",
    "indicates only one return value, received 2",
)
bad(
    "fl008_workflow_one_for_two",
    """
    @workflow
    def wf(x: int) -> Tuple[int, int]:
        return t(x=x)  # expect: FL008
""",
    "serialize",
    "indicates multiple return values, received only one",
)
good(
    "fl008_ok",
    """
    class Pair(NamedTuple):
        a: int
        b: int


    @task
    def pair(x: int) -> Pair:
        return Pair(a=x, b=x)


    @workflow
    def wf(x: int) -> Tuple[int, int]:
        return t2(x=x)


    @workflow
    def wf2(x: int) -> Tuple[int, int]:
        p = pair(x=x)
        return p.a, t(x=p.b)
""",
    run="wf2(x=1)",
)

# -- FL009 async and generators ------------------------------------------------------------------------------
bad(
    "fl009_async_workflow",
    """
    @workflow
    async def wf(x: int) -> int:  # expect: FL009
        return t(x=x)
""",
    "serialize",
    "coroutine",
)
bad(
    "fl009_async_task_passed",
    """
    @workflow
    def wf(x: int) -> int:
        return t(x=at(x=x))  # expect: FL009
""",
    "serialize",
    "coroutine",
)
warn(
    "fl009_async_task_never_runs",
    """
    @workflow
    def wf(x: int) -> int:
        at(x=x)  # expect: FL009 warning
        return t(x=x)
""",
    run="[n.id for n in wf.nodes]",
    result="['n0']",
)
bad(
    "fl009_generator_task",
    """
    @task
    def gen(x: int) -> int:  # expect: FL009
        yield x
""",
    "run",
    "Failed to convert type <class 'generator'>",
    run="gen(x=1)",
)
good(
    "fl009_ok",
    """
    @eager
    async def e(x: int) -> int:
        return await at(x=x)


    @task
    def gen(x: int) -> typing.Iterator[int]:
        yield x
""",
)

# -- FL010 call signature ------------------------------------------------------------------------------------
bad(
    "fl010_unknown_keyword",
    """
    @workflow
    def wf(x: int) -> int:
        return t(x=x, y=1)  # expect: FL010
""",
    "serialize",
    "Received unexpected keyword argument 'y'",
)
bad(
    "fl010_missing_input",
    """
    @task
    def add(x: int, y: int) -> int:
        return x + y


    @workflow
    def wf(x: int) -> int:
        return add(x=x)  # expect: FL010
""",
    "serialize",
    "Input y of type <class 'int'> was not specified",
)
bad(
    "fl010_none_default_not_optional",
    """
    @task
    def add(x: int, y: int = None) -> int:
        return x


    @workflow
    def wf(x: int) -> int:
        return add(x=x)  # expect: FL010
""",
    "serialize",
    "Input y of type <class 'int'> was not specified",
)
bad(
    "fl010_optional_without_default",
    """
    @task
    def opt(x: int, y: Optional[int]) -> int:
        return x


    @workflow
    def wf(x: int) -> int:
        return opt(x=x)  # expect: FL010 warning
""",
    "run",
    "missing 1 required positional argument: 'y'",
    run="wf(x=1)",
)
bad(
    "fl010_too_many_positional",
    """
    @workflow
    def wf(x: int) -> int:
        return t(x, 2)  # expect: FL010
""",
    "serialize",
    "Received more arguments than expected",
)
bad(
    "fl010_given_twice",
    """
    @workflow
    def wf(x: int) -> int:
        return t(x, x=x)  # expect: FL010
""",
    "serialize",
    "Got multiple values for argument 'x'",
)
bad(
    "fl010_module_level_call",
    """
    result = t(y=1)  # expect: FL010, FL010
""",
    "import",
    "Received unexpected keyword argument 'y'",
)
bad(
    "fl010_subworkflow",
    """
    @workflow
    def sub(x: int, y: int = 3) -> int:
        return t(x=x)


    @workflow
    def wf() -> int:
        return sub()  # expect: FL010
""",
    "serialize",
    "Input x of type <class 'int'> was not specified",
)
bad(
    "fl010_map_task_unknown",
    """
    @workflow
    def wf(xs: List[int]) -> List[int]:
        return map_task(t)(y=xs)  # expect: FL010, FL010
""",
    "serialize",
    "Received unexpected keyword argument 'y'",
)
bad(
    "fl010_map_task_missing",
    """
    @task
    def add(x: int, y: int) -> int:
        return x + y


    @workflow
    def wf(xs: List[int]) -> List[int]:
        return map_task(add)(x=xs)  # expect: FL010
""",
    "serialize",
    "Input y of type typing.List[int] was not specified",
)
bad(
    "fl010_launch_plan_missing",
    """
    @workflow
    def sub(x: int, y: int) -> int:
        return t(x=x)


    lp = LaunchPlan.get_or_create(sub, name="fl010_lp", fixed_inputs={"x": 1})


    @workflow
    def wf() -> int:
        return lp()  # expect: FL010
""",
    "serialize",
    "Input y of type <class 'int'> was not specified",
)
bad(
    "fl010_imported_entity",
    """
    from fl010_sibling import double


    @workflow
    def wf(x: int) -> int:
        return double(value=x)  # expect: FL010, FL010
""",
    "serialize",
    "Received unexpected keyword argument 'value'",
    extra={
        "fl010_sibling": """\
from flytekit import task


@task
def double(x: int) -> int:
    return 2 * x
"""
    },
)
good(
    "fl010_ok",
    """
    import fl010_ok_sibling as sib
    from fl010_ok_sibling import double


    @task
    def opt(x: int, y: Optional[int], z: int = 3, w: Optional[int] = None) -> int:
        return x


    @task
    def add(x: int, y: int) -> int:
        return x + y


    @workflow
    def sub(x: int, y: int) -> int:
        return add(x=x, y=y)


    sub_lp = LaunchPlan.get_or_create(sub, name="fl010_ok_lp", default_inputs={"y": 2}, fixed_inputs={"x": 1})


    @workflow
    def wf(x: int, xs: List[int]) -> int:
        a = t(x)  # positional arguments are fine in flytekit 1.16
        b = opt(x=a, y=None)
        c = add(x=b, y=double(x=x))
        d = sib.double(x=c)
        e = map_task(functools.partial(add, y=1))(x=xs)
        f = map_task(t)(xs)
        g = sub_lp()
        h = sub(x=g, y=d)
        kwargs = {"x": h}
        return t(**kwargs)


    def helper(t: int) -> int:
        return t(y=1) if False else t  # `t` here is the helper's parameter, not the task


    """,
    run="wf(x=1, xs=[1, 2])",
    extra={
        "fl010_ok_sibling": """\
from flytekit import task


@task
def double(x: int) -> int:
    return 2 * x
"""
    },
)

# -- FL011 mutable default -----------------------------------------------------------------------------------
bad(
    "fl011_mutable_default",
    """
    @task
    def m(x: int, ys: List[int] = [1, 2]) -> int:
        return x


    @workflow
    def wf(x: int) -> int:
        return m(x=x)  # expect: FL011
""",
    "serialize",
    "is a mutable default argument",
)
good(
    "fl011_ok_given",
    """
    @task
    def m(x: int, ys: List[int] = [1, 2]) -> int:
        return x


    @workflow
    def wf(x: int, ys: List[int] = [3]) -> int:
        return m(x=x, ys=ys)
""",
    run="wf(x=1)",
)

# -- FL012 a result that is not one value, passed as an input ------------------------------------------------
bad(
    "fl012_no_output_passed",
    """
    @workflow
    def wf(x: int) -> int:
        nothing = tv(x=x)
        return t(x=nothing)  # expect: FL012
""",
    "serialize",
    "that produces no outputs",
)
bad(
    "fl012_tuple_passed",
    """
    @workflow
    def wf(x: int) -> int:
        return t(x=t2(x=x))  # expect: FL012
""",
    "serialize",
    "cannot receive a multi-valued tuple",
)
good(
    "fl012_ok",
    """
    @workflow
    def wf(x: int) -> int:
        pair = t2(x=x)
        first = t(x=pair.o0)
        second = t(x=pair[1])
        a, b = t2(x=first)
        tv(x=b) >> t(x=second)
        return t(x=a)
""",
    run="wf(x=1)",
)

# -- FL013 unpacking -----------------------------------------------------------------------------------------
bad(
    "fl013_unpack_single",
    """
    @workflow
    def wf(x: int) -> int:
        a, b = t(x=x)  # expect: FL013
        return a
""",
    "serialize",
    "Promise objects are not iterable",
)
bad(
    "fl013_unpack_three",
    """
    @workflow
    def wf(x: int) -> int:
        a, b, c = t2(x=x)  # expect: FL013
        return a
""",
    "serialize",
    "not enough values to unpack",
)

# -- FL014 literal types -------------------------------------------------------------------------------------
bad(
    "fl014_str_for_int",
    """
    @workflow
    def wf() -> int:
        return t(x="3")  # expect: FL014
""",
    "serialize",
    "Expected value of type <class 'int'> but got '3'",
)
bad(
    "fl014_int_for_float",
    """
    @workflow
    def wf() -> float:
        return tf(f=1)  # expect: FL014
""",
    "serialize",
    "Expected value of type <class 'float'> but got '1'",
)
bad(
    "fl014_bool_for_int",
    """
    @workflow
    def wf() -> int:
        return t(x=True)  # expect: FL014
""",
    "serialize",
    "Expected value of type <class 'int'> but got 'True'",
)
bad(
    "fl014_none_for_int",
    """
    @workflow
    def wf() -> int:
        return t(x=None)  # expect: FL014
""",
    "serialize",
    "Python value cannot be None",
)
bad(
    "fl014_workflow_default",
    """
    @workflow
    def wf(f: float = 1) -> float:  # expect: FL014
        return tf(f=f)
""",
    "serialize",
    "Expected value of type <class 'float'> but got '1'",
)
bad(
    "fl014_task_default",
    """
    @task
    def scale(f: float = 2) -> float:  # expect: FL014 warning
        return f


    @workflow
    def wf() -> float:
        return scale()
""",
    "serialize",
    "Expected value of type <class 'float'> but got '2'",
)
bad(
    "fl014_launch_plan_fixed",
    """
    @workflow
    def wf(x: int) -> int:
        return t(x=x)


    lp = LaunchPlan.get_or_create(wf, name="fl014_lp", fixed_inputs={"x": "3"})  # expect: FL014
""",
    "import",
    "Expected value of type <class 'int'> but got '3'",
)
good(
    "fl014_ok",
    """
    @task
    def opt(x: Optional[int] = None, y: Optional[float] = 1.0, z: float = -2.5) -> int:
        return 1


    @workflow
    def wf(x: int = -1, f: float = 1.5, s: str = "a", b: bool = False) -> int:
        tf(f=2.0)
        ts(s="x")
        tb(b=True)
        opt(x=None, y=None)
        return t(x=-3)
""",
    run="wf()",
)

# -- FL020 truth value of a promise --------------------------------------------------------------------------
for _name, _body in {
    "if": "if x:  # expect: FL020\n    return t(x=1)\nreturn t(x=2)",
    "if_compare": "if x > 1:  # expect: FL020\n    return t(x=1)\nreturn t(x=2)",
    "not": "flag = not x  # expect: FL020\nreturn t(x=x)",
    "and": "y = x and 3  # expect: FL020\nreturn t(x=x)",
    "ternary": "return t(x=1 if x else 2)  # expect: FL020",
    "while": "while x:  # expect: FL020\n    break\nreturn t(x=x)",
    "assert": "assert x > 0  # expect: FL020\nreturn t(x=x)",
    "in_list": "if x in [1, 2]:  # expect: FL020\n    return t(x=1)\nreturn t(x=2)",
    "bool_call": "flag = bool(x)  # expect: FL020\nreturn t(x=x)",
    "chained": "if 0 < x < 3:  # expect: FL020\n    return t(x=1)\nreturn t(x=2)",
    "result": "y = t(x=x)\nif y == 2:  # expect: FL020\n    return t(x=1)\nreturn y",
}.items():
    bad(f"fl020_{_name}", workflow_source("x: int", "int", _body), "serialize", "truth value testing")
bad(
    "fl020_dynamic_result",
    """
    @dynamic
    def d(x: int) -> int:
        if tb(b=x > 1):  # expect: FL020
            return t(x=x)
        return t(x=0)


    @workflow
    def wf(x: int) -> int:
        return d(x=x)
""",
    "run",
    "truth value testing",
    run="wf(x=2)",
)
good(
    "fl020_ok",
    """
    DEBUG = False


    @dynamic
    def d(x: int, xs: List[int]) -> int:
        if x > 1 and not DEBUG:
            for v in xs:
                t(x=v)
        total = sum(xs) + x
        return t(x=total)


    @workflow
    def wf(x: int, xs: List[int]) -> int:
        if DEBUG:
            print("compiling", x)
        y = t(x=x)
        flag = y > 2
        return (
            conditional("big")
            .if_((y > 2) & (x < 10))
            .then(t(x=y))
            .elif_(x == 1)
            .then(d(x=x, xs=xs))
            .else_()
            .then(t(x=0))
        )
""",
    run="wf(x=3, xs=[1, 2])",
)

# -- FL021 operators on a promise ----------------------------------------------------------------------------
for _name, _body in {
    "add": "return t(x=x + 1)  # expect: FL021",
    "radd": "return t(x=1 + x)  # expect: FL021",
    "neg": "return t(x=-x)  # expect: FL021",
    "mul_result": "y = t(x=x)\nreturn t(x=y * 2)  # expect: FL021",
    "augmented": "x += 1  # expect: FL021\nreturn t(x=x)",
    "bitand": "y = x & x  # expect: FL021\nreturn t(x=x)",
}.items():
    bad(f"fl021_{_name}", workflow_source("x: int", "int", _body), "serialize", "Promise")
bad(
    "fl021_string_concat",
    """
    @workflow
    def wf(s: str) -> str:
        return ts(s="prefix-" + s)  # expect: FL021
""",
    "serialize",
    "can only concatenate str",
)

# -- FL022 iterating a promise -------------------------------------------------------------------------------
for _name, _body in {
    "for": "for v in xs:  # expect: FL022\n    t(x=v)\nreturn t(x=1)",
    "listcomp": "ys = [t(x=v) for v in xs]  # expect: FL022\nreturn t(x=1)",
    "sum": "return t(x=sum(xs))  # expect: FL022",
    "sorted": "ys = sorted(xs)  # expect: FL022\nreturn t(x=1)",
    "zip": "ys = zip(xs, xs)  # expect: FL022\nreturn t(x=1)",
    "starred": "ys = [*xs]  # expect: FL022\nreturn t(x=1)",
    "result": "ys = tl(n=3)\nfor v in ys:  # expect: FL022\n    t(x=v)\nreturn t(x=1)",
    "in_promise": "if 3 in xs:  # expect: FL022\n    return t(x=1)\nreturn t(x=2)",
}.items():
    bad(
        f"fl022_{_name}",
        workflow_source("xs: List[int]", "int", _body),
        "serialize",
        "Promise objects are not iterable",
    )
bad(
    "fl022_join",
    """
    @workflow
    def wf(words: List[str]) -> str:
        return ts(s=",".join(words))  # expect: FL022
""",
    "serialize",
    "Promise objects are not iterable",
)
good(
    "fl022_ok",
    """
    @workflow
    def wf(xs: List[int], n: int) -> List[int]:
        for i in range(3):
            t(x=i)
        for v in [1, 2]:
            t(x=v)
        first = t(x=xs[0])
        results = [t(x=v) for v in (1, 2)]
        return map_task(t)(x=tl(n=first))
""",
    run="wf(xs=[1, 2], n=2)",
)

# -- FL023 Python builtins and methods on a promise ----------------------------------------------------------
for _name, (_body, _error) in {
    "len": ("return t(x=len(xs))  # expect: FL023", "has no len()"),
    "int": ("return t(x=int(xs))  # expect: FL023", "int() argument must be"),
    "range": ("for i in range(n):  # expect: FL023\n    t(x=i)\nreturn t(x=1)", "cannot be interpreted"),
    "abs": ("return t(x=abs(n))  # expect: FL023", "bad operand type for abs()"),
    "round": ("return t(x=round(n))  # expect: FL023", "doesn't define __round__"),
    "method": ("y = ts(s='a')\nreturn ts(s=y.upper())  # expect: FL023", "'Promise' object is not callable"),
}.items():
    bad(f"fl023_{_name}", workflow_source("xs: List[int], n: int", "int", _body), "serialize", _error)
good(
    "fl023_ok",
    """
    @workflow
    def wf(x: int) -> int:
        print("compiling with", x)
        assert isinstance(x, object)
        key = hash(x)
        y = t(x=x).with_overrides(retries=2, requests=Resources(cpu="1"))
        z = t2(x=y).with_overrides(name="pair")
        return t(x=z.o1)
""",
    run="wf(x=1)",
)

# -- FL024 a comparison as a value ---------------------------------------------------------------------------
bad(
    "fl024_comparison_passed",
    """
    @workflow
    def wf(x: int) -> bool:
        return tb(b=x > 1)  # expect: FL024
""",
    "serialize",
    "ComparisonExpression",
)
bad(
    "fl024_comparison_returned",
    """
    @workflow
    def wf(x: int) -> bool:
        return x == 1  # expect: FL024
""",
    "serialize",
    "Comp(",
)

# -- FL025 promise formatted into a string -------------------------------------------------------------------
warn(
    "fl025_fstring",
    """
    @workflow
    def wf(x: int) -> str:
        return ts(s=f"value {x}")  # expect: FL025
""",
    run="wf(x=1)",
    result="Resolved(",
)
warn(
    "fl025_str",
    """
    @workflow
    def wf(x: int) -> str:
        label = str(x)
        return ts(s=label)  # expect: FL025
""",
    run="wf(x=1)",
    result="Resolved(",
)
warn(
    "fl025_format_and_percent",
    """
    @workflow
    def wf(x: int) -> str:
        a = ts(s="{} items".format(x))  # expect: FL025
        return ts(s="%s items" % x)  # expect: FL025
""",
    run="wf(x=1)",
    result="Resolved(",
)
good(
    "fl025_ok",
    """
    @workflow
    def wf(x: int) -> str:
        print(f"compiling with {x}")
        name = "run"
        return ts(s=f"{name}-{1 + 2}")
""",
    run="wf(x=1)",
)

# -- FL026 identity tests ------------------------------------------------------------------------------------
warn(
    "fl026_is_none",
    """
    @workflow
    def wf(x: Optional[int] = None) -> int:
        if x is None:  # expect: FL026
            return t(x=0)
        return t(x=1)
""",
    run="wf(x=None)",
    result="1",
)  # took the `is not None` branch although x is None

# -- FL027 a promise as an index -----------------------------------------------------------------------------
bad(
    "fl027_index",
    """
    @workflow
    def wf(n: int) -> int:
        xs = tl(n=3)
        return t(x=xs[n])  # expect: FL027
""",
    "run",
    "list indices must be integers or slices, not Promise",
    run="wf(n=1)",
)
bad(
    "fl027_module_dict",
    """
    SIZES = {1: 10, 2: 20}


    @workflow
    def wf(n: int) -> int:
        return t(x=SIZES[n])  # expect: FL027
""",
    "serialize",
    "KeyError",
)

# -- FL028 helpers that misuse a promise ---------------------------------------------------------------------
bad(
    "fl028_helper",
    """
    def plus_one(v):
        return v + 1


    @workflow
    def wf(x: int) -> int:
        return t(x=plus_one(x))  # expect: FL028
""",
    "serialize",
    "unsupported operand type(s) for +: 'Promise' and 'int'",
)
bad(
    "fl028_nested_helper",
    """
    def describe(v):
        if v:
            return "yes"
        return "no"


    def outer(v):
        return describe(v)


    @workflow
    def wf(x: int) -> str:
        return ts(s=outer(v=x))  # expect: FL028
""",
    "serialize",
    "truth value testing",
)
good(
    "fl028_ok",
    """
    def add_steps(v):
        first = t(x=v)
        return t(x=first)


    def label(prefix: str) -> str:
        return prefix.upper()


    @workflow
    def wf(x: int) -> str:
        y = add_steps(x)
        return ts(s=label("run"))
""",
    run="wf(x=1)",
)

# -- FL030 / FL031 conditionals ------------------------------------------------------------------------------
bad(
    "fl030_no_else_returned",
    """
    @workflow
    def wf(x: int) -> int:
        return conditional("c").if_(x > 1).then(t(x=x))  # expect: FL030
""",
    "serialize",
    "Failed to bind output",
)
bad(
    "fl030_no_else_elif",
    """
    @workflow
    def wf(x: int) -> int:
        result = conditional("c").if_(x > 1).then(t(x=x)).elif_(x < 0).then(t(x=0))
        return result  # expect: FL030
""",
    "serialize",
    "Failed to bind output",
)
bad(
    "fl030_no_else_unused",
    """
    @workflow
    def wf(x: int) -> int:
        conditional("side").if_(x > 1).then(tv(x=x))  # expect: FL030 warning
        return t(x=x)
""",
    "run",
    "Failed to convert output in position 0 of value None",
    run="wf(x=2)",
)
bad(
    "fl031_bare_promise",
    """
    @workflow
    def wf(x: int) -> int:
        flag = tb(b=True)
        return conditional("c").if_(flag).then(t(x=x)).else_().then(t(x=0))  # expect: FL031
""",
    "serialize",
    "does not support unary expressions",
)
bad(
    "fl031_constant",
    """
    @workflow
    def wf(x: int) -> int:
        return conditional("c").if_(True).then(t(x=x)).else_().then(t(x=0))  # expect: FL031
""",
    "serialize",
    "Logical (and/or/is/not) operations are not supported",
)
good(
    "fl030_ok",
    """
    @workflow
    def wf(x: int) -> int:
        conditional("side").if_(x > 1).then(tv(x=x)).else_().then(tv(x=0))
        checked = conditional("check").if_(x >= 0).then(t(x=0)).else_().fail("x must not be negative")
        return conditional("c").if_(x.is_none() | (x == 2)).then(t(x=x)).else_().then(t(x=1))
""",
    run="wf(x=2)",
)

# -- FL040 / FL041 / FL042 launch plans ----------------------------------------------------------------------
_WF = """
    @workflow
    def wf(x: int) -> int:
        return t(x=x)


    @workflow
    def wf2(x: int) -> int:
        return t(x=x)

"""
bad(
    "fl040_fixed_unknown",
    _WF
    + """
    lp = LaunchPlan.get_or_create(wf, name="lp40a", fixed_inputs={"y": 1})  # expect: FL040
""",
    "import",
    "Received unexpected keyword argument y",
)
bad(
    "fl040_default_unknown",
    _WF
    + """
    lp = LaunchPlan.create("lp40b", wf, default_inputs={"y": 1})  # expect: FL040
""",
    "import",
    "KeyError",
)
bad(
    "fl041_unnamed_with_settings",
    _WF
    + """
    lp = LaunchPlan.get_or_create(wf, default_inputs={"x": 1})  # expect: FL041
""",
    "import",
    "Only named launchplans can be created that have other properties",
)
bad(
    "fl042_create_twice",
    _WF
    + """
    a = LaunchPlan.create("nightly", wf)
    b = LaunchPlan.create("nightly", wf)  # expect: FL042
""",
    "import",
    "was already created",
)
bad(
    "fl042_two_workflows",
    _WF
    + """
    a = LaunchPlan.get_or_create(wf, name="nightly")
    b = LaunchPlan.get_or_create(wf2, name="nightly")  # expect: FL042
""",
    "import",
    "Trying to create two launch plans both named 'nightly'",
)
bad(
    "fl042_different_inputs",
    _WF
    + """
    a = LaunchPlan.get_or_create(wf, name="nightly", default_inputs={"x": 1})
    b = LaunchPlan.get_or_create(wf, name="nightly", default_inputs={"x": 2})  # expect: FL042
""",
    "import",
    "with different values for 'default_inputs'",
)
good(
    "fl040_ok",
    _WF
    + """
    default = LaunchPlan.get_or_create(wf)
    activated = LaunchPlan.get_or_create(wf2, auto_activate=True)
    a = LaunchPlan.get_or_create(wf, name="nightly", default_inputs={"x": 1})
    b = LaunchPlan.get_or_create(wf, name="nightly", default_inputs={"x": 1})
    c = LaunchPlan.get_or_create(wf, name="fixed", fixed_inputs={"x": 2}, default_inputs=None)
    d = LaunchPlan.create("created", wf2, default_inputs={"x": 3})
""",
    run="c()",
)

# -- FL050 / FL051 map tasks ---------------------------------------------------------------------------------
bad(
    "fl050_map_workflow",
    """
    @workflow
    def sub(x: int) -> int:
        return t(x=x)


    @workflow
    def wf(xs: List[int]) -> List[int]:
        return map_task(sub)(x=xs)  # expect: FL050
""",
    "serialize",
    "Only PythonFunctionTask with default execution mode",
)
bad(
    "fl050_map_dynamic",
    """
    @dynamic
    def d(x: int) -> int:
        return t(x=x)


    mapped = map_task(d)  # expect: FL050


    @workflow
    def wf(xs: List[int]) -> List[int]:
        return mapped(x=xs)
""",
    "import",
    "Only PythonFunctionTask with default execution mode",
)
bad(
    "fl051_map_two_outputs",
    """
    @workflow
    def wf(xs: List[int]) -> List[int]:
        return map_task(t2)(x=xs)  # expect: FL051
""",
    "serialize",
    "Only tasks with a single output are supported in map tasks",
)
good(
    "fl050_ok",
    """
    @task
    def add(x: int, y: int) -> int:
        return x + y


    mapped = map_task(add, concurrency=2)


    @workflow
    def wf(xs: List[int], ys: List[int]) -> List[int]:
        a = mapped(x=xs, y=ys)
        b = map_task(functools.partial(add, y=1))(x=a)
        map_task(tv)(x=b)
        return b
""",
    run="wf(xs=[1, 2], ys=[3, 4])",
)

# -- FL060 duplicate entities --------------------------------------------------------------------------------
bad(
    "fl060_duplicate_task",
    """
    @task
    def step(x: int) -> int:
        return x


    @workflow
    def wf(x: int) -> int:
        return step(x=x)


    @task
    def step(s: str) -> str:  # expect: FL060
        return s
""",
    "serialize",
    "Received unexpected keyword argument 'x'",
)
good(
    "fl060_ok_alternatives",
    """
    import os

    if os.environ.get("FLYTE_LS_NEVER_SET"):
        @task(retries=3)
        def step(x: int) -> int:
            return x
    else:
        @task
        def step(x: int) -> int:
            return x


    @workflow
    def wf(x: int) -> int:
        return step(x=x)
""",
    run="wf(x=1)",
)

# -- found while proving the corpus valid --------------------------------------------------------------
bad(
    "fl009_eager_called_in_workflow",
    """
    @eager
    async def e(x: int) -> int:
        return await at(x=x)


    @workflow
    def wf(x: int) -> int:
        return e(x=x)  # expect: FL009
""",
    "serialize",
    "coroutine",
)
bad(
    "fl010_map_task_default_is_required",
    """
    @task
    def add(x: int, y: int = 1) -> int:
        return x + y


    @workflow
    def wf(xs: List[int]) -> List[int]:
        return map_task(add)(x=xs)  # expect: FL010
""",
    "serialize",
    "Input y of type typing.List[int] was not specified",
)
bad(
    "fl010_reference_default_is_required",
    """
    @reference_task(project="p", domain="d", name="n", version="v")
    def normalize(values: List[float], scale: float = 1.0) -> List[float]:
        ...


    @workflow
    def wf(values: List[float]) -> List[float]:
        return normalize(values=values)  # expect: FL010
""",
    "serialize",
    "Input scale of type <class 'float'> was not specified",
)

bad(
    "fl015_reference_subworkflow",
    """
    @reference_workflow(project="p", domain="d", name="n", version="v")
    def remote(x: int) -> int:
        return ...


    @workflow
    def wf(x: int) -> int:
        return remote(x=x)  # expect: FL015
""",
    "serialize",
    "Reference sub-workflows are currently unsupported",
)

bad(
    "fl016_promise_in_dataclass",
    """
    from dataclasses import dataclass


    @dataclass
    class Config:
        name: str
        size: int = 1


    @task
    def use(config: Config) -> int:
        return config.size


    @workflow
    def wf(size: int) -> int:
        return use(config=Config(name="a", size=size))  # expect: FL016
""",
    "serialize",
    "can not serialize 'Promise' object",
)
good(
    "fl016_ok",
    """
    import dataclasses


    @dataclasses.dataclass(frozen=True)
    class Config:
        name: str
        size: int = 1


    @task
    def use(config: Config) -> int:
        return config.size


    @task
    def make(size: int) -> Config:
        return Config(name="made", size=size)


    @workflow
    def wf(size: int) -> int:
        use(config=Config(name="fixed", size=2))
        return use(config=make(size=size))
""",
    run="wf(size=3)",
)

# -- found by running flyte-ls over flytesnacks (flyteorg/flytesnacks examples) ------------------------------
good(
    "flytesnacks_ok_patterns",
    """
    from flytekit import ContainerTask


    no_outputs = ContainerTask(name="flytesnacks_no_outputs", image="alpine", command=["true"])


    @task
    def add(x: int, y: int = None) -> int:
        return x + (y or 0)


    @workflow
    def regression(val: int = 5, xs: List[int] = [-3, 0, 3]) -> int:
        return t(x=val)


    @workflow
    def nested() -> int:
        return regression()  # a sub-workflow's list default is fine


    @workflow
    def returns_nothing(x: int):
        return tv(x=x)  # returning a no-output result from a no-output workflow is fine


    @workflow
    def returns_container(x: int):
        return no_outputs()


    @task
    def step(x: int) -> int:
        return x


    @workflow
    def uses_step(x: int) -> int:
        return step(x=x)


    @task
    def step(x: int) -> int:  # redefined with the same interface: harmless
        return x + 1


    if __name__ == "__main__":
        print(regression(), add(x=1), nested(), uses_step(x=1))
""",
    run="(regression(), add(x=1), nested(), returns_nothing(x=1), uses_step(x=1))",
)
bad(
    "flytesnacks_local_call_missing_input",
    """
    @workflow
    def wf(xs: List[int]) -> int:
        return t(x=1)


    if __name__ == "__main__":
        print(wf())  # expect: FL010
""",
    "run",
    "missing 1 required positional argument: 'xs'",
    run="wf()",
)
bad(
    "fl012_no_output_returned",
    """
    @workflow
    def wf(x: int) -> int:
        return tv(x=x)  # expect: FL012
""",
    "serialize",
    "that produces no outputs",
)
bad(
    "fl003_constant_returned",
    """
    @workflow
    def wf(x: int):
        t(x=x)
        return 5  # expect: FL003
""",
    "run",
    "should've been VoidPromise or None",
    run="wf(x=1)",
)

bad(
    "fl050_map_eager",
    """
    @eager
    async def e(x: int) -> int:
        return await at(x=x)


    @workflow
    def wf(xs: List[int]) -> List[int]:
        return map_task(e)(x=xs)  # expect: FL050
""",
    "serialize",
    "Only PythonFunctionTask with default execution mode",
)

CASES_BY_NAME = {c.name: c for c in CASES}
assert len(CASES_BY_NAME) == len(CASES), "case names must be unique"
