"""Typed interfaces from source: function signatures, return annotations, ``kwtypes(...)`` / dict literals."""

from __future__ import annotations

import ast

from flyte_ls.analysis.imports import ImportTable
from flyte_ls.analysis.model import Input, Output
from flyte_ls.analysis.positions import LineTable

_TUPLES = frozenset({"typing.Tuple", "typing_extensions.Tuple", "tuple"})
NAMED_TUPLES = frozenset({"typing.NamedTuple", "typing_extensions.NamedTuple", "collections.namedtuple"})


def function_inputs(fn: ast.FunctionDef | ast.AsyncFunctionDef, lines: LineTable) -> list[Input]:
    """Inputs of a function: positional-only, regular and keyword-only parameters (no ``*args``/``**kw``)."""
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs: list[tuple[ast.arg, ast.expr | None]] = list(zip(positional, defaults, strict=True))
    pairs.extend(zip(args.kwonlyargs, args.kw_defaults, strict=True))
    out: list[Input] = []
    for arg, default in pairs:
        out.append(
            Input(
                name=arg.arg,
                type=lines.text(arg.annotation),
                default=lines.text(default),
                required=default is None,
            )
        )
    return out


def qualified_or_builtin(node: ast.expr, imports: ImportTable) -> str | None:
    """Qualified name of ``node``; a bare name that is not imported is returned as is (``tuple``...)."""
    qualified = imports.qualified_name(node)
    if qualified is None and isinstance(node, ast.Name):
        return node.id
    return qualified


def _tuple_elements(annotation: ast.expr, imports: ImportTable) -> list[ast.expr] | None:
    """Elements of ``Tuple[a, b]`` / ``tuple[a, b]`` / legacy ``(a, b)``; None when not a fixed-size tuple."""
    if isinstance(annotation, ast.Tuple):
        return list(annotation.elts)
    if isinstance(annotation, ast.Subscript) and qualified_or_builtin(annotation.value, imports) in _TUPLES:
        inner = annotation.slice
        elts = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        if any(isinstance(e, ast.Constant) and e.value is Ellipsis for e in elts):
            return None
        return elts
    return None


def namedtuple_fields(call: ast.Call, imports: ImportTable, lines: LineTable) -> list[Output] | None:
    """Fields of ``NamedTuple("X", [("a", int)])`` / ``NamedTuple("X", a=int)``; None when not such a call."""
    if qualified_or_builtin(call.func, imports) not in NAMED_TUPLES:
        return None
    fields: list[Output] = []
    if len(call.args) >= 2 and isinstance(call.args[1], (ast.List, ast.Tuple)):
        for elt in call.args[1].elts:
            if isinstance(elt, ast.Tuple) and len(elt.elts) == 2:
                key = elt.elts[0]
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    fields.append(Output(key.value, lines.text(elt.elts[1])))
            elif isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                fields.append(Output(elt.value, None))
    for kw in call.keywords:
        if kw.arg is not None:
            fields.append(Output(kw.arg, lines.text(kw.value)))
    return fields


def namedtuple_class_fields(cls: ast.ClassDef, imports: ImportTable, lines: LineTable) -> list[Output] | None:
    """Fields of ``class X(NamedTuple): a: int``; None when the class is not a NamedTuple."""
    if not any(qualified_or_builtin(base, imports) in NAMED_TUPLES for base in cls.bases):
        return None
    return [
        Output(stmt.target.id, lines.text(stmt.annotation))
        for stmt in cls.body
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
    ]


def return_outputs(
    annotation: ast.expr | None, imports: ImportTable, lines: LineTable
) -> tuple[list[Output], str | None]:
    """Outputs of a return annotation, and the name to look up as a module NamedTuple (resolved later), if
    any.

    ``-> int`` → ``o0``; ``-> Tuple[int, str]`` → ``o0, o1``; ``-> None`` or no annotation → none;
    ``-> NamedTuple("X", a=int)`` → ``a``; ``-> MyNT`` → ``o0`` for now, with ``"MyNT"`` to resolve.
    """
    if annotation is None:
        return [], None
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return [], None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        # A string annotation: parse it and read the expression inside.
        try:
            inner = ast.parse(annotation.value, mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return [Output("o0", annotation.value)], None
        if isinstance(inner, ast.Name):
            return [Output("o0", annotation.value)], inner.id
        return [Output("o0", annotation.value)], None
    elts = _tuple_elements(annotation, imports)
    if elts is not None:
        return [Output(f"o{i}", lines.text(e)) for i, e in enumerate(elts)], None
    if isinstance(annotation, ast.Call):
        fields = namedtuple_fields(annotation, imports, lines)
        if fields is not None:
            return fields, None
    lookup = annotation.id if isinstance(annotation, ast.Name) else None
    return [Output("o0", lines.text(annotation))], lookup


def typed_mapping(
    node: ast.expr | None, imports: ImportTable, lines: LineTable
) -> list[tuple[str, str | None]]:
    """``kwtypes(a=int)`` / ``{"a": int}`` / ``dict(a=int)`` → ``[("a", "int")]``; anything else → []."""
    if node is None:
        return []
    if isinstance(node, ast.Dict):
        out: list[tuple[str, str | None]] = []
        for key, value in zip(node.keys, node.values, strict=False):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                out.append((key.value, lines.text(value)))
        return out
    if isinstance(node, ast.Call):
        name = qualified_or_builtin(node.func, imports)
        if name in ("flytekit.kwtypes", "dict"):
            return [(kw.arg, lines.text(kw.value)) for kw in node.keywords if kw.arg is not None]
    return []


def literal_keys(node: ast.expr | None, lines: LineTable) -> dict[str, str]:
    """``{"a": 1}`` / ``dict(a=1)`` → ``{"a": "1"}`` (string-literal keys, values as source text)."""
    if isinstance(node, ast.Dict):
        return {
            key.value: lines.text(value) or ""
            for key, value in zip(node.keys, node.values, strict=False)
            if isinstance(key, ast.Constant) and isinstance(key.value, str)
        }
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return {kw.arg: lines.text(kw.value) or "" for kw in node.keywords if kw.arg is not None}
    return {}


def string_value(node: ast.expr | None) -> str | None:
    """The value of a string literal, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
