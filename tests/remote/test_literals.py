"""flyte_ls.remote.literals against flytekit's TypeEngine: the same LiteralType, the same literal, both ways.

For every supported type the LiteralType comes from `TypeEngine.to_literal_type`, flytekit builds a literal
from the Python value, and ours is built from the plain/JSON value: the protobufs must be equal. Then flytekit
reads our literal back to the original Python value, and `to_python`/`to_json` read flytekit's literal back to
the plain value. Documented normalisation: JSON leniency (an int for a float, an ISO string for a datetime,
seconds for a duration) is compared with flytekit given the real Python type.
"""

import dataclasses
import datetime
import enum
import json
import os
import typing
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flyteidl.core import interface_pb2, literals_pb2, types_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from flyte_ls.remote.errors import FlyteInvalidInputException
from flyte_ls.remote.literals import (
    LiteralConversionError,
    literal_types,
    to_json,
    to_literal,
    to_literal_map,
    to_python,
    to_python_map,
    type_string,
)

from .type_engine import flytekit_type_engine

pytestmark = pytest.mark.timeout(60)

UTC = datetime.timezone.utc


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


# No `from __future__ import annotations`: flytekit's generic-Struct reader cannot resolve string annotations.
@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str


@dataclasses.dataclass
class Shape:
    name: str
    points: list[Point]
    tags: dict[str, int]
    note: str | None = None


@dataclasses.dataclass
class Case:
    """`hint` is the Python type, `py` flytekit's value, `plain` what a JSON caller passes and `back` what
    `to_python` returns (defaults: `plain`)."""

    hint: Any
    py: Any
    plain: Any
    back: Any = dataclasses.field(default=None)
    has_back: bool = False

    def __post_init__(self) -> None:
        if not self.has_back:
            self.back = self.plain


