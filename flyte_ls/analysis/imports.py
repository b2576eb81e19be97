"""What the names of a module refer to, through its imports: the :class:`ImportTable`.

Only module-level bindings count (including imports nested in module-level ``if``/``try``/``with`` blocks,
e.g. ``try: from flytekit import task``). The last binding of a name wins; a plain module-level
``def``/``class``/ assignment after an import shadows it (so a user's own ``def task`` is never
``flytekit.task``). Bindings made inside nested blocks never shadow an import (``except ImportError: task =
None`` is a fallback, not the module's meaning).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import NamedTuple

from flyte_ls.analysis.dialect import FLYTEKIT, Dialect


class Binding(NamedTuple):
    """A module-level binding. ``kind``: ``name`` (from-import), ``module`` (import), ``star``, ``alias``
    (``x = imported.name``), ``partial`` (``x = functools.partial(imported.name, ...)``), ``shadow``."""

    kind: str
    local: str
    target: str  # imported module / dotted name (relative ones keep their leading dots)


def _import_bindings(stmt: ast.Import | ast.ImportFrom) -> list[Binding]:
    out: list[Binding] = []
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.asname:
                out.append(Binding("module", alias.asname, alias.name))
            else:
                top = alias.name.split(".", 1)[0]
                out.append(Binding("module", top, top))
        return out
    base = "." * (stmt.level or 0) + (stmt.module or "")
    for alias in stmt.names:
        if alias.name == "*":
            out.append(Binding("star", "*", base))
            continue
        if base.endswith("."):
            target = base + alias.name
        else:
            target = f"{base}.{alias.name}"
        out.append(Binding("name", alias.asname or alias.name, target))
    return out


def _target_names(target: ast.expr) -> Iterable[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _target_names(elt)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _alias(stmt: ast.Assign | ast.AnnAssign | ast.AugAssign) -> Binding | None:
    """``gpu_task = functools.partial(task, ...)`` / ``my_task = fk.task``: a new name for an imported one."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return None
    if not isinstance(target, ast.Name):
        return None
    dotted = _dotted(value)
    if dotted is not None:
        return Binding("alias", target.id, dotted)
    if isinstance(value, ast.Call) and value.args and not isinstance(value.args[0], ast.Starred):
        func, first = _dotted(value.func), _dotted(value.args[0])
        if func is not None and first is not None and func.rsplit(".", 1)[-1] == "partial":
            return Binding("partial", target.id, f"{func} {first}")
    return None


