"""Shared by the §7 suite and its local-run driver: the cases (workflow + inputs), output normalisation,
and the three ways of running a case (flytekit's local execution, `pyflyte run --remote --wait`, FlyteRemote).

Values are compared after `normalize`: files and directories by content (their URIs differ by design),
dataclasses and enums by their fields and values, everything else as JSON.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKFLOWS = HERE / "workflows"
VENV_BIN = HERE.parents[2] / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
PYFLYTE = str(VENV_BIN / "pyflyte")
LOCAL_DRIVER = str(HERE / "local_driver.py")
RESULT_MARK = "E2E-RESULT "
PROJECT = "flytesnacks"
DOMAIN = "development"


@dataclass(frozen=True)
class Case:
    """One run of one workflow: the same inputs as pyflyte CLI arguments and as Python values."""

    module: str
    workflow: str
    cli: tuple[str, ...]
    inputs: Callable[[], dict[str, Any]]
    stdin: str = ""  # answers to flytekit's local gate prompts (approve / wait_for_input)
    # execution environment variables (pyflyte --envvars, FlyteRemote execute(envs=...))
    env: tuple[tuple[str, str], ...] = ()
    target: tuple[str, ...] = ()  # what pyflyte runs, if not `workflows/<module>.py <workflow>`


def workflows_module(name: str) -> Any:
    return importlib.import_module(f"workflows.{name}")


def _segment() -> Any:
    m = workflows_module("data_types")
    return m.Segment(start=m.Point(x=1, y=2.0, label="a"), end=m.Point(x=3, y=4.5, label="b"), tags=["t"])


_SEGMENT_JSON = json.dumps(
    {"start": {"x": 1, "y": 2.0, "label": "a"}, "end": {"x": 3, "y": 4.5, "label": "b"}, "tags": ["t"]}
)
WORDS_FILE = "words.txt"  # written into the project directory by the fixture
WORDS = "one two three four five"
INPUT_DIR = "indir"  # a flat directory: flytekit's flyte:// upload keeps only file names (see the fixture)
INPUT_FILES = {"a.txt": "alpha", "b.txt": "beta"}


def _input_dir() -> Any:
    from flytekit.types.directory import FlyteDirectory

    return FlyteDirectory(str(Path(workflows_module("data_types").__file__).parents[1] / INPUT_DIR))


def _data_types(x: int | None, v: int | str) -> dict[str, Any]:
    from flytekit.types.file import FlyteFile

    m = workflows_module("data_types")
    inputs = {
        "f": FlyteFile(str(Path(m.__file__).parents[1] / WORDS_FILE)),
        "text": "hello flyte",
        "n": 3,
        "s": _segment(),
        "c": m.Color.BLUE,
        "v": v,
        "xs": [1, 2, 3],
        "weights": {"a": 0.5, "b": 2.0},
    }
    if x is not None:
        inputs["x"] = x
    return inputs


def _item(name: str, qty: int) -> Any:
    return workflows_module("nested").Item(name=name, qty=qty)


_DATA_TYPES_CLI = (
    "--f", WORDS_FILE, "--text", "hello flyte", "--n", "3", "--s", _SEGMENT_JSON, "--c", "blue",
    "--xs", "[1, 2, 3]", "--weights", '{"a": 0.5, "b": 2.0}',
)  # fmt: skip

_GREETING = (("E2E_GREETING", "ahoy"),)

CASES: dict[str, Case] = {
    # data types: x given, v an int on the command line; x left to its default (None), v a str via FlyteRemote
    "data_types_cli": Case(
        "data_types", "data_types_wf", (*_DATA_TYPES_CLI, "--v", "21", "--x", "5"), lambda: _data_types(5, 21)
    ),
    "data_types_remote": Case("data_types", "data_types_wf", (), lambda: _data_types(None, "zz")),
    "casts_cli": Case("data_types", "casts_wf", ("--rows", "3"), lambda: {"rows": 3}),
    "casts_remote": Case("data_types", "casts_wf", (), lambda: {"rows": 2}),
    "dir_input": Case("data_types", "dir_input_wf", ("--d", INPUT_DIR), lambda: {"d": _input_dir()}),
    "control_cli": Case(
        "control", "control_wf", ("--n", "4", "--xs", "[2, 3, 4]"), lambda: {"n": 4, "xs": [2, 3, 4]}
    ),
    "control_remote": Case("control", "control_wf", (), lambda: {"n": 3, "xs": [5, 6]}),
    "branches_cli": Case("branches", "branches_wf", ("--x", "-4"), lambda: {"x": -4}),
    "branches_remote": Case("branches", "branches_wf", (), lambda: {"x": 3}),
    "branch_fails": Case("branches", "must_be_positive_wf", ("--x", "-1"), lambda: {"x": -1}),
    "user_error": Case("failures", "user_error_wf", ("--x", "7"), lambda: {"x": 7}),
    "retry": Case("failures", "retry_wf", ("--x", "1"), lambda: {"x": 1}),
    "retries_exhausted": Case("failures", "retries_exhausted_wf", ("--x", "3"), lambda: {"x": 3}),
    "partial_map": Case("failures", "partial_map_wf", ("--xs", "[1, 2, 3, 4]"), lambda: {"xs": [1, 2, 3, 4]}),
    "on_failure": Case("failures", "on_failure_wf", ("--x", "5"), lambda: {"x": 5}),
    "slow": Case("failures", "slow_wf", ("--s", "120"), lambda: {"s": 120}),
    "cache_cli": Case("caching", "cache_wf", ("--x", "2"), lambda: {"x": 2}),
    "cache_remote": Case("caching", "cache_wf", (), lambda: {"x": 2}),
    "cache_map_cli": Case("caching", "cache_map_wf", ("--xs", "[1, 2, 3]"), lambda: {"xs": [1, 2, 3]}),
    "cache_map_remote": Case("caching", "cache_map_wf", (), lambda: {"xs": [2, 3, 4]}),
    "cache_parent": Case("caching", "cache_parent_wf", (), lambda: {"x": 2}),
    "launch_plan_cli": Case("launch_plans", "parent_wf", ("--x", "5"), lambda: {"x": 5}),
    "launch_plan_remote": Case("launch_plans", "parent_wf", (), lambda: {"x": 7}),
    "registered_lp": Case(
        "launch_plans",
        "child_lp",
        ("--base", "2"),
        lambda: {"base": 2},
        target=("remote-launchplan", "child_power_lp"),
    ),
    "failing_child": Case("launch_plans", "failing_parent_wf", ("--x", "4"), lambda: {"x": 4}),
    "dynamic_lp_cli": Case("launch_plans", "dynamic_parent_wf", ("--n", "3"), lambda: {"n": 3}),
    "dynamic_lp_remote": Case("launch_plans", "dynamic_parent_wf", (), lambda: {"n": 2}),
    **{
        f"daily_{day}": Case("launch_plans", "daily_wf", (), lambda day=day: {"t": datetime(2024, 1, day, 8)})
        for day in (1, 2, 3)
    },
    "nested_cli": Case(
        "nested", "nested_wf", ("--n", "3", "--mode", "size"), lambda: {"n": 3, "mode": "size"}
    ),
    "nested_remote": Case("nested", "nested_wf", (), lambda: {"n": 2, "mode": "count"}),
    "task_cli": Case(
        "nested", "price", ("--item", '{"name": "a", "qty": 4}'), lambda: {"item": _item("a", 4)}
    ),
    "task_remote": Case("nested", "count", (), lambda: {"items": [_item("a", 1), _item("b", 2)]}),
    "gated_child": Case("nested", "gated_parent_wf", (), lambda: {"x": 4}, stdin="2\nm\n"),
    "env": Case("environment", "env_wf", ("--name", "flyte"), lambda: {"name": "flyte"}, env=_GREETING),
    "approve_timeout": Case("gates", "approve_timeout_wf", ("--x", "1"), lambda: {"x": 1}),
    "approve": Case("gates", "approve_wf", ("--x", "4"), lambda: {"x": 4}, stdin="y\n"),
    "signal": Case("gates", "input_wf", ("--x", "3"), lambda: {"x": 3}, stdin="5\nkg\n"),
}


def normalize(value: Any) -> Any:
    """A JSON-comparable form of a Python value produced by flytekit (locally or from a remote literal)."""
    from flytekit.types.directory import FlyteDirectory
    from flytekit.types.file import FlyteFile

    if isinstance(value, FlyteDirectory):
        root = Path(value.download())
        files = sorted(p for p in root.rglob("*") if p.is_file())
        return {"directory": {str(p.relative_to(root)): p.read_text() for p in files}}
    if isinstance(value, FlyteFile):
        with open(value) as fh:
            return {"file": fh.read()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: normalize(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"dataclass": type(value).__name__, **fields}
    if isinstance(value, Enum):
        return {"enum": value.value}
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    return value


def output_types(case: Case) -> dict[str, Any]:
    wf = getattr(workflows_module(case.module), case.workflow)
    return dict(wf.python_interface.outputs)


def normalize_local(case: Case, result: Any) -> dict[str, Any]:
    """flytekit's local run returns one value, or a named tuple for several outputs."""
    names = list(output_types(case))
    values = [result] if len(names) == 1 else list(result)
    return json.loads(json.dumps({n: normalize(v) for n, v in zip(names, values, strict=True)}))


