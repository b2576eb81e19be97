"""The embedded default end to end (part of ``make demo``): start ``flyte-ls local``, run an example workflow
on it with unmodified ``pyflyte run --remote --wait --poll-interval 1`` (flytekit polls every 30 s),
open the console page it prints, read the outputs with unmodified FlyteRemote, stop the backend.

    .venv/bin/python scripts/demo_local.py [EXAMPLES_DIR]   (default: examples/)

The backend gets a fresh state dir under a temporary directory and free ports (it never touches a backend you
run on 30080). Every step has a deadline; exits 1 with the reason and the backend's log on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_DEADLINE_S = 90.0
RUN_DEADLINE_S = 300.0
STOP_DEADLINE_S = 30.0
WORKFLOW = ("workflows/pipeline.py", "training_pipeline", ["--n", "40", "--label", "demo"])


class DemoError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(state_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    cmd = [
        str(BIN / "flyte-ls"), "local", "start", "--state-dir", str(state_dir),
        "--port", str(free_port()), "--http-port", str(free_port()), "--python", sys.executable,
    ]  # fmt: skip
    print("$ flyte-ls", " ".join(cmd[1:]))
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_DEADLINE_S
    status_path = state_dir / "status.json"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"the backend exited with status {proc.returncode}")
        try:
            status = json.loads(status_path.read_text())
        except (OSError, ValueError):
            time.sleep(0.1)
            continue
        if status.get("pid") == proc.pid:
            return proc, status
        time.sleep(0.1)
    proc.kill()
    raise DemoError(f"the backend was not ready within {START_DEADLINE_S:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise DemoError(f"the backend did not stop within {STOP_DEADLINE_S:.0f} s of SIGTERM") from None


def run_workflow(examples: Path, config: Path) -> str:
    path, name, args = WORKFLOW
    cmd = [
        str(BIN / "pyflyte"),
        "--config",
        str(config),
        "run",
        "--remote",
        "--wait",
        "--poll-interval",
        "1",
        path,
        name,
        *args,
    ]
    print("$ cd", examples, "&&", " ".join(["pyflyte", *cmd[1:]]))
    started = time.monotonic()
    try:
        done = subprocess.run(
            cmd,
            cwd=examples,
            capture_output=True,
            text=True,
            timeout=RUN_DEADLINE_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise DemoError(f"pyflyte run --remote did not finish within {RUN_DEADLINE_S:.0f} s") from None
    out = done.stdout + done.stderr
    print("\n".join("  " + line for line in out.strip().splitlines()))
    if done.returncode != 0:
        raise DemoError(f"pyflyte run --remote exited with status {done.returncode}")
    print(f"(finished in {time.monotonic() - started:.1f} s)")
    return out


def show_console(out: str) -> None:
    urls = re.findall(r"https?://\S+/console/\S+", out)
    if not urls:
        raise DemoError("pyflyte printed no console URL")
    url = urls[0].rstrip(".")
    with urllib.request.urlopen(url, timeout=30) as answer:
        page = answer.read().decode("utf-8", "replace")
    phase = re.search(r"\b(SUCCEEDED|FAILED|RUNNING|ABORTED)\b", page)
    print(f"console page {url}: HTTP {answer.status}, phase {phase.group(1) if phase else '?'}")
    if not phase or phase.group(1) != "SUCCEEDED":
        raise DemoError("the console page does not show the execution SUCCEEDED")


def show_outputs(out: str, config: Path) -> None:
    """The outputs through unmodified FlyteRemote, as a script of the user's would read them."""
    match = re.search(r"Execution (\w+) has succeeded", out)
    if not match:
        raise DemoError("pyflyte did not say which execution succeeded")
    from flytekit.configuration import Config
    from flytekit.remote import FlyteRemote

    remote = FlyteRemote(Config.auto(config_file=str(config)), "flytesnacks", "development")
    execution = remote.sync_execution(remote.fetch_execution(name=match.group(1)))
    print(f"outputs through FlyteRemote: {dict(execution.outputs.items()) if execution.outputs else {}}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="?", default=str(REPO / "examples"))
    examples = Path(parser.parse_args().examples).resolve()
    with tempfile.TemporaryDirectory(prefix="flyte-ls-demo-") as tmp:
        state_dir, log = Path(tmp) / "state", Path(tmp) / "backend.log"
        proc = None
        try:
            proc, status = start(state_dir, log)
            print(
                f"backend ready: Admin {status['host']}:{status['port']}, tasks run with {status['python']}"
            )
            out = run_workflow(examples, Path(str(status["config"])))
            show_console(out)
            show_outputs(out, Path(str(status["config"])))
            stop(proc)
            print("backend stopped cleanly")
            return 0
        except DemoError as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            print_backend_log(log)
            return 1
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(5)


def print_backend_log(log: Path, lines: int = 40) -> None:
    """The end of the backend's log on stderr (after a failure), if it wrote one."""
    if log.exists():
        print(f"--- backend log (last {lines} lines) ---", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-lines:]), file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