def _cases(fk: SimpleNamespace) -> dict[str, Case]:
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    shape = Shape("tri", [Point(1, 2.5, "a"), Point(3, 4.0, "b")], {"k": 1}, None)
    shape_plain = {
        "name": "tri",
        "points": [{"x": 1, "y": 2.5, "label": "a"}, {"x": 3, "y": 4, "label": "b"}],
        "tags": {"k": 1},
        "note": None,
    }
    shape_back = {
        **shape_plain,
        "points": [{"x": 1, "y": 2.5, "label": "a"}, {"x": 3, "y": 4.0, "label": "b"}],
    }
    csv = fk.FlyteFile[typing.TypeVar("csv")]
    return {
        "int": Case(int, 3, 3),
        "int_negative_big": Case(int, -(2**62), -(2**62)),
        "float": Case(float, 1.5, 1.5),
        "float_from_int": Case(float, 2.0, 2, 2.0, True),
        "str": Case(str, "héllo", "héllo"),
        "bool": Case(bool, True, True),
        "datetime": Case(datetime.datetime, when, when),
        "datetime_iso": Case(datetime.datetime, when, "2024-01-02T03:04:05.600000Z", when, True),
        "datetime_naive_is_utc": Case(datetime.datetime, when, when.replace(tzinfo=None), when, True),
        "date": Case(
            datetime.date,
            datetime.date(2024, 1, 2),
            datetime.date(2024, 1, 2),
            when.replace(hour=0, minute=0, second=0, microsecond=0),
            True,
        ),
        "duration": Case(
            datetime.timedelta, datetime.timedelta(seconds=3.5), datetime.timedelta(seconds=3.5)
        ),
        "duration_seconds": Case(
            datetime.timedelta, datetime.timedelta(seconds=90), 90, datetime.timedelta(90 / 86400), True
        ),
        "none": Case(type(None), None, None),
        "list": Case(list[int], [1, 2, 3], [1, 2, 3]),
        "list_empty": Case(list[str], [], []),
        "nested_list": Case(list[list[str]], [["a"], [], ["b", "c"]], [["a"], [], ["b", "c"]]),
        "dict": Case(dict[str, int], {"a": 1, "b": 2}, {"a": 1, "b": 2}),
        "dict_of_lists": Case(
            dict[str, list[float]], {"a": [1.0, 2.5]}, {"a": [1, 2.5]}, {"a": [1.0, 2.5]}, True
        ),
        "untyped_dict": Case(
            dict, {"a": 1, "b": [1, "x"], "c": {"d": None}}, {"a": 1, "b": [1, "x"], "c": {"d": None}}
        ),
        "enum": Case(Color, Color.GREEN, "green"),
        "enum_member": Case(Color, Color.RED, Color.RED, "red", True),
        "optional_none": Case(str | None, None, None),
        "optional_value": Case(str | None, "s", "s"),
        "union_str": Case(int | str, "s", "s"),
        "union_int": Case(int | str, 3, 3),
        "union_int_float": Case(int | float, 3, 3),
        "union_float_int": Case(float | int, 3, 3),
        "union_bool_int": Case(int | bool, True, True),
        "union_str_enum": Case(Color | str, "red", "red"),
        "union_list_dict": Case(list[int] | dict[str, int], [1], [1]),
        "list_of_optional": Case(list[int | None], [1, None], [1, None]),
        "optional_list": Case(list[int] | None, [1, 2], [1, 2]),
        "dataclass": Case(Point, Point(1, 2.5, "p"), {"x": 1, "y": 2.5, "label": "p"}),
        "dataclass_int_for_float": Case(
            Point, Point(1, 2.0, "p"), {"x": 1, "y": 2, "label": "p"}, {"x": 1, "y": 2.0, "label": "p"}, True
        ),
        "dataclass_instance": Case(
            Point, Point(1, 2.5, "p"), Point(1, 2.5, "p"), {"x": 1, "y": 2.5, "label": "p"}, True
        ),
        "nested_dataclass": Case(Shape, shape, shape_plain, shape_back, True),
        "optional_dataclass": Case(Point | None, Point(1, 2.5, "p"), {"x": 1, "y": 2.5, "label": "p"}),
        "optional_dataclass_none": Case(Point | None, None, None),
        "file": Case(fk.FlyteFile, fk.FlyteFile("s3://bucket/a.txt"), "s3://bucket/a.txt"),
        "file_csv": Case(csv, csv("gs://bucket/a.csv"), "gs://bucket/a.csv"),
        "directory": Case(fk.FlyteDirectory, fk.FlyteDirectory("s3://bucket/dir"), "s3://bucket/dir"),
        "optional_file": Case(fk.FlyteFile | None, fk.FlyteFile("s3://bucket/a"), "s3://bucket/a"),
        "structured_dataset": Case(
            fk.StructuredDataset,
            fk.StructuredDataset(uri="s3://bucket/sd"),
            {"uri": "s3://bucket/sd"},
            "s3://bucket/sd",
            True,
        ),
    }


