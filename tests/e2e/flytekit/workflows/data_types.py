"""Types that cross task boundaries: files, directories, dataclasses, Optional/unions, enums, collections."""

import os
import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from flytekit import current_context, task, workflow
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile


@dataclass
class Point:
    x: int
    y: float
    label: str


@dataclass
class Segment:
    start: Point
    end: Point
    tags: list[str]


class Color(Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


@task
def count_words(f: FlyteFile) -> int:
    with open(f) as fh:
        return len(fh.read().split())


@task
def write_file(text: str) -> FlyteFile:
    path = Path(current_context().working_directory) / "note.txt"
    path.write_text(text.upper())
    return FlyteFile(str(path))


@task
def read_file(f: FlyteFile) -> str:
    with open(f) as fh:
        return fh.read()


@task
def make_dir(n: int) -> FlyteDirectory:
    root = Path(current_context().working_directory) / "parts"
    root.mkdir()
    for i in range(n):
        (root / f"part-{i}.txt").write_text(f"part {i} of {n}")
    return FlyteDirectory(str(root))


@task
def read_dir(d: FlyteDirectory) -> dict[str, str]:
    local = d.download()
    return {name: Path(local, name).read_text() for name in sorted(os.listdir(local))}


@task
def stretch(s: Segment, factor: int) -> Segment:
    end = Point(x=s.end.x * factor, y=s.end.y * factor, label=s.end.label + "!")
    return Segment(start=s.start, end=end, tags=[*s.tags, f"x{factor}"])


@task
def next_color(c: Color) -> Color:
    order = list(Color)
    return order[(order.index(c) + 1) % len(order)]


@task
def maybe_half(x: int | None) -> float | None:
    return None if x is None else x / 2


@task
def describe(v: int | str) -> int | str:
    return v * 2 if isinstance(v, int) else f"<{v}>"


Weighed = dict[str, list[float]]


@task
def weigh(xs: list[int], weights: dict[str, float]) -> Weighed:
    return {name: [x * w for x in xs] for name, w in sorted(weights.items())}


@workflow
def data_types_wf(
    f: FlyteFile,
    text: str,
    n: int,
    s: Segment,
    c: Color,
    v: int | str,
    xs: list[int],
    weights: dict[str, float],
    x: int | None = None,
) -> tuple[
    int, str, dict[str, str], FlyteFile, FlyteDirectory, Segment, Color, float | None, int | str, Weighed
]:
    written = write_file(text=text)
    directory = make_dir(n=n)
    return (
        count_words(f=f),
        read_file(f=written),
        read_dir(d=directory),
        written,
        directory,
        stretch(s=s, factor=3),
        next_color(c=c),
        maybe_half(x=x),
        describe(v=v),
        weigh(xs=xs, weights=weights),
    )


@workflow
def dir_input_wf(d: FlyteDirectory) -> dict[str, str]:
    return read_dir(d=d)


CsvFile = FlyteFile[typing.TypeVar("csv")]


@task
def make_csv(rows: int) -> CsvFile:
    path = Path(current_context().working_directory) / "table.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i * i}\n" for i in range(rows)))
    return CsvFile(str(path))


@task
def read_csv(f: CsvFile) -> str:
    with open(f) as fh:
        return fh.read()


@task
def one() -> int:
    return 1


@task
def or_zero(x: int | None) -> int:
    return x or 0


@task
def points(n: int) -> list[Point]:
    return [Point(x=i, y=i / 2, label=f"p{i}") for i in range(n)]


@task
def sum_x(ps: list[Point]) -> int:
    return sum(p.x for p in ps)


@task
def untyped() -> dict:
    return {"a": 1, "b": [1, 2], "c": {"d": "e"}}


@task
def keys(d: dict) -> list[str]:
    return sorted(d)


@workflow
def casts_wf(rows: int) -> tuple[str, str, int, int | str, int, list[str]]:
    """What the compiler must accept between promises: a csv-typed file into a plain FlyteFile input, an int
    into an Optional and into a union, a list of dataclasses, an untyped dict."""
    table = make_csv(rows=rows)
    o = one()
    return (
        read_file(f=table),
        read_csv(f=table),
        or_zero(x=o),
        describe(v=o),
        sum_x(ps=points(n=rows)),
        keys(d=untyped()),
    )
