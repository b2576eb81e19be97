"""Run from the editor: click → execution created, and the RPCs spent tracking 50 executions.

    .venv/bin/python bench/run_click.py [--warm 7] [--changed 5] [--peer 7] [--track 50] [--no-write]

One fresh ``flyte-ls local start`` (temp state dir, free ports, fork-server pool) and one language server
(``flyte-ls serve`` over stdio, driven by bench/lspwire.py's client; settings ``endpoint`` / ``insecure`` /
``pythonPath``; its user cache in a temp dir) on a copy of ``examples/`` as the workspace. The server and the
peer talk to the backend through bench/remote_client.py's ``CountingProxy`` (a gRPC proxy forwarding every
call unchanged), so both pay the same extra hop and their RPCs are counted.

1. Click → execution created: the time from sending ``workspace/executeCommand flyte.execute {uri, entity}``
   (the ``prepare`` workflow of ``workflows/pipeline.py``) to its response; the execution exists then.
   Warm with unchanged code (after one warm-up click), and after a code change (the workflow's file is
   edited — a constant — saved and sent to the server before each click). Peer, alternating with the warm
   clicks: ``pyflyte --config <proxy config> run --remote workflows/pipeline.py prepare`` (no ``--wait``: it
   returns once the execution is created), the whole command. Each execution is waited for (directly on the
   backend, not counted) before the next click, so runs do not pile up on the machine.
2. RPCs per minute while tracking N executions of a task that sleeps (``workflows/napping.py:nap``, launched
   with ``flyte.execute``): after the launches and a settling pause, the RPCs the server sends in 60 s.
   Peer, in the same 60 s through a second proxy: flytekit's ``FlyteRemote`` calling ``sync_execution`` on
   each of the same N executions once every 10 s (an editor plug-in polling each execution it shows).

``bench/run.py --only click`` calls :func:`run_bench` and writes the section of docs/performance.md between
the markers below; this script alone updates just that section. Raw results: bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from local_chain import Backend  # noqa: E402
from lspwire import LspClient, file_uri  # noqa: E402
from remote_client import CountingProxy, _proxy_config  # noqa: E402
from report import replace_section, save_result  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python")
PROJECT, DOMAIN = "flytesnacks", "development"
WORKFLOW_FILE, WORKFLOW = "workflows/pipeline.py", "prepare"
NAP_FILE, NAP = "workflows/napping.py", "nap"
NAP_S = 900  # far longer than the launches, the settling pause and the window
EDIT_LINE = "_BENCH_EDIT = {}"
WARM_TARGET_S = 0.3
CHANGED_TARGET_S = 1.0
RATIO_TARGET = 10.0
WINDOW_S = 60.0
SETTLE_S = 20.0
PEER_EVERY_S = 10.0
CLICK_TIMEOUT_S = 180.0
RUN_DEADLINE_S = 180.0
BEGIN = "<!-- run-click:begin (written by bench/run_click.py) -->"
END = "<!-- run-click:end -->"
X = "\u00d7"

NAPPING = '''"""A task that sleeps (bench/run_click.py: executions to track)."""

import time

from flytekit import task


@task
def nap(seconds: int) -> int:
    time.sleep(seconds)
    return seconds
'''


def _workspace(work: Path) -> Path:
    ws = work / "workspace"
    shutil.copytree(REPO / "examples", ws, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (ws / NAP_FILE).write_text(NAPPING)
    path = ws / WORKFLOW_FILE
    path.write_text(path.read_text().rstrip("\n") + "\n" + EDIT_LINE.format(0) + "\n")
    return ws


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


class Editor:
    """The language server over stdio, as an editor drives it."""

    def __init__(self, work: Path, ws: Path, endpoint: str) -> None:
        self.ws = ws
        settings = {
            "endpoint": endpoint,
            "insecure": True,
            "pythonPath": PYTHON,
            "local": {"autoStart": False},
        }
        self.settings = settings
        env = shutil.which("env") or "/usr/bin/env"
        argv = [env, f"XDG_CACHE_HOME={work / 'cache'}", str(VENV_BIN / "flyte-ls"), "serve"]
        self.client = LspClient(argv, cwd=str(ws), settings={"flyte": settings})
        self.version = 1
        self.edits = 0

    async def start(self) -> None:
        await self.client.start()
        await self.client.initialize(root=str(self.ws), initialization_options=self.settings, timeout=60)
        path = self.ws / WORKFLOW_FILE
        self.client.did_open(file_uri(path), path.read_text())

    def uri(self, rel: str) -> str:
        return file_uri(self.ws / rel)

    async def execute(
        self, rel: str, entity: str, inputs: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], float]:
        """``flyte.execute``; (its result, seconds from sending to the response)."""
        args: dict[str, Any] = {"uri": self.uri(rel), "entity": entity}
        if inputs is not None:
            args["inputs"] = inputs
        since = len(self.client.notifications)
        t0 = time.perf_counter()
        result, elapsed = await self.client.timed_request(
            "workspace/executeCommand",
            {"command": "flyte.execute", "arguments": [args]},
            timeout=CLICK_TIMEOUT_S,
        )
        result["steps"] = steps(self.client.notifications[since:], t0, elapsed)
        return result, elapsed

    async def edit(self) -> None:
        """Change the workflow file's constant: on disk, then didChange + didSave, as an editor saving it."""
        path = self.ws / WORKFLOW_FILE
        text = path.read_text()
        lines = text.split("\n")
        line = next(i for i, s in enumerate(lines) if s.startswith("_BENCH_EDIT = "))
        old = lines[line]
        self.edits += 1
        new = EDIT_LINE.format(self.edits)
        lines[line] = new
        path.write_text("\n".join(lines))
        self.version += 1
        uri = file_uri(path)
        self.client.did_change_line(uri, self.version, line, old, new)
        self.client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})

    async def executions(self) -> list[dict[str, Any]]:
        items = await self.client.request("flyte/executions", {}, timeout=30)
        return items if isinstance(items, list) else (items or {}).get("executions", [])

    async def close(self) -> None:
        await self.client.close(timeout=15)


