"""Workflows for tests/remote/test_literals_pydantic.py (pydantic BaseModel inputs and outputs), registered
with the real `pyflyte register`."""

import datetime
import enum

from flytekit import task, workflow
from pydantic import BaseModel


class Unit(str, enum.Enum):
    M = "m"
    KM = "km"


class Leg(BaseModel):
    start: str
    end: str
    distance: float
    unit: Unit = Unit.KM


class Trip(BaseModel):
    name: str
    legs: list[Leg]
    stops: dict[str, int] = {}
    departs: datetime.datetime
    note: str | None = None
    tags: set[str] = set()


class Summary(BaseModel):
    name: str
    total: float
    longest: Leg
    departs: datetime.datetime
    stops: list[str]


@task
def summarize(trip: Trip) -> Summary:
    return Summary(
        name=trip.name.upper(),
        total=sum(leg.distance for leg in trip.legs),
        longest=max(trip.legs, key=lambda leg: leg.distance),
        departs=trip.departs + datetime.timedelta(hours=1),
        stops=sorted(trip.stops, key=lambda k: trip.stops[k]),
    )


@task
def count_legs(trips: list[Trip], extra: Leg | None = None) -> int:
    return sum(len(t.legs) for t in trips) + (1 if extra is not None else 0)


@workflow
def trip_wf(trip: Trip, others: list[Trip], extra: Leg | None = None) -> tuple[Summary, int]:
    return summarize(trip=trip), count_legs(trips=others, extra=extra)
