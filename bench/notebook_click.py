"""Notebooks: Run from a cell → execution created, against flytekit's interactive mode in a warm IPython
shell; and what notebook sync costs per edit, against the same code as one .py file.

    .venv/bin/python bench/notebook_click.py [--warm 7] [--changed 5] [--edits 40] [--no-write]

1. Click in a cell → execution created. One fresh ``flyte-ls local start`` (temp state dir, free ports,
   fork-server pool) and one language server (``flyte-ls serve`` over stdio, bench/lspwire.py's client,
   settings ``endpoint`` / ``insecure`` / ``pythonPath``) with a small notebook open by notebook sync
   (``CELLS``: imports with a magic, constants, two tasks, a workflow). The server and the peer reach the
   backend through bench/remote_client.py's ``CountingProxy`` (one each), so both pay the same extra hop and
   their RPCs are counted. Ours: the time from sending ``workspace/executeCommand flyte.execute {uri: <the
   workflow cell's URI>, entity, inputs}`` to its response (the execution exists then) — warm with unchanged
   cells (after one warm-up click), and after a cell edit (the constants cell changed by
   ``notebookDocument/didChange`` 1 s before each click). Peer, alternating with ours: flytekit's
   interactive mode in one long-lived IPython ``InteractiveShell`` in the same interpreter (the cells run
   once, ``FlyteRemote(..., interactive_mode_enabled=True)`` created once); a warm peer click is the cell
   ``execution = remote.execute(wf, inputs=...)`` run in that shell, timed inside the process; after a
   change, the edited cell and the workflow's cell are run again in the shell, then the execute cell (all
   timed). Each execution is waited for (directly on the backend, not counted) before the next click; it
   must succeed and return what the cells as edited compute. Then one more peer click with only the edited
   cell run again (flytekit's cached version: it launches the old code).
2. Notebook sync cost: bench/notebook_sync.py (a 100-cell notebook against the same code as one .py file).

``bench/run.py --only notebook`` calls :func:`run_async` and writes the section of docs/performance.md between
the markers below; this script alone updates just that section. Raw results: bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import notebook_sync  # noqa: E402
from local_chain import Backend  # noqa: E402
from lspwire import LspClient  # noqa: E402
from notebook_sync import NotebookMirror, capabilities, did_open_notebook, notebook_json  # noqa: E402
from remote_client import CountingProxy, _proxy_config  # noqa: E402
from report import replace_section, save_result  # noqa: E402
from run_click import _flytekit_version, _methods, _s, _series, server_commit, steps  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python")
PROJECT, DOMAIN = "flytesnacks", "development"
ENTITY, INPUTS = "report", {"n": 20}
CONSTANTS = "SCALE = {}  # the benchmark edits this line before each click after a change\nPOINTS = 7"
CELLS: list[tuple[str, str]] = [
    ("code", "%load_ext autoreload\nimport math\n\nfrom flytekit import task, workflow"),
    ("markdown", "# Scores\n\nA task that scores a series, one that labels the score, and a workflow."),
    ("code", CONSTANTS.format(0)),
    (
        "code",
        "@task\ndef score(n: int) -> float:\n"
        "    values = [math.sin(i / POINTS) * (SCALE + 1) for i in range(n)]\n"
        "    return round(sum(values) / max(1, n), 6)",
    ),
    (
        "code",
        "@task\ndef label(value: float, n: int) -> str:\n"
        "    return f\"{n} points: {value:.3f} ({'high' if value > 0.5 else 'low'})\"",
    ),
    (
        "code",
        "@workflow\ndef report(n: int = 20) -> str:\n    return label(value=score(n=n), n=n)",
    ),
]
CONSTANTS_CELL, WORKFLOW_CELL = 2, 5
CLICK_TIMEOUT_S = 180.0
RUN_DEADLINE_S = 120.0
BEGIN = "<!-- notebook:begin (written by bench/notebook_click.py) -->"
END = "<!-- notebook:end -->"
X = "\u00d7"

# flytekit's interactive mode in a real IPython shell, driven over stdin/stdout (one JSON object a line; the
# answers are the stdout lines starting with "BENCH ", everything else the shell prints is ignored).
_KERNEL = """
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell

