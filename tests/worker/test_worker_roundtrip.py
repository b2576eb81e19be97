"""The specs a real worker returns, registered with flyte_ls.remote on a real local backend (an archive of
the files the import loaded, uploaded; tasks, workflows and launch plans registered) and executed to
SUCCEEDED: the placeholders the worker leaves are the ones the client fills."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.core import execution_pb2

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import Backend, start_backend
from userproj import VENV_PYTHON, write_project

from flyte_ls.remote.config import Config
from flyte_ls.remote.identifiers import Identifier, ResourceType
from flyte_ls.remote.remote import AsyncFlyteRemote
from flyte_ls.run.worker_client import WorkerClient, WorkerResult

pytestmark = [pytest.mark.flytekit]

PROJECT, DOMAIN = "flytesnacks", "development"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("worker-roundtrip") / "state")
    try:
        yield b
    finally:
        b.stop()


async def register(remote: AsyncFlyteRemote, result: WorkerResult, root: Path, version: str) -> None:
    """Upload the loaded files and register everything, launch plans before the workflows that call them."""
    _, url, package = await remote.fast_package(root, mode="loaded-modules", modules=result.files)
    assert sorted(package.files) == sorted(str(Path(f).relative_to(root)) for f in result.files)
    for task in result.tasks:
        await remote.register_task(task, version=version, package_url=url)
    workflows = {w.template.id.name: w for w in result.workflows}
    plans = {lp.id.name: lp for lp, _ in result.launch_plans}
    done_wf: set[str] = set()
    done_lp: set[str] = set()
    while len(done_wf) < len(workflows) or len(done_lp) < len(plans):
        progressed = False
        for name, wf in workflows.items():
            called = {
                node.workflow_node.launchplan_ref.name
                for template in (wf.template, *wf.sub_workflows)
                for node in template.nodes
                if node.workflow_node.HasField("launchplan_ref")
            }
            if name not in done_wf and called <= done_lp:
                await remote.register_workflow(wf, version=version)
                done_wf.add(name)
                progressed = True
        for name, lp in plans.items():
            if name not in done_lp and lp.spec.workflow_id.name in done_wf:
                await remote.register_launch_plan(lp, version=version)
                done_lp.add(name)
                progressed = True
        assert progressed, f"cannot order {set(workflows) - done_wf} {set(plans) - done_lp}"


@pytest.mark.timeout(300)
async def test_worker_specs_register_and_run_to_success(backend: Backend, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj")
    worker = WorkerClient(VENV_PYTHON, cache_dir=tmp_path / "cache")
    remote = AsyncFlyteRemote(
        Config.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN
    )
    try:
        result = await worker.serialize(root / "app" / "flows.py", "main", root, PROJECT, DOMAIN)
        await register(remote, result, root, "w1")
        lp = Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, result.target.name, "w1")
        done = await remote.execute(lp, {"x": 2}, wait=True, timeout=240)
        assert done.closure.phase == execution_pb2.WorkflowExecution.SUCCEEDED, done.closure.error
        # main(2) = inner_lp(inner(2)) = add_one(triple(add_one(triple(2)))) = add_one(3 * 7) = 22
        assert dict((await remote.sync_execution(done)).outputs or {}) == {"o0": 22}
    finally:
        await worker.close()
        await remote.aclose()
