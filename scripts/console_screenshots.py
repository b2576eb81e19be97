"""Screenshots of the local console for the README (``make screenshots``): starts ``flyte-ls local`` on a
fresh state dir and free ports, runs the console workflows (tests/browser/browser_flows.py) with unmodified
``pyflyte run --remote``, and shoots their pages in headless Chromium (Debian's, driven by Playwright):

- ``console-execution.png`` / ``console-execution-dark.png``: a finished run of ``showcase`` (subworkflow, map
  task, @dynamic, branch, a retry, a cached task), light and dark colour scheme;
- ``console-running.png``: a run of ``waiting`` while it waits for a file (created after the shot);
- ``console-workflow.png``: the ``showcase`` workflow's version page.

    .venv/bin/python scripts/console_screenshots.py [--out docs/images] [--chromium /usr/bin/chromium]

Every step has a deadline; exits 1 with the reason (and the backend's log) on failure.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_local import BIN, DemoError, print_backend_log, start, stop

REPO = Path(__file__).resolve().parent.parent
FLOWS = REPO / "tests" / "browser" / "browser_flows.py"
RUN_DEADLINE_S = 240.0
PAGE_DEADLINE_S = 60.0
WIDTH, MAX_WIDTH = 1280, 1800  # wide enough for the whole DAG when it fits in MAX_WIDTH
MAX_HEIGHT = 2400  # a long node table is cut here: the pictures show the top of the page
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The browser's own background requests (account, autofill and check-in queries) resolve no name: not
    # even a DNS query leaves this machine. Pages reach only 127.0.0.1 / localhost.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
NAMES = ("console-execution.png", "console-execution-dark.png", "console-running.png", "console-workflow.png")


def pyflyte_run(work: Path, config: Path, workflow: str, *args: str, wait: bool) -> str:
    """``pyflyte run --remote`` in ``work``; the console URL it printed."""
    cmd = [str(BIN / "pyflyte"), "--config", str(config), "run", "--remote"]
    cmd += ["--wait", "--poll-interval", "1"] if wait else []
    cmd += [FLOWS.name, workflow, *args]
    print("$", " ".join(["pyflyte", *cmd[1:]]))
    env = {**os.environ, "COLUMNS": "400"}  # rich wraps long URLs at 80 columns
    try:
        done = subprocess.run(
            cmd, cwd=work, capture_output=True, text=True, timeout=RUN_DEADLINE_S, env=env,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise DemoError(f"pyflyte run --remote {workflow} did not finish in {RUN_DEADLINE_S:.0f} s") from None
    if done.returncode != 0:
        raise DemoError(
            f"pyflyte run --remote {workflow} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    urls = re.findall(r"http://\S+/console/projects/\S+/executions/[a-z0-9]+", done.stdout)
    if not urls:
        raise DemoError(f"pyflyte printed no console URL:\n{done.stdout[-2000:]}")
    return urls[-1]


def page_text(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as resp:
        return str(resp.read().decode("utf-8", "replace"))


def wait_for(url: str, *patterns: str) -> None:
    """Until the page at ``url`` matches every pattern."""
    deadline = time.monotonic() + PAGE_DEADLINE_S
    while not all(re.search(p, text := page_text(url), re.S) for p in patterns):
        if time.monotonic() > deadline:
            raise DemoError(f"{url} did not show {patterns} within {PAGE_DEADLINE_S:.0f} s:\n{text[:2000]}")
        time.sleep(0.3)


def shoot(browser: Any, url: str, path: Path, scheme: str = "light", unfold: str = "") -> None:
    """A screenshot of the page at ``url`` (the top MAX_HEIGHT pixels, as wide as its widest part allows),
    with the ``<details>`` that match the CSS selector ``unfold`` opened."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(url, wait_until="load", timeout=PAGE_DEADLINE_S * 1000)
        if unfold:
            page.evaluate("(css) => document.querySelectorAll(css).forEach(d => { d.open = true; })", unfold)
        overflow = page.evaluate(
            "Math.max(0, ...[...document.querySelectorAll('main *')]"
            ".map(el => el.scrollWidth - el.clientWidth))"
        )
        width = min(WIDTH + int(overflow), MAX_WIDTH)
        page.set_viewport_size({"width": width, "height": 900})
        height = min(int(page.evaluate("document.documentElement.scrollHeight")), MAX_HEIGHT)
        clip = {"x": 0, "y": 0, "width": width, "height": height}
        page.screenshot(path=str(path), full_page=True, clip=clip)
    finally:
        context.close()
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def workflow_url(execution_page: str, base: str) -> str:
    """The workflow version page the execution page links."""
    found = re.search(r"href=['\"](/console/projects/[^'\"]+/workflow/[^'\"]+)['\"]", execution_page)
    if found is None:
        raise DemoError("the execution page links no workflow version page")
    return base + found.group(1)


def shoot_all(out: Path, chromium: str, work: Path, config: Path) -> None:
    from playwright.sync_api import sync_playwright

    shutil.copy(FLOWS, work / FLOWS.name)
    finished = pyflyte_run(work, config, "showcase", "--n", "3", wait=True)
    go = work / "go"
    running = pyflyte_run(work, config, "waiting", "--path", str(go), wait=False)
    wait_for(running, r"<title>[^<]*RUNNING", r"wait_for_file")
    time.sleep(2)  # the running task's bar has some length in the picture
    base = finished.split("/console/", 1)[0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            inner = "main details.dag-sub"  # the inner graphs of the @dynamic, subworkflow and branch nodes
            shoot(browser, finished, out / "console-execution.png", unfold=inner)
            shoot(browser, finished, out / "console-execution-dark.png", scheme="dark", unfold=inner)
            shoot(browser, running, out / "console-running.png")
            shoot(browser, workflow_url(page_text(finished), base), out / "console-workflow.png")
        finally:
            browser.close()
    go.write_text("go")  # lets the waiting run finish before the backend stops
    wait_for(running, r"<title>[^<]*SUCCEEDED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "images"), help="where the PNGs go")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not Path(args.chromium).exists():
        print(f"no Chromium at {args.chromium} (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="flyte-ls-shots-") as tmp:
        state_dir, log = Path(tmp) / "state", Path(tmp) / "backend.log"
        proc = None
        try:
            proc, status = start(state_dir, log)
            work = Path(tmp) / "work"
            work.mkdir()
            shoot_all(out, args.chromium, work, Path(str(status["config"])))
            stop(proc)
            return 0
        except DemoError as exc:
            print(f"screenshots failed: {exc}", file=sys.stderr)
            print_backend_log(log)
            return 1
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(5)


if __name__ == "__main__":
    sys.exit(main())
