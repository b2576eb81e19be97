"""Helpers for the analysis tests (imported by name: ``tests/analysis`` is on ``sys.path`` under pytest)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from flyte_ls.analysis import Entity, ModuleAnalysis, analyze

DATA = Path(__file__).parent / "data"


def run(source: str, module: str = "pkg.mod") -> ModuleAnalysis:
    """Analyse dedented ``source`` without lints."""
    return analyze(textwrap.dedent(source), module, lint=False)


def by_name(source: str, module: str = "pkg.mod") -> dict[str, Entity]:
    return {e.name: e for e in run(source, module).entities}


def all_kinds_source() -> str:
    """A module with every entity kind (valid flytekit: the flytekit tests import it)."""
    return (DATA / "all_kinds.py.txt").read_text()
