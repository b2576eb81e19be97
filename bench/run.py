"""flyte-ls benchmark (``make bench``): latency, start-up, workspace indexing and memory, over stdio; and the
local backend's 20-task chain (bench/local_chain.py).

    .venv/bin/python bench/run.py [--edits 60] [--starts 7] [--no-peer] [--no-write] [--only local|...]

Peer: jedi-language-server (``textDocument/documentSymbol`` on the same file after the same edits, and its own
start-up), in the same run; the remote client against flytekit's FlyteRemote (bench/remote_client.py);
the console's execution page of a 500-node execution against MessageToJson of its node executions
(bench/console_render.py);
click → execution created against ``pyflyte run --remote``, and the RPCs of tracking executions
(bench/run_click.py); Run from a notebook cell against flytekit's interactive mode in a warm IPython shell,
and notebook sync against the same code as one file (bench/notebook_click.py).
Results go to docs/performance.md and bench/results/<timestamp>.json.
Every wait has a deadline; a section that fails is reported as an error and the others still run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import console_render  # noqa: E402
import local_chain  # noqa: E402
import notebook_click  # noqa: E402
import remote_client  # noqa: E402
import run_click  # noqa: E402
from edits import MirroredDocument, mistake_toggles, typing_edits  # noqa: E402
from gen_module import generate_module  # noqa: E402
from gen_workspace import generate_workspace  # noqa: E402
from lspwire import LspClient, LspError, Notification, file_uri  # noqa: E402
from memory import RssSampler, cpu_seconds, tree_cpu_seconds  # noqa: E402
from report import write_report  # noqa: E402

VENV_BIN = Path(sys.executable).parent
FLYTE = [str(VENV_BIN / "flyte-ls"), "serve"]
JEDI = [str(VENV_BIN / "jedi-language-server")]
DIAGNOSTIC_EDITS = 24  # each waits for a debounced lint pass of the whole module
# Typing in bursts: 4 edits 0.1 s apart, then a 0.5 s pause. The pauses are longer than a typical diagnostics
# debounce (300 ms), so lint passes run while the next burst's requests arrive, as they do in an editor.
PACE = 0.1
PAUSE = 0.5
BURST = 5
SECTIONS = ["startup", "edits", "indexing", "local", "remote", "click", "console", "notebook"]
# sections that write their own part of docs/performance.md
OWN_SECTIONS = {"local", "remote", "click", "console", "notebook"}


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) in milliseconds of seconds ``xs``."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k] * 1000


def summary(xs: list[float]) -> dict[str, Any]:
    return {"n": len(xs), "p50_ms": pct(xs, 50), "p95_ms": pct(xs, 95), "max_ms": max(xs) * 1000}


async def section(results: dict[str, Any], name: str, fn: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    print(f"-- {name} ...", flush=True)
    t0 = time.perf_counter()
    try:
        results[name] = await fn()
    except (LspError, OSError, ValueError, AssertionError) as exc:
        results[name] = {"error": str(exc)}
        print(f"   FAILED: {exc}", flush=True)
    else:
        brief = {k: v for k, v in results[name].items() if not isinstance(v, (list, dict))}
        print(f"   {json.dumps(brief, default=str)}", flush=True)
    print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)


# -- start-up ------------------------------------------------------------------------------------------------
async def startup(argv: list[str], n: int, root: Path) -> dict[str, Any]:
    times = []
    for _ in range(n):
        c = LspClient(argv, cwd=str(root))
        await c.start()
        try:
            _, elapsed = await c.initialize(root=str(root), timeout=20)
            times.append(elapsed)
        finally:
            await c.close()
    return {"n": n, "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


# -- edits on the big module ---------------------------------------------------------------------------------
async def open_big(argv: list[str], path: Path, text: str) -> tuple[LspClient, str]:
    c = LspClient(argv, cwd=str(path.parent))
    await c.start()
    await c.initialize(root=str(path.parent), timeout=20)
    uri = file_uri(path)
    c.did_open(uri, text)
    return c, uri


async def replay(
    c: LspClient,
    doc: MirroredDocument,
    uri: str,
    plan: list[tuple[int, str]],
    request: Callable[[], Awaitable[Any]],
    check: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Apply ``plan``; after each edit send ``request`` at once and time edit -> answer (its last byte read).

    Also reports the time until this client has decoded the answer (``with_client_decoding``: it adds the
    client's JSON decoding and garbage collection, which grow with the size of the answer), and the
    server's CPU time per edit (all its threads): unlike wall time, it hardly depends on what else the
    machine is doing.
    """
    out, decoded = [], []
    cpu0, tree0 = cpu_seconds(c.pid), tree_cpu_seconds(c.pid)
    since = len(c.notifications)
    for k, (line, new) in enumerate(plan):
        e = doc.edit(line, new)
        t0 = c.did_change_line(uri, doc.version, e.line, e.old, e.new)
        result = await request()
        decoded.append(time.perf_counter() - t0)
        out.append(c.last_answer_at - t0)
        if check is not None:
            check(result)
        await asyncio.sleep(PAUSE if k % BURST == BURST - 1 else PACE)
    res = summary(out)
    res["with_client_decoding"] = summary(decoded)
    # How often the server managed to publish diagnostics while the user typed (ideally once per pause).
    res["diagnostics_published"] = sum(
        1 for n in c.notifications[since:] if n.method == "textDocument/publishDiagnostics"
    )
    res["pauses"] = len(plan) // BURST
    cpu1, tree1 = cpu_seconds(c.pid), tree_cpu_seconds(c.pid)
    if cpu0 is not None and cpu1 is not None:
        res["server_cpu_ms_per_edit"] = (cpu1 - cpu0) * 1000 / len(plan)
        if tree0 is not None and tree1 is not None:  # the server's worker processes (lint passes)
            res["workers_cpu_ms_per_edit"] = ((tree1 - tree0) - (cpu1 - cpu0)) * 1000 / len(plan)
    return res


