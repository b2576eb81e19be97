"""What the user reads: lens titles, hover text, and the per-entity JSON fragment cache behind them."""

from __future__ import annotations

import dataclasses
import json

import pytest

from flyte_ls.analysis import analyze
from flyte_ls.analysis.model import Entity
from flyte_ls.server.features.code_lens import lens_title
from flyte_ls.server.features.hover import describe
from flyte_ls.server.fragments import FragmentCache

pytestmark = pytest.mark.timeout(10)

SOURCE = '''
from typing import List
from flytekit import LaunchPlan, map_task, task, workflow


@task(cache=True, cache_version="1", retries=2)
def add(x: int, y: int = 1) -> int:
    """Add two numbers."""
    return x + y


@task
def square(x: int) -> int:
    return x * x


@workflow
def pipeline(x: int) -> int:
    a = add(x=x)
    b = square(x=a)
    return add(x=b, y=a)


squares = map_task(square)
nightly = LaunchPlan.get_or_create(workflow=pipeline, name="nightly", default_inputs={"x": 3})
'''


@pytest.fixture(scope="module")
def entities() -> dict[str, Entity]:
    analysis = analyze(SOURCE, "pkg.flows")
    return {e.name: e for e in analysis.entities}


def test_lens_titles(entities: dict[str, Entity]) -> None:
    assert lens_title(entities["add"]) == "task · 2 inputs → 1 output"
    assert lens_title(entities["square"]) == "task · 1 input → 1 output"
    assert lens_title(entities["pipeline"]) == "workflow · 1 input → 1 output · calls 2 entities"
    assert lens_title(entities["nightly"]) == "launch_plan → pkg.flows.pipeline"
    assert lens_title(entities["squares"]).startswith("map_task")


def test_hover_markdown_shows_interface_settings_calls_and_docstring(entities: dict[str, Entity]) -> None:
    text = describe(entities["add"], markdown=True)
    assert text.startswith("**task** `add`")
    assert "Flyte name: `pkg.flows.add`" in text
    assert "- `x`: `int`" in text and "- `y`: `int` = `1`" in text
    assert "- `o0`: `int`" in text
    assert "- `cache` = `True`" in text and "- `retries` = `2`" in text
    assert text.rstrip().endswith("Add two numbers.")

    wf = describe(entities["pipeline"], markdown=True)
    assert "**Calls**" in wf
    assert "- `add` → `pkg.flows.add`" in wf and "- `square` → `pkg.flows.square`" in wf
    assert wf.count("`add` →") == 1  # each callee once, even when called twice


def test_hover_plaintext_has_no_markup(entities: dict[str, Entity]) -> None:
    text = describe(entities["add"], markdown=False)
    assert "`" not in text and "**" not in text
    assert text.splitlines()[0] == "task add"
    assert "- y: int = 1" in text


def test_fragments_are_reused_by_identity_and_by_equality(entities: dict[str, Entity]) -> None:
    calls: list[str] = []

    def make(e: Entity) -> str:
        calls.append(e.name)
        return json.dumps({"name": e.name})

    cache = FragmentCache()
    ordered = list(entities.values())
    first = cache.render(ordered, make, compare=True)
    assert json.loads(first) == [{"name": e.name} for e in ordered]
    assert len(calls) == len(ordered)

    calls.clear()
    cache.render(ordered, make, compare=True)  # the same objects: nothing rendered
    assert calls == []

    copies = [dataclasses.replace(e) for e in ordered]  # equal but new objects (a re-resolution pass)
    cache.render(copies, make, compare=True)
    assert calls == []
    cache.render([dataclasses.replace(e) for e in copies], make, compare=False)  # non-ASCII text: no equality
    assert len(calls) == len(ordered)

    calls.clear()
    changed = [dataclasses.replace(copies[0], name="renamed"), *copies[1:]]
    assert json.loads(cache.render(changed, make, compare=True))[0] == {"name": "renamed"}
    assert calls == ["renamed"]


@pytest.mark.parametrize(
    ("formats", "expected"),
    [
        (None, "markdown"),
        (["markdown", "plaintext"], "markdown"),
        (["plaintext"], "plaintext"),
    ],
)
def test_hover_markup_follows_the_client(formats: list[str] | None, expected: str) -> None:
    from lsprotocol import types

    from flyte_ls.server.server import FlyteLanguageServer

    server = FlyteLanguageServer()
    hover = None if formats is None else types.HoverClientCapabilities(content_format=formats)  # type: ignore[arg-type]
    server.protocol.client_capabilities = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(hover=hover)
    )
    assert server.markup_kind().value == expected
