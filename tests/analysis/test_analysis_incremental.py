"""The incremental Analyzer gives exactly what a full parse gives, edit after edit."""

from __future__ import annotations

import textwrap

import pytest
from analysis_helpers import DATA, all_kinds_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flyte_ls.analysis import Analyzer, ModuleAnalysis, analyze
from flyte_ls.analysis.chunks import ChunkParser

EXAMPLES = DATA.parent.parent.parent / "examples"


def _corpus() -> list[str]:
    sources = [all_kinds_source()]
    sources.extend(p.read_text() for p in sorted(EXAMPLES.rglob("*.py")) if p.stat().st_size < 200_000)
    return sources


def assert_same(incremental: ModuleAnalysis, full: ModuleAnalysis) -> None:
    assert incremental.entities == full.entities
    assert (incremental.syntax_error is None) == (full.syntax_error is None)


TRICKY = [
    # col-0 lines inside strings and brackets
    '''
    """Module docstring.

    Usage (see below:
    @task
    def not_a_task(): ...
    """
    from flytekit import task, ContainerTask, kwtypes

    QUERY = """
    select *
    from t
    where (a = 1
    """

    ct = ContainerTask(
    name="ct",
    image="alpine",
    command=[
    "echo",
    ],
    inputs=kwtypes(a=int),
    )

    @task
    def t1(a: int) -> int:
        return a
    ''',
    # decorators spanning lines, comments between decorator and def, form feeds
    """
    from flytekit import task, workflow

    @task(
        retries=2,
    )
    # a comment at column 0
    @workflow
    def odd(): ...

    \x0c@task
    def after_form_feed(): ...
    """,
    # compound statements at module level, continuation lines
    """
    import flytekit as fk
    if True:
        @fk.task
        def in_if() -> None: ...
    else:
        @fk.task
        def in_else() -> None: ...
    try:
        import numpy
    except ImportError:
        numpy = None
    finally:
        pass
    X = 1 + \\
    2
    @fk.task
    def last(a: int = X) -> int:
        return a
    """,
]


@pytest.mark.parametrize("source", TRICKY)
def test_tricky_chunking_matches_the_full_parse(source: str) -> None:
    text = textwrap.dedent(source)
    full = analyze(text, "m", lint=False)
    assert full.syntax_error is None
    assert_same(Analyzer().entities(text, "m"), full)
    assert all(chunk.parsed.ok for chunk in ChunkParser().chunks(text))


def test_not_a_task_in_a_docstring() -> None:
    names = [e.name for e in Analyzer().entities(textwrap.dedent(TRICKY[0]), "m").entities]
    assert names == ["ct", "t1"]


def test_edits_in_sequence_match_the_full_parse() -> None:
    base = all_kinds_source()
    analyzer = Analyzer()
    lines = base.split("\n")
    steps = [
        base,
        base.replace("def plain(x: int", "def plain(x: float"),  # same line count
        "\n".join([*lines[:40], "", "", *lines[40:]]),  # two lines inserted
        "\n".join(lines[:40] + lines[45:]),  # lines removed
        base.replace("from flytekit import (", "from flytekit import (  # comment"),
        base.replace("import flytekit as fk", "import flytekit as flk"),  # the import table changes
        base.replace("@task\ndef plain", "@task\ndef plain_renamed"),  # a call target disappears
        base.replace("class Pair(NamedTuple):", "class Pair:"),  # a NamedTuple disappears
        base.replace("    left: int", "    left: float"),  # a NamedTuple field changes type
        base.replace(
            'def wf(n: int = 3, s: str = "x")', 'def wf(n: int = 4, s: str = "x", t: int = 0)'
        ),  # LP inputs
        base.replace(
            'def plain(x: int, y: str = "a") -> int:', "def plain(x: int, y: str) -> str:"
        ),  # map tasks
        base.replace(
            "default_lp = LaunchPlan.get_or_create(wf)", "default_lp = LaunchPlan.get_or_create(wf2)"
        ),
        base + "\n@task\ndef appended(a: int) -> int:\n    return a\n",
        base.replace("@task\ndef plain", '"""\n@task\ndef plain'),  # an open string swallows the rest
        base,
    ]
    for step in steps:
        assert_same(analyzer.entities(step, "pkg.sub.mod"), analyze(step, "pkg.sub.mod", lint=False))


SNIPPETS = [
    "",
    "#",
    '"""',
    "'''",
    "(",
    ")",
    "[",
    "]",
    "\\",
    "@task",
    "@task(retries=1)",
    "@workflow",
    "def f(a: int) -> int:",
    "async def g():",
    "    return a",
    "    pass",
    "else:",
    "class C(NamedTuple):",
    "    x: int",
    "x = (",
    "lp = LaunchPlan.get_or_create(wf)",
    "m = map_task(plain)",
    "from flytekit import task",
    "def task(fn): return fn",
    "\x0c",
    "é = 'ü'",
    "\t",
    'x = """',
    "    '''",
    "lst = [",
    "1,",
    "@task(",
    "    retries=1,",
    "elif x:",
    "except E:",
    "try:",
    "X = f'''",
]

edit = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "type", "erase"]),
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from(SNIPPETS),
)


def apply(source: str, op: str, where: int, snippet: str) -> str:
    lines = source.split("\n")
    index = where % (len(lines) + 1)
    if op == "insert":
        lines.insert(index, snippet)
    elif op == "delete" and lines:
        del lines[min(index, len(lines) - 1)]
    elif op == "replace" and lines:
        lines[min(index, len(lines) - 1)] = snippet
    elif op == "type":
        at = where % (len(source) + 1)
        return source[:at] + snippet[:3] + source[at:]
    elif op == "erase" and source:
        at = where % len(source)
        return source[:at] + source[at + 1 + len(snippet) % 5 :]
    return "\n".join(lines)


@pytest.mark.timeout(90)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source_index=st.integers(min_value=0, max_value=10), edits=st.lists(edit, min_size=1, max_size=6))
def test_random_edits_match_the_full_parse(source_index: int, edits: list[tuple[str, int, str]]) -> None:
    corpus = _corpus()
    source = corpus[source_index % len(corpus)]
    analyzer = Analyzer()
    analyzer.entities(source, "pkg.mod")
    for op, where, snippet in edits:
        source = apply(source, op, where, snippet)
        assert_same(analyzer.entities(source, "pkg.mod"), analyze(source, "pkg.mod", lint=False))


def test_text_typed_after_an_unfinished_statement_completes_it() -> None:
    head = "from flytekit import task\n"
    steps = [
        head + "X = '''\n@task\ndef a(): ...\n",  # an open string: `a` is recovered as code
        head + "X = '''\n@task\ndef a(): ...\n'",
        head + "X = '''\n@task\ndef a(): ...\n'''\n",  # now closed: `a` is inside the string
        head + "X = '''\n@task\ndef a(): ...\n'''\n@task\ndef b(): ...\n",
        head + "Y = (\n@task\ndef a(): ...\n",
        head + "Y = (\n@task\ndef a(): ...\n)\n",
    ]
    analyzer = Analyzer()
    for step in steps:
        assert_same(analyzer.entities(step, "m"), analyze(step, "m", lint=False))
    assert [e.name for e in analyzer.entities(steps[3], "m").entities] == ["b"]
