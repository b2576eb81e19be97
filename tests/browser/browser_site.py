"""A real local backend with the console workflows (browser_flows.py) registered by unmodified ``pyflyte
register`` and executions created through its AdminService, as FlyteRemote does: the site the browser tests
open."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc
from local_backend import VENV_BIN, Backend, start_backend

FLOWS = Path(__file__).resolve().parent / "browser_flows.py"
PROJECT, DOMAIN = "flytesnacks", "development"
VERSION = "v1"
WF = core_execution_pb2.WorkflowExecution
TERMINAL = frozenset({WF.SUCCEEDED, WF.FAILED, WF.ABORTED, WF.TIMED_OUT})


def lit(value: object) -> literals_pb2.Literal:
    if isinstance(value, bool):
        primitive = literals_pb2.Primitive(boolean=value)
    elif isinstance(value, int):
        primitive = literals_pb2.Primitive(integer=value)
    else:
        primitive = literals_pb2.Primitive(string_value=str(value))
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


@dataclass
class Site:
    backend: Backend
    work: Path
    channel: grpc.Channel

    @property
    def admin(self) -> admin_pb2_grpc.AdminServiceStub:
        return admin_pb2_grpc.AdminServiceStub(self.channel)

    @property
    def base(self) -> str:
        return self.backend.http

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def execution_url(self, name: str) -> str:
        return self.url(f"/console/projects/{PROJECT}/domains/{DOMAIN}/executions/{name}")

    def entity_url(self, kind: str, workflow: str, version: str = VERSION) -> str:
        return self.url(
            f"/console/projects/{PROJECT}/domains/{DOMAIN}/{kind}/browser_flows.{workflow}/version/{version}"
        )

    def launch(self, workflow: str, **inputs: object) -> str:
        """Creates an execution of the workflow's default launch plan; its name."""
        lp = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=PROJECT,
            domain=DOMAIN,
            name=f"browser_flows.{workflow}",
            version=VERSION,
        )
        request = execution_pb2.ExecutionCreateRequest(
            project=PROJECT,
            domain=DOMAIN,
            spec=execution_pb2.ExecutionSpec(launch_plan=lp),
            inputs=literals_pb2.LiteralMap(literals={k: lit(v) for k, v in inputs.items()}),
        )
        return str(self.admin.CreateExecution(request, timeout=10).id.name)

    def phase(self, name: str) -> int:
        ident = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)
        req = execution_pb2.WorkflowExecutionGetRequest(id=ident)
        return int(self.admin.GetExecution(req, timeout=10).closure.phase)

    def wait(self, name: str, phases: frozenset[int] = TERMINAL, limit_s: float = 120) -> str:
        """Waits until the execution is in one of ``phases``; the phase's name."""
        deadline = time.monotonic() + limit_s
        while (phase := self.phase(name)) not in phases:
            assert time.monotonic() < deadline, f"{name} still {WF.Phase.Name(phase)} after {limit_s} s"
            time.sleep(0.2)
        return str(WF.Phase.Name(phase))

    def register(self, version: str) -> None:
        """Registers browser_flows.py again, as ``version``, with ``pyflyte register``."""
        register(self.backend, self.work, version)

    def stop(self) -> None:
        self.channel.close()
        self.backend.stop()


def register(backend: Backend, work: Path, version: str) -> None:
    cmd = [
        str(VENV_BIN / "pyflyte"), "--config", str(backend.config), "register", "--project", PROJECT,
        "--domain", DOMAIN, "--version", version, FLOWS.name,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def start_site(work: Path) -> Site:
    """Starts a backend under ``work``; registers browser_flows.py (version v1) with ``pyflyte register``."""
    backend = start_backend(work / "state")
    try:
        shutil.copy(FLOWS, work / FLOWS.name)
        register(backend, work, VERSION)
    except BaseException:
        backend.stop()
        raise
    return Site(backend, work, grpc.insecure_channel(f"127.0.0.1:{backend.port}"))
