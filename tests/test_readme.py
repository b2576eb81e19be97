"""README.md is kept honest: its generated tables match their sources, and the commands it names exist."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

pytestmark = pytest.mark.timeout(30)


def _readme_tables():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "scripts" / "readme_tables.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_tables_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert _readme_tables().render(text) == text, (
        "README.md tables are stale: run `.venv/bin/python scripts/readme_tables.py --write`"
    )


def test_every_rule_and_setting_is_documented() -> None:
    from flyte_ls.analysis.lints.registry import RULES
    from flyte_ls.server.settings import settings_markdown

    text = README.read_text(encoding="utf-8")
    for rule in RULES:
        assert f"| {rule.code} |" in text
    for key in re.findall(r"^\| `([^`]+)` \|", settings_markdown(), re.M):
        assert f"`{key}`" in text


def test_make_targets_named_in_the_readme_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in set(re.findall(r"`make (\w+)`|^make (\w+)", README.read_text(encoding="utf-8"), re.M)):
        name = target[0] or target[1]
        assert re.search(rf"^{name}:", makefile, re.M), f"README names `make {name}`; the Makefile lacks it"


def test_documented_neovim_setup_exists() -> None:
    assert (ROOT / "editors" / "neovim" / "flyte-ls.lua").is_file()


def test_layout_names_the_test_suites_that_do_not_mirror_the_package() -> None:
    """Unit tests mirror flyte_ls/; the Layout section names the other suites (end to end, real browser)."""
    text = README.read_text(encoding="utf-8")
    layout = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    for suite in ("tests/e2e/", "tests/browser/"):
        assert (ROOT / suite).is_dir() and suite in layout, suite
