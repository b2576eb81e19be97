"""``scripts/demo_run.py`` (the run part of ``make demo``) end to end: the local backend, the server over
stdio, a workflow that succeeds, one that fails in a helper module, unmodified pyflyte; all stopped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 180

pytestmark = [pytest.mark.timeout(DEADLINE_S + 30), pytest.mark.flytekit]


def line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


def test_the_demo_runs_a_workflow_and_places_a_failure_on_its_raising_line() -> None:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo_run.py"), str(REPO / "examples")],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        env=env,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]

    # The lenses of the workflow, before and after its run.
    assert re.search(r"^lenses of training_pipeline ▶ Run │ ⬆ Register │ workflow · 3 inputs", out, re.M)
    assert re.search(r"^lenses now .*│ ✓ SUCCEEDED .*│ ⟳ Re-run │ Open console$", out, re.M), out
    # Work-done progress, status notifications and diagnostics as they arrived.
    for step in ("serializing training_pipeline", "packaging", "uploading", "registering", "launching"):
        assert re.search(rf"progress report +{step}$", out, re.M), step
    assert re.search(r"executionChanged +SUCCEEDED .*\(training_pipeline\)$", out, re.M)
    pipeline_line = line_of(REPO / "examples/workflows/pipeline.py", "def training_pipeline")
    assert re.search(
        rf"diagnostic +info +workflows/pipeline.py:{pipeline_line}:5 +training_pipeline: (QUEUED|RUNNING)",
        out,
    )
    assert re.search(
        rf"diagnostic +hint +workflows/pipeline.py:{pipeline_line}:5 +training_pipeline: SUCCEEDED in ", out
    )
    # Outputs and the console URL (whose page the script fetched and found SUCCEEDED).
    assert re.search(r"^outputs +o0='demo: mean=[0-9.]+ over \d+ values'$", out, re.M), out
    url = re.search(r"^console +(http://127\.0\.0\.1:\d+/console/projects/flytesnacks/domains/development/"
                    r"executions/\w+)$", out, re.M)  # fmt: skip
    assert url, out
    assert f"console page {url.group(1)}: HTTP 200, phase SUCCEEDED" in out

    # The failing workflow: its missing input asked for, then its error on the raising line of checks.py.
    assert "missing required inputs: n (int)" in out and "editor prompts    n: int" in out
    raise_line = line_of(REPO / "examples/workflows/checks.py", "raise ValueError")
    assert f"workflows/checks.py:{raise_line}:9: ValueError: need at least 10 values, got 3" in out, out
    assert re.search(rf"^ +{raise_line} │ +raise ValueError\(", out, re.M)
    failing_line = line_of(REPO / "examples/workflows/failing.py", "def strict_count")
    assert f"related: workflows/failing.py:{failing_line}  strict_count: FAILED" in out
    assert re.search(r"^lenses now .*│ ✗ FAILED .*│ ⟳ Re-run │ Open console$", out, re.M), out

    # Unmodified flytekit on the same backend, then everything stopped.
    assert "Execution " in out and "has succeeded" in out
    assert "child process(es) (the worker) are gone" in out
    assert re.search(r"^backend +stopped \(pid \d+, exit status 0\)$", out, re.M)
    assert re.search(rf"^summary .*strict_count FAILED at workflows/checks.py:{raise_line};", out, re.M)
