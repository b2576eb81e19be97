"""Tasks registered by flytekit's interactive (notebook) mode run on ``flyte-ls local start``.

The "notebook" is a script run as ``__main__`` (as a kernel runs its cells): cloudpickle pickles what is
defined in ``__main__`` by value, which is what lets flytekit's notebook resolver load the entities in the
task process without the source. flytekit's own FlyteRemote with ``interactive_mode_enabled=True``
pickles them to pkl.gz, uploads it through the backend's DataProxy and registers tasks whose args run
``pyflyte-fast-execute --additional-distribution <pkl.gz> ... --resolver <notebook resolver> -- entity-name
<name>``; the backend runs them with flytekit's entrypoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import execution_pb2, identifier_pb2, tasks_pb2
from local_backend import VENV_PYTHON, Backend, start_backend

from flyte_ls.local.executor.notebook import (
    NOTEBOOK_RESOLVER,
    explain_error,
    is_notebook_task,
    missing_pickle,
    pickle_location,
)

SUCCEEDED = 4  # core.WorkflowExecution.Phase
FAILED = 6

# The cells of the notebook, then what its last cells do with FlyteRemote, chosen by argv[2].
_NOTEBOOK = """
import gzip, json, os, sys
from datetime import timedelta

import cloudpickle
from flytekit import map_task, task, workflow
from flytekit.configuration import Config
from flytekit.remote import FlyteRemote


@task
def double(x: int) -> int:
    return 2 * x


@task
def greet(name: str, times: int) -> str:
    return " ".join([f"hello {name}"] * times)


@workflow
def pipeline(x: int, name: str) -> str:
    return greet(name=name, times=double(x=x))


@task
def square(x: int) -> int:
    return x * x


@workflow
def squares(xs: list[int]) -> list[int]:
    return map_task(square)(x=xs)


@task
def triple(x: int) -> int:
    return 3 * x


@task
def quadruple(x: int) -> int:
    return 4 * x


remote = FlyteRemote(Config.auto(config_file=sys.argv[1]), default_project="flytesnacks",
                     default_domain="development", interactive_mode_enabled=True)


def run(entity, **inputs):
    execution = remote.execute(entity, inputs=inputs)
    execution = remote.wait(execution, timeout=timedelta(seconds=150), poll_interval=timedelta(seconds=0.3))
    closure = execution.closure
    out = {"phase": int(closure.phase), "error": closure.error.message if closure.error else None,
           "code": closure.error.code if closure.error else None}
    if closure.phase == 4:
        out["outputs"] = {k: execution.outputs.get(k) for k in execution.outputs.literals}
    return out


def args(flyte_task):
    return list(flyte_task.template.container.args)


mode = sys.argv[2]
result = {}
if mode == "run":
    registered = remote.register_task(double)
    result["task_args"] = args(registered)
    result["task"] = run(registered, x=21)
    result["workflow"] = run(pipeline, x=2, name="nb")  # a local entity: registered by execute
    result["map"] = run(remote.register_workflow(squares), xs=[1, 2, 3])
elif mode == "task":
    result["task"] = run(remote.register_task(double), x=21)
elif mode == "mismatch":  # as if the kernel that pickled it were Python 3.<minor - 1>
    registered = remote.register_task(triple)
    pkl = args(registered)[args(registered).index("--additional-distribution") + 1]
    with gzip.open(pkl) as f:
        pickled = cloudpickle.load(f)
    pickled.metadata.python_version = f"3.{sys.version_info.minor - 1}.0"
    with gzip.GzipFile(filename=pkl, mode="wb", mtime=0) as f:
        cloudpickle.dump(pickled, f)
    result["task"] = run(registered, x=1)
elif mode == "missing":
    registered = remote.register_task(quadruple)
    pkl = args(registered)[args(registered).index("--additional-distribution") + 1]
    result["pickle"] = pkl
    os.unlink(pkl)
    result["task"] = run(registered, x=1)
