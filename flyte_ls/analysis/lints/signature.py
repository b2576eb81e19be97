"""Signatures of callable entities as the rules see them: inputs, the shape of the result, and helpers to read
call arguments."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from flyte_ls.analysis.lints import types as ty
from flyte_ls.analysis.model import EntityKind


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
