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


def _interface(m: LintModule, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[object, ...]:
    params = tuple((p.name, p.type, p.default is None) for p in m.params_of(fn))
    return params, m.text(fn.returns) if fn.returns is not None else None


def duplicate_entities(m: LintModule) -> Iterable[Finding]:
    """FL060: the same name bound twice, by top-level definitions, to entities with different interfaces.

    flytekit compiles a workflow lazily, when it is first used: by then the name refers to the later entity,
    so a workflow written for the earlier interface fails. Same interface: a harmless redefinition.
    """
    first: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for d in m.decorated_functions:
        name = d.node.name
        earlier = first.get(name)
        first[name] = d.node
        if earlier is None or _interface(m, earlier) == _interface(m, d.node):
            continue
        yield m.finding(
            "FL060",
            d.node,
            f"`{name}` is already an entity with another interface (line {earlier.lineno}); this definition "
            "replaces it, so workflows compiled later call this one, with this interface — rename one of "
            "them",
            entity=name,
        )


CHECKERS = [map_task_targets, duplicate_entities]
