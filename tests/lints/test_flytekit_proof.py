"""Real flytekit 1.16 fails on every flagged case as the case says, and accepts every valid variant."""

from __future__ import annotations

import json
import subprocess

import pytest
from lint_cases import CASES, Case
from lint_support import run_flytekit, venv_python

from flyte_ls.analysis.lints.definitions import TASK_ARGUMENTS, WORKFLOW_ARGUMENTS
from flyte_ls.analysis.lints.registry import RULES
from flyte_ls.analysis.model import Severity

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]


@pytest.fixture(scope="session")
def flytekit_results() -> dict[str, dict[str, str | None]]:
    pytest.importorskip("flytekit", reason="flytekit is a test dependency: pip install -e '.[test-flytekit]'")
    # The whole catalogue in one subprocess: a couple of seconds.
    return run_flytekit([{"name": c.name, "source": c.source, "run": c.run, "extra": c.extra} for c in CASES])


@pytest.mark.parametrize("case", [c for c in CASES if c.stage], ids=lambda c: c.name)
def test_flytekit_fails_on_flagged_code(
    case: Case, flytekit_results: dict[str, dict[str, str | None]]
) -> None:
    result = flytekit_results[case.name]
    assert result["stage"] == case.stage, f"expected flytekit to fail at {case.stage}, got {result}"
    assert case.error in (result["error"] or ""), result["error"]


@pytest.mark.parametrize("case", [c for c in CASES if not c.stage and c.expected], ids=lambda c: c.name)
def test_flytekit_silently_misbehaves(case: Case, flytekit_results: dict[str, dict[str, str | None]]) -> None:
    """Warning rules whose mistake raises nothing: flytekit produces the wrong value the rule warns of."""
    result = flytekit_results[case.name]
    assert result["stage"] is None, result["error"]
    assert case.result and case.result in (result["result"] or ""), result["result"]
    assert all(e.severity == Severity.WARNING for e in case.expected)


@pytest.mark.parametrize("case", [c for c in CASES if not c.expected], ids=lambda c: c.name)
def test_flytekit_accepts_valid_variants(
    case: Case, flytekit_results: dict[str, dict[str, str | None]]
) -> None:
    result = flytekit_results[case.name]
    assert result["stage"] is None, f"valid variant rejected by flytekit: {result['error']}"


@pytest.mark.timeout(60)
def test_decorator_arguments_match_flytekit() -> None:
    """FL004's lists of accepted decorator arguments are exactly what flytekit 1.16 takes."""
    pytest.importorskip("flytekit")
    script = (
        "import inspect, json, flytekit\n"
        "def names(f):\n"
        "    params = inspect.signature(f).parameters.items()\n"
        "    return sorted(p for p, v in params if v.kind != v.VAR_KEYWORD)\n"
        "print(json.dumps({'task': names(flytekit.task), 'dynamic': names(flytekit.dynamic),"
        " 'workflow': names(flytekit.workflow)}))\n"
    )
    proc = subprocess.run(
        [venv_python(), "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    signatures = json.loads(proc.stdout)
    legacy = {
        "cache_serialize",
        "cache_version",
        "cache_ignore_input_vars",
    }  # popped from **kwargs by flytekit
    assert set(signatures["task"]) | legacy == TASK_ARGUMENTS
    assert set(signatures["dynamic"]) | legacy == TASK_ARGUMENTS
    assert set(signatures["workflow"]) == WORKFLOW_ARGUMENTS


def test_every_rule_is_proven() -> None:
    """Each rule has a flagged case checked against flytekit, and its family has valid variants."""
    flagged = {e.code for c in CASES for e in c.expected}
    assert {r.code for r in RULES} <= flagged
    assert sum(1 for c in CASES if not c.expected) >= 20
