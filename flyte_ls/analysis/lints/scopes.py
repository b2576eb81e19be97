"""Python scopes, computed in one pass over a module: which names each function binds, and every call with the
names bound around it (so that a local variable called like an entity is never mistaken for it)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def target_names(target: ast.AST) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from target_names(elt)
    elif isinstance(target, ast.Starred):
        yield from target_names(target.value)


def _argument_names(args: ast.arguments) -> set[str]:
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


class Scope:
    """The names one function / class / lambda / comprehension binds; ``in`` also looks in enclosing function
    scopes (never the module's: module-level names are resolved separately)."""

    __slots__ = ("function", "is_class", "names", "parent")

    def __init__(
        self,
        parent: Scope | None,
        names: set[str] | None = None,
        is_class: bool = False,
        function: ast.AST | None = None,
    ) -> None:
        self.parent = parent
        self.names: set[str] = names if names is not None else set()
        self.is_class = is_class
        self.function = function  # the def whose body this scope is in (lambdas, comprehensions: their def's)

    def __contains__(self, name: object) -> bool:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return True
            scope = scope.parent
        return False


MODULE = Scope(None)  # calls at module level: no local names


@dataclass
class ScopeIndex:
    calls: list[tuple[ast.Call, Scope]] = field(default_factory=list)
    functions: dict[int, Scope] = field(default_factory=dict)  # id(def) -> the scope of its body
    nested: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]] = field(
        default_factory=list
    )  # def, outer

    def locals_of(self, fn: ast.AST) -> Scope:
        return self.functions.get(id(fn), MODULE)


def _children(node: ast.AST) -> Iterator[ast.AST]:
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    yield item


def index_scopes(tree: ast.Module) -> ScopeIndex:
    """One walk over the module, scope by scope; iterative, so deep nesting cannot overflow the stack."""
    index = ScopeIndex()
    # Work items: (nodes, scope they are evaluated in, scope their Store names bind in, enclosing function)
    work: list[tuple[list[ast.AST], Scope, Scope | None, str | None]] = [
        (list(tree.body), MODULE, None, None)
    ]
    calls = index.calls
    while work:
        nodes, scope, binder, outer = work.pop()
        stack = nodes
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is ast.Call:
                calls.append((node, scope))  # type: ignore[arg-type]
            elif kind is ast.Name:
                if binder is not None and type(node.ctx) is not ast.Load:  # type: ignore[attr-defined]
                    binder.names.add(node.id)  # type: ignore[attr-defined]
                continue
            elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                fn: ast.FunctionDef = node  # type: ignore[assignment]
                if binder is not None:
                    binder.names.add(fn.name)
                if outer is not None:
                    index.nested.append((fn, outer))
                stack.extend(fn.decorator_list)
                stack.extend(fn.args.defaults)
                stack.extend(d for d in fn.args.kw_defaults if d is not None)
                # a method does not see its class's names: lookups continue in the class's enclosing scope
                inner = Scope(
                    scope.parent if scope.is_class else scope, _argument_names(fn.args), function=fn
                )
                index.functions[id(fn)] = inner
                work.append((list(fn.body), inner, inner, fn.name))
                continue
            elif kind is ast.ClassDef:
                cls: ast.ClassDef = node  # type: ignore[assignment]
                if binder is not None:
                    binder.names.add(cls.name)
                stack.extend([*cls.decorator_list, *cls.bases, *cls.keywords])
                body = Scope(scope, is_class=True)
                work.append((list(cls.body), body, body, outer))
                continue
            elif kind is ast.Lambda:
                lam: ast.Lambda = node  # type: ignore[assignment]
                lam_scope = Scope(scope, _argument_names(lam.args), function=scope.function)
                work.append(([lam.body], lam_scope, None, outer))
                continue
            elif kind in _COMPREHENSION_TYPES:
                gens = node.generators  # type: ignore[attr-defined]
                names = {n for g in gens for n in target_names(g.target)}
                work.append(
                    (list(_children(node)), Scope(scope, names, function=scope.function), None, outer)
                )
                continue
            elif binder is not None:
                if kind is ast.Import or kind is ast.ImportFrom:
                    aliases = node.names  # type: ignore[attr-defined]
                    binder.names.update(a.asname or a.name.split(".", 1)[0] for a in aliases if a.name != "*")
                elif kind is ast.ExceptHandler and node.name:  # type: ignore[attr-defined]
                    binder.names.add(node.name)  # type: ignore[attr-defined]
                elif kind is ast.Global or kind is ast.Nonlocal:
                    binder.names.update(node.names)  # type: ignore[attr-defined]
                elif kind is ast.NamedExpr:
                    binder.names.update(target_names(node.target))  # type: ignore[attr-defined]
            stack.extend(_children(node))
    return index


_COMPREHENSION_TYPES = frozenset(_COMPREHENSIONS)


def bound_names(body: Iterable[ast.stmt]) -> set[str]:
    """Names a block of statements binds in its own scope (not in nested functions, classes or lambdas)."""
    scope = Scope(None)
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            scope.names.add(node.name)
            stack.extend(node.decorator_list)
            continue
        if isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            scope.names.update(a.asname or a.name.split(".", 1)[0] for a in node.names if a.name != "*")
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            scope.names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            scope.names.add(node.name)
        elif isinstance(node, ast.NamedExpr):
            scope.names.update(target_names(node.target))
        stack.extend(ast.iter_child_nodes(node))
    return scope.names
