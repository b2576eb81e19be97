"""flyte_ls.remote.remote_data (DataMixin: download, launch_backfill) against a real `flyte-ls local
start` backend, with the workflows of tests/remote/data/dataflows registered by the real `pyflyte register`;
backfills compared with flytekit's own FlyteRemote.launch_backfill on the same backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.core import workflow_pb2 as core_wf_pb2

from flyte_ls.remote.config import Config
from flyte_ls.remote.entities import FlyteWorkflowExecution
from flyte_ls.remote.remote import AsyncFlyteRemote, FlyteRemote
from flyte_ls.remote.remote_data import BackfillPlan

from .registered import DOMAIN, PROJECT, VERSION, Backend, finished_execution, registered_backend, remote_for

pytestmark = pytest.mark.flytekit
WF = core_execution_pb2.WorkflowExecution
LP = "dataflows.stamp_lp"


Remote = AsyncFlyteRemote


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with registered_backend(tmp_path_factory, "dataflows") as b:
        yield b


@pytest.fixture
async def remote(backend: Backend) -> AsyncIterator[Remote]:
    async with remote_for(backend.config) as r:
        yield r


@pytest.fixture(scope="module")
def files_execution(backend: Backend) -> str:
    """One finished run of files_wf (shared by the download tests)."""
    return finished_execution(backend.config, "dataflows.flows.files_wf", {"n": 3})


@pytest.mark.timeout(300)
async def test_download_file_directory_and_list(remote: Remote, files_execution: str, tmp_path: Path) -> None:
    saved = await remote.download(files_execution, tmp_path / "out")
    out = (tmp_path / "out").resolve()
    assert set(saved) == {"o0", "o1", "o2", "o3"}
    assert saved["o0"] == out / "o0" and (out / "o0").read_text() == "hello world"
    files = sorted(str(p.relative_to(out / "o1")) for p in (out / "o1").rglob("*") if p.is_file())
    assert files == ["f0.txt", "f2.txt", "sub/f1.txt"]
    assert (out / "o1" / "sub" / "f1.txt").read_text() == "file 1"
    assert [(out / "o2" / str(i)).read_text() for i in range(3)] == ["part 0", "part 1", "part 2"]
    assert saved["o3"] == out / "o3.json" and (out / "o3.json").read_text().strip() == "3"
    # inputs too, and recursive=False leaves collections out
    inputs = await remote.download(files_execution, tmp_path / "in", which="inputs")
    assert (tmp_path / "in" / "text.json").read_text().strip() == '"hello world"' and set(inputs) == {
        "text",
        "n",
    }
    flat = await remote.download(files_execution, tmp_path / "flat", recursive=False)
    assert set(flat) == {"o0", "o1", "o3"}


@pytest.mark.timeout(60)
async def test_download_node_outputs(remote: Remote, files_execution: str, tmp_path: Path) -> None:
    """A node execution's outputs (GetNodeExecutionData): make_file's o0."""
    exec_id = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=files_execution)
    node = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=exec_id)
    saved = await remote.download(node, tmp_path)
    assert list(saved) == ["o0"] and saved["o0"].read_text() == "hello world"
    with pytest.raises(TypeError, match="cannot download"):
        await remote.download(3.5, tmp_path)
    with pytest.raises(ValueError, match="which"):
        await remote.download(node, tmp_path, which="logs")


@pytest.mark.timeout(60)
async def test_download_refuses_traversal(remote: Remote, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    one = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
    for bad in ("..", "../victim", "a/b", ""):
        with pytest.raises(ValueError, match="refusing"):
            await remote.download({bad: one}, tmp_path / "t")
    nested = literals_pb2.Literal(map=literals_pb2.LiteralMap(literals={"../../victim": one}))
    with pytest.raises(ValueError, match="refusing"):
        await remote.download({"m": nested}, tmp_path / "t")
    assert not victim.exists()
    # a directory blob (multipart) is copied with its tree, inside the target
    blob = literals_pb2.Literal()
    blob.scalar.blob.uri = str(tmp_path / "src")
    blob.scalar.blob.metadata.type.dimensionality = 1
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.txt").write_text("ok")
    saved = await remote.download({"d": blob}, tmp_path / "t2")
    assert (saved["d"] / "ok.txt").read_text() == "ok"


@pytest.mark.timeout(60)
async def test_backfill_dry_run(remote: Remote) -> None:
    plan = await remote.launch_backfill(
        PROJECT, DOMAIN, datetime(2024, 1, 1), datetime(2024, 1, 5), LP, VERSION, dry_run=True
    )
    assert isinstance(plan, BackfillPlan)
    assert plan.kickoff_times == [datetime(2024, 1, d, 8) for d in (1, 2, 3, 4)]
    assert "=" not in plan.version and plan.workflow.name == f"backfill-{LP}"
    nodes = plan.template.nodes
    assert [n.id for n in nodes] == ["n0", "n1", "n2", "n3"]
    assert [list(n.upstream_node_ids) for n in nodes] == [[], ["n0"], ["n1"], ["n2"]]
    assert (
        nodes[0].metadata.name == "b-2024-01-01 08:00:00" and nodes[0].workflow_node.launchplan_ref.name == LP
    )
    assert nodes[0].inputs[0].var == "t"
    assert nodes[0].inputs[0].binding.scalar.primitive.datetime.ToDatetime() == datetime(2024, 1, 1, 8)
    parallel = await remote.launch_backfill(
        PROJECT, DOMAIN, datetime(2024, 1, 1), datetime(2024, 1, 3), LP, VERSION, dry_run=True, parallel=True,
        failure_policy=core_wf_pb2.WorkflowMetadata.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
    )  # fmt: skip
    assert isinstance(parallel, BackfillPlan)
    assert [list(n.upstream_node_ids) for n in parallel.template.nodes] == [[], []]
    assert (
        parallel.template.metadata.on_failure
        == core_wf_pb2.WorkflowMetadata.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
    )
    # a schedule may be given; reversed dates, no tick, and '=' versions are refused
    hourly = await remote.launch_backfill(
        PROJECT, DOMAIN, datetime(2024, 1, 1), datetime(2024, 1, 1, 3), LP, dry_run=True, schedule="0 * * * *"
    )
    assert isinstance(hourly, BackfillPlan) and len(hourly.kickoff_times) == 2
    with pytest.raises(ValueError, match="before"):
        await remote.launch_backfill(PROJECT, DOMAIN, datetime(2024, 1, 2), datetime(2024, 1, 1), LP)
    with pytest.raises(ValueError, match="no tick"):
        await remote.launch_backfill(PROJECT, DOMAIN, datetime(2024, 1, 1, 9), datetime(2024, 1, 1, 10), LP)
    with pytest.raises(ValueError, match="URL-safe"):
        await remote.launch_backfill(
            PROJECT, DOMAIN, datetime(2024, 1, 1), datetime(2024, 1, 3), LP, version="a="
        )
    with pytest.raises(ValueError, match="no schedule"):
        await remote.launch_backfill(
            PROJECT,
            DOMAIN,
            datetime(2024, 1, 1),
            datetime(2024, 1, 3),
            "dataflows.flows.files_wf",
            dry_run=True,
        )


async def _children(remote: Remote, ex: FlyteWorkflowExecution) -> list[str | None]:
    """The output of each node's child execution, in node order."""
    ex = await remote.sync_execution(ex, sync_nodes=True)
    days: list[str | None] = []
    for node_id in sorted(n for n in ex.node_executions if n.startswith("n")):
        child_id = ex.node_executions[node_id].closure.workflow_node_metadata.executionId
        child = await remote.sync_execution(child_id)
        assert child.closure.phase == WF.SUCCEEDED, child.closure.error
        days.append((child.outputs or {}).get("o0"))
    return days


