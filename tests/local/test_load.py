"""Issue 3 §7 "Load": 20 executions created at once (20 threads, real gRPC) against a started
``flyte-ls local start`` all SUCCEED with the right outputs within a deadline."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc
from local_backend import VENV_PYTHON, start_backend

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(600)]

_WF = core_execution_pb2.WorkflowExecution
EXECUTIONS = 20
DEADLINE_S = 360.0  # 40 task attempts on a shared 2-core machine (each spawns a Python with flytekit)

FLOWS = """
from flytekit import task, workflow


@task
def inc(x: int) -> int:
    return x + 1


@task
def double(x: int) -> int:
    return 2 * x


@workflow
def wf(x: int) -> int:
    return double(x=inc(x=x))
"""


def _int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def test_twenty_executions_at_once_all_succeed(tmp_path: Path) -> None:
    backend = start_backend(tmp_path / "state")
    try:
        pkg = tmp_path / "proj" / "loadpkg"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "flows.py").write_text(FLOWS)
        pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
        cmd = [pyflyte, "--config", str(backend.config), "register", "--version", "v1", "loadpkg"]
        proc = subprocess.run(cmd, cwd=pkg.parent, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lp = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project="flytesnacks",
            domain="development",
            name="loadpkg.flows.wf",
            version="v1",
        )
        channel = grpc.insecure_channel(f"127.0.0.1:{backend.port}")
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        barrier = threading.Barrier(EXECUTIONS)
        created: dict[int, identifier_pb2.WorkflowExecutionIdentifier] = {}
        errors: list[BaseException] = []

        def create(x: int) -> None:
            try:
                barrier.wait(30)
                created[x] = admin.CreateExecution(
                    execution_pb2.ExecutionCreateRequest(
                        project="flytesnacks",
                        domain="development",
                        spec=execution_pb2.ExecutionSpec(launch_plan=lp),
                        inputs=literals_pb2.LiteralMap(literals={"x": _int(x)}),
                    ),
                    timeout=30,
                ).id
            except BaseException as exc:
                errors.append(exc)

        started = time.monotonic()
        threads = [threading.Thread(target=create, args=(x,)) for x in range(EXECUTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert len({i.name for i in created.values()}) == EXECUTIONS

        pending = dict(created)
        finished: dict[int, execution_pb2.Execution] = {}
        while pending:
            assert time.monotonic() - started < DEADLINE_S, f"{len(pending)} executions not done in time"
            for x, ident in list(pending.items()):
                ex = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident), timeout=10)
                if ex.closure.phase in (_WF.SUCCEEDED, _WF.FAILED, _WF.ABORTED, _WF.TIMED_OUT):
                    finished[x] = ex
                    del pending[x]
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        for x, ex in sorted(finished.items()):
            assert ex.closure.phase == _WF.SUCCEEDED, (x, ex.closure.error)
            data = admin.GetExecutionData(
                execution_pb2.WorkflowExecutionGetDataRequest(id=created[x]), timeout=10
            )
            assert data.full_outputs.literals["o0"] == _int(2 * (x + 1)), x
        print(f"{EXECUTIONS} executions (2 tasks each) at once: all SUCCEEDED in {elapsed:.1f} s")
        channel.close()
    finally:
        backend.stop()
