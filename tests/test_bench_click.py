"""bench/run_click.py's parts that need no backend (nothing timed): its docs/performance.md section is
rendered from a result, replaces itself, keeps the other sections and the hand-written notes, says pass/FAIL
against the targets; the workspace copy carries the editable constant and the napping task."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import report
import run_click

pytestmark = pytest.mark.timeout(60)


def series(median: float, rpcs: int = 8) -> dict[str, Any]:
    return {
        "samples": [{}],
        "n": 7,
        "median_s": median,
        "min_s": median * 0.9,
        "max_s": median * 1.2,
        "median_rpcs": rpcs,
        "by_method_last": {"CreateExecution": 1, "CreateTask": 2, "CreateUploadLocation": 1},
    }


def result(warm: float = 0.1, changed: float = 0.4, pyflyte: float = 2.0) -> dict[str, Any]:
    steps = {"progress": 0.002, "begin": 0.0, "serializing": 0.05, "packaging": 0.004, "launching": 0.01}
    click = {
        "first": {"s": 1.5, "rpcs": 9},
        "warm": {**series(warm), "median_steps_s": steps},
        "changed": {**series(changed), "median_steps_s": {**steps, "serializing": 0.06}},
        "pyflyte": series(pyflyte, 23),
        "ratio": pyflyte / warm,
    }
    return {
        "date": "2026-01-01 00:00 UTC",
        "load_avg_at_start": (0.1, 0.2, 0.3),
        "load_avg_at_end": (0.1, 0.2, 0.3),
        "workflow": "workflows/pipeline.py:prepare",
        "click": click,
        "tracking": {
            "executions": 50,
            "nap_s": 900,
            "launch_median_s": 0.12,
            "settle_s": 20.0,
            "window_s": 60.0,
            "phases_at_start": {"RUNNING": 50},
            "phases_at_end": {"RUNNING": 50},
            "ours": {"rpcs": 7, "per_min": 7.0, "by_method": {"ListExecutions": 6, "GetDomains": 1}},
            "flytekit": {
                "rpcs": 600,
                "per_min": 600.0,
                "by_method": {"GetExecution": 300, "GetExecutionData": 300},
                "rounds": 6,
                "window_s": 60.0,
            },
            "per_execution_poller_per_min": 300.0,
        },
    }


def test_section_replaces_itself_and_keeps_the_rest(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nother section\n\n{report.NOTES_MARKER}\nnotes\n")
    run_click.update_doc(doc, result())
    run_click.update_doc(doc, result())
    text = doc.read_text()
    assert text.count(run_click.BEGIN) == 1 and text.count(run_click.END) == 1
    assert text.index("other section") < text.index(run_click.BEGIN) < text.index(report.NOTES_MARKER)
    assert text.endswith("notes\n")
    assert (
        "| ours, warm, unchanged code (median of 7) | 0.10 s | 90 ms … 0.12 s | 8 | ≤ 0.30 s | pass |" in text
    )
    assert "| pyflyte / ours warm | 20.0\u00d7 |" in text
    assert "| ours: the server's tracker, all 50 | 7 | 7 | ListExecutions 6, GetDomains 1 |" in text
    assert "| 600 | 600 | GetExecution 300, GetExecutionData 300 |" in text
    assert "50 RUNNING at the start of the window" in text
    assert "serializing 50 / 60 ms; packaging 4 / 4 ms; launching 10 / 10 ms." in text
    run_click.update_doc(doc, {"error": "boom"})
    text = doc.read_text()
    assert "failed in this run: boom" in text and "| ours, warm" not in text
    assert text.count(run_click.BEGIN) == 1 and text.endswith("notes\n")


def test_section_without_markers_or_notes_is_appended(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nother section\n")
    run_click.update_doc(doc, result())
    text = doc.read_text()
    assert text.startswith("# Performance\n\nother section\n\n" + run_click.BEGIN)
    assert text.endswith(run_click.END + "\n")


def test_verdicts_against_the_targets() -> None:
    assert [v.rsplit(" ", 1)[1] for v in run_click.verdicts(result())][:3] == ["pass", "pass", "pass"]
    slow = result(warm=0.5, changed=1.5, pyflyte=2.0)
    assert [v.rsplit(" ", 1)[1] for v in run_click.verdicts(slow)][:3] == ["FAIL", "FAIL", "FAIL"]
    text = run_click.render(slow)
    assert text.count("**FAIL**") == 3
    assert run_click.verdicts({}) == []


class Note:
    def __init__(self, kind: str, at: float, message: str | None = None, token: str = "t") -> None:
        self.method, self.at = "$/progress", at
        value = {"kind": kind, "message": message, "title": "Running prepare" if token == "t" else "Indexing"}
        self.params = {"token": token, "value": value}


def test_steps_from_the_progress_notifications() -> None:
    notes = [
        Note("begin", 9.0, token="other"),
        Note("begin", 10.01),
        Note("report", 10.012, "serializing prepare"),
        Note("report", 10.03, "7/7", token="other"),
        Note("report", 10.06, "packaging"),
        Note("report", 10.065, "launching"),
    ]
    got = run_click.steps(notes, 10.0, 0.08)  # type: ignore[arg-type]
    assert list(got) == ["progress", "begin", "serializing", "packaging", "launching"]
    assert [round(v * 1000) for v in got.values()] == [10, 2, 48, 5, 15]
    assert run_click.steps([], 10.0, 0.08) == {}


def test_workspace_copy_has_the_edit_line_and_the_napping_task(tmp_path: Path) -> None:
    ws = run_click._workspace(tmp_path)
    flows = (ws / run_click.WORKFLOW_FILE).read_text()
    assert flows.rstrip("\n").endswith(run_click.EDIT_LINE.format(0))
    assert f"def {run_click.WORKFLOW}(" in flows
    assert f"def {run_click.NAP}(seconds: int)" in (ws / run_click.NAP_FILE).read_text()
    assert (ws / "workflows" / "__init__.py").exists()
