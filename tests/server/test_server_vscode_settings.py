"""scripts/vscode_settings.py: the VS Code extension's package.json contributes every server setting, with its
type, default, documentation and scope, and nothing else in the file is touched."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from flyte_ls.server.settings import setting_fields

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "vscode_settings.py"
PACKAGE_JSON = ROOT / "vscode-client" / "package.json"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vscode_settings", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_the_extensions_package_json_is_in_step_with_the_server() -> None:
    proc = _run("--check")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    properties = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))["contributes"]["configuration"][
        "properties"
    ]
    assert {f"flyte.{f.key}" for f in setting_fields()} <= set(properties)


def test_property_shapes() -> None:
    props: dict[str, dict[str, Any]] = _script().server_properties()
    assert list(props) == [f"flyte.{f.key}" for f in setting_fields()]
    assert props["flyte.codeLens.openConsole"] == {
        "type": "boolean",
        "default": True,
        "scope": "resource",
        "markdownDescription": next(f.doc for f in setting_fields() if f.key == "codeLens.openConsole"),
    }
    assert props["flyte.diagnostics.debounceMs"]["type"] == "integer"
    assert props["flyte.diagnostics.debounceMs"]["minimum"] == 0  # >= 0
    assert props["flyte.index.maxFileSizeBytes"]["minimum"] == 1  # > 0
    assert props["flyte.exclude"] == {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "scope": "resource",
        "markdownDescription": props["flyte.exclude"]["markdownDescription"],
    }
    assert (
        props["flyte.lint.select"]["type"] == ["array", "null"]
        and props["flyte.lint.select"]["default"] is None
    )
    assert props["flyte.lint.select"]["items"] == {"type": "string"}
    assert props["flyte.endpoint"]["type"] == ["string", "null"]
    assert props["flyte.backend"] == {  # attrs.validators.in_ -> an enum
        "type": "string",
        "enum": ["auto", "local"],
        "default": "auto",
        "scope": "resource",
        "markdownDescription": next(f.doc for f in setting_fields() if f.key == "backend"),
    }
    assert all("enum" not in p for key, p in props.items() if key != "flyte.backend")
    assert props["flyte.insecure"]["type"] == ["boolean", "null"]
    assert props["flyte.project"] == {**props["flyte.project"], "type": "string", "default": "flytesnacks"}
    scopes = {key: p["scope"] for key, p in props.items()}
    assert scopes.pop("flyte.pythonPath") == scopes.pop("flyte.configFile") == "machine-overridable"
    assert set(scopes.values()) == {"resource"}
    assert all(p["markdownDescription"] for p in props.values())


PACKAGE = {
    "name": "flyte-ls",
    "displayName": "Flyte — ünïcode kept",
    "contributes": {
        "commands": [{"command": "flyte.run", "title": "Run"}],
        "configuration": {
            "title": "Flyte",
            "properties": {
                "flyte.interpreter": {
                    "type": ["string", "null"],
                    "default": None,
                    "scope": "machine-overridable",
                },
                "flyte.project": {"type": "string", "default": "stale", "markdownDescription": "old text"},
                "flyte.trace.server": {"type": "string", "enum": ["off", "verbose"], "default": "off"},
            },
        },
    },
    "scripts": {"build": "esbuild"},
}


def test_writing_touches_only_the_server_settings(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    original = json.dumps(PACKAGE, indent=2, ensure_ascii=False) + "\n"
    path.write_text(original, encoding="utf-8")
    check = _run("--check", "--package", str(path))
    assert check.returncode == 1, check.stdout
    assert any(line.startswith("-") and '"default": "stale"' in line for line in check.stdout.splitlines())
    assert "run `python scripts/vscode_settings.py`" in check.stderr

    assert _run("--package", str(path)).returncode == 0
    text = path.read_text(encoding="utf-8")
    written = json.loads(text)
    assert text == json.dumps(written, indent=2, ensure_ascii=False) + "\n"  # 2-space JSON, ü kept
    assert "ünïcode" in text
    assert {k: v for k, v in written.items() if k != "contributes"} == {
        k: v for k, v in PACKAGE.items() if k != "contributes"
    }
    assert written["contributes"]["commands"] == PACKAGE["contributes"]["commands"]
    properties = written["contributes"]["configuration"]["properties"]
    ours = _script().server_properties()
    # The extension's own properties untouched and in place; a server setting replaced where it was; the
    # other server settings after them, in the server's order.
    assert list(properties)[:3] == ["flyte.interpreter", "flyte.project", "flyte.trace.server"]
    for key in ("flyte.interpreter", "flyte.trace.server"):
        assert properties[key] == PACKAGE["contributes"]["configuration"]["properties"][key]  # type: ignore[index]
    assert properties["flyte.project"] == ours["flyte.project"]
    assert list(properties)[3:] == [k for k in ours if k != "flyte.project"]
    assert _run("--check", "--package", str(path)).returncode == 0
    assert _run("--package", str(path)).returncode == 0 and path.read_text(encoding="utf-8") == text  # stable


def test_a_package_json_without_configuration_gets_one(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    path.write_text('{\n  "name": "x"\n}\n', encoding="utf-8")
    assert _run("--package", str(path)).returncode == 0
    configuration = json.loads(path.read_text(encoding="utf-8"))["contributes"]["configuration"]
    assert configuration["title"] == "Flyte" and "flyte.codeLens.enabled" in configuration["properties"]


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    proc = _run("--check", "--package", str(tmp_path / "nope.json"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr
