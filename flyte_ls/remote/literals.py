"""Plain Python/JSON values → `core.Literal` by the declared `LiteralType` (no flytekit, no TypeEngine).

The type always comes from the remote entity (`TypedInterface` inputs, a launch plan's `ParameterMap`, a
`Signal.type`), so the literal is built exactly as that type asks:

- primitives: `int` (not `bool`), `float` (an `int` is accepted: JSON has no separate float), `str`, `bool`,
  `datetime` (a `datetime`/`date` or an ISO 8601 string; naive means UTC), `timedelta` (one, or seconds);
- `None` for NONE; lists for collections; `dict`s with string keys for maps; enum values (strings or `Enum`s);
- unions/Optional: the variant is chosen as flytekit does: every variant that accepts the value; a bare
  string prefers `str`; two matches are ambiguous. JSON-only leniency (int → float, ISO string → datetime) is
  tried only when no variant accepts the value as it is. The literal carries the variant type with its tag;
- FlyteFile/FlyteDirectory: remote URIs pass through, local paths go through the `upload(path, is_dir) -> uri`
  callback; structured datasets by URI (or an uploaded local path);
- STRUCT: msgpack binary when the type carries flytekit's msgpack annotation (flytekit ≥ 1.14 dataclasses,
  pydantic models, `dict`), a generic protobuf Struct otherwise (older registrations). Dataclass instances and
  pydantic models are dumped to dicts first.

`to_python`/`to_json` (the other direction) live in literals_python.py and are re-exported here.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from flyteidl.core import interface_pb2, literals_pb2, types_pb2
from google.protobuf import struct_pb2

from flyte_ls.remote.literals_python import to_json, to_python, to_python_map
from flyte_ls.remote.literals_types import (
    LiteralConversionError,
    describe,
    follow_types,
    is_msgpack_struct,
    type_string,
)

__all__ = [
    "LiteralConversionError",
    "Upload",
    "literal_types",
    "to_json",
    "to_literal",
    "to_literal_map",
    "to_python",
    "to_python_map",
    "type_string",
]

Upload: TypeAlias = Callable[[str, bool], str]
"""Uploads a local file (`is_dir=False`) or directory (`is_dir=True`) and returns its remote URI."""

Variables: TypeAlias = (
    interface_pb2.VariableMap
    | interface_pb2.ParameterMap
    | Mapping[str, types_pb2.LiteralType | interface_pb2.Variable]
)

_INT64 = (-(2**63), 2**63 - 1)
_REMOTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


class _Mismatch(Exception):
    """Internal: the value does not fit; converted to LiteralConversionError with the full input path."""

    def __init__(self, path: str, lt: types_pb2.LiteralType, value: Any, reason: str = "") -> None:
        super().__init__(path)
        self.path, self.lt, self.value, self.reason = path, lt, value, reason


def literal_types(variables: Variables) -> dict[str, types_pb2.LiteralType]:
    """Input name → LiteralType, from a VariableMap, a ParameterMap or a mapping of Variables/LiteralTypes."""
    if isinstance(variables, interface_pb2.VariableMap):
        return {name: var.type for name, var in variables.variables.items()}
    if isinstance(variables, interface_pb2.ParameterMap):
        return {name: param.var.type for name, param in variables.parameters.items()}
    return {
        name: var.type if isinstance(var, interface_pb2.Variable) else var for name, var in variables.items()
    }


def to_literal(
    value: Any, literal_type: types_pb2.LiteralType, *, name: str = "value", upload: Upload | None = None
) -> literals_pb2.Literal:
    """Convert one value to a Literal of `literal_type`; a `core.Literal` passes through unchanged.

    Raises LiteralConversionError naming `name` (with the path inside collections), the expected type and the
    value given.
    """
    if isinstance(value, literals_pb2.Literal):
        return value
    try:
        return _Builder(upload).build(value, literal_type, name, lenient=True)
    except _Mismatch as err:
        raise _error(err, name, value, literal_type) from None


def to_literal_map(
    values: Mapping[str, Any], variables: Variables, *, upload: Upload | None = None
) -> literals_pb2.LiteralMap:
    """Convert execution/signal inputs by their declared types.

    Unknown names are an error; with a ParameterMap, required inputs without a value are too (inputs with a
    default are left out: Admin fills them from the launch plan).
    """
    types = literal_types(variables)
    unknown = sorted(set(values) - set(types))
    if unknown:
        known = ", ".join(sorted(types)) or "none"
        raise LiteralConversionError(
            unknown[0], "no such input", describe(values[unknown[0]]), f"the inputs are: {known}"
        )
    if isinstance(variables, interface_pb2.ParameterMap):
        missing = sorted(
            n
            for n, p in variables.parameters.items()
            if p.required and not p.HasField("default") and n not in values
        )
        if missing:
            raise LiteralConversionError(
                missing[0], type_string(types[missing[0]]), "no value", "this input is required"
            )
    result = literals_pb2.LiteralMap()
    for name, value in values.items():
        result.literals[name].CopyFrom(to_literal(value, types[name], name=name, upload=upload))
    return result


def _error(err: _Mismatch, name: str, value: Any, lt: types_pb2.LiteralType) -> LiteralConversionError:
    """The whole input's type and value; for a part of it (`xs[2]`), what went wrong there."""
    if err.path == name:
        return LiteralConversionError(name, type_string(lt), describe(value), err.reason)
    detail = f"{err.path} should be {type_string(err.lt)}, got {describe(err.value)}"
    if err.reason:
        detail += f" ({err.reason})"
    return LiteralConversionError(name, type_string(lt), describe(value), detail)


