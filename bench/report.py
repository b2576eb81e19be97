"""Render the benchmark's results as docs/performance.md (keeps the hand-written notes below the marker)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

NOTES_MARKER = (
    "<!-- Everything below this line is hand-written and kept when bench/run.py rewrites the file. -->"
)


def replace_section(path: Path, section: str, begin: str, end: str) -> None:
    """Write ``section`` (from ``begin`` to ``end``) into docs/performance.md: in place of the old one, else
    just above the hand-written notes, else at the end. Everything else is kept."""
    text = path.read_text() if path.exists() else "# Performance\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    elif NOTES_MARKER in text:
        head, notes = text.split(NOTES_MARKER, 1)
        text = head.rstrip("\n") + "\n\n" + section + "\n\n" + NOTES_MARKER + notes
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def save_result(prefix: str, result: dict[str, Any]) -> Path:
    """Write a benchmark's raw result to ``bench/results/<prefix>-<timestamp>.json`` and return its path."""
    out = (
        Path(__file__).resolve().parent
        / "results"
        / f"{prefix}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    return out


TARGETS = {
    "startup": 0.5,  # s
    "entities_p95": 20.0,  # ms
    "code_lens_p95": 20.0,  # ms
    "index": 3.0,  # s
    "index_rss": 150.0,  # MB
}


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _fmt(v: Any, unit: str) -> str:
    if v is None:
        return "n/a"
    if unit == "s":
        return f"{v:.2f} s" if v >= 0.1 else f"{v * 1000:.0f} ms"
    if unit == "ms":
        return f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"
    if unit == "MB":
        return f"{v:.0f} MB"
    return str(v)


def _load(avg: Any) -> str:
    return " / ".join(f"{x:.2f}" for x in avg) if avg else "n/a"


def _ratio(a: Any, b: Any) -> str:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or b == 0:
        return "—"
    ratio = a / b
    return f"{ratio:.2f}\u00d7" if ratio >= 0.1 else f"{ratio:.3f}\u00d7"


def _verdict(value: Any, target: float | None) -> str:
    if target is None:
        return "—"
    if not isinstance(value, (int, float)):
        return "**not measured**"
    return "pass" if value <= target else "**FAIL**"


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(metric, flyte-ls, peer, ratio, target, result) rows."""
    out = []

    def add(metric: str, v: Any, peer: Any, unit: str, target: float | None, tunit: str = "") -> None:
        t = "—" if target is None else f"≤ {target:g} {tunit or unit}"
        out.append(
            (
                metric,
                _fmt(v, unit),
                _fmt(peer, unit) if peer is not None else "—",
                _ratio(v, peer),
                t,
                _verdict(v, target),
            )
        )

    add(
        "server start → `initialize` response (median)",
        _get(r, "startup", "flyte", "median_s"),
        _get(r, "startup", "jedi", "median_s"),
        "s",
        TARGETS["startup"],
    )
    fe, je = _get(r, "flyte_edits") or {}, _get(r, "jedi_edits") or {}
    peer_p50, peer_p95 = _get(je, "document_symbol", "p50_ms"), _get(je, "document_symbol", "p95_ms")
    add("`flyte/entities` after an edit, p50", _get(fe, "entities", "p50_ms"), peer_p50, "ms", None)
    add(
        "`flyte/entities` after an edit, p95",
        _get(fe, "entities", "p95_ms"),
        peer_p95,
        "ms",
        TARGETS["entities_p95"],
    )
    add("`textDocument/codeLens` after an edit, p50", _get(fe, "code_lens", "p50_ms"), peer_p50, "ms", None)
    add(
        "`textDocument/codeLens` after an edit, p95",
        _get(fe, "code_lens", "p95_ms"),
        peer_p95,
        "ms",
        TARGETS["code_lens_p95"],
    )
    decoded_peer = _get(je, "document_symbol", "with_client_decoding", "p95_ms")
    for name, key in (("`flyte/entities`", "entities"), ("`textDocument/codeLens`", "code_lens")):
        if _get(fe, key, "with_client_decoding") is not None:
            add(
                f"{name} after an edit, p95 until the benchmark client has decoded the answer",
                _get(fe, key, "with_client_decoding", "p95_ms"),
                decoded_peer,
                "ms",
                None,
            )
    peer_cpu = _get(je, "document_symbol", "server_cpu_ms_per_edit")
    add(
        "server CPU time per edit + `flyte/entities` (all threads, mean)",
        _get(fe, "entities", "server_cpu_ms_per_edit"),
        peer_cpu,
        "ms",
        None,
    )
    add(
        "server CPU time per edit + `codeLens` (all threads, mean)",
        _get(fe, "code_lens", "server_cpu_ms_per_edit"),
        peer_cpu,
        "ms",
        None,
    )
    if _get(fe, "entities", "workers_cpu_ms_per_edit") is not None:
        add(
            "CPU time per edit + `flyte/entities` in the server's worker processes (lint passes, mean)",
            _get(fe, "entities", "workers_cpu_ms_per_edit"),
            None,
            "ms",
            None,
        )
    published, pauses = _get(fe, "entities", "diagnostics_published"), _get(fe, "entities", "pauses")
    if pauses:
        out.append(
            (
                "diagnostics published while typing in bursts (`flyte/entities` series)",
                f"{published} in {pauses} pauses",
                "—",
                "—",
                "—",
                "—",
            )
        )
    if _get(fe, "code_lens_resolve"):
        add("`codeLens/resolve` (one lens), p95", _get(fe, "code_lens_resolve", "p95_ms"), None, "ms", None)
    add(
        "diagnostics after an edit (incl. debounce), p50",
        _get(fe, "diagnostics", "p50_ms"),
        _get(je, "diagnostics", "p50_ms"),
        "ms",
        None,
    )
    add(
        "diagnostics after an edit (incl. debounce), p95",
        _get(fe, "diagnostics", "p95_ms"),
        _get(je, "diagnostics", "p95_ms"),
        "ms",
        None,
    )
    add("peak RSS with the 10k-line file open", _get(fe, "peak_rss_mb"), _get(je, "peak_rss_mb"), "MB", None)
    tree, server = _get(fe, "peak_tree_rss_mb"), _get(fe, "peak_rss_mb")
    if tree is not None and server is not None and tree > server:  # the lint worker process
        add(
            "peak RSS with the 10k-line file open: server + worker processes (sampled sum)",
            tree,
            _get(je, "peak_rss_mb"),
            "MB",
            None,
        )
    ix = _get(r, "indexing") or {}
    add(
        "workspace indexing, 2,000 files (`initialized` → progress end)",
        _get(ix, "index_s"),
        None,
        "s",
        TARGETS["index"],
    )
    add("CPU time spent indexing (server + workers)", _get(ix, "index_cpu_s"), None, "s", None)
    workers = _get(ix, "worker_processes")
    if workers:
        add(
            f"peak RSS while indexing 2,000 files: server + {workers} worker processes (sampled sum)",
            _get(ix, "peak_tree_rss_mb"),
            None,
            "MB",
            TARGETS["index_rss"],
        )
        add("peak RSS while indexing: the server process alone", _get(ix, "peak_rss_mb"), None, "MB", None)
    else:
        add("peak RSS while indexing 2,000 files", _get(ix, "peak_rss_mb"), None, "MB", TARGETS["index_rss"])
    add(
        "`workspace/symbol` on the indexed workspace, p95",
        _get(ix, "workspace_symbol", "p95_ms"),
        None,
        "ms",
        None,
    )
    return out


def verdict_lines(r: dict[str, Any]) -> list[str]:
    return [f"{m}: {v} (target {t}) {res}" for m, v, _, _, t, res in rows(r) if t != "—"]


def render(r: dict[str, Any]) -> str:
    m = r.get("machine", {})
    inp = r.get("inputs", {})
    mod, ws = inp.get("module", {}), inp.get("workspace", {})
    peer = r.get("peer") or "none (run without the peer)"
    lines = [
        "# Performance",
        "",
        f"Measured by `make bench` (`bench/run.py`) on {m.get('date')}, flyte-ls commit `{m.get('commit')}`.",
        f"Machine: {m.get('cores')} cores ({m.get('cpu')}), Python {m.get('python')}, {m.get('platform')}; "
        f"load average {_load(m.get('load_avg_at_start'))} at the start, "
        f"{_load(m.get('load_avg_at_end'))} at the end. "
        f"The whole run took {r.get('wall_s')} s.",
        "",
        f"Peer: **{peer}**, in the same run, on the same file after the same edits "
        "(`textDocument/documentSymbol` is the closest thing it computes to an entity list). "
        "Ratio = flyte-ls / peer: below 1, flyte-ls is faster or smaller.",
        "",
        f"| metric | flyte-ls | {r.get('peer') or 'peer'} | ratio | target | result |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows(r)]
    errors = {k: v["error"] for k, v in r.items() if isinstance(v, dict) and "error" in v}
    if errors:
        lines += ["", "Sections that failed in this run:", ""]
        lines += [f"- `{k}`: {v.splitlines()[0]}" for k, v in errors.items()]
    fe, ix = r.get("flyte_edits") or {}, r.get("indexing") or {}
    kinds = ", ".join(f"{v} {k}" for k, v in (mod.get("kinds") or {}).items())
    lines += [
        "",
        "## What was measured",
        "",
        f"- **The 10k-line module** (`bench/gen_module.py`): {mod.get('lines')} lines, "
        f"{mod.get('entities')} entities ({kinds}); tasks with 2-5 typed inputs, defaults, decorator "
        "settings and real bodies; workflows calling tasks with keyword arguments; launch plans with "
        "default and fixed inputs. Real flytekit imports it (`gen_module.py --check`).",
        f"- **Edits**: {inp.get('edits')} one-line incremental `didChange`s per metric, typed in bursts: "
        f"{inp.get('burst')} edits {inp.get('pace_s')} s apart, then a {inp.get('pause_s')} s "
        "pause, longer than the diagnostics debounce, so that lint passes run while the next burst's "
        "requests arrive (as in an editor). 4 in 5 edits are inside task bodies, 1 in 5 changes a "
        "signature default; spread over the start, middle and end of the file. The request is "
        "sent right after the `didChange`; the time runs from writing the `didChange` to reading the last "
        "byte of the answer (the rows 'until the benchmark client has decoded the answer' add this Python "
        "client's JSON decoding and garbage collection, which grow with the answer: ~400 KB for "
        "`flyte/entities`; runs before 2026-11-26 17:00 UTC reported that figure as the latency). Each "
        "`flyte/entities` answer is checked to hold all the entities. The same edits are replayed "
        "against the peer.",
        "- **Server CPU time per edit**: user + system CPU time of the server process (all threads) over "
        "a whole edit series, divided by the number of edits. It includes everything an edit causes in "
        "the server (applying the change, the request, handling the lint results) and, unlike the "
        "latencies, barely depends on how busy the machine is. The lint passes themselves run in a worker "
        "process: their CPU time has a row of its own (the process tree's CPU time minus the server's).",
        "- **Diagnostics latency**: edits that alternately remove and restore a task input's annotation; "
        "time from the `didChange` to the `publishDiagnostics` for that document version. It includes the "
        "server's per-document debounce, on purpose: that is what the user waits for.",
        f"- **Start-up**: {inp.get('starts')} fresh processes per server, from spawning the console script "
        "to the `initialize` answer (empty workspace folder).",
        f"- **Indexing** (`bench/gen_workspace.py`): {ws.get('files')} Python files, {ws.get('lines')} "
        f"lines, {ws.get('entities')} entities in a package tree (most files small and Flyte-free, a "
        "quarter with a few entities and a sibling import, a few entity-heavy), plus a `.gitignore`d "
        "`build/` of 100 files. Time from `initialized` to the `$/progress` end of the indexing token. "
        f"Then {ix.get('sample_checked', 'n/a')} entity names are looked up with `workspace/symbol` "
        f"(missing: {ix.get('sample_missing_count', 'n/a')}), and an entity under `build/` must not be "
        f"found (found: {ix.get('ignored_build_dir_indexed', 'n/a')}).",
        "- **Peak RSS**: the kernel's high-water mark (`VmHWM` in `/proc/<pid>/status`) of the server "
        "process, cross-checked by sampling RSS every 10 ms. When the server starts worker processes, "
        "the RSS of the whole process tree is sampled every 10 ms too and its largest sum is what the "
        "target is checked against (a conservative figure: pages shared between the processes count "
        "once per process).",
    ]
    if fe.get("first_entities_s") is not None:
        lines.append(
            "- Cold numbers (not targets): first `flyte/entities` right after `didOpen` "
            f"{_fmt(fe.get('first_entities_s'), 's')}; first diagnostics "
            f"{_fmt(fe.get('first_diagnostics_s'), 's')} after spawn; "
            f"{fe.get('code_lens_count', 'n/a')} code lenses on the file."
        )
    lines += [
        "",
        "## Re-run",
        "",
        "```",
        "make bench                                   # or: .venv/bin/python bench/run.py",
        ".venv/bin/python bench/run.py --edits 100    # more samples; --no-peer skips jedi-language-server",
        ".venv/bin/python bench/gen_module.py /tmp/big.py --check     # the inputs alone",
        ".venv/bin/python bench/gen_workspace.py /tmp/ws",
        "```",
        "",
        "Raw numbers of every run: `bench/results/bench-<timestamp>.json` (not committed). The machine is "
        "shared; look at the load average above before comparing runs.",
        "",
    ]
    return "\n".join(lines)


def write_report(r: dict[str, Any], path: Path | None) -> list[str]:
    """Write ``path`` (unless None), keeping the notes after :data:`NOTES_MARKER`; return verdicts."""
    if path is not None:
        notes = ""
        if path.exists():
            old = path.read_text()
            if NOTES_MARKER in old:
                notes = old.split(NOTES_MARKER, 1)[1]
        path.write_text(render(r) + "\n" + NOTES_MARKER + (notes or "\n"))
    return verdict_lines(r)
