"""CreateExecution's inputs: the request's literals checked against a launch plan and merged with its
defaults and fixed inputs (flyteadmin's ``CheckAndFetchInputsForExecution``), and Admin's execution names."""

from __future__ import annotations

import base64
import random
import re
import time
from collections.abc import Iterable

from flyteidl.core import interface_pb2, literals_pb2, types_pb2

from flyte_ls.local.compiler_types import castable, scalar_type, type_name
from flyte_ls.local.errors import InvalidArgument

NAME_RE = re.compile(r"^[a-z][a-z\-0-9]*$")
NAME_MAX = 63
# Admin draws generated names from the Kubernetes "safe" alphabet: no vowels, no 0/1/3.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_rng = random.Random(time.time_ns())


def generate_name() -> str:
    """``"a"`` + 19 random characters (20 in all), like Admin's generated execution names."""
    return "a" + "".join(_rng.choice(_ALPHABET) for _ in range(19))


def validate_name(name: str) -> None:
    if len(name) > NAME_MAX:
        raise InvalidArgument(f"execution name [{name}] is longer than {NAME_MAX} characters")
    if not NAME_RE.match(name):
        raise InvalidArgument(
            f"invalid execution name [{name}]: use lowercase letters, digits and '-', starting with a letter"
        )


def merge_execution_inputs(
    lp_name: str,
    expected: interface_pb2.ParameterMap,
    fixed: literals_pb2.LiteralMap,
    given: literals_pb2.LiteralMap,
) -> literals_pb2.LiteralMap:
    """The inputs an execution runs with: ``given`` + defaults of missing optional inputs + fixed inputs."""
    for name in sorted(given.literals):
        if name in expected.parameters:
            check_type(name, given.literals[name], expected.parameters[name].var.type)
        if name in fixed.literals:
            raise InvalidArgument(
                f"invalid input {name}: it is a fixed input of launch plan [{lp_name}], "
                "it cannot be overridden"
            )
        if name not in expected.parameters:
            known = ", ".join(sorted(expected.parameters)) or "none"
            raise InvalidArgument(f"invalid input {name} for launch plan [{lp_name}] (its inputs: {known})")
    merged = literals_pb2.LiteralMap()
    missing = []
    for name, param in sorted(expected.parameters.items()):
        if name in given.literals:
            merged.literals[name].CopyFrom(given.literals[name])
        elif param.HasField("default"):
            merged.literals[name].CopyFrom(param.default)
        else:
            missing.append(name)
    if missing:
        raise InvalidArgument(
            f"expected_inputs {', '.join(missing)} missing: launch plan [{lp_name}] requires "
            f"{'them' if len(missing) > 1 else 'it'} (no default)"
        )
    for name, literal in fixed.literals.items():
        merged.literals[name].CopyFrom(literal)
    return merged


def literal_type(literal: literals_pb2.Literal) -> types_pb2.LiteralType | None:
    """The type a literal carries, inferred as Admin does (propeller's ``LiteralTypeForLiteral``); None for a
    literal without a value or with a kind of value that has no type (e.g. a blob without metadata).

    A collection's (or map's) type is its items' common type: one type when they agree, a union of the
    distinct types when they do not, ``NONE`` when it is empty (an empty collection casts to any collection).
    A union literal has the one-variant union of the variant it says it holds."""
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        return scalar_type(literal.scalar)
    if kind == "collection":
        item = _common_type(literal.collection.literals)
        return None if item is None else types_pb2.LiteralType(collection_type=item)
    if kind == "map":
        value = _common_type(literal.map.literals.values())
        return None if value is None else types_pb2.LiteralType(map_value_type=value)
    if kind == "offloaded_metadata":
        inferred = literal.offloaded_metadata.inferred_type
        return inferred if inferred.WhichOneof("type") else None
    return None


def _common_type(items: Iterable[literals_pb2.Literal]) -> types_pb2.LiteralType | None:
    distinct: dict[bytes, types_pb2.LiteralType] = {}
    empty: types_pb2.LiteralType | None = None
    for item in items:
        t = literal_type(item)
        if t is None:
            return None
        if item.WhichOneof("value") == "collection" and not item.collection.literals:
            empty = t  # an empty nested collection only counts when nothing else says more
            continue
        distinct.setdefault(t.SerializeToString(deterministic=True), t)
    if not distinct:
        return empty or types_pb2.LiteralType(simple=types_pb2.NONE)
    if len(distinct) == 1:
        return next(iter(distinct.values()))
    variants: list[types_pb2.LiteralType] = []
    nested = False
    for _, t in sorted(distinct.items()):
        if t.collection_type.WhichOneof("type") == "union_type":  # collections of unions: merge the variants
            nested = True
            variants.extend(t.collection_type.union_type.variants)
        else:
            variants.append(t)
    union = types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=variants))
    return types_pb2.LiteralType(collection_type=union) if nested else union


def _name(t: types_pb2.LiteralType | None) -> str:
    """A readable type name; a union literal's one-variant union is named by its variant."""
    if t is not None and t.WhichOneof("type") == "union_type" and len(t.union_type.variants) == 1:
        return type_name(t.union_type.variants[0])
    return type_name(t)


