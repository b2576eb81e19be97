"""Our rules flag exactly the marked lines of every case (code, line, severity); nothing in valid variants."""

from __future__ import annotations

import pytest
from lint_cases import CASES, Case

from flyte_ls.analysis import ModuleAnalysis, analyze
from flyte_ls.analysis.lints.registry import RULES_BY_CODE

pytestmark = pytest.mark.timeout(30)


def analyse(case: Case) -> ModuleAnalysis:
    siblings = {name: analyze(source, name, lint=False) for name, source in case.extra.items()}
    return analyze(case.source, case.name, lookup=siblings.get)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_rule_flags_exactly_the_marked_lines(case: Case) -> None:
    analysis = analyse(case)
    got = sorted((f.code, f.range.start.line + 1, f.severity) for f in analysis.findings)
    expected = sorted((e.code, e.line, e.severity) for e in case.expected)
    assert got == expected, "\n".join(
        f"{f.code} {f.range.start.line + 1}: {f.message}" for f in analysis.findings
    )


@pytest.mark.parametrize("case", [c for c in CASES if c.expected], ids=lambda c: c.name)
def test_messages_say_what_to_do(case: Case) -> None:
    for finding in analyse(case).findings:
        assert finding.code in RULES_BY_CODE
        assert " — " in finding.message, (
            finding.message
        )  # "<what is wrong and how flytekit fails> — <the fix>"
        assert finding.range.start <= finding.range.end


def test_cross_module_check_needs_the_lookup() -> None:
    """Without a lookup an imported entity is unknown: no guess, no finding."""
    case = next(c for c in CASES if c.name == "fl010_imported_entity")
    assert analyze(case.source, case.name).findings == []
