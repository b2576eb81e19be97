"""``flyte-ls check``: the real console script in subprocesses, on small projects in a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(60)

TASKS = """\
from flytekit import task


@task
def double(x: int) -> int:
    return 2 * x
"""

PIPELINE = """\
from flytekit import workflow

from shop.tasks import double


@workflow
def pipeline(x: int) -> int:
    y = double(x=x)
    if y > 3:
        return double(x=y)
    return double(value=y)
"""


def flyte_ls(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = REPO / ".venv" / "bin" / "flyte-ls"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "flyte_ls"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    write(tmp_path, {"shop/__init__.py": "", "shop/tasks.py": TASKS, "shop/pipeline.py": PIPELINE})
    return tmp_path


def test_text_output_is_ruff_style_sorted_and_fails_on_errors(shop: Path) -> None:
    proc = flyte_ls("check", "shop", cwd=shop)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [
        ["shop/pipeline.py:9:8:", "FL020"],
        ["shop/pipeline.py:11:12:", "FL010"],  # the imported task's signature comes from the sibling module
        ["shop/pipeline.py:11:19:", "FL010"],
    ]
    assert "no input `value`" in lines[2] and " — " in lines[2]
    assert proc.stderr.strip() == "flyte-ls: 3 errors, 0 warnings in 3 files"


def test_json_output(shop: Path) -> None:
    proc = flyte_ls("check", "--format", "json", "shop/pipeline.py", cwd=shop)
    assert proc.returncode == 1
    findings = json.loads(proc.stdout)
    assert findings[0] == {
        "path": "shop/pipeline.py",
        "line": 9,
        "column": 8,
        "endLine": 9,
        "endColumn": 13,
        "code": "FL020",
        "severity": "error",
        "message": findings[0]["message"],
        "entity": "pipeline",
    }
    assert [f["code"] for f in findings] == ["FL020", "FL010", "FL010"]


def test_clean_project_exits_zero(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/__init__.py": "", "pkg/tasks.py": TASKS, "notes.txt": "not python"})
    proc = flyte_ls("check", ".", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "")
    assert proc.stderr.strip() == "flyte-ls: no problems in 2 files"
    as_json = flyte_ls("check", "--format", "json", ".", cwd=tmp_path)
    assert (as_json.returncode, json.loads(as_json.stdout)) == (0, [])


def test_warnings_alone_do_not_fail(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "wf.py": """\
        from flytekit import task, workflow


        @task
        def label(s: str) -> str:
            return s


        @workflow
        def wf(x: int) -> str:
            return label(s=f"item {x}")
        """
        },
    )
    proc = flyte_ls("check", "wf.py", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("wf.py:11:20: FL025 ")
    assert "0 errors, 1 warning" in proc.stderr


def test_select_and_ignore(shop: Path) -> None:
    only = flyte_ls("check", "--select", "fl02", "shop", cwd=shop)
    assert [line.split()[1] for line in only.stdout.splitlines()] == ["FL020"]
    rest = flyte_ls("check", "--ignore", "FL020,FL010", "shop", cwd=shop)
    assert (rest.returncode, rest.stdout) == (0, "")


def test_syntax_error_is_fl000(tmp_path: Path) -> None:
    write(tmp_path, {"broken.py": "def f(:\n    pass\n"})
    proc = flyte_ls("check", "broken.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith("broken.py:1:7: FL000 Syntax error")


def test_bad_usage_exits_two_with_a_clear_message(tmp_path: Path) -> None:
    none = flyte_ls("check", cwd=tmp_path)
    assert none.returncode == 2 and "give at least one file or folder" in none.stderr
    missing = flyte_ls("check", "nowhere", cwd=tmp_path)
    assert missing.returncode == 2 and "nowhere: no such file or folder" in missing.stderr
    bad_option = flyte_ls("check", "--format", "xml", ".", cwd=tmp_path)
    assert bad_option.returncode == 2 and "invalid choice" in bad_option.stderr


def test_unreadable_inputs_are_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "latin1.py").write_bytes(b"# caf\xe9\nx = 1\n")
    (tmp_path / "huge.py").write_bytes(b"x = 1\n" * (1024 * 1024))  # 6 MB
    write(tmp_path, {"ok.py": TASKS})
    proc = flyte_ls("check", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "latin1.py: skipped: not UTF-8 text" in proc.stderr
    assert "huge.py: skipped: 6.0 MB is over the 5 MB limit" in proc.stderr
    assert "no problems in 1 file (2 files skipped)" in proc.stderr


BROKEN = "from flytekit import task\n\n\n@task\ndef t(x) -> int:\n    return 1\n"


def test_folders_that_are_not_source_are_skipped(tmp_path: Path) -> None:
    for folder in [".venv/lib", ".hidden", "__pycache__", "node_modules/x", "lib/site-packages", "build"]:
        write(tmp_path, {f"{folder}/mod.py": BROKEN})
    write(
        tmp_path,
        {".gitignore": "build/\n*_generated.py\n", "gen_generated.py": BROKEN, "src/real.py": BROKEN},
    )
    (tmp_path / ".git").mkdir()
    proc = flyte_ls("check", ".", cwd=tmp_path)
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == ["src/real.py"]
    everything = flyte_ls("check", "--no-gitignore", ".", cwd=tmp_path)
    assert {line.split(":")[0] for line in everything.stdout.splitlines()} == {
        "build/mod.py",
        "gen_generated.py",
        "src/real.py",
    }


def test_gitignore_of_the_repository_applies_to_a_subfolder(tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "gen/\n", "proj/gen/mod.py": BROKEN, "proj/real.py": BROKEN})
    (tmp_path / ".git").mkdir()
    proc = flyte_ls("check", "proj", cwd=tmp_path)
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == ["proj/real.py"]


def test_explicit_files_are_checked_even_if_ignored(tmp_path: Path) -> None:
    """pre-commit passes file names: they are checked as given."""
    write(tmp_path, {".gitignore": "*.py\n", "a.py": BROKEN})
    proc = flyte_ls("check", "a.py", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout.startswith("a.py:5:7: FL001")


def test_the_example_project() -> None:
    """The realistic example package is clean; the file of deliberate mistakes is not."""
    proc = flyte_ls("check", "examples", cwd=REPO)
    assert proc.returncode == 1
    flagged = {line.split(":")[0] for line in proc.stdout.splitlines()}
    assert flagged == {"examples/mistakes.py"}


def test_pre_commit_hook_definition() -> None:
    text = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load(text)
    hook = next(h for h in hooks if h["id"] == "flyte-ls-check")
    assert hook["language"] == "python" and hook["types"] == ["python"]
    assert hook["entry"] == "flyte-ls check"
    # pre-commit appends the staged file names to the entry.
    proc = flyte_ls(
        *hook["entry"].split()[1:], "examples/mistakes.py", "examples/workflows/tasks.py", cwd=REPO
    )
    assert proc.returncode == 1
    assert {line.split(":")[0] for line in proc.stdout.splitlines()} == {"examples/mistakes.py"}
