"""Workflows for tests/remote/test_storage_s3.py, registered with the real `pyflyte register`.

Each task writes its output to the s3:// location it is given: flytekit itself uploads the file, the directory
and the list of files there (with the FLYTE_AWS_* credentials the execution's envs give the task)."""

import os
import tempfile

from flytekit import task, workflow
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile


@task
def put_file(text: str, dest: str) -> FlyteFile:
    path = os.path.join(tempfile.mkdtemp(), "note.txt")
    with open(path, "w") as fh:
        fh.write(text)
    return FlyteFile(path, remote_path=f"{dest}/note.txt")


@task
def put_dir(n: int, dest: str) -> FlyteDirectory:
    root = tempfile.mkdtemp()
    os.makedirs(os.path.join(root, "sub", "deeper"))
    for i in range(n):
        folder = [root, os.path.join(root, "sub"), os.path.join(root, "sub", "deeper")][i % 3]
        with open(os.path.join(folder, f"f{i}.txt"), "w") as fh:
            fh.write(f"file {i}")
    return FlyteDirectory(root, remote_directory=f"{dest}/tree")


@task
def put_files(n: int, dest: str) -> list[FlyteFile]:
    out = []
    for i in range(n):
        path = os.path.join(tempfile.mkdtemp(), f"part{i}.txt")
        with open(path, "w") as fh:
            fh.write(f"part {i}")
        out.append(FlyteFile(path, remote_path=f"{dest}/parts/{i}.txt"))
    return out


@workflow
def s3_wf(dest: str, text: str = "hello s3", n: int = 4) -> tuple[FlyteFile, FlyteDirectory, list[FlyteFile]]:
    return put_file(text=text, dest=dest), put_dir(n=n, dest=dest), put_files(n=n, dest=dest)