print("RESULT " + json.dumps(result))
"""


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("notebook") / "state")
    yield b
    b.stop()


def _notebook(backend: Backend, tmp_path: Path, mode: str) -> dict[str, Any]:
    """Run the notebook's cells as ``__main__`` in the venv's Python, in an empty directory (no pkl.gz)."""
    cells = tmp_path / "notebook_cells.py"
    cells.write_text(_NOTEBOOK)
    proc = subprocess.run(
        [VENV_PYTHON, str(cells), str(backend.config), mode],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_notebook_task_workflow_and_map_task_run(backend: Backend, tmp_path: Path) -> None:
    """A task, a workflow of two tasks (registered by ``execute`` of the local entity) and a map task,
    pickled by flytekit's interactive mode, run SUCCEEDED with the right outputs."""
    result = _notebook(backend, tmp_path, "run")
    task_args = result["task_args"]
    assert task_args[0] == "pyflyte-fast-execute"
    pkl = task_args[task_args.index("--additional-distribution") + 1]
    assert pkl.endswith("/pkl.gz") and Path(pkl).is_relative_to(backend.state_dir / "uploads")
    assert task_args[task_args.index("--resolver") + 1] == NOTEBOOK_RESOLVER
    assert task_args[-2:] == ["entity-name", "notebook_cells.double"]
    assert result["task"] == {"phase": SUCCEEDED, "error": None, "code": None, "outputs": {"o0": 42}}
    assert result["workflow"]["phase"] == SUCCEEDED, result["workflow"]
    assert result["workflow"]["outputs"] == {"o0": "hello nb hello nb hello nb hello nb"}
    assert result["map"]["phase"] == SUCCEEDED, result["map"]
    assert result["map"]["outputs"] == {"o0": [1, 4, 9]}


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_notebook_task_runs_spawned_without_the_pool(tmp_path: Path) -> None:
    """Without the warm pool (FLYTE_LS_LOCAL_POOL=0) pyflyte-fast-execute and pyflyte-execute are real
    processes of their own: the pickle lands in the attempt's working dir all the same."""
    env = {**os.environ, "FLYTE_LS_LOCAL_POOL": "0"}
    spawned = start_backend(tmp_path / "state", env=env)
    try:
        result = _notebook(spawned, tmp_path, "task")
    finally:
        spawned.stop()
    assert result["task"] == {"phase": SUCCEEDED, "error": None, "code": None, "outputs": {"o0": 42}}
    logs = list((spawned.state_dir / "executions").glob("*/logs/*.log"))
    assert len(logs) == 1 and "# spawned: " in logs[0].read_text()


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_python_version_mismatch_says_what_to_do_locally(backend: Backend, tmp_path: Path) -> None:
    """A pickle made by another Python: flytekit's resolver refuses it (its message kept), and the backend
    adds the local fix — its --python — since no container image is involved here."""
    result = _notebook(backend, tmp_path, "mismatch")["task"]
    minor = sys.version_info.minor
    assert result["phase"] == FAILED, result
    assert result["code"] == "USER:RuntimeError"
    message = result["error"]
    assert f"Python version used to create the pickle file: 3.{minor - 1}.0" in message
    assert f"The local backend runs tasks with {VENV_PYTHON} (Python 3.{minor})" in message
    assert f"needs Python 3.{minor - 1}" in message
    assert "flyte-ls local start --python" in message


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_missing_pickle_fails_at_once_with_the_fix(backend: Backend, tmp_path: Path) -> None:
    """The pickle gone from the uploads: the node fails at once (no retried crash of pyflyte-fast-execute)
    with a message naming the file and what to do."""
    result = _notebook(backend, tmp_path, "missing")
    task = result["task"]
    assert task["phase"] == FAILED, task
    assert task["code"] == "NotebookPickleNotFound"
    assert result["pickle"] in task["error"] and "Register it again from the notebook" in task["error"]


def _template(args: list[str]) -> tasks_pb2.TaskTemplate:
    template = tasks_pb2.TaskTemplate(id=identifier_pb2.Identifier(name="nb.t"))
    template.container.args.extend(args)
    return template


_NOTEBOOK_ARGS = [
    "pyflyte-fast-execute", "--additional-distribution", "/nowhere/pkl.gz", "--dest-dir", ".", "--",
    "pyflyte-execute", "--inputs", "{{.input}}", "--resolver", NOTEBOOK_RESOLVER, "--", "entity-name", "nb.t",
]  # fmt: skip


def test_only_notebook_tasks_are_touched() -> None:
    """A fast-registered file task (a tarball, the default resolver) is no notebook task: no pickle check,
    its errors unchanged; a notebook task's unrelated error is unchanged too."""
    file_task = _template([
        "pyflyte-fast-execute", "--additional-distribution", "/nowhere/fast0.tar.gz", "--dest-dir", ".",
        "--", "pyflyte-execute", "--resolver", "flytekit.core.python_auto_container.default_task_resolver",
        "--", "task-module", "m", "task-name", "t",
    ])  # fmt: skip
    notebook_task = _template(_NOTEBOOK_ARGS)
    assert not is_notebook_task(file_task) and missing_pickle(file_task) is None
    assert is_notebook_task(notebook_task) and pickle_location(notebook_task) == "/nowhere/pkl.gz"
    assert missing_pickle(notebook_task) is not None
    mismatch = execution_pb2.ExecutionError(
        code="USER:RuntimeError", message="The Python version used to create the pickle file is different"
    )
    assert explain_error(file_task, mismatch, "/py") is mismatch
    other = execution_pb2.ExecutionError(code="USER:ValueError", message="boom")
    assert explain_error(notebook_task, other, "/py") is other
    explained = explain_error(notebook_task, mismatch, "/py")
    assert explained.code == mismatch.code and "with /py (its Python)" in explained.message
