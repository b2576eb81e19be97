"""Readable names for Flyte `LiteralType`s and the conversion error that uses them.

`type_string` renders a LiteralType the way a flytekit user wrote it (`List[int]`, `Optional[str]`,
`Dict[str, float]`, `FlyteFile[csv]`), so error messages and hovers speak the user's language.
`type_info` describes a LiteralType as plain JSON (``{"kind": "list", "item": {"kind": "int"}}``), so an
editor can build a typed prompt without parsing `type_string`'s text. `follow_types` walks a value along its
LiteralType (dataclass fields, collections, maps), for the number fix-ups both directions need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flyteidl.core import types_pb2

from flyte_ls.remote.errors import FlyteInvalidInputException

SIMPLE_NAMES = {
    types_pb2.NONE: "None",
    types_pb2.INTEGER: "int",
    types_pb2.FLOAT: "float",
    types_pb2.STRING: "str",
    types_pb2.BOOLEAN: "bool",
    types_pb2.DATETIME: "datetime",
    types_pb2.DURATION: "timedelta",
    types_pb2.BINARY: "bytes",
    types_pb2.ERROR: "error",
    types_pb2.STRUCT: "dict",
}


class LiteralConversionError(FlyteInvalidInputException, ValueError):
    """A value does not fit the declared type of an input (or a literal cannot be read back).

    A :class:`~flyte_ls.remote.errors.FlyteInvalidInputException` (so one ``except`` catches every rejected
    input, the client's or Admin's) and a ``ValueError`` (as a bad argument is in Python).

    `input_name` is the input (with a path into collections/maps such as `xs[2]` or `m['k']`), `expected` the
    readable type it should have had and `given` a short description of what was passed.
    """

    def __init__(self, input_name: str, expected: str, given: str, reason: str = "") -> None:
        self.input_name = input_name
        self.expected = expected
        self.given = given
        self.reason = reason
        message = f"input {input_name!r}: expected {expected}, got {given}"
        if reason:
            message += f" — {reason}"
        super().__init__(message)
        self.args = (message,)


def describe(value: Any, limit: int = 60) -> str:
    """A short description of a given value: its repr (cut to `limit` characters) and its Python type."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"


def is_msgpack_struct(lt: types_pb2.LiteralType) -> bool:
    """True when flytekit ≥ 1.14 declared this STRUCT as msgpack binary (dataclasses, pydantic models, dict).

    flytekit marks such types with the annotation `cache-key-metadata.serialization-format = "msgpack"`; types
    registered by older flytekit lack it and expect a generic (protobuf Struct) literal.
    """
    if not lt.HasField("annotation"):
        return False
    fields = lt.annotation.annotations.fields
    if "cache-key-metadata" not in fields:
        return False
    meta = fields["cache-key-metadata"]
    if meta.WhichOneof("kind") != "struct_value":
        return False
    fmt = meta.struct_value.fields.get("serialization-format")
    return fmt is not None and fmt.string_value == "msgpack"


def struct_title(lt: types_pb2.LiteralType) -> str:
    """The class name of a dataclass/pydantic STRUCT (from its JSON schema `title`), or "" if unknown."""
    if lt.HasField("metadata"):
        title = lt.metadata.fields.get("title")
        if title is not None and title.WhichOneof("kind") == "string_value":
            return title.string_value
    return ""


def type_string(lt: types_pb2.LiteralType) -> str:
    """Render a LiteralType as the Python type a flytekit user would have written."""
    kind = lt.WhichOneof("type")
    if kind == "simple":
        if lt.simple == types_pb2.STRUCT:
            return struct_title(lt) or "dict"
        return SIMPLE_NAMES.get(lt.simple, "unknown")
    if kind == "collection_type":
        return f"List[{type_string(lt.collection_type)}]"
    if kind == "map_value_type":
        return f"Dict[str, {type_string(lt.map_value_type)}]"
    if kind == "enum_type":
        return "Enum[" + ", ".join(repr(v) for v in lt.enum_type.values) + "]"
    if kind == "union_type":
        variants = list(lt.union_type.variants)
        others = [v for v in variants if not _is_none(v)]
        if len(others) == 1 and len(variants) == 2:
            return f"Optional[{type_string(others[0])}]"
        return "Union[" + ", ".join(type_string(v) for v in variants) + "]"
    if kind == "blob":
        name = "FlyteDirectory" if lt.blob.dimensionality == types_pb2.BlobType.MULTIPART else "FlyteFile"
        return f"{name}[{lt.blob.format}]" if lt.blob.format else name
    if kind == "structured_dataset_type":
        fmt = lt.structured_dataset_type.format
        return f"StructuredDataset[{fmt}]" if fmt else "StructuredDataset"
    if kind == "schema":
        return "FlyteSchema"
    return "unknown"


