"""Entities for tests/remote/test_remote_register.py, serialized by the real `pyflyte package`."""

from flytekit import task, workflow
from flytekit.types.file import FlyteFile


@task
def double(x: int) -> int:
    return x * 2


@task
def read_text(f: FlyteFile) -> str:
    with open(f) as fh:
        return fh.read()


@workflow
def double_wf(x: int) -> int:
    return double(x=x)
