"""Lint rules (``FL001``...): Flyte mistakes found before registration. (Skeleton: the lints agent fills it in.)

Contract with :func:`flyte_ls.analysis.analyze`: after extracting entities it builds a :class:`LintContext` and calls
:func:`run_lints`. Rules never raise (a failing rule is skipped, not fatal) and never import user code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flyte_ls.analysis.model import Finding, ModuleAnalysis

if TYPE_CHECKING:
    from flyte_ls.analysis.api import ModuleLookup
    from flyte_ls.analysis.imports import ImportTable


@dataclass
class LintContext:
    source: str
    tree: ast.Module
    analysis: ModuleAnalysis  # entities already extracted
    imports: ImportTable  # resolves names/attributes to qualified flytekit names
    entity_nodes: dict[str, ast.AST] = field(default_factory=dict)  # entity Python name -> its def / Call / Assign
    lookup: ModuleLookup | None = None  # other modules' analyses (for imported entities), may be None


def run_lints(ctx: LintContext) -> list[Finding]:
    """Run every rule; return the findings sorted by position."""
    return []
