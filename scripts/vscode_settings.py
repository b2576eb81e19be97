"""Keep the VS Code extension's settings in step with the server's: write every server setting
(``flyte_ls.server.settings``) into ``vscode-client/package.json`` → ``contributes.configuration.properties``
as ``flyte.<key>``, or check that it is there (``--check``: exit 1 with a diff when not).

Each entry gets its JSON-schema type (``boolean``, ``integer`` with ``minimum``, ``string``, arrays of
strings, ``["string", "null"]``..., an ``enum`` for a setting validated by ``attrs.validators.in_``), its
default, the server's documentation as ``markdownDescription`` and a ``scope`` (``machine-overridable`` for
the interpreter and the config file, which are paths on one machine; ``resource`` for the others, which may
differ per folder). Everything else in package.json — other keys, the
extension's own properties such as ``flyte.interpreter`` or ``flyte.trace.server``, their order — is left as
it is, and the file keeps its 2-space JSON formatting.

    python scripts/vscode_settings.py            # write
    python scripts/vscode_settings.py --check    # exit 1 and print a diff when out of step
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from flyte_ls.server.constants import SETTINGS_SECTION
from flyte_ls.server.settings import SettingField, setting_fields

PACKAGE_JSON = Path(__file__).resolve().parents[1] / "vscode-client" / "package.json"
MACHINE_OVERRIDABLE = frozenset({"pythonPath", "configFile"})  # paths that belong to one machine
SCHEMA_TYPES: dict[Any, str] = {bool: "boolean", int: "integer", str: "string", list[str]: "array"}


def property_of(field: SettingField) -> dict[str, Any]:
    """The ``contributes.configuration.properties`` entry of one server setting."""
    base = SCHEMA_TYPES.get(field.base_type)
    if base is None:
        raise TypeError(f"setting {field.key}: no JSON schema type for {field.type!r}")
    entry: dict[str, Any] = {"type": [base, "null"] if field.optional else base}
    if field.choices is not None:
        entry["enum"] = [*field.choices, None] if field.optional else list(field.choices)
    if field.base_type == list[str]:
        entry["items"] = {"type": "string"}
    if field.minimum is not None:
        entry["minimum"] = field.minimum
    entry["default"] = field.default
    entry["scope"] = "machine-overridable" if field.key in MACHINE_OVERRIDABLE else "resource"
    entry["markdownDescription"] = field.doc
    return entry


def server_properties() -> dict[str, dict[str, Any]]:
    """``flyte.<key>`` → its entry, for every server setting in declaration order."""
    return {f"{SETTINGS_SECTION}.{field.key}": property_of(field) for field in setting_fields()}


def update(package: dict[str, Any]) -> dict[str, Any]:
    """``package`` with the server settings written into its configuration properties: an entry that exists
    is replaced where it is, a new one is added after the others; nothing else changes."""
    contributes = package.setdefault("contributes", {})
    configuration = contributes.setdefault("configuration", {"title": "Flyte", "properties": {}})
    if isinstance(configuration, list):  # several configuration sections: ours is the one with flyte.*
        sections = [c for c in configuration if isinstance(c, dict)]
        if not sections:
            raise ValueError("contributes.configuration is an empty list")
        configuration = next(
            (c for c in sections if any(k.startswith("flyte.") for k in c.get("properties", {}))), sections[0]
        )
    old: dict[str, Any] = configuration.get("properties") or {}
    ours = server_properties()
    properties = {key: ours.get(key, value) for key, value in old.items()}
    properties.update({key: value for key, value in ours.items() if key not in old})
    configuration["properties"] = properties
    return package


def render(text: str) -> str:
    """package.json's text after :func:`update` (2-space JSON, non-ASCII kept, a final newline)."""
    return json.dumps(update(json.loads(text)), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 with a diff when out of step")
    parser.add_argument(
        "--package", type=Path, default=PACKAGE_JSON, help="the package.json (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    path: Path = args.package
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"vscode_settings: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    new = render(text)
    if args.check:
        if new == text:
            return 0
        diff = difflib.unified_diff(
            text.splitlines(keepends=True), new.splitlines(keepends=True), str(path), f"{path} (expected)"
        )
        sys.stdout.writelines(diff)
        print(
            f"\n{path} is out of step with the server's settings: run `python scripts/vscode_settings.py`.",
            file=sys.stderr,
        )
        return 1
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"updated {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