out = sys.stdout
shell = InteractiveShell.instance()


def reply(obj):
    out.write("BENCH " + json.dumps(obj) + "\\n")
    out.flush()


def run(source):
    t0 = time.perf_counter()
    result = shell.run_cell(source, store_history=True)
    if not result.success:
        raise RuntimeError(repr(result.error_before_exec or result.error_in_exec))
    return time.perf_counter() - t0


for line in sys.stdin:
    msg = json.loads(line)
    try:
        if msg["op"] == "cells":
            reply({"cells_s": [run(source) for source in msg["cells"]]})
        else:
            cell_s = sum(run(source) for source in msg["cells"])
            execute_s = run(msg["execute"])
            ex = shell.user_ns["execution"]
            reply({"execution": ex.id.name, "version": ex.spec.launch_plan.version, "cell_s": cell_s,
                   "execute_s": execute_s, "interactive": shell.user_ns["remote"].interactive_mode_enabled})
    except Exception as exc:
        reply({"error": f"{type(exc).__name__}: {exc}"})
"""


class Kernel:
    """One long-lived IPython shell with the notebook's cells run and a FlyteRemote in interactive mode."""

    def __init__(self, work: Path, config: Path) -> None:
        self.work, self.config = work, config
        self.proc: asyncio.subprocess.Process | None = None
        self.log: IO[bytes] | None = None

    async def start(self) -> dict[str, Any]:
        (self.work / "kernel.py").write_text(_KERNEL)
        self.log = open(self.work / "kernel.log", "wb")
        self.proc = await asyncio.create_subprocess_exec(
            PYTHON, "kernel.py", cwd=str(self.work), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=self.log,
        )  # fmt: skip
        cells = [source for kind, source in CELLS if kind == "code"]
        cells.append(
            "from flytekit.configuration import Config\nfrom flytekit.remote import FlyteRemote\n\n"
            f"remote = FlyteRemote(Config.auto(config_file={str(self.config)!r}),\n"
            f"                     default_project={PROJECT!r}, default_domain={DOMAIN!r},\n"
            "                     interactive_mode_enabled=True)"
        )
        return await self.ask({"op": "cells", "cells": cells})

    async def ask(self, msg: dict[str, Any]) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        await self.proc.stdin.drain()
        deadline = time.monotonic() + CLICK_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), max(0.1, left))
            except asyncio.TimeoutError:
                raise AssertionError(
                    f"the IPython shell did not answer within {CLICK_TIMEOUT_S:g} s"
                ) from None
            if not line:
                raise AssertionError(f"the IPython shell exited; see {self.work / 'kernel.log'}")
            if line.startswith(b"BENCH "):
                answer: dict[str, Any] = json.loads(line[6:])
                if "error" in answer:
                    raise AssertionError(f"in the IPython shell: {answer['error']}")
                return answer

    async def execute(self, *cells: str) -> dict[str, Any]:
        """Run ``cells`` (if any), then ``execution = remote.execute(wf, inputs=...)``; both timed inside."""
        execute = f"execution = remote.execute({ENTITY}, inputs={INPUTS!r})"
        return await self.ask({"op": "run", "cells": list(cells), "execute": execute})

    async def close(self) -> None:
        if self.proc is not None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.log is not None:
            self.log.close()


