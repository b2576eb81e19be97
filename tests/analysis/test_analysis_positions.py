"""Positions are 0-based lines and code point columns, whatever the line endings and characters."""

from __future__ import annotations

import pytest

from flyte_ls.analysis import Analyzer, Range, analyze

SOURCE = (
    "from flytekit import task, workflow\n"
    "\n"
    "@task\n"
    "def tâche(é: str = 'ü', b: int = 2) -> str:  # 日本語\n"
    "    return é\n"
    "\n"
    "@workflow\n"
    "def wf(x: str) -> str:\n"
    "    return tâche(é=x)  # 🚀\n"
)


def _check(analysis_source: str) -> None:
    for result in (analyze(analysis_source, "m", lint=False), Analyzer().entities(analysis_source, "m")):
        entities = {e.name: e for e in result.entities}
        task = entities["tâche"]
        assert task.range == Range.of(2, 0, 4, 12)
        assert task.selection_range == Range.of(3, 4, 3, 9)
        assert task.inputs[0].name == "é" and task.inputs[0].default == "'ü'"
        (call,) = entities["wf"].calls
        assert call.range == Range.of(8, 11, 8, 21)
        assert call.keywords == {"é": "x"}


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_non_ascii_columns_with_every_line_ending(newline: str) -> None:
    _check(SOURCE.replace("\n", newline))


def test_mixed_line_endings() -> None:
    lines = SOURCE.split("\n")
    mixed = "".join(line + ("\r\n" if i % 2 else "\n") for i, line in enumerate(lines))
    _check(mixed)


def test_bom_shifts_columns_on_the_first_line_only() -> None:
    source = (
        "\ufefffrom flytekit import LaunchPlan, workflow\n@workflow\ndef wf(): ...\n"
        "lp = LaunchPlan.get_or_create(wf)\n"
    )
    for result in (analyze(source, "m", lint=False), Analyzer().entities(source, "m")):
        assert result.syntax_error is None
        assert [e.name for e in result.entities] == ["wf", "lp"]
        assert result.entities[0].range == Range.of(1, 0, 2, 13)
    first_line = "\ufeffx = LaunchPlan.get_or_create(wf)\nfrom flytekit import LaunchPlan\n"
    (lp,) = analyze(first_line, "m", lint=False).entities
    assert lp.selection_range == Range.of(0, 1, 0, 2)  # after the BOM, which the client counts


def test_tabs_and_form_feeds() -> None:
    source = (
        "from flytekit import task\n\x0c\n@task\ndef t(a: int) -> int:\n\treturn a\t# tab\n"
        "\x0c@task\ndef u(): ...\n"
    )
    for result in (analyze(source, "m", lint=False), Analyzer().entities(source, "m")):
        assert [e.name for e in result.entities] == ["t", "u"]
        assert result.entities[0].range == Range.of(2, 0, 4, 9)
        assert result.entities[1].range.start.line == 5
        assert result.entities[1].range.start.character == 1  # after the form feed


def test_line_separators_that_python_does_not_split_on() -> None:
    # \u2028 and \x1c are not line breaks for Python's tokenizer nor for LSP: positions must not count them.
    source = "from flytekit import task\nX = 'a\u2028b\x1cc'\n@task\ndef t(): ...\n"
    (entity,) = analyze(source, "m", lint=False).entities
    assert entity.range.start.line == 2
