"""A real editor runs a Flyte entity: headless Neovim 0.7.2 with the documented setup
(editors/neovim/flyte-ls.lua) opens a workflow in a temp workspace, the server configured (settings
``endpoint``, ``insecure``, ``pythonPath``) to a real local backend (``flyte-ls local start`` in a temp state
dir), and ``:FlyteRun`` on the workflow ends in a ``flyte-exec`` diagnostic on its name that says SUCCEEDED.

Skipped when ``nvim`` is not installed (``apt-get install -y --no-install-recommends neovim``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import VENV_PYTHON, Backend, start_backend

pytestmark = [pytest.mark.nvim, pytest.mark.flytekit, pytest.mark.timeout(300)]

NVIM = shutil.which("nvim")
SCRIPT = Path(__file__).with_name("nvim_run.lua")
DOCUMENTED_SETUP = Path(__file__).parents[2] / "editors" / "neovim" / "flyte-ls.lua"
RUN_DEADLINE_S = 150
NVIM_DEADLINE_S = 240

FLOWS = """\
import time

from flytekit import task, workflow


@task
def add_one(x: int) -> int:
    time.sleep(2)  # long enough to be seen running
    return x + 1


@workflow
def pipeline(x: int = 1) -> int:
    y = add_one(x=x)
    return add_one(x=y)
"""


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory):
    if NVIM is None:
        pytest.skip(
            "nvim is not installed: `apt-get install -y --no-install-recommends neovim` to run this test"
        )
    started = start_backend(tmp_path_factory.mktemp("backend") / "state")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def run_result(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("nvim-run")
    root = tmp / "ws"
    (root / "demo").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0"\n')
    (root / "demo" / "__init__.py").write_text("")
    (root / "demo" / "flows.py").write_text(FLOWS)
    out = tmp / "result.json"
    log = tmp / "flyte-ls.log"
    settings = {
        "endpoint": f"127.0.0.1:{backend.port}",
        "insecure": True,
        "pythonPath": VENV_PYTHON,
        "local": {"autoStart": False},
    }
    env = {
        **os.environ,
        "HOME": str(tmp),
        "XDG_CACHE_HOME": str(tmp / "cache"),  # the worker's copy and the tracked executions
        "XDG_STATE_HOME": str(tmp / "state"),
        "XDG_DATA_HOME": str(tmp / "data"),
        "FLYTE_NVIM_OUT": str(out),
        "FLYTE_NVIM_ROOT": str(root),
        "FLYTE_NVIM_PYTHON": sys.executable,
        "FLYTE_NVIM_SETUP": str(DOCUMENTED_SETUP),
        "FLYTE_NVIM_SETTINGS": json.dumps(settings),
        "FLYTE_NVIM_FILE": "demo/flows.py",
        "FLYTE_NVIM_ENTITY": "pipeline",
        "FLYTE_NVIM_RUN_DEADLINE_MS": str(RUN_DEADLINE_S * 1000),
        "FLYTE_NVIM_LOG": str(log),
    }
    cmd = ["timeout", "-s", "KILL", str(NVIM_DEADLINE_S), NVIM, "--headless", "--clean", "-u", "NONE"]
    # A new session: at the end, whatever nvim started (the server, its worker) is killed with it.
    proc = subprocess.Popen(
        [*cmd, "-c", f"luafile {SCRIPT}"],
        env=env,
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=NVIM_DEADLINE_S + 20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(10)
        try:
            os.killpg(proc.pid, 9)  # the server and its worker, if they outlived nvim
        except ProcessLookupError:
            pass
    server_log = log.read_text()[-4000:] if log.exists() else "(no server log)"
    assert out.exists(), f"nvim wrote no result (exit {proc.returncode}): {stdout[-2000:]} {stderr[-2000:]}"
    result = json.loads(out.read_text())
    assert result["error"] is None, (
        f"{result['error']}\nnotifications: {result['notifications']}\n{server_log}"
    )
    result["server_log"] = server_log
    return result


def test_the_run_lens_is_shown_on_the_entity(run_result: dict) -> None:
    line = run_result["entity_line"]  # `def pipeline(`; its lenses sit on the decorator above it
    titles = {d["title"] for d in run_result["lenses_before"] if d["line"] == line - 1}
    assert "▶ Run" in titles and "⬆ Register" in titles, run_result["lenses_before"]
    assert run_result["capabilities"] == {"show_document": True, "lens_refresh": True}
    # The setup's buffer-local mappings: run a lens, :FlyteRun, :FlyteExecutions, :FlyteConsole.
    assert set(run_result["keymaps"]) == {"l", "r", "e", "c"}
    assert all(isinstance(desc, str) and desc.startswith("Flyte") for desc in run_result["keymaps"].values())


def test_flyte_run_ends_in_a_succeeded_status_diagnostic_on_the_entity(run_result: dict) -> None:
    assert run_result["entity_at_cursor"] == "pipeline"
    final = run_result["final_diagnostic"]
    assert final["line"] == run_result["entity_line"], final
    assert final["message"].startswith("pipeline: SUCCEEDED"), (final, run_result["server_log"])
    assert final["severity"] == 4  # Hint on success
    # While it ran, the status was shown too (Information); the last phase seen is SUCCEEDED.
    phases = run_result["phases_seen"]
    assert phases[-1] == "SUCCEEDED", phases
    running = [d for d in run_result["exec_diagnostics"] if d["message"].startswith("pipeline: RUNNING")]
    if running:  # observable unless the backend finished between two polls of the tracker
        assert running[0]["line"] == run_result["entity_line"] and running[0]["severity"] == 3


def test_status_changes_are_echoed_with_the_console_url(run_result: dict) -> None:
    messages = [n["msg"] for n in run_result["notifications"]]
    assert any(m.startswith("flyte: running pipeline") for m in messages), messages
    launched = [m for m in messages if m.startswith("flyte: launched ")]
    assert launched, messages
    succeeded = [m for m in messages if m.startswith("flyte: pipeline SUCCEEDED")]
    assert succeeded and "/console/" in succeeded[0], messages


def test_lenses_and_quickfix_show_the_outcome(run_result: dict) -> None:
    titles = [d["title"] for d in run_result["lenses_after"]]
    assert any(isinstance(t, str) and t.startswith("✓ SUCCEEDED") for t in titles), titles
    assert "⟳ Re-run" in titles and "Open console" in titles
    qf = run_result["quickfix"]
    assert len(qf) == 1, qf
    assert qf[0]["lnum"] == run_result["entity_line"] + 1
    assert qf[0]["file"].endswith("demo/flows.py")
    assert qf[0]["text"].startswith("pipeline SUCCEEDED") and "/console/" in qf[0]["text"]


def test_flyte_console_opens_the_execution_through_show_document(run_result: dict) -> None:
    assert len(run_result["opened"]) == 1, run_result["opened"]
    url = run_result["opened"][0]
    assert "/console/" in url and "/executions/" in url


def test_flyte_run_asks_for_missing_inputs(run_result: dict) -> None:
    # add_one(x: int) has no default: the server's missingInputs error makes :FlyteRun prompt for x.
    assert run_result["prompts"] == ["x (int): "]
    task = run_result["task_diagnostic"]
    assert task is not None, run_result["notifications"]
    assert task["line"] == run_result["task_line"]
    assert task["message"].startswith("add_one: SUCCEEDED") and "o0=42" in task["message"], task