def steps(notes: list[Any], t0: float, elapsed: float) -> dict[str, float]:
    """Seconds spent in each step of a click, from the work-done progress the server reported (its begin,
    then reports "serializing …", "packaging", "uploading", "registering", "launching"); "progress" is the
    time before the begin (the client's round trip to create the token)."""
    marks: list[tuple[str, float]] = []
    mine = [n for n in notes if n.method == "$/progress" and isinstance(n.params, dict)]
    token = next(  # the click's own progress (the server may report others meanwhile: indexing...)
        (
            n.params.get("token")
            for n in mine
            if (n.params.get("value") or {}).get("kind") == "begin"
            and str((n.params.get("value") or {}).get("title", "")).startswith("Running")
        ),
        None,
    )
    for n in mine:
        if n.params.get("token") != token:
            continue
        value = n.params.get("value") or {}
        if value.get("kind") == "begin":
            marks.append(("progress", 0.0))
            marks.append(("begin", n.at - t0))
        elif value.get("kind") == "report":
            marks.append(((value.get("message") or "?").split(" ", 1)[0], n.at - t0))
    out: dict[str, float] = {}
    if not marks:
        return out
    for (name, start), (_, end) in zip(marks, [*marks[1:], ("response", elapsed)], strict=True):
        out[name] = out.get(name, 0.0) + end - start
    return out


async def _wait_done(direct: Any, name: str) -> None:
    """Until the execution ends (directly on the backend, so neither proxy counts it)."""
    deadline = time.monotonic() + RUN_DEADLINE_S
    while time.monotonic() < deadline:
        ex = await direct.fetch_execution(PROJECT, DOMAIN, name)
        if ex.is_done:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"execution {name} did not end within {RUN_DEADLINE_S:g} s")


async def _pyflyte(config: Path, ws: Path) -> tuple[str, float]:
    cmd = [str(VENV_BIN / "pyflyte"), "--config", str(config), "run", "--remote", WORKFLOW_FILE, WORKFLOW]
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=str(ws), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), CLICK_TIMEOUT_S)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"pyflyte run --remote did not return within {CLICK_TIMEOUT_S:g} s") from None
    elapsed = time.perf_counter() - started
    text = out.decode("utf-8", "replace")
    found = re.findall(r"/executions/([a-z0-9]+)", text)
    if proc.returncode != 0 or not found:
        raise AssertionError(f"pyflyte run --remote failed ({proc.returncode}): {text[-2000:]}")
    return found[-1], elapsed


def _sample(name: str, elapsed: float, counts: Counter[str]) -> dict[str, Any]:
    return {"execution": name, "s": elapsed, "rpcs": sum(counts.values()), "by_method": dict(counts)}