def _where(literal: literals_pb2.Literal, expected: types_pb2.LiteralType) -> str | None:
    """Which item of a collection or map does not fit, e.g. ``item 2: expected FLOAT, got STRING``."""
    kind = expected.WhichOneof("type")
    if kind == "collection_type":
        if literal.WhichOneof("value") != "collection":
            return "expected a collection"
        items: list[tuple[str, literals_pb2.Literal]] = [
            (f"item {i}", item) for i, item in enumerate(literal.collection.literals)
        ]
        inner = expected.collection_type
    elif kind == "map_value_type":
        if literal.WhichOneof("value") != "map":
            return "expected a map"
        items = [(f"key {k!r}", v) for k, v in sorted(literal.map.literals.items())]
        inner = expected.map_value_type
    else:
        return None
    for label, item in items:
        got = literal_type(item)
        if got is None or not castable(got, inner):
            why = _where(item, inner) or f"expected {type_name(inner)}, got {_name(got)}"
            return f"{label}: {why}"
    return None


def _bad_enum_value(literal: literals_pb2.Literal, expected: types_pb2.LiteralType) -> str | None:
    """A string that is not one of its enum type's values (Admin lets it through; the task would fail)."""
    kind = expected.WhichOneof("type")
    if kind == "enum_type":
        prim = literal.scalar.primitive
        if prim.WhichOneof("value") == "string_value" and expected.enum_type.values:
            if prim.string_value not in expected.enum_type.values:
                values = ", ".join(expected.enum_type.values)
                return f"{prim.string_value!r} is not one of its values ({values})"
        return None
    if kind == "collection_type":
        for i, item in enumerate(literal.collection.literals):
            why = _bad_enum_value(item, expected.collection_type)
            if why:
                return f"item {i}: {why}"
    if kind == "map_value_type":
        for key, item in sorted(literal.map.literals.items()):
            why = _bad_enum_value(item, expected.map_value_type)
            if why:
                return f"key {key!r}: {why}"
    if kind == "union_type" and literal.scalar.WhichOneof("value") == "union":
        variant = literal.scalar.union.type
        if variant.WhichOneof("type") == "enum_type":
            return _bad_enum_value(literal.scalar.union.value, variant)
    return None


def type_mismatch(literal: literals_pb2.Literal, lit_type: types_pb2.LiteralType) -> str | None:
    """Why ``literal`` cannot be a value of ``lit_type``, or None when it can.

    Admin's rule (``CheckAndFetchInputsForExecution``): the literal's inferred type (:func:`literal_type`)
    must cast to the declared type (the compiler's castability, :func:`compiler_types.castable`: simple
    types exactly, collections and maps by their items, unions by a variant, blobs and structured datasets
    by format, structs as structs, ``NONE`` only into an Optional; a plain value into a union must fit exactly
    one variant). The answer names both types, and for a
    collection or map the first item that does not fit. Beyond Admin, an enum value outside the enum's
    values is refused here rather than failing the task later."""
    if literal.WhichOneof("value") is None:
        return "the literal has no value"
    given = literal_type(literal)
    if given is None:
        return (
            f"Expected {type_name(lit_type)}, but the literal's type is unknown "
            f"(a {_describe(literal)} without the type information Flyte needs)"
        )
    if not castable(given, lit_type):
        where = _where(literal, lit_type)
        return f"Expected {type_name(lit_type)}, but got {_name(given)}" + (f" ({where})" if where else "")
    if lit_type.WhichOneof("type") == "union_type" and given.WhichOneof("type") != "union_type":
        fits = [v for v in lit_type.union_type.variants if castable(given, v)]
        if len(fits) > 1:  # Admin picks a variant only when exactly one fits
            return (
                f"Expected {type_name(lit_type)}, but got {_name(given)}, which fits more than one variant "
                f"({', '.join(type_name(v) for v in fits)}): send a union literal that names its variant"
            )
    bad = _bad_enum_value(literal, lit_type)
    if bad:
        return f"Expected {type_name(lit_type)}, but got {bad}"
    return None


def _describe(literal: literals_pb2.Literal) -> str:
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        return str(literal.scalar.WhichOneof("value") or "scalar")
    return str(kind)


def check_type(
    name: str, literal: literals_pb2.Literal, lit_type: types_pb2.LiteralType, what: str = ""
) -> None:
    """InvalidArgument naming the input, the expected and the given type when ``literal`` does not fit."""
    why = type_mismatch(literal, lit_type)
    if why:
        raise InvalidArgument(f"invalid {what + ' ' if what else ''}{name} input wrong type. {why}")


CHILD_NAME_MAX = 20
_FNV64_OFFSET = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3
# Base32 with propeller's alphabet (a-z then 1-6) instead of RFC 4648's (A-Z then 2-7).
_B32_TO_PROPELLER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "abcdefghijklmnopqrstuvwxyz123456")


def fnv1a_64(data: bytes) -> int:
    h = _FNV64_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def child_execution_name(parent: str, node_unique_id: str, attempt: int) -> str:
    """The name of a launch-plan node's child execution, as propeller derives it:
    ``<parent>-<node>-<attempt>`` when that fits in 20 characters, else ``"f"`` + unpadded base32 (a-z, 1-6)
    of its 64-bit FNV-1a hash."""
    joined = ""
    for i, part in enumerate((parent, node_unique_id, str(attempt))):
        joined += ("-" if i > 0 and joined else "") + part
    if len(joined) <= CHILD_NAME_MAX:
        return joined
    digest = fnv1a_64(joined.encode()).to_bytes(8, "big")
    return "f" + base64.b32encode(digest).decode().rstrip("=").translate(_B32_TO_PROPELLER)
