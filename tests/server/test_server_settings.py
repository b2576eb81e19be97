"""Settings: parsing, camelCase tolerance, per-key validation with defaults, and the documented table."""

from __future__ import annotations

import attrs
import pytest

from flyte_ls.server.constants import DEFAULT_MAX_FILE_SIZE
from flyte_ls.server.settings import Settings, merge, parse_settings, settings_table, unwrap_section

pytestmark = pytest.mark.timeout(10)


def test_missing_section_gives_the_defaults() -> None:
    for raw in (None, {}):
        settings, problems, unknown = parse_settings(raw)
        assert settings == Settings()
        assert problems == [] and unknown == []
    defaults = Settings()
    assert defaults.code_lens.enabled is True
    assert defaults.diagnostics.enabled is True
    assert defaults.diagnostics.debounce_ms == 300
    assert defaults.lint.ignore == [] and defaults.lint.select is None
    assert defaults.index.max_file_size_bytes == DEFAULT_MAX_FILE_SIZE
    assert defaults.exclude == []


def test_camel_case_snake_case_and_dotted_keys() -> None:
    settings, problems, _ = parse_settings(
        {
            "exclude": ["build/**"],
            "codeLens": {"enabled": False},
            "diagnostics": {"debounce_ms": 50},
            "lint.ignore": ["FL020"],
            "lint": {"select": ["FL0"]},
            "index.maxFileSizeBytes": 1000,
        }
    )
    assert problems == []
    assert settings.exclude == ["build/**"]
    assert settings.code_lens.enabled is False
    assert settings.diagnostics.debounce_ms == 50
    assert settings.lint.ignore == ["FL020"]
    assert settings.lint.select == ["FL0"]
    assert settings.index.max_file_size_bytes == 1000


@pytest.mark.parametrize(
    ("raw", "key", "reason"),
    [
        ({"diagnostics": {"debounceMs": "fast"}}, "diagnostics.debounceMs", "expected an integer"),
        ({"diagnostics": {"debounceMs": -1}}, "diagnostics.debounceMs", ">= 0"),
        ({"diagnostics": {"debounceMs": True}}, "diagnostics.debounceMs", "boolean"),
        ({"codeLens": {"enabled": "yes"}}, "codeLens.enabled", "true or false"),
        ({"codeLens": {"enabled": 1}}, "codeLens.enabled", "true or false"),
        ({"exclude": "build/**"}, "exclude", "list of strings"),
        ({"exclude": ["ok", 3]}, "exclude", "list of strings"),
        ({"lint": {"ignore": ["not a code"]}}, "lint.ignore", "lint code"),
        ({"lint": {"select": "FL"}}, "lint.select", "list of strings"),
        ({"index": {"maxFileSizeBytes": 0}}, "index.maxFileSizeBytes", "> 0"),
        ({"index": 5}, "index", "expected an object"),
        ({"backend": "remote"}, "backend", 'must be one of "auto", "local"'),
        ({"backend": "Local"}, "backend", 'must be one of "auto", "local"'),
        ({"backend": True}, "backend", "expected a string"),
    ],
)
def test_a_bad_value_is_reported_and_replaced_by_its_default(raw: dict, key: str, reason: str) -> None:
    # A valid neighbour setting in the same object must survive the bad one.
    neighbour_key, neighbour = ("exclude", ["kept/**"]) if key != "exclude" else ("codeLens.enabled", False)
    settings, problems, _ = parse_settings({**raw, neighbour_key: neighbour})
    assert [p.key for p in problems] == [key]
    problem = problems[0]
    assert reason in problem.reason
    assert f"flyte.{key}" in problem.message and "default" in problem.message
    defaults = Settings()
    section, _, leaf = key.partition(".")
    if leaf:
        assert getattr(getattr(settings, _snake(section)), _snake(leaf)) == getattr(
            getattr(defaults, _snake(section)), _snake(leaf)
        )
    if neighbour_key == "exclude":
        assert settings.exclude == ["kept/**"]
    else:
        assert settings.code_lens.enabled is False


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def test_null_means_default_except_for_optional_settings() -> None:
    settings, problems, _ = parse_settings({"diagnostics": {"debounceMs": None}, "lint": {"select": None}})
    assert problems == []
    assert settings.diagnostics.debounce_ms == 300
    assert settings.lint.select is None