class NotebookEditor:
    """The language server over stdio with the notebook open, as VS Code drives it."""

    def __init__(self, work: Path, ws: Path, endpoint: str) -> None:
        self.ws = ws
        self.path = ws / "scores.ipynb"
        self.path.write_text(notebook_json(CELLS))
        self.settings = {
            "endpoint": endpoint,
            "insecure": True,
            "pythonPath": PYTHON,
            "local": {"autoStart": False},
        }
        env = shutil.which("env") or "/usr/bin/env"
        argv = [env, f"XDG_CACHE_HOME={work / 'cache'}", str(VENV_BIN / "flyte-ls"), "serve"]
        self.client = LspClient(argv, cwd=str(ws), settings={"flyte": self.settings})
        self.mirror: NotebookMirror | None = None
        self.uris: list[str] = []

    async def start(self) -> None:
        await self.client.start()
        await self.client.initialize(
            root=str(self.ws), capabilities=capabilities(), initialization_options=self.settings, timeout=60
        )
        self.uris = did_open_notebook(self.client, self.path, CELLS)
        self.mirror = NotebookMirror(self.path, self.uris, CELLS)

    async def execute(self) -> tuple[dict[str, Any], float]:
        """``flyte.execute`` on the workflow's cell; (its result, seconds from sending to the response)."""
        args = {"uri": self.uris[WORKFLOW_CELL], "entity": ENTITY, "inputs": INPUTS}
        since = len(self.client.notifications)
        t0 = time.perf_counter()
        result, elapsed = await self.client.timed_request(
            "workspace/executeCommand",
            {"command": "flyte.execute", "arguments": [args]},
            timeout=CLICK_TIMEOUT_S,
        )
        result["steps"] = steps(self.client.notifications[since:], t0, elapsed)
        return result, elapsed

    def edit(self, value: int) -> str:
        """Change the constants cell's ``SCALE`` (``notebookDocument/didChange``); the cell's new source."""
        assert self.mirror is not None
        self.mirror.change_line(
            self.client, self.uris[CONSTANTS_CELL], 0, CONSTANTS.format(value).split("\n")[0]
        )
        return CONSTANTS.format(value)

    async def close(self) -> None:
        await self.client.close(timeout=15)


async def _wait_done(direct: Any, name: str) -> Any:
    """Until the execution succeeds (directly on the backend, so neither proxy counts it); its output."""
    deadline = time.monotonic() + RUN_DEADLINE_S
    while time.monotonic() < deadline:
        ex = await direct.fetch_execution(PROJECT, DOMAIN, name)
        if ex.is_done:
            if not ex.is_successful:
                raise AssertionError(f"execution {name} ended {ex.phase_name}")
            synced = await direct.sync_execution(ex)
            return (synced.outputs or {}).get("o0")
        await asyncio.sleep(0.2)
    raise AssertionError(f"execution {name} did not end within {RUN_DEADLINE_S:g} s")


def expected_output(scale: int) -> str:
    """What ``report(n=20)`` returns with ``SCALE = scale`` (the cells' code, computed here)."""
    n = INPUTS["n"]
    value = round(sum(math.sin(i / 7) * (scale + 1) for i in range(n)) / max(1, n), 6)
    return f"{n} points: {value:.3f} ({'high' if value > 0.5 else 'low'})"


def _sample(name: str, elapsed: float, counts: Counter[str], **extra: Any) -> dict[str, Any]:
    return {"execution": name, "s": elapsed, "rpcs": sum(counts.values()), "by_method": dict(counts), **extra}


