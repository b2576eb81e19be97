"""Module-wide rules: map task targets (FL050, FL051) and duplicate entity names (FL060)."""

from __future__ import annotations

import ast
from collections.abc import Iterable

from flyte_ls.analysis.lints.base import MAP_TASKS, PARTIAL, LintModule, call_keyword
from flyte_ls.analysis.model import EntityKind, Finding

_NOT_MAPPABLE = {
    EntityKind.WORKFLOW: "a workflow",
    EntityKind.DYNAMIC: "a dynamic workflow",
    EntityKind.EAGER: "an eager workflow",
}


def map_task_targets(m: LintModule) -> Iterable[Finding]:
    """FL050 / FL051: map_task maps plain tasks with one output."""
    for call, local in m.scoped_calls:
        if m.qualified_or_none(call.func) not in MAP_TASKS:
            continue
        target = call_keyword(call, "target", 0)
        if isinstance(target, ast.Call) and m.qualified_or_none(target.func) == PARTIAL and target.args:
            target = target.args[0]
        if target is None or isinstance(target, ast.Call):
            continue
        sig = m.callee(target, local)
        if sig is None:
            continue
        if sig.kind in _NOT_MAPPABLE:
            yield m.finding(
                "FL050",
                target,
                f"map_task over `{sig.display}`, which is {_NOT_MAPPABLE[sig.kind]}: serialization fails "
                "(Only PythonFunctionTask with default execution mode (not @dynamic or @eager) and "
                "PythonInstanceTask are supported in map tasks) — map a @task, or loop in an @dynamic "
                "workflow",
            )
        elif sig.kind == EntityKind.TASK and sig.outputs.kind == "multi":
            yield m.finding(
                "FL051",
                target,
                f"map_task over `{sig.display}`, which has {len(sig.outputs.names)} outputs: serialization "
                "fails (Only tasks with a single output are supported in map tasks) — return one value "
                "(e.g. a dataclass) from the mapped task",
            )


def duplicate_entities(m: LintModule) -> Iterable[Finding]:
    """FL060: the same name bound to two entities by top-level statements."""
    entity_names = {e.name for e in m.analysis.entities}
    first: dict[str, ast.stmt] = {}
    for stmt in m.ctx.tree.body:
        name: str | None = None
        anchor: ast.AST = stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.decorated(stmt) is not None:
            name = stmt.name
        elif (
            isinstance(stmt, (ast.Assign, ast.AnnAssign))
            and isinstance(stmt.value, ast.Call)
            and len(targets := (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])) == 1
            and isinstance(targets[0], ast.Name)
            and targets[0].id in entity_names
        ):
            name = targets[0].id
            anchor = targets[0]
        if name is None:
            continue
        if name in first:
            earlier = first[name]
            yield m.finding(
                "FL060",
                anchor if not isinstance(anchor, (ast.FunctionDef, ast.AsyncFunctionDef)) else stmt,
                f"`{name}` is already an entity (line {earlier.lineno}); this definition replaces it, so "
                "workflows compiled later call this one and only this one is registered under that name — "
                "rename one of them",
                entity=name,
            )
        else:
            first[name] = stmt


CHECKERS = [map_task_targets, duplicate_entities]
