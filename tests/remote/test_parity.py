"""Parity: the same scenarios through flytekit's ``FlyteRemote`` and ``flyte_ls.remote.FlyteRemote`` against
the same real ``flyte-ls local start`` backend, with entities registered by the real ``pyflyte register``.

Each row of :data:`SCENARIOS` is one function that drives a client with flytekit's method names and returns
what matters — ids, interfaces, phases, outputs, console URLs, signals, spans, downloaded files — normalised
to protos and plain values (:func:`idl`, :func:`outputs_of`); the test runs it through both clients (at the
same time, in two threads, so the executions overlap) and asserts the results are equal, then checks them
against :data:`EXPECTED` so that "equal" is not "equally wrong". flytekit's own types are passed to ours
where a script would pass them (``Filter`` and ``Sort`` models, ``timedelta`` deadlines).

The differences on purpose are asserted where they occur, one line each: ``get`` of a missing URL (flytekit
logs and returns ``None``, ours raises :class:`FlyteEntityNotExistException`), ``sync_execution`` nodes
(flytekit lists the ``start-node``/``end-node`` pseudo-nodes), ``download`` (flytekit skips primitives and
puts a file output in a folder named after the output), flytekit's models (microsecond timestamps, fewer
closure fields) and ``get``'s ``as_python`` switch.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import execution_pb2 as core_execution_pb2

from flyte_ls.remote.config import Config
from flyte_ls.remote.errors import FlyteEntityNotExistException
from flyte_ls.remote.remote import FlyteRemote
from flyte_ls.remote.remote_data import BackfillPlan

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import VENV_BIN, Backend, start_backend

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(120)]

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
PKG = "parity"
WF = core_execution_pb2.WorkflowExecution
POLL = timedelta(milliseconds=300)
WAIT_S = 90
FLOWS = """
import time
from datetime import datetime, timedelta

from flytekit import CronSchedule, LaunchPlan, approve, conditional, task, workflow
from flytekit.types.file import FlyteFile


@task
def summary(xs: list[int], label: str) -> dict[str, int]:
    return {label: sum(xs), "n": len(xs)}


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def nap(seconds: int) -> int:
    time.sleep(seconds)
    return seconds


@task
def stamp(t: datetime, label: str) -> str:
    return f"{label}:{t:%Y-%m-%d %H:%M}"


@task
def note(text: str) -> tuple[FlyteFile, int]:
    import os, tempfile

    path = os.path.join(tempfile.mkdtemp(), "note.txt")
    with open(path, "w") as fh:
        fh.write(text)
    return FlyteFile(path), len(text)


@workflow
def note_wf(text: str) -> tuple[FlyteFile, int]:
    return note(text=text)


@workflow
def add_wf(x: int, y: int = 2) -> tuple[int, str]:
    s = add(x=add(x=x, y=y), y=y)
    return s, "done"


add_lp = LaunchPlan.get_or_create(add_wf, name="parity.flows.add_lp", default_inputs={"y": 10})


@workflow
def outer_wf(x: int = 1) -> int:
    s, _ = add_lp(x=x)
    return conditional("sign").if_(x > 0).then(add(x=s, y=1)).else_().then(add(x=s, y=2))


@workflow
def gate_wf(x: int) -> int:
    return approve(add(x=x, y=1), "ok", timeout=timedelta(minutes=5))


@workflow
def nap_wf(seconds: int = 60) -> int:
    return nap(seconds=seconds)


@workflow
def stamp_wf(t: datetime, label: str = "x") -> str:
    return stamp(t=t, label=label)


