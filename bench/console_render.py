"""Console benchmark: the execution page of a real 500-node execution on `flyte-ls local`.

    .venv/bin/python bench/console_render.py [--runs 20] [--no-write]

In one run: a workflow of 500 tiny tasks (10 parallel lanes of 50 `inc` calls, `dagbench/flows.py` in a
temporary project) is registered with real `pyflyte register` on a fresh `flyte-ls local start` and executed
to the end (CreateExecution, GetExecution polled). Then, against that backend:
- the execution page (`/console/projects/.../executions/<name>`: summary, the DAG, the timeline, the node
  table) and the workflow's page (its static DAG) are fetched over loopback, ``--runs`` times each after one
  warm-up: time from sending the request to reading the last byte (the server builds the page from the
  AdminService's own RPCs, in-process, and renders it: that is what the time is);
- the peer, in the same run: ``MessageToJson`` of the same execution's node executions (ListNodeExecutions,
  all pages), what a JSON API answering with that list would spend encoding it;
- in this process: ``build_graph`` + ``render_dag`` of the execution's compiled workflow with its phases,
  the DAG's share of the page.
`bench/run.py` calls ``run_bench`` and writes the section of docs/performance.md between the markers below;
this script alone updates just that section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from local_chain import VENV_BIN, Backend  # noqa: E402
from report import replace_section, save_result  # noqa: E402

LANES, STEPS = 10, 50  # 500 task nodes
TARGET_S = 1.0
BEGIN = "<!-- console-render:begin (written by bench/console_render.py) -->"
END = "<!-- console-render:end -->"
TERMINAL = {4, 6, 7, 8}  # WorkflowExecution.Phase SUCCEEDED, FAILED, ABORTED, TIMED_OUT
P, D = "flytesnacks", "development"
WORKFLOW = "dagbench.flows.lanes"


def _flows() -> str:
    body = []
    for lane in range(LANES):
        body.append(f"    x{lane} = inc(x=x)")
        body += [f"    x{lane} = inc(x=x{lane})" for _ in range(STEPS - 1)]
    outs = ", ".join(f"x{lane}" for lane in range(LANES))
    ints = ", ".join(["int"] * LANES)
    return (
        '"""500 tiny tasks in 10 lanes (bench/console_render.py)."""\n\n'
        "import typing\n\nfrom flytekit import task, workflow\n\n\n"
        "@task\ndef inc(x: int) -> int:\n    return x + 1\n\n\n"
        f"@workflow\ndef lanes(x: int = 0) -> typing.Tuple[{ints}]:\n"
        + "\n".join(body)
        + f"\n    return {outs}\n"
    )


def _project(work: Path) -> Path:
    project = work / "project"
    (project / "dagbench").mkdir(parents=True)
    (project / "dagbench" / "__init__.py").write_text("")
    (project / "dagbench" / "flows.py").write_text(_flows())
    return project


def _register(backend: Backend, project: Path) -> None:
    cmd = [
        str(VENV_BIN / "pyflyte"),
        "--config",
        str(backend.config),
        "register",
        "--version",
        "v1",
        "dagbench",
    ]
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"pyflyte register failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def _execute(admin: Any) -> tuple[Any, float]:
    from flyteidl.admin import execution_pb2
    from flyteidl.core import identifier_pb2

    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=P, domain=D, name=WORKFLOW, version="v1"
    )
    request = execution_pb2.ExecutionCreateRequest(
        project=P, domain=D, spec=execution_pb2.ExecutionSpec(launch_plan=lp)
    )
    started = time.perf_counter()
    created = admin.CreateExecution(request, timeout=30)
    deadline = time.monotonic() + 1200
    while True:
        execution = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id), timeout=30)
        if execution.closure.phase in TERMINAL:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {created.id.name} did not finish within 1200 s")
        time.sleep(0.2)
    if execution.closure.phase != 4:
        raise AssertionError(f"execution {created.id.name} ended in phase {execution.closure.phase}")
    return execution, time.perf_counter() - started


def _node_executions(admin: Any, exec_id: Any) -> Any:
    from flyteidl.admin import node_execution_pb2

    out = node_execution_pb2.NodeExecutionList()
    token = ""
    while True:
        page = admin.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(
                workflow_execution_id=exec_id, limit=200, token=token
            ),
            timeout=60,
        )
        out.node_executions.extend(page.node_executions)
        token = page.token
        if not token:
            return out


def _get(port: int, path: str) -> tuple[float, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    if response.status != 200:
        raise AssertionError(f"GET {path}: HTTP {response.status}: {body[:300]!r}")
    return elapsed, body


def _timed_get(port: int, path: str, runs: int) -> dict[str, Any]:
    _get(port, path)  # warm-up
    times, size, body = [], 0, b""
    for _ in range(runs):
        elapsed, body = _get(port, path)
        times.append(elapsed)
        size = len(body)
    text = body.decode()
    return {
        "median_s": statistics.median(times),
        "p95_s": _p95(times),
        "min_s": min(times),
        "times_s": times,
        "bytes": size,
        "dag_nodes": text.count("class='dag-node k-") - text.count("class='dag-node k-start")
        - text.count("class='dag-node k-end"),
        "has_timeline": "timeline" in text,
    }  # fmt: skip


def _timed(fn: Any, runs: int) -> tuple[dict[str, Any], Any]:
    times, out = [], None
    for _ in range(runs):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    stats = {"median_s": statistics.median(times), "p95_s": _p95(times), "min_s": min(times)}
    return stats, out


def _p95(times: list[float]) -> float:
    return sorted(times)[max(0, round(0.95 * len(times)) - 1)]


def run_bench(runs: int = 20) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="flyte-ls-console-bench-"))
    try:
        return _run_bench(work, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_bench(work: Path, runs: int) -> dict[str, Any]:
    import grpc
    from flyteidl.admin import common_pb2
    from flyteidl.core import execution_pb2 as core_execution_pb2
    from flyteidl.service import admin_pb2_grpc
    from google.protobuf.json_format import MessageToJson

    from flyte_ls.local.console_dag import build_graph, render_dag

    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_avg_at_start": os.getloadavg(),
        "nodes": LANES * STEPS,
        "runs": runs,
    }
    project = _project(work)
    backend = Backend(work / "state", pool=True)
    try:
        started = time.perf_counter()
        _register(backend, project)
        result["register_s"] = time.perf_counter() - started
        http_port = int(json.loads((backend.state / "status.json").read_text())["http_port"])
        with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            execution, result["execution_s"] = _execute(admin)
            name = execution.id.name
            base = f"/console/projects/{P}/domains/{D}"
            result["page"] = _timed_get(http_port, f"{base}/executions/{name}", runs)
            wf_id = execution.closure.workflow_id
            result["workflow_page"] = _timed_get(
                http_port, f"{base}/workflow/{wf_id.name}/version/{wf_id.version}", runs
            )
            nodes = _node_executions(admin, execution.id)
            result["node_executions"] = len(nodes.node_executions)
            json_stats, text = _timed(lambda: MessageToJson(nodes), runs * 3)
            result["json"] = {**json_stats, "bytes": len(text.encode())}
            closure = admin.GetWorkflow(common_pb2.ObjectGetRequest(id=wf_id), timeout=30).closure
            phases = {
                ne.id.node_id: core_execution_pb2.NodeExecution.Phase.Name(ne.closure.phase)
                for ne in nodes.node_executions
            }
            dag_stats, html = _timed(
                lambda: render_dag(build_graph(closure.compiled_workflow), phases=phases), runs * 3
            )
            result["dag"] = {**dag_stats, "bytes": len(html.encode())}
    finally:
        backend.stop()
    result["load_avg_at_end"] = os.getloadavg()
    result["ratio_page_to_json"] = result["page"]["median_s"] / result["json"]["median_s"]
    return result


def _t(value: float) -> str:
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"


def _times(stats: dict[str, Any]) -> str:
    return " | ".join(_t(stats[k]) for k in ("median_s", "min_s", "p95_s"))


def _kb(n: int) -> str:
    return f"{n / 1024:.0f} KB"


def verdicts(result: dict[str, Any]) -> list[str]:
    if "page" not in result:
        return []
    page = result["page"]["median_s"]
    verdict = "pass" if page <= TARGET_S else "FAIL"
    return [f"console, execution page of a 500-node execution: {_t(page)} (target ≤ 1 s) {verdict}"]


def render(result: dict[str, Any]) -> str:
    """The docs/performance.md section (between BEGIN and END)."""
    lines = [BEGIN, "", "## Console: the execution page of a 500-node execution", ""]
    if "error" in result:
        return "\n".join([*lines, f"The benchmark failed in this run: {result['error']}", "", END])
    page, wf_page, js, dag = result["page"], result["workflow_page"], result["json"], result["dag"]
    load0 = " / ".join(f"{x:.2f}" for x in result["load_avg_at_start"])
    load1 = " / ".join(f"{x:.2f}" for x in result["load_avg_at_end"])
    x = "\u00d7"
    ratio = page["median_s"] / js["median_s"]
    verdict = "pass" if page["median_s"] <= TARGET_S else "**FAIL**"
    lines += [
        f"Measured by `bench/console_render.py` on {result['date']}; load average {load0} at the start, "
        f"{load1} at the end. Peer: `MessageToJson` of the same execution's {result['node_executions']} node "
        "executions, in the same run (what a JSON API would spend encoding the list the page shows). "
        "Ratio = time / the peer's time.",
        "",
        "| | time (median) | min | p95 | size | ratio to the peer (medians) | target | result |",
        "|---|---|---|---|---|---|---|---|",
        f"| execution page (summary, DAG with {page['dag_nodes']} task nodes, timeline, node table), "
        f"request → last byte | {_times(page)} | {_kb(page['bytes'])} | {ratio:.1f}{x} | ≤ 1 s | {verdict} |",
        f"| workflow page (static DAG, versions, node table) | {_times(wf_page)} | {_kb(wf_page['bytes'])} | "
        f"{wf_page['median_s'] / js['median_s']:.1f}{x} | — | — |",
        f"| `build_graph` + `render_dag` alone (in-process, with phases) | {_times(dag)} | "
        f"{_kb(dag['bytes'])} | {dag['median_s'] / js['median_s']:.1f}{x} | — | — |",
        f"| peer: `MessageToJson(NodeExecutionList)` | {_times(js)} | {_kb(js['bytes'])} | 1.0{x} | — | — |",
        "",
        f"What was measured: a workflow of {result['nodes']} `@task def inc(x: int) -> int` calls in 10 "
        "parallel lanes of 50, registered with `pyflyte register` on a fresh `flyte-ls local start` (fork-"
        f"server pool) and executed to the end ({_t(result['execution_s'])}); then its console pages were "
        f"fetched {result['runs']} times each over loopback after one warm-up. The page time is the "
        "server's: it reads the execution, its node executions, task executions and metrics through the "
        "AdminService's own RPCs in-process and renders the HTML (the DAG is laid out on the server). "
        "Raw numbers: `bench/results/console-render-*.json` or `bench/results/bench-*.json`.",
        "",
        END,
    ]
    return "\n".join(lines)


def update_doc(path: Path, result: dict[str, Any]) -> None:
    """Replace (or insert, just above the hand-written notes) the console section of docs/performance.md."""
    replace_section(path, render(result), BEGIN, END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md")
    args = parser.parse_args(argv)
    result = run_bench(args.runs)
    out = save_result("console-render", result)
    print(render(result))
    print(f"\nresults: {out}")
    for line in verdicts(result):
        print(f"  {line}")
    if not args.no_write:
        update_doc(REPO / "docs" / "performance.md", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
