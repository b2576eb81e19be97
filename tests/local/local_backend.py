"""Start the real ``flyte-ls local start`` command in a subprocess, for the tests of tests/local/; upload to
its signed URLs."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
FLYTE_LS = str(VENV_BIN / "flyte-ls")
VENV_PYTHON = str(VENV_BIN / "python")
START_DEADLINE_S = 90.0  # `import flytekit` in the interpreter check takes seconds on a busy machine
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the backend is local


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLYTE_LS, "local", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Backend:
    proc: subprocess.Popen[bytes]
    state_dir: Path
    log_dir: Path
    status: dict[str, object] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.status["port"])  # type: ignore[call-overload]

    @property
    def http_port(self) -> int:
        return int(self.status["http_port"])  # type: ignore[call-overload]

    @property
    def config(self) -> Path:
        return self.state_dir / "config.yaml"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stdout(self) -> str:
        return (self.log_dir / "stdout").read_text()

    def stderr(self) -> str:
        return (self.log_dir / "stderr").read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"the backend did not stop within {timeout} s of signal {sig}") from None
        return int(self.proc.returncode)


def start_backend(
    state_dir: Path,
    *extra: str,
    port: int = 0,
    http_port: int | None = 0,
    python: str | None = VENV_PYTHON,
    env: dict[str, str] | None = None,
    wait_host: str = "127.0.0.1",
) -> Backend:
    """Start ``flyte-ls local start``; wait (with a deadline) until its status file exists and it answers."""
    log_dir = state_dir.parent / f"{state_dir.name}-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    cmd = [FLYTE_LS, "local", "start", "--port", str(port), "--state-dir", str(state_dir), *extra]
    if http_port is not None:
        cmd += ["--http-port", str(http_port)]
    if python is not None:
        cmd += ["--python", python]
    with open(log_dir / "stdout", "wb") as out, open(log_dir / "stderr", "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    backend = Backend(proc, state_dir, log_dir)
    deadline = time.monotonic() + START_DEADLINE_S
    status_path = state_dir / "status.json"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the backend exited with {proc.returncode}: {backend.stderr()}")
        if status_path.exists():
            try:
                backend.status = json.loads(status_path.read_text())
            except ValueError:
                time.sleep(0.05)
                continue
            if backend.status.get("pid") == proc.pid:
                with socket.create_connection((wait_host, backend.port), timeout=5):
                    return backend
        time.sleep(0.1)
    backend.stop(signal.SIGKILL)
    raise AssertionError(f"the backend did not become ready within {START_DEADLINE_S} s: {backend.stderr()}")


def register_copy(
    backend: Backend, package: Path, work: Path, project: str, domain: str, version: str
) -> None:
    """Copy the package directory `package` into `work` and register it there with real `pyflyte register`."""
    shutil.copytree(package, work / package.name)
    proc = subprocess.run(
        [str(VENV_BIN / "pyflyte"), "--config", str(backend.config), "register", "--project", project,
         "--domain", domain, "--version", version, package.name],
        cwd=work, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def env_with_path(path: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = path
    return env


def upload(url: str, body: bytes, md5: bytes | None) -> tuple[int, str]:
    """PUT ``body`` to a signed upload URL as flytekit does (with Content-MD5 when ``md5`` is given): the
    status and the response body."""
    headers = {"Content-Length": str(len(body))}
    if md5 is not None:
        headers["Content-MD5"] = base64.b64encode(md5).decode()
    req = urllib.request.Request(url, data=body, method="PUT", headers=headers)
    try:
        with NO_PROXY.open(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
