"""The analysis entry points. (Skeleton: the analysis agent fills it in.)"""

from __future__ import annotations

from collections.abc import Callable

from flyte_ls.analysis.model import ModuleAnalysis

# Given a dotted module name, return that module's analysis (entities are enough) or None when unknown.
# The server's workspace index and ``flyte-ls check`` provide one so that lints can check calls to entities
# imported from sibling modules. Must be cheap and must not raise.
ModuleLookup = Callable[[str], "ModuleAnalysis | None"]


class Analyzer:
    """Stateful analyser for one document that is edited over time (the server keeps one per open document).

    It caches per top-level statement chunk, so that after a small edit only the edited chunk is re-parsed:
    :meth:`entities` on a 10,000-line module must take a few milliseconds after a one-line edit.
    """

    def entities(self, source: str, module: str = "") -> ModuleAnalysis:
        """Entities only (no lints); incremental. Never raises."""
        raise NotImplementedError

    def analyze(self, source: str, module: str = "", *, lookup: ModuleLookup | None = None) -> ModuleAnalysis:
        """Entities and lint findings. Never raises."""
        raise NotImplementedError


def analyze(
    source: str,
    module: str = "",
    *,
    path: str | None = None,
    lookup: ModuleLookup | None = None,
    lint: bool = True,
) -> ModuleAnalysis:
    """Analyse one module's source, statelessly. Never raises.

    ``module`` is the dotted module name (see :func:`flyte_ls.analysis.module_name_for`); it prefixes Flyte names.
    ``path`` is only used in messages. ``lookup`` resolves imported modules for cross-module checks. With
    ``lint=False`` only entities are extracted (used by workspace indexing).
    """
    raise NotImplementedError
