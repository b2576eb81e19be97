"""Fuzzing: random text and mutated valid sources never make the analysis raise."""

from __future__ import annotations

import pytest
from analysis_helpers import all_kinds_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flyte_ls.analysis import Analyzer, ModuleAnalysis, analyze

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PYTHONISH = st.lists(
    st.sampled_from(
        [*list("@()[]{}:=,.'\"\\#\n\r\t\x0c \x00é🚀"), "def ", "task", "class ", '"""', "    ", "x"]
    ),
    max_size=120,
).map("".join)


def _check(result: ModuleAnalysis) -> None:
    assert isinstance(result, ModuleAnalysis)
    for entity in result.entities:
        assert entity.range.start <= entity.range.end
        assert entity.range.start.line >= 0 and entity.range.start.character >= 0


def _run_everything(source: str) -> None:
    _check(analyze(source, "pkg.mod"))
    _check(analyze(source, "pkg.mod", lint=False))
    analyzer = Analyzer()
    _check(analyzer.entities(source, "pkg.mod"))
    _check(analyzer.entities(source + "\n", "pkg.mod"))
    _check(analyzer.analyze(source, "pkg.mod"))


@pytest.mark.timeout(90)
@FUZZ
@given(st.text(max_size=400))
def test_random_text_never_raises(source: str) -> None:
    _run_everything(source)


@pytest.mark.timeout(90)
@FUZZ
@given(PYTHONISH)
def test_python_looking_text_never_raises(source: str) -> None:
    _run_everything(source)


@pytest.mark.timeout(90)
@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=20_000), st.integers(0, 8), st.text(max_size=6)),
        min_size=1,
        max_size=8,
    )
)
def test_mutated_valid_source_never_raises(mutations: list[tuple[int, int, str]]) -> None:
    source = all_kinds_source()
    analyzer = Analyzer()
    for at, cut, insert in mutations:
        at %= len(source) + 1
        source = source[:at] + insert + source[at + cut :]
        _check(analyzer.entities(source, "pkg.mod"))
    _check(analyze(source, "pkg.mod"))
