"""Import-free analysis of flytekit source files.

Pure: text in, entities and findings out. No LSP, no gRPC, never imports user code. The only I/O is in
:mod:`flyte_ls.analysis.modpath`, which looks at ``__init__.py`` files to compute module names the way
flytekit does.

Public API (stable; the server, the CLI and the benchmarks use only this):

- :func:`analyze` — parse one module's source and return a :class:`ModuleAnalysis` (entities + findings).
  Never raises on any ``str`` input; on a syntax error it returns the entities of the statements that still
  parse and sets ``syntax_error`` (code ``FL000``).
- :class:`Analyzer` — one per open document: ``entities()`` is incremental (a few milliseconds after an edit
  of a 10,000-line module), ``analyze()`` adds lints. Not thread-safe; returned entities are shared between
  calls and must be treated as read-only.
- :func:`module_name_for` — the module name flytekit gives a file, the prefix of its Flyte names (source root
  = nearest ancestor folder without ``__init__.py``; a package's ``__init__.py`` is ``pkg.__init__``, as in
  flytekit); :func:`import_name_for` — the name Python imports it as (``pkg``), the key for a
  :data:`ModuleLookup`; :func:`source_root_for`.

What the entities say (see :mod:`flyte_ls.analysis.model`):

- ``CallSite.target``: the Flyte name of a same-module entity, or the qualified import path
  (``pkg.mod.name``) of an imported name, which is the Flyte name of a task or workflow defined in
  ``pkg.mod``. Calls of plain functions, builtins, the SDK and the standard library are not listed.
- Launch plans: ``inputs`` are what can be set at launch (the workflow's minus ``fixed_inputs``, with
  ``default_inputs`` as defaults); ``details``: ``workflow`` (as written), ``workflow_flyte_name``,
  ``fixed_inputs`` / ``default_inputs`` (name → source text).
- Map tasks: ``details``: ``task``, ``task_flyte_name``, ``bound_inputs``, ``flyte_name_exact`` (False when an
  argument hashed into flytekit's name is not a literal).
- References: ``details``: ``project``, ``domain``, ``name``, ``version``. Instance tasks (container, shell,
  other): ``details["class"]``; ``details["name_expr"]`` when ``name=`` is not a string literal.
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