def test_a_non_object_section_is_one_problem() -> None:
    settings, problems, _ = parse_settings("flyte")
    assert settings == Settings()
    assert [p.key for p in problems] == ["(section)"]


def test_unknown_keys_are_returned_not_reported() -> None:
    _, problems, unknown = parse_settings({"pythonVersion": "3.11", "codeLens": {"enabled": True, "x": 1}})
    assert problems == []
    assert sorted(unknown) == ["codeLens.x", "pythonVersion"]


def test_unwrap_section_accepts_both_shapes_and_ignores_other_sections() -> None:
    assert unwrap_section({"flyte": {"exclude": []}}) == {"exclude": []}
    assert unwrap_section({"exclude": []}) == {"exclude": []}
    assert unwrap_section({"codeLens.enabled": False}) == {"codeLens.enabled": False}
    assert unwrap_section({"python": {"analysis": {}}}) is None
    assert unwrap_section(None) is None
    assert unwrap_section([1, 2]) is None


def test_merge_lets_later_sources_win_leaf_by_leaf() -> None:
    base = {"codeLens": {"enabled": False}, "diagnostics": {"debounceMs": 10, "enabled": True}}
    over = {"diagnostics": {"debounceMs": 20}, "exclude": ["x"]}
    assert merge(base, over) == {
        "codeLens": {"enabled": False},
        "diagnostics": {"debounceMs": 20, "enabled": True},
        "exclude": ["x"],
    }
    assert merge(base, None) == base


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.exclude = ["x"]  # type: ignore[misc]


def test_every_setting_is_documented_in_the_table() -> None:
    table = settings_table()
    keys = [row[0] for row in table]
    assert keys == [
        "exclude",
        "codeLens.enabled",
        "codeLens.run",
        "codeLens.register",
        "codeLens.info",
        "codeLens.outcome",
        "codeLens.rerun",
        "codeLens.openConsole",
        "diagnostics.enabled",
        "diagnostics.debounceMs",
        "lint.ignore",
        "lint.select",
        "index.maxFileSizeBytes",
        "pythonPath",
        "backend",
        "configFile",
        "endpoint",
        "insecure",
        "project",
        "domain",
        "image",
        "consoleEndpoint",
        "local.autoStart",
    ]
    for key, type_label, default, meaning in table:
        assert type_label and default and meaning, key
    rows = {row[0]: row[1:3] for row in table}
    assert rows["diagnostics.debounceMs"] == ("integer", "300")
    assert rows["lint.select"] == ("list of strings or null", "null")
    assert rows["insecure"] == ("boolean or null", "null")
    assert rows["project"] == ("string", "flytesnacks")
    assert rows["local.autoStart"] == ("boolean", "true")
    assert rows["backend"] == ("`auto` or `local`", "auto")


def test_run_settings_parse_and_validate() -> None:
    settings, problems, _ = parse_settings(
        {"endpoint": "127.0.0.1:30080", "insecure": True, "local.autoStart": False, "project": 3}
    )
    assert (settings.endpoint, settings.insecure, settings.local.auto_start) == (
        "127.0.0.1:30080",
        True,
        False,
    )
    assert settings.project == "flytesnacks" and [p.key for p in problems] == ["project"]
    assert Settings().domain == "development" and Settings().python_path is None
    assert Settings().backend == "auto"
    settings, problems, _ = parse_settings({"backend": "local", "endpoint": "prod:443"})
    assert (settings.backend, settings.endpoint, problems) == ("local", "prod:443", [])
    settings, problems, _ = parse_settings({"backend": "cluster"})
    assert settings.backend == "auto" and [p.key for p in problems] == ["backend"]
    assert problems[0].message == (
        'Invalid setting flyte.backend = "cluster": must be one of "auto", "local". '
        'Using the default ("auto"); fix the value in your editor\'s flyte settings.'
    )


def test_settings_markdown_has_a_row_per_setting() -> None:
    from flyte_ls.server.settings import settings_markdown

    rows = settings_markdown().splitlines()
    assert rows[0].startswith("| key")
    assert len(rows) == 2 + len(settings_table())
    assert "| `diagnostics.debounceMs` | integer | `300` |" in settings_markdown()
