"""Tasks in every decorator style, with every kind of interface."""

import functools
import os
import typing
from datetime import timedelta
from typing import Dict, List, Optional, Tuple

from flytekit import Cache, Resources, Secret, task
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from flytekit.types.structured import StructuredDataset
from typing_extensions import Annotated

from .types_ import Color, Config, MaybeInt, Split, Stats


@task
def double(x: int) -> int:
    return 2 * x


@task()
def add(x: int, y: int = 1) -> int:
    return x + y


@task(retries=2, timeout=timedelta(minutes=5), requests=Resources(cpu="1", mem="500Mi"), interruptible=True)
def scale(values: List[float], factor: float = 2.0) -> List[float]:
    """Multiply every value: return a new list."""
    return [v * factor for v in values]


@task(cache=True, cache_version="1.0", cache_serialize=True)
def cached_sum(values: List[int]) -> int:
    return sum(values)


@task(cache=Cache(version="2", ignored_inputs=("seed",)))
def cached_range(n: int, seed: int = 0) -> List[int]:
    return list(range(n))


@task(secret_requests=[Secret(group="db", key="password")], environment={"MODE": "test"})
def with_secret(name: str) -> str:
    return name


@task
def stats(values: List[int]) -> Stats:
    count = len(values)
    return Stats(mean=sum(values) / max(count, 1), count=count)


@task
def split(values: List[int], ratio: float = 0.5) -> Split:
    cut = int(len(values) * ratio)
    return Split(train=values[:cut], test=values[cut:])


@task
def min_max(values: List[int]) -> Tuple[int, int]:
    return min(values), max(values)


@task
def maybe(x: Optional[int] = None, y: MaybeInt = None, z: int | None = None) -> Optional[int]:
    if x is None:
        return None
    return x


@task
def configure(config: Config, color: Color = Color.RED) -> Config:
    return Config(name=f"{config.name}-{color.value}", size=config.size + 1)


@task
def counts(words: List[str]) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for word in words:
        out[word] = out.get(word, 0) + 1
    return out


@task
def annotated(x: Annotated[int, "meta"]) -> Annotated[str, "label"]:
    return str(x)


@task
def write_file(text: str) -> FlyteFile:
    path = "/tmp/flyte-ls-corpus.txt"
    with open(path, "w") as f:
        f.write(text)
    return FlyteFile(path)


@task
def read_file(f: FlyteFile) -> str:
    with open(f) as handle:
        return handle.read()


@task
def dataset_uri(ds: StructuredDataset) -> str:
    return ds.uri or ""


@task
def list_dir(d: FlyteDirectory) -> List[str]:
    return sorted(os.listdir(d))


@task
def log_only(message: str):
    print(message)


@task
def no_inputs() -> int:
    return 42


@task(pickle_untyped=True)
def untyped(value) -> int:
    return 1


@task
def keyword_only(*, x: int, y: int = 2) -> int:
    return x * y


@task
def generator(n: int) -> typing.Iterator[int]:
    yield from range(n)


def timed(fn):
    """A user decorator stacked under @task (functools.wraps keeps the task module-level)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


@task
@timed
def wrapped(x: int) -> int:
    return x + 1