@pytest.mark.timeout(300)
@pytest.mark.parametrize("parallel", [True, False])
async def test_backfill_runs_like_flytekit(remote: Remote, backend: Backend, parallel: bool) -> None:
    start, end = datetime(2024, 2, 1), datetime(2024, 2, 4)
    name = f"backfill-{'par' if parallel else 'seq'}"
    ex = await remote.launch_backfill(
        PROJECT, DOMAIN, start, end, LP, VERSION, execution_name=name, parallel=parallel
    )
    assert isinstance(ex, FlyteWorkflowExecution) and ex.id.name == name
    ex = await remote.wait(ex, timeout=240)
    assert ex.closure.phase == WF.SUCCEEDED, ex.closure.error
    ours = await _children(remote, ex)
    assert ours == ["fixed:2024-02-01 08:00", "fixed:2024-02-02 08:00", "fixed:2024-02-03 08:00"]

    # flytekit's own backfill on the same backend (its default version has '=' padding: give one)
    from flytekit.configuration import Config as FkConfig
    from flytekit.remote import FlyteRemote as FkRemote

    fk = FkRemote(FkConfig.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN)
    fk_ex = fk.launch_backfill(
        PROJECT, DOMAIN, start, end, LP, VERSION, version=f"fk-{parallel}", parallel=parallel
    )
    fk_ex = await remote.wait(fk_ex.id.name, timeout=240)
    assert fk_ex.closure.phase == WF.SUCCEEDED, fk_ex.closure.error
    assert await _children(remote, fk_ex) == ours
    ours_wf = await remote.fetch_workflow(PROJECT, DOMAIN, f"backfill-{LP}", ex.spec.launch_plan.version)
    fk_wf = await remote.fetch_workflow(PROJECT, DOMAIN, f"backfill-{LP}", f"fk-{parallel}")
    shape = [(n.id, list(n.upstream_node_ids), n.metadata.name) for n in ours_wf.template.nodes]
    fk_shape = [(n.id, list(n.upstream_node_ids), n.metadata.name) for n in fk_wf.template.nodes]
    assert shape == fk_shape


@pytest.mark.timeout(120)
def test_sync_facade_download_and_dry_run(backend: Backend, files_execution: str, tmp_path: Path) -> None:
    """The synchronous FlyteRemote has both methods (generated from the async ones)."""
    with FlyteRemote(Config.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN) as r:
        saved = r.download(files_execution, tmp_path)
        assert (saved["o0"]).read_text() == "hello world"
        plan = r.launch_backfill(
            PROJECT, DOMAIN, datetime(2024, 1, 1), datetime(2024, 1, 3), LP, dry_run=True
        )
        assert isinstance(plan, BackfillPlan) and len(plan.template.nodes) == 2


def test_failure_policy_takes_ints_names_and_flytekits_enum() -> None:
    from flytekit.core.workflow import WorkflowFailurePolicy

    from flyte_ls.remote.remote_data import _failure_policy

    after = core_wf_pb2.WorkflowMetadata.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
    assert _failure_policy(None) is None
    assert _failure_policy(WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE) == after
    assert _failure_policy(after) == after == _failure_policy("FAIL_AFTER_EXECUTABLE_NODES_COMPLETE")
    assert _failure_policy(WorkflowFailurePolicy.FAIL_IMMEDIATELY) == 0
    for bad in (7, "SOMETIMES", True, 1.0):
        with pytest.raises(ValueError, match="failure_policy"):
            _failure_policy(bad)