def _series(samples: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [s["s"] for s in samples]
    out = {
        "samples": samples,
        "n": len(samples),
        "median_s": _median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "median_rpcs": _median([s["rpcs"] for s in samples]),
        "by_method_last": samples[-1]["by_method"],
    }
    names = [k for k in samples[0].get("steps") or {} if all(k in (s.get("steps") or {}) for s in samples)]
    if names:
        out["median_steps_s"] = {k: _median([s["steps"][k] for s in samples]) for k in names}
    return out


async def clicks(
    editor: Editor, direct: Any, proxy: CountingProxy, config: Path, warm: int, changed: int, peer: int
) -> dict[str, Any]:
    async def ours() -> dict[str, Any]:
        proxy.take()
        answer, elapsed = await editor.execute(WORKFLOW_FILE, WORKFLOW)
        counts = proxy.take()
        name = str(answer["execution"]["name"])
        await _wait_done(direct, name)
        return {**_sample(name, elapsed, counts), "version": answer.get("version"), "steps": answer["steps"]}

    async def theirs() -> dict[str, Any]:
        proxy.take()
        name, elapsed = await _pyflyte(config, editor.ws)
        counts = proxy.take()
        await _wait_done(direct, name)
        return _sample(name, elapsed, counts)

    first = await ours()  # starts the worker (flytekit imported once), registers, connects
    peer_first = await theirs()  # pyflyte's first run registers this version
    mine, others = [], []
    for i in range(max(warm, peer)):
        if i < warm:
            mine.append(await ours())
        if i < peer:
            others.append(await theirs())
    after_change = []
    for _ in range(changed):
        await editor.edit()
        await asyncio.sleep(1.0)  # the user moves to the lens; the server re-analyses the file meanwhile
        after_change.append(await ours())
    # Unchanged code registers nothing new (one version); every change is a new version.
    warm_versions = {first["version"], *(s["version"] for s in mine)}
    changed_versions = [s["version"] for s in after_change]
    if len(warm_versions) != 1 or len({*changed_versions, *warm_versions}) != 1 + len(after_change):
        raise AssertionError(f"versions: warm {warm_versions}, after changes {changed_versions}")
    out: dict[str, Any] = {
        "first": first,
        "peer_first": peer_first,
        "warm": _series(mine),
        "changed": _series(after_change),
        "pyflyte": _series(others),
    }
    out["ratio"] = out["pyflyte"]["median_s"] / out["warm"]["median_s"]
    return out


def _peer_poll(config: Path, names: list[str], proxy: CountingProxy, ready: threading.Event,
               go: threading.Event, out: dict[str, Any]) -> None:  # fmt: skip
    """flytekit's FlyteRemote: ``sync_execution`` of each execution once every PEER_EVERY_S for WINDOW_S."""
    try:
        from flytekit.configuration import Config as FlytekitConfig
        from flytekit.remote import FlyteRemote as FlytekitRemote

        remote = FlytekitRemote(
            FlytekitConfig.auto(config_file=str(config)), default_project=PROJECT, default_domain=DOMAIN
        )
        executions = [remote.fetch_execution(name=n) for n in names]
        ready.set()
        go.wait(120)
        proxy.take()
        started = time.monotonic()
        rounds, round_s, phases = 0, [], Counter()
        while time.monotonic() - started < WINDOW_S - 0.5:
            t0 = time.monotonic()
            for i, ex in enumerate(executions):
                executions[i] = remote.sync_execution(ex)
            round_s.append(time.monotonic() - t0)
            rounds += 1
            phases = Counter(str(e.closure.phase) for e in executions)
            rest = started + rounds * PEER_EVERY_S - time.monotonic()
            if rest > 0:
                time.sleep(min(rest, max(0.0, started + WINDOW_S - time.monotonic())))
        counts = proxy.take()
        out.update(
            rpcs=sum(counts.values()),
            by_method=dict(counts),
            rounds=rounds,
            round_s=round_s,
            phases_last_round=dict(phases),
            window_s=time.monotonic() - started,
        )
    except Exception as exc:  # reported, the section fails
        out["error"] = f"{type(exc).__name__}: {exc}"
        ready.set()


async def tracking(
    editor: Editor, proxy: CountingProxy, peer_proxy: CountingProxy, peer_config: Path, n: int
) -> dict[str, Any]:
    names, launch_s = [], []
    for _ in range(n):
        answer, elapsed = await editor.execute(NAP_FILE, NAP, {"seconds": NAP_S})
        names.append(str(answer["execution"]["name"]))
        launch_s.append(elapsed)
    peer: dict[str, Any] = {}
    ready, go = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=_peer_poll, args=(peer_config, names, peer_proxy, ready, go, peer), daemon=True
    )
    thread.start()
    await asyncio.sleep(SETTLE_S)
    await asyncio.to_thread(ready.wait, 120)
    if "error" in peer:
        raise AssertionError(f"the flytekit poller failed: {peer['error']}")

    def live(items: list[dict[str, Any]]) -> Counter[str]:
        wanted = set(names)
        return Counter(i["phase"] for i in items if i["execution"]["name"] in wanted)

    phases_before = live(await editor.executions())
    proxy.take()
    go.set()
    started = time.monotonic()
    await asyncio.sleep(WINDOW_S)
    counts = proxy.take()
    window = time.monotonic() - started
    phases_after = live(await editor.executions())
    await asyncio.to_thread(thread.join, 120)
    if "error" in peer or "rpcs" not in peer:
        raise AssertionError(f"the flytekit poller failed: {peer.get('error', 'no result')}")
    return {
        "executions": n,
        "nap_s": NAP_S,
        "launch_median_s": _median(launch_s),
        "settle_s": SETTLE_S,
        "window_s": window,
        "phases_at_start": dict(phases_before),
        "phases_at_end": dict(phases_after),
        "ours": {
            "rpcs": sum(counts.values()),
            "per_min": sum(counts.values()) * 60 / window,
            "by_method": dict(counts),
        },
        "flytekit": {**peer, "per_min": peer["rpcs"] * 60 / peer["window_s"]},
        "per_execution_poller_per_min": n * 60 / PEER_EVERY_S,  # one GetExecution each per interval
    }


