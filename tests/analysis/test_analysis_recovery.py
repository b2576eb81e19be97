"""Syntax errors and hostile input never crash the analysis; what still parses is recovered."""

from __future__ import annotations

import pytest

from flyte_ls.analysis import Analyzer, Range, Severity, analyze

GOOD_HEAD = "from flytekit import task, workflow\n\n@task\ndef t1(a: int) -> int:\n    return a\n\n"
GOOD_TAIL = "\n@task\ndef t2(b: str) -> str:\n    return b\n"


def both(source: str, module: str = "m") -> list:
    """Results of the stateless and the incremental path (they must agree on the entities)."""
    full = analyze(source, module)
    incremental = Analyzer().entities(source, module)
    assert [e.name for e in full.entities] == [e.name for e in incremental.entities]
    return [full, incremental]


@pytest.mark.parametrize(
    "broken",
    [
        "@workflow\ndef wf(a: int) -> int:\n    return t1(a=a\n",
        "def oops(:\n    pass\n",
        "x = 'unterminated\n",
        "@task\nx = 1\n",
        "@task\ndef half(a: int\n",
        "class C:\npass\n",
        "x = = 1\n",
    ],
)
def test_entities_around_a_syntax_error_are_recovered(broken: str) -> None:
    source = GOOD_HEAD + broken + GOOD_TAIL
    for result in both(source):
        assert [e.name for e in result.entities] == ["t1", "t2"]
        error = result.syntax_error
        assert error is not None and error.code == "FL000" and error.severity is Severity.ERROR
        assert error.message.startswith("Syntax error: ")
        assert 6 <= error.range.start.line <= 8


def test_syntax_error_range_points_at_the_error() -> None:
    source = "from flytekit import task\nx = (1,\ny = 2\n"
    error = analyze(source, "m").syntax_error
    assert error is not None
    assert error.range.start.line == 1 and error.range.start.character == 4
    assert "never closed" in error.message


def test_unterminated_triple_quoted_string_does_not_hide_the_rest() -> None:
    # Python reads the rest of the file as a string; the analysis keeps the statements after it (they are what
    # the user is editing around: while a docstring is being typed the entities below do not flicker away).
    source = GOOD_HEAD + 'X = """\n@task\ndef below(): ...\n'
    for result in both(source):
        assert [e.name for e in result.entities] == ["t1", "below"]
        assert result.syntax_error is not None
        assert result.syntax_error.range.start.line == 6


def test_nul_bytes() -> None:
    source = GOOD_HEAD + "x = 1\x00\n" + GOOD_TAIL
    for result in both(source):
        assert [e.name for e in result.entities] == ["t1", "t2"]
        assert result.syntax_error is not None
        assert result.syntax_error.range.start.line == 6


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "hostile",
    [
        "(" * 5000 + ")" * 5000,
        "x = " + "[" * 100_000,
        "x = " + "-" * 200_000 + "1",
        "a" + ".b" * 50_000,
        "def f():\n" + "".join("  " * i + "if x:\n" for i in range(1, 200)) + "  " * 200 + "pass\n",
        "\ud800 = 1",
        "x = '\udcff'",
        "\x00" * 10,
        "\r\r\n\n\r",
        "",
        "\ufeff",
        "\ufeff\ufeff",
        "@",
        "@\n@\n@\n",
        "else:\n    pass\n",
    ],
)
def test_hostile_input_never_raises(hostile: str) -> None:
    for source in (hostile, GOOD_HEAD + hostile + GOOD_TAIL):
        analyze(source, "m")
        analyze(source, "m", lint=False)
        analyzer = Analyzer()
        analyzer.entities(source, "m")
        analyzer.analyze(source, "m")


def test_analyzer_recovers_after_an_edit_fixes_the_error() -> None:
    analyzer = Analyzer()
    broken = GOOD_HEAD + "@task\ndef t3(a: int -> int:\n    return a\n" + GOOD_TAIL
    assert [e.name for e in analyzer.entities(broken, "m").entities] == ["t1", "t2"]
    fixed = broken.replace("a: int ->", "a: int) ->")
    result = analyzer.entities(fixed, "m")
    assert [e.name for e in result.entities] == ["t1", "t3", "t2"]
    assert result.syntax_error is None
    assert result.entities[1].range == Range.of(6, 0, 8, 12)


def test_lints_run_on_the_recovered_statements() -> None:
    source = GOOD_HEAD + "def oops(:\n" + GOOD_TAIL
    result = analyze(source, "m")
    assert result.syntax_error is not None
    assert all(f.code != "FL000" for f in result.findings)  # the syntax error is reported once, separately


def test_a_bug_in_the_analysis_is_logged_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    import flyte_ls.analysis.api as api

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("bug")

    source = GOOD_HEAD + GOOD_TAIL
    analyzer = Analyzer()
    monkeypatch.setattr(api, "build_context", broken)
    assert analyzer.entities(source, "m").entities == []
    assert analyze(source, "m").entities == []
    monkeypatch.undo()
    assert [e.name for e in analyzer.entities(source + "\n", "m").entities] == ["t1", "t2"]
