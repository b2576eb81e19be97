"""Caching: cache=True + cache_version, a second identical call after the first (a hit inside one
execution), cache_ignore_input_vars, and a node-level cache_version override."""

from flytekit import LaunchPlan, map_task, task, workflow


@task(cache=True, cache_version="1")
def cached_cube(x: int) -> int:
    return x * x * x


@task(cache=True, cache_version="1", cache_ignore_input_vars=("note",))
def cached_add(x: int, note: str) -> int:
    return x + len("constant")


@workflow
def cache_wf(x: int) -> tuple[int, int, int, int, int]:
    first = cached_cube(x=x)
    second = cached_cube(x=x)
    first >> second
    noted = cached_add(x=x, note="first")
    renoted = cached_add(x=x, note="second call, other note")
    noted >> renoted
    # a node-level cache_version: another cache key than the task's own version "1"
    other_version = cached_cube(x=x).with_overrides(cache=True, cache_version="2")
    second >> other_version
    return first, second, noted, renoted, other_version


@workflow
def cube_wf(x: int) -> int:
    return cached_cube(x=x)


cube_lp = LaunchPlan.get_or_create(cube_wf, name="cached_cube_lp")


@workflow
def cache_parent_wf(x: int) -> int:
    """A launch-plan node: the child execution caches too, and inherits the parent's overwrite_cache."""
    return cube_lp(x=x)


@task(cache=True, cache_version="1")
def cached_square(x: int) -> int:
    return x * x


@workflow
def cache_map_wf(xs: list[int]) -> list[int]:
    """A map task over a cached task: each index is cached on its own."""
    return map_task(cached_square)(x=xs)
