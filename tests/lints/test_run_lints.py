"""run_lints: never raises, skips and logs a failing checker, sorts findings; checkers survive odd code."""

from __future__ import annotations

import ast
import logging
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lint_cases import CASES

from flyte_ls.analysis import analyze
from flyte_ls.analysis.imports import ImportTable
from flyte_ls.analysis.lints import LintContext, checkers, run_lints
from flyte_ls.analysis.lints.registry import RULES, RULES_BY_CODE
from flyte_ls.analysis.model import Finding, ModuleAnalysis, Range, Severity

pytestmark = pytest.mark.timeout(120)

SOURCE = """\
from flytekit import task, workflow


@task
def t(x: int) -> int:
    return x


@workflow
def wf(x: int) -> int:
    if x:
        return t(y=1)
    return t(x=x + 1)
"""


def context(source: str, module: str = "mod") -> LintContext:
    analysis = analyze(source, module, lint=False)
    tree = ast.parse(source)
    nodes = {s.name: s for s in tree.body if isinstance(s, ast.FunctionDef)}
    return LintContext(source, tree, analysis, ImportTable.from_tree(tree, module), nodes)


def test_findings_are_sorted_by_position() -> None:
    findings = run_lints(context(SOURCE))
    assert [f.code for f in findings] == ["FL020", "FL010", "FL010", "FL021"]
    keys = [(f.range.start, f.range.end, f.code) for f in findings]
    assert keys == sorted(keys)


def test_a_failing_checker_is_skipped_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(module: object) -> list[Finding]:
        raise RuntimeError("boom")

    def nested_too_deep(module: object) -> list[Finding]:
        raise RecursionError

    real = checkers()
    monkeypatch.setattr("flyte_ls.analysis.lints.checkers", lambda: [broken, *real, nested_too_deep])
    with caplog.at_level(logging.WARNING, logger="flyte_ls.analysis.lints"):
        findings = run_lints(context(SOURCE))
    assert [f.code for f in findings] == ["FL020", "FL010", "FL010", "FL021"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("broken failed and was skipped" in m for m in messages)
    assert any("nested_too_deep" in m and "skipped" in m for m in messages)


def test_run_lints_survives_a_broken_context(caplog: pytest.LogCaptureFixture) -> None:
    ctx = LintContext("", ast.Module(body=[], type_ignores=[]), ModuleAnalysis("m"), None)  # type: ignore[arg-type]
    assert run_lints(ctx) == []


def test_lookup_that_raises_is_ignored() -> None:
    def lookup(module: str) -> ModuleAnalysis:
        raise OSError("disk on fire")

    source = (
        "from other import double\nfrom flytekit import workflow\n\n\n@workflow\ndef wf(x: int) -> int:\n"
    )
    source += "    return double(value=x)\n"
    assert analyze(source, "mod", lookup=lookup).findings == []


def test_rule_table() -> None:
    codes = [r.code for r in RULES]
    assert codes == sorted(codes) and len(set(codes)) == len(codes) >= 10
    assert all(r.code.startswith("FL") and len(r.code) == 5 for r in RULES)
    assert all(r.summary and r.failure and r.severity in (Severity.ERROR, Severity.WARNING) for r in RULES)
    assert len({r.name for r in RULES}) == len(RULES)
    assert RULES_BY_CODE["FL020"].severity == Severity.ERROR


def test_uncertain_code_is_downgraded_to_a_warning() -> None:
    """A mistake inside a branch that may not run is a warning; the same mistake on the main path an error."""
    source = SOURCE.replace("    if x:\n        return t(y=1)\n", "    if DEBUG:\n        t(x=x + 1)\n")
    source = "DEBUG = False\n" + source
    severities = {(f.code, f.range.start.line): f.severity for f in run_lints(context(source))}
    assert severities == {("FL021", 12): Severity.WARNING, ("FL021", 13): Severity.ERROR}


def _mutations(source: str, rng: random.Random) -> str:
    lines = source.split("\n")
    for _ in range(rng.randint(1, 4)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        choice = rng.randrange(5)
        if choice == 0:
            del lines[i]
        elif choice == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif choice == 2:
            lines[i] = lines[i].replace("=", "", 1)
        elif choice == 3:
            lines[i] = lines[i].replace("(", "(*", 1)
        else:
            lines[i] = lines[i].replace(":", ":\n    pass\n", 1)
    return "\n".join(lines)


SOURCES = [c.source for c in CASES]


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(SOURCES), st.integers(min_value=0, max_value=2**32))
def test_checkers_never_crash_on_mutated_flyte_code(source: str, seed: int) -> None:
    mutated = _mutations(source, random.Random(seed))
    logger = logging.getLogger("flyte_ls.analysis.lints")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        analysis = analyze(mutated, "fuzzed")
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []
    for f in analysis.findings:
        assert isinstance(f.range, Range) and f.range.start <= f.range.end
