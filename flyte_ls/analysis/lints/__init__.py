"""Lint rules (``FL001``...): Flyte mistakes found before registration, without importing user code.

Contract with :func:`flyte_ls.analysis.analyze`: after extracting entities it builds a :class:`LintContext`
and calls :func:`run_lints`. Rules never raise (a failing checker is skipped and logged, not fatal) and never
import user code.

The rule table (codes, severities, how flytekit fails) is :data:`flyte_ls.analysis.lints.registry.RULES`; the
checkers live in one module per rule family (``definitions``, ``calls``, ``promises``, ``launch_plans``...).
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flyte_ls.analysis.model import Finding, ModuleAnalysis

if TYPE_CHECKING:
    from flyte_ls.analysis.api import ModuleLookup
    from flyte_ls.analysis.imports import ImportTable
    from flyte_ls.analysis.lints.base import LintModule

log = logging.getLogger(__name__)


@dataclass
class LintContext:
    source: str
    tree: ast.Module
    analysis: ModuleAnalysis  # entities already extracted
    imports: ImportTable  # resolves names/attributes to qualified flytekit names
    entity_nodes: dict[str, ast.AST] = field(
        default_factory=dict
    )  # entity Python name -> its def / Call / Assign
    lookup: ModuleLookup | None = None  # other modules' analyses (for imported entities), may be None


Checker = Callable[["LintModule"], Iterable[Finding]]


def checkers() -> list[Checker]:
    """Every checker, in a stable order."""
    from flyte_ls.analysis.lints import calls, definitions, launch_plans, module_rules, promises

    return [
        *definitions.CHECKERS,
        *calls.CHECKERS,
        *promises.CHECKERS,
        *launch_plans.CHECKERS,
        *module_rules.CHECKERS,
    ]


def run_lints(ctx: LintContext) -> list[Finding]:
    """Run every rule; return the findings sorted by position (then code). Never raises."""
    from flyte_ls.analysis.lints.base import LintModule

    try:
        module = LintModule(ctx)
        all_checkers = checkers()
    except Exception:
        log.exception("lints could not start; no findings for %s", getattr(ctx.analysis, "module", "?"))
        return []
    findings: list[Finding] = []
    for check in all_checkers:
        try:
            findings.extend(check(module))
        except RecursionError:
            log.warning("lint %s: source nested too deeply, skipped", getattr(check, "__name__", check))
        except Exception:
            log.exception("lint %s failed and was skipped", getattr(check, "__name__", check))
    # The cached helpers point back at the module (Callees.m): drop them, so that reference counting frees
    # the module's syntax tree now instead of leaving it to the cyclic garbage collector.
    vars(module).clear()
    unique = {(f.range.start, f.range.end, f.code, f.message): f for f in findings}
    return sorted(unique.values(), key=lambda f: (f.range.start, f.range.end, f.code, f.message))