def normalize_remote(case: Case, execution: Any) -> dict[str, Any]:
    """The outputs of a finished FlyteWorkflowExecution, read with the workflow's own Python types."""
    outputs = execution.outputs
    return json.loads(
        json.dumps({n: normalize(outputs.get(n, as_type=t)) for n, t in output_types(case).items()})
    )


# --- flytekit's local execution (in a subprocess: local_driver.py) ---


def start_local_runs(project: Path, keys: list[str]) -> subprocess.Popen[str]:
    stdin = "".join(CASES[k].stdin for k in keys)
    proc = subprocess.Popen(
        [PYTHON, LOCAL_DRIVER, str(project), *keys],
        cwd=project,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    return proc


def local_results(proc: subprocess.Popen[str], timeout: float = 120) -> dict[str, dict[str, Any]]:
    """{case: {"outputs": {...}} or {"error": "..."}} from a finished local_driver.py."""
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    proc.wait(timeout)
    lines = [line for line in out.splitlines() if line.startswith(RESULT_MARK)]
    assert proc.returncode == 0 and lines, f"local run failed ({proc.returncode}):\n{out}\n{err}"
    results: dict[str, dict[str, Any]] = json.loads(lines[-1][len(RESULT_MARK) :])
    return results


# --- `pyflyte run --remote --wait` ---


@dataclass
class PyflyteRun:
    case: Case
    execution_name: str  # given with `--name`, so a test can act on the execution while pyflyte waits
    proc: subprocess.Popen[str]
    stdout: str = ""
    stderr: str = ""

    def finish(self, timeout: float = 180) -> PyflyteRun:
        if self.proc.returncode is None:
            try:
                self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.stdout, self.stderr = self.proc.communicate()
                raise AssertionError(f"pyflyte did not finish within {timeout} s:\n{self.output}") from None
        return self

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def start_pyflyte(config: Path, project: Path, key: str) -> PyflyteRun:
    case = CASES[key]
    name = f"e2e-{key.replace('_', '-')}-{secrets.token_hex(3)}"
    cmd = [PYFLYTE, "--config", str(config), "run", "--remote", "--wait", "--poll-interval", "1"]
    cmd += ["--name", name, *(f"--envvars={k}={v}" for k, v in case.env)]
    cmd += [*(case.target or (f"workflows/{case.module}.py", case.workflow)), *case.cli]
    proc = subprocess.Popen(
        cmd, cwd=project, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_clean_env(),
    )  # fmt: skip
    return PyflyteRun(case, name, proc)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "_FLYTECTL"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- FlyteRemote ---


WAIT = timedelta(seconds=150)
POLL = timedelta(seconds=1)


def add_project_to_path(project: Path) -> None:
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))