async def clicks(
    editor: NotebookEditor,
    kernel: Kernel,
    direct: Any,
    proxy: CountingProxy,
    peer_proxy: CountingProxy,
    warm: int,
    changed: int,
) -> dict[str, Any]:
    scale = {"now": 0}  # SCALE in the cells as the editor has them

    async def ours() -> dict[str, Any]:
        proxy.take()
        answer, elapsed = await editor.execute()
        counts = proxy.take()
        name = str(answer["execution"]["name"])
        output = await _wait_done(direct, name)
        return _sample(
            name,
            elapsed,
            counts,
            version=answer.get("version"),
            steps=answer["steps"],
            output=output,
            as_edited=output == expected_output(scale["now"]),
        )

    async def theirs(*cells: str) -> dict[str, Any]:
        peer_proxy.take()
        answer = await kernel.execute(*cells)
        counts = peer_proxy.take()
        if answer.get("interactive") is not True:
            raise AssertionError("flytekit's FlyteRemote is not in interactive mode")
        name = answer["execution"]
        output = await _wait_done(direct, name)
        return _sample(
            name,
            answer["cell_s"] + answer["execute_s"],
            counts,
            version=answer["version"],
            cell_s=answer["cell_s"],
            execute_s=answer["execute_s"],
            output=output,
            as_edited=output == expected_output(scale["now"]),
        )

    first = await ours()  # starts the worker (flytekit imported once), registers, connects
    setup_s = (await kernel.start())["cells_s"]  # the shell runs the cells, FlyteRemote created
    peer_first = await theirs()  # registers this version
    mine, others = [], []
    for _ in range(warm):
        mine.append(await ours())
        others.append(await theirs())
    after_change, others_after_change = [], []
    workflow_cell = CELLS[WORKFLOW_CELL][1]
    for i in range(changed):
        scale["now"] = i + 1
        cell = editor.edit(scale["now"])
        await asyncio.sleep(1.0)  # the user moves to the lens; the server re-analyses the notebook meanwhile
        after_change.append(await ours())
        # flytekit: the edited cell, then the workflow's cell (a new workflow object: flytekit caches the
        # version per workflow object), then the execute cell.
        others_after_change.append(await theirs(cell, workflow_cell))
    # Unchanged cells register nothing new (one version); every change is a new version — on both sides.
    sides = (("ours", first, mine, after_change), ("flytekit", peer_first, others, others_after_change))
    for who, a, b, c in sides:
        warm_versions = {a["version"], *(s["version"] for s in b)}
        changed_versions = [s["version"] for s in c]
        if len(warm_versions) != 1 or len({*changed_versions, *warm_versions}) != 1 + len(c):
            raise AssertionError(f"{who} versions: warm {warm_versions}, after changes {changed_versions}")
        stale = [s["execution"] for s in (a, *b, *c) if not s["as_edited"]]
        if stale:
            raise AssertionError(f"{who}: executions that did not run the cells as edited: {stale}")
    # flytekit when only the edited cell is run again: the same workflow object, its cached version.
    scale["now"] = changed + 1
    probe = await theirs(editor.edit(scale["now"]))
    out: dict[str, Any] = {
        "first": first,
        "peer_setup_cells_s": setup_s,
        "peer_first": peer_first,
        "warm": _series(mine),
        "changed": _series(after_change),
        "peer_warm": _series(others),
        "peer_changed": _series(others_after_change),
        "peer_only_edited_cell": {
            **probe,
            "version_reused": probe["version"] == others_after_change[-1]["version"] if changed else None,
            "expected_output": expected_output(scale["now"]),
        },
    }
    for key in ("peer_warm", "peer_changed"):
        samples = out[key]["samples"]
        out[key]["median_cell_s"] = _median([s["cell_s"] for s in samples])
        out[key]["median_execute_s"] = _median([s["execute_s"] for s in samples])
    out["ratio_warm"] = out["warm"]["median_s"] / out["peer_warm"]["median_s"]
    out["ratio_changed"] = out["changed"]["median_s"] / out["peer_changed"]["median_s"]
    return out


def _median(xs: list[float]) -> float:
    import statistics

    return statistics.median(xs) if xs else float("nan")


