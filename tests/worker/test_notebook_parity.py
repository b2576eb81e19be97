"""Parity with flytekit's own interactive mode in a real IPython shell.

A notebook's code cells (``CELLS``) are run one by one in a real ``IPython`` InteractiveShell (its
magics, ``!pip list`` and the ``%%bash`` cell really run), where flytekit detects the kernel; the last cell
registers the workflow with flytekit's FlyteRemote in interactive mode against a real local backend. flyte-ls
registers the same notebook through its worker (which runs the cells without IPython) on the same backend. The
registered entities must be the same but for the version and where the pickle was uploaded: the same names
(flytekit names what a kernel defines by its bare name), the same container command and resolver arguments,
the same interfaces and workflow structure, and pickles holding the same entities for the same Python.

The worker's blanking of IPython lines is checked against IPython's own transformer on the same cells: a line
is blanked exactly when IPython rewrites it, and every cell keeps its line count.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import task_pb2, workflow_pb2

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import Backend, start_backend
from userproj import VENV_PYTHON

from flyte_ls.remote.config import Config
from flyte_ls.remote.remote import AsyncFlyteRemote
from flyte_ls.run.registration import register_notebook_entity
from flyte_ls.run.worker_client import WorkerClient
from flyte_ls.worker.notebook import code_cell_source

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

PROJECT, DOMAIN = "flytesnacks", "development"
CELLS = [
    "%load_ext autoreload\nfrom flytekit import task, workflow",
    "!echo listing\n\n\n@task\ndef add(x: int) -> int:\n    return x + 1",
    "%%bash\necho @task\n",
    "files = !ls\nSTEP = 2 % 3\n\n\n@workflow\ndef wf(x: int = 3) -> int:\n    return add(x=add(x=x))",
]

# Run in the venv's Python: the code cells in a real IPython shell, then flytekit's interactive mode.
_KERNEL = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
for source in json.load(open(sys.argv[1])):
    result = shell.run_cell(source, store_history=True)
    if not result.success:
        raise SystemExit(f"cell failed: {result.error_before_exec or result.error_in_exec!r}")
transformed = [shell.transform_cell(source) for source in json.load(open(sys.argv[1]))]
shell.user_ns["CONFIG_FILE"] = sys.argv[2]
result = shell.run_cell('''
from flytekit.configuration import Config
from flytekit.remote import FlyteRemote
from flytekit.tools.interactive import ipython_check
remote = FlyteRemote(Config.auto(config_file=CONFIG_FILE), default_project="flytesnacks",
                     default_domain="development", interactive_mode_enabled=True)
registered = remote.register_workflow(wf)
''', store_history=True)
if not result.success:
    raise SystemExit(f"registering failed: {result.error_in_exec!r}")
ns = shell.user_ns
print("RESULT " + json.dumps({"version": ns["registered"].id.version, "kernel": ns["ipython_check"](),
                              "transformed": transformed}))
"""


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("notebook-parity") / "state")
    try:
        yield b
    finally:
        b.stop()


