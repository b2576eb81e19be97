"""Execution environment variables (`pyflyte run --envvars`, FlyteRemote `execute(envs=...)`) reach tasks,
also inside a subworkflow."""

import os

from flytekit import task, workflow


@task
def greet(name: str) -> str:
    return f"{os.environ.get('E2E_GREETING', 'hello')}, {name}"


@workflow
def greet_twice(name: str) -> str:
    return greet(name=greet(name=name))


@workflow
def env_wf(name: str) -> tuple[str, str]:
    return greet(name=name), greet_twice(name=name)