async def run_async(warm: int = 7, changed: int = 5, edits: int = 40, toggles: int = 20) -> dict[str, Any]:
    from flyte_ls.remote.config import Config
    from flyte_ls.remote.remote import AsyncFlyteRemote

    work = Path(tempfile.mkdtemp(prefix="flyte-ls-bench-notebook-"))
    backend = proxy = peer_proxy = editor = direct = kernel = None
    try:
        result: dict[str, Any] = {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_avg_at_start": os.getloadavg(),
            "server": server_commit(),
            "ipython": _version("ipython"),
        }
        t0 = time.perf_counter()
        result["sync"] = await notebook_sync.measure(work / "sync", edits, toggles)
        result["sync_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ws = work / "workspace"
        ws.mkdir()
        backend = Backend(work / "state", pool=True)
        proxy = CountingProxy(f"127.0.0.1:{backend.port}")
        peer_proxy = CountingProxy(f"127.0.0.1:{backend.port}")
        (work / "kernel").mkdir()
        peer_config = _proxy_config(backend, peer_proxy.port, work / "kernel")
        direct = AsyncFlyteRemote(Config.auto(str(backend.config)), PROJECT, DOMAIN)
        editor = NotebookEditor(work, ws, f"127.0.0.1:{proxy.port}")
        await editor.start()
        kernel = Kernel(work / "kernel", peer_config)
        result["click"] = await clicks(editor, kernel, direct, proxy, peer_proxy, warm, changed)
        result["click_s"] = time.perf_counter() - t0
        result["load_avg_at_end"] = os.getloadavg()
        return result
    finally:
        if kernel is not None:
            await kernel.close()
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


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # a label only
        return "?"


# -- the docs/performance.md section -------------------------------------------------------------------------
def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def verdicts(result: dict[str, Any]) -> list[str]:
    out = []
    click, sync = result.get("click"), result.get("sync")
    if click:
        for key, what in (("warm", "warm"), ("changed", "after a cell edit")):
            ours, peer = click[key]["median_s"], click[f"peer_{key}"]["median_s"]
            out.append(
                f"notebook click → execution, {what}: ours {_s(ours)}, flytekit interactive {_s(peer)} "
                f"(ours/flytekit {click[f'ratio_{key}']:.2f}{X})"
            )
    if sync:
        nb, f = sync["notebook"]["code_lens"]["median_ms"], sync["file"]["code_lens"]["median_ms"]
        out.append(
            f"notebook sync, edit → codeLens: notebook {_ms(nb)}, file {_ms(f)} "
            f"(notebook/file {sync['code_lens_ratio']:.2f}{X})"
        )
    return out


def render(result: dict[str, Any]) -> str:
    """The docs/performance.md section (between BEGIN and END)."""
    lines = [BEGIN, "", "## Notebooks: Run from a cell, and notebook sync", ""]
    if "error" in result:
        return "\n".join([*lines, f"The benchmark failed in this run: {result['error']}", "", END])
    load0 = " / ".join(f"{v:.2f}" for v in result["load_avg_at_start"])
    load1 = " / ".join(f"{v:.2f}" for v in result["load_avg_at_end"])
    return "\n".join(
        [
            *lines,
            f"Measured by `bench/notebook_click.py` on {result['date']}; load average {load0} at the "
            f"start, {load1} at the end; server at {result.get('server', '?')}. Ratio = ours / peer: "
            "below 1, ours is faster.",
            "",
            *_click_lines(result),
            *_sync_lines(result["sync"]),
            END,
        ]
    )


def _click_lines(result: dict[str, Any]) -> list[str]:
    click = result["click"]
    warm, changed, first, peer_first = click["warm"], click["changed"], click["first"], click["peer_first"]
    pwarm, pchanged, probe = click["peer_warm"], click["peer_changed"], click["peer_only_edited_cell"]
    stale = "the version it had registered before the edit" if probe["version_reused"] else "a new version"
    return [
        f"### Click in a cell → execution created (`flyte.execute` on `{ENTITY}`, a two-task workflow)",
        "",
        f"Peer: flytekit {_flytekit_version()}'s interactive mode in an already-warm IPython "
        f"{result['ipython']} `InteractiveShell` (one long-lived process: the cells ran once, "
        "`FlyteRemote(..., interactive_mode_enabled=True)` created once), in the same run, alternating "
        "with our clicks.",
        "",
        "| | ours (median) | min … max | flytekit interactive (median) | min … max | ours / flytekit "
        "| RPCs ours / flytekit (median) |",
        "|---|---|---|---|---|---|---|",
        f"| warm, unchanged cells (median of {warm['n']} each) | {_s(warm['median_s'])} "
        f"| {_s(warm['min_s'])} … {_s(warm['max_s'])} | {_s(pwarm['median_s'])} "
        f"| {_s(pwarm['min_s'])} … {_s(pwarm['max_s'])} | **{click['ratio_warm']:.2f}{X}** "
        f"| {warm['median_rpcs']:g} / {pwarm['median_rpcs']:g} |",
        f"| after a cell edit (median of {changed['n']} each) | {_s(changed['median_s'])} "
        f"| {_s(changed['min_s'])} … {_s(changed['max_s'])} | {_s(pchanged['median_s'])} "
        f"| {_s(pchanged['min_s'])} … {_s(pchanged['max_s'])} | **{click['ratio_changed']:.2f}{X}** "
        f"| {changed['median_rpcs']:g} / {pchanged['median_rpcs']:g} |",
        "| the first click (ours: starts the worker — flytekit imported once — and registers; flytekit: "
        "registers, its import and the cells having run before) "
        f"| {_s(first['s'])} | | {_s(peer_first['s'])} | | | {first['rpcs']} / {peer_first['rpcs']} |",
        "",
        "What each side does per click. **Ours**: from sending `workspace/executeCommand flyte.execute "
        "{uri: <the workflow cell's URI>, entity, inputs}` to its response (the execution exists then), "
        "work-done progress included. Every click, the warm worker forks a fresh child that runs code "
        "cells 1..k (k = the workflow's cell; magics blanked) as the editor has them, pickles the workflow "
        "and its tasks (cloudpickle, flytekit's `PickledEntity`) into `pkl.gz`; the server hashes the "
        "pickle into the version, uploads `pkl.gz`, registers (unchanged cells: the same version, the "
        "registration finds it already there) and creates the execution. Nothing runs in, or depends on, "
        "a kernel. After an edit, the constants cell was changed by `notebookDocument/didChange` 1 s "
        "before the click (not timed); the click then registers a new version. **flytekit**: the cell "
        f"`execution = remote.execute({ENTITY}, inputs={INPUTS!r})` run in the warm shell, timed inside "
        "that process: flytekit works on the kernel's live objects; the version comes from an md5 of the "
        "pickled workflow that `_get_pickled_target_dict` caches per workflow object (`functools."
        "lru_cache`), so a warm click pickles nothing and sends CreateExecution + GetExecution; when the "
        "version is not registered yet it pickles, uploads and registers. After an edit, the user runs "
        f"the edited cell again and then the workflow's cell (a new workflow object) before the execute "
        f"cell, all timed: {_s(pchanged['median_cell_s'])} for the two cells, "
        f"{_s(pchanged['median_execute_s'])} for the execute cell (medians; warm, the execute cell "
        f"{_s(pwarm['median_execute_s'])}). Running the notebook's cells and creating the FlyteRemote "
        f"once, before the first peer click (in no row): {_s(sum(click['peer_setup_cells_s']))}. Both "
        "reach the same fresh `flyte-ls local start` (fork-server pool) through a counting gRPC proxy "
        "each; each execution is waited for (not timed), must succeed, and its output must be what the "
        "cells as edited compute — every execution in the rows above passed that check.",
        "",
        "Only the edited cell run again, as a user easily does: flytekit answered from its cache with "
        f"{stale} ({probe['rpcs']} RPCs, {_s(probe['s'])} for the cell and the execute cell), and the "
        f"execution returned `{probe['output']}` where the edited cells compute "
        f"`{probe['expected_output']}`: it ran the old code. Ours runs the cells as the editor has them "
        "on every click.",
        "",
        *_where(warm, changed),
        f"RPCs by method, last click — ours warm: {_methods(warm['by_method_last'])}; ours after an edit: "
        f"{_methods(changed['by_method_last'])}; flytekit warm: {_methods(pwarm['by_method_last'])}; "
        f"flytekit after an edit: {_methods(pchanged['by_method_last'])} (ours may include a poll of the "
        "execution tracker that fell inside the click).",
        "",
    ]


def _sync_lines(sync: dict[str, Any]) -> list[str]:
    nb, f = sync["notebook"], sync["file"]
    return [
        f"### Notebook sync: per-edit cost on a {sync['code_cells']}-cell notebook vs the same code as a "
        "file",
        "",
        "| after a one-line edit in a late cell | notebook (median) | p90 | file (median) | p90 "
        "| notebook / file |",
        "|---|---|---|---|---|---|",
        _sync_row(sync, "code_lens", "edit → `codeLens` of the edited cell (of the file) answered"),
        _sync_row(sync, "diagnostics", "edit → its diagnostics published (incl. the 300 ms debounce)"),
        _cpu_row("server CPU time per edit + `codeLens` (mean, all threads)", nb, f, "code_lens"),
        _cpu_row(
            "server CPU time per edit, diagnostics series (mean; the lint pass itself runs in a worker "
            "process)",
            nb,
            f,
            "diagnostics",
        ),
        f"| `publishDiagnostics` notifications per lint pass "
        f"| {nb['diagnostics']['publications_per_edit']:g} | "
        f"| {f['diagnostics']['publications_per_edit']:g} | | |",
        f"| first `codeLens` right after `didOpen` | {_s(sync['notebook_first_lens_s'])} | "
        f"| {_s(sync['file_first_lens_s'])} | | "
        f"{sync['notebook_first_lens_s'] / sync['file_first_lens_s']:.2f}{X} |",
        "",
        f"The notebook (bench/notebook_sync.py): {sync['code_cells']} code cells and "
        f"{sync['markdown_cells']} markdown cells, {sync['lines']} lines, {sync['entities']} entities (30 "
        "tasks, 10 workflows), helpers and exploration cells with `%time` and `!ls` lines; the file: the "
        "same code cells joined, IPython lines commented out, so that every cell line is a file line. One "
        f"fresh `flyte-ls serve` per kind with only that document open. {sync['edits']} edits of a task "
        f"body in code cell {sync['edited_code_cell']} (`notebookDocument/didChange` with the cell's "
        "incremental change; `textDocument/didChange` of the same line), each followed at once by "
        f"`codeLens` (0.1 s apart, after 5 warm-up edits); then {sync['toggles']} edits that alternately "
        "remove and restore a task input's annotation, each waited for until its diagnostics show the new "
        "state (a notebook's are published per cell URI without a version, so the wait is on the edited "
        "cell's content; the file's carry the version). On every notebook change the server rebuilds the "
        "whole module text from all cells and analyses it as a new text; a lint pass publishes only the "
        "cells whose diagnostics changed (a removed cell, or a closed notebook's, is cleared).",
        "",
    ]


def _sync_row(sync: dict[str, Any], key: str, label: str) -> str:
    a, b = sync["notebook"][key], sync["file"][key]
    return (
        f"| {label} | {_ms(a['median_ms'])} | {_ms(a['p90_ms'])} | {_ms(b['median_ms'])} "
        f"| {_ms(b['p90_ms'])} | {sync[f'{key}_ratio']:.2f}{X} |"
    )


def _cpu_row(label: str, nb: dict[str, Any], f: dict[str, Any], key: str) -> str:
    a, b = nb[key].get("server_cpu_ms_per_edit"), f[key].get("server_cpu_ms_per_edit")
    if a is None or b is None:
        return f"| {label} | n/a | | n/a | | — |"
    return (
        f"| {label} | {_ms(a)} | | {_ms(b)} | | {a / b:.2f}{X} |"
        if b
        else f"| {label} | {_ms(a)} | | 0 | | — |"
    )


def _where(warm: dict[str, Any], changed: dict[str, Any]) -> list[str]:
    a, b = warm.get("median_steps_s") or {}, changed.get("median_steps_s") or {}
    if not a:
        return []
    parts = [
        f"{k} {a[k] * 1000:.0f} / {b[k] * 1000:.0f} ms" if k in b else f"{k} {a[k] * 1000:.0f} ms" for k in a
    ]
    return [
        "Where our click's time goes (median of each step, warm / after an edit, from the work-done progress "
        "the server reports as the client receives it: `progress` is the round trip that creates the token, "
        f"each step lasts until the next one's report, `launching` until the response): {'; '.join(parts)}.",
        "",
    ]


def update_doc(path: Path, result: dict[str, Any]) -> None:
    """Replace (or insert, just above the hand-written notes) this section of docs/performance.md."""
    replace_section(path, render(result), BEGIN, END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=7, help="warm clicks per side (default 7)")
    parser.add_argument(
        "--changed", type=int, default=5, help="clicks after a cell edit per side (default 5)"
    )
    parser.add_argument("--edits", type=int, default=40, help="edits per kind for notebook sync (default 40)")
    parser.add_argument("--toggles", type=int, default=20, help="diagnostics edits per kind (default 20)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md")
    args = parser.parse_args(argv)
    result = asyncio.run(run_async(args.warm, args.changed, args.edits, args.toggles))
    out = save_result("notebook", result)
    print(render(result))
    print(f"\nresults: {out}")
    for row in verdicts(result):
        print(f"  {row}")
    if not args.no_write:
        update_doc(REPO / "docs" / "performance.md", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
