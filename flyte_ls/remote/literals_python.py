"""`core.Literal` → plain Python values (for hovers, downloads, `get()`), and JSON-able values via `to_json`.

- primitives → int/float/str/bool, `datetime` (timezone-aware UTC), `timedelta`; none → None;
- collections → lists, maps → dicts, unions → the value of the chosen variant;
- blobs, structured datasets and schemas → their URI (the caller downloads them);
- msgpack binaries → the decoded value, generic structs → dicts; when the LiteralType says a dataclass field
  is an int, the float a generic Struct stores is turned back into an int; other binaries → bytes;
- errors → {"error": message, "failed_node_id": id}; offloaded literals → {"offloaded_uri": uri}.

`to_json` makes the result `json.dumps`-safe: datetimes as ISO 8601 strings, timedeltas as seconds, bytes as
base64, map keys as strings.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from flyte_ls.remote.literals_types import follow_types


def to_python(literal: literals_pb2.Literal, literal_type: types_pb2.LiteralType | None = None) -> Any:
    """A plain Python value for `literal`; `literal_type` (optional) only refines STRUCT field types."""
    kind = literal.WhichOneof("value")
    if kind == "collection":
        item_type = _sub(literal_type, "collection_type")
        return [to_python(item, item_type) for item in literal.collection.literals]
    if kind == "map":
        value_type = _sub(literal_type, "map_value_type")
        return {key: to_python(item, value_type) for key, item in literal.map.literals.items()}
    if kind == "offloaded_metadata":
        return {"offloaded_uri": literal.offloaded_metadata.uri}
    if kind == "scalar":
        return _scalar(literal.scalar, literal_type)
    return None


def to_python_map(
    literal_map: literals_pb2.LiteralMap, types: Mapping[str, types_pb2.LiteralType] | None = None
) -> dict[str, Any]:
    """Every literal of a LiteralMap (execution inputs/outputs) as plain Python, by name."""
    types = types or {}
    return {name: to_python(lit, types.get(name)) for name, lit in literal_map.literals.items()}


def to_json(literal: literals_pb2.Literal, literal_type: types_pb2.LiteralType | None = None) -> Any:
    """Like `to_python`, but `json.dumps`-safe."""
    return jsonable(to_python(literal, literal_type))


def jsonable(value: Any) -> Any:
    """Make a `to_python` result JSON-able (datetime → ISO string, timedelta → seconds, bytes → base64)."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _sub(lt: types_pb2.LiteralType | None, field: str) -> types_pb2.LiteralType | None:
    if lt is not None and lt.WhichOneof("type") == field:
        sub: types_pb2.LiteralType = getattr(lt, field)
        return sub
    return None


def _scalar(scalar: literals_pb2.Scalar, lt: types_pb2.LiteralType | None) -> Any:
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        return _primitive(scalar.primitive)
    if kind == "union":
        return to_python(scalar.union.value, scalar.union.type if scalar.union.HasField("type") else None)
    if kind == "blob":
        return scalar.blob.uri
    if kind == "structured_dataset":
        return scalar.structured_dataset.uri
    if kind == "schema":
        return scalar.schema.uri
    if kind == "binary":
        if scalar.binary.tag == "msgpack":
            import msgpack  # structs only: not imported with the client

            return msgpack.unpackb(scalar.binary.value, raw=False, strict_map_key=False)
        return scalar.binary.value
    if kind == "generic":
        from google.protobuf import json_format

        return _ints(json_format.MessageToDict(scalar.generic), lt)
    if kind == "error":
        return {"error": scalar.error.message, "failed_node_id": scalar.error.failed_node_id}
    return None


def _primitive(primitive: literals_pb2.Primitive) -> Any:
    kind = primitive.WhichOneof("value")
    if kind == "integer":
        return primitive.integer
    if kind == "float_value":
        return primitive.float_value
    if kind == "string_value":
        return primitive.string_value
    if kind == "boolean":
        return primitive.boolean
    if kind == "datetime":
        return primitive.datetime.ToDatetime(tzinfo=datetime.timezone.utc)
    if kind == "duration":
        return primitive.duration.ToTimedelta()
    return None


def _ints(value: Any, lt: types_pb2.LiteralType | None) -> Any:
    """A protobuf Struct stores every number as a double: int fields (per the dataclass type) become ints."""
    return value if lt is None else follow_types(value, lt, _float_to_int)


def _float_to_int(value: Any, simple: int) -> Any:
    if simple == types_pb2.INTEGER and isinstance(value, float) and value.is_integer():
        return int(value)
    return value
