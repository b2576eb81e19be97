"""Run and fail from the editor (part of ``make demo``): the language server over stdio, as an editor drives
it, registering and executing example workflows on the embedded local Flyte backend.

    .venv/bin/python scripts/demo_run.py [EXAMPLES_DIR] [--no-pyflyte]   (default: examples/)

1. starts ``flyte-ls local start`` (a fresh state dir in a temporary directory, free ports);
2. starts ``flyte-ls serve`` with EXAMPLES_DIR as the workspace and the backend's config file as
   ``flyte.configFile`` (the server's user cache is a temporary directory too);
3. opens ``workflows/pipeline.py`` and prints the code lenses of ``training_pipeline``;
4. runs it with ``flyte.execute`` (the ▶ Run lens's command, with inputs as an editor passes them) and prints,
   as they arrive, the work-done progress, every ``flyte/executionChanged`` notification and every change of
   the ``flyte-exec`` diagnostics; then the outputs, the console URL and the lenses after the run;
5. runs ``workflows/failing.py`` ``strict_count``: first without its required input (the server answers with
   ``missingInputs``, which an editor turns into a prompt), then with it; the task calls a check in
   ``workflows/checks.py`` that raises, and the script prints the error the server placed on that line;
6. shuts the server down, checks that its worker went with it, and (unless ``--no-pyflyte``) runs the same
   workflow with unmodified ``pyflyte run --remote`` on the same backend (``demo_local.py``'s check); stops
   the backend.

Every wait has a deadline; exits 1 with the reason, the server's stderr and the backend's log on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "scripts"))

import demo_local  # noqa: E402  (the backend's start/stop and the unmodified-pyflyte check)
from lspwire import LspClient, LspError, Notification, file_uri  # noqa: E402

COLOR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None
SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}
TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}
SOURCE_EXEC = "flyte-exec"

PIPELINE = ("workflows/pipeline.py", "training_pipeline", {"n": 40, "label": "demo"})
FAILING = ("workflows/failing.py", "strict_count", {"n": 3})
REQUEST_DEADLINE_S = 30.0  # LSP requests that do not run anything
EXECUTE_DEADLINE_S = 120.0  # flyte.execute: serialize in the worker (imports flytekit), register, launch
RUN_DEADLINE_S = 180.0  # an execution from launch to its end
SETTLE_DEADLINE_S = 15.0  # a diagnostic that follows a notification already seen
STOP_DEADLINE_S = 15.0


class DemoError(Exception):
    pass


def style(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if COLOR else text


def bold(t: str) -> str:
    return style(t, "1")


def dim(t: str) -> str:
    return style(t, "2")


def heading(title: str) -> None:
    print()
    print(bold(f"━━ {title} " + "━" * max(3, 74 - len(title))), flush=True)


def uri_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)).resolve() if parsed.scheme == "file" else None


def first_line(text: str) -> str:
    return str(text).strip().split("\n", 1)[0]


class Client(LspClient):
    """lspwire's client, keeping the last error answer whole (its ``data`` is what an editor acts on)."""

    last_error: dict[str, Any] | None = None

    def _dispatch(self, msg: dict[str, Any], received: float) -> None:
        if "error" in msg and "method" not in msg:
            self.last_error = msg["error"]
        super()._dispatch(msg, received)


