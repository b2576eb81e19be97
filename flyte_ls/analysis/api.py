"""The analysis entry point. (Skeleton: the analysis agent fills it in.)"""

from __future__ import annotations

from collections.abc import Callable

from flyte_ls.analysis.model import ModuleAnalysis

# Given a dotted module name, return that module's analysis (entities only are enough) or None when unknown.
# The server's workspace index and ``flyte-ls check`` provide one so that lints can check calls to entities
# imported from sibling modules. Must be cheap and must not raise.
ModuleLookup = Callable[[str], "ModuleAnalysis | None"]


def analyze(
    source: str,
    module: str = "",
    *,
    path: str | None = None,
    lookup: ModuleLookup | None = None,
    lint: bool = True,
) -> ModuleAnalysis:
    """Analyse one module's source. Never raises.

    ``module`` is the dotted module name (see :func:`flyte_ls.analysis.module_name_for`); it prefixes Flyte names.
    ``path`` is only used in messages. ``lookup`` resolves imported modules for cross-module checks. With
    ``lint=False`` only entities are extracted (faster; used by workspace indexing).
    """
    raise NotImplementedError