def run_in_ipython(backend: Backend, tmp_path: Path) -> dict[str, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cells.json").write_text(json.dumps(CELLS))
    (tmp_path / "kernel.py").write_text(_KERNEL)
    proc = subprocess.run(
        [VENV_PYTHON, "kernel.py", "cells.json", str(backend.config)],
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


def without_distribution(args: list[str]) -> list[str]:
    """The container args with the pickle's upload location (which differs per upload) taken out."""
    out = list(args)
    at = out.index("--additional-distribution")
    assert out[at + 1].endswith("/pkl.gz"), out
    out[at + 1] = "<pkl.gz>"
    return out


def pickle_of(args: list[str]) -> Any:
    """The PickledEntity behind a task's args (the backend's uploads are local files)."""
    import cloudpickle

    path = args[args.index("--additional-distribution") + 1].removeprefix("file://")
    with gzip.open(path) as f:
        return cloudpickle.load(f)


def comparable_task(task: task_pb2.Task) -> dict[str, Any]:
    template = task.closure.compiled_task.template
    return {
        "name": template.id.name,
        "type": template.type,
        "interface": template.interface.SerializeToString(deterministic=True),
        "command": list(template.container.command),
        "args": without_distribution(list(template.container.args)),
        "metadata_retries": template.metadata.retries.retries,
    }


def comparable_workflow(wf: workflow_pb2.Workflow) -> dict[str, Any]:
    template = wf.closure.compiled_workflow.primary.template
    return {
        "name": template.id.name,
        "interface": template.interface.SerializeToString(deterministic=True),
        "nodes": [(n.id, n.task_node.reference_id.name) for n in template.nodes],
        "outputs": [(b.var, b.binding.promise.node_id, b.binding.promise.var) for b in template.outputs],
    }


async def test_the_worker_registers_what_flytekits_interactive_mode_registers(
    backend: Backend, tmp_path: Path
) -> None:
    theirs_run = run_in_ipython(backend, tmp_path / "ipython")
    assert theirs_run["kernel"] is True  # flytekit really saw a kernel

    worker = WorkerClient(VENV_PYTHON, cache_dir=tmp_path / "cache")
    remote = AsyncFlyteRemote(
        Config.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN
    )
    try:
        cells = CELLS
        result = await worker.serialize_notebook(cells, "wf", out_dir=tmp_path / "nb")
        ours_reg = await register_notebook_entity(
            remote, result, result.pickle.path, project=PROJECT, domain=DOMAIN
        )
        assert ours_reg.version != theirs_run["version"]

        theirs_wf = await remote.fetch_workflow(PROJECT, DOMAIN, "wf", theirs_run["version"])
        ours_wf = await remote.fetch_workflow(PROJECT, DOMAIN, "wf", ours_reg.version)
        assert comparable_workflow(ours_wf) == comparable_workflow(theirs_wf)
        assert [n for _, n in comparable_workflow(ours_wf)["nodes"] if n] == [
            "add",
            "add",
        ]  # the bare name, module ""

        theirs_task = await remote.fetch_task(PROJECT, DOMAIN, "add", theirs_run["version"])
        ours_task = await remote.fetch_task(PROJECT, DOMAIN, "add", ours_reg.version)
        assert comparable_task(ours_task) == comparable_task(theirs_task)

        for task in (theirs_task, ours_task):
            pickled = pickle_of(list(task.closure.compiled_task.template.container.args))
            assert sorted(pickled.entities) == ["add"]
            assert pickled.metadata.python_version.split(".")[:2] == [str(v) for v in sys.version_info[:2]]
    finally:
        await worker.close()
        await remote.aclose()

    # The lines the worker blanks are the lines IPython rewrites (and only those); line counts are kept.
    for source, transformed in zip(CELLS, theirs_run["transformed"], strict=True):
        ours = code_cell_source(source).split("\n")
        original = source.split("\n")
        assert len(ours) == len(original)
        if source.lstrip().startswith("%%"):
            assert set(ours) == {""} and transformed.startswith("get_ipython().run_cell_magic(")
            continue
        kept_by_ipython = set(transformed.split("\n"))
        for line, mine in zip(original, ours, strict=True):
            assert (mine == line) == (line in kept_by_ipython), (line, mine, transformed)


def test_the_worker_blanks_what_ipython_rewrites(tmp_path: Path) -> None:
    """Harder IPython lines than the fixture's, against IPython's own transformer."""
    cells = [
        "%time x = 1\ny = 2\n  !ls",
        "files = !ls\na, b = %time f()\nx = 1 != 2\ny = a % b\nz = 5 %2",
        "!echo a \\\n  b\nc = 1",
        "%%bash\necho hi",
        "?len\nlen?\nd = {'k': 1}",
    ]
    script = textwrap.dedent("""
        import json, sys
        from IPython.core.inputtransformer2 import TransformerManager
        print(json.dumps([TransformerManager().transform_cell(c) for c in json.load(sys.stdin)]))
    """)
    proc = subprocess.run(
        [VENV_PYTHON, "-c", script],
        input=json.dumps(cells),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for source, transformed in zip(cells, json.loads(proc.stdout), strict=True):
        ours = code_cell_source(source).split("\n")
        assert len(ours) == len(source.split("\n")), source
        if source.startswith("%%"):
            assert set(ours) == {""}
            continue
        kept = set(transformed.split("\n"))
        for line, mine in zip(source.split("\n"), ours, strict=True):
            assert (mine == line) == (line in kept), (source, line, mine, transformed)