stamp_lp = LaunchPlan.get_or_create(
    stamp_wf,
    name="parity.flows.stamp_lp",
    schedule=CronSchedule(schedule="0 8 * * *", kickoff_time_input_arg="t"),
    fixed_inputs={"label": "fixed"},
)
"""


@dataclass
class Env:
    backend: Backend
    flytekit: Any  # flytekit.remote.FlyteRemote
    ours: FlyteRemote
    source: Path  # the folder the package is in


@dataclass
class Client:
    remote: Any
    flytekit: bool  # which API this is (for the few lines where the two differ on purpose)
    tag: str  # "fk" or "ls": keeps the execution names of the two clients apart
    work: Path  # a scratch folder
    source: Path  # the folder the package is in
    env_flytekit: Any = None  # flytekit's client, for flytekit objects both clients are handed


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    from flytekit.configuration import Config as FkConfig
    from flytekit.remote import FlyteRemote as FkRemote

    work = tmp_path_factory.mktemp("parity")
    backend = start_backend(work / "state")
    try:
        pkg = work / "proj" / PKG
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "flows.py").write_text(FLOWS)
        cmd = [str(VENV_BIN / "pyflyte"), "--config", str(backend.config), "register", "--project", PROJECT]
        cmd += ["--domain", DOMAIN, "--version", VERSION, "--activate-launchplans", PKG]
        proc = subprocess.run(cmd, cwd=pkg.parent, capture_output=True, text=True, timeout=200, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        fk = FkRemote(FkConfig.auto(str(backend.config)), default_project=PROJECT, default_domain=DOMAIN)
        ours = FlyteRemote(Config.auto(backend.config), default_project=PROJECT, default_domain=DOMAIN)
        try:
            yield Env(backend, fk, ours, pkg.parent)
        finally:
            ours.close()
    finally:
        backend.stop()


# --- normalising the two APIs' results -------------------------------------------------------------------


def idl(obj: Any) -> Any:
    """A flytekit model or one of our identifiers as its proto; protos and plain values as they are."""
    if hasattr(obj, "to_flyte_idl"):
        return obj.to_flyte_idl()
    if hasattr(obj, "to_proto"):
        return obj.to_proto()
    return obj


def outputs_of(client: Client, execution: Any) -> dict[str, Any]:
    """An execution's outputs as plain Python (flytekit: through its LiteralsResolver's type guess)."""
    synced = client.remote.sync_execution(execution)
    if client.flytekit:
        resolver = synced.outputs
        return {name: resolver.get(name) for name in resolver.literals}
    return dict(synced.outputs or {})


def name(qualified: str) -> str:
    return f"{PKG}.flows.{qualified}"


def wait(client: Client, execution: Any) -> Any:
    return client.remote.wait(execution, timeout=WAIT_S, poll_interval=POLL)


def run(client: Client, execution: Any) -> dict[str, Any]:
    """Wait for an execution; its phase, launch plan, console URL (name blanked) and outputs."""
    done = wait(client, execution)
    url = client.remote.generate_console_url(done).replace(done.id.name, "<name>")
    result = {"phase": done.closure.phase, "launch_plan": idl(done.spec.launch_plan), "url": url}
    if done.closure.phase == WF.SUCCEEDED:
        result["outputs"] = outputs_of(client, done)
    return result


# --- the scenarios ---------------------------------------------------------------------------------------


def fetch_task(c: Client) -> Any:
    task = c.remote.fetch_task(name=name("summary"))  # latest version
    pinned = c.remote.fetch_task(PROJECT, DOMAIN, name("summary"), VERSION)
    lazy = c.remote.fetch_task_lazy(name=name("add"), version=VERSION)
    return [
        idl(task.id),
        idl(task.interface),
        idl(pinned.id),
        idl(lazy.id),
        c.remote.generate_console_url(task),
    ]


def fetch_workflow(c: Client) -> Any:
    wf = c.remote.fetch_workflow(name=name("add_wf"), version="latest")
    if c.flytekit:
        nodes = sorted(n.id for n in wf.flyte_nodes)
    else:
        nodes = sorted(wf.nodes.keys() - {"start-node", "end-node"})
    lazy = c.remote.fetch_workflow_lazy(name=name("gate_wf"))
    # a launch plan node and a branch
    outer = c.remote.fetch_workflow(name=name("outer_wf"))
    if c.flytekit:
        outer_nodes = sorted(n.id for n in outer.flyte_nodes)
    else:
        outer_nodes = sorted(outer.nodes.keys() - PSEUDO_NODES)
    return [
        idl(wf.id),
        idl(wf.interface),
        nodes,
        idl(lazy.id),
        c.remote.generate_console_url(wf),
        [idl(outer.interface), outer_nodes],
    ]


def fetch_launch_plan(c: Client) -> Any:
    lp = c.remote.fetch_launch_plan(name=name("add_lp"))
    active = c.remote.fetch_active_launchplan(name=name("add_lp"))
    none = c.remote.fetch_active_launchplan(name=name("no_such_lp"))
    return [
        idl(lp.id),
        idl(lp.interface),
        idl(lp.default_inputs),
        idl(active.id),
        none,
        c.remote.generate_console_url(lp),
    ]


def listing(c: Client) -> Any:
    from flytekit.models.admin.common import Sort

    tasks = sorted(idl(t.id).name for t in c.remote.list_tasks_by_version(VERSION))
    newest = Sort("created_at", Sort.Direction.DESCENDING)  # flytekit's model: ours takes it too
    projects = [p.id for p in c.remote.list_projects(sort_by=newest)]
    return [tasks, projects, [d.id for d in c.remote.get_domains()]]


def execute_task(c: Client) -> Any:
    task = c.remote.fetch_task(name=name("summary"))
    ex = c.remote.execute(task, {"xs": [1, 2, 3], "label": "sum"}, execution_name=f"{c.tag}-task")
    assert ex.id.name == f"{c.tag}-task"
    return run(c, ex)


def execute_launch_plan(c: Client) -> Any:
    lp = c.remote.fetch_launch_plan(name=name("add_lp"), version=VERSION)
    ex = c.remote.execute(lp, {"x": 1}, execution_name_prefix=c.tag)  # y from the launch plan: 10
    assert ex.id.name.startswith(f"{c.tag}-")
    return run(c, ex)


def execute_workflow(c: Client) -> Any:
    wf = c.remote.fetch_workflow(name=name("add_wf"), version=VERSION)
    ex = c.remote.execute(wf, {"x": 5, "y": 3}, execution_name=f"{c.tag}-wf")  # its default launch plan
    result = run(c, ex)
    again = c.remote.fetch_execution(name=f"{c.tag}-wf")
    result["fetched"] = [idl(again.id).name.replace(c.tag, "<tag>"), again.closure.phase]
    return result


def signals_and_approve(c: Client) -> Any:
    ex = c.remote.execute(c.remote.fetch_workflow(name=name("gate_wf")), {"x": 4})
    deadline = time.monotonic() + 60
    while not (signals := c.remote.list_signals(ex.id.name)):
        assert time.monotonic() < deadline, "the gate's signal never appeared"
        time.sleep(0.2)
    listed = [(s.id.signal_id, s.type) for s in signals]
    c.remote.approve("ok", ex.id.name)
    return {"signals": listed, **run(c, ex)}


def terminate(c: Client) -> Any:
    ex = c.remote.execute(c.remote.fetch_launch_plan(name=name("nap_wf")), {"seconds": 60})
    c.remote.terminate(ex, "parity test says stop")
    done = wait(c, ex)
    return [done.closure.phase, done.closure.abort_metadata.cause]


def get_flyte_uri(c: Client) -> Any:
    base = f"flyte://v1/{PROJECT}/{DOMAIN}/{c.tag}-wf"  # execute_workflow's: nodes n0 and n1
    raw = {} if c.flytekit else {"as_python": False}  # ours gives plain Python unless asked for literals
    outputs = c.remote.get(f"{base}/n1/o", **raw)
    inputs = c.remote.get(f"{base}/n0/i", **raw)
    value = c.remote.get(f"{base}/n0/i/x", **raw)
    missing = f"{base}/n9/o"
    if c.flytekit:
        assert c.remote.get(missing) is None  # flytekit logs the error and returns None
    else:
        with pytest.raises(FlyteEntityNotExistException, match="does not exist"):
            c.remote.get(missing)  # ours raises, saying what is missing
    return [{k: idl(v) for k, v in outputs.literals.items()}, sorted(inputs.literals), idl(value)]


def read_one_execution(c: Client) -> Any:
    """Both clients read the *same* execution (flytekit's run of add_wf)."""
    ex = c.remote.fetch_execution(name="fk-wf")
    # flytekit's positional order (execution, entity_definition, sync_nodes) and its rpc_timeout
    synced = c.remote.sync_execution(ex, None, True, rpc_timeout=timedelta(seconds=30))
    # flytekit lists the start-node / end-node pseudo-nodes too; ours only the nodes that run
    nodes = {k: node_view(c, v) for k, v in synced.node_executions.items() if k not in PSEUDO_NODES}
    closure = idl(ex.closure)  # flytekit's model keeps microseconds and drops some fields: compare these
    times = [closure.created_at.ToDatetime(), closure.started_at.ToDatetime(), closure.duration.ToTimedelta()]
    span = idl(c.remote.get_execution_metrics(id=ex.id))
    return [
        closure.phase,
        closure.outputs.uri,
        times,
        idl(ex.spec),
        nodes,
        span,
        c.remote.generate_console_url(ex),
    ]


def node_view(c: Client, node: Any) -> dict[str, Any]:
    """A node's phase, its task executions (attempts) and its inputs/outputs as plain Python. flytekit loads
    them all while syncing; ours on request (fetch_task_executions, fetch_node_data)."""
    if c.flytekit:
        attempts, data = node.task_executions, node
        inputs = {k: node.inputs.get(k) for k in node.inputs.literals}
        outputs = {k: node.outputs.get(k) for k in node.outputs.literals}
    else:
        attempts, data = c.remote.fetch_task_executions(node), c.remote.fetch_node_data(node)
        inputs, outputs = dict(data.inputs or {}), dict(data.outputs or {})
    tasks = [(idl(t.id).retry_attempt, idl(t.id).task_id.name, t.closure.phase) for t in attempts]
    return {"phase": node.closure.phase, "tasks": tasks, "inputs": inputs, "outputs": outputs}


def download(c: Client) -> Any:
    ex = c.remote.execute(c.remote.fetch_workflow(name=name("note_wf")), {"text": "hello"})
    synced = c.remote.sync_execution(wait(c, ex))
    target = c.work / f"download-{c.tag}"
    c.remote.download(synced.outputs if c.flytekit else synced, str(target))
    # by output name: flytekit saves a file output as <dir>/<name>/<its own file name>, ours as <dir>/<name>
    files = {p.relative_to(target).parts[0]: p.read_text() for p in target.rglob("*") if p.is_file()}
    if not c.flytekit:
        # flytekit skips primitives ("not a blob, structured dataset, or generic type"); ours saves them
        assert files.pop("o1.json") == "5\n"
    return files


def activate_and_deactivate(c: Client) -> Any:
    lp = c.remote.fetch_launch_plan(name=name("add_lp"), version=VERSION)
    c.remote.deactivate_launchplan(lp.id)
    inactive = c.remote.fetch_active_launchplan(name=name("add_lp"))
    c.remote.activate_launchplan(lp.id)
    active = c.remote.fetch_active_launchplan(name=name("add_lp"))
    return [inactive, idl(active.id)]


def register_script(c: Client) -> Any:
    """Each client fast-registers the same flytekit workflow (script mode) under its own version; the code it
    packaged then runs on the backend."""
    import importlib

    from flytekit.configuration import ImageConfig

    if str(c.source) not in sys.path:
        sys.path.insert(0, str(c.source))
    flows = importlib.import_module(f"{PKG}.flows")
    version = f"{c.tag}-script"
    c.remote.register_script(
        flows.add_wf,
        image_config=ImageConfig.auto_default_image(),
        version=version,
        project=PROJECT,
        domain=DOMAIN,
        source_path=str(c.source),
        module_name=f"{PKG}.flows",
    )
    lp = c.remote.fetch_launch_plan(name=name("add_wf"), version=version)  # the default launch plan
    result = run(c, c.remote.execute(lp, {"x": 1, "y": 1}))
    result["launch_plan"].version = "<version>"
    task = c.remote.fetch_task(name=name("add"), version=version)
    container = idl(task.template.container) if c.flytekit else task.template.container
    args = [a.replace(version, "<version>") for a in container.args]
    package = args[args.index("--dest-dir") - 1] if "--dest-dir" in args else ""
    args = [a.replace(package, "<package>") if package else a for a in args]
    return {**result, "image": container.image, "args": args, "package_suffix": package.rsplit(".", 2)[-2:]}


def recent_executions(c: Client) -> Any:
    from flytekit.models.filters import Equal

    names = [e.id.name for e in c.remote.recent_executions(limit=100)]
    succeeded = c.remote.recent_executions(filters=[Equal("phase", "SUCCEEDED")], limit=100)
    return [names, sorted(e.id.name for e in succeeded)]


def backfill_dry_run(c: Client) -> Any:
    start, end = datetime(2024, 3, 1), datetime(2024, 3, 5)
    plan = c.remote.launch_backfill(PROJECT, DOMAIN, start, end, name("stamp_lp"), VERSION, dry_run=True)
    if c.flytekit:  # flytekit: the local ImperativeWorkflow
        nodes = [
            (n.id, sorted(u.id for u in n.upstream_nodes), n.metadata.name, _kickoff(n.bindings))
            for n in plan.nodes
        ]
        return [plan.name, nodes]
    assert isinstance(plan, BackfillPlan)  # ours: the WorkflowTemplate it would register
    nodes = [
        (n.id, sorted(n.upstream_node_ids), n.metadata.name, _kickoff(n.inputs)) for n in plan.template.nodes
    ]
    return [plan.workflow.name, nodes]


def backfill_failure_policy(c: Client) -> Any:
    """flytekit's WorkflowFailurePolicy enum, as a script passes it."""
    from flytekit.core.workflow import WorkflowFailurePolicy

    policy = WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
    start, end = datetime(2024, 3, 1), datetime(2024, 3, 3)
    plan = c.remote.launch_backfill(
        PROJECT,
        DOMAIN,
        start,
        end,
        name("stamp_lp"),
        VERSION,
        dry_run=True,
        parallel=True,
        failure_policy=policy,
    )
    if c.flytekit:
        return [plan.workflow_metadata.on_failure.value, len(plan.nodes)]
    return [plan.template.metadata.on_failure, len(plan.template.nodes)]


def execute_with_options(c: Client) -> Any:
    """flytekit's Options (Labels, Annotations, RawOutputDataConfig, SecurityContext, notifications) and
    flytekit's fetched launch plan, through both clients: the same execution spec."""
    from flytekit import Annotations, Labels, Options
    from flytekit.models.common import EmailNotification, Notification, RawOutputDataConfig
    from flytekit.models.security import Identity, SecurityContext

    options = Options(
        labels=Labels({"team": "ls"}),
        annotations=Annotations({"note": "parity"}),
        raw_output_data_config=RawOutputDataConfig(str(c.work / "raw")),
        security_context=SecurityContext(run_as=Identity(k8s_service_account="runner")),
        notifications=[Notification([WF.FAILED], email=EmailNotification(["a@example.com"]))],
        disable_notifications=False,
        max_parallelism=4,
    )
    lp = c.env_flytekit.fetch_launch_plan(name=name("add_lp"), version=VERSION)  # flytekit's entity, for both
    ex = c.remote.execute(lp, {"x": 2}, options=options, execution_name=f"{c.tag}-opts")
    spec = idl(ex.spec)
    # On purpose: flytekit sends disable_all=False in the same oneof as the notifications, which drops them
    # (its own Options' notifications never reach Admin); ours sends the notifications.
    emails = [list(n.email.recipients_email) for n in spec.notifications.notifications]
    assert emails == ([] if c.flytekit else [["a@example.com"]])
    result = run(c, ex)
    return {
        "labels": dict(spec.labels.values),
        "annotations": dict(spec.annotations.values),
        "raw": spec.raw_output_data_config.output_location_prefix.replace(c.tag, "<tag>"),
        "security": spec.security_context,
        "max_parallelism": spec.max_parallelism,
        "phase": result["phase"],
        "outputs": result.get("outputs"),
    }


def wait_sync_nodes(c: Client) -> Any:
    """wait(..., sync_nodes=True): flytekit syncs nodes on every poll, ours once at the end — the same
    result: outputs and the node tree."""
    ex = c.remote.execute(c.remote.fetch_launch_plan(name=name("add_lp")), {"x": 3})
    done = c.remote.wait(ex, timeout=WAIT_S, poll_interval=POLL, sync_nodes=True)
    nodes = sorted(set(done.node_executions) - PSEUDO_NODES)
    if c.flytekit:
        outputs = {k: done.outputs.get(k) for k in done.outputs.literals}
    else:
        outputs = dict(done.outputs or {})
    return [done.closure.phase, nodes, outputs]


def offloaded_outputs(c: Client) -> Any:
    """Outputs flytekit offloads (``_F_L_MIN_SIZE_MB=0``: every output is written to the store as
    ``<name>_offloaded_metadata.pb`` and Admin only holds its URI): read from the store by sync_execution,
    get(flyte://...) and node data alike."""
    ex = c.remote.execute(
        c.remote.fetch_workflow(name=name("add_wf")),
        {"x": 4, "y": 1},
        execution_name=f"{c.tag}-off",
        envs={"_F_L_MIN_SIZE_MB": "0"},
    )
    result = run(c, ex)
    got = c.remote.get(f"flyte://v1/{PROJECT}/{DOMAIN}/{c.tag}-off/n1/o")
    if c.flytekit:  # Admin holds only the URI: the value is in the store
        assert got.literals["o0"].offloaded_metadata is not None
    # flytekit's get() has no variable map to guess the type from: told it is an int
    node_outputs = {k: got.get(k, int) for k in got.literals} if c.flytekit else got
    if not c.flytekit:  # one offloaded value (flytekit returns the offloaded Literal model as is)
        assert c.remote.get(f"flyte://v1/{PROJECT}/{DOMAIN}/{c.tag}-off/n1/o/o0") == 6
    node = c.remote.sync_execution(wait(c, ex), sync_nodes=True).node_executions["n1"]
    if c.flytekit:
        data = {k: node.outputs.get(k, int) for k in node.outputs.literals}
    else:
        data = dict(c.remote.fetch_node_data(node).outputs or {})
    return {**result, "get": node_outputs, "node": data}


def _kickoff(bindings: Any) -> datetime:
    (binding,) = [idl(b) for b in bindings]
    return binding.binding.scalar.primitive.datetime.ToDatetime()


SCENARIOS: dict[str, Callable[[Client], Any]] = {
    "fetch_task": fetch_task,
    "fetch_workflow": fetch_workflow,
    "fetch_launch_plan": fetch_launch_plan,
    "listing": listing,
    "execute_task": execute_task,
    "execute_launch_plan": execute_launch_plan,
    "execute_workflow": execute_workflow,
    "signals_and_approve": signals_and_approve,
    "terminate": terminate,
    "get_flyte_uri": get_flyte_uri,  # after execute_workflow: reads its execution
    "read_one_execution": read_one_execution,  # after execute_workflow
    "download": download,
    "register_script": register_script,
    "activate_and_deactivate": activate_and_deactivate,  # one client after the other (shared state)
    "recent_executions": recent_executions,  # after the executions above
    "backfill_dry_run": backfill_dry_run,
    "backfill_failure_policy": backfill_failure_policy,
    "execute_with_options": execute_with_options,
    "wait_sync_nodes": wait_sync_nodes,
    "offloaded_outputs": offloaded_outputs,
}


PSEUDO_NODES = {"start-node", "end-node"}
ONE_AFTER_THE_OTHER = {"activate_and_deactivate", "register_script"}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_same_results_through_flytekit_and_ours(env: Env, scenario: str, tmp_path: Path) -> None:
    fn = SCENARIOS[scenario]
    fk = Client(env.flytekit, True, "fk", tmp_path, env.source, env.flytekit)
    ls = Client(env.ours, False, "ls", tmp_path, env.source, env.flytekit)
    if scenario in ONE_AFTER_THE_OTHER:
        fk_result, ls_result = fn(fk), fn(ls)
    else:
        with ThreadPoolExecutor(2) as pool:
            theirs, ours = pool.submit(fn, fk), pool.submit(fn, ls)
            fk_result, ls_result = theirs.result(timeout=110), ours.result(timeout=110)
    assert ls_result == fk_result
    if scenario in EXPECTED:
        EXPECTED[scenario](ls_result)


def _executed(outputs: dict[str, Any]) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        assert result["phase"] == WF.SUCCEEDED and result["outputs"] == outputs

    return check


# What the shared results must also be (so that "equal" is not "equally wrong").
EXPECTED: dict[str, Callable[[Any], None]] = {
    "execute_task": _executed({"o0": {"sum": 6, "n": 3}}),
    "execute_launch_plan": _executed({"o0": 21, "o1": "done"}),
    "execute_workflow": _executed({"o0": 11, "o1": "done"}),
    "signals_and_approve": _executed({"o0": 5}),
    "terminate": lambda r: r[0] == WF.ABORTED or pytest.fail(f"not aborted: {r}"),
    "register_script": _executed({"o0": 3, "o1": "done"}),
    "download": lambda files: files == {"o0": "hello"} or pytest.fail(f"downloaded {files}"),
    "backfill_failure_policy": lambda r: r == [1, 2] or pytest.fail(f"{r}"),
    "execute_with_options": lambda r: (
        (r["phase"], r["outputs"], r["labels"], r["max_parallelism"])
        == (WF.SUCCEEDED, {"o0": 22, "o1": "done"}, {"team": "ls"}, 4)
        or pytest.fail(f"{r}")
    ),
    "wait_sync_nodes": lambda r: (
        r == [WF.SUCCEEDED, ["n0", "n1"], {"o0": 23, "o1": "done"}] or pytest.fail(f"{r}")
    ),
    "offloaded_outputs": lambda r: (
        (r["phase"], r["outputs"], r["get"], r["node"])
        == (WF.SUCCEEDED, {"o0": 6, "o1": "done"}, {"o0": 6}, {"o0": 6})
        or pytest.fail(f"{r}")
    ),
}


def test_ours_reads_flytekits_objects(env: Env) -> None:
    """A script moving to ours may still hold flytekit's entities and ids: console URLs take them as is."""
    from flytekit.models.core.identifier import WorkflowExecutionIdentifier

    fk = env.flytekit
    objects = [
        fk.fetch_task(name=name("add"), version=VERSION),
        fk.fetch_workflow(name=name("add_wf"), version=VERSION),
        fk.fetch_launch_plan(name=name("add_lp"), version=VERSION),
    ]
    objects += [obj.id for obj in objects]
    objects.append(WorkflowExecutionIdentifier(PROJECT, DOMAIN, "abc"))
    for obj in objects:
        assert env.ours.generate_console_url(obj) == fk.generate_console_url(obj), obj


def test_ours_runs_and_follows_flytekits_entities_and_executions(env: Env) -> None:
    """flytekit's fetched entities, executions and id models, handed to ours: execute, wait, sync_execution,
    get_execution_metrics(id=...), activate/deactivate and download take them as ours."""
    from flytekit.models.core.identifier import WorkflowExecutionIdentifier

    fk, ours = env.flytekit, env.ours
    task = fk.fetch_task(name=name("add"), version=VERSION)
    ex = ours.execute(task, {"x": 1, "y": 2}, execution_name="ls-fk-task")
    fk_ex = fk.fetch_execution(name=ex.id.name)  # flytekit's execution object
    done = ours.wait(fk_ex, timeout=WAIT_S, poll_interval=POLL)
    assert done.closure.phase == WF.SUCCEEDED
    assert ours.sync_execution(fk_ex).outputs == {"o0": 3}
    fk_id = WorkflowExecutionIdentifier(PROJECT, DOMAIN, ex.id.name)
    assert ours.sync_execution(fk_id).outputs == {"o0": 3}
    assert idl(ours.get_execution_metrics(id=fk_id)) == idl(fk.get_execution_metrics(id=fk_id))
    assert ours.download(fk_ex, str(env.source.parent / "fk-download"))["o0"].read_text() == "3\n"

    lp = fk.fetch_launch_plan(name=name("add_lp"), version=VERSION)
    ours.deactivate_launchplan(lp.id)
    assert fk.fetch_active_launchplan(name=name("add_lp")) is None
    ours.activate_launchplan(lp)
    assert idl(ours.fetch_active_launchplan(name=name("add_lp")).id) == idl(lp.id)
    with pytest.raises(TypeError, match="cannot activate 3: pass a launch plan"):
        ours.activate_launchplan(3)
    with pytest.raises(TypeError, match=r"cannot deactivate .* not a launch plan"):
        ours.deactivate_launchplan(task.id)
