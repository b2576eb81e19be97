"""bench/console_render.py's parts that need no backend (nothing timed): the generated 500-node workflow is
valid flytekit (real flytekit imports it and counts its nodes), its docs/performance.md section and verdict
render from a result and from a failed run, and the section replaces itself, keeping the rest of the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import console_render
import report

pytestmark = pytest.mark.timeout(120)

RESULT: dict[str, Any] = {
    "date": "2026-11-27 00:29 UTC",
    "load_avg_at_start": [1.0, 1.0, 1.0],
    "load_avg_at_end": [2.0, 2.0, 2.0],
    "nodes": 500,
    "runs": 20,
    "execution_s": 20.0,
    "node_executions": 502,
    "page": {"median_s": 0.4, "min_s": 0.3, "p95_s": 0.9, "bytes": 1_700_000, "dag_nodes": 500},
    "workflow_page": {"median_s": 0.05, "min_s": 0.02, "p95_s": 0.08, "bytes": 400_000, "dag_nodes": 500},
    "json": {"median_s": 0.05, "min_s": 0.04, "p95_s": 0.06, "bytes": 400_000},
    "dag": {"median_s": 0.02, "min_s": 0.015, "p95_s": 0.03, "bytes": 260_000},
}


@pytest.mark.flytekit
def test_the_generated_workflow_has_500_task_nodes(tmp_path: Path) -> None:
    project = console_render._project(tmp_path)
    # calling the workflow runs its 500 tasks locally, in flytekit
    script = "from dagbench.flows import lanes; print(len(lanes.nodes)); print(tuple(lanes(x=1)))"
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=project, capture_output=True, text=True, timeout=100, check=True
    )
    count, outputs = proc.stdout.strip().splitlines()[-2:]
    assert int(count) == 500
    assert outputs == str((51,) * 10)


def test_section_and_verdict() -> None:
    text = console_render.render(RESULT)
    assert text.startswith(console_render.BEGIN) and text.endswith(console_render.END)
    assert "| 0.40 s | 0.30 s | 0.90 s | 1660 KB | 8.0\u00d7 | ≤ 1 s | pass |" in text
    assert "DAG with 500 task nodes" in text
    assert console_render.verdicts(RESULT) == [
        "console, execution page of a 500-node execution: 0.40 s (target ≤ 1 s) pass"
    ]
    slow = {**RESULT, "page": {**RESULT["page"], "median_s": 1.5}}
    assert "**FAIL**" in console_render.render(slow) and console_render.verdicts(slow)[0].endswith("FAIL")
    failed = console_render.render({"error": "the backend did not start"})
    assert "The benchmark failed in this run: the backend did not start" in failed
    assert console_render.verdicts({"error": "x"}) == []


def test_section_replaces_itself(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nother\n\n{report.NOTES_MARKER}\nnotes\n")
    console_render.update_doc(doc, RESULT)
    console_render.update_doc(doc, {**RESULT, "date": "later"})
    text = doc.read_text()
    assert text.count(console_render.BEGIN) == 1 and "later" in text and "00:29" not in text
    assert text.index("other") < text.index(console_render.BEGIN) < text.index(report.NOTES_MARKER)
    assert text.endswith("notes\n")
