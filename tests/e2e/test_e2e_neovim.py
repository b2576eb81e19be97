"""A real editor: headless Neovim 0.7 attaches ``flyte-ls serve``; its lenses, entities and diagnostics are
checked. Neovim 0.7.2 is what Debian bookworm ships: it has ``vim.lsp.start_client`` (``vim.lsp.start``
arrived in 0.8). Skipped when ``nvim`` is not installed (CI installs it: ``apt-get install -y neovim``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lsp_helpers import copy_examples

pytestmark = [pytest.mark.nvim, pytest.mark.timeout(90)]

SCRIPT = Path(__file__).with_name("nvim_attach.lua")
NVIM = shutil.which("nvim")


def run_nvim(script: Path, tmp: Path, **env_extra: str) -> dict:
    """Run ``script`` in a headless Neovim on a fresh copy of examples/; return the JSON it wrote."""
    if NVIM is None:
        pytest.skip(
            "nvim is not installed: `apt-get install -y --no-install-recommends neovim` to run this test"
        )
    root = copy_examples(tmp / "examples")
    out = tmp / "result.json"
    env = {
        **os.environ,
        "HOME": str(tmp),
        "XDG_STATE_HOME": str(tmp / "state"),
        "XDG_DATA_HOME": str(tmp / "data"),
        "FLYTE_NVIM_OUT": str(out),
        "FLYTE_NVIM_ROOT": str(root),
        "FLYTE_NVIM_PYTHON": sys.executable,
        **env_extra,
    }
    proc = subprocess.run(
        ["timeout", "60", NVIM, "--headless", "--clean", "-u", "NONE", "-c", f"luafile {script}"],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert out.exists(), (
        f"nvim wrote no result (exit {proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
    )
    result = json.loads(out.read_text())
    assert result["error"] is None, result["error"]
    result["expected_root"] = str(root)
    return result


@pytest.fixture(scope="module")
def nvim_result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_nvim(SCRIPT, tmp_path_factory.mktemp("nvim"))


ENTITY_LINES = [10, 15, 20, 27, 44, 50, 59, 61]
ACTION_TITLES = {"▶ Run", "⬆ Register"}  # issue 5: every entity can be run and registered from its lens


def test_neovim_gets_the_code_lenses(nvim_result: dict) -> None:
    lenses = nvim_result["code_lenses"]  # Neovim 0.7 cannot resolve: complete lenses
    info = [lens for lens in lenses if lens["command"]["command"] == "flyte.entity.info"]
    assert [lens["range"]["start"]["line"] for lens in info] == ENTITY_LINES
    titles = [lens["command"]["title"] for lens in info]
    assert titles[0] == "task · 2 inputs → 1 output"
    assert titles[3] == "workflow · 3 inputs → 1 output · calls 7 entities"
    assert titles[5] == "launch_plan → workflows.pipeline.training_pipeline"
    runs = [lens for lens in lenses if lens["command"]["command"] == "flyte.execute"]
    assert [lens["range"]["start"]["line"] for lens in runs] == ENTITY_LINES
    assert runs[0]["command"]["arguments"][0]["entity"] == "is_large"
    displayed = [d for d in nvim_result["displayed_lenses"] if d["title"] not in ACTION_TITLES]
    assert [d["line"] for d in displayed] == ENTITY_LINES
    assert [d["title"] for d in displayed] == titles


def test_neovim_gets_the_entities(nvim_result: dict) -> None:
    entities = nvim_result["entities"]
    assert [(e["name"], e["kind"]) for e in entities] == [
        ("is_large", "task"),
        ("warn", "task"),
        ("prepare", "workflow"),
        ("training_pipeline", "workflow"),
        ("bootstrap_pipeline", "workflow"),
        ("nightly", "launch_plan"),
        ("quick", "launch_plan"),
        ("prepare_small", "launch_plan"),
    ]
    prepare = entities[2]
    assert prepare["flyteName"] == "workflows.pipeline.prepare"
    assert prepare["selectionRange"]["start"] == {"line": 21, "character": 4}
    assert [i["name"] for i in prepare["inputs"]] == ["n", "threshold"]
    assert prepare["outputs"] == [{"name": "o0", "type": "List[float]"}]


def test_neovim_shows_the_lint_diagnostics(nvim_result: dict) -> None:
    diagnostics = nvim_result["diagnostics"]
    assert {d["source"] for d in diagnostics} == {"flyte"}
    assert {"line": 11, "code": "FL001", "source": "flyte"} in diagnostics


@pytest.fixture(scope="module")
def documented_setup_result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the Neovim setup the README documents (editors/neovim/flyte-ls.lua) in a real headless Neovim."""
    return run_nvim(
        Path(__file__).with_name("nvim_documented_setup.lua"),
        tmp_path_factory.mktemp("nvim-setup"),
        FLYTE_NVIM_SETUP=str(DOCUMENTED_SETUP),
    )


DOCUMENTED_SETUP = Path(__file__).parents[2] / "editors" / "neovim" / "flyte-ls.lua"


def test_documented_neovim_setup_attaches_at_the_project_root(documented_setup_result: dict) -> None:
    assert documented_setup_result["client_name"] == "flyte-ls"
    # examples/ has a pyproject.toml: that is the root, not the buffer's folder (examples/workflows).
    assert documented_setup_result["root_dir"] == documented_setup_result["expected_root"]
    assert documented_setup_result["same_client"] is True


def test_documented_neovim_setup_shows_lenses_and_applies_its_settings(documented_setup_result: dict) -> None:
    displayed = documented_setup_result["displayed_lenses"]
    assert [d["line"] for d in displayed if d["title"] == "▶ Run"] == ENTITY_LINES
    titles = [d["title"] for d in displayed if d["title"] not in ACTION_TITLES]
    assert len(titles) == 8
    assert titles[0] == "task · 2 inputs → 1 output"
    codes = set(documented_setup_result["diagnostic_codes"])
    assert "FL001" in codes and "FL020" in codes
    # The setup passed lint.ignore = ["FL021"]: the arithmetic-on-a-promise finding is not shown.
    assert "FL021" not in codes
