"""An in-process local backend for the executor feature tests (gates, launch-plan nodes, cache): a real Store,
AdminServicer, SignalServicer and LocalExecutor behind a real gRPC server; workflows written for the tests,
packaged by real `pyflyte package` and registered as `pyflyte register` would."""

from __future__ import annotations

import subprocess
import tarfile
import textwrap
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from flyteidl.admin import execution_pb2, launch_plan_pb2, node_execution_pb2, task_pb2, workflow_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc, signal_pb2_grpc
from test_executor import IMAGE, PYTHON, Package, _hydrate, _lit, _py, _register

from flyte_ls.local.admin import AdminServicer
from flyte_ls.local.executor import LocalExecutor
from flyte_ls.local.signals import SignalServicer
from flyte_ls.local.store import Store

PROJECT, DOMAIN = "flytesnacks", "development"
WorkflowPhase = core_execution_pb2.WorkflowExecution
NodePhase = core_execution_pb2.NodeExecution
TERMINAL = (WorkflowPhase.SUCCEEDED, WorkflowPhase.FAILED, WorkflowPhase.ABORTED, WorkflowPhase.TIMED_OUT)
lit, py = _lit, _py


@dataclass(repr=False)
class Built(Package):
    # workflows and launch plans in `pyflyte package`'s order (dependencies first)
    order: list[workflow_pb2.WorkflowSpec | launch_plan_pb2.LaunchPlan] = field(default_factory=list)


def build_package(root: Path, package: str, source: str) -> Built:
    """``source`` as ``<package>/flows.py``, packaged with real `pyflyte package` (fast register)."""
    src = root / "src"
    (src / package).mkdir(parents=True)
    (src / package / "__init__.py").write_text("")
    (src / package / "flows.py").write_text(textwrap.dedent(source))
    out = root / "pkg.tgz"
    proc = subprocess.run(
        [str(Path(PYTHON).with_name("pyflyte")), "--pkgs", package, "package", "--image", IMAGE,
         "--copy", "all", "-f", "-o", str(out)],
        cwd=src, capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    specs = root / "specs"
    with tarfile.open(out) as archive:
        archive.extractall(specs, filter="data")
    tasks: dict[tuple[str, str], task_pb2.TaskSpec] = {}
    workflows: dict[str, workflow_pb2.WorkflowSpec] = {}
    launch_plans: list[launch_plan_pb2.LaunchPlan] = []
    order: list[workflow_pb2.WorkflowSpec | launch_plan_pb2.LaunchPlan] = []
    for path in sorted(specs.glob("*.pb"), key=lambda p: int(p.name.split("_", 1)[0])):
        kind = path.stem.rsplit("_", 1)[1]
        if kind == "1":
            spec = task_pb2.TaskSpec.FromString(path.read_bytes())
            _hydrate(spec)
            tasks[(spec.template.id.name, spec.template.id.version)] = spec
        elif kind == "2":
            wf = workflow_pb2.WorkflowSpec.FromString(path.read_bytes())
            _hydrate(wf)
            workflows[wf.template.id.name] = wf
            order.append(wf)
        elif kind == "3":
            lp = launch_plan_pb2.LaunchPlan.FromString(path.read_bytes())
            _hydrate(lp)
            launch_plans.append(lp)
            order.append(lp)
    return Built(src, next(specs.glob("fast*.tar.gz")), tasks, workflows, launch_plans, order)


@dataclass
class Backend:
    store: Store
    admin: AdminServicer
    executor: LocalExecutor
    server: grpc.Server
    channel: grpc.Channel
    stub: admin_pb2_grpc.AdminServiceStub
    signals: signal_pb2_grpc.SignalServiceStub
    port: int = 0  # the gRPC server's (FlyteRemote connects to it)

    def stop(self) -> None:
        self.executor.close()
        self.channel.close()
        self.server.stop(None).wait()
        self.store.close()

    def launch(
        self, package: Package, workflow: str, name: str = "", overwrite_cache: bool = False, **inputs: object
    ) -> identifier_pb2.WorkflowExecutionIdentifier:
        lp = next(lp.id for lp in package.launch_plans if lp.id.name.endswith(f".flows.{workflow}"))
        request = execution_pb2.ExecutionCreateRequest(
            project=PROJECT,
            domain=DOMAIN,
            name=name,
            spec=execution_pb2.ExecutionSpec(launch_plan=lp, overwrite_cache=overwrite_cache),
            inputs=literals_pb2.LiteralMap(literals={k: lit(v) for k, v in inputs.items()}),
        )
        return self.stub.CreateExecution(request, timeout=10).id

    def get(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> execution_pb2.Execution:
        return self.stub.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident), timeout=10)

    def wait(
        self, ident: identifier_pb2.WorkflowExecutionIdentifier, limit_s: float = 120
    ) -> execution_pb2.Execution:
        deadline = time.monotonic() + limit_s
        while True:
            got = self.get(ident)
            if got.closure.phase in TERMINAL:
                return got
            assert time.monotonic() < deadline, got.closure
            time.sleep(0.1)

    def outputs(self, ident: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, object]:
        data = self.stub.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=ident), timeout=10)
        return {k: py(v) for k, v in data.full_outputs.literals.items()}

    def nodes(
        self, ident: identifier_pb2.WorkflowExecutionIdentifier, parent: str = ""
    ) -> dict[str, node_execution_pb2.NodeExecution]:
        listed = self.stub.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(
                workflow_execution_id=ident, limit=100, unique_parent_id=parent
            ),
            timeout=10,
        )
        return {n.id.node_id: n for n in listed.node_executions}


def start(state_dir: Path, package: Package | None = None) -> Backend:
    store = Store(state_dir)
    admin = AdminServicer(store)
    executor = LocalExecutor(admin.records, PYTHON)
    admin.executor = executor
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    admin_pb2_grpc.add_AdminServiceServicer_to_server(admin, server)
    signal_pb2_grpc.add_SignalServiceServicer_to_server(SignalServicer(store), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    backend = Backend(
        store,
        admin,
        executor,
        server,
        channel,
        admin_pb2_grpc.AdminServiceStub(channel),
        signal_pb2_grpc.SignalServiceStub(channel),
        port,
    )
    if package is not None:
        register(backend.stub, package)
    return backend


def register(stub: admin_pb2_grpc.AdminServiceStub, package: Package) -> None:
    """What `pyflyte register` sends, in its order (a workflow after the launch plans it calls)."""
    _register(stub, Package(package.source, package.tarball, package.tasks, {}, []))  # the tasks
    for message in getattr(package, "order", []):
        if isinstance(message, workflow_pb2.WorkflowSpec):
            request = workflow_pb2.WorkflowCreateRequest(id=message.template.id, spec=message)
            stub.CreateWorkflow(request, timeout=10)
        else:
            lp_request = launch_plan_pb2.LaunchPlanCreateRequest(id=message.id, spec=message.spec)
            stub.CreateLaunchPlan(lp_request, timeout=10)


def wait_for(predicate: Callable[[], bool], limit_s: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
