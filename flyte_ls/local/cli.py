"""``flyte-ls local start|status|stop``: run a local Flyte backend in the foreground, report where one runs,
or stop it.

Defaults: gRPC on 127.0.0.1:30080 (flytekit's sandbox address, so ``Config.for_sandbox()`` reaches it with no
config file), HTTP (upload PUTs, console pages) on the gRPC port + 1, state in
``$XDG_DATA_HOME/flyte-ls/local`` (``~/.local/share/flyte-ls/local``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path
from types import FrameType

from flyte_ls.local.state import (
    StateDir,
    Status,
    default_state_dir,
    host_port,
    pid_alive,
    port_answers,
    read_status,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 30080
DEFAULT_MAX_UPLOAD_MIB = 1024
STOP_TIMEOUT_S = 30.0  # a clean stop aborts running executions and closes the store: seconds at most
KILL_WAIT_S = 10.0  # after SIGKILL, until the process is gone


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="local_command", metavar="ACTION")
    start = sub.add_parser("start", help="start the local backend in the foreground (Ctrl-C stops it)")
    start.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}: this machine only)"
    )
    start.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"gRPC (Admin) port (default {DEFAULT_PORT}; 0 = any)"
    )
    start.add_argument(
        "--http-port",
        type=int,
        default=None,
        help="HTTP port for uploads and console pages (default: --port + 1)",
    )
    _state_dir_arg(start)
    start.add_argument(
        "--python",
        metavar="PATH",
        help="interpreter that runs tasks; it must import flytekit (default: first such python3 on PATH)",
    )
    start.add_argument(
        "--max-upload-mib",
        type=int,
        default=DEFAULT_MAX_UPLOAD_MIB,
        help=f"largest accepted upload in MiB (default {DEFAULT_MAX_UPLOAD_MIB})",
    )
    start.add_argument(
        "--auth",
        choices=("client-secret",),
        default=None,
        help="require OAuth2 bearer tokens on every gRPC call (a built-in token endpoint; the client id and "
        "a generated secret go into the written config.yaml). Default: no auth",
    )
    start.add_argument(
        "--auth-header",
        default="authorization",
        metavar="NAME",
        help="with --auth: the metadata key carrying the token (default authorization)",
    )
    start.add_argument(
        "--token-ttl", type=float, default=3600.0, metavar="SECONDS", help="with --auth: token lifetime"
    )
    start.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    status = sub.add_parser(
        "status", help="report whether a local backend is running and where (exit 0: running, 1: not)"
    )
    _state_dir_arg(status)
    status.add_argument("--json", action="store_true", help="one JSON object on stdout, for programs")
    stop = sub.add_parser(
        "stop",
        help="stop the local backend running on the state dir (SIGTERM, then SIGKILL after --timeout); "
        "exit 0 also when none runs",
    )
    _state_dir_arg(stop)
    stop.add_argument("--json", action="store_true", help="one JSON object on stdout, for programs")
    stop.add_argument(
        "--timeout",
        type=float,
        default=STOP_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long a clean stop may take before the backend is killed (default {STOP_TIMEOUT_S:g})",
    )


def _state_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help=f"where entities, executions and uploads live (default {default_state_dir()})",
    )


def run(args: argparse.Namespace) -> int:
    if args.local_command == "start":
        return start(args)
    if args.local_command == "status":
        return status(args)
    if args.local_command == "stop":
        return stop(args)
    print(
        "usage: flyte-ls local {start,status,stop} [options]  (flyte-ls local start --help)", file=sys.stderr
    )
    return 2


def _err(message: str) -> int:
    print(f"flyte-ls local: error: {message}", file=sys.stderr)
    return 1


def start(args: argparse.Namespace) -> int:
    from flyte_ls.local.app import LocalBackend, Options, StartError
    from flyte_ls.local.interpreter import InterpreterError, find_python

    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not 0 <= args.port <= 65535:
        return _err(f"--port {args.port} is not a port number (0-65535)")
    http_port = args.http_port
    if http_port is None:
        http_port = args.port + 1 if args.port else 0
    if not 0 <= http_port <= 65535:
        return _err(f"--http-port {http_port} is not a port number (0-65535)")
    if args.port and http_port == args.port:
        return _err(f"--http-port must differ from --port ({args.port})")
    if args.max_upload_mib <= 0:
        return _err("--max-upload-mib must be positive")
    if args.token_ttl <= 0:
        return _err("--token-ttl must be positive")
    if not args.auth_header.strip() or args.auth_header.lower() != args.auth_header.strip().lower():
        return _err("--auth-header must be a metadata key such as authorization or flyte-authorization")
    state_dir = (args.state_dir or default_state_dir()).expanduser().absolute()
    try:
        interpreter = find_python(args.python)
    except InterpreterError as exc:
        return _err(f"no interpreter to run tasks with: {exc}")

    backend = LocalBackend(
        Options(
            host=args.host,
            port=args.port,
            http_port=http_port,
            state_dir=state_dir,
            interpreter=interpreter,
            max_upload_bytes=args.max_upload_mib * 1024 * 1024,
            auth=args.auth,
            auth_header=args.auth_header.lower(),
            token_ttl_s=args.token_ttl,
        )
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # a clean stop also when the terminal goes away (SIGHUP): only a killed backend leaves work to resume
    stops = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, on_signal) for sig in stops}
    try:
        try:
            st = backend.start()
        except StartError as exc:
            return _err(str(exc))
        _print_banner(st, args.auth)
        while not stop.wait(0.5):
            pass
        print("flyte-ls local: stopping", file=sys.stderr, flush=True)
        return 0
    finally:
        backend.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_banner(st: Status, auth: str | None = None) -> None:
    grpc_addr = host_port(st.host, st.port)
    console = f"http://{host_port(st.host, st.http_port)}/console"
    lines = [
        f"flyte-ls local backend running (pid {st.pid})",
        f"  Admin (gRPC, insecure): {grpc_addr}",
        f"  Console and uploads:    {console}",
        f"  State dir:              {st.state_dir}",
        f"  Tasks run with:         {_task_python(st)}",
        f"  Client config:          {st.config}",
    ]
    if auth is not None:
        lines.append(
            f"  Auth:                   {auth} (bearer tokens required; the client config names the "
            "client id and the secret's file)"
        )
    lines += [
        "",
        "Use it:",
        f"  pyflyte --config {st.config} run --remote my_workflows.py my_wf",
        f"  export FLYTECTL_CONFIG={st.config}   # flytectl, and FlyteRemote(Config.auto())",
    ]
    if st.port == DEFAULT_PORT and st.host in ("127.0.0.1", "localhost"):
        lines.append("  (flytekit's Config.for_sandbox() also reaches it: localhost:30080, insecure)")
    lines.append("Ctrl-C stops it.")
    print("\n".join(lines), flush=True)


def _task_python(st: Status) -> str:
    """``/path/python (Python 3.11.7, flytekit 1.16.31)``: the interpreter that runs tasks."""
    python = f"Python {st.python_version}, " if st.python_version else ""
    return f"{st.python} ({python}flytekit {st.flytekit_version})"


def status(args: argparse.Namespace) -> int:
    """Exit 0 when a backend runs on the state dir, 1 when none does (no status file, a stale one, or one
    that does not answer). ``--json``: one JSON object on stdout, ``{"running": true, "pid", "host", "port",
    "http_port", "admin_endpoint", "console_url", "state_dir", "python", "flytekit_version", "python_version",
    "started_at", "config"}`` (``python_version``: the task interpreter's, ``"3.11.7"``: a notebook task
    pickled on another major.minor does not load here) or ``{"running": false, "state_dir", "reason"}``."""
    state = StateDir((args.state_dir or default_state_dir()).expanduser().absolute())
    st, reason = _probe(state)
    if getattr(args, "json", False):
        report: dict[str, object] = {"running": st is not None}
        if st is None:
            report |= {"state_dir": str(state.root), "reason": reason}
        else:
            report |= asdict(st)
            report["admin_endpoint"] = host_port(st.host, st.port)
            report["console_url"] = f"http://{host_port(st.host, st.http_port)}/console"
        print(json.dumps(report, indent=2))
        return 0 if st is not None else 1
    if st is None:
        print(reason)
        return 1
    print(f"flyte-ls local backend running (pid {st.pid}, since {st.started_at})")
    print(f"  Admin (gRPC, insecure): {host_port(st.host, st.port)}")
    print(f"  Console and uploads:    http://{host_port(st.host, st.http_port)}/console")
    print(f"  State dir:              {st.state_dir}")
    print(f"  Tasks run with:         {_task_python(st)}")
    print(f"  Client config:          {st.config}")
    return 0


def stop(args: argparse.Namespace) -> int:
    """Stop the backend that ``status`` finds running on the state dir: SIGTERM (a clean stop: running
    executions end ABORTED), then SIGKILL when it is still there after ``--timeout`` seconds. Exit 0 when it
    is gone or none was running, 1 when it could not be stopped. ``--json``: ``{"stopped": true, "pid",
    "state_dir", "forced", "seconds"}`` or ``{"stopped": false, "state_dir", "reason"}``."""
    state = StateDir((args.state_dir or default_state_dir()).expanduser().absolute())
    as_json = getattr(args, "json", False)
    if args.timeout < 0:
        return _err("--timeout must not be negative")
    st, reason = _probe(state)
    if st is None:
        if as_json:
            print(json.dumps({"stopped": False, "state_dir": str(state.root), "reason": reason}, indent=2))
        else:
            print(f"nothing to stop: {reason}")
        return 0
    started = time.monotonic()
    forced = False
    try:
        os.kill(st.pid, signal.SIGTERM)
        if not _wait_gone(st.pid, args.timeout):
            forced = True
            os.kill(st.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended on its own meanwhile
    except PermissionError as exc:
        return _err(f"cannot signal the local backend (pid {st.pid}): {exc}")
    if not _wait_gone(st.pid, KILL_WAIT_S):
        return _err(f"the local backend (pid {st.pid}) is still running after SIGKILL")
    seconds = round(time.monotonic() - started, 2)
    if as_json:
        report = {"stopped": True, "pid": st.pid, "state_dir": str(state.root), "forced": forced,
                  "seconds": seconds}  # fmt: skip
        print(json.dumps(report, indent=2))
    elif forced:
        print(f"flyte-ls local backend (pid {st.pid}) killed: it did not stop within {args.timeout:g} s")
    else:
        print(f"flyte-ls local backend (pid {st.pid}) stopped ({state.root})")
    return 0


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end (a zombie waiting for its parent counts as ended)."""
    deadline = time.monotonic() + timeout
    while True:
        if not pid_alive(pid) or _zombie(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _zombie(pid: int) -> bool:
    """Linux: the process has exited and waits to be reaped by its parent (e.g. the editor's server that
    started it). Elsewhere: False."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _probe(state: StateDir) -> tuple[Status | None, str]:
    """The status of the backend running on ``state``, or None and why none is."""
    st = read_status(state)
    if st is None:
        return None, f"no local backend is running (no status file in {state.root})"
    if not pid_alive(st.pid):
        return None, (
            f"no local backend is running: stale status file {state.status_path} "
            f"(pid {st.pid} is gone; the next `flyte-ls local start` replaces it)"
        )
    if not port_answers(st.host, st.port):
        return None, f"the local backend (pid {st.pid}) does not answer on {host_port(st.host, st.port)}"
    if not _same_backend(st.host, st.http_port, st.pid):
        return None, (
            f"no local backend is running: stale status file {state.status_path} "
            f"(pid {st.pid} and port {st.http_port} now belong to something else)"
        )
    return st, ""


def _same_backend(host: str, http_port: int, pid: int) -> bool:
    """The HTTP server's /healthz names the pid: a reused pid or port is not our backend."""
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
        with opener.open(f"http://{host_port(host, http_port)}/healthz", timeout=3) as resp:
            return bool(json.loads(resp.read()).get("pid") == pid)
    except (OSError, ValueError):
        return False