def _scalar(**kwargs: Any) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(**kwargs))


def _primitive(**kwargs: Any) -> literals_pb2.Literal:
    return _scalar(primitive=literals_pb2.Primitive(**kwargs))


class _Builder:
    """Builds literals; a `trial` builder (trying the variants of a union) checks local paths but uploads
    nothing, so only the chosen variant uploads."""

    def __init__(self, upload: Upload | None, *, trial: bool = False) -> None:
        self.upload = upload
        self.trial = trial

    def build(
        self, value: Any, lt: types_pb2.LiteralType, path: str, *, lenient: bool
    ) -> literals_pb2.Literal:
        if isinstance(value, literals_pb2.Literal):
            return value
        kind = lt.WhichOneof("type")
        if kind == "simple":
            return self.simple(value, lt, path, lenient)
        if kind == "collection_type":
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
                raise _Mismatch(path, lt, value)
            items = [
                self.build(v, lt.collection_type, f"{path}[{i}]", lenient=lenient)
                for i, v in enumerate(value)
            ]
            return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
        if kind == "map_value_type":
            if not isinstance(value, Mapping):
                raise _Mismatch(path, lt, value)
            out = literals_pb2.LiteralMap()
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _Mismatch(path, lt, value, f"map keys must be strings, not {describe(key)}")
                out.literals[key].CopyFrom(
                    self.build(item, lt.map_value_type, f"{path}[{key!r}]", lenient=lenient)
                )
            return literals_pb2.Literal(map=out)
        if kind == "enum_type":
            text = value.value if isinstance(value, enum.Enum) else value
            if not isinstance(text, str) or text not in lt.enum_type.values:
                raise _Mismatch(path, lt, value, "use one of the listed values")
            return _primitive(string_value=text)
        if kind == "union_type":
            return self.union(value, lt, path, lenient)
        if kind == "blob":
            return self.blob(value, lt, path)
        if kind == "structured_dataset_type":
            uri = self.uri(value, lt, path, is_dir=None)
            meta = literals_pb2.StructuredDatasetMetadata(structured_dataset_type=lt.structured_dataset_type)
            return _scalar(structured_dataset=literals_pb2.StructuredDataset(uri=uri, metadata=meta))
        if kind == "schema":
            uri = self.uri(value, lt, path, is_dir=None)
            return _scalar(schema=literals_pb2.Schema(uri=uri, type=lt.schema))
        raise _Mismatch(path, lt, value, "this type cannot be given as a value")

    def simple(self, value: Any, lt: types_pb2.LiteralType, path: str, lenient: bool) -> literals_pb2.Literal:
        simple = lt.simple
        if simple == types_pb2.INTEGER and isinstance(value, int) and not isinstance(value, bool):
            if not _INT64[0] <= value <= _INT64[1]:
                raise _Mismatch(path, lt, value, "it does not fit in 64 bits")
            return _primitive(integer=value)
        if simple == types_pb2.FLOAT and isinstance(value, float):
            return _primitive(float_value=value)
        if simple == types_pb2.FLOAT and lenient and isinstance(value, int) and not isinstance(value, bool):
            return _primitive(float_value=float(value))
        if simple == types_pb2.STRING and isinstance(value, str):
            return _primitive(string_value=value)
        if simple == types_pb2.BOOLEAN and isinstance(value, bool):
            return _primitive(boolean=value)
        if simple == types_pb2.DATETIME:
            when = _datetime(value, lenient)
            if when is not None:
                literal = _primitive()
                literal.scalar.primitive.datetime.FromDatetime(when)
                return literal
        if simple == types_pb2.DURATION:
            span = _duration(value, lenient)
            if span is not None:
                literal = _primitive()
                literal.scalar.primitive.duration.FromTimedelta(span)
                return literal
        if simple == types_pb2.NONE and value is None:
            return _scalar(none_type=literals_pb2.Void())
        if simple == types_pb2.BINARY and isinstance(value, (bytes, bytearray)):
            return _scalar(binary=literals_pb2.Binary(value=bytes(value)))
        if simple == types_pb2.STRUCT:
            return self.struct(value, lt, path)
        raise _Mismatch(path, lt, value)

    def struct(self, value: Any, lt: types_pb2.LiteralType, path: str) -> literals_pb2.Literal:
        data = _plain_struct(value)
        if not isinstance(data, dict):
            raise _Mismatch(path, lt, value, "give a dict (or a dataclass / pydantic model)")
        if is_msgpack_struct(lt):
            import msgpack  # structs only: not imported with the client

            try:
                packed = msgpack.packb(_shape(data, lt))
            except (ValueError, TypeError) as err:
                raise _Mismatch(path, lt, value, f"not msgpack-serialisable: {err}") from None
            return _scalar(binary=literals_pb2.Binary(value=packed, tag="msgpack"))
        generic = struct_pb2.Struct()
        try:
            generic.update(data)
        except (ValueError, TypeError) as err:
            raise _Mismatch(path, lt, value, f"not JSON-like: {err}") from None
        return _scalar(generic=generic)

    def union(self, value: Any, lt: types_pb2.LiteralType, path: str, lenient: bool) -> literals_pb2.Literal:
        variants = list(lt.union_type.variants)
        used_lenient = False
        matches = self._variants(value, variants, path, lenient=False)
        if not matches and lenient:
            used_lenient = True
            matches = self._variants(value, variants, path, lenient=True)
        if len(matches) > 1 and isinstance(value, str):
            exact = [v for v in matches if v.WhichOneof("type") == "simple" and v.simple == types_pb2.STRING]
            matches = exact or matches
        if not matches:
            others = [
                v for v in variants if not (v.WhichOneof("type") == "simple" and v.simple == types_pb2.NONE)
            ]
            if len(others) == 1 and value is not None:
                # Optional[T]: say why T refused it (e.g. a local path without an upload callback)
                self.build(value, others[0], path, lenient=lenient)
            raise _Mismatch(path, lt, value, "no variant of the union accepts it")
        if len(matches) > 1:
            names = ", ".join(type_string(v) for v in matches)
            raise _Mismatch(
                path, lt, value, f"ambiguous: it fits {names}; pass a value only one variant accepts"
            )
        variant = matches[0]
        literal = self.build(value, variant, path, lenient=used_lenient)
        return _scalar(union=literals_pb2.Union(value=literal, type=variant))

    def _variants(
        self, value: Any, variants: list[types_pb2.LiteralType], path: str, *, lenient: bool
    ) -> list[types_pb2.LiteralType]:
        """The variants that accept `value` (tried without uploading anything)."""
        trial = _Builder(self.upload, trial=True)
        found = []
        for variant in variants:
            try:
                trial.build(value, variant, path, lenient=lenient)
            except _Mismatch:
                continue
            found.append(variant)
        return found

    def blob(self, value: Any, lt: types_pb2.LiteralType, path: str) -> literals_pb2.Literal:
        is_dir = lt.blob.dimensionality == types_pb2.BlobType.MULTIPART
        uri = self.uri(value, lt, path, is_dir=is_dir)
        meta = literals_pb2.BlobMetadata(type=lt.blob)
        return _scalar(blob=literals_pb2.Blob(metadata=meta, uri=uri))

    def uri(self, value: Any, lt: types_pb2.LiteralType, path: str, *, is_dir: bool | None) -> str:
        """A remote URI from a URI string, a path (uploaded) or a {"uri": ...} / {"path": ...} mapping.

        `is_dir` says what a local path must be: a directory (True), a file (False) or either (None)."""
        if isinstance(value, Mapping):
            value = value.get("uri", value.get("path"))
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value:
            raise _Mismatch(path, lt, value, "give a remote URI (s3://, gs://, ...) or a local path")
        if _REMOTE_URI.match(value) and not value.startswith("file://"):
            return value
        local = value.removeprefix("file://")
        if not os.path.exists(local):
            raise _Mismatch(path, lt, value, "no such local file or directory")
        local_is_dir = os.path.isdir(local)
        if is_dir is not None and local_is_dir != is_dir:
            want = "a directory" if is_dir else "a file"
            raise _Mismatch(path, lt, value, f"this local path is not {want}")
        if self.upload is None:
            raise _Mismatch(path, lt, value, "local paths need an upload callback (or give a remote URI)")
        if self.trial:
            return local
        return self.upload(local, local_is_dir)


def _datetime(value: Any, lenient: bool) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        when = value
    elif isinstance(value, datetime.date):
        when = datetime.datetime(value.year, value.month, value.day)
    elif lenient and isinstance(value, str):
        try:
            when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=datetime.timezone.utc)
    return when


def _duration(value: Any, lenient: bool) -> datetime.timedelta | None:
    if isinstance(value, datetime.timedelta):
        return value
    if lenient and isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.timedelta(seconds=value)
    return None


def _plain_struct(value: Any) -> Any:
    """Dataclass instances and pydantic models → dicts (as flytekit serialises them), also inside the dicts
    and lists of a plain value; there, datetimes and dates → ISO strings, enums → their values, sets → lists
    (what msgpack and a Struct can hold, and what flytekit reads back). Others unchanged."""
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {k: _plain_struct(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain_struct(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _shape(data: Any, lt: types_pb2.LiteralType) -> Any:
    """Follow a dataclass's field types (`structure.dataclass_type`) so ints given for float fields become
    floats: what flytekit's msgpack encoder writes for a dataclass instance."""
    return follow_types(data, lt, _int_to_float)


def _int_to_float(value: Any, simple: int) -> Any:
    if simple == types_pb2.FLOAT and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