class _Stub:
    """Stands in for flytekit's classes at collection time, when only the case names are needed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __class_getitem__(cls, item: Any) -> type:
        return cls


CASE_NAMES = list(_cases(SimpleNamespace(FlyteFile=_Stub, FlyteDirectory=_Stub, StructuredDataset=_Stub)))


@pytest.fixture(scope="module")
def fk() -> SimpleNamespace:
    pytest.importorskip("flytekit", reason="flytekit is a test dependency: pip install -e '.[test-flytekit]'")
    from flytekit.types.directory import FlyteDirectory
    from flytekit.types.file import FlyteFile
    from flytekit.types.structured import StructuredDataset

    ns = flytekit_type_engine()
    ns.FlyteFile, ns.FlyteDirectory, ns.StructuredDataset = FlyteFile, FlyteDirectory, StructuredDataset
    ns.cases = _cases(ns)
    return ns


def _same_python(ours: Any, theirs: Any) -> bool:
    """flytekit reads files/datasets back as lazy objects: compare their remote paths."""
    for attr in ("remote_source", "uri"):
        if hasattr(theirs, attr) and not isinstance(theirs, (str, bytes)):
            return bool(getattr(theirs, attr) == ours)
    return bool(ours == theirs)


@pytest.mark.flytekit
@pytest.mark.parametrize("name", CASE_NAMES)
def test_round_trip_against_type_engine(name: str, fk: SimpleNamespace) -> None:
    case = fk.cases[name]
    lt = fk.literal_type(case.hint)
    theirs = fk.to_literal(case.py, case.hint)
    ours = to_literal(case.plain, lt, name="x")
    assert ours == theirs, f"\nours:   {ours}\ntheirs: {theirs}"
    # flytekit reads our literal back to the Python value it started from ...
    back = fk.to_python(ours, case.hint)
    if isinstance(case.py, (fk.FlyteFile, fk.FlyteDirectory)):
        assert back.remote_source == case.plain
    elif isinstance(case.py, fk.StructuredDataset):
        assert back.literal.uri == case.back
    else:
        assert back == case.py
    # ... and we read flytekit's literal back to the plain value, JSON-able through to_json.
    assert to_python(theirs, lt) == case.back
    json.dumps(to_json(theirs, lt))


@pytest.mark.flytekit
def test_generic_struct_for_types_registered_without_msgpack(
    fk: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flytekit < 1.14 (or FLYTE_USE_OLD_DC_FORMAT) registers STRUCTs without the msgpack annotation and
    reads a generic Struct: we send one, and read its floats back as ints where the dataclass says int."""
    monkeypatch.setenv("FLYTE_USE_OLD_DC_FORMAT", "true")
    lt = fk.literal_type(Shape)
    lt.ClearField("annotation")
    # a value of its own: flytekit caches literals by value, and the msgpack cases converted the shared one
    shape = Shape("old", [Point(7, 0.5, "o")], {"n": 2}, "note")
    plain = {"name": "old", "points": [{"x": 7, "y": 0.5, "label": "o"}], "tags": {"n": 2}, "note": "note"}
    theirs = fk.to_literal(shape, Shape)
    assert theirs.scalar.WhichOneof("value") == "generic"
    ours = to_literal(plain, lt, name="shape")
    assert ours == theirs
    assert fk.to_python(ours, Shape) == shape
    assert to_python(theirs, lt) == plain
    assert type(to_python(theirs, lt)["points"][0]["x"]) is int


