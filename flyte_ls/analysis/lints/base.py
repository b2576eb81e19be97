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

from flyte_ls.analysis.lints import types as ty
from flyte_ls.analysis.lints.registry import default_severity
from flyte_ls.analysis.lints.scopes import ScopeIndex, bound_names, index_scopes, target_names
from flyte_ls.analysis.model import Entity, EntityKind, Finding, ModuleAnalysis, Position, Range, Severity
from flyte_ls.analysis.positions import LineTable, normalize_source, split_lines

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
MAP_TASKS = frozenset({"flytekit.map_task", "flytekit.core.array_node_map_task.array_node_map_task"})
LP_GET_OR_CREATE = "flytekit.LaunchPlan.get_or_create"
LP_CREATE = "flytekit.LaunchPlan.create"
CACHE = "flytekit.Cache"
PARTIAL = "functools.partial"

ENTITY_DECORATORS = {
    TASK: EntityKind.TASK,
    DYNAMIC: EntityKind.DYNAMIC,
    EAGER: EntityKind.EAGER,
    WORKFLOW: EntityKind.WORKFLOW,
    REFERENCE_TASK: EntityKind.REFERENCE_TASK,
    REFERENCE_WORKFLOW: EntityKind.REFERENCE_WORKFLOW,
}
# Kinds whose interface is exactly the decorated function's signature.
DEF_KINDS = frozenset({EntityKind.TASK, EntityKind.DYNAMIC, EntityKind.EAGER, EntityKind.WORKFLOW})


# -- signatures of callable entities -------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    name: str
    type: str | None  # annotation source text
    default: str | None  # default value source text
    positional_only: bool = False
    optional_alias: bool = False  # the annotation is a bare name the module assigns (maybe an Optional alias)

    @property
    def required(self) -> bool:
        """Whether flytekit insists on a value: no default and not Optional, or None default on a plain type.

        A parameter without an annotation is FL001's business, never "required" here.
        """
        if self.optional_alias or self.type is None:
            return False
        optional = ty.is_optional(self.type)
        if self.default is None:
            return optional is not True
        return self.default.strip() == "None" and optional is False


@dataclass(frozen=True)
class Shape:
    """What calling an entity gives back while a workflow is compiled."""

    kind: str  # "void" | "single" | "multi" | "unknown"
    names: tuple[str, ...] = ()


VOID = Shape("void")
SINGLE = Shape("single")
UNKNOWN = Shape("unknown")


@dataclass
class Signature:
    display: str  # how the callee is written, for messages
    kind: EntityKind
    params: list[Param]
    outputs: Shape
    is_async: bool = False
    mapped: bool = False  # a map task: inputs are lists of the task's input types
    defaults_ignored: bool = False  # a reference: flytekit ignores its defaults in a workflow
    complete: bool = True  # the parameter list is exactly what flytekit uses

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None


def shape_of(outputs: list[tuple[str, str | None]], local_classes: frozenset[str]) -> Shape:
    if not outputs:
        return VOID
    if len(outputs) > 1:
        return Shape("multi", tuple(name for name, _ in outputs))
    name, typ = outputs[0]
    if name != "o0":
        return Shape("multi", (name,))  # a one-field NamedTuple comes back as a tuple
    return SINGLE if ty.is_single_value(typ, local_classes) else UNKNOWN


def call_keyword(call: ast.Call, name: str, position: int | None = None) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if (
        position is not None
        and position < len(call.args)
        and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1])
    ):
        return call.args[position]
    return None


