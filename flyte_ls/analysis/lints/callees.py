"""Which entity a call refers to, and its signature: same-module entities, imported ones (through the lookup),
map tasks and launch plans."""

from __future__ import annotations

import ast
import logging
from collections.abc import Container
from typing import TYPE_CHECKING

from flyte_ls.analysis.lints import types as ty
from flyte_ls.analysis.lints.signature import (
    SINGLE,
    UNKNOWN,
    VOID,
    Param,
    Shape,
    Signature,
    call_keyword,
    is_none,
    literal_dict_keys,
    shape_of,
)
from flyte_ls.analysis.model import Entity, EntityKind

if TYPE_CHECKING:
    from flyte_ls.analysis.lints.base import FunctionNode, LintModule

# Canonical flytekit names of the factories that make callable entities.
MAP_TASKS = frozenset({"flytekit.map_task", "flytekit.core.array_node_map_task.array_node_map_task"})
LP_GET_OR_CREATE = "flytekit.LaunchPlan.get_or_create"
LP_CREATE = "flytekit.LaunchPlan.create"
PARTIAL = "functools.partial"
DEF_KINDS = frozenset({EntityKind.TASK, EntityKind.DYNAMIC, EntityKind.EAGER, EntityKind.WORKFLOW})

log = logging.getLogger(__name__)


class Callees:
    """Signature resolution for one module (owned by its :class:`LintModule`)."""

    def __init__(self, m: LintModule) -> None:
        self.m = m

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
                    type=self.m.text(ann) if ann is not None else None,
                    default=self.m.text(default) if default is not None else None,
                    positional_only=posonly,
                    optional_alias=isinstance(ann, ast.Name) and ann.id in self.m.module_aliases,
                )
            )
        return out

    def return_outputs(self, fn: FunctionNode) -> Shape:
        ann = fn.returns
        if ann is None or is_none(ann):
            return VOID
        arity = ty.tuple_arity(ann, self.m.namedtuples)
        if isinstance(ann, ast.Name) and ann.id in self.m.namedtuples:
            return Shape("multi", tuple(f"o{i}" for i in range(self.m.namedtuples[ann.id])))
        if arity is not None and arity > 1:
            return Shape("multi", tuple(f"o{i}" for i in range(arity)))
        return SINGLE if ty.is_single_value(self.m.text(ann), self.m.local_classes) else UNKNOWN

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
            if self.m.module_binding_counts.get(name) == 1:
                local = self.local_entity_signature(name, local_names)
                if local is not None:
                    return local
            target = self.m.ctx.imports.imported_names().get(name)
            if target is not None and self.m.module_binding_counts.get(name) == 1:
                return self.imported_signature(target, name)
            return None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            base = func.value.id
            if base in local_names or self.m.module_binding_counts.get(base) != 1:
                return None
            module = self.m.ctx.imports.module_aliases().get(base)
            if module is not None:
                return self.imported_signature(f"{module}.{func.attr}", self.m.text(func))
        return None

    def local_entity_signature(self, name: str, local_names: Container[str]) -> Signature | None:
        entity = self.m.analysis.entity(name)
        if entity is None:
            return None
        node = self.m.ctx.entity_nodes.get(name)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            d = self.m.decorated(node)
            if d is None or d.kind not in (
                *DEF_KINDS,
                EntityKind.REFERENCE_TASK,
                EntityKind.REFERENCE_WORKFLOW,
            ):
                return None
            sig = self.function_signature(node, d.kind, name)
            sig.defaults_ignored = d.kind in (EntityKind.REFERENCE_TASK, EntityKind.REFERENCE_WORKFLOW)
            return sig
        call = self.m.value_call(node)
        if call is None:
            return None
        qualified = self.m.qualified(call.func) if isinstance(call.func, (ast.Name, ast.Attribute)) else None
        if qualified in MAP_TASKS:
            return self.map_task_signature(call, set(), display=name)
        if qualified in (LP_GET_OR_CREATE, LP_CREATE):
            return self.launch_plan_signature(call, qualified, name)
        return None

    def imported_signature(self, target: str, display: str) -> Signature | None:
        lookup = self.m.ctx.lookup
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
        if (
            not isinstance(call.func, (ast.Name, ast.Attribute))
            or self.m.qualified(call.func) not in MAP_TASKS
        ):
            return None
        target = call_keyword(call, "target", 0)
        bound: set[str] = set()
        if isinstance(target, ast.Call) and self.m.qualified_or_none(target.func) == PARTIAL:
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
            display or f"map_task({self.m.text(target)})", EntityKind.MAP_TASK, params, outputs, mapped=True
        )

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