async def quiet(c: LspClient, method: str, seconds: float, deadline: float) -> None:
    """Wait until ``method`` has not arrived for ``seconds`` (at most ``deadline``)."""
    end = time.perf_counter() + deadline
    while time.perf_counter() < end:
        last = max((n.at for n in c.notifications if n.method == method), default=0.0)
        if time.perf_counter() - last >= seconds:
            return
        await asyncio.sleep(0.05)


async def diagnostics_latency(
    c: LspClient, doc: MirroredDocument, uri: str, plan: list[tuple[int, str]]
) -> list[float]:
    """didChange -> the publishDiagnostics for that version (or the first one after it, if unversioned)."""
    await quiet(c, "textDocument/publishDiagnostics", 0.5, 10)
    out = []
    for line, new in plan:
        e = doc.edit(line, new)
        since = len(c.notifications)
        version = doc.version

        def mine(n: Notification, version: int = version) -> bool:
            p = n.params or {}
            return p.get("uri") == uri and p.get("version", version) >= version

        t0 = c.did_change_line(uri, version, e.line, e.old, e.new)
        note = await c.wait_for(
            "textDocument/publishDiagnostics",
            mine,
            timeout=10,
            since=since,
            what=f"diagnostics for v{version}",
        )
        out.append(note.at - t0)
        await asyncio.sleep(PACE)
    return out


async def flyte_edits(path: Path, text: str, n: int, expected: int) -> dict[str, Any]:
    c, uri = await open_big(FLYTE, path, text)
    rss = RssSampler(c.pid)
    rss.start()
    doc = MirroredDocument(text)
    params = {"textDocument": {"uri": uri}}
    res: dict[str, Any] = {}
    try:
        ents, res["first_entities_s"] = await c.timed_request("flyte/entities", params, timeout=30)
        if len(ents or []) != expected:
            raise AssertionError(f"flyte/entities returned {len(ents or [])} entities, expected {expected}")
        note = await c.wait_for(
            "textDocument/publishDiagnostics", timeout=30, what="diagnostics after didOpen"
        )
        res["first_diagnostics_s"] = note.at - c.spawned_at
        await replay(
            c, doc, uri, typing_edits(doc, 5), lambda: c.request("flyte/entities", params)
        )  # warm-up

        def complete(result: Any) -> None:
            if len(result or []) != expected:
                raise AssertionError(f"flyte/entities returned {len(result or [])} of {expected} entities")

        res["entities"] = await replay(
            c, doc, uri, typing_edits(doc, n), lambda: c.request("flyte/entities", params), complete
        )
        res["entities"]["peak_rss_mb_so_far"] = rss.peak_mb()
        lenses: list[Any] = []

        async def code_lens() -> Any:
            result = await c.request("textDocument/codeLens", params)
            lenses[:] = result or []
            return result

        res["code_lens"] = await replay(c, doc, uri, typing_edits(doc, n), code_lens)
        res["code_lens"]["peak_rss_mb_so_far"] = rss.peak_mb()
        res["code_lens_count"] = len(lenses)
        unresolved = [lens for lens in lenses if not lens.get("command")]
        if unresolved:
            times = []
            for lens in unresolved[:50]:  # a screenful or two
                _, t = await c.timed_request("codeLens/resolve", lens)
                times.append(t)
            res["code_lens_resolve"] = summary(times)
        res["diagnostics"] = summary(
            await diagnostics_latency(c, doc, uri, mistake_toggles(doc, DIAGNOSTIC_EDITS))
        )
        res["diagnostics"]["peak_rss_mb_so_far"] = rss.peak_mb()
        res["debounce_hint"] = "includes the server's per-document debounce"
        res["peak_rss_mb"] = rss.peak_mb()
        res["peak_tree_rss_mb"] = rss.tree_peak_mb()
    finally:
        rss.stop()
        await c.close()
    return res


