"""register_notebook_entity on a real local backend: the worker's pkl.gz is uploaded and the specs are
registered with its URL as the tasks' distribution, under the content version; registering the same cells
again is success (the same version, nothing new); an edited cell gives a new version; what is registered
runs to SUCCEEDED on the local backend (flytekit's entrypoint loads the worker's pickle)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.core import execution_pb2

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import Backend, start_backend
from test_notebook import CELLS, DOUBLE, IMPORTS, WF
from userproj import VENV_PYTHON

from flyte_ls.remote.config import Config
from flyte_ls.remote.identifiers import ResourceType
from flyte_ls.remote.remote import AsyncFlyteRemote
from flyte_ls.run.registration import RegistrationError, register_notebook_entity
from flyte_ls.run.worker_client import WorkerClient
from flyte_ls.worker.notebook import NOTEBOOK_RESOLVER

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(240)]

PROJECT, DOMAIN = "flytesnacks", "development"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("notebook-registration") / "state")
    try:
        yield b
    finally:
        b.stop()


async def test_a_notebook_workflow_registers_with_its_pickle(backend: Backend, tmp_path: Path) -> None:
    worker = WorkerClient(VENV_PYTHON, cache_dir=tmp_path / "cache")
    remote = AsyncFlyteRemote(
        Config.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN
    )
    try:
        result = await worker.serialize_notebook(CELLS[:3], "wf", out_dir=tmp_path / "nb")
        steps: list[str] = []
        reg = await register_notebook_entity(
            remote, result, result.pickle.path, project=PROJECT, domain=DOMAIN, on_step=steps.append
        )
        assert steps == ["uploading", "registering"]
        assert reg.package_url.endswith("/pkl.gz") and not reg.packaged_files
        assert reg.target.resource_type == ResourceType.WORKFLOW and reg.target.name == "wf"
        kinds = sorted((e.resource_type.name, e.name) for e in reg.entities)
        assert kinds == [("LAUNCH_PLAN", "wf"), ("TASK", "double"), ("WORKFLOW", "wf")]
        task = await remote.fetch_task(PROJECT, DOMAIN, "double", reg.version)
        args = list(task.template.container.args)
        assert args[:3] == ["pyflyte-fast-execute", "--additional-distribution", reg.package_url]
        assert args[-5:] == ["--resolver", NOTEBOOK_RESOLVER, "--", "entity-name", "double"]
        assert task.template.id.version == reg.version

        # the same cells again, pickled in another child: the same version, registering is success
        again = await worker.serialize_notebook(CELLS[:3], "wf", out_dir=tmp_path / "nb2")
        reg2 = await register_notebook_entity(
            remote, again, again.pickle.path, project=PROJECT, domain=DOMAIN
        )
        assert (reg2.version, reg2.package_url) == (reg.version, reg.package_url)

        edited = [IMPORTS, DOUBLE.replace("2 * x", "x + x"), WF]
        changed = await worker.serialize_notebook(edited, "wf", out_dir=tmp_path / "nb3")
        reg3 = await register_notebook_entity(
            remote, changed, changed.pickle.path, project=PROJECT, domain=DOMAIN
        )
        assert reg3.version != reg.version and reg3.package_url != reg.package_url

        # what was registered runs: wf(x=3) = double(double(3)); the edited cells' double is x + x, the same
        for target in (reg.target, reg3.target):
            lp = type(target)(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, "wf", target.version)
            done = await remote.execute(lp, {"x": 5}, wait=True, timeout=180)
            assert done.closure.phase == execution_pb2.WorkflowExecution.SUCCEEDED, done.closure.error
            assert dict((await remote.sync_execution(done)).outputs or {}) == {"o0": 20}
    finally:
        await worker.close()
        await remote.aclose()


async def test_a_notebook_task_registers_and_runs(backend: Backend, tmp_path: Path) -> None:
    worker = WorkerClient(VENV_PYTHON, cache_dir=tmp_path / "cache")
    remote = AsyncFlyteRemote(
        Config.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN
    )
    try:
        cells = [IMPORTS, "FACTOR = 7\n", "@task\ndef scale(x: int) -> int:\n    return FACTOR * x\n"]
        result = await worker.serialize_notebook(cells, "scale", out_dir=tmp_path / "nb")
        reg = await register_notebook_entity(
            remote, result, result.pickle.path, project=PROJECT, domain=DOMAIN
        )
        assert [(e.resource_type, e.name) for e in reg.entities] == [(ResourceType.TASK, "scale")]
        done = await remote.execute(reg.target, {"x": 6}, wait=True, timeout=180)
        assert done.closure.phase == execution_pb2.WorkflowExecution.SUCCEEDED, done.closure.error
        # the cell's global came along in the pickle
        assert dict((await remote.sync_execution(done)).outputs or {}) == {"o0": 42}
    finally:
        await worker.close()
        await remote.aclose()


async def test_only_a_pkl_gz_is_registered_as_a_notebook_pickle(backend: Backend, tmp_path: Path) -> None:
    worker = WorkerClient(VENV_PYTHON, cache_dir=tmp_path / "cache")
    remote = AsyncFlyteRemote(
        Config.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN
    )
    try:
        result = await worker.serialize_notebook(CELLS[:2], "double", out_dir=tmp_path / "nb")
        renamed = Path(result.pickle.path).rename(tmp_path / "nb" / "entity.pkl.gz")
        with pytest.raises(RegistrationError, match=r"loads only a file named pkl\.gz"):
            await register_notebook_entity(remote, result, renamed, project=PROJECT, domain=DOMAIN)
        with pytest.raises(RegistrationError, match="serialize the notebook again"):
            await register_notebook_entity(remote, result, result.pickle.path, project=PROJECT, domain=DOMAIN)
    finally:
        await worker.close()
        await remote.aclose()
