"""``workspace/symbol``: every entity in the workspace index, matched on its Python and its Flyte name."""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path

from flyte_ls.analysis.model import EntityKind
from flyte_ls.server.constants import MAX_WORKSPACE_SYMBOLS
from flyte_ls.server.convert import symbol_kind
from flyte_ls.server.index import Symbol
from flyte_ls.server.protocol import RawJSON
from flyte_ls.server.server import FlyteLanguageServer


def symbol_json(sym: Symbol) -> dict[str, Any]:
    sl, sc, el, ec = sym.selection
    return {
        "name": sym.name,
        "kind": int(symbol_kind(EntityKind(sym.kind))),
        "containerName": sym.module,
        "location": {
            "uri": from_fs_path(sym.path),
            "range": {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}},
        },
    }


def setup(server: FlyteLanguageServer) -> None:
    @server.feature(types.WORKSPACE_SYMBOL)
    def workspace_symbol(ls: FlyteLanguageServer, params: types.WorkspaceSymbolParams) -> RawJSON:
        return RawJSON([symbol_json(s) for s in ls.index.search(params.query, MAX_WORKSPACE_SYMBOLS)])
