"""The worker's ``serializeNotebook`` in a real interpreter (the test venv's, with flytekit): entities defined
in notebook cells are pickled in flytekit's interactive-mode format, which flytekit's own notebook task
resolver loads; their specs run through that resolver; dynamic and eager tasks are refused; the version is
stable for the same cells and changes when a cell does."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from userproj import VENV_PYTHON

from flyte_ls.remote.identifiers import ResourceType
from flyte_ls.run.registration import version_of
from flyte_ls.run.worker_client import NotebookResult, WorkerClient, WorkerError
from flyte_ls.worker.notebook import NOTEBOOK_RESOLVER, code_cell_source

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(120)]

IMPORTS = "%matplotlib inline\nfrom flytekit import task, workflow, dynamic, eager\n!pip list\n"
DOUBLE = "@task\ndef double(x: int) -> int:\n    return 2 * x\n"
WF = "@workflow\ndef wf(x: int = 3) -> int:\n    return double(x=double(x=x))\n"
DYN = "@dynamic\ndef dyn(x: int) -> int:\n    return double(x=x)\n"
EAGER = "@eager\nasync def eg(x: int) -> int:\n    return double(x=x)\n"
CELLS = [IMPORTS, DOUBLE, WF, DYN, EAGER]


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkerClient]:
    c = WorkerClient(VENV_PYTHON, cache_dir=tmp_path_factory.mktemp("cache"))
    yield c
    await c.close()


def names(specs: list) -> set[str]:  # type: ignore[type-arg]
    return {spec.template.id.name for spec in specs}


def version(result: NotebookResult) -> str:
    """The version the registration gives: the uploaded pkl.gz's md5, the specs, image, project, domain."""
    md5 = hashlib.md5(Path(result.pickle.path).read_bytes()).digest()
    return version_of(md5, result, "flytesnacks", "development")


