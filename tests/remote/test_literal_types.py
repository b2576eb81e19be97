"""flyte_ls.remote.literals_types.type_info: every kind from hand-made LiteralTypes, and the LiteralTypes real
flytekit declares for the types users write (what a client's typed input prompt is built from)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import typing
from typing import Any

import pytest
from flyteidl.core import types_pb2
from google.protobuf import struct_pb2

from flyte_ls.remote.literals_types import type_info, type_string

from .type_engine import flytekit_type_engine

pytestmark = pytest.mark.timeout(60)

T = types_pb2.LiteralType


def simple(kind: int) -> T:
    return T(simple=kind)


def _schema() -> struct_pb2.Struct:
    meta = struct_pb2.Struct()
    meta.update({"title": "Point", "type": "object", "properties": {"x": {"type": "integer"}}})
    return meta


HAND_MADE: list[tuple[str, T, dict[str, Any]]] = [
    ("int", simple(types_pb2.INTEGER), {"kind": "int"}),
    ("float", simple(types_pb2.FLOAT), {"kind": "float"}),
    ("bool", simple(types_pb2.BOOLEAN), {"kind": "bool"}),
    ("str", simple(types_pb2.STRING), {"kind": "str"}),
    ("datetime", simple(types_pb2.DATETIME), {"kind": "datetime"}),
    ("duration", simple(types_pb2.DURATION), {"kind": "duration"}),
    ("none", simple(types_pb2.NONE), {"kind": "none"}),
    ("binary", simple(types_pb2.BINARY), {"kind": "binary"}),
    ("error", simple(types_pb2.ERROR), {"kind": "unknown"}),
    ("bare struct", simple(types_pb2.STRUCT), {"kind": "struct"}),
    (
        "struct with a schema",
        T(simple=types_pb2.STRUCT, metadata=_schema()),
        {
            "kind": "struct",
            "title": "Point",
            "jsonSchema": {"title": "Point", "type": "object", "properties": {"x": {"type": "integer"}}},
        },
    ),
    ("enum", T(enum_type=types_pb2.EnumType(values=["a", "b"])), {"kind": "enum", "choices": ["a", "b"]}),
    (
        "list of lists",
        T(collection_type=T(collection_type=simple(types_pb2.STRING))),
        {"kind": "list", "item": {"kind": "list", "item": {"kind": "str"}}},
    ),
    ("dict", T(map_value_type=simple(types_pb2.FLOAT)), {"kind": "dict", "value": {"kind": "float"}}),
    (
        "optional",
        T(union_type=types_pb2.UnionType(variants=[simple(types_pb2.INTEGER), simple(types_pb2.NONE)])),
        {"kind": "union", "variants": [{"kind": "int"}, {"kind": "none"}]},
    ),
    ("file", T(blob=types_pb2.BlobType()), {"kind": "file"}),
    (
        "csv file",
        T(blob=types_pb2.BlobType(format="csv")),
        {"kind": "file", "format": "csv"},
    ),
    (
        "directory",
        T(blob=types_pb2.BlobType(dimensionality=types_pb2.BlobType.MULTIPART)),
        {"kind": "directory"},
    ),
    (
        "structured dataset",
        T(structured_dataset_type=types_pb2.StructuredDatasetType(format="parquet")),
        {"kind": "structuredDataset", "format": "parquet"},
    ),
    (
        "structured dataset, any format",
        T(structured_dataset_type=types_pb2.StructuredDatasetType()),
        {"kind": "structuredDataset"},
    ),
    ("schema", T(schema=types_pb2.SchemaType()), {"kind": "schema"}),
    ("nothing set", T(), {"kind": "unknown"}),
]


@pytest.mark.parametrize(("case", "lt", "expected"), HAND_MADE, ids=[c[0] for c in HAND_MADE])
def test_type_info_of_every_kind(case: str, lt: T, expected: dict[str, Any]) -> None:
    info = type_info(lt)
    assert info == expected, case
    assert json.loads(json.dumps(info)) == info  # plain JSON


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.0


# The spellings users write (typing's aliases, as flytekit's docs do).
OPTIONAL_INT = typing.Optional[int]  # noqa: UP045
LIST_INT = typing.List[int]  # noqa: UP006
DICT_STR_FLOAT = typing.Dict[str, float]  # noqa: UP006
CSV = typing.TypeVar("csv")  # FlyteFile[csv]: the format is the TypeVar's name


def _flytekit_cases() -> list[tuple[str, Any, dict[str, Any]]]:
    from flytekit.types.directory import FlyteDirectory
    from flytekit.types.file import FlyteFile

    return [
        ("int", int, {"kind": "int"}),
        ("float", float, {"kind": "float"}),
        ("bool", bool, {"kind": "bool"}),
        ("str", str, {"kind": "str"}),
        ("datetime", datetime.datetime, {"kind": "datetime"}),
        ("timedelta", datetime.timedelta, {"kind": "duration"}),
        ("Enum", Color, {"kind": "enum", "choices": ["red", "green"]}),
        ("List[int]", LIST_INT, {"kind": "list", "item": {"kind": "int"}}),
        ("Dict[str, float]", DICT_STR_FLOAT, {"kind": "dict", "value": {"kind": "float"}}),
        ("FlyteFile", FlyteFile, {"kind": "file"}),
        ("FlyteFile[csv]", FlyteFile[CSV], {"kind": "file", "format": "csv"}),
        ("FlyteDirectory", FlyteDirectory, {"kind": "directory"}),
        ("Optional[int]", OPTIONAL_INT, {"kind": "union", "variants": [{"kind": "int"}, {"kind": "none"}]}),
    ]


@pytest.mark.flytekit
def test_type_info_of_flytekits_literal_types() -> None:
    engine = flytekit_type_engine()
    for name, hint, expected in _flytekit_cases():
        lt = engine.literal_type(hint)
        assert type_info(lt) == expected, (name, type_string(lt))


@pytest.mark.flytekit
def test_type_info_of_a_dataclass_carries_its_title_and_json_schema() -> None:
    lt = flytekit_type_engine().literal_type(Point)
    info = type_info(lt)
    assert info["kind"] == "struct" and info["title"] == "Point"
    schema = info["jsonSchema"]
    assert schema["title"] == "Point" and schema["required"] == ["x"]
    assert schema["properties"]["x"] == {"type": "integer"}
    assert schema["properties"]["y"]["type"] == "number"
    assert json.loads(json.dumps(info)) == info