async def jedi_edits(path: Path, text: str, n: int) -> dict[str, Any]:
    c, uri = await open_big(JEDI, path, text)
    rss = RssSampler(c.pid)
    rss.start()
    doc = MirroredDocument(text)
    params = {"textDocument": {"uri": uri}}
    res: dict[str, Any] = {}
    try:
        syms, res["first_document_symbol_s"] = await c.timed_request(
            "textDocument/documentSymbol", params, timeout=60
        )
        res["symbols"] = len(syms or [])
        await replay(
            c, doc, uri, typing_edits(doc, 5), lambda: c.request("textDocument/documentSymbol", params)
        )
        res["document_symbol"] = await replay(
            c,
            doc,
            uri,
            typing_edits(doc, n),
            lambda: c.request("textDocument/documentSymbol", params, timeout=30),
        )
        # jedi debounces its diagnostics by 1 s: fewer samples keep the run short.
        res["diagnostics"] = summary(await diagnostics_latency(c, doc, uri, mistake_toggles(doc, 12)))
        res["peak_rss_mb"] = rss.peak_mb()
    finally:
        rss.stop()
        await c.close()
    return res


# -- workspace indexing --------------------------------------------------------------------------------------
async def indexing(root: Path) -> dict[str, Any]:
    manifest = json.loads((root / "manifest.json").read_text())
    c = LspClient(FLYTE, cwd=str(root))
    await c.start()
    rss = RssSampler(c.pid)
    rss.start()
    res: dict[str, Any] = {
        "files": manifest["files"],
        "lines": manifest["lines"],
        "entities": len(manifest["entities"]),
    }
    try:
        _, res["initialize_s"] = await c.initialize(root=str(root), timeout=20)
        t_init = time.perf_counter()
        cpu0 = tree_cpu_seconds(c.pid)

        def index_end(n: Notification) -> bool:
            value = (n.params or {}).get("value") or {}
            if value.get("kind") != "end":
                return False
            tok = c.progress.get(json.dumps((n.params or {}).get("token")))
            title = ((tok.begin or {}).get("title") or "") if tok else ""
            return "index" in title.lower() or not title

        end = await c.wait_for("$/progress", index_end, timeout=90, what="the end of the indexing progress")
        res["index_s"] = end.at - t_init
        cpu1 = tree_cpu_seconds(c.pid)
        if cpu0 is not None and cpu1 is not None:
            res["index_cpu_s"] = cpu1 - cpu0
        res["index_from_spawn_s"] = end.at - c.spawned_at
        tokens = [t for t in c.progress.values() if t.end_at == end.at]
        if tokens and tokens[0].begin:
            res["progress_title"] = tokens[0].begin.get("title")
            res["progress_end_message"] = (tokens[0].end or {}).get("message")
            res["progress_reports"] = len(tokens[0].reports)
        res["peak_rss_mb"] = rss.peak_mb()
        res["rss_after_index_mb"] = rss.current_mb()
        # Completeness: a sample of entity names must be found, an ignored one must not.
        sample = manifest["entities"][:: max(1, len(manifest["entities"]) // 40)]
        missing = []
        times = []
        for name in sample:
            found, t = await c.timed_request("workspace/symbol", {"query": name}, timeout=10)
            times.append(t)
            if not any(s.get("name", "").split(".")[-1] == name for s in found or []):
                missing.append(name)
        res["workspace_symbol"] = summary(times)
        res["sample_checked"] = len(sample)
        res["sample_missing"] = missing[:10]
        res["sample_missing_count"] = len(missing)
        ignored = manifest["ignored_entities"][0]
        found = await c.request("workspace/symbol", {"query": ignored}, timeout=10)
        res["ignored_build_dir_indexed"] = any(
            s.get("name", "").split(".")[-1] == ignored for s in found or []
        )
        res["peak_rss_mb"] = rss.peak_mb()
        res["peak_tree_rss_mb"] = rss.tree_peak_mb()
        res["worker_processes"] = rss.max_children
    finally:
        rss.stop()
        await c.close()
    return res


# -- main ----------------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(  # the last commit that changed the server, not the benchmark
            ["git", "-C", str(REPO), "log", "-1", "--format=%h", "--", "flyte_ls"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "flyte_ls"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        if dirty:
            commit += f" + uncommitted changes in {len(dirty.splitlines())} flyte_ls files"
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        "load_avg_at_start": os.getloadavg(),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = HERE / "results" / "work"
    project, ws, empty = work / "project", work / "workspace", work / "empty"
    for d in (project, empty):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    gen = generate_module(10_000, 500, seed=7)
    big = project / "pipelines.py"
    big.write_text(gen.text)
    m = generate_workspace(ws, 2000, seed=11)
    results: dict[str, Any] = {
        "machine": machine(),
        "inputs": {
            "module": {"lines": gen.line_count, "entities": len(gen.entity_names), "kinds": gen.kinds},
            "workspace": {"files": m.files, "lines": m.lines, "entities": len(m.entities)},
            "edits": args.edits,
            "peer_edits": args.peer_edits,
            "starts": args.starts,
            "pace_s": PACE,
            "pause_s": PAUSE,
            "burst": BURST,
        },
    }
    peer = not args.no_peer and Path(JEDI[0]).exists()
    results["peer"] = "jedi-language-server 0.47.0" if peer else None

    async def starts() -> dict[str, Any]:
        out = {"flyte": await startup(FLYTE, args.starts, empty)}
        if peer:
            out["jedi"] = await startup(JEDI, args.starts, empty)
        return out

    only = set(args.only or SECTIONS)
    if "startup" in only:
        await section(results, "startup", starts)
    if "edits" in only:
        await section(
            results, "flyte_edits", lambda: flyte_edits(big, gen.text, args.edits, len(gen.entity_names))
        )
        if peer:
            await section(results, "jedi_edits", lambda: jedi_edits(big, gen.text, args.peer_edits))
    if "indexing" in only:
        await section(results, "indexing", lambda: indexing(ws))
    if "local" in only:
        await section(results, "local_chain", lambda: local(args))
    if "remote" in only:
        await section(results, "remote_client", lambda: remote(args))
    if "click" in only:
        await section(results, "run_click", lambda: click(args))
    if "console" in only:
        await section(results, "console_render", lambda: console(args))
    if "notebook" in only:
        await section(results, "notebook", lambda: notebook(args))
    return results


async def local(args: argparse.Namespace) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(
            local_chain.run_bench, args.local_runs, args.local_spawn_runs, args.local_peer_runs
        )
    except Exception as exc:  # grpc errors, timeouts...: this section fails, the others' results are kept
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc


async def remote(args: argparse.Namespace) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(
            remote_client.run_bench, args.remote_imports, args.remote_follows, args.remote_executes
        )
    except Exception as exc:  # grpc errors, timeouts...: this section fails, the others' results are kept
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc


async def click(args: argparse.Namespace) -> dict[str, Any]:
    try:
        return await run_click.run_async(
            args.click_warm, args.click_changed, args.click_peer, args.click_track
        )
    except Exception as exc:  # grpc errors, timeouts...: this section fails, the others' results are kept
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc


async def notebook(args: argparse.Namespace) -> dict[str, Any]:
    try:
        return await notebook_click.run_async(
            args.notebook_warm, args.notebook_changed, args.notebook_edits, args.notebook_toggles
        )
    except Exception as exc:  # grpc errors, timeouts...: this section fails, the others' results are kept
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc


async def console(args: argparse.Namespace) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(console_render.run_bench, args.console_runs)
    except Exception as exc:  # grpc errors, timeouts...: this section fails, the others' results are kept
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--edits", type=int, default=100, help="edits per latency measurement (default 100)")
    p.add_argument(
        "--peer-edits",
        type=int,
        default=50,
        help="edits for the peer (default 50; it answers in ~0.5 s each)",
    )
    p.add_argument("--starts", type=int, default=7, help="fresh starts per server for start-up (default 7)")
    p.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections")
    p.add_argument("--local-runs", type=int, default=5, help="chain executions with the pool (default 5)")
    p.add_argument("--local-spawn-runs", type=int, default=2, help="chain executions spawning (default 2)")
    p.add_argument("--local-peer-runs", type=int, default=3, help="`pyflyte run` of the chain (default 3)")
    p.add_argument("--remote-imports", type=int, default=7, help="fresh interpreters per import (default 7)")
    p.add_argument("--remote-follows", type=int, default=3, help="10-node workflows followed (default 3)")
    p.add_argument("--remote-executes", type=int, default=7, help="executes timed per client (default 7)")
    p.add_argument("--click-warm", type=int, default=7, help="warm clicks, unchanged code (default 7)")
    p.add_argument("--click-changed", type=int, default=5, help="clicks after a code change (default 5)")
    p.add_argument("--click-peer", type=int, default=7, help="`pyflyte run --remote` runs (default 7)")
    p.add_argument("--click-track", type=int, default=50, help="executions tracked (default 50)")
    p.add_argument("--console-runs", type=int, default=20, help="fetches of each console page (default 20)")
    p.add_argument("--notebook-warm", type=int, default=7, help="notebook clicks per side, warm (default 7)")
    p.add_argument(
        "--notebook-changed", type=int, default=5, help="notebook clicks per side after an edit (5)"
    )
    p.add_argument(
        "--notebook-edits", type=int, default=40, help="edits per kind, notebook sync (default 40)"
    )
    p.add_argument("--notebook-toggles", type=int, default=20, help="diagnostics edits per kind (default 20)")
    p.add_argument("--no-peer", action="store_true", help="skip jedi-language-server")
    p.add_argument("--no-write", action="store_true", help="print only; do not write docs/performance.md")
    args = p.parse_args(argv)
    if not Path(FLYTE[0]).exists():
        print(f"error: {FLYTE[0]} not found; run `make install` first", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    results = asyncio.run(run(args))
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = out_dir / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(results, indent=2, default=str))
    partial = bool(args.only) and set(args.only) != set(SECTIONS)
    only_own = bool(args.only) and set(args.only) <= OWN_SECTIONS
    if partial and not only_own and not args.no_write:
        print("(--only: docs/performance.md is left as it is; it is written by full runs only)")
    doc = None if args.no_write or partial else REPO / "docs" / "performance.md"
    verdicts = write_report(results, doc) if not only_own else []
    if "local_chain" in results and not args.no_write and (doc is not None or only_own):
        local_chain.update_doc(REPO / "docs" / "performance.md", results["local_chain"])  # its own section
    if "remote_client" in results and not args.no_write and (doc is not None or only_own):
        remote_client.update_doc(
            REPO / "docs" / "performance.md", results["remote_client"]
        )  # its own section
    if "run_click" in results and not args.no_write and (doc is not None or only_own):
        run_click.update_doc(REPO / "docs" / "performance.md", results["run_click"])  # its own section
    if "console_render" in results and not args.no_write and (doc is not None or only_own):
        # its own section
        console_render.update_doc(REPO / "docs" / "performance.md", results["console_render"])
    if "notebook" in results and not args.no_write and (doc is not None or only_own):
        notebook_click.update_doc(REPO / "docs" / "performance.md", results["notebook"])  # its own section
    verdicts += remote_client.verdicts(results.get("remote_client") or {})
    verdicts += console_render.verdicts(results.get("console_render") or {})
    verdicts += run_click.verdicts(results.get("run_click") or {})
    verdicts += notebook_click.verdicts(results.get("notebook") or {})
    chain = results.get("local_chain") or {}
    if "pool" in chain:
        overhead, target = chain["pool"]["per_task_overhead_ms"], local_chain.TARGET_MS
        verdicts.append(
            f"local backend, 20-task chain, per-task overhead with the pool: {overhead:.0f} ms "
            f"(target ≤ {target:.0f} ms) {'pass' if overhead <= target else 'FAIL'}"
        )
    print(f"\nresults: {json_path}")
    for row in verdicts:
        print(f"  {row}")
    errors = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    if errors:
        print(f"sections that failed: {', '.join(errors)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