@pytest.mark.flytekit
def test_local_paths_are_uploaded(fk: SimpleNamespace, tmp_path: Path) -> None:
    file = tmp_path / "data.csv"
    file.write_text("a,b\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    uploads: list[tuple[str, bool]] = []

    def upload(path: str, is_dir: bool) -> str:
        uploads.append((path, is_dir))
        return f"s3://bucket/up/{os.path.basename(path)}"

    types = {"f": fk.literal_type(fk.FlyteFile), "d": fk.literal_type(fk.FlyteDirectory)}
    inputs = to_literal_map({"f": str(file), "d": folder}, types, upload=upload)
    assert uploads == [(str(file), False), (str(folder), True)]
    assert inputs.literals["f"] == fk.to_literal(fk.FlyteFile("s3://bucket/up/data.csv"), fk.FlyteFile)
    assert inputs.literals["d"] == fk.to_literal(
        fk.FlyteDirectory("s3://bucket/up/folder"), fk.FlyteDirectory
    )
    assert to_python_map(inputs) == {"f": "s3://bucket/up/data.csv", "d": "s3://bucket/up/folder"}
    with pytest.raises(LiteralConversionError, match="upload callback"):
        to_literal(str(file), types["f"], name="f")
    with pytest.raises(LiteralConversionError, match="not a file"):
        to_literal(str(folder), types["f"], name="f", upload=upload)
    with pytest.raises(LiteralConversionError, match="no such local"):
        to_literal(str(tmp_path / "missing"), types["f"], name="f", upload=upload)


@pytest.mark.flytekit
def test_union_uploads_only_the_chosen_variant(fk: SimpleNamespace, tmp_path: Path) -> None:
    file = tmp_path / "in.txt"
    file.write_text("x")
    uploads: list[str] = []

    def upload(path: str, is_dir: bool) -> str:
        uploads.append(path)
        return "s3://bucket/in.txt"

    optional = fk.literal_type(fk.FlyteFile | None)
    assert to_literal(str(file), optional, name="f", upload=upload) == fk.to_literal(
        fk.FlyteFile("s3://bucket/in.txt"), fk.FlyteFile | None
    )
    assert uploads == [str(file)]
    err = _error(lambda: to_literal(str(file), optional, name="f"))
    assert err.expected == "Optional[FlyteFile]" and "upload callback" in str(err)
    # a bare string prefers `str`, as flytekit does: nothing is uploaded
    either = fk.literal_type(str | fk.FlyteFile)
    assert to_python(to_literal(str(file), either, name="f", upload=upload)) == str(file)
    assert uploads == [str(file)]
    dataset = to_literal(str(tmp_path), fk.literal_type(fk.StructuredDataset), name="sd", upload=upload)
    assert uploads == [str(file), str(tmp_path)] and to_python(dataset) == "s3://bucket/in.txt"


@pytest.mark.flytekit
def test_type_strings(fk: SimpleNamespace) -> None:
    expected: dict[Any, str] = {
        int: "int",
        list[int]: "List[int]",
        str | None: "Optional[str]",
        int | str: "Union[int, str]",
        dict[str, list[float]]: "Dict[str, List[float]]",
        Color: "Enum['red', 'green']",
        Point: "Point",
        dict: "dict",
        datetime.timedelta: "timedelta",
        fk.FlyteFile: "FlyteFile",
        fk.FlyteDirectory: "FlyteDirectory",
        fk.StructuredDataset: "StructuredDataset",
    }
    assert {hint: type_string(fk.literal_type(hint)) for hint in expected} == expected


# -- errors: built from protobufs alone, no flytekit needed --

INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
STR = types_pb2.LiteralType(simple=types_pb2.STRING)
NONE = types_pb2.LiteralType(simple=types_pb2.NONE)


def _tagged(lt: types_pb2.LiteralType, tag: str) -> types_pb2.LiteralType:
    out = types_pb2.LiteralType()
    out.CopyFrom(lt)
    out.structure.tag = tag
    return out


OPT_STR = types_pb2.LiteralType(
    union_type=types_pb2.UnionType(variants=[_tagged(STR, "str"), _tagged(NONE, "none")])
)
LIST_INT = types_pb2.LiteralType(collection_type=INT)


def _error(call: Callable[[], Any]) -> LiteralConversionError:
    with pytest.raises(LiteralConversionError) as info:
        call()
    return info.value


def test_error_names_input_type_and_value() -> None:
    err = _error(lambda: to_literal("3", INT, name="count"))
    assert str(err) == "input 'count': expected int, got '3' (str)"
    assert (err.input_name, err.expected, err.given) == ("count", "int", "'3' (str)")
    # caught by flytekit-style handlers of rejected input and by plain ValueError handlers alike
    assert isinstance(err, FlyteInvalidInputException) and isinstance(err, ValueError)
    assert str(_error(lambda: to_literal(True, INT, name="n"))) == "input 'n': expected int, got True (bool)"
    assert str(_error(lambda: to_literal(5, OPT_STR, name="who"))).startswith(
        "input 'who': expected Optional[str], got 5 (int)"
    )


def test_error_points_inside_collections_and_maps() -> None:
    err = _error(lambda: to_literal([1, 2, "x"], LIST_INT, name="xs"))
    assert (
        str(err)
        == "input 'xs': expected List[int], got [1, 2, 'x'] (list) — xs[2] should be int, got 'x' (str)"
    )
    nested = types_pb2.LiteralType(map_value_type=LIST_INT)
    err = _error(lambda: to_literal({"a": [1.5]}, nested, name="m"))
    assert err.expected == "Dict[str, List[int]]"
    assert "m['a'][0] should be int, got 1.5 (float)" in str(err)


def test_error_on_out_of_range_enum_and_long_values() -> None:
    color = types_pb2.LiteralType(enum_type=types_pb2.EnumType(values=["red", "green"]))
    assert "use one of the listed values" in str(_error(lambda: to_literal("blue", color, name="c")))
    assert "64 bits" in str(_error(lambda: to_literal(2**63, INT, name="n")))
    assert "..." in _error(lambda: to_literal("y" * 500, INT, name="n")).given


def test_ambiguous_union_is_an_error() -> None:
    struct = types_pb2.LiteralType(simple=types_pb2.STRUCT)
    union = types_pb2.LiteralType(
        union_type=types_pb2.UnionType(
            variants=[
                _tagged(types_pb2.LiteralType(map_value_type=INT), "Typed Dict"),
                _tagged(struct, "dict"),
            ]
        )
    )
    assert "ambiguous" in str(_error(lambda: to_literal({"a": 1}, union, name="u")))


def test_inputs_map_checks_names_and_required_parameters() -> None:
    params = interface_pb2.ParameterMap(
        parameters={
            "a": interface_pb2.Parameter(var=interface_pb2.Variable(type=INT), required=True),
            "b": interface_pb2.Parameter(
                var=interface_pb2.Variable(type=STR),
                default=literals_pb2.Literal(
                    scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="d"))
                ),
            ),
        }
    )
    assert literal_types(params) == {"a": INT, "b": STR}
    err = _error(lambda: to_literal_map({"a": 1, "c": 2}, params))
    assert err.input_name == "c" and "the inputs are: a, b" in str(err)
    err = _error(lambda: to_literal_map({"b": "x"}, params))
    assert err.input_name == "a" and "required" in str(err)
    inputs = to_literal_map({"a": 1}, params)
    assert list(inputs.literals) == ["a"]
    variables = interface_pb2.VariableMap(variables={"a": interface_pb2.Variable(type=INT)})
    assert to_literal_map({"a": 1}, variables) == inputs
    passed = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=7)))
    assert to_literal_map({"a": passed}, {"a": INT}).literals["a"] == passed


