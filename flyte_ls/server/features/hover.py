"""Hover on an entity (its name or decorator lines), or on a call to one inside a workflow.

Shows the kind, the Flyte name, the typed interface, the decorator settings, the entities a workflow calls,
and the docstring; for an entity of the hovered document that was registered or run from the editor also its
registered version, its recent executions (phase, name linked to the console, start, duration), the last
outputs and console links. Markdown, or plain text when the client only renders that.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from lsprotocol import types

from flyte_ls.analysis.model import Entity, ModuleAnalysis, Position, Range
from flyte_ls.server import execution_status as status
from flyte_ls.server.convert import lsp_range
from flyte_ls.server.documents import shown_analysis, uri_key
from flyte_ls.server.features.executions import feature_of
from flyte_ls.server.server import FlyteLanguageServer

log = logging.getLogger(__name__)


def _code(text: str | None, markdown: bool) -> str:
    if text is None:
        return "?"
    return f"`{text}`" if markdown else text


def describe(entity: Entity, markdown: bool) -> str:
    """The hover text of one entity."""
    c = lambda t: _code(t, markdown)  # noqa: E731
    bold = (lambda t: f"**{t}**") if markdown else (lambda t: t)
    lines = [f"{bold(entity.kind.value)} {c(entity.name)}", f"Flyte name: {c(entity.flyte_name)}"]
    if entity.inputs:
        lines += ["", bold("Inputs")]
        for i in entity.inputs:
            item = f"- {c(i.name)}: {c(i.type)}"
            if i.default is not None:
                item += f" = {c(i.default)}"
            elif not i.required:
                item += " (optional)"
            lines.append(item)
    if entity.outputs:
        lines += ["", bold("Outputs")]
        lines += [f"- {c(o.name)}: {c(o.type)}" for o in entity.outputs]
    if entity.settings:
        lines += ["", bold("Settings")]
        lines += [f"- {c(k)} = {c(v)}" for k, v in entity.settings.items()]
    details = {k: v for k, v in entity.details.items() if isinstance(v, (str, int, float, bool))}
    if details:
        lines += ["", bold("Details")]
        lines += [f"- {c(k)}: {c(str(v))}" for k, v in details.items()]
    if entity.calls:
        lines += ["", bold("Calls")]
        seen: set[str] = set()
        for call in entity.calls:
            label = call.target or call.callee
            if label in seen:
                continue
            seen.add(label)
            lines.append(f"- {c(call.callee)}" + (f" → {c(call.target)}" if call.target else ""))
    if entity.docstring:
        lines += ["", "---" if markdown else "", entity.docstring.strip()]
    return "\n".join(lines)


MAX_HOVER_OUTPUTS = 300  # characters of the last outputs


def _registration(server: FlyteLanguageServer, uri: str, entity: str) -> Any:
    registrations = getattr(getattr(server, "runs", None), "registrations", None) or {}
    for (u, name), registration in registrations.items():
        if name == entity and uri_key(u) == uri_key(uri):
            return registration
    return None


def describe_runs(
    views: list[status.ExecutionView], registration: Any, markdown: bool, now: float
) -> str | None:
    """The hover's run section: registered version, recent executions, last outputs, console links
    (``views`` oldest tracked first)."""
    bold = (lambda t: f"**{t}**") if markdown else (lambda t: t)
    code = (lambda t: f"`{t}`") if markdown else (lambda t: t)
    lines: list[str] = []
    version = getattr(registration, "version", None)
    if version:
        lines.append(f"Registered version: {code(version)}")
        url = getattr(registration, "console_url", None)
        if url:
            lines.append(
                f"[Open the registered entity in the console]({url})" if markdown else f"Console: {url}"
            )
    if views:
        lines += ["", bold("Recent executions"), *status.hover_lines(views, now, markdown)]
        done = [v for v in views if v.phase == "SUCCEEDED" and v.outputs]
        if done:
            last = done[-1]
            text = last.outputs or ""
            if len(text) > MAX_HOVER_OUTPUTS:
                text = text[: MAX_HOVER_OUTPUTS - 1] + "…"
            lines += ["", bold("Last outputs") + f" ({last.name})", code(text)]
        latest = views[-1]
        if latest.console_url:
            link = f"[{latest.name} in the console]({latest.console_url})" if markdown else latest.console_url
            lines += ["", f"Latest execution: {link}"]
    if not lines:
        return None
    return "\n".join(lines).strip("\n")


def _entity_at(analysis: ModuleAnalysis, pos: Position) -> Entity | None:
    for e in analysis.entities:
        if e.selection_range.contains(pos):
            return e
        # Decorator lines up to the name: hovering `@task(...)` shows the task.
        if e.range.start.line <= pos.line <= e.selection_range.start.line and e.range.contains(pos):
            return e
    return None


def _called_entity(
    server: FlyteLanguageServer, analysis: ModuleAnalysis, pos: Position
) -> tuple[Entity, Position, Position] | None:
    for e in analysis.entities:
        if not e.range.contains(pos):
            continue
        for call in e.calls:
            # Only the callee's name (``load_data`` in ``load_data(n=n)``), not the arguments.
            start = call.range.start
            end = Position(start.line, start.character + len(call.callee))
            if call.target is None or not start <= pos <= end:
                continue
            target = _resolve(server, analysis, call.target)
            if target is not None:
                return target, start, end
    return None


def _resolve(server: FlyteLanguageServer, analysis: ModuleAnalysis, flyte_name: str) -> Entity | None:
    for e in analysis.entities:
        if e.flyte_name == flyte_name:
            return e
    module = flyte_name.rpartition(".")[0]
    while module:
        other = server.index.lookup(module)
        if other is not None:
            for e in other.entities:
                if e.flyte_name == flyte_name:
                    return e
        module = module.rpartition(".")[0]
    return None


def setup(server: FlyteLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: FlyteLanguageServer, params: types.HoverParams) -> types.Hover | None:
        doc = ls.documents.get(params.text_document.uri)
        cell = ls.documents.cell(params.text_document.uri) if doc is None else None
        if cell is not None:  # a notebook cell: hover on the notebook's module, moved to the cell's lines
            doc, span = cell
            at = types.Position(line=params.position.line + span.start, character=params.position.character)
            result = hover(ls, types.HoverParams(types.TextDocumentIdentifier(uri=doc.uri), at))
            if result is not None and result.range is not None:
                r = result.range
                result.range = types.Range(
                    types.Position(r.start.line - span.start, r.start.character),
                    types.Position(r.end.line - span.start, r.end.character),
                )
            return result
        if doc is None:
            log.info("Hover for %s, which is not open: no result.", params.text_document.uri)
            return None
        analysis = shown_analysis(doc, ls.settings.index.max_file_size_bytes)
        pos = ls.codec.position_from_client(doc.text, params.position)
        entity = _entity_at(analysis, pos)
        runs = None
        markdown = ls.markup_kind() == types.MarkupKind.Markdown
        if entity is not None:
            rng = lsp_range(ls.codec, doc.text, entity.selection_range)
            feature = feature_of(ls)
            views = feature.views_for(doc.uri, entity.name) if feature is not None else []
            runs = describe_runs(views, _registration(ls, doc.uri, entity.name), markdown, time.time())
        else:
            called = _called_entity(ls, analysis, pos)
            if called is None:
                return None
            entity, start, end = called
            rng = lsp_range(ls.codec, doc.text, Range(start, end))
        kind = ls.markup_kind()
        value = describe(entity, markdown=kind == types.MarkupKind.Markdown)
        if runs:
            value += "\n\n" + ("---\n\n" if markdown else "") + runs
        return types.Hover(contents=types.MarkupContent(kind=kind, value=value), range=rng)
