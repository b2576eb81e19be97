"""Tasks: the units of work the pipeline is built from."""

from typing import List, NamedTuple

from flytekit import Resources, dynamic, map_task, task

SplitResult = NamedTuple("SplitResult", [("train", List[float]), ("test", List[float])])


class Stats(NamedTuple):
    mean: float
    count: int


@task(cache=True, cache_version="1.0", retries=2, requests=Resources(cpu="1", mem="500Mi"))
def load_data(n: int = 20, seed: int = 7) -> List[float]:
    """Generate a reproducible data set of ``n`` values."""
    state = seed
    values = []
    for _ in range(n):
        state = (state * 1103515245 + 12345) % (2**31)
        values.append(state / 2**31)
    return values


@task
def clean(values: List[float], threshold: float = 0.05) -> List[float]:
    """Drop values below the threshold."""
    return [v for v in values if v >= threshold]


@task
def split(values: List[float], ratio: float = 0.8) -> SplitResult:
    cut = int(len(values) * ratio)
    return SplitResult(train=values[:cut], test=values[cut:])


@task
def square(x: float) -> float:
    return x * x


@task(timeout=600)
def summarize(values: List[float]) -> Stats:
    """Mean and count of the values."""
    count = len(values)
    return Stats(mean=sum(values) / count if count else 0.0, count=count)


@task
def report(mean: float, count: int, label: str) -> str:
    return f"{label}: mean={mean:.4f} over {count} values"


squares = map_task(square)


@dynamic
def bootstrap(values: List[float], rounds: int = 3) -> List[float]:
    """Fan out one summarize per round, decided at run time."""
    means = []
    for i in range(rounds):
        sample = values[i::rounds]
        means.append(summarize(values=sample).mean)
    return means
