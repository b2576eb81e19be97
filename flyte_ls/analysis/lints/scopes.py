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


@dataclass
class Scope:
    parent: Scope | None  # the enclosing scope a name lookup continues in (None: the module)
    names: set[str] = field(default_factory=set)
    is_class: bool = False  # a class body: methods do not see its names
    _visible: frozenset[str] | None = None

    def visible(self) -> frozenset[str]:
        """Names bound here or in an enclosing function scope (not the module's)."""
        if self._visible is None:
            outer = self.parent.visible() if self.parent is not None else frozenset()
            self._visible = outer | self.names
        return self._visible


@dataclass
class ScopeIndex:
    calls: list[tuple[ast.Call, Scope]] = field(default_factory=list)
    functions: dict[int, Scope] = field(default_factory=dict)  # id(def) -> the scope of its body
    nested: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]] = field(
        default_factory=list
    )  # def, outer

    def locals_of(self, fn: ast.AST) -> frozenset[str]:
        scope = self.functions.get(id(fn))
        return scope.visible() if scope is not None else frozenset()


def index_scopes(tree: ast.Module) -> ScopeIndex:
    """One walk over the module; iterative, so deeply nested code cannot overflow the stack."""
    index = ScopeIndex()
    # (node, scope it is evaluated in (None: module), scope its Store names bind in, enclosing function name)
    stack: list[tuple[ast.AST, Scope | None, Scope | None, str | None]] = [(tree, None, None, None)]
    while stack:
        node, scope, binder, outer = stack.pop()
        if isinstance(node, _FUNCTIONS):
            if binder is not None:
                binder.names.add(node.name)
            if outer is not None:
                index.nested.append((node, outer))
            defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            stack.extend((n, scope, binder, outer) for n in [*node.decorator_list, *defaults])
            # a method does not see its class's names: its lookups continue in the class's enclosing scope
            parent = scope.parent if scope is not None and scope.is_class else scope
            inner = Scope(parent, _argument_names(node.args))
            index.functions[id(node)] = inner
            stack.extend((s, inner, inner, node.name) for s in node.body)
            continue
        if isinstance(node, ast.ClassDef):
            if binder is not None:
                binder.names.add(node.name)
            stack.extend(
                (n, scope, binder, outer) for n in [*node.decorator_list, *node.bases, *node.keywords]
            )
            body = Scope(scope, is_class=True)
            stack.extend((s, body, body, outer) for s in node.body)
            continue
        if isinstance(node, ast.Lambda):
            stack.append((node.body, Scope(scope, _argument_names(node.args)), None, outer))
            continue
        if isinstance(node, _COMPREHENSIONS):
            names = {n for g in node.generators for n in target_names(g.target)}
            inner = Scope(scope, names)
            stack.extend((child, inner, None, outer) for child in ast.iter_child_nodes(node))
            continue
        if binder is not None:
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                binder.names.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                binder.names.update(a.asname or a.name.split(".", 1)[0] for a in node.names if a.name != "*")
            elif isinstance(node, ast.ExceptHandler) and node.name:
                binder.names.add(node.name)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                binder.names.update(node.names)
        if isinstance(node, ast.NamedExpr) and scope is not None:
            scope.names.update(target_names(node.target))
        if isinstance(node, ast.Call):
            index.calls.append((node, scope if scope is not None else _MODULE))
        stack.extend((child, scope, binder, outer) for child in ast.iter_child_nodes(node))
    return index


_MODULE = Scope(None)


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