class Demo:
    """One server session on the examples, its notifications printed as they arrive."""

    def __init__(self, root: Path, client: Client) -> None:
        self.root = root
        self.c = client
        self.t0 = time.perf_counter()
        self._printed = 0  # notifications[:_printed] have been looked at by show_events
        self._exec_diags: dict[str, list[tuple[int, str, str]]] = {}  # uri -> what was printed last
        self._watch: str | None = None  # the execution whose events are printed
        self.lines: dict[Path, list[str]] = {}

    # -- helpers ---------------------------------------------------------------------------------------------
    def rel(self, uri_or_path: str | Path) -> str:
        path = uri_path(uri_or_path) if isinstance(uri_or_path, str) else uri_or_path
        if path is None:
            return str(uri_or_path)
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def source_line(self, path: Path, line: int) -> str:
        if path not in self.lines:
            self.lines[path] = path.read_text(encoding="utf-8").splitlines()
        lines = self.lines[path]
        return lines[line] if 0 <= line < len(lines) else ""

    def event(self, kind: str, text: str) -> None:
        at = dim(f"+{time.perf_counter() - self.t0:6.2f}s")
        print(f"  {at}  {kind:<17} {text}", flush=True)

    async def request(self, method: str, params: Any, timeout: float = REQUEST_DEADLINE_S) -> Any:
        return await self.c.request(method, params, timeout=timeout)

    # -- the session -----------------------------------------------------------------------------------------
    async def initialize(self, options: dict[str, Any]) -> None:
        result, elapsed = await self.c.initialize(
            root=str(self.root), initialization_options=options, timeout=REQUEST_DEADLINE_S
        )
        info = result.get("serverInfo") or {}
        commands = (result.get("capabilities") or {}).get("executeCommandProvider") or {}
        names = [n for n in commands.get("commands", []) if n.startswith("flyte.")]
        print(f"server     {' '.join(self.c.argv)}  (pid {self.c.pid})")
        print(
            f"           {info.get('name', '?')} {info.get('version', '')}, `initialize` in {elapsed:.2f} s"
        )
        print(f"commands   {', '.join(names) or 'none announced'}")
        for key, value in options.items():
            print(f"setting    flyte.{key} = {json.dumps(value)}")
        await self.wait_for_index()

    async def wait_for_index(self) -> None:
        """The workspace index's progress ends (so its progress is not mixed with the runs')."""
        deadline = time.perf_counter() + REQUEST_DEADLINE_S
        while time.perf_counter() < deadline:
            begun = [t for t in self.c.progress.values() if t.begin]
            if begun and all(t.end for t in begun):
                print(f"indexing   {begun[0].begin.get('title', '') if begun[0].begin else ''}: "
                      f"{(begun[0].end or {}).get('message') or 'done'}")  # fmt: skip
                self._printed = len(self.c.notifications)
                return
            await asyncio.sleep(0.05)
        raise DemoError(f"the workspace index did not finish within {REQUEST_DEADLINE_S:.0f} s")

    def open(self, rel: str) -> str:
        path = self.root / rel
        uri = file_uri(path)
        self.c.did_open(uri, path.read_text(encoding="utf-8"))
        return uri

    async def lenses(self, uri: str, entity: str) -> list[str]:
        """The titles of the code lenses over ``entity`` (resolving those that come without a command)."""
        entities = await self.request("flyte/entities", {"textDocument": {"uri": uri}}) or []
        found = next((e for e in entities if e.get("name") == entity), None)
        if found is None:
            raise DemoError(f"flyte/entities does not list {entity} in {self.rel(uri)}")
        first, last = found["range"]["start"]["line"], found["range"]["end"]["line"]
        titles = []
        for lens in await self.request("textDocument/codeLens", {"textDocument": {"uri": uri}}) or []:
            if not first - 1 <= lens["range"]["start"]["line"] <= last:
                continue  # decorators sit above the name; lenses of this entity only
            if not lens.get("command"):
                lens = await self.request("codeLens/resolve", lens) or lens
            titles.append((lens.get("command") or {}).get("title", "(unresolved)"))
        return titles

    async def show_lenses(self, uri: str, entity: str, label: str) -> list[str]:
        titles = await self.lenses(uri, entity)
        print(f"{label:<10} " + dim(" │ ").join(titles))
        return titles

    # -- running ---------------------------------------------------------------------------------------------
    async def execute(self, rel: str, entity: str, inputs: dict[str, Any] | None) -> dict[str, Any]:
        """``flyte.execute`` as the ▶ Run lens sends it; events are printed while it runs."""
        args: dict[str, Any] = {"uri": file_uri(self.root / rel), "entity": entity}
        if inputs is not None:
            args["inputs"] = inputs
        print(dim(f"workspace/executeCommand flyte.execute {json.dumps({**args, 'uri': rel})}"))
        self.t0 = time.perf_counter()
        self._watch = None  # until the answer names the execution, print every status change
        future = self.c.send_request(
            "workspace/executeCommand", {"command": "flyte.execute", "arguments": [args]}
        )
        deadline = time.perf_counter() + EXECUTE_DEADLINE_S
        while not future.done():
            self.show_events()
            if time.perf_counter() > deadline:
                raise DemoError(f"flyte.execute did not answer within {EXECUTE_DEADLINE_S:.0f} s")
            await asyncio.wait([future], timeout=0.05)
        self.show_events()
        result, _ = future.result()  # raises LspError with the server's message on an error answer
        execution = result["execution"]
        self._watch = execution["name"]
        where = f"{execution['project']}/{execution['domain']}/{execution['name']}"
        self.event("result", f"execution {where} (version {result.get('version')})")
        return dict(result)

    async def execute_expecting_missing_inputs(self, rel: str, entity: str) -> list[dict[str, Any]]:
        """``flyte.execute`` without inputs: the error's ``data.missingInputs`` is what an editor asks for."""
        args = {"uri": file_uri(self.root / rel), "entity": entity}
        print(dim(f"workspace/executeCommand flyte.execute {json.dumps({**args, 'uri': rel})}"))
        self.t0 = time.perf_counter()
        self.c.last_error = None
        try:
            result = await self.request(
                "workspace/executeCommand",
                {"command": "flyte.execute", "arguments": [args]},
                EXECUTE_DEADLINE_S,
            )
        except LspError:
            result = None
        self.show_events()
        error = self.c.last_error
        if not error:
            raise DemoError(f"flyte.execute of {entity} without its inputs did not fail: {result}")
        missing = list((error.get("data") or {}).get("missingInputs") or [])
        self.event("error", f"[{error.get('code')}] {error.get('message')}")
        if not missing:
            raise DemoError(f"the error has no data.missingInputs: {error}")
        wanted = ", ".join(f"{m['name']}: {m['type']}" for m in missing)
        self.event("editor prompts", f"{wanted}  → the user types n = {FAILING[2]['n']}")
        return missing

    def show_events(self) -> None:
        """Print what arrived since the last call: progress, status notifications, flyte-exec diagnostics."""
        notes = self.c.notifications
        while self._printed < len(notes):
            note = notes[self._printed]
            self._printed += 1
            self.show_event(note)

    def show_event(self, note: Notification) -> None:
        p = note.params or {}
        if note.method == "$/progress":
            value = p.get("value") or {}
            text = value.get("title") or ""
            if value.get("message"):
                text = f"{text}: {value['message']}" if text else value["message"]
            self.event(f"progress {value.get('kind', '?')}", text)
        elif note.method == "flyte/executionChanged":
            if self._watch is not None and (p.get("execution") or {}).get("name") != self._watch:
                return
            nodes = ""
            if p.get("nodesTotal"):
                nodes = f" {p.get('nodesDone') or 0}/{p['nodesTotal']} nodes"
            took = f" · {p['duration']:.1f}s" if isinstance(p.get("duration"), (int, float)) else ""
            self.event("executionChanged", f"{p.get('phase')}{nodes}{took}  ({p.get('entity')})")
        elif note.method == "textDocument/publishDiagnostics":
            self.show_diagnostics(p.get("uri", ""), p.get("diagnostics") or [])
        elif note.method == "window/showMessage":
            self.event("showMessage", first_line(p.get("message", "")))

    def show_diagnostics(self, uri: str, diagnostics: list[dict[str, Any]]) -> None:
        """A publish's flyte-exec diagnostics, when they differ from the last ones printed for the URI."""
        mine = [d for d in diagnostics if d.get("source") == SOURCE_EXEC]
        key = [(d["range"]["start"]["line"], str(d.get("severity")), d.get("message", "")) for d in mine]
        if key == self._exec_diags.get(uri, []):
            return
        self._exec_diags[uri] = key
        if not mine:
            self.event("diagnostics", f"{self.rel(uri)}: flyte-exec cleared")
        for d in mine:
            start = d["range"]["start"]
            where = f"{self.rel(uri)}:{start['line'] + 1}:{start['character'] + 1}"
            sev = SEVERITY.get(d.get("severity", 1), "?")
            colored = style(f"{sev:<5}", {"error": "31", "warning": "33", "hint": "32"}.get(sev, "36"))
            self.event("diagnostic", f"{colored} {where}  {first_line(d.get('message', ''))}")

    async def until(self, what: str, timeout: float, predicate: Any) -> Any:
        """Print events until ``predicate()`` is truthy; its value. Raises past the deadline."""
        deadline = time.perf_counter() + timeout
        while True:
            self.show_events()
            value = predicate()
            if value:
                return value
            if time.perf_counter() > deadline:
                raise DemoError(f"{what} did not happen within {timeout:.0f} s")
            await asyncio.sleep(0.05)

    def changes(self, name: str) -> list[dict[str, Any]]:
        return [
            n.params
            for n in self.c.notifications
            if n.method == "flyte/executionChanged" and (n.params.get("execution") or {}).get("name") == name
        ]

    def exec_diagnostics(self, name: str, path: Path | None = None) -> list[tuple[str, dict[str, Any]]]:
        """The latest published flyte-exec diagnostics of execution ``name`` (in ``path`` only, if given)."""
        latest: dict[str, list[dict[str, Any]]] = {}
        for n in self.c.notifications:
            if n.method == "textDocument/publishDiagnostics":
                latest[n.params.get("uri", "")] = n.params.get("diagnostics") or []
        return [
            (uri, d)
            for uri, diagnostics in latest.items()
            if path is None or uri_path(uri) == path
            for d in diagnostics
            if d.get("source") == SOURCE_EXEC
            and ((d.get("data") or {}).get("execution") or {}).get("name") == name
        ]

    async def until_done(self, name: str) -> dict[str, Any]:
        """Wait for the execution's terminal notification and the entity's diagnostic that says so."""
        change = await self.until(
            f"the end of execution {name}",
            RUN_DEADLINE_S,
            lambda: next((c for c in reversed(self.changes(name)) if c.get("phase") in TERMINAL), None),
        )
        await self.until(
            f"the {change['phase']} diagnostic of {name}",
            SETTLE_DEADLINE_S,
            lambda: any(
                (d.get("data") or {}).get("phase") == change["phase"] for _, d in self.exec_diagnostics(name)
            ),
        )
        return dict(change)


