"""Abstract values for the promise checker: what a name in a workflow body certainly holds."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from flyte_ls.analysis.lints.base import target_names
from flyte_ls.analysis.model import Severity

PROMISE = "promise"
MULTI = "multi"  # the tuple of promises of an entity with several outputs
VOID = "void"  # the result of an entity with no outputs
COMPARISON = "comparison"  # promise comparison (ComparisonExpression / ConjunctionExpression)
STRING = "string"  # a string made by formatting a promise
HOLDER = "holder"  # a dataclass instance built with promises in its fields
COROUTINE = "coroutine"  # calling an async task from a workflow
COND = "conditional"  # conditional(...) chain under construction
METHOD = "method"  # a bound attribute of a promise or a conditional
PROMISE_LIKE = frozenset({PROMISE, MULTI, VOID, COMPARISON})

# Attributes that a flytekit Promise really has (everything else is an attribute path into the value).
PROMISE_ATTRS = frozenset(
    "with_overrides is_ is_false is_none is_true eval "
    "deepcopy with_var ref val var attr_path is_ready".split()
)
ITERATING_BUILTINS = frozenset(
    "list tuple set frozenset sorted sum any all enumerate zip iter reversed map filter".split()
)
VALUE_BUILTINS = frozenset(
    "len int float abs round range divmod pow chr ord hex oct bin complex min max next dict".split()
)
STRING_BUILTINS = frozenset({"str", "repr", "format", "ascii"})
MAX_HELPER_DEPTH = 3


@dataclass(frozen=True)
class Val:
    kind: str
    desc: str = ""  # source text to quote in messages
    names: tuple[str, ...] = ()  # MULTI: output names
    attr: str = ""  # METHOD: attribute name
    base: Val | None = None  # METHOD: what the attribute is on
    has_else: bool = False  # COND: else_() seen
    then_value: Val | None = None  # COND: what the completed conditional gives


@dataclass
class Issue:
    code: str
    node: ast.AST
    message: str
    severity: Severity


Env = dict[str, Val]


def merge(*envs: Env | None) -> Env | None:
    live = [e for e in envs if e is not None]
    if not live:
        return None
    first = live[0]
    return {k: v for k, v in first.items() if all(e.get(k) == v for e in live[1:])}


def short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nonempty_literal(node: ast.expr) -> bool:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return bool(node.elts)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and node.args
    ):
        last = node.args[0] if len(node.args) == 1 else None
        return isinstance(last, ast.Constant) and isinstance(last.value, int) and last.value > 0
    return False


def stmt_binds(s: ast.stmt) -> list[str]:
    if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [s.name]
    if isinstance(s, (ast.Import, ast.ImportFrom)):
        return [a.asname or a.name.split(".", 1)[0] for a in s.names]
    if isinstance(s, ast.Delete):
        return [n for t in s.targets for n in target_names(t)]
    return []