def server_commit() -> str:
    """The last commit that changed the server (flyte_ls/), and whether the working tree differs from it."""
    try:
        git = ["git", "-C", str(REPO)]
        commit = subprocess.run(
            [*git, "log", "-1", "--format=%h", "--", "flyte_ls"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "flyte_ls"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    if dirty:
        commit += f" + uncommitted changes in {len(dirty.splitlines())} flyte_ls files"
    return commit or "?"


async def run_async(warm: int = 7, changed: int = 5, peer: int = 7, track: int = 50) -> dict[str, Any]:
    from flyte_ls.remote.config import Config
    from flyte_ls.remote.remote import AsyncFlyteRemote

    work = Path(tempfile.mkdtemp(prefix="flyte-ls-bench-click-"))
    backend = proxy = peer_proxy = editor = direct = None
    try:
        result: dict[str, Any] = {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_avg_at_start": os.getloadavg(),
            "workflow": f"{WORKFLOW_FILE}:{WORKFLOW}",
            "server": server_commit(),
        }
        ws = _workspace(work)
        backend = Backend(work / "state", pool=True)
        peer_proxy = CountingProxy(f"127.0.0.1:{backend.port}")
        peer_config = _proxy_config(backend, peer_proxy.port, work).rename(work / "peer-proxy-config.yaml")
        proxy = CountingProxy(f"127.0.0.1:{backend.port}")
        config = _proxy_config(backend, proxy.port, work)
        direct = AsyncFlyteRemote(Config.auto(str(backend.config)), PROJECT, DOMAIN)
        editor = Editor(work, ws, f"127.0.0.1:{proxy.port}")
        await editor.start()
        result["click"] = await clicks(editor, direct, proxy, config, warm, changed, peer)
        result["tracking"] = await tracking(editor, proxy, peer_proxy, peer_config, track)
        result["load_avg_at_end"] = os.getloadavg()
        return result
    finally:
        if editor is not None:
            await editor.close()
        if direct is not None:
            await direct.aclose()
        for p in (proxy, peer_proxy):
            if p is not None:
                p.stop()
        if backend is not None:
            backend.stop()
        shutil.rmtree(work, ignore_errors=True)


# -- the docs/performance.md section -------------------------------------------------------------------------
def _s(value: float) -> str:
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"


def _methods(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _ok(passed: bool) -> str:
    return "pass" if passed else "**FAIL**"


def verdicts(result: dict[str, Any]) -> list[str]:
    out = []
    click = result.get("click")
    if click:
        w, c, r = click["warm"]["median_s"], click["changed"]["median_s"], click["ratio"]
        out.append(f"click → execution, warm: {_s(w)} (target ≤ {_s(WARM_TARGET_S)}) "
                   f"{'pass' if w <= WARM_TARGET_S else 'FAIL'}")  # fmt: skip
        out.append(f"click → execution, after a change: {_s(c)} (target ≤ {_s(CHANGED_TARGET_S)}) "
                   f"{'pass' if c <= CHANGED_TARGET_S else 'FAIL'}")  # fmt: skip
        out.append(f"click → execution, pyflyte run --remote / ours warm: {r:.1f}{X} "
                   f"(target ≥ {RATIO_TARGET:.0f}{X}) {'pass' if r >= RATIO_TARGET else 'FAIL'}")  # fmt: skip
    track = result.get("tracking")
    if track:
        out.append(f"tracking {track['executions']} executions: {track['ours']['per_min']:.0f} RPCs/min "
                   f"(flytekit sync_execution every {PEER_EVERY_S:g} s: "
                   f"{track['flytekit']['per_min']:.0f}/min)")  # fmt: skip
    return out


def render(result: dict[str, Any]) -> str:
    """The docs/performance.md section (between BEGIN and END)."""
    lines = [BEGIN, "", "## Run from the editor: click → execution, and tracking executions", ""]
    if "error" in result:
        return "\n".join([*lines, f"The benchmark failed in this run: {result['error']}", "", END])
    load0 = " / ".join(f"{v:.2f}" for v in result["load_avg_at_start"])
    load1 = " / ".join(f"{v:.2f}" for v in result["load_avg_at_end"])
    click, track = result["click"], result["tracking"]
    warm, changed, peer = click["warm"], click["changed"], click["pyflyte"]
    ratio = click["ratio"]
    ours, theirs = track["ours"], track["flytekit"]
    n = track["executions"]
    lines += [
        f"Measured by `bench/run_click.py` on {result['date']}; load average {load0} at the start, "
        f"{load1} at the end; server at {result.get('server', '?')}. One fresh `flyte-ls local start` "
        "(fork-server pool); the language server over "
        "stdio with `endpoint` / `insecure` / `pythonPath` settings, on a copy of `examples/`; the server "
        "and the peers reach the backend through the same kind of counting gRPC proxy ("
        "bench/remote_client.py's `CountingProxy`). Peer: `pyflyte run --remote` (flytekit "
        f"{_flytekit_version()}), in the same run, alternating with our warm clicks.",
        "",
        f"### Click → execution created (`flyte.execute` on `{result['workflow']}`)",
        "",
        "| | median | min … max | RPCs (median) | target | result |",
        "|---|---|---|---|---|---|",
        f"| ours, warm, unchanged code (median of {warm['n']}) | {_s(warm['median_s'])} "
        f"| {_s(warm['min_s'])} … {_s(warm['max_s'])} | {warm['median_rpcs']:g} | ≤ {_s(WARM_TARGET_S)} "
        f"| {_ok(warm['median_s'] <= WARM_TARGET_S)} |",
        f"| ours, after a code change (median of {changed['n']}) | {_s(changed['median_s'])} "
        f"| {_s(changed['min_s'])} … {_s(changed['max_s'])} | {changed['median_rpcs']:g} "
        f"| ≤ {_s(CHANGED_TARGET_S)} | {_ok(changed['median_s'] <= CHANGED_TARGET_S)} |",
        f"| `pyflyte run --remote`, unchanged code (median of {peer['n']}) | {_s(peer['median_s'])} "
        f"| {_s(peer['min_s'])} … {_s(peer['max_s'])} | {peer['median_rpcs']:g} | — | — |",
        f"| pyflyte / ours warm | {ratio:.1f}{X} | | | ≥ {RATIO_TARGET:.0f}{X} "
        f"| {_ok(ratio >= RATIO_TARGET)} |",
        f"| ours, the first click (starts the worker: flytekit imported once, registers) "
        f"| {_s(click['first']['s'])} | | {click['first']['rpcs']} | — | — |",
        "",
        *_where(warm, changed),
        f"RPCs by method, last click — ours warm: {_methods(warm['by_method_last'])}; ours after a change: "
        f"{_methods(changed['by_method_last'])}; pyflyte: {_methods(peer['by_method_last'])} (a click's "
        "count includes any poll of the execution tracker that fell inside it). Ours: from sending "
        "`workspace/executeCommand` to its response (the execution exists then), work-done progress "
        "included (the server asks the client to create a progress token first); the entity is serialized in "
        "a forked child of the warm worker, the loaded files packaged, the version is a content hash "
        "(unchanged code: the same version, the registration finds it already there), then CreateExecution. "
        "After a change: the edited file is saved and sent (didChange + didSave) 1 s before the click, then "
        "a new version is uploaded and registered. pyflyte: the whole `pyflyte --config <proxy config> run "
        "--remote workflows/pipeline.py prepare` command (no `--wait`), interpreter start and flytekit "
        "import included — what a user runs from a terminal. Each execution is waited for before the next "
        "click.",
        "",
        f"### RPCs while tracking {n} executions",
        "",
        f"| over {track['window_s']:.0f} s | RPCs | RPCs / min | by method |",
        "|---|---|---|---|",
        f"| ours: the server's tracker, all {n} | {ours['rpcs']} | {ours['per_min']:.0f} "
        f"| {_methods(ours['by_method'])} |",
        f"| flytekit `FlyteRemote.sync_execution` of each, every {PEER_EVERY_S:g} s ({theirs['rounds']} "
        f"rounds) | {theirs['rpcs']} | {theirs['per_min']:.0f} | {_methods(theirs['by_method'])} |",
        f"| the least a per-execution poller can send (one `GetExecution` each every {PEER_EVERY_S:g} s; "
        f"arithmetic) | — | {track['per_execution_poller_per_min']:.0f} | GetExecution |",
        "",
        f"{n} executions of `{NAP_FILE}:{NAP}` (a task that sleeps {track['nap_s']} s) launched with "
        f"`flyte.execute` (median {_s(track['launch_median_s'])} each), then {track['settle_s']:g} s of "
        "settling (the tracker polls every second right after a launch and backs off to 10 s while nothing "
        f"changes), then the window. Phases of the {n} as the server reported them (`flyte/executions`): "
        f"{_phases(track['phases_at_start'])} at the start of the window, "
        f"{_phases(track['phases_at_end'])} at the end. The flytekit poller ran in the same window, through "
        "its own proxy, on the same executions (fetched before the window).",
        "",
        END,
    ]
    return "\n".join(lines)


def _where(warm: dict[str, Any], changed: dict[str, Any]) -> list[str]:
    """Where a click's time goes: the median of each step, from the server's work-done progress."""
    a, b = warm.get("median_steps_s") or {}, changed.get("median_steps_s") or {}
    if not a:
        return []
    parts = [
        f"{k} {a[k] * 1000:.0f} / {b[k] * 1000:.0f} ms" if k in b else f"{k} {a[k] * 1000:.0f} ms" for k in a
    ]
    return [
        "Where a click's time goes (median of each step, warm / after a change; from the work-done progress "
        "the server reports, as the client receives it: `progress` is the round trip that creates the "
        f"progress token, each step lasts until the next one's report, `launching` until the response): "
        f"{'; '.join(parts)}.",
        "",
    ]


def _phases(phases: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in sorted(phases.items())) or "none"


def _flytekit_version() -> str:
    try:
        from importlib.metadata import version

        return version("flytekit")
    except Exception:  # a label only
        return "?"


def update_doc(path: Path, result: dict[str, Any]) -> None:
    """Replace (or insert, just above the hand-written notes) this section of docs/performance.md."""
    replace_section(path, render(result), BEGIN, END)


def run_bench(warm: int = 7, changed: int = 5, peer: int = 7, track: int = 50) -> dict[str, Any]:
    return asyncio.run(run_async(warm, changed, peer, track))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=7, help="warm clicks, unchanged code (default 7)")
    parser.add_argument("--changed", type=int, default=5, help="clicks after a code change (default 5)")
    parser.add_argument("--peer", type=int, default=7, help="pyflyte run --remote (default 7)")
    parser.add_argument("--track", type=int, default=50, help="executions tracked (default 50)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md")
    args = parser.parse_args(argv)
    result = run_bench(args.warm, args.changed, args.peer, args.track)
    out = save_result("run-click", result)
    print(render(result))
    print(f"\nresults: {out}")
    for row in verdicts(result):
        print(f"  {row}")
    if not args.no_write:
        update_doc(REPO / "docs" / "performance.md", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
