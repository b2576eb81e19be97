"""The worker in a real interpreter (the test venv's, with flytekit): what it serializes and how it reports
the user's mistakes. One warm worker for the module."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from flyteidl.core import identifier_pb2

sys.path.insert(0, str(Path(__file__).parent))
from userproj import VENV_PYTHON, write_project

from flyte_ls.remote.identifiers import ResourceType
from flyte_ls.run.worker_client import WorkerClient, WorkerError, WorkerResult

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(120)]

PLACEHOLDERS = ("{{ registration.project }}", "{{ registration.domain }}", "{{ registration.version }}")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("proj"))


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkerClient]:
    logs: list[str] = []
    c = WorkerClient(VENV_PYTHON, cache_dir=tmp_path_factory.mktemp("cache"), on_log=logs.append)
    c.logs = logs  # type: ignore[attr-defined]
    yield c
    await c.close()


def names(specs: list) -> set[str]:  # type: ignore[type-arg]
    return {spec.template.id.name for spec in specs}


def literal_int(result: WorkerResult, name: str) -> int:
    return int(result.defaults[name].scalar.primitive.integer)


async def test_hello_names_the_interpreter_and_flytekit(client: WorkerClient) -> None:
    info = await client.start()
    assert info.python == VENV_PYTHON and info.flytekit_version.startswith("1.")
    assert client.python == VENV_PYTHON and client.running
    package = next((client.cache_dir or Path()).glob("worker/*/flyte_ls_worker/__main__.py"))
    assert package.is_file()  # the copy it runs from, outside the server's environment


async def test_a_task_with_its_signature_defaults(client: WorkerClient, root: Path) -> None:
    result = await client.serialize(root / "app" / "flows.py", "triple", root)
    assert result.target.resource_type == ResourceType.TASK and result.target.name == "app.flows.triple"
    assert names(result.tasks) == {"app.flows.triple"} and not result.workflows and not result.launch_plans
    template = result.tasks[0].template
    ident = template.id
    assert (ident.project, ident.domain, ident.version) == PLACEHOLDERS
    assert ident.resource_type == identifier_pb2.TASK
    args = list(template.container.args)
    assert args[:5] == [
        "pyflyte-fast-execute", "--additional-distribution", "{{ .remote_package_path }}", "--dest-dir", ".",
    ]  # fmt: skip
    assert template.container.image == result.image and result.image
    assert set(result.interface.inputs.variables) == {"x", "note"}
    assert literal_int(result, "x") == 3  # what pyflyte run applies client side
    assert result.defaults["note"].scalar.HasField("none_type")
    assert set(result.files) == {str(root / p) for p in ("app/__init__.py", "app/helpers.py", "app/flows.py")}


async def test_a_workflow_with_what_it_needs(client: WorkerClient, root: Path) -> None:
    result = await client.serialize(root / "app" / "flows.py", "main", root, image="ghcr.io/me/img:1")
    assert result.target == type(result.target)(ResourceType.WORKFLOW, "app.flows.main")
    assert names(result.tasks) == {"app.flows.triple", "app.helpers.add_one"}
    assert names(result.workflows) == {"app.flows.main", "app.flows.inner"}  # the sub-workflow too
    main = next(w for w in result.workflows if w.template.id.name == "app.flows.main")
    assert [s.id.name for s in main.sub_workflows] == ["app.flows.inner"]
    lps = {lp.id.name: (lp, auto) for lp, auto in result.launch_plans}
    assert set(lps) == {"app.flows.main", "app.inner_lp"}  # the default one and the one it calls
    assert lps["app.flows.main"][0].spec.workflow_id.name == "app.flows.main"
    assert lps["app.inner_lp"][0].id.version == "{{ registration.version }}"
    assert {t.template.container.image for t in result.tasks} == {"ghcr.io/me/img:1"} == {result.image}
    assert literal_int(result, "x") == 2  # the default launch plan's default
    assert set(result.interface.inputs.variables) == {"x"}
    assert str(root / "lonely.py") not in result.files


async def test_a_launch_plan_without_its_fixed_inputs(client: WorkerClient, root: Path) -> None:
    result = await client.serialize(root / "app" / "flows.py", "fixed_lp", root)
    assert result.target == type(result.target)(ResourceType.LAUNCH_PLAN, "app.main_fixed")
    assert "app.main_fixed" in {lp.id.name for lp, _ in result.launch_plans}
    assert not result.interface.inputs.variables and not result.defaults  # x is fixed
    assert set(result.interface.outputs.variables) == {"o0"}


async def test_a_top_level_module(client: WorkerClient, root: Path) -> None:
    result = await client.serialize(root / "lonely.py", "alone", root)
    assert result.target.name == "lonely.alone" and result.files == [str(root / "lonely.py")]


async def test_an_edit_between_requests_is_picked_up(client: WorkerClient, root: Path) -> None:
    path = root / "app" / "editable.py"
    source = "from flytekit import task\n\n\n@task\ndef t(x: int = {}) -> int:\n    return x\n"
    path.write_text(source.format(1))
    pid = (await client.start()).pid
    assert literal_int(await client.serialize(path, "t", root), "x") == 1
    path.write_text(source.format(2))
    assert literal_int(await client.serialize(path, "t", root), "x") == 2
    assert (await client.start()).pid == pid  # the same warm worker; a fresh child per request


async def test_an_import_error_points_at_the_users_line(client: WorkerClient, root: Path) -> None:
    with pytest.raises(WorkerError) as info:
        await client.serialize(root / "app" / "broken.py", "anything", root)
    err = info.value
    assert err.kind == "import" and "broken at import" in err.message and "app.broken" in err.message
    assert err.frames[-1] == {"file": str(root / "app" / "broken.py"), "line": 3, "name": "<module>"}
    assert all("flyte_ls_worker" not in f["file"] for f in err.frames)
    assert "ValueError: broken at import" in err.traceback


async def test_a_syntax_error_points_at_its_line(client: WorkerClient, root: Path) -> None:
    with pytest.raises(WorkerError) as info:
        await client.serialize(root / "app" / "syntax.py", "oops", root)
    assert info.value.kind == "import" and "SyntaxError" in info.value.message
    assert info.value.frames[-1]["file"] == str(root / "app" / "syntax.py")
    assert info.value.frames[-1]["line"] == 1


async def test_a_missing_entity_and_a_plain_function(client: WorkerClient, root: Path) -> None:
    with pytest.raises(WorkerError) as info:
        await client.serialize(root / "app" / "flows.py", "nope", root)
    assert info.value.kind == "entity" and "'nope'" in info.value.message
    with pytest.raises(WorkerError) as info:
        await client.serialize(root / "app" / "flows.py", "not_an_entity", root)
    assert info.value.kind == "entity" and "not a task, workflow or launch plan" in info.value.message


async def test_a_file_outside_the_source_root(client: WorkerClient, root: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.py").write_text("x = 1\n")
    with pytest.raises(WorkerError) as info:
        await client.serialize(tmp_path / "elsewhere.py", "x", root)
    assert info.value.kind == "import"


async def test_user_prints_never_corrupt_the_protocol(client: WorkerClient, root: Path) -> None:
    result = await client.serialize(root / "app" / "noisy.py", "quiet", root)
    assert result.target.name == "app.noisy.quiet"
    logs: list[str] = client.logs  # type: ignore[attr-defined]
    assert "printed at import" in logs and "written to fd 1 at import" in logs


async def test_the_subprocess_isolation_where_fork_is_missing(root: Path, tmp_path: Path) -> None:
    client = WorkerClient(VENV_PYTHON, cache_dir=tmp_path, env={"FLYTE_LS_WORKER_ISOLATION": "subprocess"})
    try:
        path = root / "app" / "edit2.py"
        source = "from flytekit import task\n\n\n@task\ndef t(x: int = {}) -> int:\n    return x\n"
        path.write_text(source.format(5))
        assert literal_int(await client.serialize(path, "t", root), "x") == 5
        path.write_text(source.format(6))
        assert literal_int(await client.serialize(path, "t", root), "x") == 6
        with pytest.raises(WorkerError) as info:
            await client.serialize(root / "app" / "broken.py", "x", root)
        assert info.value.frames[-1]["line"] == 3
    finally:
        await client.close()


def test_the_worker_package_is_self_contained() -> None:
    """Nothing in flyte_ls/worker imports flyte_ls (it runs alone, copied, in the user's interpreter)."""
    folder = Path(__file__).resolve().parents[2] / "flyte_ls" / "worker"
    for path in folder.glob("*.py"):
        text = textwrap.dedent(path.read_text())
        assert "import flyte_ls" not in text and "from flyte_ls" not in text, path


def test_loaded_files_leave_out_an_environment_under_the_source_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project's own .venv (under its root) holds flytekit and the rest: never packaged as user code."""
    import types

    from flyte_ls.worker.serialize import loaded_files

    files = {
        "mine": tmp_path / "pkg" / "mine.py",
        "vendored": tmp_path / ".venv" / "lib" / "python3.11" / "site-packages" / "vendored.py",
        "prefixed": tmp_path / "env" / "lib" / "prefixed.py",
    }
    for name, path in files.items():
        module = types.ModuleType(f"_fake_{name}")
        module.__file__ = str(path)
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    assert loaded_files(str(tmp_path)) == [str(files["mine"])]
