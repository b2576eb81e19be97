"""flyte_ls.run.registration against a real `flyte-ls local start`: specs serialized by the real worker
(flyte_ls.run.worker_client in .venv/bin/python: the edited code is imported anew per request), registered,
registered again unchanged (same version), after edits to the workflow's module and to a sibling module it
imports (new versions), and the registered launch plan run to success with the edited code."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import execution_pb2

from flyte_ls.remote.config import Config
from flyte_ls.remote.identifiers import ResourceType
from flyte_ls.remote.remote import AsyncFlyteRemote
from flyte_ls.run.registration import Registration, register
from flyte_ls.run.worker_client import WorkerClient, WorkerResult

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import VENV_PYTHON, Backend, start_backend

PROJECT, DOMAIN = "flytesnacks", "development"
pytestmark = pytest.mark.timeout(240)

FLOW = """\
from flytekit import task, workflow

from wfpkg.helpers import scale


@task
def step(x: int) -> int:
    return scale(x) + {offset}


@workflow
def wf(x: int = 2) -> int:
    return step(x=step(x=x))
"""
HELPERS = "def scale(x: int) -> int:\n    return x * {factor}\n"


def write_project(root: Path, offset: int = 1, factor: int = 2) -> None:
    pkg = root / "wfpkg"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "flow.py").write_text(FLOW.format(offset=offset))
    (pkg / "helpers.py").write_text(HELPERS.format(factor=factor))
    (root / "unrelated.py").write_text("X = 1\n")  # not imported: not packaged


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("registration") / "state")
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="module")
async def remote(backend: Backend) -> AsyncIterator[AsyncFlyteRemote]:
    async with AsyncFlyteRemote(Config.auto(str(backend.config)), PROJECT, DOMAIN) as r:
        yield r


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workspace")
    write_project(root)
    return root


@pytest.fixture(scope="module")
async def worker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkerClient]:
    client = WorkerClient(VENV_PYTHON, cache_dir=tmp_path_factory.mktemp("worker-cache"))
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def serialize(worker: WorkerClient, root: Path, entity: str, module: str = "flow") -> WorkerResult:
    return await worker.serialize(root / "wfpkg" / f"{module}.py", entity, root)


async def register_wf(
    remote: AsyncFlyteRemote, worker: WorkerClient, root: Path, steps: list[str] | None = None
) -> Registration:
    result = await serialize(worker, root, "wf")
    return await register(
        remote,
        result,
        source_root=root,
        project=PROJECT,
        domain=DOMAIN,
        on_step=None if steps is None else steps.append,
    )


async def run_lp(remote: AsyncFlyteRemote, reg: Registration) -> Any:
    lp = f"lp:{PROJECT}:{DOMAIN}:{reg.target.name}:{reg.version}"
    ex = await remote.execute(lp, {"x": 3})
    ex = await remote.wait(ex, timeout=180)
    assert ex.closure.phase == execution_pb2.WorkflowExecution.SUCCEEDED, ex.closure.error
    outputs = (await remote.sync_execution(ex)).outputs
    assert outputs is not None
    return outputs["o0"]


async def test_register_again_and_after_changes(
    remote: AsyncFlyteRemote, worker: WorkerClient, project: Path
) -> None:
    steps: list[str] = []
    first = await register_wf(remote, worker, project, steps)
    assert steps == ["packaging", "uploading", "registering"]
    assert first.packaged_files == ["wfpkg/__init__.py", "wfpkg/flow.py", "wfpkg/helpers.py"]
    assert len(first.version) == 22
    assert first.target.resource_type == ResourceType.WORKFLOW
    assert first.target.name == "wfpkg.flow.wf" and first.target.version == first.version
    kinds = sorted(e.resource_type.name for e in first.entities)
    assert kinds == ["LAUNCH_PLAN", "TASK", "WORKFLOW"]
    assert all(e.version == first.version and e.project == PROJECT for e in first.entities)
    assert first.console_url.endswith(f"/workflow/wfpkg.flow.wf/version/{first.version}")
    assert first.package_url and first.digest in first.package_url

    # unchanged code: the same version, ALREADY_EXISTS everywhere is success
    again = await register_wf(remote, worker, project)
    assert again.version == first.version and again.entities == first.entities

    # the workflow's own module changes
    write_project(project, offset=10)
    edited = await register_wf(remote, worker, project)
    assert edited.version != first.version

    # only a sibling module it imports changes
    write_project(project, offset=10, factor=5)
    sibling = await register_wf(remote, worker, project)
    assert sibling.version not in (first.version, edited.version)
    assert sibling.digest != edited.digest

    # back to the first code: its version again
    write_project(project)
    back = await register_wf(remote, worker, project)
    assert back.version == first.version

    # the registered launch plan runs the packaged code: step(step(3)) with scale = x*5, offset 10
    assert await run_lp(remote, sibling) == (3 * 5 + 10) * 5 + 10
    fetched = await remote.fetch_launch_plan(PROJECT, DOMAIN, "wfpkg.flow.wf", sibling.version)
    assert fetched.id.version == sibling.version


async def test_explicit_version(remote: AsyncFlyteRemote, worker: WorkerClient, tmp_path: Path) -> None:
    write_project(tmp_path, offset=7)
    reg = await register(
        remote,
        await serialize(worker, tmp_path, "wf"),
        source_root=tmp_path,
        project=PROJECT,
        domain=DOMAIN,
        version="explicit-v1",
    )
    assert reg.version == "explicit-v1"
    assert {e.version for e in reg.entities} == {"explicit-v1"}
    assert await run_lp(remote, reg) == (3 * 2 + 7) * 2 + 7


async def test_task_target(remote: AsyncFlyteRemote, worker: WorkerClient, project: Path) -> None:
    write_project(project, offset=3)
    reg = await register(
        remote, await serialize(worker, project, "step"), source_root=project, project=PROJECT, domain=DOMAIN
    )
    assert reg.target.resource_type == ResourceType.TASK and reg.target.name == "wfpkg.flow.step"
    assert [e.resource_type for e in reg.entities] == [ResourceType.TASK]
    ex = await remote.execute(f"tsk:{PROJECT}:{DOMAIN}:wfpkg.flow.step:{reg.version}", {"x": 4})
    ex = await remote.wait(ex, timeout=180)
    assert ex.closure.phase == execution_pb2.WorkflowExecution.SUCCEEDED, ex.closure.error
    outputs = (await remote.sync_execution(ex)).outputs
    assert outputs is not None and outputs["o0"] == 4 * 2 + 3


NESTED = """\
from flytekit import LaunchPlan, workflow