def statement_bindings(stmt: ast.stmt, nested: bool = False) -> list[Binding]:
    """The module-level binding events of one top-level statement, in source order."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return _import_bindings(stmt)
    out: list[Binding] = []
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        if not nested:
            out.append(Binding("shadow", stmt.name, ""))
        return out
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        if not nested:
            alias = _alias(stmt)
            if alias is not None:
                return [alias]
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                out.extend(Binding("shadow", name, "") for name in _target_names(target))
        return out
    if isinstance(stmt, (ast.For, ast.AsyncFor)) and not nested:
        out.extend(Binding("shadow", name, "") for name in _target_names(stmt.target))
    blocks: list[list[ast.stmt]] = []
    if isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While)):
        blocks = [stmt.body, stmt.orelse]
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        blocks = [stmt.body]
    elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
        try_stmt: ast.Try = stmt  # type: ignore[assignment]
        blocks = [try_stmt.body, try_stmt.orelse, try_stmt.finalbody]
        blocks.extend(handler.body for handler in try_stmt.handlers)
    for block in blocks:
        for inner in block:
            out.extend(statement_bindings(inner, nested=True))
    return out


def resolve_relative(target: str, module: str, is_package: bool = False) -> str:
    """``..x.y`` imported from ``module`` → absolute dotted name (unchanged when it cannot be resolved)."""
    if not target.startswith(".") or not module:
        return target
    level = len(target) - len(target.lstrip("."))
    rest = target[level:]
    parts = module.split(".")
    # ``pkg.__init__`` (flytekit's name for a package's __init__.py) is the package ``pkg``'s own module.
    if not is_package or parts[-1] == "__init__":
        parts = parts[:-1]
    up = level - 1
    if up > len(parts) or (up == len(parts) and not rest):
        return target
    base = parts[: len(parts) - up] if up else parts
    return ".".join([*base, rest] if rest else base) if base else rest


class ImportTable:
    """Resolves names and attribute chains to qualified, canonical dotted names through a module's imports."""

    def __init__(
        self,
        names: dict[str, str] | None = None,
        modules: dict[str, str] | None = None,
        stars: tuple[str, ...] = (),
        dialect: Dialect = FLYTEKIT,
    ) -> None:
        self._names = names or {}
        self._modules = modules or {}
        self._stars = stars
        self._dialect = dialect
        self._star_names: dict[str, str] = {}
        for star in stars:
            for name in dialect.star_names(star):
                self._star_names.setdefault(name, f"{star}.{name}")
        self._shadowed: set[str] = set()
        self._ever_imported: set[str] = set()

    # -- construction ----------------------------------------------------------------------------------------
    @classmethod
    def from_bindings(
        cls,
        bindings: Iterable[Binding],
        module: str = "",
        *,
        is_package: bool = False,
        dialect: Dialect = FLYTEKIT,
    ) -> ImportTable:
        """Build from binding events (see :func:`statement_bindings`), applying them in order."""
        names: dict[str, str] = {}
        modules: dict[str, str] = {}
        stars: list[str] = []
        shadowed: set[str] = set()
        imported: set[str] = set()

        def resolve(dotted: str) -> str | None:
            head, _, rest = dotted.partition(".")
            base = names.get(head) or modules.get(head)
            if base is None and head not in shadowed:
                base = next((f"{star}.{head}" for star in stars if head in dialect.star_names(star)), None)
            if base is None:
                return None
            return f"{base}.{rest}" if rest else base

        for kind, local, target in bindings:
            if kind == "alias":
                resolved = resolve(target)
                kind, target = ("name", resolved) if resolved else ("shadow", "")
            elif kind == "partial":
                func, _, first = target.partition(" ")
                partial = resolve(func)
                resolved = (
                    resolve(first) if partial and dialect.canonical(partial) == "functools.partial" else None
                )
                kind, target = ("name", resolved) if resolved else ("shadow", "")
            if kind in ("name", "module"):
                imported.add(local)
            if kind == "name":
                names[local] = resolve_relative(target, module, is_package)
                modules.pop(local, None)
                shadowed.discard(local)
            elif kind == "module":
                modules[local] = target
                names.pop(local, None)
                shadowed.discard(local)
            elif kind == "star":
                stars.append(resolve_relative(target, module, is_package))
            else:
                names.pop(local, None)
                modules.pop(local, None)
                shadowed.add(local)
        table = cls(names, modules, tuple(stars), dialect)
        table._shadowed = shadowed
        table._ever_imported = imported
        return table

    @classmethod
    def from_statements(
        cls,
        stmts: Iterable[ast.stmt],
        module: str = "",
        *,
        is_package: bool = False,
        dialect: Dialect = FLYTEKIT,
    ) -> ImportTable:
        """Build from a module's top-level statements, in order."""
        events: list[Binding] = []
        for stmt in stmts:
            events.extend(statement_bindings(stmt))
        return cls.from_bindings(events, module, is_package=is_package, dialect=dialect)

    @classmethod
    def from_tree(
        cls, tree: ast.Module, module: str = "", *, is_package: bool = False, dialect: Dialect = FLYTEKIT
    ) -> ImportTable:
        """Build from a parsed module. ``module`` (dotted name) resolves relative imports."""
        return cls.from_statements(tree.body, module, is_package=is_package, dialect=dialect)

    # -- queries ---------------------------------------------------------------------------------------------
    @property
    def dialect(self) -> Dialect:
        return self._dialect

    def fingerprint(self) -> int:
        """Hash of what the table resolves (equal tables resolve every name the same way)."""
        # Only shadowing that changes a resolution counts: a new ``def foo`` must not invalidate every cache.
        relevant = frozenset(n for n in self._shadowed if n in self._star_names or n in self._ever_imported)
        return hash((frozenset(self._names.items()), frozenset(self._modules.items()), self._stars, relevant))

    def module_aliases(self) -> dict[str, str]:
        """Local name → imported module (``import a.b as c`` → ``c: a.b``; ``import a.b`` → ``a: a``)."""
        return dict(self._modules)

    def imported_names(self) -> dict[str, str]:
        """Local name → qualified target of ``from x import y as z`` (relative ones resolved if possible)."""
        return dict(self._names)

    def is_imported(self, name: str) -> bool:
        return name in self._names or name in self._modules or name in self._star_names

    def _raw(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            name = node.id
            target = self._names.get(name) or self._modules.get(name)
            if target is None and name not in self._shadowed:
                target = self._star_names.get(name)
            return target
        if isinstance(node, ast.Attribute):
            base = self._raw(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def qualified_name(self, node: ast.expr) -> str | None:
        """Dotted, canonical name of a ``Name`` / ``Attribute`` chain through the imports, or None.

        ``fk.task`` (``import flytekit as fk``) → ``flytekit.task``; ``task`` from ``flytekit.core.task`` →
        ``flytekit.task``; a name that is not imported (or is rebound at module level after the import) →
        None.
        """
        raw = self._raw(node)
        return None if raw is None else self._dialect.canonical(raw)
