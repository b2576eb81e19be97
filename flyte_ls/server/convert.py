"""Translations from the analysis model to the protocol: entity dicts, diagnostics, symbol kinds."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from flyte_ls.analysis.model import Entity, EntityKind, Finding, Position, Range, Severity
from flyte_ls.server.constants import SOURCE_LINT
from flyte_ls.server.positions import Codec, Text

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


def jsonable(value: Any) -> Any:
    """Plain JSON for arbitrary analysis details (unknown objects become their text)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return str(value)


def entity_dict(
    entity: Entity, module: str, codec: Codec, text: Text, details: bool = True
) -> dict[str, Any]:
    """One ``flyte/entities`` item, as plain dicts (lsprotocol objects for 500 entities cost milliseconds).

    Without ``details``, only the contract's fields and ``module``: a 500-entity module's payload stays small.
    """
    item: dict[str, Any] = {
        "name": entity.name,
        "flyteName": entity.flyte_name,
        "kind": entity.kind.value,
        "range": codec.range_dict(text, entity.range),
        "selectionRange": codec.range_dict(text, entity.selection_range),
        "inputs": [
            {"name": i.name, "type": i.type, "default": i.default, "required": i.required}
            for i in entity.inputs
        ],
        "outputs": [{"name": o.name, "type": o.type} for o in entity.outputs],
        "module": module,
    }
    if details:
        item["settings"] = dict(entity.settings)
        # Callees only: call ranges and keyword bindings would double the payload of a large module.
        item["calls"] = [{"callee": c.callee, "target": c.target} for c in entity.calls]
        item["docstring"] = entity.docstring
        item["details"] = jsonable(entity.details)
    return item


def lsp_position(codec: Codec, text: Text, pos: Position) -> types.Position:
    return types.Position(line=pos.line, character=codec.column_to_client(text, pos.line, pos.character))


def lsp_range(codec: Codec, text: Text, rng: Range) -> types.Range:
    return types.Range(start=lsp_position(codec, text, rng.start), end=lsp_position(codec, text, rng.end))


def diagnostic(finding: Finding, codec: Codec, text: Text, source: str = SOURCE_LINT) -> types.Diagnostic:
    return types.Diagnostic(
        range=lsp_range(codec, text, finding.range),
        message=finding.message,
        severity=_SEVERITY.get(finding.severity, types.DiagnosticSeverity.Warning),
        code=finding.code,
        source=source,
    )


def code_selected(code: str, select: list[str] | None, ignore: list[str]) -> bool:
    """Ruff-style selection: codes or code prefixes; ``ignore`` wins over ``select``."""
    if any(code.startswith(prefix) for prefix in ignore):
        return False
    return select is None or any(code.startswith(prefix) for prefix in select)


def symbol_kind(kind: EntityKind) -> types.SymbolKind:
    """Tasks are functions; workflows are composite (classes); launch plans are bound objects."""
    if kind.is_workflow_like:
        return types.SymbolKind.Class
    if kind in (EntityKind.LAUNCH_PLAN, EntityKind.REFERENCE_LAUNCH_PLAN):
        return types.SymbolKind.Object
    return types.SymbolKind.Function


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
