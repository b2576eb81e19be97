"""``flyte-ls local stop`` as a user (or the language server) runs it: a real backend, real signals."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from local_backend import Backend, run_cli, start_backend

pytestmark = pytest.mark.timeout(180)


def _status(state_dir: Path) -> tuple[int, dict[str, object]]:
    proc = run_cli("status", "--json", "--state-dir", str(state_dir))
    return proc.returncode, json.loads(proc.stdout)


def test_stop_ends_the_backend_cleanly_and_status_then_says_not_running(tmp_path: Path) -> None:
    backend = start_backend(tmp_path / "state")
    try:
        assert _status(backend.state_dir)[0] == 0
        proc = run_cli("stop", "--json", "--state-dir", str(backend.state_dir))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = json.loads(proc.stdout)
        assert report["stopped"] is True and report["forced"] is False
        assert report["pid"] == backend.proc.pid and report["state_dir"] == str(backend.state_dir)
        assert report["seconds"] < 30
        # A clean stop (SIGTERM handled): exit status 0, the status file removed.
        assert backend.proc.wait(10) == 0
        assert "stopping" in backend.stderr()
        code, status = _status(backend.state_dir)
        assert code == 1 and status["running"] is False
        assert not (backend.state_dir / "status.json").exists()
    finally:
        backend.stop()


def test_stop_when_nothing_runs_exits_0_and_says_so(tmp_path: Path) -> None:
    proc = run_cli("stop", "--state-dir", str(tmp_path / "empty"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("nothing to stop: no local backend is running"), proc.stdout
    proc = run_cli("stop", "--json", "--state-dir", str(tmp_path / "empty"))
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["stopped"] is False
    assert report["state_dir"] == str(tmp_path / "empty") and "no status file" in report["reason"]


def test_a_stale_status_file_is_not_signalled(tmp_path: Path) -> None:
    """A backend killed with SIGKILL leaves its status file; its pid is gone: nothing is signalled."""
    backend = start_backend(tmp_path / "state")
    backend.stop(signal.SIGKILL)
    assert (backend.state_dir / "status.json").exists()
    proc = run_cli("stop", "--json", "--state-dir", str(backend.state_dir))
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["stopped"] is False and "stale" in report["reason"], report


def test_no_grace_kills_it_and_the_next_start_works(tmp_path: Path) -> None:
    backend = start_backend(tmp_path / "state")
    try:
        proc = run_cli("stop", "--timeout", "0", "--state-dir", str(backend.state_dir))
        assert proc.returncode == 0, proc.stderr
        assert f"(pid {backend.proc.pid}) killed" in proc.stdout, proc.stdout
        assert backend.proc.wait(10) == -signal.SIGKILL
        assert _status(backend.state_dir)[0] == 1
    finally:
        backend.stop()
    again: Backend = start_backend(tmp_path / "state")  # the stale status file is replaced
    try:
        t0 = time.monotonic()
        proc = run_cli("stop", "--state-dir", str(again.state_dir))
        assert proc.returncode == 0 and "stopped" in proc.stdout, proc.stdout + proc.stderr
        assert time.monotonic() - t0 < 30 and again.proc.wait(10) == 0
    finally:
        again.stop()


def test_bad_timeout_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("stop", "--timeout", "-1", "--state-dir", str(tmp_path))
    assert proc.returncode == 1 and "--timeout" in proc.stderr
