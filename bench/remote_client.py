"""Remote client benchmark: ``flyte_ls.remote`` against flytekit's ``FlyteRemote``, on a real local backend.

    .venv/bin/python bench/remote_client.py [--imports 7] [--follows 3] [--executes 7] [--no-write]

In one run, peers measured side by side (alternating, so drift on the shared machine hits both):
1. import time: our sync ``FlyteRemote`` (``flyte_ls.remote.remote``) vs ``flytekit.remote``'s, in fresh
   interpreters (the time of the import statement itself, measured inside the interpreter; median of N);
2. following a 10-node workflow to completion: ours ``wait(poll_interval=P)`` then
   ``sync_execution(sync_nodes=True)`` vs flytekit's ``wait(poll_interval=P, sync_nodes=True)`` — RPCs and
   wall time from the return of ``execute`` to the synced execution. Ours lists the nodes and loads a node's
   task executions and data only on request, flytekit loads them all on every poll: what that loading costs
   us is measured apart, for one node and for all of them (``fetch_task_executions`` +
   ``fetch_node_data``). RPCs are counted by a gRPC proxy (``CountingProxy``) that both clients talk to and
   that forwards every call, as raw bytes, to the backend: the count is what a server receives;
3. execute latency for a registered, already fetched launch plan (the CreateExecution round trip plus whatever
   else each client sends): median of N.
The workflow (``remotepkg/flows.py`` in a temporary project) is registered with real ``pyflyte register`` on a
fresh ``flyte-ls local start``. ``bench/run.py --only remote`` calls ``run_bench`` and writes the section of
docs/performance.md between the markers below; this script alone updates just that section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from local_chain import Backend  # noqa: E402
from report import replace_section, save_result  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python")
PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
NODES = 10
NODE_SLEEP_S = 1.0  # each node runs ~1 s, so following the workflow takes several polls, as in real use
POLL_S = 1.0
IMPORT_TARGET = 0.3
RPC_TARGET = 20.0
BEGIN = "<!-- remote-client:begin (written by bench/remote_client.py) -->"
END = "<!-- remote-client:end -->"
X = "\u00d7"  # the multiplication sign


def _flows() -> str:
    steps = "\n".join(f"    x = step(x=x)  # {i + 1}" for i in range(NODES))
    return (
        '"""A 10-node chain and a one-node workflow (bench/remote_client.py)."""\n\n'
        "import time\n\n"
        "from flytekit import task, workflow\n\n\n"
        f"@task\ndef step(x: int) -> int:\n    time.sleep({NODE_SLEEP_S})\n    return x + 1\n\n\n"
        "@task\ndef inc(x: int) -> int:\n    return x + 1\n\n\n"
        f"@workflow\ndef ten(x: int = 0) -> int:\n{steps}\n    return x\n\n\n"
        "@workflow\ndef one(x: int = 0) -> int:\n    return inc(x=x)\n"
    )


def _project(work: Path) -> Path:
    project = work / "project"
    (project / "remotepkg").mkdir(parents=True)
    (project / "remotepkg" / "__init__.py").write_text("")
    (project / "remotepkg" / "flows.py").write_text(_flows())
    return project


def _register(config: Path, project: Path) -> None:
    cmd = [str(VENV_BIN / "pyflyte"), "--config", str(config), "register", "--version", VERSION, "remotepkg"]
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"pyflyte register failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")


# -- the counting proxy --------------------------------------------------------------------------------------
class CountingProxy(grpc.GenericRpcHandler):
    """A gRPC server forwarding every unary call, bytes unchanged, to ``target``; counts them by method."""

    def __init__(self, target: str) -> None:
        self.channel = grpc.insecure_channel(target)
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), handlers=[self])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        forward = self.channel.unary_unary(method)  # no (de)serializers: raw bytes both ways

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            with self.lock:
                self.counts[method.rsplit("/", 1)[-1]] += 1
            metadata = [(k, v) for k, v in context.invocation_metadata() if not k.startswith((":", "grpc-"))]
            remaining = context.time_remaining()
            timeout = remaining if remaining is not None and remaining < 3600 else 120
            try:
                return forward(request, metadata=metadata, timeout=timeout)
            except grpc.RpcError as exc:
                context.abort(exc.code(), exc.details() or "")
                raise

        return grpc.unary_unary_rpc_method_handler(handle)

    def take(self) -> Counter[str]:
        """The counts since the last ``take``."""
        with self.lock:
            out, self.counts = self.counts, Counter()
        return out

    def stop(self) -> None:
        self.server.stop(2).wait(5)
        self.channel.close()


# -- 1. imports ----------------------------------------------------------------------------------------------
OURS_IMPORT = "from flyte_ls.remote.remote import FlyteRemote"  # the package itself is only a docstring
FLYTEKIT_IMPORT = "from flytekit.remote import FlyteRemote"
_TIMED = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def _import_once(stmt: str) -> float:
    proc = subprocess.run(
        [PYTHON, "-c", _TIMED.format(stmt=stmt)], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"{stmt} failed: {proc.stderr[-2000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def imports(n: int) -> dict[str, Any]:
    ours, theirs = [], []
    _import_once(OURS_IMPORT), _import_once(FLYTEKIT_IMPORT)  # warm the file system cache
    for _ in range(n):
        ours.append(_import_once(OURS_IMPORT))
        theirs.append(_import_once(FLYTEKIT_IMPORT))
    ratio = statistics.median(ours) / statistics.median(theirs)
    return {
        "n": n,
        "ours_s": ours,
        "theirs_s": theirs,
        "ours_median_s": statistics.median(ours),
        "theirs_median_s": statistics.median(theirs),
        "ratio": ratio,
    }


# -- 2. and 3. against the backend ---------------------------------------------------------------------------
def _proxy_config(backend: Backend, proxy_port: int, work: Path) -> Path:
    text = backend.config.read_text()
    for host in ("127.0.0.1", "localhost", "dns:///localhost", "dns:///127.0.0.1"):
        text = text.replace(f"{host}:{backend.port}", f"127.0.0.1:{proxy_port}")
    if f"127.0.0.1:{proxy_port}" not in text:
        raise AssertionError(f"no endpoint with port {backend.port} in {backend.config}: {text[:500]}")
    path = work / "proxy-config.yaml"
    path.write_text(text)
    return path


def _follow_ours(remote: Any, lp: Any, proxy: CountingProxy, x: int) -> dict[str, Any]:
    execution = remote.execute(lp, {"x": x})
    proxy.take()
    started = time.perf_counter()
    done = remote.wait(execution, timeout=600, poll_interval=POLL_S)
    synced = remote.sync_execution(done, sync_nodes=True)
    wall = time.perf_counter() - started
    counts = proxy.take()
    nodes = len(synced.node_executions)
    if (synced.outputs or {}).get("o0") != x + NODES or nodes < NODES:
        raise AssertionError(f"ours: outputs {synced.outputs}, {nodes} nodes")
    # Then what flytekit's synced result already holds: the nodes' task executions and inputs/outputs —
    # first for one node (what a UI opening a node costs), then for the others.
    _load_node(remote, synced.node_executions["n0"], x + 1)
    one = proxy.take()
    for name, node in synced.node_executions.items():
        if name != "n0":
            _load_node(remote, node)
    others = proxy.take()
    return {
        "wall_s": wall,
        "rpcs": sum(counts.values()),
        "by_method": dict(counts),
        "one_node_rpcs": sum(one.values()),
        "one_node_by_method": dict(one),
        "all_nodes_rpcs": sum(one.values()) + sum(others.values()),
    }


def _load_node(remote: Any, node: Any, output: int | None = None) -> None:
    attempts = remote.fetch_task_executions(node)
    remote.fetch_node_data(node)
    if not attempts or node.outputs is None or (output is not None and node.outputs.get("o0") != output):
        raise AssertionError(f"ours: node {node.node_id}: {len(attempts)} attempts, outputs {node.outputs}")


def _follow_flytekit(remote: Any, lp: Any, proxy: CountingProxy, x: int) -> dict[str, Any]:
    execution = remote.execute(lp, inputs={"x": x})
    proxy.take()
    started = time.perf_counter()
    synced = remote.wait(
        execution, timeout=dt.timedelta(seconds=600), poll_interval=dt.timedelta(seconds=POLL_S)
    )
    wall = time.perf_counter() - started
    counts = proxy.take()
    nodes = len(synced.node_executions)
    if synced.outputs["o0"] != x + NODES or nodes < NODES:
        raise AssertionError(f"flytekit: outputs {synced.outputs}, {nodes} nodes")
    return {"wall_s": wall, "rpcs": sum(counts.values()), "by_method": dict(counts)}


def _execute_latency(run: Any, proxy: CountingProxy, n: int) -> dict[str, Any]:
    walls, rpcs = [], []
    for i in range(n):
        proxy.take()
        started = time.perf_counter()
        run(i)
        walls.append(time.perf_counter() - started)
        rpcs.append(sum(proxy.take().values()))
    return {"walls_s": walls, "median_s": statistics.median(walls), "rpcs_per_execute": max(rpcs)}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "runs": runs,
        "median_wall_s": statistics.median(r["wall_s"] for r in runs),
        "median_rpcs": statistics.median(r["rpcs"] for r in runs),
        "by_method_last": runs[-1]["by_method"],
    }
    if "one_node_rpcs" in runs[-1]:  # ours: loading nodes on request
        summary["median_one_node_rpcs"] = statistics.median(r["one_node_rpcs"] for r in runs)
        summary["one_node_by_method_last"] = runs[-1]["one_node_by_method"]
        summary["median_everything_rpcs"] = statistics.median(r["rpcs"] + r["all_nodes_rpcs"] for r in runs)
    return summary


def backend_runs(work: Path, follows: int, executes: int) -> dict[str, Any]:
    from flytekit.configuration import Config as FlytekitConfig
    from flytekit.remote import FlyteRemote as FlytekitRemote

    from flyte_ls.remote.config import Config
    from flyte_ls.remote.remote import FlyteRemote

    project = _project(work)
    backend = Backend(work / "state", pool=True)
    proxy = CountingProxy(f"127.0.0.1:{backend.port}")
    ours = theirs = None
    try:
        config = _proxy_config(backend, proxy.port, work)
        _register(config, project)
        ours = FlyteRemote(Config.auto(str(config)), default_project=PROJECT, default_domain=DOMAIN)
        theirs = FlytekitRemote(
            FlytekitConfig.auto(config_file=str(config)), default_project=PROJECT, default_domain=DOMAIN
        )
        name = "remotepkg.flows."
        our_ten = ours.fetch_launch_plan(PROJECT, DOMAIN, name + "ten", VERSION)
        their_ten = theirs.fetch_launch_plan(PROJECT, DOMAIN, name + "ten", VERSION)
        our_one = ours.fetch_launch_plan(PROJECT, DOMAIN, name + "one", VERSION)
        their_one = theirs.fetch_launch_plan(PROJECT, DOMAIN, name + "one", VERSION)
        _follow_ours(ours, our_ten, proxy, 100)  # warm-up (starts the fork server, channels, caches)
        _follow_flytekit(theirs, their_ten, proxy, 200)
        mine, peer = [], []
        for i in range(follows):
            mine.append(_follow_ours(ours, our_ten, proxy, i))
            peer.append(_follow_flytekit(theirs, their_ten, proxy, i))
        result: dict[str, Any] = {"follow": {"ours": _summary(mine), "flytekit": _summary(peer)}}
        mine_ex = _execute_latency(lambda i: ours.execute(our_one, {"x": i}), proxy, executes)
        peer_ex = _execute_latency(lambda i: theirs.execute(their_one, inputs={"x": i}), proxy, executes)
        result["execute"] = {"ours": mine_ex, "flytekit": peer_ex}
        follow = result["follow"]
        follow["rpc_ratio"] = follow["flytekit"]["median_rpcs"] / follow["ours"]["median_rpcs"]
        return result
    finally:
        if ours is not None:
            ours.close()
        proxy.stop()
        backend.stop()


def run_bench(import_runs: int = 7, follows: int = 3, executes: int = 7) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="flyte-ls-bench-remote-"))
    try:
        result: dict[str, Any] = {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_avg_at_start": os.getloadavg(),
            "nodes": NODES,
            "node_sleep_s": NODE_SLEEP_S,
            "poll_interval_s": POLL_S,
        }
        result["imports"] = imports(import_runs)
        result.update(backend_runs(work, follows, executes))
        result["load_avg_at_end"] = os.getloadavg()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the docs/performance.md section -------------------------------------------------------------------------
def _s(value: float) -> str:
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"


def _methods(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def verdicts(result: dict[str, Any]) -> list[str]:
    out = []
    if "imports" in result:
        r = result["imports"]["ratio"]
        out.append(f"remote client, import time ours/flytekit: {r:.2f}{X} (target ≤ {IMPORT_TARGET}{X}) "
                   f"{'pass' if r <= IMPORT_TARGET else 'FAIL'}")  # fmt: skip
    if "follow" in result:
        r = result["follow"]["rpc_ratio"]
        out.append(f"remote client, RPCs to follow a {NODES}-node workflow, flytekit/ours: {r:.1f}{X} "
                   f"(target ≥ {RPC_TARGET:.0f}{X}) {'pass' if r >= RPC_TARGET else 'FAIL'}")  # fmt: skip
    return out


def render(result: dict[str, Any]) -> str:
    """The docs/performance.md section (between BEGIN and END)."""
    lines = [BEGIN, "", "## Remote client: `flyte_ls.remote` vs flytekit's `FlyteRemote`", ""]
    if "error" in result:
        return "\n".join([*lines, f"The benchmark failed in this run: {result['error']}", "", END])
    x = "\u00d7"
    load0 = " / ".join(f"{v:.2f}" for v in result["load_avg_at_start"])
    load1 = " / ".join(f"{v:.2f}" for v in result["load_avg_at_end"])
    imp, follow, exe = result["imports"], result["follow"], result["execute"]
    fo, ft = follow["ours"], follow["flytekit"]
    eo, et = exe["ours"], exe["flytekit"]
    fo_total, ft_total = sum(fo["by_method_last"].values()), sum(ft["by_method_last"].values())
    fo_polls = fo["by_method_last"].get("GetExecution", 0)
    every_ratio = ft["median_rpcs"] / fo["median_everything_rpcs"]
    per_node = (fo["median_everything_rpcs"] - fo["median_rpcs"]) / NODES
    ft_polls = ft["by_method_last"].get("GetExecution", 0)
    imp_ok = "pass" if imp["ratio"] <= IMPORT_TARGET else "**FAIL**"
    rpc_ok = "pass" if follow["rpc_ratio"] >= RPC_TARGET else "**FAIL**"
    lines += [
        f"Measured by `bench/remote_client.py` on {result['date']}; load average {load0} at the start, "
        f"{load1} at the end. Peer: flytekit {_flytekit_version()}'s `FlyteRemote`, in the same run, "
        "alternating with ours, against the same fresh `flyte-ls local start` (fork-server pool).",
        "",
        "| | ours | flytekit | ours / flytekit | target | result |",
        "|---|---|---|---|---|---|",
        f"| import time (`{OURS_IMPORT}` / `{FLYTEKIT_IMPORT}`, median of {imp['n']} fresh "
        f"interpreters) | {_s(imp['ours_median_s'])} | {_s(imp['theirs_median_s'])} | {imp['ratio']:.2f}{x} "
        f"| ≤ {IMPORT_TARGET}{x} | {imp_ok} |",
        f"| RPCs to follow a {NODES}-node workflow to completion (median of {len(fo['runs'])}) "
        f"| {fo['median_rpcs']:.0f} | {ft['median_rpcs']:.0f} | 1/{follow['rpc_ratio']:.1f} "
        f"| ≤ 1/{RPC_TARGET:.0f} | {rpc_ok} |",
        "| then one node's task executions and inputs/outputs, on request (`fetch_task_executions` + "
        f"`fetch_node_data`; median) | {fo['median_one_node_rpcs']:.0f} | (in the above) | — | — | — |",
        "| everything flytekit's synced result holds: the above plus every node's task executions and "
        f"inputs/outputs (median) | {fo['median_everything_rpcs']:.0f} | {ft['median_rpcs']:.0f} "
        f"| 1/{every_ratio:.1f} | — | — |",
        "| wall time of the follow, from `execute`'s return to the synced execution "
        f"| {_s(fo['median_wall_s'])} | {_s(ft['median_wall_s'])} "
        f"| {fo['median_wall_s'] / ft['median_wall_s']:.2f}{x} | — | — |",
        f"| `execute` of a fetched launch plan (median of {len(eo['walls_s'])}) | {_s(eo['median_s'])} "
        f"| {_s(et['median_s'])} | {eo['median_s'] / et['median_s']:.2f}{x} | — | — |",
        "| RPCs per `execute` of a fetched launch plan "
        f"| {eo['rpcs_per_execute']} | {et['rpcs_per_execute']} | — | — | — |",
        "",
        f"RPCs by method, last run — ours: {_methods(fo['by_method_last'])} (one node on request: "
        f"{_methods(fo['one_node_by_method_last'])}); flytekit: {_methods(ft['by_method_last'])}. Per poll "
        f"(a `GetExecution`), flytekit sends {ft_total / max(ft_polls, 1):.1f} RPCs (the whole tree, growing "
        f"with the finished nodes), ours 1, plus {fo_total - fo_polls} for the one sync at the end (the "
        "execution's data and one page of nodes; no `GetExecution` again, the execution `wait` returned is "
        "done): the ratio grows with how long the workflow runs (how many polls), towards that per-poll "
        f"figure. Loading every node's task executions and data, as flytekit does, costs us {per_node:g} "
        "RPCs a node, once.",
        "",
        f"What was measured: a chain of {NODES} `@task`s that each sleep {NODE_SLEEP_S:g} s (so following it "
        f"takes several polls, as a real workflow does), registered with `pyflyte register`; poll interval "
        f"{POLL_S:g} s for both (ours: `wait(execution, poll_interval={POLL_S:g})`, a fixed interval as "
        "flytekit's, whose first poll comes one interval after `execute`'s own `GetExecution` instead of at "
        "once, then `sync_execution(done, sync_nodes=True)`, which lists the nodes; flytekit: "
        f"`wait(poll_interval={POLL_S:g} s, sync_nodes=True)`, which polls at once and syncs the whole node "
        "tree — task executions and data of every node — on every poll). RPCs are counted by a gRPC proxy "
        "between the clients and the backend that forwards every call unchanged: what the server receives. "
        "One warm-up follow each first. `execute` is timed on an already fetched launch plan of a one-node "
        "workflow. Import time is that of the import statement inside a fresh interpreter (interpreter "
        "start-up excluded), alternating ours and flytekit's. Raw numbers: "
        "`bench/results/remote-client-*.json` or `bench/results/bench-*.json`.",
        "",
        END,
    ]
    return "\n".join(lines)


def _flytekit_version() -> str:
    try:
        from importlib.metadata import version

        return version("flytekit")
    except Exception:  # a label only
        return "?"


def update_doc(path: Path, result: dict[str, Any]) -> None:
    """Replace (or insert, just above the hand-written notes) the remote client's section of
    docs/performance.md."""
    replace_section(path, render(result), BEGIN, END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", type=int, default=7, help="fresh interpreters per import (default 7)")
    parser.add_argument("--follows", type=int, default=3, help="workflows followed per client (default 3)")
    parser.add_argument("--executes", type=int, default=7, help="executes timed per client (default 7)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md")
    args = parser.parse_args(argv)
    result = run_bench(args.imports, args.follows, args.executes)
    out = save_result("remote-client", result)
    print(render(result))
    print(f"\nresults: {out}")
    for row in verdicts(result):
        print(f"  {row}")
    if not args.no_write:
        update_doc(REPO / "docs" / "performance.md", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
