"""Workflows: sub-workflows, NamedTuple outputs, promises passed through, `>>`, with_overrides, and plain Python
that is fine while a workflow compiles."""

import logging
from typing import Dict, List, Optional, Tuple

from flytekit import Resources, WorkflowFailurePolicy, workflow
from flytekit.types.file import FlyteFile

from corpus_pkg import tasks
from corpus_pkg.tasks import add, double, log_only, maybe, min_max, split, stats
from corpus_pkg.types_ import Config, Stats

from .tasks import configure, counts, keyword_only, read_file, write_file

log = logging.getLogger(__name__)
SIZES = [1, 2, 3]
DEBUG = False


@workflow
def simple(x: int) -> int:
    return double(x=x)


@workflow
def positional(x: int) -> int:
    # flytekit 1.16 binds positional arguments to inputs in order
    return add(x, 2)


@workflow
def chained(x: int = 3, y: int = 4) -> int:
    """Several tasks, promises passed through, explicit ordering with `>>`."""
    a = double(x=x)
    b = add(x=a, y=y)
    first = log_only(message="start")
    second = log_only(message="second")
    first >> second
    second >> add(x=b, y=1)
    c = tasks.add(x=b)
    return c


@workflow
def named_outputs(values: List[int]) -> Tuple[float, int]:
    s = stats(values=values)
    return s.mean, s.count


@workflow
def unpacking(values: List[int]) -> Tuple[int, int]:
    low, high = min_max(values=values)
    parts = split(values=values, ratio=0.5)
    train_stats = stats(values=parts.train)
    test_stats = stats(values=parts[1])
    return add(x=low, y=train_stats.count), add(x=high, y=test_stats.count)


@workflow
def returns_namedtuple(values: List[int]) -> Stats:
    return stats(values=values)


@workflow
def overrides(x: int) -> int:
    a = double(x=x).with_overrides(retries=3, requests=Resources(cpu="2"), name="doubled")
    b = add(x=a, y=a).with_overrides(timeout=60, interruptible=False)
    pair = min_max(values=[a, b]).with_overrides(node_name="pair")
    return add(x=pair.o0, y=pair.o1)


@workflow
def plain_python(x: int, words: List[str], factor: float = 1.5) -> Dict[str, int]:
    """Python that runs at compile time without touching a promise's value."""
    log.info("compiling plain_python")
    print("x is a promise here:", x)
    results = [double(x=size) for size in SIZES]
    for size in range(2):
        add(x=size, y=len(SIZES))
    if DEBUG:
        log_only(message="debug")
    total = add(x=results[0], y=results[-1])
    options = {"a": 1, "b": 2}
    label = f"{len(SIZES)} sizes, {options['a']}"
    log_only(message=label)
    keyword_only(x=total)
    assert isinstance(words, object)
    return counts(words=words)


@workflow
def collections(x: int, y: int) -> List[int]:
    """Lists and dicts of promises bind element-wise."""
    a = double(x=x)
    b = double(x=y)
    stats(values=[a, b, 3])
    return tasks.cached_range(n=add(x=a, y=b))


@workflow
def dataclasses_and_files(name: str, size: int = 2) -> str:
    config = configure(config=Config(name="corpus", size=3))
    file = write_file(text=config.name)
    return read_file(f=file)


@workflow
def optionals(x: Optional[int] = None) -> Optional[int]:
    return maybe(x=x)


@workflow
def sub_workflows(x: int = 1) -> int:
    a = simple(x=x)
    b = chained(x=a)
    c = named_outputs(values=[a, b])
    return add(x=c[1], y=a)


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE, interruptible=True)
def with_policy(x: int) -> int:
    return double(x=x)


@workflow
def no_outputs(x: int):
    log_only(message="done")
    double(x=x)


@workflow
def no_inputs() -> int:
    return tasks.no_inputs()


@workflow
def early_return(x: int) -> int:
    value = double(x=x)
    return value
    log.info("unreachable")


def make_workflow(factor: int):
    """A workflow built by a factory: defined inside a function, still compiled like any other."""

    @workflow
    def scaled(x: int) -> int:
        doubled = double(x=x)
        for _ in range(factor):
            doubled = double(x=doubled)
        return doubled

    return scaled


scaled_twice = make_workflow(2)


if __name__ == "__main__":
    print(simple(x=3))
