"""Typed, defaulted, validated settings (the ``flyte`` section).

Settings arrive as JSON from ``initializationOptions``, ``workspace/configuration`` and
``workspace/didChangeConfiguration``. Keys are camelCase (``diagnostics.debounceMs``); snake_case and flat
dotted keys (``{"codeLens.enabled": false}``) are accepted too. Each leaf is validated on its own: a bad value
is reported as a :class:`SettingProblem` and replaced by its default, so one typo never resets the other
settings.

Adding a setting is one ``attrs.field`` in the right class below.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs

from flyte_ls.server.constants import (
    BACKEND_AUTO,
    BACKEND_CHOICES,
    DEFAULT_DOMAIN,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_PROJECT,
)

_DOC = "doc"


def doc(text: str) -> dict[str, str]:
    """Field metadata: the sentence documenting a setting (the README table is generated from it)."""
    return {_DOC: text}


_non_negative = attrs.validators.ge(0)
_positive = attrs.validators.gt(0)


def _lint_codes(_inst: Any, _attr: Any, value: list[str] | None) -> None:
    for code in value or []:
        if not re.fullmatch(r"[A-Z]+[0-9]*", code):
            raise ValueError(f"{code!r} is not a lint code or prefix like 'FL001' or 'FL'")


# One attrs.field per setting: default, validator, metadata=doc(...). Field names are snake_case; clients send
# the camelCase forms.
@attrs.define(frozen=True)
class CodeLensSettings:
    enabled: bool = attrs.field(default=True, metadata=doc("Show code lenses above each Flyte entity."))
    run: bool = attrs.field(
        default=True, metadata=doc("Show the `▶ Run` lens (register and execute the entity) on each entity.")
    )
    register: bool = attrs.field(
        default=True, metadata=doc("Show the `⬆ Register` lens (register without executing) on each entity.")
    )
    info: bool = attrs.field(
        default=True,
        metadata=doc(
            "Show the information lens (`task · 2 inputs → 1 output`, its entity as JSON) on each entity."
        ),
    )
    outcome: bool = attrs.field(
        default=True,
        metadata=doc("After a run, show the newest execution's outcome lens (`✓ SUCCEEDED 12s · 3m ago`)."),
    )
    rerun: bool = attrs.field(
        default=True,
        metadata=doc("After a run, show the `⟳ Re-run` lens (execute again with the same inputs)."),
    )
    open_console: bool = attrs.field(
        default=True,
        metadata=doc("After a run, show the `Open console` lens (the newest execution's console page)."),
    )


@attrs.define(frozen=True)
class DiagnosticsSettings:
    enabled: bool = attrs.field(default=True, metadata=doc("Publish lint diagnostics (source `flyte`)."))
    debounce_ms: int = attrs.field(
        default=300,
        validator=_non_negative,
        metadata=doc("Delay after the last edit before linting again (open and save lint at once)."),
    )


@attrs.define(frozen=True)
class LintSettings:
    ignore: list[str] = attrs.field(
        factory=list,
        validator=_lint_codes,
        metadata=doc("Lint codes (or prefixes such as `FL0`) never reported."),
    )
    select: list[str] | None = attrs.field(
        default=None,
        validator=_lint_codes,
        metadata=doc("When set, only these lint codes (or prefixes) are reported; `null` means all."),
    )


@attrs.define(frozen=True)
class IndexSettings:
    max_file_size_bytes: int = attrs.field(
        default=DEFAULT_MAX_FILE_SIZE,
        validator=_positive,
        metadata=doc("Files larger than this are not analysed (skipped with a log line)."),
    )


@attrs.define(frozen=True)
class LocalSettings:
    auto_start: bool = attrs.field(
        default=True,
        metadata=doc(
            "When no backend is configured and none answers, start the local backend "
            "(`flyte-ls local start`, "
            "state in the user cache directory) for Run and Register. With `backend` `local` it is started "
            "whatever this says."
        ),
    )


@attrs.define(frozen=True)
class Settings:
    exclude: list[str] = attrs.field(
        factory=list,
        metadata=doc("Globs (`.gitignore` syntax, relative to the workspace folder) left out of the index."),
    )
    code_lens: CodeLensSettings = attrs.field(factory=CodeLensSettings)
    diagnostics: DiagnosticsSettings = attrs.field(factory=DiagnosticsSettings)
    lint: LintSettings = attrs.field(factory=LintSettings)
    index: IndexSettings = attrs.field(factory=IndexSettings)
    # Run and register (flyte_ls.server.runs): the interpreter, the backend, where entities go.
    python_path: str | None = attrs.field(
        default=None,
        metadata=doc(
            "The Python interpreter (with flytekit) that imports and serializes your code for Run and "
            "Register; `null`: the interpreter the editor passes, else the first `python3` that has flytekit."
        ),
    )
    backend: str = attrs.field(
        default=BACKEND_AUTO,
        validator=attrs.validators.in_(BACKEND_CHOICES),
        metadata=doc(
            "Which backend Run and Register use. `auto`: `endpoint`, else `configFile`, else the config "
            "flytekit discovers (`$FLYTECTL_CONFIG`, `~/.flyte/config.yaml`, ...), else whatever answers "
            "at `localhost:30080`, else the local backend (`local.autoStart`). `local`: always the local "
            "backend (`flyte-ls local`, state in the user cache directory), started when it is not running; "
            "`endpoint`, `configFile` and discovered configs are ignored."
        ),
    )
    config_file: str | None = attrs.field(
        default=None,
        metadata=doc(
            "The flytectl/flytekit config file of the backend; `null`: flytekit-style discovery "
            "(`$FLYTECTL_CONFIG`, `~/.flyte/config.yaml`, ...)."
        ),
    )
    endpoint: str | None = attrs.field(
        default=None,
        metadata=doc("Flyte Admin's gRPC `host:port`; overrides the config file's endpoint."),
    )
    insecure: bool | None = attrs.field(
        default=None,
        metadata=doc("Plaintext gRPC to `endpoint` (true for a local backend); `null`: from the config."),
    )
    project: str = attrs.field(
        default=DEFAULT_PROJECT, metadata=doc("The project entities are registered and executed in.")
    )
    domain: str = attrs.field(
        default=DEFAULT_DOMAIN, metadata=doc("The domain entities are registered and executed in.")
    )
    image: str | None = attrs.field(
        default=None,
        metadata=doc("The container image tasks run in; `null`: flytekit's default image for your Python."),
    )
    console_endpoint: str | None = attrs.field(
        default=None,
        metadata=doc("The console's base URL for links; `null`: from the config, else the endpoint."),
    )
    local: LocalSettings = attrs.field(factory=LocalSettings)


@attrs.define(frozen=True)
class SettingProblem:
    """A setting that was not accepted; the default is used instead."""

    key: str  # dotted camelCase key under the ``flyte`` section
    value: Any
    reason: str
    default: Any

    @property
    def message(self) -> str:
        return (
            f"Invalid setting flyte.{self.key} = {_short(self.value)}: {self.reason}. "
            f"Using the default ({_short(self.default)}); fix the value in your editor's flyte settings."
        )


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _short(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_converter = cattrs.Converter()


def _strict(kind: type, label: str) -> Callable[[Any, type], Any]:
    def hook(value: Any, _type: type) -> Any:
        # JSON has no int/bool distinction problems except that bool is a subclass of int in Python.
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"expected {label}, got a boolean")
        if not isinstance(value, kind):
            raise TypeError(f"expected {label}, got {type(value).__name__} {_short(value)}")
        return value

    return hook


_converter.register_structure_hook(bool, _strict(bool, "true or false"))
_converter.register_structure_hook(int, _strict(int, "an integer"))
_converter.register_structure_hook(str, _strict(str, "a string"))


def _list_of_str(value: Any, _type: type) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of strings, got {_short(value)}")
    return list(value)


_converter.register_structure_hook_func(lambda t: t == list[str], _list_of_str)


def _expand_dotted(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``{"codeLens.enabled": false}`` -> ``{"codeLens": {"enabled": false}}`` (one level at a time)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            continue
        if "." in key:
            key, _, tail = key.partition(".")
            value = {tail: value}
        out[key] = merge(out[key], value) if key in out else value
    return out


def merge(base: Any, override: Any) -> Any:
    """Deep-merge two raw settings objects; ``override`` wins, ``None`` in ``override`` keeps ``base``."""
    if override is None:
        return base
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value)
        return out
    return override


def _lookup(raw: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    for key in (camel(name), name):
        if key in raw:
            return True, raw[key]
    return False, None


def _build(cls: type, raw: Any, prefix: str, problems: list[SettingProblem], unknown: list[str]) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.append(SettingProblem(prefix.rstrip(".") or "(section)", raw, "expected an object", {}))
        raw = {}
    raw = _expand_dotted(raw)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    known: set[str] = set()
    for field in attrs.fields(cls):
        known.update({field.name, camel(field.name)})
        key = prefix + camel(field.name)
        present, value = _lookup(raw, field.name)
        ftype = hints[field.name]
        if attrs.has(ftype):
            values[field.name] = _build(ftype, value if present else None, key + ".", problems, unknown)
            continue
        if not present or (value is None and not _optional(ftype)):
            continue  # missing, or null for a non-optional setting: the default
        default = _default(field)
        try:
            converted = _converter.structure(value, ftype)
            if field.validator is not None:
                field.validator(None, field, converted)
        except (TypeError, ValueError, cattrs.BaseValidationError) as exc:
            choices = _choices(field.validator)
            reason = _reason(exc) if choices is None or isinstance(exc, TypeError) else _one_of(choices)
            problems.append(SettingProblem(key, value, reason, default))
            continue
        values[field.name] = converted
    unknown.extend(prefix + str(k) for k in raw if k not in known)
    return cls(**values)


def _default(field: attrs.Attribute[Any]) -> Any:
    default: Any = field.default
    return default.factory() if isinstance(default, attrs.Factory) else default  # type: ignore[arg-type]


def _choices(validator: Any) -> tuple[Any, ...] | None:
    """The values an ``attrs.validators.in_`` validator accepts (None: any other validator, or none)."""
    options = getattr(validator, "options", None)
    return tuple(options) if isinstance(options, (tuple, list, frozenset, set)) else None


def _one_of(choices: tuple[Any, ...]) -> str:
    return "must be one of " + ", ".join(_short(c) for c in choices)


def _optional(ftype: Any) -> bool:
    return type(None) in typing.get_args(ftype)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError) and exc.exceptions:
        return _reason(exc.exceptions[0])
    text = str(exc)
    # attrs' own validator messages are long ("'debounce_ms' must be >= 0: -1"); keep the useful tail.
    match = re.match(r"'\w+' must be (.*): .*", text)
    return f"must be {match.group(1)}" if match else text


def parse_settings(raw: Any) -> tuple[Settings, list[SettingProblem], list[str]]:
    """Validate a raw ``flyte`` settings object.

    Returns the settings (defaults where a value was missing or bad), the problems to report to the user,
    and the unknown keys (worth a log line only: clients may send keys of newer or older versions).
    """
    problems: list[SettingProblem] = []
    unknown: list[str] = []
    settings = _build(Settings, raw, "", problems, unknown)
    return settings, problems, unknown


def unwrap_section(raw: Any) -> Any:
    """The ``flyte`` section of what a client sent: ``{"flyte": {...}}`` or the bare section; else None.

    Clients differ: VS Code pushes every section, Neovim pushes its ``settings`` table,
    initializationOptions are usually the bare section.
    """
    if not isinstance(raw, Mapping):
        return None
    if "flyte" in raw:
        return raw["flyte"]
    top_level = {camel(f.name) for f in attrs.fields(Settings)} | {f.name for f in attrs.fields(Settings)}
    if any(isinstance(k, str) and k.partition(".")[0] in top_level for k in raw):
        return raw
    return None


@attrs.define(frozen=True)
class SettingField:
    """One setting as its documentation needs it (the README table, the VS Code extension's settings)."""

    key: str  # dotted camelCase key under the ``flyte`` section
    type: Any  # the Python type: bool, int, str, list[str], or one of them | None
    default: Any
    doc: str
    minimum: int | None = None  # integers: the smallest accepted value
    choices: tuple[Any, ...] | None = None  # the only values accepted (an ``attrs.validators.in_``)

    @property
    def optional(self) -> bool:
        return _optional(self.type)

    @property
    def base_type(self) -> Any:
        """The type without ``| None``."""
        if self.optional:
            return next(a for a in typing.get_args(self.type) if a is not type(None))
        return self.type


def setting_fields() -> list[SettingField]:
    """Every setting in declaration order."""
    out: list[SettingField] = []

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for field in attrs.fields(cls):
            ftype = hints[field.name]
            key = prefix + camel(field.name)
            if attrs.has(ftype):
                walk(ftype, key + ".")
                continue
            doc_text = field.metadata.get(_DOC, "")
            out.append(
                SettingField(
                    key,
                    ftype,
                    _default(field),
                    doc_text,
                    _minimum(field.validator),
                    _choices(field.validator),
                )
            )

    walk(Settings, "")
    return out


def _minimum(validator: Any) -> int | None:
    """The smallest integer an ``attrs.validators.ge`` / ``gt`` validator accepts (None: no bound)."""
    bound, op = getattr(validator, "bound", None), getattr(validator, "compare_op", None)
    if not isinstance(bound, int):
        return None
    return bound if op == ">=" else bound + 1 if op == ">" else None


def settings_table() -> list[tuple[str, str, str, str]]:
    """(key, type, default, meaning) of every setting in declaration order: the README's settings table."""
    return [(f.key, _type_label(f.type, f.choices), _json_label(f.default), f.doc) for f in setting_fields()]


def _type_label(ftype: Any, choices: tuple[Any, ...] | None = None) -> str:
    if choices:
        return " or ".join(f"`{c}`" for c in choices)
    labels = {bool: "boolean", int: "integer", str: "string", list[str]: "list of strings"}
    if _optional(ftype):
        inner = next(a for a in typing.get_args(ftype) if a is not type(None))
        return labels.get(inner, str(inner)) + " or null"
    return labels.get(ftype, str(ftype))


def _json_label(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return str(value)


def settings_markdown() -> str:
    """The settings table in Markdown (``python -m flyte_ls.server.settings`` prints it for the README)."""
    lines = ["| key (under `flyte`) | type | default | meaning |", "|---|---|---|---|"]
    lines += [
        f"| `{key}` | {kind} | `{default}` | {meaning} |" for key, kind, default, meaning in settings_table()
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(settings_markdown())
