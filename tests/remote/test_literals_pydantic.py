"""pydantic BaseModel inputs and outputs: flyte_ls.remote.literals against flytekit's TypeEngine (its pydantic
transformer), and an execution on the local backend with model inputs whose outputs are read back.

flytekit writes a model as msgpack of `model_dump_json()` (a deterministic format): a model instance, or the
plain JSON a caller would send for it, gives a literal protobuf-equal to flytekit's. Where a plain dict
differs from that JSON (fields with defaults left out: flytekit writes every field; a Python datetime: ISO
8601 with +00:00 where pydantic writes Z), the literal is not byte-equal, and flytekit must read it back to
the same model instead. Nothing here is faked: the backend is a real `flyte-ls local start`, the workflows
are registered by the real `pyflyte register`.
"""

import datetime
import json
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2

from flyte_ls.remote.literals import LiteralConversionError, to_json, to_literal, to_python
from flyte_ls.remote.remote import AsyncFlyteRemote

from .registered import DATA, DOMAIN, PROJECT, VERSION, Backend, registered_backend, remote_for
from .type_engine import flytekit_type_engine

pytest.importorskip("pydantic", reason="pydantic is a test dependency: pip install -e '.[test-flytekit]'")
# The models are those of the registered workflows (tests/remote/data/pydflows): one definition for both.
sys.path.insert(0, str(DATA))
from pydflows.flows import Leg, Summary, Trip, Unit

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(60)]
UTC = datetime.timezone.utc
WF = core_execution_pb2.WorkflowExecution


WHEN = datetime.datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
LEG = Leg(start="a", end="b", distance=2.0)
TRIP = Trip(
    name="t",
    legs=[LEG, Leg(start="b", end="c", distance=3.5, unit=Unit.M)],
    stops={"b": 1},
    departs=WHEN,
    note="n",
)
LEG_JSON = {"start": "a", "end": "b", "distance": 2.0, "unit": "km"}
TRIP_JSON = {
    "name": "t",
    "legs": [LEG_JSON, {"start": "b", "end": "c", "distance": 3.5, "unit": "m"}],
    "stops": {"b": 1},
    "departs": "2024-01-02T03:04:05.600000Z",
    "note": "n",
    "tags": [],
}


@dataclass
class Case:
    """`hint` is the Python type, `py` flytekit's value, `plain` what a caller passes, `back` what to_python
    returns; `equal`: ours is protobuf-equal to flytekit's (flytekit always reads ours back to `py`)."""

    hint: Any
    py: Any
    plain: Any
    back: Any
    equal: bool = True


CASES = {
    "model": Case(Trip, TRIP, TRIP, TRIP_JSON),
    "model_as_json": Case(Trip, TRIP, TRIP_JSON, TRIP_JSON),
    "model_json_int_for_float": Case(
        Leg, LEG, {"start": "a", "end": "b", "distance": 2, "unit": "km"}, LEG_JSON
    ),
    "model_defaults_left_out": Case(
        Leg, LEG, {"start": "a", "end": "b", "distance": 2.0}, LEG_JSON, equal=False
    ),
    "model_python_datetime_in_dict": Case(Trip, TRIP, {**TRIP_JSON, "departs": WHEN}, TRIP_JSON, equal=False),
    "models_and_enums_inside_a_dict": Case(
        Trip, TRIP, {**TRIP_JSON, "legs": [LEG, {**TRIP_JSON["legs"][1], "unit": Unit.M}]}, TRIP_JSON
    ),
    "list_of_models": Case(list[Leg], [LEG, LEG], [LEG, LEG_JSON], [LEG_JSON, LEG_JSON]),
    "dict_of_models": Case(dict[str, Leg], {"x": LEG}, {"x": LEG_JSON}, {"x": LEG_JSON}),
    "optional_model": Case(Leg | None, LEG, LEG_JSON, LEG_JSON),
    "optional_model_none": Case(Leg | None, None, None, None),
}


@pytest.fixture(scope="module")
def fk() -> Any:
    return flytekit_type_engine()


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_against_type_engine(name: str, fk: Any) -> None:
    case = CASES[name]
    lt = fk.literal_type(case.hint)
    theirs = fk.to_literal(case.py, case.hint)
    ours = to_literal(case.plain, lt, name="x")
    if case.equal:
        assert ours == theirs, f"\nours:   {ours}\ntheirs: {theirs}"
    # flytekit reads ours back to the model it started from; we read flytekit's back to its JSON
    assert fk.to_python(ours, case.hint) == case.py
    assert to_python(theirs, lt) == case.back
    assert to_json(theirs, lt) == case.back


