"""The custom request ``flyte/entities``: every entity of a document, as plain JSON.

Open documents are served from their incremental analysis (cached per version: a repeated request costs a dict
lookup); files on disk are read and analysed in a worker thread (cached by modification time). Anything else —
non-file URIs that are not open, missing files, non-UTF-8 or oversized files — is an ``InvalidParams`` error
that says what to do, plus a log line.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from flyte_ls.analysis import ModuleAnalysis, analyze
from flyte_ls.analysis.model import Entity
from flyte_ls.server.constants import ENTITIES_REQUEST
from flyte_ls.server.convert import entity_dict
from flyte_ls.server.documents import Document, fs_path, module_for_path, shown_analysis
from flyte_ls.server.features import notebooks
from flyte_ls.server.positions import Codec, Text
from flyte_ls.server.protocol import EntitiesParams, JSONText, RawJSON
from flyte_ls.server.server import FlyteLanguageServer

log = logging.getLogger(__name__)

_DISK_CACHE_SIZE = 64


def render_entities(server: FlyteLanguageServer, doc: Document, details: bool = False) -> JSONText:
    """The ``flyte/entities`` result of an open document: cached per version, and per entity object between
    versions (see :mod:`flyte_ls.server.fragments`)."""
    max_size = server.settings.index.max_file_size_bytes

    def make(entity: Entity) -> str:
        return json.dumps(
            entity_dict(entity, doc.module, server.codec, doc.text, details), separators=(",", ":")
        )

    variant = "entities+details" if details else "entities"
    return JSONText(
        doc.rendered.get(
            variant,
            doc.version,
            lambda: shown_analysis(doc, max_size).entities,
            make,
            server.codec.exact(doc.text),
        )
    )


def entity_item(server: FlyteLanguageServer, doc: Document, name: str) -> dict[str, Any] | None:
    """One entity of an open document, with details."""
    analysis = shown_analysis(doc, server.settings.index.max_file_size_bytes)
    entity = analysis.entity(name)
    return None if entity is None else entity_dict(entity, doc.module, server.codec, doc.text, details=True)


class InvalidEntitiesRequest(JsonRpcInvalidParams):
    pass


def _read_and_analyse(path: str, codec: Codec, max_size: int, details: bool) -> list[dict[str, Any]]:
    """Blocking (worker thread): the entities of a file on disk."""
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise InvalidEntitiesRequest(
            f"{ENTITIES_REQUEST}: cannot read {path}: {exc.strerror or exc}"
        ) from None
    if size > max_size:
        raise InvalidEntitiesRequest(
            f"{ENTITIES_REQUEST}: {path} has {size} bytes, over flyte.index.maxFileSizeBytes ({max_size}); "
            "raise the setting to analyse it."
        )
    try:
        source = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEntitiesRequest(
            f"{ENTITIES_REQUEST}: {path} is not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8."
        ) from None
    except OSError as exc:
        raise InvalidEntitiesRequest(
            f"{ENTITIES_REQUEST}: cannot read {path}: {exc.strerror or exc}"
        ) from None
    module = module_for_path(path)
    analysis: ModuleAnalysis = analyze(source, module, path=path, lint=False)
    text = Text(source)
    return [entity_dict(e, module, codec, text, details) for e in analysis.entities]


class EntitiesFeature:
    def __init__(self, server: FlyteLanguageServer) -> None:
        self.server = server
        self._disk: dict[tuple[str, int, int, bool], list[dict[str, Any]]] = {}

    async def handle(self, params: EntitiesParams) -> RawJSON | JSONText:
        uri = params.textDocument.uri
        details = params.details is True
        doc = self.server.documents.get(uri)
        if doc is not None:
            return render_entities(self.server, doc, details)
        cell = self.server.documents.cell(uri)
        if cell is not None:  # a notebook cell: the notebook's entities defined in it
            items = json.loads(render_entities(self.server, cell[0], details).text)
            return RawJSON(notebooks.to_cell(items, cell[1]))
        path = fs_path(uri)
        if path is None:
            log.warning("%s for %s: not open and not a file URI.", ENTITIES_REQUEST, uri)
            raise InvalidEntitiesRequest(
                f"{ENTITIES_REQUEST}: {uri!r} is neither an open document nor a file: URI; "
                "open the document first (untitled and notebook documents are only known while open)."
            )
        try:
            stat = os.stat(path)
        except OSError:
            log.warning("%s for %s: no such file.", ENTITIES_REQUEST, uri)
            raise InvalidEntitiesRequest(f"{ENTITIES_REQUEST}: no such file: {path}") from None
        key = (path, stat.st_mtime_ns, stat.st_size, details)
        cached = self._disk.get(key)
        if cached is not None:
            return RawJSON(cached)
        max_size = self.server.settings.index.max_file_size_bytes
        try:
            # Not the index thread: a request must not queue behind a whole workspace scan.
            items = await self.server.in_thread(
                None, _read_and_analyse, path, self.server.codec, max_size, details
            )
        except InvalidEntitiesRequest as exc:
            log.warning("%s", exc.message)
            raise
        if len(self._disk) >= _DISK_CACHE_SIZE:
            self._disk.pop(next(iter(self._disk)))
        self._disk[key] = items
        return RawJSON(items)


def setup(server: FlyteLanguageServer) -> None:
    feature = EntitiesFeature(server)

    @server.feature(ENTITIES_REQUEST)
    async def entities(ls: FlyteLanguageServer, params: EntitiesParams) -> RawJSON | JSONText:
        return await feature.handle(params)
