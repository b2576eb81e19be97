"""The static call graph of a workflow body: calls that may invoke entities, with their keyword bindings.

Every call expression in the body counts, wherever it is nested: ``t1(a=x).with_overrides(...)``,
``conditional("c").if_(x > 1).then(t2(a=x))``, ``t1() >> t2()``, calls in ``with`` blocks. A call of a bare
name that is not imported is kept as a candidate and dropped later unless the module defines an entity of that
name; imported names are kept unless they come from the SDK itself or the standard library.
"""

from __future__ import annotations

import ast
import sys
from typing import TYPE_CHECKING

from flyte_ls.analysis import dialect as fk
from flyte_ls.analysis.drafts import CallRef, MapSpec, Ref

if TYPE_CHECKING:
    from flyte_ls.analysis.extract import Extractor

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"typing_extensions"}
_PARTIAL = "functools.partial"


def ref_for(node: ast.expr, ex: Extractor) -> Ref:
    """How ``node`` names an entity: a module-level name, or a qualified name through the imports."""
    text = ex.text(node)
    if isinstance(node, ast.Name) and not ex.imports.is_imported(node.id):
        return Ref(text, local=node.id)
    qualified = ex.qualified(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
    return Ref(text, qualified=qualified)


def _external(qualified: str, ex: Extractor) -> bool:
    """True for names from the SDK or the standard library: those are never user entities."""
    top = qualified.split(".", 1)[0]
    return top in ex.imports.dialect.roots or top in _STDLIB


def call_ref(
    call: ast.Call, entity: ast.expr, ex: Extractor, skip: int = 0, mapped: MapSpec | None = None
) -> CallRef:
    return CallRef(
        ref=ref_for(entity, ex),
        span=ex.span(call),
        keywords={kw.arg: ex.text(kw.value) for kw in call.keywords if kw.arg is not None},
        positional=max(len(call.args) - skip, 0),
        mapped=mapped,
    )


def _literal_str(node: ast.expr | None, default: str) -> str | None:
    if node is None:
        return default
    try:
        return str(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _string_set(node: ast.expr | None) -> list[str]:
    if isinstance(node, (ast.Set, ast.List, ast.Tuple)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if isinstance(node, ast.Dict):
        return [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    return []


def map_spec(call: ast.Call, qualified: str, ex: Extractor) -> MapSpec | None:
    """The mapped entity and name-hash arguments of ``map_task(...)`` / ``array_node_map_task(...)`` /
    ``ArrayNodeMapTask(...)`` (argument positions differ between the three)."""
    if qualified == "flytekit.map_task":
        target = ex.argument(call, "target", 0)
        concurrency = ex.argument(call, "concurrency", 1)
        min_successes = ex.argument(call, "min_successes", 2)
        ratio = ex.argument(call, "min_success_ratio", 3)
    elif qualified == fk.ARRAY_NODE_MAP_TASK:
        target = ex.argument(call, "task_function", 0)
        concurrency = ex.argument(call, "concurrency", 1)
        min_successes = ex.argument(call, "min_successes", None)
        ratio = ex.argument(call, "min_success_ratio", 2)
    else:
        target = ex.argument(call, "python_function_task", 0)
        concurrency = ex.argument(call, "concurrency", 1)
        min_successes = ex.argument(call, "min_successes", 2)
        ratio = ex.argument(call, "min_success_ratio", 3)
    if target is None:
        return None
    bound: set[str] = set()
    if isinstance(target, ast.Call) and ex.qualified(target.func) == _PARTIAL and target.args:
        bound.update(kw.arg for kw in target.keywords if kw.arg is not None)
        target = target.args[0]
    bound.update(_string_set(ex.argument(call, "bound_inputs", None)))
    bound.update(_string_set(ex.argument(call, "bound_inputs_values", None)))
    ratio_default = "None" if qualified == fk.ARRAY_NODE_MAP_TASK_CLASS else "1.0"
    return MapSpec(
        target=ref_for(target, ex),
        bound_inputs=tuple(sorted(bound)),
        concurrency=_literal_str(concurrency, "None"),
        min_successes=_literal_str(min_successes, "None"),
        min_success_ratio=_literal_str(ratio, ratio_default),
    )


def _site(call: ast.Call, ex: Extractor) -> CallRef | None:
    func = call.func
    if isinstance(func, ast.Name) and not ex.imports.is_imported(func.id):
        return call_ref(call, func, ex)
    if isinstance(func, ast.Call):
        inner = ex.qualified(func.func)
        if inner in fk.MAP_TASK_FACTORIES:
            spec = map_spec(func, inner or "", ex)
            if spec is not None:
                return call_ref(call, func, ex, mapped=spec)
        return None
    qualified = ex.qualified(func) if isinstance(func, (ast.Name, ast.Attribute)) else None
    if qualified is None:
        return None
    if qualified == fk.CREATE_NODE and call.args:
        return call_ref(call, call.args[0], ex, skip=1)
    if _external(qualified, ex):
        return None
    return call_ref(call, func, ex)


def body_calls(body: list[ast.stmt], ex: Extractor) -> list[CallRef]:
    """Candidate entity calls in a function body, in source order."""
    sites: list[CallRef] = []
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            site = _site(node, ex)
            if site is not None:
                sites.append(site)
        stack.extend(ast.iter_child_nodes(node))
    sites.sort(key=lambda s: s.span)
    return sites