# -- the steps -----------------------------------------------------------------------------------------------
async def run_pipeline(demo: Demo) -> dict[str, Any]:
    rel, entity, inputs = PIPELINE
    heading(f"open {rel}")
    uri = demo.open(rel)
    await demo.show_lenses(uri, entity, f"lenses of {entity}")

    heading(f"▶ Run {entity}")
    result = await demo.execute(rel, entity, inputs)
    name = result["execution"]["name"]
    done = await demo.until_done(name)
    if done["phase"] != "SUCCEEDED":
        raise DemoError(f"{entity} ended {done['phase']}: {(done.get('error') or {}).get('message')}")
    print()
    print(f"{bold('phase')}      {done['phase']} in {done.get('duration') or 0:.1f} s")
    print(f"{bold('outputs')}    {done.get('outputs')}")
    print(f"{bold('console')}    {result['consoleUrl']}")
    await asyncio.to_thread(demo_local.show_console, result["consoleUrl"])  # the page exists and agrees
    await demo.show_lenses(uri, entity, "lenses now")
    return done


async def run_failing(demo: Demo) -> tuple[str, int]:
    rel, entity, inputs = FAILING
    heading(f"▶ Run {entity} ({rel}): it fails in another module")
    uri = demo.open(rel)
    await demo.show_lenses(uri, entity, f"lenses of {entity}")
    await demo.execute_expecting_missing_inputs(rel, entity)
    print()
    result = await demo.execute(rel, entity, inputs)
    name = result["execution"]["name"]
    done = await demo.until_done(name)
    if done["phase"] != "FAILED":
        raise DemoError(f"{entity} was expected to fail, it ended {done['phase']}")
    entity_path = (demo.root / rel).resolve()
    raised = await demo.until(
        "the error on the raising line",
        SETTLE_DEADLINE_S,
        lambda: [(u, d) for u, d in demo.exec_diagnostics(name) if uri_path(u) != entity_path],
    )
    uri_raised, d = raised[0]
    path = uri_path(uri_raised)
    assert path is not None
    start, end = d["range"]["start"], d["range"]["end"]
    line = start["line"]
    text = demo.source_line(path, line)
    print()
    print(bold("the error, placed on the raising line:"))
    print(f"  {demo.rel(path)}:{line + 1}:{start['character'] + 1}: {first_line(d.get('message', ''))}")
    print(dim(f"  {line + 1:>5} │ ") + text)
    width = max(1, (end["character"] if end["line"] == line else len(text)) - start["character"])
    print(dim("        │ ") + " " * start["character"] + style("^" * width, "31"))
    for related in d.get("relatedInformation") or []:
        loc = related["location"]
        at = f"{demo.rel(loc['uri'])}:{loc['range']['start']['line'] + 1}"
        print(f"  related: {at}  {related.get('message', '')}")
    for _, status in demo.exec_diagnostics(name, entity_path):
        at = f"{demo.rel(entity_path)}:{status['range']['start']['line'] + 1}"
        print(f"  status on the entity: {at}  {first_line(status.get('message', ''))}")
    print(f"  console: {result['consoleUrl']}")
    await demo.show_lenses(uri, entity, "lenses now")
    return demo.rel(path), line + 1