def load_with_flytekit(pickle_dir: Path, entity: str, call: str) -> str:
    """Load ``entity`` from ``pickle_dir/pkl.gz`` with flytekit's notebook task resolver in a fresh
    interpreter (its cwd is where the task runtime puts the download) and print ``call`` on it."""
    script = textwrap.dedent(f"""
        from flytekit.core.python_auto_container import PickledEntity, default_notebook_task_resolver
        import cloudpickle, gzip, sys
        data = cloudpickle.load(gzip.open("pkl.gz"))
        assert isinstance(data, PickledEntity), type(data)
        print(sorted(data.entities), data.metadata.python_version)
        t = default_notebook_task_resolver.load_task(["entity-name", {entity!r}])
        print(t.name, type(t.task_resolver).__name__, {call})
    """)
    proc = subprocess.run(
        [VENV_PYTHON, "-c", script], cwd=pickle_dir, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_magics_and_shell_escapes_are_blanked_keeping_lines() -> None:
    source = "%load_ext foo\nx = 1\n  !ls \\\n   -l\ny = 2"
    assert code_cell_source(source) == "\nx = 1\n\n\ny = 2"
    assert code_cell_source("%%bash\necho hi\nexit 1\n") == "\n\n\n"
    assert code_cell_source("a = 5 % 2\n") == "a = 5 % 2\n"
    assert code_cell_source("files = !ls\nt, u = %time f()\n?print\nx = 1") == "\n\n\nx = 1"
    assert code_cell_source("len?\nos.path??\nx = a if b else c\ny = '?'") == "\n\nx = a if b else c\ny = '?'"


async def test_a_task_in_cells_is_pickled_for_the_notebook_resolver(
    client: WorkerClient, tmp_path: Path
) -> None:
    result = await client.serialize_notebook(CELLS, "double", up_to=1, out_dir=tmp_path)
    assert result.target.resource_type == ResourceType.TASK and result.target.name == "double"
    assert names(result.tasks) == {"double"} and not result.workflows and not result.files
    args = list(result.tasks[0].template.container.args)
    assert args[:5] == [
        "pyflyte-fast-execute", "--additional-distribution", "{{ .remote_package_path }}", "--dest-dir", ".",
    ]  # fmt: skip
    assert args[-5:] == ["--resolver", NOTEBOOK_RESOLVER, "--", "entity-name", "double"]
    assert result.pickle.path == str(tmp_path / "pkl.gz") and result.pickle.size > 0
    assert result.pickle.python_version.startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    out = load_with_flytekit(tmp_path, "double", "t(x=21)")
    assert out.splitlines() == [
        f"['double'] {result.pickle.python_version}",
        "double DefaultNotebookTaskResolver 42",
    ]


async def test_a_workflow_in_cells_pickles_the_tasks_it_runs(client: WorkerClient, tmp_path: Path) -> None:
    result = await client.serialize_notebook(CELLS[:3], "wf", out_dir=tmp_path)
    assert result.target.resource_type == ResourceType.WORKFLOW and result.target.name == "wf"
    assert names(result.tasks) == {"double"} and names(result.workflows) == {"wf"}
    assert [lp.id.name for lp, _ in result.launch_plans] == ["wf"]
    assert result.tasks[0].template.container.args[-2:] == ["entity-name", "double"]
    assert set(result.interface.inputs.variables) == {"x"}
    assert result.defaults["x"].scalar.primitive.integer == 3
    out = load_with_flytekit(tmp_path, "double", "t(x=5)")
    assert out.splitlines()[1] == "double DefaultNotebookTaskResolver 10"


@pytest.mark.parametrize(("entity", "up_to", "what"), [("dyn", 3, "dynamic"), ("eg", 4, "eager")])
async def test_dynamic_and_eager_tasks_are_refused(
    client: WorkerClient, tmp_path: Path, entity: str, up_to: int, what: str
) -> None:
    with pytest.raises(WorkerError) as info:
        await client.serialize_notebook(CELLS, entity, up_to=up_to, out_dir=tmp_path)
    assert info.value.kind == "entity"
    assert f"{entity} is a{'n' if what == 'eager' else ''} {what} task" in info.value.message
    assert "interactive mode cannot register dynamic or eager tasks" in info.value.message
    assert not (tmp_path / "pkl.gz").exists()


async def test_a_workflow_calling_a_dynamic_task_is_refused(client: WorkerClient, tmp_path: Path) -> None:
    calls_dyn = "@workflow\ndef wf2(x: int) -> int:\n    return dyn(x=x)\n"
    with pytest.raises(WorkerError) as info:
        await client.serialize_notebook([*CELLS[:4], calls_dyn], "wf2", out_dir=tmp_path)
    assert info.value.kind == "entity" and "dyn is a dynamic task" in info.value.message


async def test_the_version_is_stable_for_the_same_cells_and_changes_with_a_cell(
    client: WorkerClient, tmp_path: Path
) -> None:
    first = await client.serialize_notebook(CELLS, "wf", up_to=2, out_dir=tmp_path / "a")
    again = await client.serialize_notebook(CELLS, "wf", up_to=2, out_dir=tmp_path / "b")
    assert Path(first.pickle.path).read_bytes() == Path(again.pickle.path).read_bytes()
    assert version(first) == version(again)
    # cells after the entity's are not run: editing them changes nothing
    later = await client.serialize_notebook([*CELLS[:3], "x = 1\n"], "wf", up_to=2, out_dir=tmp_path / "c")
    assert version(later) == version(first)
    edited = [IMPORTS, DOUBLE.replace("2 * x", "x + x"), WF]
    changed = await client.serialize_notebook(edited, "wf", out_dir=tmp_path / "d")
    assert version(changed) != version(first)
    assert changed.pickle.md5 != first.pickle.md5


async def test_the_same_cells_pickle_alike_in_another_worker(client: WorkerClient, tmp_path: Path) -> None:
    """cloudpickle names classes it pickles by value with random ids; the worker derives them from the
    cells, so a new worker (another process, another hash seed) writes the same bytes."""
    other = WorkerClient(VENV_PYTHON, cache_dir=tmp_path / "cache")
    try:
        assert (await other.start()).pid != (await client.start()).pid
        mine = await client.serialize_notebook(CELLS[:3], "wf", out_dir=tmp_path / "a")
        theirs = await other.serialize_notebook(CELLS[:3], "wf", out_dir=tmp_path / "b")
    finally:
        await other.close()
    assert Path(mine.pickle.path).read_bytes() == Path(theirs.pickle.path).read_bytes()


async def test_a_failing_cell_is_named_with_its_line(client: WorkerClient, tmp_path: Path) -> None:
    broken = "y = 1\nraise ValueError('no data here')\n"
    with pytest.raises(WorkerError) as info:
        await client.serialize_notebook([IMPORTS, broken, DOUBLE], "double", out_dir=tmp_path)
    assert info.value.kind == "import"
    assert info.value.message == "running cell 1 failed (line 2): ValueError: no data here"
    with pytest.raises(WorkerError) as info:
        await client.serialize_notebook([IMPORTS, "def f(:\n"], "f", out_dir=tmp_path)
    assert info.value.message.startswith("running cell 1 failed (line 1): SyntaxError")


async def test_a_missing_entity_and_a_bad_cell_index(client: WorkerClient, tmp_path: Path) -> None:
    with pytest.raises(WorkerError) as info:
        await client.serialize_notebook(CELLS, "wf", up_to=1, out_dir=tmp_path)
    assert info.value.kind == "entity" and info.value.message == "cells 0..1 define no 'wf'"
    with pytest.raises(WorkerError) as info:
        await client.serialize_notebook(CELLS, "double", up_to=9, out_dir=tmp_path)
    assert info.value.message == "cell 9 is not one of the notebook's 5 code cells"
    with pytest.raises(WorkerError) as info:
        await client.serialize_notebook([], "double", out_dir=tmp_path)
    assert info.value.message == "no code cells to run: double is defined in none"


async def test_another_python_for_the_tasks_is_refused_early(client: WorkerClient, tmp_path: Path) -> None:
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    ok = await client.serialize_notebook(CELLS[:2], "double", python_version_check=mine, out_dir=tmp_path)
    assert ok.pickle.python_version.startswith(mine + ".")
    with pytest.raises(WorkerError) as info:
        await client.serialize_notebook(CELLS[:2], "double", python_version_check="2.7", out_dir=tmp_path)
    assert info.value.kind == "pythonVersion"
    assert f"is Python {ok.pickle.python_version} but tasks run on Python 2.7" in info.value.message


async def test_a_subprocess_isolated_worker_pickles_the_same(client: WorkerClient, tmp_path: Path) -> None:
    """Without fork (FLYTE_LS_WORKER_ISOLATION=subprocess) the cells run in a new interpreter: same bytes."""
    other = WorkerClient(
        VENV_PYTHON, cache_dir=tmp_path / "cache", env={"FLYTE_LS_WORKER_ISOLATION": "subprocess"}
    )
    try:
        theirs = await other.serialize_notebook(CELLS[:3], "wf", out_dir=tmp_path / "b")
    finally:
        await other.close()
    mine = await client.serialize_notebook(CELLS[:3], "wf", out_dir=tmp_path / "a")
    assert Path(mine.pickle.path).read_bytes() == Path(theirs.pickle.path).read_bytes()


async def test_cells_run_in_the_notebook_folder(client: WorkerClient, tmp_path: Path) -> None:
    """As in Jupyter: relative paths and modules next to the notebook resolve."""
    folder = tmp_path / "nbdir"
    folder.mkdir()
    (folder / "factor.txt").write_text("7")
    (folder / "helpers_nb.py").write_text("OFFSET = 1\n")
    cells = [
        IMPORTS,
        "from helpers_nb import OFFSET\nFACTOR = int(open('factor.txt').read())\n",
        "@task\ndef scale(x: int) -> int:\n    return FACTOR * x + OFFSET\n",
    ]
    result = await client.serialize_notebook(cells, "scale", cwd=folder, out_dir=tmp_path / "out")
    assert result.target.name == "scale"
    # the values the task uses travel in the pickle (OFFSET is an int in the cells' namespace): the task
    # loads where neither factor.txt nor helpers_nb.py exists
    (folder / "helpers_nb.py").unlink()
    out = load_with_flytekit(tmp_path / "out", "scale", "t(x=6)")
    assert out.splitlines()[1] == "scale DefaultNotebookTaskResolver 43"


async def test_map_tasks_and_called_launch_plans_pickle_the_tasks_they_run(
    client: WorkerClient, tmp_path: Path
) -> None:
    cells = [
        "from flytekit import task, workflow, map_task, LaunchPlan\n",
        DOUBLE,
        "@task\ndef inc(x: int) -> int:\n    return x + 1\n",
        "@workflow\ndef inner(x: int) -> int:\n    return double(x=x)\n\n"
        "inner_lp = LaunchPlan.get_or_create(inner, name='inner_lp')\n",
        "@workflow\ndef mapped(xs: list[int]) -> list[int]:\n    return map_task(inc)(x=xs)\n\n"
        "@workflow\ndef calls(x: int) -> int:\n    return inc(x=inner_lp(x=x))\n",
    ]
    mapped = await client.serialize_notebook(cells, "mapped", out_dir=tmp_path / "m")
    assert [t.template.container.args[-2:] for t in mapped.tasks] == [["entity-name", "inc"]]
    assert "['inc']" in load_with_flytekit(tmp_path / "m", "inc", "t(x=1)")
    calls = await client.serialize_notebook(cells, "calls", out_dir=tmp_path / "c")
    assert names(calls.tasks) == {"double", "inc"}
    assert "['double', 'inc']" in load_with_flytekit(tmp_path / "c", "double", "t(x=1)")


async def test_endless_cells_are_stopped(client: WorkerClient, tmp_path: Path) -> None:
    with pytest.raises(WorkerError) as info:
        await client.serialize_notebook(
            [IMPORTS, "while True:\n    pass\n"], "x", out_dir=tmp_path, timeout=2
        )
    assert info.value.kind == "timeout"
    assert "running the notebook's cells and pickling x took longer than 2 s" in info.value.message


async def test_modules_next_to_the_notebook_travel_in_the_pickle(
    client: WorkerClient, tmp_path: Path
) -> None:
    """A task defined in a ``.py`` file next to the notebook and imported by a cell is pickled by value (its
    module included), so it loads where that file does not exist; flytekit's own interactive mode pickles
    it by reference, and it fails there with ModuleNotFoundError."""
    folder = tmp_path / "nbdir"
    (folder / "nbpkg").mkdir(parents=True)
    (folder / "nbpkg" / "__init__.py").write_text("")
    (folder / "nbpkg" / "consts.py").write_text("FACTOR = 3\n")
    (folder / "nb_helpers.py").write_text(
        "from flytekit import task\nfrom nbpkg.consts import FACTOR\n\n\n"
        "def scale(x: int) -> int:\n    return FACTOR * x\n\n\n"
        "@task\ndef triple(x: int) -> int:\n    return scale(x)\n"
    )
    cells = [
        IMPORTS,
        "from nb_helpers import triple\n",
        "@workflow\ndef tripled(x: int) -> int:\n    return triple(x=double(x=x))\n",
    ]
    result = await client.serialize_notebook(
        [IMPORTS, DOUBLE, *cells[1:]], "tripled", cwd=folder, out_dir=tmp_path / "out"
    )
    assert names(result.tasks) == {"double", "nb_helpers.triple"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pkl.gz").write_bytes(Path(result.pickle.path).read_bytes())
    out = load_with_flytekit(elsewhere, "nb_helpers.triple", "t(x=5)")
    assert out.splitlines()[1] == "nb_helpers.triple DefaultNotebookTaskResolver 15", out
