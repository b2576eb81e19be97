"""flyte_ls.remote.remote_register (RegisterMixin) against a real `flyte-ls local start` backend, with specs
serialized by the real `pyflyte package` (tests/remote/data/regflows)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import common_pb2, launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.service import dataproxy_pb2

from flyte_ls.remote import packaging
from flyte_ls.remote.config import Config
from flyte_ls.remote.errors import FlyteInvalidInputException, FlyteUserException
from flyte_ls.remote.identifiers import Identifier, ResourceType
from flyte_ls.remote.remote import AsyncFlyteRemote, FlyteRemote
from flyte_ls.remote.remote_register import FlyteUploadException, _put

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import VENV_BIN, VENV_PYTHON, Backend, start_backend

pytestmark = pytest.mark.flytekit
PROJECT, DOMAIN = "flytesnacks", "development"
DATA = Path(__file__).parent / "data"
IMAGE = "ghcr.io/flyteorg/flytekit:py3.11-1.16.31"  # only written into the specs, never pulled
WF = core_execution_pb2.WorkflowExecution


@dataclass
class Specs:
    """`pyflyte package --copy all` output: specs by short name, the fast archive, the source tree."""

    tasks: dict[str, task_pb2.TaskSpec]
    workflows: dict[str, workflow_pb2.WorkflowSpec]
    launch_plans: dict[str, launch_plan_pb2.LaunchPlan]
    archive: Path
    source: Path


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("register") / "state")
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Specs:
    root = tmp_path_factory.mktemp("package")
    source = root / "src"
    shutil.copytree(DATA / "regflows", source / "regflows", ignore=shutil.ignore_patterns("__pycache__"))
    out = root / "out.tgz"
    proc = subprocess.run(
        [str(VENV_BIN / "pyflyte"), "--pkgs", "regflows", "package", "--image", IMAGE, "--copy", "all",
         "-f", "-o", str(out)],
        cwd=source, capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    unpacked = root / "specs"
    with tarfile.open(out) as archive:
        archive.extractall(unpacked, filter="data")

    def short(path: Path) -> str:
        return path.stem.split("regflows.flows.", 1)[1].rsplit("_", 1)[0]

    return Specs(
        tasks={short(p): task_pb2.TaskSpec.FromString(p.read_bytes()) for p in unpacked.glob("*_1.pb")},
        workflows={
            short(p): workflow_pb2.WorkflowSpec.FromString(p.read_bytes()) for p in unpacked.glob("*_2.pb")
        },
        launch_plans={
            short(p): launch_plan_pb2.LaunchPlan.FromString(p.read_bytes()) for p in unpacked.glob("*_3.pb")
        },
        archive=next(unpacked.glob("fast*.tar.gz")),
        source=source,
    )


@pytest.fixture
async def remote(backend: Backend) -> AsyncIterator[AsyncFlyteRemote]:
    r = AsyncFlyteRemote(Config.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN)
    yield r
    await r.aclose()


async def register_all(remote: AsyncFlyteRemote, specs: Specs, version: str, package_url: str) -> list[Any]:
    ids: list[Any] = []
    for spec in specs.tasks.values():
        ids.append(await remote.register_task(spec, version=version, package_url=package_url))
    for wf_spec in specs.workflows.values():
        ids.append(await remote.register_workflow(wf_spec, version=version))
    for lp in specs.launch_plans.values():
        ids.append(await remote.register_launch_plan(lp, version=version))
    return ids


@pytest.mark.timeout(60)
async def test_upload_file_puts_the_bytes_with_their_md5(remote: AsyncFlyteRemote, tmp_path: Path) -> None:
    f = tmp_path / "data.txt"
    f.write_bytes(b"hello flyte\n" * 1000)
    md5, url = await remote.upload_file(f)
    assert md5 == hashlib.md5(f.read_bytes()).digest()
    assert Path(url).read_bytes() == f.read_bytes()  # the local backend's native URLs are plain paths
    assert f"/{PROJECT}/{DOMAIN}/" in url and url.endswith("/data.txt")
    # rewritten in the same process: the new bytes are hashed (no stale cache by path)
    f.write_bytes(b"changed")
    md5b, urlb = await remote.upload_file(f, filename_root="fixed")
    assert md5b == hashlib.md5(b"changed").digest() and Path(urlb).read_bytes() == b"changed"
    assert "/fixed/data.txt" in urlb


@pytest.mark.timeout(60)
async def test_a_wrong_content_md5_is_refused_by_the_server(remote: AsyncFlyteRemote, tmp_path: Path) -> None:
    f = tmp_path / "payload.bin"
    f.write_bytes(b"payload")
    md5 = hashlib.md5(b"payload").digest()
    request = dataproxy_pb2.CreateUploadLocationRequest(
        project=PROJECT, domain=DOMAIN, filename=f.name, content_md5=md5, add_content_md5_metadata=True
    )
    location = await remote._call("CreateUploadLocation", request, kind="create")
    wrong = hashlib.md5(b"something else").digest()
    headers = packaging.upload_headers(wrong, f.stat().st_size, {}, location.native_url)
    with pytest.raises(FlyteUploadException, match=r"HTTP 400.*Content-MD5 mismatch"):
        _put(location.signed_url, f, headers, remote.config)
    assert not Path(location.native_url).exists()
    with pytest.raises(FlyteUserException, match="not a file"):
        await remote.upload_file(tmp_path)


@pytest.mark.timeout(120)
async def test_register_pyflyte_package_specs_and_reregister(remote: AsyncFlyteRemote, specs: Specs) -> None:
    _, url = await remote.upload_file(specs.archive)
    ids = await register_all(remote, specs, "p1", url)
    assert {str(i) for i in ids} == {
        f"{kind}:{PROJECT}:{DOMAIN}:regflows.flows.{name}:p1"
        for kind, name in [("tsk", "double"), ("tsk", "read_text"), ("wf", "double_wf"), ("lp", "double_wf")]
    }
    task = await remote._call("GetTask", common_pb2.ObjectGetRequest(id=ids[0].to_proto()), kind="read")
    args = list(task.closure.compiled_task.template.container.args)
    assert url in args and "{{ .remote_package_path }}" not in args
    # identical re-registration: the same ids, no error
    assert await register_all(remote, specs, "p1", url) == ids

    changed = task_pb2.TaskSpec()
    changed.CopyFrom(specs.tasks["double"])
    changed.template.container.image = "other/image:2"
    with pytest.raises(FlyteInvalidInputException, match=r"different structure.*new version"):
        await remote.register_task(changed, version="p1", package_url=url)
    # under a new version it is fine
    new = await remote.register_task(changed, version="p2", package_url=url)
    assert new.version == "p2"


@pytest.mark.timeout(60)
async def test_register_needs_a_version_and_a_package_url(remote: AsyncFlyteRemote, specs: Specs) -> None:
    with pytest.raises(FlyteUserException, match="no version"):
        await remote.register_task(specs.tasks["double"])
    with pytest.raises(FlyteUserException, match="package_url="):
        await remote.register_task(specs.tasks["double"], version="nourl")


@pytest.mark.timeout(240)
async def test_fast_package_upload_register_execute(remote: AsyncFlyteRemote, specs: Specs) -> None:
    md5, url, package = await remote.fast_package(specs.source)
    assert package.path.name == specs.archive.name  # the digest pyflyte computes for the same tree
    assert "regflows/flows.py" in package.files
    assert Path(url).name == specs.archive.name and hashlib.md5(Path(url).read_bytes()).digest() == md5
    await register_all(remote, specs, "f1", url)
    lp = Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, "regflows.flows.double_wf", "f1")
    done = await remote.execute(lp, {"x": 21}, wait=True, timeout=200)
    assert done.closure.phase == WF.SUCCEEDED
    assert dict((await remote.sync_execution(done)).outputs or {}) == {"o0": 42}


@pytest.mark.timeout(240)
async def test_execute_uploads_a_local_file_input(
    remote: AsyncFlyteRemote, specs: Specs, tmp_path: Path
) -> None:
    _, url = await remote.upload_file(specs.archive)
    task = await remote.register_task(specs.tasks["read_text"], version="file1", package_url=url)
    f = tmp_path / "note.txt"
    f.write_text("from a local file")
    done = await remote.execute(task, {"f": str(f)}, wait=True, timeout=200)
    assert done.closure.phase == WF.SUCCEEDED, done.closure.error
    assert dict((await remote.sync_execution(done)).outputs or {}) == {"o0": "from a local file"}


@pytest.mark.timeout(120)
def test_sync_api(backend: Backend, specs: Specs, tmp_path: Path) -> None:
    with FlyteRemote(Config.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN) as r:
        f = tmp_path / "s.txt"
        f.write_text("sync")
        md5, url = r.upload_file(f)
        assert Path(url).read_text() == "sync" and md5 == hashlib.md5(b"sync").digest()
        _, pkg_url = r.upload_file(specs.archive)
        ident = r.register_task(specs.tasks["double"], version="s1", package_url=pkg_url)
        assert r.register_task(specs.tasks["double"], version="s1", package_url=pkg_url) == ident
        wf = r.register_workflow(specs.workflows["double_wf"], version="s1")
        lp = r.register_launch_plan(specs.launch_plans["double_wf"], version="s1", activate=True)
        assert (wf.name, lp.name, lp.version) == ("regflows.flows.double_wf",) * 2 + ("s1",)
        active = r.fetch_active_launchplan(name=lp.name)
        assert active is not None and active.id.version == "s1"


@pytest.mark.timeout(240)
async def test_register_script_with_a_flytekit_workflow(
    remote: AsyncFlyteRemote, specs: Specs, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    monkeypatch.syspath_prepend(str(specs.source))
    flows = importlib.import_module("regflows.flows")
    assert Path(str(flows.__file__)).is_relative_to(specs.source)
    ident = await remote.fast_register_workflow(flows.double_wf)
    assert (ident.resource_type, ident.name) == (ResourceType.WORKFLOW, "regflows.flows.double_wf")
    assert len(ident.version or "") == 22  # hashed from the archive and the settings
    assert await remote.register_script(flows.double_wf) == ident  # same code, same version, no error
    lp = Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, ident.name, ident.version)  # the default LP
    done = await remote.execute(lp, {"x": 5}, wait=True, timeout=200)
    assert done.closure.phase == WF.SUCCEEDED, done.closure.error
    assert dict((await remote.sync_execution(done)).outputs or {}) == {"o0": 10}
    task = await remote.register_script(flows.read_text, version="script1")
    assert str(task) == f"tsk:{PROJECT}:{DOMAIN}:regflows.flows.read_text:script1"


@pytest.mark.timeout(60)
def test_remote_register_never_imports_flytekit() -> None:
    code = (
        "import sys, flyte_ls.remote.remote, flyte_ls.remote.remote_script;"
        " assert 'flytekit' not in sys.modules, 'flytekit imported'"
    )
    proc = subprocess.run([VENV_PYTHON, "-c", code], capture_output=True, text=True, timeout=50, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