TYPE_INFO_KINDS = {
    types_pb2.NONE: "none",
    types_pb2.INTEGER: "int",
    types_pb2.FLOAT: "float",
    types_pb2.STRING: "str",
    types_pb2.BOOLEAN: "bool",
    types_pb2.DATETIME: "datetime",
    types_pb2.DURATION: "duration",
    types_pb2.BINARY: "binary",
    types_pb2.STRUCT: "struct",
}


def type_info(lt: types_pb2.LiteralType) -> dict[str, Any]:
    """A LiteralType as JSON for clients: ``{"kind": ...}`` plus what a prompt needs.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``str``, ``datetime``, ``duration``, ``enum``
    (``choices``), ``list`` (``item``), ``dict`` (``value``: the values' type; keys are strings), ``struct``
    (``title`` of a dataclass or pydantic model, ``jsonSchema`` when the type carries one), ``file`` and
    ``directory`` (``format`` when declared), ``structuredDataset`` (``format``), ``schema``, ``union``
    (``variants``; ``Optional[T]`` is a union with a ``none`` variant), ``none``, ``binary`` or ``unknown``.
    """
    kind = lt.WhichOneof("type")
    if kind == "simple":
        info: dict[str, Any] = {"kind": TYPE_INFO_KINDS.get(lt.simple, "unknown")}
        if lt.simple == types_pb2.STRUCT:
            title = struct_title(lt)
            if title:
                info["title"] = title
            if lt.HasField("metadata") and lt.metadata.fields:
                from google.protobuf import json_format  # deferred: importing the client stays lean

                info["jsonSchema"] = json_format.MessageToDict(lt.metadata)
        return info
    if kind == "collection_type":
        return {"kind": "list", "item": type_info(lt.collection_type)}
    if kind == "map_value_type":
        return {"kind": "dict", "value": type_info(lt.map_value_type)}
    if kind == "enum_type":
        return {"kind": "enum", "choices": list(lt.enum_type.values)}
    if kind == "union_type":
        return {"kind": "union", "variants": [type_info(v) for v in lt.union_type.variants]}
    if kind == "blob":
        multipart = lt.blob.dimensionality == types_pb2.BlobType.MULTIPART
        info = {"kind": "directory" if multipart else "file"}
        if lt.blob.format:
            info["format"] = lt.blob.format
        return info
    if kind == "structured_dataset_type":
        info = {"kind": "structuredDataset"}
        if lt.structured_dataset_type.format:
            info["format"] = lt.structured_dataset_type.format
        return info
    if kind == "schema":
        return {"kind": "schema"}
    return {"kind": "unknown"}


def _is_none(lt: types_pb2.LiteralType) -> bool:
    return lt.WhichOneof("type") == "simple" and lt.simple == types_pb2.NONE


def follow_types(value: Any, lt: types_pb2.LiteralType, leaf: Callable[[Any, int], Any]) -> Any:
    """``value`` with ``leaf(v, simple)`` applied to every part ``v`` whose declared type is a simple type
    other than STRUCT; the walk follows a dataclass's field types (``structure.dataclass_type``; fields it
    does not declare are kept as they are), collections and maps. Everything else is returned unchanged."""
    kind = lt.WhichOneof("type")
    if kind == "simple":
        if lt.simple != types_pb2.STRUCT:
            return leaf(value, lt.simple)
        if isinstance(value, dict):
            fields = lt.structure.dataclass_type
            return {k: follow_types(v, fields[k], leaf) if k in fields else v for k, v in value.items()}
    elif kind == "collection_type" and isinstance(value, list):
        return [follow_types(v, lt.collection_type, leaf) for v in value]
    elif kind == "map_value_type" and isinstance(value, dict):
        return {k: follow_types(v, lt.map_value_type, leaf) for k, v in value.items()}
    return value
