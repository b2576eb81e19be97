"""Import-free analysis of flytekit source files.

Pure: text in, entities and findings out. No LSP, no gRPC, never imports user code. The only I/O is in
:mod:`flyte_ls.analysis.modpath`, which looks at ``__init__.py`` files to compute module names the way
flytekit does.

Public API (stable; the server, the CLI and the benchmarks use only this):

- :func:`analyze` — parse one module's source and return a :class:`ModuleAnalysis` (entities + findings).
  Never raises on any ``str`` input. - :func:`module_name_for` — the dotted module name flytekit would give a
  file (source root = nearest ancestor folder without ``__init__.py``), and :func:`source_root_for`.
"""

from __future__ import annotations

from flyte_ls.analysis.api import Analyzer, ModuleLookup, analyze
from flyte_ls.analysis.model import (
    CallSite,
    Entity,
    EntityKind,
    Finding,
    Input,
    ModuleAnalysis,
    Output,
    Position,
    Range,
    Severity,
)
from flyte_ls.analysis.modpath import import_name_for, module_name_for, source_root_for

__all__ = [
    "Analyzer",
    "CallSite",
    "Entity",
    "EntityKind",
    "Finding",
    "Input",
    "ModuleAnalysis",
    "ModuleLookup",
    "Output",
    "Position",
    "Range",
    "Severity",
    "analyze",
    "import_name_for",
    "module_name_for",
    "source_root_for",
]
