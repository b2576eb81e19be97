"""map_task over tasks with one and several inputs, partials, concurrency, module-level and inline."""

import functools
from functools import partial
from typing import List

from flytekit import map_task, task, workflow
from flytekit.core.array_node_map_task import map_task as deep_map_task

from corpus_pkg.tasks import add, double, log_only


@task
def weighted(x: int, weight: int, offset: int = 0) -> int:
    return x * weight + offset


mapped_double = map_task(double)
mapped_add = map_task(add, concurrency=4)
tolerant = map_task(double, min_success_ratio=0.75)
mapped_weighted = map_task(functools.partial(weighted, weight=3, offset=1))
deep_mapped = deep_map_task(partial(weighted, weight=2, offset=0))


@workflow
def mapping(xs: List[int], ys: List[int]) -> List[int]:
    a = mapped_double(x=xs)
    b = mapped_add(x=a, y=ys)
    c = mapped_weighted(x=b)
    d = deep_mapped(x=c)
    e = map_task(double)(x=d)
    map_task(log_only)(message=["a", "b"])
    tolerant(x=xs)
    return map_task(partial(weighted, offset=2))(x=e, weight=ys)
