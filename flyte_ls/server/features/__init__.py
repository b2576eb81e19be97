"""LSP features, one module each with a ``setup(server)`` entry point.

The order matters only for the document hooks: diagnostics are scheduled before the index is updated.
"""

from __future__ import annotations

from flyte_ls.server.features import (
    backend,
    code_lens,
    commands,
    configuration,
    diagnostics,
    documents,
    entities,
    executions,
    hover,
    indexing,
    lifecycle,
    notebooks,
    workspace_symbols,
)
from flyte_ls.server.server import FlyteLanguageServer

FEATURES = (
    lifecycle,
    configuration,
    documents,
    notebooks,  # a notebook is a document too: its events go through the same hooks
    diagnostics,
    indexing,
    commands,  # attaches server.runs (register/execute, the tracker) before the features that show runs
    backend,  # flyte/backendStatus, flyte/projects, start/stop the local backend (uses server.runs)
    executions,  # flyte-exec diagnostics, gate code actions, flyte/executions (after diagnostics: merged)
    hover,
    code_lens,
    entities,
    workspace_symbols,
)


def setup_all(server: FlyteLanguageServer) -> None:
    for feature in FEATURES:
        feature.setup(server)