def is_none(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


# -- the module ----------------------------------------------------------------------------------------------
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

    def entity_of(self, fn: FunctionNode) -> Entity | None:
        for e in self.analysis.entities:
            if self.ctx.entity_nodes.get(e.name) is fn:
                return e
        return None

    # -- signatures ------------------------------------------------------------------------------------------
    def params_of(self, fn: FunctionNode) -> list[Param]:
        args = fn.args
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(
            args.defaults
        )
        out: list[Param] = []
        pairs = [
            (a, d, i < len(args.posonlyargs))
            for i, (a, d) in enumerate(zip(positional, defaults, strict=False))
        ]
        pairs += [(a, d, False) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=False)]
        for arg, default, posonly in pairs:
            ann = arg.annotation
            out.append(
                Param(
                    name=arg.arg,
                    type=self.text(ann) if ann is not None else None,
                    default=self.text(default) if default is not None else None,
                    positional_only=posonly,
                    optional_alias=isinstance(ann, ast.Name) and ann.id in self.module_aliases,
                )
            )
        return out

    def return_outputs(self, fn: FunctionNode) -> Shape:
        ann = fn.returns
        if ann is None or is_none(ann):
            return VOID
        arity = ty.tuple_arity(ann, self.namedtuples)
        if isinstance(ann, ast.Name) and ann.id in self.namedtuples:
            return Shape("multi", tuple(f"o{i}" for i in range(self.namedtuples[ann.id])))
        if arity is not None and arity > 1:
            return Shape("multi", tuple(f"o{i}" for i in range(arity)))
        return SINGLE if ty.is_single_value(self.text(ann), self.local_classes) else UNKNOWN

    def function_signature(self, fn: FunctionNode, kind: EntityKind, display: str) -> Signature:
        args = fn.args
        return Signature(
            display=display,
            kind=kind,
            params=self.params_of(fn),
            outputs=self.return_outputs(fn),
            is_async=isinstance(fn, ast.AsyncFunctionDef),
            complete=args.vararg is None and args.kwarg is None,
        )

    def entity_signature(self, entity: Entity, display: str, imported: bool) -> Signature | None:
        """Signature of an entity known only through the analysis (another module)."""
        if entity.kind not in DEF_KINDS:
            return None
        params = [Param(i.name, i.type, i.default) for i in entity.inputs]
        outputs = shape_of([(o.name, o.type) for o in entity.outputs], frozenset())
        return Signature(display, entity.kind, params, outputs, complete=imported)

    def callee(self, func: ast.expr, local_names: Container[str]) -> Signature | None:
        """The signature of the entity ``func`` refers to, when it is certain; None otherwise."""
        try:
            return self._callee(func, local_names)
        except (RecursionError, AttributeError, TypeError, ValueError, KeyError):
            log.debug("callee resolution failed", exc_info=True)
            return None

    def _callee(self, func: ast.expr, local_names: Container[str]) -> Signature | None:
        if isinstance(func, ast.Call):
            return self.map_task_signature(func, local_names)
        if isinstance(func, ast.Name):
            name = func.id
            if name in local_names:
                return None
            if self.module_binding_counts.get(name) == 1:
                local = self.local_entity_signature(name, local_names)
                if local is not None:
                    return local
            target = self.ctx.imports.imported_names().get(name)
            if target is not None and self.module_binding_counts.get(name) == 1:
                return self.imported_signature(target, name)
            return None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            base = func.value.id
            if base in local_names or self.module_binding_counts.get(base) != 1:
                return None
            module = self.ctx.imports.module_aliases().get(base)
            if module is not None:
                return self.imported_signature(f"{module}.{func.attr}", self.text(func))
        return None

    def local_entity_signature(self, name: str, local_names: Container[str]) -> Signature | None:
        entity = self.analysis.entity(name)
        if entity is None:
            return None
        node = self.ctx.entity_nodes.get(name)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            d = self.decorated(node)
            if d is None or d.kind not in (
                *DEF_KINDS,
                EntityKind.REFERENCE_TASK,
                EntityKind.REFERENCE_WORKFLOW,
            ):
                return None
            sig = self.function_signature(node, d.kind, name)
            sig.defaults_ignored = d.kind in (EntityKind.REFERENCE_TASK, EntityKind.REFERENCE_WORKFLOW)
            return sig
        call = self.value_call(node)
        if call is None:
            return None
        qualified = self.qualified(call.func) if isinstance(call.func, (ast.Name, ast.Attribute)) else None
        if qualified in MAP_TASKS:
            return self.map_task_signature(call, set(), display=name)
        if qualified in (LP_GET_OR_CREATE, LP_CREATE):
            return self.launch_plan_signature(call, qualified, name)
        return None

    @staticmethod
    def value_call(node: ast.AST | None) -> ast.Call | None:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            return node.value
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            return node.value
        return node if isinstance(node, ast.Call) else None

    def imported_signature(self, target: str, display: str) -> Signature | None:
        lookup = self.ctx.lookup
        if lookup is None or "." not in target:
            return None
        module, _, name = target.rpartition(".")
        try:
            other = lookup(module)
        except Exception:  # a lookup is provided by the caller: it must not break the lints
            log.debug("lookup(%r) failed", module, exc_info=True)
            return None
        if other is None:
            return None
        matches = [e for e in other.entities if e.name == name]
        if len(matches) != 1:
            return None
        return self.entity_signature(matches[0], display, imported=True)

    def map_task_signature(
        self, call: ast.Call, local_names: Container[str], display: str | None = None
    ) -> Signature | None:
        """``map_task(t)`` / ``map_task(partial(t, y=1))``: the task's unbound inputs, as lists."""
        if not isinstance(call.func, (ast.Name, ast.Attribute)) or self.qualified(call.func) not in MAP_TASKS:
            return None
        target = call_keyword(call, "target", 0)
        bound: set[str] = set()
        if isinstance(target, ast.Call) and self.qualified_or_none(target.func) == PARTIAL:
            if len(target.args) != 1 or any(kw.arg is None for kw in target.keywords):
                return None
            bound = {kw.arg for kw in target.keywords if kw.arg is not None}
            target = target.args[0]
        if target is None or isinstance(target, ast.Call):
            return None
        inner = self.callee(target, local_names)
        if inner is None or inner.kind != EntityKind.TASK or not inner.complete:
            return None
        params = [Param(p.name, p.type, p.default) for p in inner.params if p.name not in bound]
        outputs = SINGLE if inner.outputs == SINGLE else UNKNOWN
        return Signature(
            display or f"map_task({self.text(target)})", EntityKind.MAP_TASK, params, outputs, mapped=True
        )

    def qualified_or_none(self, node: ast.expr) -> str | None:
        return self.qualified(node) if isinstance(node, (ast.Name, ast.Attribute)) else None

    def launch_plan_signature(self, call: ast.Call, qualified: str, display: str) -> Signature | None:
        """A launch plan takes its workflow's inputs; default_inputs / fixed_inputs make inputs optional."""
        wf_pos, default_pos, fixed_pos = (0, 2, 3) if qualified == LP_GET_OR_CREATE else (1, 2, 3)
        workflow = call_keyword(call, "workflow", wf_pos)
        if workflow is None:
            return None
        wf = self.callee(workflow, set())
        if wf is None or wf.kind != EntityKind.WORKFLOW:
            return None
        optional: set[str] = set()
        for key, pos in (("default_inputs", default_pos), ("fixed_inputs", fixed_pos)):
            value = call_keyword(call, key, pos)
            if value is None or is_none(value):
                continue
            keys = literal_dict_keys(value)
            if keys is None:
                return None
            optional |= set(keys)
        params = [
            Param(
                p.name,
                p.type,
                p.default if p.name not in optional else "...",
                optional_alias=p.optional_alias,
            )
            for p in wf.params
        ]
        return Signature(display, EntityKind.LAUNCH_PLAN, params, wf.outputs, complete=wf.complete)


def literal_dict_keys(node: ast.expr) -> dict[str, ast.expr] | None:
    """``{"a": 1}`` / ``dict(a=1)`` → {"a": <1>}; None when the keys are not all string literals."""
    if isinstance(node, ast.Dict):
        out: dict[str, ast.expr] = {}
        for key, value in zip(node.keys, node.values, strict=False):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return None
            out[key.value] = value
        return out
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and not node.args
    ):
        if any(kw.arg is None for kw in node.keywords):
            return None
        return {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
    return None
