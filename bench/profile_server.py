"""Profile flyte-ls while it answers requests after edits on the benchmark's 10k-line module.

    .venv/bin/python bench/profile_server.py [--method flyte/entities|textDocument/codeLens|none] [--edits 60]
                                             [--no-diagnostics] [--top 25]

Runs the server in-process under cProfile: one profile for the event-loop thread and one per worker thread
(the lint and index executors), plus the cyclic GC's pauses (per generation and thread), then replays the
benchmark's edits and prints where the time went. cProfile slows Python code down 2-3x: use it to attribute
time, and ``bench/run.py`` to measure it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from edits import MirroredDocument, typing_edits  # noqa: E402
from gen_module import generate_module  # noqa: E402
from lspwire import LspClient, file_uri  # noqa: E402


# -- server side (runs in the server process) -----------------------------------------------------------
def serve_profiled(out_dir: Path) -> int:
    import atexit
    import concurrent.futures.thread as cft

    profiles: dict[str, cProfile.Profile] = {}
    pauses: list[tuple[int, float, str]] = []
    gc_start = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            ms = (time.perf_counter() - gc_start[0]) * 1000
            pauses.append((int(info["generation"]), ms, threading.current_thread().name))

    gc.callbacks.append(on_gc)
    original_run = cft._WorkItem.run

    def profiled_run(self: Any) -> None:
        name = threading.current_thread().name
        prof = profiles.setdefault(name, cProfile.Profile())
        prof.enable()
        try:
            original_run(self)
        finally:
            prof.disable()

    cft._WorkItem.run = profiled_run  # type: ignore[method-assign]
    main_prof = profiles.setdefault("MainThread", cProfile.Profile())

    def dump() -> None:
        main_prof.disable()
        for name, prof in profiles.items():
            prof.dump_stats(out_dir / f"{name}.prof")
        (out_dir / "gc.json").write_text(json.dumps(pauses))

    atexit.register(dump)
    from flyte_ls.cli import main

    main_prof.enable()
    return main(["serve"])


# -- client side -------------------------------------------------------------------------------------------
async def drive(args: argparse.Namespace, out_dir: Path) -> list[float]:
    project = Path(tempfile.mkdtemp(prefix="flyte-ls-profile-"))
    path = project / "pipelines.py"
    text = generate_module().text
    path.write_text(text)
    c = LspClient([sys.executable, __file__, "--serve-profiled", str(out_dir)], cwd=str(project))
    await c.start()
    opts = None if not args.no_diagnostics else {"diagnostics": {"enabled": False}}
    await c.initialize(root=str(project), initialization_options=opts, timeout=30)
    uri = file_uri(path)
    c.did_open(uri, text)
    params = {"textDocument": {"uri": uri}}
    await c.request("flyte/entities", params, timeout=60)
    doc = MirroredDocument(text)
    times = []
    for line, new in typing_edits(doc, args.edits):
        e = doc.edit(line, new)
        t0 = c.did_change_line(uri, doc.version, e.line, e.old, e.new)
        if args.method != "none":
            await c.request(args.method, params, timeout=30)
        times.append(time.perf_counter() - t0)
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # let a debounced lint pass finish, so that it is in the profile
    await c.close(timeout=20)
    return times


def report(out_dir: Path, top: int) -> None:
    for prof in sorted(out_dir.glob("*.prof")):
        print(f"\n==== thread {prof.stem}: top {top} by cumulative time (flyte_ls, pygls, json) ====")
        st = pstats.Stats(str(prof))
        st.sort_stats("cumulative").print_stats(r"flyte_ls|pygls/protocol|json/", top)
    pauses = json.loads((out_dir / "gc.json").read_text()) if (out_dir / "gc.json").exists() else []
    print("==== cyclic GC pauses ====")
    for gen in (0, 1, 2):
        ms = [p for g, p, _ in pauses if g == gen]
        if ms:
            by_thread: dict[str, int] = {}
            for g, _, t in pauses:
                if g == gen:
                    by_thread[t] = by_thread.get(t, 0) + 1
            print(
                f"  gen{gen}: {len(ms)} collections, total {sum(ms):.0f} ms, max {max(ms):.1f} ms; "
                f"in threads {by_thread}"
            )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="flyte/entities")
    p.add_argument("--edits", type=int, default=60)
    p.add_argument("--no-diagnostics", action="store_true", help="disable the lint pass (setting)")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--serve-profiled", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_profiled is not None:
        return serve_profiled(args.serve_profiled)
    out_dir = Path(tempfile.mkdtemp(prefix="flyte-ls-prof-"))
    times = sorted(asyncio.run(drive(args, out_dir)))
    n = len(times)
    print(
        f"{args.method} after an edit, under cProfile: p50 {times[n // 2] * 1000:.1f} ms, "
        f"p95 {times[min(n - 1, int(n * 0.95))] * 1000:.1f} ms ({n} edits); profiles in {out_dir}"
    )
    report(out_dir, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
