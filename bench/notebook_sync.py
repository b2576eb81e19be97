"""Notebook sync cost: per-edit latency of the server on a large notebook against the same code as one file.

The notebook (:func:`big_notebook`): 100 code cells (and a markdown heading every 10), 30 tasks and 10
workflows, helpers and exploration cells with a few IPython lines; the file: the same code cells joined,
each IPython line replaced by a comment (the line count of every cell is kept), so that an edit of a cell
line is an edit of the same file line. Each kind gets a fresh ``flyte-ls serve`` over stdio with only that
document in its workspace folder. Measured per kind, on a late cell (code cell 93 of 100, a task):

- ``codeLens``: a one-line edit of a task body (``notebookDocument/didChange`` with the cell's content
  change, or ``textDocument/didChange``), then at once ``textDocument/codeLens`` of the edited cell (of the
  file); time from writing the change to the answer. The server analyses the notebook's module (or the
  file) to answer it.
- diagnostics: edits that alternately remove and restore a task input's annotation (a Flyte finding), time
  from the change to the ``publishDiagnostics`` of the edited cell (of the file) that shows the new state. A
  notebook's diagnostics carry no version (they are published per cell URI), so the wait is on their content:
  the finding present after a removal, gone after a restore; for the file, on the version and the content.
  Includes the server's debounce, for both.

Used by bench/notebook_click.py (``bench/run.py --only notebook``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from lspwire import LspClient, Notification, default_capabilities, file_uri  # noqa: E402
from memory import cpu_seconds, tree_cpu_seconds  # noqa: E402

VENV_BIN = Path(sys.executable).parent
GROUPS = 10  # of 10 code cells: 3 tasks, 1 workflow, helpers, exploration
EDIT_CELL = 92  # the code cell edited (0-based; code cell 93 of 100): the last stage's first task
PACE = 0.1  # between an answer and the next edit


@dataclass
class BigNotebook:
    cells: list[str]  # code cells, in order
    markdown_before: dict[int, str]  # code cell index -> a markdown cell just before it
    tasks: int
    workflows: int

    def as_file(self) -> str:
        """The code cells as one .py file: IPython lines become comments, every cell keeps its lines."""
        out = []
        for source in self.cells:
            for line in source.split("\n"):
                out.append("# " + line if line.lstrip().startswith(("%", "!")) else line)
        return "\n".join(out) + "\n"

    def file_line(self, cell: int, line: int) -> int:
        return sum(len(c.split("\n")) for c in self.cells[:cell]) + line


def _helper(g: int, k: int) -> str:
    return "\n".join(
        [
            f"THRESHOLD_{g}_{k} = {0.1 * (g + 1):.1f}",
            f"WINDOW_{g}_{k} = {3 + k}",
            "",
            "",
            f"def clean_{g}_{k}(values: List[float]) -> List[float]:",
            f'    """Drop values under THRESHOLD_{g}_{k} and smooth over WINDOW_{g}_{k}."""',
            f"    kept = [v for v in values if v >= THRESHOLD_{g}_{k}]",
            "    out = []",
            "    for i in range(len(kept)):",
            f"        window = kept[max(0, i - WINDOW_{g}_{k}) : i + 1]",
            "        out.append(sum(window) / len(window))",
            "    return out",
        ]
    )


def _explore(g: int, k: int) -> str:
    return "\n".join(
        [
            f"%time sample_{g}_{k} = [math.sin(i / 10) for i in range(200)]",
            f"smoothed_{g}_{k} = clean_{g}_0(sample_{g}_{k})",
            f"print(len(smoothed_{g}_{k}), max(smoothed_{g}_{k}, default=0.0))",
            "!ls -la | head -3",
            f"mean_{g}_{k} = statistics.fmean(smoothed_{g}_{k} or [0.0])",
            f"summary_{g}_{k} = {{'n': len(smoothed_{g}_{k}), 'mean': mean_{g}_{k}}}",
            f"summary_{g}_{k}",
        ]
    )


def _task(g: int, k: int) -> str:
    return "\n".join(
        [
            "@task(retries=1)",
            f'def step_{g}_{k}(x: int, scale: float = 1.0, label: str = "s{g}{k}") -> float:',
            f'    """Step {k} of stage {g}: a weighted sum over a generated series."""',
            "    total = 0.0",
            "    series = [math.cos(i * scale) for i in range(x)]",
            "    for i, v in enumerate(series):",
            "        if i % 3 == 0:",
            "            total += v * scale",
            "        else:",
            "            total -= v / (i + 1)",
            f"    values = clean_{g}_0(series)",
            "    if values:",
            "        total += statistics.fmean(values)",
            "    return round(total, 6)",
        ]
    )


def _workflow(g: int) -> str:
    return "\n".join(
        [
            "@workflow",
            f"def stage_{g}(x: int = 10, scale: float = 0.5) -> float:",
            f"    a = step_{g}_0(x=x, scale=scale)",
            f"    b = step_{g}_1(x=x, scale=scale)",
            f'    return step_{g}_2(x=x, scale=scale, label="final")',
        ]
    )


def big_notebook() -> BigNotebook:
    cells = [
        "%load_ext autoreload\n%autoreload 2\nimport math\nimport statistics\nfrom typing import List\n\n"
        "from flytekit import task, workflow"
    ]
    markdown: dict[int, str] = {}
    for g in range(GROUPS):
        if g:
            markdown[len(cells)] = f"## Stage {g}\n\nHelpers, three steps and the stage's workflow."
        cells += [_helper(g, 0), _task(g, 0), _explore(g, 0), _task(g, 1), _helper(g, 1)]
        cells += [_task(g, 2), _explore(g, 1), _workflow(g), _explore(g, 2)]
        if g < GROUPS - 1:
            cells.append(_helper(g, 2))
    assert len(cells) == 10 * GROUPS, len(cells)
    return BigNotebook(cells, markdown, tasks=3 * GROUPS, workflows=GROUPS)


def notebook_json(cells: list[tuple[str, str]]) -> str:
    """A .ipynb of ``(kind, source)`` cells (kind: "code" or "markdown")."""
    out = []
    for i, (kind, source) in enumerate(cells):
        lines = source.split("\n")
        cell: dict[str, Any] = {
            "cell_type": kind,
            "id": f"c{i:04d}",
            "metadata": {},
            "source": [s + "\n" for s in lines[:-1]] + [lines[-1]],
        }
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    meta = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    return json.dumps({"cells": out, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def all_cells(nb: BigNotebook) -> list[tuple[str, str]]:
    out = []
    for i, source in enumerate(nb.cells):
        if i in nb.markdown_before:
            out.append(("markdown", nb.markdown_before[i]))
        out.append(("code", source))
    return out


# -- the LSP side: notebook sync -----------------------------------------------------------------------------
def capabilities() -> dict[str, Any]:
    caps = default_capabilities()
    caps["notebookDocument"] = {"synchronization": {"dynamicRegistration": False}}
    return caps


def cell_uri(path: Path, index: int) -> str:
    """A cell's URI as VS Code makes it (``vscode-notebook-cell:`` + the notebook's path + a fragment)."""
    return f"vscode-notebook-cell:{path.resolve()}#C{index}"


def did_open_notebook(c: LspClient, path: Path, cells: list[tuple[str, str]]) -> list[str]:
    """``notebookDocument/didOpen`` with every cell; returns the cell URIs (markdown cells included)."""
    uris = [cell_uri(path, i) for i in range(len(cells))]
    c.notify(
        "notebookDocument/didOpen",
        {
            "notebookDocument": {
                "uri": file_uri(path),
                "notebookType": "jupyter-notebook",
                "version": 1,
                "cells": [
                    {"kind": 2 if kind == "code" else 1, "document": uri}
                    for uri, (kind, _) in zip(uris, cells, strict=True)
                ],
            },
            "cellTextDocuments": [
                {
                    "uri": uri,
                    "languageId": "python" if kind == "code" else "markdown",
                    "version": 1,
                    "text": source,
                }
                for uri, (kind, source) in zip(uris, cells, strict=True)
            ],
        },
    )
    return uris


class NotebookMirror:
    """A notebook as the server should see it; each edit is a correct incremental cell change."""

    def __init__(self, path: Path, uris: list[str], cells: list[tuple[str, str]]) -> None:
        self.uri = file_uri(path)
        self.cell_uris = uris
        self.lines = {u: src.split("\n") for u, (_, src) in zip(uris, cells, strict=True)}
        self.versions = dict.fromkeys(uris, 1)
        self.version = 1

    def change_line(self, c: LspClient, cell: str, line: int, new: str) -> float:
        """Replace one whole line of a cell (``notebookDocument/didChange``); returns the time it was sent."""
        old = self.lines[cell][line]
        self.lines[cell][line] = new
        self.version += 1
        self.versions[cell] += 1
        return c.notify(
            "notebookDocument/didChange",
            {
                "notebookDocument": {"uri": self.uri, "version": self.version},
                "change": {
                    "cells": {
                        "textContent": [
                            {
                                "document": {"uri": cell, "version": self.versions[cell]},
                                "changes": [
                                    {
                                        "range": {
                                            "start": {"line": line, "character": 0},
                                            "end": {"line": line, "character": len(old)},
                                        },
                                        "text": new,
                                    }
                                ],
                            }
                        ]
                    }
                },
            },
        )


# -- the measurement -----------------------------------------------------------------------------------------
def summary(xs: list[float]) -> dict[str, Any]:
    s = sorted(xs)
    return {
        "n": len(xs),
        "median_ms": statistics.median(xs) * 1000,
        "p90_ms": s[min(len(s) - 1, int(0.9 * len(s)))] * 1000,
        "max_ms": s[-1] * 1000,
    }


@dataclass
class Target:
    """One document kind under test: how to edit a line of the edited cell and what to ask."""

    client: LspClient
    uri: str  # the URI lenses and diagnostics are asked/published for (the cell's, or the file's)
    change: Callable[[int, str], float]  # (line in the edited cell, new text) -> sent at
    version: Callable[[], int | None]  # the version diagnostics must carry (None: unversioned)
    offset: int  # the edited cell's first line in the document ``uri`` names (0 for a cell)


async def _server(root: Path, work: Path) -> LspClient:
    env = shutil.which("env") or "/usr/bin/env"
    argv = [env, f"XDG_CACHE_HOME={work / 'cache'}", str(VENV_BIN / "flyte-ls"), "serve"]
    settings = {"local": {"autoStart": False}}
    c = LspClient(argv, cwd=str(root), settings={"flyte": settings})
    await c.start()
    await c.initialize(
        root=str(root), capabilities=capabilities(), initialization_options=settings, timeout=60
    )
    return c


async def _quiet(c: LspClient, seconds: float, deadline: float) -> None:
    """Until no publishDiagnostics has arrived for ``seconds`` (at most ``deadline``)."""
    end = time.perf_counter() + deadline
    while time.perf_counter() < end:
        last = max(
            (n.at for n in c.notifications if n.method == "textDocument/publishDiagnostics"), default=0
        )
        if time.perf_counter() - last >= seconds:
            return
        await asyncio.sleep(0.05)


async def _lens_series(t: Target, body_line: int, n: int, expect: int) -> dict[str, Any]:
    c = t.client
    out = []
    cpu0, tree0 = cpu_seconds(c.pid), tree_cpu_seconds(c.pid)
    for k in range(n):
        t0 = t.change(body_line, f"    total = 0.{k % 9 + 1}")
        lenses = await c.request("textDocument/codeLens", {"textDocument": {"uri": t.uri}}, timeout=30)
        out.append(c.last_answer_at - t0)
        if len(lenses or []) != expect:
            raise AssertionError(f"codeLens of {t.uri}: {len(lenses or [])} lenses, expected {expect}")
        await asyncio.sleep(PACE)
    res = summary(out)
    res["samples_ms"] = [x * 1000 for x in out]
    cpu1, tree1 = cpu_seconds(c.pid), tree_cpu_seconds(c.pid)
    if None not in (cpu0, cpu1, tree0, tree1):
        assert cpu0 is not None and cpu1 is not None and tree0 is not None and tree1 is not None
        res["server_cpu_ms_per_edit"] = (cpu1 - cpu0) * 1000 / n
        res["workers_cpu_ms_per_edit"] = ((tree1 - tree0) - (cpu1 - cpu0)) * 1000 / n
    return res


async def _diagnostic_series(t: Target, sig_line: int, original: str, broken: str, n: int) -> dict[str, Any]:
    c = t.client
    await _quiet(c, 1.0, 20)
    out, published, last = [], [], []
    cpu0 = cpu_seconds(c.pid)
    doc_line = t.offset + sig_line
    for k in range(n):
        bad = k % 2 == 0
        since = len(c.notifications)
        t0 = t.change(sig_line, broken if bad else original)
        version = t.version()

        def shows(note: Notification, bad: bool = bad, version: int | None = version) -> bool:
            p = note.params or {}
            if p.get("uri") != t.uri:
                return False
            if version is not None and p.get("version", version) < version:
                return False
            on_line = [
                d
                for d in p.get("diagnostics") or []
                if d.get("source") == "flyte" and d["range"]["start"]["line"] == doc_line
            ]
            return bool(on_line) == bad

        note = await c.wait_for(
            "textDocument/publishDiagnostics", shows, timeout=15, since=since, what=f"diagnostics of edit {k}"
        )
        out.append(note.at - t0)
        await _quiet(c, 0.3, 10)  # the rest of this pass's publications (one per cell for a notebook)
        mine = [x for x in c.notifications[since:] if x.method == "textDocument/publishDiagnostics"]
        published.append(len(mine))
        last.append(mine[-1].at - t0)
        await asyncio.sleep(PACE)
    cpu1 = cpu_seconds(c.pid)
    res = summary(out)
    res["last_publication"] = summary(last)
    if cpu0 is not None and cpu1 is not None:  # incl. the quiet waits, when the server is idle
        res["server_cpu_ms_per_edit"] = (cpu1 - cpu0) * 1000 / n
    res["samples_ms"] = [x * 1000 for x in out]
    res["publications_per_edit"] = statistics.median(published)
    return res


async def measure(work: Path, edits: int = 40, toggles: int = 20) -> dict[str, Any]:
    """Both kinds, one fresh server each: the notebook first, then the file."""
    nb = big_notebook()
    cells = all_cells(nb)
    source = nb.cells[EDIT_CELL].split("\n")
    body_line = source.index("    total = 0.0")
    sig_line = next(i for i, s in enumerate(source) if s.startswith("def step_"))
    original = source[sig_line]
    broken = original.replace("(x: int,", "(x,", 1)
    assert broken != original
    result: dict[str, Any] = {
        "code_cells": len(nb.cells),
        "markdown_cells": len(nb.markdown_before),
        "lines": len(nb.as_file().split("\n")) - 1,
        "entities": nb.tasks + nb.workflows,
        "edited_code_cell": EDIT_CELL + 1,
        "edits": edits,
        "toggles": toggles,
    }
    # the notebook
    root = work / "notebook"
    root.mkdir(parents=True)
    path = root / "analysis.ipynb"
    path.write_text(notebook_json(cells))
    c = await _server(root, work)
    try:
        uris = did_open_notebook(c, path, cells)
        code_uris = [u for u, (kind, _) in zip(uris, cells, strict=True) if kind == "code"]
        edited = code_uris[EDIT_CELL]
        mirror = NotebookMirror(path, uris, cells)
        t = Target(c, edited, lambda line, new: mirror.change_line(c, edited, line, new), lambda: None, 0)
        first, result["notebook_first_lens_s"] = await c.timed_request(
            "textDocument/codeLens", {"textDocument": {"uri": edited}}, timeout=60
        )
        per_entity = len(first or [])
        if not per_entity:
            raise AssertionError(f"no code lens on the edited cell {edited}")
        await _lens_series(t, body_line, 5, per_entity)  # warm-up
        result["notebook"] = {"code_lens": await _lens_series(t, body_line, edits, per_entity)}
        result["notebook"]["lenses"] = per_entity
        result["notebook"]["diagnostics"] = await _diagnostic_series(t, sig_line, original, broken, toggles)
    finally:
        await c.close()
    # the file
    root = work / "file"
    root.mkdir(parents=True)
    path = root / "analysis.py"
    text = nb.as_file()
    path.write_text(text)
    c = await _server(root, work)
    try:
        uri = file_uri(path)
        lines = text.split("\n")
        state = {"version": 1}
        offset = nb.file_line(EDIT_CELL, 0)

        def change(line: int, new: str) -> float:
            state["version"] += 1
            old, lines[offset + line] = lines[offset + line], new
            return c.did_change_line(uri, state["version"], offset + line, old, new)

        c.did_open(uri, text)
        t = Target(c, uri, change, lambda: state["version"], offset)
        first, result["file_first_lens_s"] = await c.timed_request(
            "textDocument/codeLens", {"textDocument": {"uri": uri}}, timeout=60
        )
        total = len(first or [])
        if total != per_entity * result["entities"]:
            raise AssertionError(f"{total} lenses on the file, expected {per_entity} x {result['entities']}")
        await _lens_series(t, body_line, 5, total)
        result["file"] = {"code_lens": await _lens_series(t, body_line, edits, total), "lenses": total}
        result["file"]["diagnostics"] = await _diagnostic_series(t, sig_line, original, broken, toggles)
    finally:
        await c.close()
    for key in ("code_lens", "diagnostics"):
        result[f"{key}_ratio"] = result["notebook"][key]["median_ms"] / result["file"][key]["median_ms"]
    return result


if __name__ == "__main__":  # a quick look: .venv/bin/python bench/notebook_sync.py
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="flyte-ls-bench-nbsync-"))
    try:
        r = asyncio.run(measure(tmp))
        for kind in ("notebook", "file"):
            for key in ("code_lens", "diagnostics"):
                brief = {k: v for k, v in r[kind][key].items() if k != "samples_ms"}
                print(kind, key, json.dumps(brief))
        print({k: v for k, v in r.items() if not isinstance(v, dict)})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
