"""Literal-type rules of the workflow compiler: which upstream type may feed which input; readable names.

The rules follow flytepropeller's compiler (``validators/typing.go``) and are lenient where Admin's outcome
is unclear: structs (dataclasses, pydantic models) always cast to structs (Admin compares their JSON
schemas), schema columns are not compared, and a union accepts a value that fits any of its variants (Admin
also rejects ambiguous fits). A false rejection would refuse a workflow that flytekit built correctly; a
missed mismatch only fails later, at run time.
"""

from __future__ import annotations

from flyteidl.core import literals_pb2, types_pb2
from flyteidl.core.types_pb2 import LiteralType, SimpleType

_MSGPACK = "msgpack"


def _simple(value: int) -> LiteralType:
    return LiteralType(simple=value)


def _kind(t: LiteralType | None) -> str | None:
    return None if t is None else t.WhichOneof("type")


def is_none_type(t: LiteralType | None) -> bool:
    return t is not None and _kind(t) == "simple" and t.simple == SimpleType.NONE


def is_optional(t: LiteralType) -> bool:
    """A union with a None variant: an input of that type may be left unbound."""
    return _kind(t) == "union_type" and any(is_none_type(v) for v in t.union_type.variants)


def castable(upstream: LiteralType | None, downstream: LiteralType | None) -> bool:
    """Whether a value of type ``upstream`` may be bound to an input of type ``downstream``."""
    if upstream is None or downstream is None or _kind(upstream) is None or _kind(downstream) is None:
        return True  # nothing known to compare
    if _kind(upstream) == "union_type" and len(upstream.union_type.variants) == 1:
        if _casts_from(downstream, upstream.union_type.variants[0]):
            return True
    return _casts_from(downstream, upstream)


def _casts_from(down: LiteralType, up: LiteralType) -> bool:
    kind = _kind(down)
    if kind == "collection_type":
        if _kind(up) != "collection_type":
            return False
        return is_none_type(up.collection_type) or castable(up.collection_type, down.collection_type)
    if kind == "map_value_type":
        if _kind(up) != "map_value_type":
            return False
        return is_none_type(up.map_value_type) or castable(up.map_value_type, down.map_value_type)
    if kind == "blob":
        if _kind(up) != "blob":
            return False
        return not up.blob.format or not down.blob.format or up.blob.format == down.blob.format
    if kind == "schema":
        return _kind(up) in ("schema", "structured_dataset_type")
    if kind == "structured_dataset_type":
        return _dataset_casts_from(down, up)
    if kind == "union_type":
        if _kind(up) == "union_type":
            return all(any(castable(u, d) for d in down.union_type.variants) for u in up.union_type.variants)
        return any(castable(up, d) for d in down.union_type.variants)
    if is_none_type(down):
        return is_none_type(up)
    return _trivially_casts_from(down, up)


def _dataset_casts_from(down: LiteralType, up: LiteralType) -> bool:
    if is_none_type(up) or _kind(up) == "schema":
        return True
    if _kind(up) != "structured_dataset_type":
        return False
    src, dst = up.structured_dataset_type, down.structured_dataset_type
    if src.format and dst.format and src.format.lower() != dst.format.lower():
        return False
    if not src.columns or not dst.columns:
        return True
    by_name = {c.name: c.literal_type for c in src.columns}
    return all(c.name in by_name and castable(by_name[c.name], c.literal_type) for c in dst.columns)


def _trivially_casts_from(down: LiteralType, up: LiteralType) -> bool:
    # An enum is a constrained string: either way round is fine.
    if _kind(up) == "enum_type" and _kind(down) == "simple" and down.simple == SimpleType.STRING:
        return True
    if _kind(down) == "enum_type" and _kind(up) == "simple" and up.simple == SimpleType.STRING:
        return True
    if up.structure.tag and down.structure.tag != up.structure.tag:
        return False
    if _kind(up) == "simple" and _kind(down) == "simple" and up.simple == down.simple == SimpleType.STRUCT:
        return True  # Admin compares the JSON schemas in the metadata; too fine a rule to reproduce here
    return _bare(up) == _bare(down)


def _bare(t: LiteralType) -> LiteralType:
    """The type without the fields Admin ignores when comparing (metadata, annotation, structure)."""
    copy = LiteralType()
    copy.CopyFrom(t)
    copy.ClearField("metadata")
    copy.ClearField("annotation")
    copy.ClearField("structure")
    return copy


def scalar_type(scalar: literals_pb2.Scalar) -> LiteralType | None:
    """The literal type of a bound scalar, or None for a value the compiler doesn't recognise."""
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        prim = {
            "integer": SimpleType.INTEGER,
            "float_value": SimpleType.FLOAT,
            "string_value": SimpleType.STRING,
            "boolean": SimpleType.BOOLEAN,
            "datetime": SimpleType.DATETIME,
            "duration": SimpleType.DURATION,
        }.get(scalar.primitive.WhichOneof("value") or "", SimpleType.NONE)
        return _simple(prim)
    if kind == "blob":
        if not scalar.blob.HasField("metadata"):
            return None
        return LiteralType(blob=scalar.blob.metadata.type)
    if kind == "binary":
        return _simple(SimpleType.STRUCT if scalar.binary.tag == _MSGPACK else SimpleType.BINARY)
    if kind == "schema":
        return LiteralType(schema=scalar.schema.type)
    if kind == "structured_dataset":
        return LiteralType(structured_dataset_type=scalar.structured_dataset.metadata.structured_dataset_type)
    if kind == "none_type":
        return _simple(SimpleType.NONE)
    if kind == "error":
        return _simple(SimpleType.ERROR)
    if kind == "generic":
        return _simple(SimpleType.STRUCT)
    if kind == "union":
        return LiteralType(union_type=types_pb2.UnionType(variants=[scalar.union.type]))
    return None


def type_name(t: LiteralType | None) -> str:
    """A short readable name: ``INTEGER``, ``List[FLOAT]``, ``Map[str, STRING]``, ``Blob(csv)``..."""
    if t is None:
        return "unknown"
    kind = _kind(t)
    if kind == "simple":
        return SimpleType.Name(t.simple)
    if kind == "collection_type":
        return f"List[{type_name(t.collection_type)}]"
    if kind == "map_value_type":
        return f"Map[str, {type_name(t.map_value_type)}]"
    if kind == "blob":
        dim = "multipart" if t.blob.dimensionality == types_pb2.BlobType.MULTIPART else "single"
        return f"Blob({t.blob.format or 'any format'}, {dim})"
    if kind == "schema":
        return "Schema"
    if kind == "structured_dataset_type":
        return f"StructuredDataset({t.structured_dataset_type.format or 'any format'})"
    if kind == "union_type":
        return "Union[" + ", ".join(type_name(v) for v in t.union_type.variants) + "]"
    if kind == "enum_type":
        return "Enum[" + ", ".join(t.enum_type.values) + "]"
    return kind or "unknown"