def test_to_json_of_error_and_offloaded_literals() -> None:
    error = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(error=types_pb2.Error(failed_node_id="n0", message="boom"))
    )
    assert to_json(error) == {"error": "boom", "failed_node_id": "n0"}
    off = literals_pb2.Literal(offloaded_metadata=literals_pb2.LiteralOffloadedMetadata(uri="s3://b/o"))
    assert to_json(off) == {"offloaded_uri": "s3://b/o"}
    when = to_literal("2024-05-06T07:08:09+02:00", types_pb2.LiteralType(simple=types_pb2.DATETIME), name="t")
    assert to_json(when) == "2024-05-06T05:08:09+00:00"


_JSONISH = st.recursive(
    st.integers(-(2**63), 2**63 - 1).map(lambda i: ("int", i))
    | st.text(max_size=8).map(lambda t: ("str", t))
    | st.booleans().map(lambda b: ("bool", b)),
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda xs: ("list", xs))
        | st.dictionaries(st.text(max_size=4), inner, max_size=3).map(lambda d: ("dict", d))
    ),
    max_leaves=10,
)


def _typed(node: tuple[str, Any]) -> tuple[types_pb2.LiteralType, Any]:
    """A LiteralType and a value of it from a generated tree (the first element types an empty collection)."""
    kind, value = node
    if kind in ("int", "str", "bool"):
        simple = {"int": types_pb2.INTEGER, "str": types_pb2.STRING, "bool": types_pb2.BOOLEAN}[kind]
        return types_pb2.LiteralType(simple=simple), value
    items = value if kind == "list" else list(value.values())
    typed = [_typed(item) for item in items]
    # a homogeneous collection: keep the children of the first child's type
    sub = typed[0][0] if typed else INT
    kept = [v for t, v in typed if t == sub]
    if kind == "list":
        return types_pb2.LiteralType(collection_type=sub), kept
    keys = [k for k, (t, _) in zip(value, typed, strict=True) if t == sub]
    return types_pb2.LiteralType(map_value_type=sub), dict(zip(keys, kept, strict=True))


@settings(max_examples=150, deadline=None)
@given(_JSONISH)
def test_plain_values_survive_the_round_trip(node: tuple[str, Any]) -> None:
    lt, value = _typed(node)
    literal = to_literal(value, lt, name="v")
    assert to_python(literal, lt) == value
    assert json.loads(json.dumps(to_json(literal, lt))) == value
