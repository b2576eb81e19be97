"""CreateExecution's inputs: the request's literals checked against a launch plan and merged with its
defaults and fixed inputs (flyteadmin's ``CheckAndFetchInputsForExecution``), and Admin's execution names."""

from __future__ import annotations

import base64
import random
import re
import time

from flyteidl.core import interface_pb2, literals_pb2, types_pb2

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


_PRIMITIVE_OF_SIMPLE = {
    types_pb2.INTEGER: "integer",
    types_pb2.FLOAT: "float_value",
    types_pb2.STRING: "string_value",
    types_pb2.BOOLEAN: "boolean",
    types_pb2.DATETIME: "datetime",
    types_pb2.DURATION: "duration",
}


def _literal_kind(literal: literals_pb2.Literal) -> str:
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        scalar = literal.scalar.WhichOneof("value")
        if scalar == "primitive":
            return f"primitive {literal.scalar.primitive.WhichOneof('value')}"
        return str(scalar)
    return str(kind)


def _mismatch(literal: literals_pb2.Literal, lit_type: types_pb2.LiteralType) -> str | None:
    """Why ``literal`` cannot be a value of ``lit_type`` (a lenient castability check), or None."""
    kind = lit_type.WhichOneof("type")
    if literal.WhichOneof("value") == "offloaded_metadata" or kind in (None, "union_type"):
        return None
    if kind == "simple":
        field = _PRIMITIVE_OF_SIMPLE.get(lit_type.simple)
        if field is None:
            return None  # NONE, BINARY, STRUCT, ERROR: represented in several ways
        if literal.scalar.primitive.WhichOneof("value") != field:
            return f"expected {types_pb2.SimpleType.Name(lit_type.simple)}, got {_literal_kind(literal)}"
        return None
    if kind == "collection_type":
        if literal.WhichOneof("value") != "collection":
            return f"expected a collection, got {_literal_kind(literal)}"
        for i, item in enumerate(literal.collection.literals):
            why = _mismatch(item, lit_type.collection_type)
            if why:
                return f"item {i}: {why}"
        return None
    if kind == "map_value_type":
        if literal.WhichOneof("value") != "map":
            return f"expected a map, got {_literal_kind(literal)}"
        for key, item in sorted(literal.map.literals.items()):
            why = _mismatch(item, lit_type.map_value_type)
            if why:
                return f"key {key!r}: {why}"
        return None
    if kind == "enum_type":
        value = literal.scalar.primitive.string_value
        if literal.scalar.primitive.WhichOneof("value") != "string_value":
            return f"expected an enum value, got {_literal_kind(literal)}"
        if lit_type.enum_type.values and value not in lit_type.enum_type.values:
            return f"{value!r} is not one of {', '.join(lit_type.enum_type.values)}"
        return None
    if kind == "blob" and literal.scalar.WhichOneof("value") != "blob":
        return f"expected a file or directory, got {_literal_kind(literal)}"
    return None


def type_mismatch(literal: literals_pb2.Literal, lit_type: types_pb2.LiteralType) -> str | None:
    """Why ``literal`` cannot be a value of ``lit_type`` (a lenient check of the kind of value), or None."""
    return _mismatch(literal, lit_type)


def check_type(name: str, literal: literals_pb2.Literal, lit_type: types_pb2.LiteralType) -> None:
    why = _mismatch(literal, lit_type)
    if why:
        raise InvalidArgument(f"invalid {name} input wrong type: {why}")


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