def test_old_format_generic_struct(fk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """FLYTE_USE_OLD_DC_FORMAT (or a registration by flytekit < 1.14): a generic Struct both ways."""
    monkeypatch.setenv("FLYTE_USE_OLD_DC_FORMAT", "true")
    lt = fk.literal_type(Leg)
    lt.ClearField("annotation")
    leg = Leg(start="old", end="x", distance=1.5)
    theirs = fk.to_literal(leg, Leg)
    assert theirs.scalar.WhichOneof("value") == "generic"
    ours = to_literal({"start": "old", "end": "x", "distance": 1.5, "unit": "km"}, lt, name="leg")
    assert ours == theirs
    assert fk.to_python(ours, Leg) == leg
    assert to_python(theirs, lt) == {"start": "old", "end": "x", "distance": 1.5, "unit": "km"}


def test_errors_name_the_input(fk: Any) -> None:
    lt = fk.literal_type(Trip)
    with pytest.raises(LiteralConversionError, match="input 'trip': expected Trip") as info:
        to_literal(["not", "a", "model"], lt, name="trip")
    assert "give a dict" in str(info.value)
    with pytest.raises(LiteralConversionError, match="input 'legs'"):
        to_literal([LEG, 3], fk.literal_type(list[Leg]), name="legs")


@dataclass
class Stamp:
    when: datetime.datetime
    unit: Unit
    days: set[int]


def test_dataclass_holding_datetimes_and_enums(fk: Any) -> None:
    """The same conversion inside a dataclass instance (flytekit's dataclass encoder writes ISO 8601 with
    +00:00 for datetimes, enum values and sets as lists): protobuf-equal."""
    stamp = Stamp(WHEN, Unit.M, {3})
    lt = fk.literal_type(Stamp)
    assert to_literal(stamp, lt, name="s") == fk.to_literal(stamp, Stamp)
    assert fk.to_python(to_literal(stamp, lt, name="s"), Stamp) == stamp


# --- an execution with model inputs on the local backend ----------------------------------------------------


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with registered_backend(tmp_path_factory, "pydflows") as b:
        yield b


@pytest.fixture
async def remote(backend: Backend) -> AsyncIterator[AsyncFlyteRemote]:
    async with remote_for(backend.config) as r:
        yield r


@pytest.mark.timeout(240)
async def test_execute_with_model_inputs_and_read_outputs(
    remote: AsyncFlyteRemote, tmp_path: Path, fk: Any
) -> None:
    """A plain dict, a model instance and a list of both as inputs; the output model read back as JSON, by
    flytekit as the model, and downloaded."""
    trip = {
        "name": "road",
        "legs": [
            {"start": "a", "end": "b", "distance": 4, "unit": "km"},
            {"start": "b", "end": "c", "distance": 10.5},
        ],
        "stops": {"b": 2, "c": 1},
        "departs": "2024-03-04T05:06:07Z",
    }
    ex = await remote.execute(
        f"lp:{PROJECT}:{DOMAIN}:pydflows.flows.trip_wf:{VERSION}",
        {"trip": trip, "others": [TRIP, TRIP_JSON], "extra": LEG},
    )
    ex = await remote.wait(ex, timeout=180)
    assert ex.closure.phase == WF.SUCCEEDED, ex.closure.error
    expected = {
        "name": "ROAD",
        "total": 14.5,
        "longest": {"start": "b", "end": "c", "distance": 10.5, "unit": "km"},
        "departs": "2024-03-04T06:06:07Z",
        "stops": ["c", "b"],
    }
    done = await remote.sync_execution(ex)
    assert done.outputs == {"o0": expected, "o1": 5}
    # the inputs as the backend holds them read back to what was sent (the int distance became a float)
    assert done.inputs is not None and done.inputs["trip"]["legs"][0]["distance"] == 4.0
    assert done.inputs["others"] == [TRIP_JSON, TRIP_JSON] and done.inputs["extra"] == LEG_JSON
    # flytekit reads the output literal as the task's own model class
    response = await remote._call(
        "GetExecutionData", execution_pb2.WorkflowExecutionGetDataRequest(id=ex.id.to_proto()), kind="read"
    )
    summary = fk.to_python(response.full_outputs.literals["o0"], Summary)
    assert isinstance(summary, Summary) and summary.model_dump(mode="json") == expected
    saved = await remote.download(ex, tmp_path)
    assert saved["o0"] == (tmp_path / "o0.json").resolve()
    assert json.loads(saved["o0"].read_text()) == expected
