"""docs/remote.md is kept honest: it names every public method of the client, every method it calls exists
(with the keywords it passes), every Python block compiles, and the sync and async examples run against a real
``flyte-ls local start`` with the examples/ project registered."""

from __future__ import annotations

import ast
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte_ls.remote.remote import AsyncFlyteRemote, FlyteRemote
from flyte_ls.remote.transport import Deadlines, RetryPolicy

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "remote.md"
sys.path.insert(0, str(ROOT / "tests" / "local"))
from local_backend import Backend, register_copy, start_backend  # noqa: E402

pytestmark = pytest.mark.timeout(60)

FENCE = re.compile(
    r"^(?:<!-- docs-test: (?P<tag>\w+) -->\n)?```(?P<lang>\w*)[^\n]*\n(?P<body>.*?)^```$", re.M | re.S
)


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _blocks(lang: str = "python") -> list[tuple[str | None, str]]:
    """(docs-test tag or None, code) of every fenced block in ``lang``."""
    return [(m["tag"], m["body"]) for m in FENCE.finditer(_text()) if m["lang"] == lang]


def _tagged(tag: str) -> str:
    found = [body for t, body in _blocks() if t == tag]
    assert len(found) == 1, f"docs/remote.md needs exactly one python block after <!-- docs-test: {tag} -->"
    return found[0]


def _public_methods(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))}


def test_every_public_method_is_named() -> None:
    text = _text()
    missing = [
        name
        for name in sorted(_public_methods(AsyncFlyteRemote) | _public_methods(FlyteRemote))
        if not re.search(rf"`{name}[`(]|\.{name}\(", text)
    ]
    assert not missing, f"docs/remote.md does not name these methods: {missing}"


def test_every_called_method_exists() -> None:
    known = _public_methods(AsyncFlyteRemote) | _public_methods(FlyteRemote)
    called = set(re.findall(r"\bremote\.(\w+)\(", _text()))
    assert called, "docs/remote.md calls no remote method?"
    unknown = sorted(called - known)
    assert not unknown, f"docs/remote.md calls methods the client does not have: {unknown}"


def test_python_blocks_compile_and_pass_real_keywords() -> None:
    """Every python block compiles; a call of a client method (``remote.x(...)``, ``FlyteRemote.auto(...)``)
    passes only keywords the method takes."""
    blocks = _blocks()
    assert len(blocks) >= 3
    methods = {name: getattr(AsyncFlyteRemote, name) for name in _public_methods(AsyncFlyteRemote)}
    methods.update(
        {
            "close": FlyteRemote.close,
            "FlyteRemote": FlyteRemote,
            "AsyncFlyteRemote": AsyncFlyteRemote,
            "Deadlines": Deadlines,
            "RetryPolicy": RetryPolicy,
        }
    )
    for index, (_, body) in enumerate(blocks):
        tree = compile(body, f"docs/remote.md python block {index}", "exec", ast.PyCF_ONLY_AST)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in methods:
                continue
            params = inspect.signature(methods[name]).parameters
            if any(p.kind is p.VAR_KEYWORD for p in params.values()):
                continue
            for kw in node.keywords:
                assert kw.arg is None or kw.arg in params, (
                    f"docs/remote.md block {index}: {name}() has no parameter {kw.arg!r}"
                )


# --- the examples, run for real ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A real `flyte-ls local start` with examples/workflows registered as the quick start says."""
    root = tmp_path_factory.mktemp("docs_remote")
    b = start_backend(root / "state")
    try:
        register_copy(b, ROOT / "examples" / "workflows", root / "proj", "flytesnacks", "development", "v1")
        yield b
    finally:
        b.stop()


def _run_example(tag: str, backend: Backend, tmp_path: Path) -> str:
    script = tmp_path / f"{tag}_example.py"
    script.write_text(_tagged(tag), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "_FLYTECTL"))}
    env["FLYTECTL_CONFIG"] = str(backend.config)  # as the quick start exports it
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,  # no ./flytekit.config here
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.flytekit
@pytest.mark.timeout(420)
def test_sync_example_runs(backend: Backend, tmp_path: Path) -> None:
    out = _run_example("sync", backend, tmp_path)
    assert "wf:flytesnacks:development:workflows.pipeline.prepare:v1" in out
    assert "/console/projects/flytesnacks/domains/development/executions/" in out
    assert "SUCCEEDED {'o0': [" in out
    assert re.search(r"^n0 SUCCEEDED$", out, re.M), out


@pytest.mark.flytekit
@pytest.mark.timeout(420)
def test_async_example_runs(backend: Backend, tmp_path: Path) -> None:
    out = _run_example("async", backend, tmp_path)
    assert len(re.findall(r"^\w+ SUCCEEDED \{.*'n': [345]\b.*\{'o0': \[", out, re.M)) == 3, out


def test_readme_example_calls_real_methods() -> None:
    """The README's `flyte_ls.remote` example compiles and calls only methods the client has."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## `flyte_ls.remote`", 1)[1].split("\n## ", 1)[0]
    body = FENCE.search(section)
    assert body is not None and body["lang"] == "python", "README's flyte_ls.remote section lost its example"
    compile(body["body"], "README.md flyte_ls.remote example", "exec")
    known = _public_methods(AsyncFlyteRemote) | _public_methods(FlyteRemote)  # FlyteRemote forwards the rest
    called = set(re.findall(r"\bremote\.(\w+)\(", body["body"]))
    assert called and called <= known, called - known
    assert "docs/remote.md" in section
