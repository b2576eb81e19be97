"""Local backend benchmark: a 20-task sequential chain of trivial tasks, executed on `flyte-ls local`.

    .venv/bin/python bench/local_chain.py [--pool-runs 5] [--spawn-runs 2] [--peer-runs 3] [--no-write]

In one run, on the same workflow (`chainpkg/flows.py` in a temporary project, outside the repository:
pyflyte's fast registration leaves out .gitignored files), registered with real `pyflyte register`:
- the backend with the fork-server pool (`FLYTE_LS_LOCAL_POOL=1`) and with spawning (`FLYTE_LS_LOCAL_POOL=0`):
  wall time from CreateExecution to the terminal phase seen by GetExecution (polled every 20 ms), per
  execution; the first execution on a fresh pool backend (which starts the fork server) is reported apart;
- flytekit's local run, the peer: `pyflyte run chainpkg/flows.py chain` (no --remote) as a command, and the
  in-process call of the workflow in an interpreter that already imported it (no start, no imports).
Per-task overhead = (backend wall - in-process wall) / 20. `bench/run.py` calls `run_bench` and writes the
section of docs/performance.md between the markers below; this script alone updates just that section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from report import replace_section, save_result

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV_BIN = Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python")
TASKS = 20
TARGET_MS = 150.0
BEGIN = "<!-- local-chain:begin (written by bench/local_chain.py) -->"
END = "<!-- local-chain:end -->"
TERMINAL = {4, 6, 7, 8}  # WorkflowExecution.Phase SUCCEEDED, FAILED, ABORTED, TIMED_OUT


def _flows() -> str:
    steps = "\n".join(f"    x = inc(x=x)  # {i + 1}" for i in range(TASKS))
    return (
        '"""A chain of trivial tasks (bench/local_chain.py)."""\n\n'
        "from flytekit import task, workflow\n\n\n"
        "@task\ndef inc(x: int) -> int:\n    return x + 1\n\n\n"
        f"@workflow\ndef chain(x: int = 0) -> int:\n{steps}\n    return x\n"
    )


def _project(work: Path) -> Path:
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    (project / "chainpkg").mkdir(parents=True)
    (project / "chainpkg" / "__init__.py").write_text("")
    (project / "chainpkg" / "flows.py").write_text(_flows())
    return project


class Backend:
    """`flyte-ls local start` in a subprocess, with its own state dir."""

    def __init__(self, state: Path, pool: bool) -> None:
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True)
        self.state = state
        env = {**os.environ, "FLYTE_LS_LOCAL_POOL": "1" if pool else "0"}
        cmd = [str(VENV_BIN / "flyte-ls"), "local", "start", "--port", "0", "--http-port", "0"]
        cmd += ["--state-dir", str(state), "--python", PYTHON]
        self.log = open(state.parent / f"{state.name}.log", "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 120
        status = state / "status.json"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the backend exited with {self.proc.returncode}; see {self.log.name}")
            try:
                info = json.loads(status.read_text())
            except (OSError, ValueError):
                info = {}
            if info.get("pid") == self.proc.pid:
                self.port = int(info["port"])
                return
            time.sleep(0.1)
        self.stop()
        raise AssertionError("the backend did not start within 120 s")

    @property
    def config(self) -> Path:
        return self.state / "config.yaml"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def _register(backend: Backend, project: Path) -> None:
    cmd = [
        str(VENV_BIN / "pyflyte"),
        "--config",
        str(backend.config),
        "register",
        "--version",
        "v1",
        "chainpkg",
    ]
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"pyflyte register failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def _execute(backend: Backend, admin: Any, x: int) -> tuple[float, int]:
    """One execution: (wall seconds from CreateExecution to the terminal phase, output o0)."""
    from flyteidl.admin import execution_pb2
    from flyteidl.core import identifier_pb2, literals_pb2

    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project="flytesnacks", domain="development",
        name="chainpkg.flows.chain", version="v1",
    )  # fmt: skip
    value = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=x)))
    request = execution_pb2.ExecutionCreateRequest(
        project="flytesnacks", domain="development", spec=execution_pb2.ExecutionSpec(launch_plan=lp),
        inputs=literals_pb2.LiteralMap(literals={"x": value}),
    )  # fmt: skip
    started = time.perf_counter()
    created = admin.CreateExecution(request, timeout=30)
    deadline = time.monotonic() + 900
    while True:
        execution = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id), timeout=30)
        if execution.closure.phase in TERMINAL:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {created.id.name} did not finish within 900 s")
        time.sleep(0.02)
    wall = time.perf_counter() - started
    if execution.closure.phase != 4:
        raise AssertionError(f"execution {created.id.name} ended in phase {execution.closure.phase}")
    data = admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=created.id), timeout=30)
    return wall, data.full_outputs.literals["o0"].scalar.primitive.integer


def _backend_runs(work: Path, project: Path, pool: bool, runs: int) -> dict[str, Any]:
    import grpc
    from flyteidl.service import admin_pb2_grpc

    backend = Backend(work / ("state-pool" if pool else "state-spawn"), pool)
    try:
        _register(backend, project)
        with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            first, out = _execute(backend, admin, 0)
            if out != TASKS:
                raise AssertionError(f"the chain returned {out}, expected {TASKS}")
            walls = []
            for i in range(runs):
                wall, out = _execute(backend, admin, i)
                if out != i + TASKS:
                    raise AssertionError(f"the chain returned {out}, expected {i + TASKS}")
                walls.append(wall)
    finally:
        backend.stop()
    return {"first_s": first, "walls_s": walls, "median_s": statistics.median(walls), "min_s": min(walls)}


_IN_PROCESS = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from chainpkg.flows import chain
started = time.perf_counter()
out = chain(x=0)
print(json.dumps({"wall_s": time.perf_counter() - started, "out": out}))
"""


def _peer_runs(project: Path, runs: int) -> dict[str, Any]:
    command, in_process = [], []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(
            [str(VENV_BIN / "pyflyte"), "run", "chainpkg/flows.py", "chain", "--x", "0"],
            cwd=project, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        command.append(time.perf_counter() - started)
        if proc.returncode != 0 or str(TASKS) not in proc.stdout:
            raise AssertionError(f"pyflyte run failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        proc = subprocess.run(
            [PYTHON, "-c", _IN_PROCESS, str(project)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
        if result.get("out") != TASKS:
            raise AssertionError(f"in-process run failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        in_process.append(result["wall_s"])
    return {
        "pyflyte_run_walls_s": command,
        "pyflyte_run_median_s": statistics.median(command),
        "in_process_walls_s": in_process,
        "in_process_median_s": statistics.median(in_process),
    }


def run_bench(pool_runs: int = 5, spawn_runs: int = 2, peer_runs: int = 3) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="flyte-ls-bench-"))
    try:
        return _run_bench(work, pool_runs, spawn_runs, peer_runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_bench(work: Path, pool_runs: int, spawn_runs: int, peer_runs: int) -> dict[str, Any]:
    project = _project(work)
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_avg_at_start": os.getloadavg(),
        "tasks": TASKS,
    }
    result["peer"] = _peer_runs(project, peer_runs)
    result["pool"] = _backend_runs(work, project, True, pool_runs)
    result["spawn"] = _backend_runs(work, project, False, spawn_runs)
    result["load_avg_at_end"] = os.getloadavg()
    base = result["peer"]["in_process_median_s"]
    for mode in ("pool", "spawn"):
        result[mode]["per_task_overhead_ms"] = (result[mode]["median_s"] - base) * 1000 / TASKS
    return result


def _s(value: float) -> str:
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"


def render(result: dict[str, Any]) -> str:
    """The docs/performance.md section (between BEGIN and END)."""
    lines = [BEGIN, "", "## Local backend: a 20-task chain", ""]
    if "error" in result:
        return "\n".join([*lines, f"The benchmark failed in this run: {result['error']}", "", END])
    pool, spawn, peer = result["pool"], result["spawn"], result["peer"]
    load0 = " / ".join(f"{x:.2f}" for x in result["load_avg_at_start"])
    load1 = " / ".join(f"{x:.2f}" for x in result["load_avg_at_end"])
    overhead = pool["per_task_overhead_ms"]
    verdict = "pass" if overhead <= TARGET_MS else "**FAIL**"
    ref = peer["pyflyte_run_median_s"]
    x = "\u00d7"

    def row(name: str, wall: float, runs: int, overhead: str, target: str = "—", result: str = "—") -> str:
        return f"| {name} | {_s(wall)} | {runs} | {wall / ref:.2f}{x} | {overhead} | {target} | {result} |"

    lines += [
        f"Measured by `bench/local_chain.py` on {result['date']}; load average {load0} at the start, "
        f"{load1} at the end. Peer: flytekit's own local run of the same workflow, in the same run. "
        "Ratio = wall time / `pyflyte run` (no --remote) wall time.",
        "",
        "| | wall time (median) | runs | ratio to `pyflyte run` | per-task overhead | target | result |",
        "|---|---|---|---|---|---|---|",
        row(
            "`flyte-ls local`, fork-server pool",
            pool["median_s"],
            len(pool["walls_s"]),
            f"{overhead:.0f} ms",
            f"≤ {TARGET_MS:.0f} ms",
            verdict,
        ),
        row(
            "`flyte-ls local`, spawning (`FLYTE_LS_LOCAL_POOL=0`)",
            spawn["median_s"],
            len(spawn["walls_s"]),
            f"{spawn['per_task_overhead_ms']:.0f} ms",
        ),
        row(
            "`pyflyte run chainpkg/flows.py chain` (no --remote), the whole command",
            ref,
            len(peer["pyflyte_run_walls_s"]),
            "—",
        ),
        row(
            "the workflow called in-process (after imports)",
            peer["in_process_median_s"],
            len(peer["in_process_walls_s"]),
            "(the baseline)",
        ),
        "",
        f"Pool vs spawn: {pool['median_s'] / spawn['median_s']:.3f}{x} the wall time "
        f"({spawn['median_s'] / pool['median_s']:.0f}{x} faster). First execution on a fresh backend with "
        f"the pool (it starts the fork server, which imports flytekit once): {_s(pool['first_s'])}; "
        f"spawning: {_s(spawn['first_s'])}.",
        "",
        "What was measured: 20 `@task def inc(x: int) -> int` in a sequential `@workflow`, registered with "
        "`pyflyte register` (fast registration) on a fresh `flyte-ls local start`; wall time from "
        "`CreateExecution` to the terminal phase seen by `GetExecution` polled every 20 ms, after one "
        "warm-up execution. Per-task overhead = (backend wall time - in-process wall time) / 20: what "
        "running each task as a Flyte container task costs on this backend (a process, inputs and outputs "
        "through files, the engine's bookkeeping) beyond calling the Python function. Raw numbers: "
        "`bench/results/local-chain-*.json` or `bench/results/bench-*.json`.",
        "",
        END,
    ]
    return "\n".join(lines)


def update_doc(path: Path, result: dict[str, Any]) -> None:
    """Replace (or insert, just above the hand-written notes) the chain section of docs/performance.md."""
    replace_section(path, render(result), BEGIN, END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool-runs", type=int, default=5)
    parser.add_argument("--spawn-runs", type=int, default=2)
    parser.add_argument("--peer-runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md")
    args = parser.parse_args(argv)
    result = run_bench(args.pool_runs, args.spawn_runs, args.peer_runs)
    out = save_result("local-chain", result)
    print(render(result))
    print(f"\nresults: {out}")
    if not args.no_write:
        update_doc(REPO / "docs" / "performance.md", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