def descendants(pid: int) -> list[int]:
    """Processes under ``pid`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


async def session(root: Path, config: Path, cache: Path) -> tuple[dict[str, Any], tuple[str, int]]:
    env_before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)  # the server's user cache: tracker state, worker copy
    try:
        client = Client([sys.executable, "-m", "flyte_ls", "serve"], cwd=str(root))
        options = {"configFile": str(config), "pythonPath": sys.executable, "local": {"autoStart": False}}
        client.settings = {"flyte": options}
        await client.start()
    finally:
        if env_before is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = env_before
    demo = Demo(root, client)
    try:
        heading("the language server over stdio")
        await demo.initialize(options)
        done = await run_pipeline(demo)
        failed_at = await run_failing(demo)
        heading("stop the language server")
        started = [p for p in descendants(client.pid) if alive(p)]
        t0 = time.perf_counter()
        await client.close(timeout=STOP_DEADLINE_S)
        rc = client.proc.returncode if client.proc is not None else None
        print(f"server     shutdown + exit: exit status {rc} in {time.perf_counter() - t0:.2f} s")
        deadline = time.perf_counter() + STOP_DEADLINE_S
        while any(alive(p) for p in started) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        left = [p for p in started if alive(p)]
        if left:
            raise DemoError(f"processes the server started are still running after it exited: {left}")
        print(f"           its {len(started)} child process(es) (the worker) are gone: {started}")
        if rc != 0:
            raise DemoError(f"the server exited with status {rc}")
        return done, failed_at
    except (LspError, DemoError) as exc:
        tail = client.stderr_tail()
        if tail and isinstance(exc, DemoError):
            print("--- the server's stderr (last lines) ---\n" + tail, file=sys.stderr)
        raise DemoError(str(exc)) from exc
    finally:
        await client.close(timeout=5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="?", default=str(REPO / "examples"))
    parser.add_argument("--no-pyflyte", action="store_true", help="skip the unmodified `pyflyte run` check")
    args = parser.parse_args()
    root = Path(args.examples).resolve()
    t_start = time.perf_counter()
    print(bold("flyte-ls: run and fail from the editor, on the local Flyte backend"))
    with tempfile.TemporaryDirectory(prefix="flyte-ls-demo-run-") as tmp:
        state_dir, log = Path(tmp) / "state", Path(tmp) / "backend.log"
        proc = None
        try:
            heading("the local Flyte backend")
            t0 = time.perf_counter()
            proc, status = demo_local.start(state_dir, log)
            config = Path(str(status["config"]))
            ready = time.perf_counter() - t0
            print(f"backend    ready in {ready:.1f} s: Admin {status['host']}:{status['port']}")
            print(f"           tasks run with {status['python']}")
            print(f"config     {config}")
            done, (file, line) = asyncio.run(session(root, config, Path(tmp) / "cache"))
            if not args.no_pyflyte:
                heading("the same backend for unmodified flytekit: pyflyte run --remote")
                out = demo_local.run_workflow(root, config)
                demo_local.show_console(out)
                demo_local.show_outputs(out, config)
            heading("stop the local backend")
            demo_local.stop(proc)
            print(f"backend    stopped (pid {proc.pid}, exit status {proc.returncode})")
            print()
            print(
                bold("summary") + f"    {PIPELINE[1]} {done['phase']}, {FAILING[1]} FAILED at {file}:{line}; "
                f"the demo took {time.perf_counter() - t_start:.1f} s"
            )
            return 0
        except (DemoError, demo_local.DemoError, LspError, subprocess.SubprocessError, OSError) as exc:
            print(f"\ndemo failed: {exc}", file=sys.stderr)
            demo_local.print_backend_log(log)
            return 1
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(5)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
