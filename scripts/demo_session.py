"""A scripted editor session against ``flyte-ls serve`` over stdio (part of ``make demo``).

    .venv/bin/python scripts/demo_session.py [EXAMPLES_DIR]   (default: examples/)

Starts the server the way an editor does, initializes with EXAMPLES_DIR as the workspace folder, waits for the
workspace index, opens every ``.py`` file, and prints what an editor would show for each: the Flyte entities
(``flyte/entities``), the code lenses, a hover on each entity and the published diagnostics; then
``workspace/symbol``. Every wait has a deadline; exits 1 with the reason (and the server's stderr) on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from lspwire import LspClient, LspError, file_uri  # noqa: E402

COLOR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None
MAX_HOVER_LINES = 16
SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}
_KIND_NAMES = (
    "file module namespace package class method property field constructor enum interface function variable "
    "constant string number boolean array object key null enum-member struct event operator type-parameter"
)
SYMBOL_KINDS = dict(enumerate(_KIND_NAMES.split(), start=1))


def style(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if COLOR else text


def bold(t: str) -> str:
    return style(t, "1")


def dim(t: str) -> str:
    return style(t, "2")


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def heading(title: str) -> None:
    print()
    print(bold(f"━━ {title} " + "━" * max(3, 74 - len(title))))


def line_of(rng: dict[str, Any]) -> int:
    return int(rng["start"]["line"]) + 1


def interface(entity: dict[str, Any]) -> str:
    ins = []
    for i in entity.get("inputs") or []:
        s = f"{i['name']}: {i.get('type') or '?'}"
        if i.get("default") is not None:
            s += f" = {i['default']}"
        ins.append(s)
    outs = entity.get("outputs") or []
    if not outs:
        ret = "None"
    elif len(outs) == 1:
        ret = outs[0].get("type") or "?"
    else:
        ret = "(" + ", ".join(f"{o['name']}: {o.get('type') or '?'}" for o in outs) + ")"
    return f"({', '.join(ins)}) -> {ret}"


def render_markdown(text: str) -> list[str]:
    """Hover markdown as terminal lines: bold for ``**x**``, no backticks, rules dimmed, no blank lines."""
    out = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:
            continue
        if line.strip() in ("---", "***", "___"):
            out.append(dim("─" * 20))
            continue
        parts = line.split("**")
        line = "".join(bold(p) if i % 2 else p for i, p in enumerate(parts)) if len(parts) % 2 else line
        out.append(line.replace("`", ""))
    return out


def hover_text(result: Any) -> str:
    if not result:
        return ""
    contents = result.get("contents") if isinstance(result, dict) else result
    if isinstance(contents, dict):
        return str(contents.get("value", ""))
    if isinstance(contents, list):
        return "\n".join(c if isinstance(c, str) else str(c.get("value", "")) for c in contents)
    return str(contents)


class Session:
    def __init__(self, root: Path, timeout: float, server: list[str]) -> None:
        self.root = root
        self.timeout = timeout
        self.client = LspClient(server, cwd=str(root))
        self.totals = {"files": 0, "entities": 0, "lenses": 0, "errors": 0, "warnings": 0, "other": 0}

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    async def start(self) -> None:
        c = self.client
        await c.start()
        result, elapsed = await c.initialize(root=str(self.root), timeout=self.timeout)
        info = result.get("serverInfo") or {}
        caps = result.get("capabilities") or {}
        features = [
            name
            for name, key in [
                ("hover", "hoverProvider"),
                ("code lenses", "codeLensProvider"),
                ("workspace symbols", "workspaceSymbolProvider"),
                ("document symbols", "documentSymbolProvider"),
                ("commands", "executeCommandProvider"),
            ]
            if caps.get(key)
        ]
        print(f"server     {' '.join(c.argv)}  (pid {c.pid})")
        name = f"{info.get('name', '?')} {info.get('version', '')}".strip()
        print(f"           {name}, answered `initialize` in {elapsed:.2f} s")
        print(f"features   {', '.join(features) or 'none announced'}")
        print(f"workspace  {self.root}")

    async def wait_for_index(self) -> None:
        """Wait for the indexing progress to end (or report that the server shows none)."""
        c = self.client
        t0 = time.perf_counter()
        begun = None
        while time.perf_counter() - t0 < 3 and begun is None:
            begun = next((t for t in c.progress.values() if t.begin), None)
            await asyncio.sleep(0.05)
        if begun is None:
            print(dim("indexing   (the server reported no work-done progress)"))
            return
        note = await c.wait_for(
            "$/progress",
            lambda n: (
                (n.params or {}).get("token") == begun.token
                and ((n.params or {}).get("value") or {}).get("kind") == "end"
            ),
            timeout=self.timeout,
            what=f"the end of the progress {begun.begin and begun.begin.get('title')!r}",
        )
        end_msg = ((note.params or {}).get("value") or {}).get("message") or ""
        title = (begun.begin or {}).get("title", "")
        print(f"indexing   {title}: {end_msg or 'done'}")

    async def open_all(self, files: list[Path]) -> dict[str, Path]:
        uris = {}
        for path in files:
            uri = file_uri(path)
            uris[uri] = path
            self.client.did_open(uri, path.read_text(encoding="utf-8", errors="replace"))
        return uris

    async def collect_diagnostics(self, uris: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
        """The latest diagnostics per URI: wait until every file has some, or 1.5 s of quiet (deadline)."""
        c = self.client
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < self.timeout:
            notes = [n for n in c.notifications if n.method == "textDocument/publishDiagnostics"]
            seen = {(n.params or {}).get("uri") for n in notes}
            if set(uris) <= seen:
                break
            last = max((n.at for n in notes), default=t0)
            if time.perf_counter() - max(last, t0) > 1.5 and time.perf_counter() - t0 > 2.0:
                break
            await asyncio.sleep(0.05)
        latest: dict[str, list[dict[str, Any]]] = {}
        for n in c.notifications:
            if n.method == "textDocument/publishDiagnostics":
                p = n.params or {}
                latest[p.get("uri", "")] = p.get("diagnostics") or []
        return latest

    async def show_file(self, uri: str, path: Path, diagnostics: list[dict[str, Any]] | None) -> None:
        c = self.client
        heading(self.rel(path))
        params = {"textDocument": {"uri": uri}}
        entities = await c.request("flyte/entities", params, timeout=self.timeout) or []
        self.totals["files"] += 1
        self.totals["entities"] += len(entities)
        if entities:
            print(bold(f"  entities ({len(entities)})"))
            width = min(40, max(len(e.get("flyteName", "")) for e in entities))
            for e in entities:
                at = dim(f"L{line_of(e['range']):<4}")
                print(f"    {at} {e.get('kind', '?'):<19} {e.get('flyteName', '?'):<{width}}  {interface(e)}")
        else:
            print(dim("  no Flyte entities"))

        lenses = await c.request("textDocument/codeLens", params, timeout=self.timeout) or []
        if lenses:
            print(bold(f"  code lenses ({len(lenses)})"))
            for lens in lenses:
                if not lens.get("command"):
                    lens = await c.request("codeLens/resolve", lens, timeout=self.timeout) or lens
                title = (lens.get("command") or {}).get("title", dim("(unresolved)"))
                at = dim(f"L{line_of(lens['range']):<4}")
                print(f"    {at} {title}")
            self.totals["lenses"] += len(lenses)

        if entities:
            print(bold("  hovers"))
        for e in entities:
            pos = (e.get("selectionRange") or e["range"])["start"]
            result = await c.request(
                "textDocument/hover", {"textDocument": {"uri": uri}, "position": pos}, timeout=self.timeout
            )
            body = render_markdown(hover_text(result))
            at = dim(f"hover at L{pos['line'] + 1}:{pos['character'] + 1}")
            print(f"    {at}")
            if not body:
                print(dim("      (no hover)"))
                continue
            for line in body[:MAX_HOVER_LINES]:
                print("      " + dim("│ ") + line)
            if len(body) > MAX_HOVER_LINES:
                print("      " + dim(f"│ … {len(body) - MAX_HOVER_LINES} more lines"))

        if diagnostics is None:
            print(dim("  diagnostics: none published"))
        elif not diagnostics:
            print(f"  diagnostics: {style('none', '32')}")
        else:
            print(bold(f"  diagnostics ({len(diagnostics)})"))
            for d in sorted(
                diagnostics, key=lambda d: (d["range"]["start"]["line"], d["range"]["start"]["character"])
            ):
                sev = SEVERITY.get(d.get("severity", 1), "?")
                self.totals["errors" if sev == "error" else "warnings" if sev == "warning" else "other"] += 1
                colored = style(f"{sev:<7}", "31" if sev == "error" else "33")
                start = d["range"]["start"]
                where = f"{start['line'] + 1}:{start['character'] + 1}"
                indent = " " * 28  # under the message's first column
                msg = textwrap.fill(
                    " ".join(str(d.get("message", "")).split()),
                    width=110,
                    initial_indent=indent,
                    subsequent_indent=indent,
                )
                print(f"    {dim(f'L{where:<7}')} {colored} {d.get('code', ''):<6} {msg[len(indent) :]}")

    async def show_workspace_symbols(self) -> None:
        heading("workspace/symbol")
        for query in ("", "pipeline"):
            symbols = (
                await self.client.request("workspace/symbol", {"query": query}, timeout=self.timeout) or []
            )
            print(bold(f"  query {query!r}: {len(symbols)} symbols"))
            symbols.sort(
                key=lambda s: (s.get("location", {}).get("uri", ""), line_of(s["location"]["range"]))
            )
            for s in symbols[:40]:
                loc = s.get("location") or {}
                uri = loc.get("uri", "")
                path = Path(uri[7:]) if uri.startswith("file://") else None
                where = self.rel(path) if path and path.is_relative_to(self.root) else uri
                line = (loc.get("range") or {}).get("start", {}).get("line")
                where += f":{line + 1}" if line is not None else ""
                kind = SYMBOL_KINDS.get(s.get("kind", 0), str(s.get("kind")))
                container = f" {dim('in ' + s['containerName'])}" if s.get("containerName") else ""
                print(f"    {s.get('name', '?'):<40} {dim(f'{kind:<10}')} {where}{container}")
            if len(symbols) > 40:
                print(dim(f"    … {len(symbols) - 40} more"))


async def run(root: Path, timeout: float, server: list[str]) -> int:
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    if not files:
        print(f"error: no .py files under {root}", file=sys.stderr)
        return 1
    print(bold("flyte-ls: a scripted editor session over stdio"))
    session = Session(root, timeout, server)
    try:
        await session.start()
        await session.wait_for_index()
        uris = await session.open_all(files)
        print(f"opened     {len(files)} files")
        diagnostics = await session.collect_diagnostics(uris)
        for uri, path in uris.items():
            await session.show_file(uri, path, diagnostics.get(uri))
        await session.show_workspace_symbols()
    except LspError as exc:
        print(f"\nerror: the language server failed: {exc}", file=sys.stderr)
        return 1
    finally:
        await session.client.close()
    t = session.totals
    print()
    print(
        bold("summary") + f"    {t['files']} files, {t['entities']} entities, {t['lenses']} code lenses, "
        f"{plural(t['errors'], 'error')} and {plural(t['warnings'], 'warning')} reported"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "root", nargs="?", type=Path, default=REPO / "examples", help="workspace folder (examples/)"
    )
    p.add_argument(
        "--timeout", type=float, default=15.0, help="deadline in seconds for every wait (default 15)"
    )
    p.add_argument(
        "--server",
        default=f"{shlex.quote(sys.executable)} -m flyte_ls serve",
        help="the server command line (default: this Python's `-m flyte_ls serve`)",
    )
    args = p.parse_args(argv)
    root = args.root.resolve()
    if not root.is_dir():
        print(f"error: {root} is not a folder", file=sys.stderr)
        return 2
    return asyncio.run(run(root, args.timeout, shlex.split(args.server)))


if __name__ == "__main__":
    sys.exit(main())
