"""@dynamic and @eager: Python on real values at run time; entity results are still promises in @dynamic."""

import asyncio
from typing import List

from flytekit import dynamic, eager, task, workflow

from corpus_pkg.tasks import add, double, stats


@task
async def async_double(x: int) -> int:
    return 2 * x


@dynamic
def fan_out(values: List[int], limit: int = 10) -> List[int]:
    """Inputs are real values here: loops, conditions and arithmetic on them are fine."""
    results = []
    for v in values:
        if v > limit or v % 2 == 0:
            continue
        results.append(double(x=v + 1))
    total = sum(values) * 2
    last = add(x=total, y=len(values))
    results.append(last)
    return results


@dynamic
def nested_dynamic(n: int) -> int:
    parts = fan_out(values=list(range(n)))
    return stats(values=parts).count


@eager
async def eager_flow(x: int, attempts: int = 2) -> int:
    """Everything is a real value: await entities, branch on results."""
    value = await async_double(x=x)
    for _ in range(attempts):
        if value > 100:
            break
        value = await async_double(x=value)
    doubled = double(x=value)
    results = await asyncio.gather(*[async_double(x=i) for i in range(attempts)])
    return doubled + sum(results)


@workflow
def with_dynamic(values: List[int]) -> int:
    return nested_dynamic(n=stats(values=values).count)

