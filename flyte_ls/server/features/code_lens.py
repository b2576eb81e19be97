"""Code lenses on each entity (informational: ``task · 2 inputs → 1 output``).

With clients that can resolve lenses (``codeLens.resolveSupport`` lists ``command``), the lens request returns
cheap lenses with an id in ``data`` and ``codeLens/resolve`` fills the title; other clients get complete
lenses at once. Each lens runs ``flyte.entity.info``, which returns the entity's ``flyte/entities`` item
(harmless in every editor). Lenses are built as plain JSON: 500 lsprotocol objects would cost more than the
whole rest of the request.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import attrs
from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcInvalidParams

from flyte_ls.analysis.model import Entity, EntityKind
from flyte_ls.server.constants import ENTITY_INFO_COMMAND
from flyte_ls.server.convert import count
from flyte_ls.server.documents import shown_analysis
from flyte_ls.server.features.entities import entity_item
from flyte_ls.server.protocol import JSONText, RawJSON
from flyte_ls.server.server import FlyteLanguageServer
from flyte_ls.server.settings import Settings

log = logging.getLogger(__name__)


@attrs.define
class EntityRef:
    """The argument of ``flyte.entity.info`` (and the ``data`` of a lens)."""

    uri: str
    name: str


def _interface(entity: Entity) -> str:
    return f"{count(len(entity.inputs), 'input')} → {count(len(entity.outputs), 'output')}"


def lens_title(entity: Entity) -> str:
    kind = entity.kind
    details = entity.details
    if kind in (EntityKind.LAUNCH_PLAN, EntityKind.REFERENCE_LAUNCH_PLAN):
        target = details.get("workflow_flyte_name") or details.get("workflow")
        return (
            f"{kind.value} → {target}"
            if isinstance(target, str) and target
            else f"{kind.value} {entity.flyte_name}"
        )
    if kind == EntityKind.MAP_TASK:
        mapped = details.get("task")
        head = f"map_task over {mapped}" if isinstance(mapped, str) and mapped else "map_task"
        return f"{head} · {_interface(entity)}"
    if kind.is_workflow_like:
        callees = {c.target or c.callee for c in entity.calls}
        calls = "1 entity" if len(callees) == 1 else f"{len(callees)} entities"
        return f"{kind.value} · {_interface(entity)} · calls {calls}"
    return f"{kind.value} · {_interface(entity)}"


def _command(title: str, uri: str, name: str) -> dict[str, Any]:
    return {"title": title, "command": ENTITY_INFO_COMMAND, "arguments": [{"uri": uri, "name": name}]}


def setup(server: FlyteLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def code_lens(ls: FlyteLanguageServer, params: types.CodeLensParams) -> RawJSON | JSONText:
        uri = params.text_document.uri
        doc = ls.documents.get(uri)
        if doc is None:
            log.info("Code lenses for %s, which is not open: none.", uri)
            return RawJSON([])
        if not ls.settings.code_lens.enabled:
            return RawJSON([])
        lazy = "command" in get_capability(
            ls.client_capabilities, "text_document.code_lens.resolve_support.properties", []
        )
        max_size = ls.settings.index.max_file_size_bytes

        def make(e: Entity) -> str:
            start = e.range.start
            point = {
                "line": start.line,
                "character": ls.codec.column_to_client(doc.text, start.line, start.character),
            }
            lens: dict[str, Any] = {
                "range": {"start": point, "end": point},
                "data": {"uri": uri, "name": e.name},
            }
            if not lazy:
                lens["command"] = _command(lens_title(e), uri, e.name)
            return json.dumps(lens, separators=(",", ":"))

        variant = "lenses-lazy" if lazy else "lenses"
        return JSONText(
            doc.rendered.get(
                variant,
                doc.version,
                lambda: shown_analysis(doc, max_size).entities,
                make,
                ls.codec.exact(doc.text),
            )
        )

    @server.feature(types.CODE_LENS_RESOLVE)
    def code_lens_resolve(ls: FlyteLanguageServer, lens: types.CodeLens) -> types.CodeLens:
        data = lens.data if isinstance(lens.data, dict) else {}
        uri, name = data.get("uri"), data.get("name")
        doc = ls.documents.get(uri) if isinstance(uri, str) else None
        entity = None
        if doc is not None and isinstance(name, str):
            entity = shown_analysis(doc, ls.settings.index.max_file_size_bytes).entity(name)
        if entity is None or doc is None:
            log.info("Resolving a code lens for %s in %s: the entity is gone (edited or closed).", name, uri)
            lens.command = types.Command(title="(entity changed: refreshing)", command="")
            return lens
        lens.command = types.Command(
            title=lens_title(entity),
            command=ENTITY_INFO_COMMAND,
            arguments=[{"uri": doc.uri, "name": entity.name}],
        )
        return lens

    @server.command(ENTITY_INFO_COMMAND)
    def entity_info(ls: FlyteLanguageServer, ref: EntityRef) -> RawJSON:
        doc = ls.documents.get(ref.uri)
        if doc is None:
            raise JsonRpcInvalidParams(f"{ENTITY_INFO_COMMAND}: {ref.uri} is not open; open it first.")
        item = entity_item(ls, doc, ref.name)
        if item is not None:
            return RawJSON(item)
        raise JsonRpcInvalidParams(f"{ENTITY_INFO_COMMAND}: no entity named {ref.name!r} in {ref.uri}.")

    def on_settings(old: Settings, new: Settings) -> None:
        if old.code_lens != new.code_lens and server.client_has("workspace.code_lens.refresh_support"):
            server.workspace_code_lens_refresh(None)

    server.on_settings.append(on_settings)
