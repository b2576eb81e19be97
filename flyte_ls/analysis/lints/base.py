"""Shared knowledge for the rules: positions, module-level names, entity decorators, callee signatures.

One :class:`LintModule` is built per lint run and handed to every checker; it caches what several rules need.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Container
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from flyte_ls.analysis.lints.callees import (
    DEF_KINDS,
    LP_CREATE,
    LP_GET_OR_CREATE,
    MAP_TASKS,
    PARTIAL,
    Callees,
)
from flyte_ls.analysis.lints.registry import default_severity
from flyte_ls.analysis.lints.scopes import ScopeIndex, bound_names, index_scopes, target_names
from flyte_ls.analysis.lints.signature import (
    Param,
    Shape,
    Signature,
    call_keyword,
    is_none,
    literal_dict_keys,
)
from flyte_ls.analysis.model import EntityKind, Finding, ModuleAnalysis, Position, Range, Severity
from flyte_ls.analysis.positions import LineTable, normalize_source, split_lines

__all__ = [
    "DEF_KINDS",
    "LP_CREATE",
    "LP_GET_OR_CREATE",
    "MAP_TASKS",
    "PARTIAL",
    "Callees",
    "LintModule",
    "Param",
    "Shape",
    "Signature",
    "call_keyword",
    "is_none",
    "literal_dict_keys",
    "target_names",
]

if TYPE_CHECKING:
    from flyte_ls.analysis.lints import LintContext

log = logging.getLogger(__name__)

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

# Canonical flytekit names (see flyte_ls.analysis.dialect).
TASK = "flytekit.task"
DYNAMIC = "flytekit.dynamic"
EAGER = "flytekit.eager"
WORKFLOW = "flytekit.workflow"
REFERENCE_TASK = "flytekit.reference_task"
REFERENCE_WORKFLOW = "flytekit.reference_workflow"
CONDITIONAL = "flytekit.conditional"
CACHE = "flytekit.Cache"

ENTITY_DECORATORS = {
    TASK: EntityKind.TASK,
    DYNAMIC: EntityKind.DYNAMIC,
    EAGER: EntityKind.EAGER,
    WORKFLOW: EntityKind.WORKFLOW,
    REFERENCE_TASK: EntityKind.REFERENCE_TASK,
    REFERENCE_WORKFLOW: EntityKind.REFERENCE_WORKFLOW,
}


@dataclass
class Decorated:
    """A function with a flytekit entity decorator."""

    node: FunctionNode
    qualified: str  # canonical decorator name, e.g. flytekit.task
    kind: EntityKind
    call: ast.Call | None  # the decorator call when written with arguments


@dataclass
class LintModule:
    ctx: LintContext
    _own: dict[int, list[ast.AST]] = field(default_factory=dict)

    # -- positions and findings ------------------------------------------------------------------------------
    @cached_property
    def _lines(self) -> tuple[LineTable, int]:
        text, bom = normalize_source(self.ctx.source)
        return LineTable(split_lines(text)), bom

    @property
    def lines(self) -> LineTable:
        return self._lines[0]

    def range_of(self, node: ast.AST, end_node: ast.AST | None = None) -> Range:
        lines, bom = self._lines
        sl, sc = lines.start(node)
        el, ec = lines.end(end_node or node)
        if bom:
            sc += 1 if sl == 0 else 0
            ec += 1 if el == 0 else 0
        return Range.of(sl, sc, el, ec)

    def name_range(self, fn: FunctionNode | ast.ClassDef) -> Range:
        """From the start of ``def`` to the end of the function's name (a definition's "header")."""
        start = self.range_of(fn).start
        line = self.lines.lines[start.line] if start.line < len(self.lines.lines) else ""
        at = line.find(fn.name, start.character)
        end = at + len(fn.name) if at >= 0 else len(line)
        return Range(start, Position(start.line, end))

    def text(self, node: ast.AST | None) -> str:
        return self.lines.text(node) or ""

    def finding(
        self,
        code: str,
        node: ast.AST,
        message: str,
        *,
        severity: Severity | None = None,
        entity: str | None = None,
        end_node: ast.AST | None = None,
    ) -> Finding:
        """A finding on ``node`` (through ``end_node``); on a def or class, on its header only."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and end_node is None:
            where = self.name_range(node)
        else:
            where = self.range_of(node, end_node)
        return Finding(
            code=code,
            message=message,
            severity=severity or default_severity(code),
            range=where,
            entity=entity,
        )

    # -- module facts ----------------------------------------------------------------------------------------
    @property
    def analysis(self) -> ModuleAnalysis:
        return self.ctx.analysis

    @property
    def module(self) -> str:
        return self.ctx.analysis.module

    def qualified(self, node: ast.expr) -> str | None:
        try:
            return self.ctx.imports.qualified_name(node)
        except Exception:  # the import table is another module's code: never let it break a rule
            log.debug("qualified_name failed", exc_info=True)
            return None

    @cached_property
    def module_binding_counts(self) -> dict[str, int]:
        """How often each name is bound by module-level statements (imports, defs, classes, assignments)."""
        counts: dict[str, int] = {}
        for stmt in self.ctx.tree.body:
            for name in bound_names([stmt]):
                counts[name] = counts.get(name, 0) + 1
        return counts

    def is_builtin(self, node: ast.expr, local_names: Container[str]) -> str | None:
        """The builtin a bare name refers to (not rebound by the module or the function), else None."""
        if (
            isinstance(node, ast.Name)
            and node.id not in local_names
            and node.id not in self.module_binding_counts
        ):
            return node.id
        return None

    @cached_property
    def top_functions(self) -> dict[str, FunctionNode]:
        return {
            s.name: s for s in self.ctx.tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
        }

    @cached_property
    def local_classes(self) -> frozenset[str]:
        """Module-level classes that are not NamedTuples (dataclasses, enums...): one value each."""
        names: set[str] = set()
        for stmt in self.ctx.tree.body:
            if isinstance(stmt, ast.ClassDef) and stmt.name not in self.namedtuples:
                names.add(stmt.name)
        return frozenset(names)

    @cached_property
    def namedtuples(self) -> dict[str, int]:
        """Module-level NamedTuple classes / calls → number of fields."""
        out: dict[str, int] = {}
        for stmt in self.ctx.tree.body:
            if isinstance(stmt, ast.ClassDef) and any(
                (self.qualified(b) or "").endswith("NamedTuple") for b in stmt.bases
            ):
                out[stmt.name] = sum(
                    1 for s in stmt.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                )
            elif (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Call)
                and (self.qualified(stmt.value.func) or "").endswith("NamedTuple")
            ):
                call = stmt.value
                n = len(call.keywords)
                if len(call.args) >= 2 and isinstance(call.args[1], (ast.List, ast.Tuple)):
                    n += len(call.args[1].elts)
                out[stmt.targets[0].id] = n
        return out

    @cached_property
    def dataclasses(self) -> frozenset[str]:
        """Module-level classes decorated with ``@dataclass`` (bound once)."""
        out = set()
        for stmt in self.ctx.tree.body:
            if not isinstance(stmt, ast.ClassDef) or self.module_binding_counts.get(stmt.name) != 1:
                continue
            for dec in stmt.decorator_list:
                func = dec.func if isinstance(dec, ast.Call) else dec
                if self.qualified_or_none(func) == "dataclasses.dataclass":
                    out.add(stmt.name)
        return frozenset(out)

    @cached_property
    def module_aliases(self) -> set[str]:
        """Names the module binds by plain assignment (``MaybeInt = Optional[int]`` may be a type alias)."""
        out: set[str] = set()
        for stmt in self.ctx.tree.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for t in targets:
                    out.update(target_names(t))
        return out

    @cached_property
    def module_containers(self) -> set[str]:
        """Module-level names bound once to a list / tuple / dict literal."""
        out: set[str] = set()
        for stmt in self.ctx.tree.body:
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, (ast.List, ast.Tuple, ast.Dict))
                and self.module_binding_counts.get(stmt.targets[0].id) == 1
            ):
                out.add(stmt.targets[0].id)
        return out

    @cached_property
    def scopes(self) -> ScopeIndex:
        return index_scopes(self.ctx.tree)

    @cached_property
    def scoped_calls(self) -> list[tuple[ast.Call, Container[str]]]:
        """Every call in the module with (a lookup of) the names its enclosing function scopes bind."""
        return list(self.scopes.calls)

    def function_source(self, fn: FunctionNode) -> str:
        """Source lines of a function, from its first decorator to its last line (as inspect would give)."""
        first = min([fn.lineno, *(dec.lineno for dec in fn.decorator_list)])
        return "\n".join(self.lines.lines[first - 1 : (fn.end_lineno or fn.lineno)])

    def own_nodes(self, fn: FunctionNode) -> list[ast.AST]:
        """Nodes of a function's own body (not inside nested functions, lambdas or classes); cached."""
        cached = self._own.get(id(fn))
        if cached is None:
            cached = []
            stack: list[ast.AST] = list(fn.body)
            while stack:
                node = stack.pop()
                cached.append(node)
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                    stack.extend(ast.iter_child_nodes(node))
            self._own[id(fn)] = cached
        return cached

    # -- entity decorators -----------------------------------------------------------------------------------
    def decorated(self, fn: FunctionNode) -> Decorated | None:
        for dec in fn.decorator_list:
            func = dec.func if isinstance(dec, ast.Call) else dec
            qualified = self.qualified(func) if isinstance(func, (ast.Name, ast.Attribute)) else None
            if qualified in ENTITY_DECORATORS:
                return Decorated(
                    fn, qualified, ENTITY_DECORATORS[qualified], dec if isinstance(dec, ast.Call) else None
                )
        return None

    @cached_property
    def compiled_bodies(self) -> frozenset[int]:
        """ids of the @workflow / @dynamic functions, anywhere: flytekit compiles their bodies."""
        kinds = (EntityKind.WORKFLOW, EntityKind.DYNAMIC)
        nested = (self.decorated(fn) for fn, _ in self.scopes.nested)
        found = [*self.decorated_functions, *(d for d in nested if d is not None)]
        return frozenset(id(d.node) for d in found if d.kind in kinds)

    @cached_property
    def decorated_functions(self) -> list[Decorated]:
        """Module-level functions with a flytekit entity decorator, in source order."""
        out = []
        for stmt in self.ctx.tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                d = self.decorated(stmt)
                if d is not None:
                    out.append(d)
        return out

    # -- signatures ------------------------------------------------------------------------------------------
    @cached_property
    def callees(self) -> Callees:
        return Callees(self)

    def callee(self, func: ast.expr, local_names: Container[str]) -> Signature | None:
        """The signature of the entity ``func`` refers to, when it is certain; None otherwise."""
        return self.callees.callee(func, local_names)

    def params_of(self, fn: FunctionNode) -> list[Param]:
        return self.callees.params_of(fn)

    @staticmethod
    def value_call(node: ast.AST | None) -> ast.Call | None:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            return node.value
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            return node.value
        return node if isinstance(node, ast.Call) else None

    def qualified_or_none(self, node: ast.expr) -> str | None:
        return self.qualified(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
