"""Workflows for tests/remote/test_remote_data.py, registered with the real `pyflyte register`."""

import os
import tempfile
from datetime import datetime

from flytekit import CronSchedule, LaunchPlan, task, workflow
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile


@task
def make_file(text: str) -> FlyteFile:
    path = os.path.join(tempfile.mkdtemp(), "note.txt")
    with open(path, "w") as fh:
        fh.write(text)
    return FlyteFile(path)


@task
def make_dir(n: int) -> FlyteDirectory:
    root = tempfile.mkdtemp()
    os.makedirs(os.path.join(root, "sub"))
    for i in range(n):
        with open(os.path.join(root, "sub" if i % 2 else "", f"f{i}.txt"), "w") as fh:
            fh.write(f"file {i}")
    return FlyteDirectory(root)


@task
def make_files(n: int) -> list[FlyteFile]:
    out = []
    for i in range(n):
        path = os.path.join(tempfile.mkdtemp(), f"part{i}.txt")
        with open(path, "w") as fh:
            fh.write(f"part {i}")
        out.append(FlyteFile(path))
    return out


@workflow
def files_wf(text: str = "hello world", n: int = 3) -> tuple[FlyteFile, FlyteDirectory, list[FlyteFile], int]:
    return make_file(text=text), make_dir(n=n), make_files(n=n), n


@task
def stamp(t: datetime, label: str) -> str:
    return f"{label}:{t:%Y-%m-%d %H:%M}"


@workflow
def stamp_wf(t: datetime, label: str = "x") -> str:
    return stamp(t=t, label=label)


stamp_lp = LaunchPlan.get_or_create(
    stamp_wf,
    name="dataflows.stamp_lp",
    schedule=CronSchedule(schedule="0 8 * * *", kickoff_time_input_arg="t"),
    fixed_inputs={"label": "fixed"},
)