from wfpkg.flow import wf

inner = LaunchPlan.get_or_create(wf, name="wfpkg.nested.inner")


@workflow
def outer(x: int = 1) -> int:
    return inner(x=x)
"""


async def test_launch_plan_called_by_a_workflow(
    remote: AsyncFlyteRemote, worker: WorkerClient, tmp_path: Path
) -> None:
    """The called launch plan is registered before the workflow that calls it, after its own workflow."""
    write_project(tmp_path, offset=4)
    (tmp_path / "wfpkg" / "nested.py").write_text(NESTED)
    result = await serialize(worker, tmp_path, "outer", "nested")
    assert {lp.id.name for lp, _ in result.launch_plans} >= {"wfpkg.nested.inner", "wfpkg.nested.outer"}
    reg = await register(remote, result, source_root=tmp_path, project=PROJECT, domain=DOMAIN)
    names = {(e.resource_type.name, e.name) for e in reg.entities}
    assert {("WORKFLOW", "wfpkg.flow.wf"), ("LAUNCH_PLAN", "wfpkg.nested.inner")} <= names
    assert {("WORKFLOW", "wfpkg.nested.outer"), ("LAUNCH_PLAN", "wfpkg.nested.outer")} <= names
    assert "wfpkg/nested.py" in reg.packaged_files and "wfpkg/helpers.py" in reg.packaged_files
    assert await run_lp(remote, reg) == (3 * 2 + 4) * 2 + 4
