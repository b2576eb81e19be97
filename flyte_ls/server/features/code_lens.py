"""Code lenses on each entity: ``▶ Run``, ``⬆ Register`` and the informational ``task · 2 inputs → 1 output``;
after a run also the outcome (``✓ SUCCEEDED 12s · 3m ago``, ``✗ FAILED``, ``● RUNNING 2/5``), ``⟳ Re-run``
and ``Open console``.

With clients that can resolve lenses (``codeLens.resolveSupport`` lists ``command``), the lens request returns
cheap lenses with ``data`` = ``{uri, name, lens}`` and ``codeLens/resolve`` fills the command; other clients
get complete lenses at once. ``Run`` and ``Register`` run ``flyte.execute`` / ``flyte.register`` with
``{uri, entity}``; the information lens runs ``flyte.entity.info``, which returns the entity's
``flyte/entities`` item; ``Re-run`` runs ``flyte.execute`` with the inputs of the last execution, the outcome
and ``Open console`` ``flyte.openConsole`` ``{execution}``. Each kind has its setting (``codeLens.run``,
``.register``, ``.info``, ``.outcome``, ``.rerun``, ``.openConsole``; ``codeLens.enabled`` switches them all
off). The per-entity lenses are built as plain JSON and cached per entity (500 lsprotocol objects would cost
more than the whole rest of the request); the few execution lenses are added per request, so they always show
the latest state (the executions feature sends ``workspace/codeLens/refresh`` when one changes).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import attrs
from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcInvalidParams

from flyte_ls.analysis.model import Entity, EntityKind
from flyte_ls.server import execution_status as status
from flyte_ls.server.constants import (
    ENTITY_INFO_COMMAND,
    EXECUTE_COMMAND,
    OPEN_CONSOLE_COMMAND,
    REGISTER_COMMAND,
)
from flyte_ls.server.convert import count
from flyte_ls.server.documents import Document, shown_analysis, uri_key
from flyte_ls.server.execution_status import ExecutionView
from flyte_ls.server.features import notebooks
from flyte_ls.server.features.entities import entity_item
from flyte_ls.server.features.executions import feature_of
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


RUN_TITLE = "▶ Run"
REGISTER_TITLE = "⬆ Register"
RERUN_TITLE = "⟳ Re-run"
CONSOLE_TITLE = "Open console"
_REFERENCES = (EntityKind.REFERENCE_TASK, EntityKind.REFERENCE_WORKFLOW, EntityKind.REFERENCE_LAUNCH_PLAN)


def _command(title: str, uri: str, name: str) -> dict[str, Any]:
    return {"title": title, "command": ENTITY_INFO_COMMAND, "arguments": [{"uri": uri, "name": name}]}


def static_kinds(entity: Entity, settings: Settings) -> list[str]:
    """The lenses every entity gets, in display order (``run``, ``register``, ``info``), as the
    ``codeLens.*`` settings allow."""
    lenses = settings.code_lens
    kinds = []
    if lenses.run:
        kinds.append("run")
    if lenses.register and entity.kind not in _REFERENCES:
        kinds.append("register")  # a reference entity is registered by someone else
    if lenses.info:
        kinds.append("info")
    return kinds


def execution_kinds(settings: Settings) -> frozenset[str]:
    """The lenses after a run (``outcome``, ``rerun``, ``console``) the ``codeLens.*`` settings allow."""
    lenses = settings.code_lens
    allowed = {"outcome": lenses.outcome, "rerun": lenses.rerun, "console": lenses.open_console}
    return frozenset(kind for kind, on in allowed.items() if on)


def static_command(kind: str, entity: Entity, uri: str) -> dict[str, Any]:
    """The command of a ``run``, ``register`` or ``info`` lens (plain JSON)."""
    if kind == "run":
        return {
            "title": RUN_TITLE,
            "command": EXECUTE_COMMAND,
            "arguments": [{"uri": uri, "entity": entity.name}],
        }
    if kind == "register":
        return {
            "title": REGISTER_TITLE,
            "command": REGISTER_COMMAND,
            "arguments": [{"uri": uri, "entity": entity.name}],
        }
    return _command(lens_title(entity), uri, entity.name)


def execution_commands(
    latest: ExecutionView, uri: str, entity: str, inputs: dict[str, Any] | None, now: float
) -> list[tuple[str, dict[str, Any]]]:
    """(lens kind, command) of the lenses after a run: the outcome, Re-run, Open console."""
    console = [{"execution": dict(latest.execution)}]
    # The outcome lens opens the execution's page too: a lens with an empty command is listed by clients
    # (Neovim: "does not support command ``") and does nothing.
    out: list[tuple[str, dict[str, Any]]] = [
        (
            "outcome",
            {"title": status.lens_title(latest, now), "command": OPEN_CONSOLE_COMMAND, "arguments": console},
        ),
        (
            "rerun",
            {
                "title": RERUN_TITLE,
                "command": EXECUTE_COMMAND,
                "arguments": [{"uri": uri, "entity": entity, "inputs": inputs or {}}],
            },
        ),
    ]
    if latest.console_url or latest.name:
        out.append(
            (
                "console",
                {
                    "title": CONSOLE_TITLE,
                    "command": OPEN_CONSOLE_COMMAND,
                    "arguments": console,
                },
            )
        )
    return out


def last_inputs(server: FlyteLanguageServer, latest: ExecutionView, uri: str, entity: str) -> dict[str, Any]:
    """The inputs Re-run uses: those the newest execution was launched with, else what the commands
    remembered for the entity."""
    if latest.inputs is not None:
        return latest.inputs
    remembered = getattr(getattr(server, "runs", None), "last_inputs", None) or {}
    for (u, name), inputs in remembered.items():
        if name == entity and uri_key(u) == uri_key(uri) and isinstance(inputs, dict):
            return inputs
    return {}


def _execution_lenses(server: FlyteLanguageServer, doc: Document, lazy: bool, point_of: Any) -> list[str]:
    """JSON of the lenses of the entities that were run (newest execution each)."""
    feature = feature_of(server)
    if feature is None:
        return []
    views = feature.views_for(doc.uri)
    if not views:
        return []
    allowed = execution_kinds(server.settings)
    if not allowed:
        return []
    now = time.time()
    analysis = shown_analysis(doc, server.settings.index.max_file_size_bytes)
    out = []
    for name in dict.fromkeys(v.entity for v in views):
        entity = analysis.entity(name)
        latest = feature.latest(doc.uri, name)
        if entity is None or latest is None:
            continue
        point = point_of(entity)
        inputs = last_inputs(server, latest, doc.uri, name)
        for kind, command in execution_commands(latest, doc.uri, name, inputs, now):
            if kind not in allowed:
                continue
            lens: dict[str, Any] = {
                "range": {"start": point, "end": point},
                "data": {"uri": doc.uri, "name": name, "lens": kind},
            }
            if not lazy:
                lens["command"] = command
            out.append(json.dumps(lens, separators=(",", ":")))
    return out


def setup(server: FlyteLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def code_lens(ls: FlyteLanguageServer, params: types.CodeLensParams) -> RawJSON | JSONText:
        uri = params.text_document.uri
        doc = ls.documents.get(uri)
        cell = ls.documents.cell(uri) if doc is None else None
        if cell is not None:  # a notebook cell: the notebook's lenses that are in it
            nb_params = types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=cell[0].uri))
            result = code_lens(ls, nb_params)
            lenses = json.loads(result.text) if isinstance(result, JSONText) else result.value
            return RawJSON(notebooks.to_cell(lenses, cell[1]))
        if doc is None:
            log.info("Code lenses for %s, which is not open: none.", uri)
            return RawJSON([])
        if not ls.settings.code_lens.enabled:
            return RawJSON([])
        lazy = "command" in get_capability(
            ls.client_capabilities, "text_document.code_lens.resolve_support.properties", []
        )
        max_size = ls.settings.index.max_file_size_bytes
        settings = ls.settings

        def point_of(e: Entity) -> dict[str, int]:
            start = e.range.start
            return {
                "line": start.line,
                "character": ls.codec.column_to_client(doc.text, start.line, start.character),
            }

        def make(e: Entity) -> str:
            point = point_of(e)
            lenses = []
            for kind in static_kinds(e, settings):
                data: dict[str, Any] = {"uri": uri, "name": e.name}
                if kind != "info":
                    data["lens"] = kind
                lens: dict[str, Any] = {"range": {"start": point, "end": point}, "data": data}
                if not lazy:
                    lens["command"] = static_command(kind, e, uri)
                lenses.append(json.dumps(lens, separators=(",", ":")))
            return ",".join(lenses)

        # One cached rendering per combination of the static lens toggles.
        flags = (settings.code_lens.run, settings.code_lens.register, settings.code_lens.info)
        variant = ("lenses-lazy" if lazy else "lenses") + "".join("1" if f else "0" for f in flags)
        text = doc.rendered.get(
            variant,
            doc.version,
            lambda: shown_analysis(doc, max_size).entities,
            make,
            ls.codec.exact(doc.text),
        )
        extra = _execution_lenses(ls, doc, lazy, point_of)
        if extra:
            text = ("[" if text == "[]" else text[:-1] + ",") + ",".join(extra) + "]"
        return JSONText(text)

    @server.feature(types.CODE_LENS_RESOLVE)
    def code_lens_resolve(ls: FlyteLanguageServer, lens: types.CodeLens) -> types.CodeLens:
        data = lens.data if isinstance(lens.data, dict) else {}
        uri, name, kind = data.get("uri"), data.get("name"), data.get("lens", "info")
        doc = ls.documents.get(uri) if isinstance(uri, str) else None
        entity = None
        if doc is not None and isinstance(name, str):
            entity = shown_analysis(doc, ls.settings.index.max_file_size_bytes).entity(name)
        command: dict[str, Any] | None = None
        if entity is not None and doc is not None:
            if kind in ("run", "register", "info"):
                command = static_command(kind, entity, doc.uri)
            else:
                command = _resolve_execution_lens(ls, doc, entity.name, kind)
        if command is None:
            log.info("Resolving a code lens for %s in %s: the entity is gone (edited or closed).", name, uri)
            lens.command = types.Command(title="(entity changed: refreshing)", command="")
            return lens
        lens.command = types.Command(
            title=command["title"], command=command["command"], arguments=command.get("arguments")
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

    def _resolve_execution_lens(
        ls: FlyteLanguageServer, doc: Document, name: str, kind: str
    ) -> dict[str, Any] | None:
        feature = feature_of(ls)
        latest = feature.latest(doc.uri, name) if feature is not None else None
        if latest is None:
            return None
        inputs = last_inputs(ls, latest, doc.uri, name)
        return dict(execution_commands(latest, doc.uri, name, inputs, time.time())).get(kind)

    def on_settings(old: Settings, new: Settings) -> None:
        if old.code_lens != new.code_lens and server.client_has("workspace.code_lens.refresh_support"):
            server.workspace_code_lens_refresh(None)

    server.on_settings.append(on_settings)
