"""Running real flytekit from the tests: the harness subprocess in the test venv."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("lint_harness.py")
REPO = Path(__file__).resolve().parents[2]


def venv_python() -> str:
    """The test venv's interpreter (it has flytekit); the running one when the tests run inside it."""
    candidate = REPO / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def run_flytekit(cases: list[dict[str, object]], timeout: float = 240) -> dict[str, dict[str, str | None]]:
    """Import, serialize and run each case with real flytekit (see lint_harness.py); one subprocess."""
    proc = subprocess.run(
        [venv_python(), str(HARNESS)],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"the flytekit harness crashed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, dict[str, str | None]] = json.loads(proc.stdout)
    return result
