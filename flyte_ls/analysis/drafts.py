"""What extraction produces for a run of top-level statements, before cross-statement resolution.

Positions in drafts are relative to the text that was parsed (a chunk, or the whole module): 0-based lines and
code point columns as ``(start line, start column, end line, end column)`` tuples.
:mod:`flyte_ls.analysis.resolve` shifts them into the module and resolves references between statements (call
targets, NamedTuple outputs, the workflow of a launch plan, the task of a map task, an imperative workflow's
``add_entity`` calls).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from flyte_ls.analysis.model import EntityKind, Input, Output

Span = tuple[int, int, int, int]


@dataclass(frozen=True)
class Ref:
    """A reference to a possible entity: a bare module-level name, or a qualified name through the imports."""

    text: str  # as written
    local: str | None = None  # bare name that is not imported (maybe an entity of this module)
    qualified: str | None = None  # qualified dotted name through the imports


@dataclass
class CallRef:
    """A call in a workflow body (or an ``add_entity`` call), not yet resolved to an entity."""

    ref: Ref
    span: Span
    keywords: dict[str, str]
    positional: int
    mapped: MapSpec | None = None  # ``map_task(t)(...)`` called inline


@dataclass(frozen=True)
class MapSpec:
    """How a map task was made: the mapped entity and what goes into its name hash."""

    target: Ref
    bound_inputs: tuple[str, ...] = ()
    # str() of each hashed argument as flytekit formats it; None when not a literal (name then inexact).
    concurrency: str | None = "None"
    min_successes: str | None = "None"
    min_success_ratio: str | None = "1.0"


@dataclass
class Draft:
    """An entity found in one statement, with relative positions and unresolved references."""

    name: str
    flyte_name: str
    kind: EntityKind
    span: Span
    selection: Span
    inputs: list[Input] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    calls: list[CallRef] = field(default_factory=list)
    docstring: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    node: ast.AST | None = None  # its FunctionDef / Assign / Expr in the parsed text
    returns: str | None = None  # return annotation name to resolve as a module NamedTuple
    workflow: Ref | None = None  # launch plans: the workflow
    mapped: MapSpec | None = None  # map tasks
    wrapped: str | None = None  # ``t = task(fn)``: the wrapped module function
    named_after_workflow: bool = False  # unassigned default launch plan: named after its workflow

    def references(self) -> set[str]:
        """Module-level names whose meaning the final entity depends on."""
        names = {n for n in (self.returns, self.wrapped) if n}
        refs = [call.ref for call in self.calls]
        refs.extend(call.mapped.target for call in self.calls if call.mapped is not None)
        if self.workflow is not None:
            refs.append(self.workflow)
        if self.mapped is not None:
            refs.append(self.mapped.target)
        names.update(ref.local for ref in refs if ref.local)
        return names

    @property
    def needs_context(self) -> bool:
        """True when the final entity depends on other statements of the module."""
        return (
            bool(self.calls or self.returns or self.workflow or self.mapped or self.wrapped)
            or self.kind is EntityKind.IMPERATIVE_WORKFLOW
        )


@dataclass(frozen=True)
class BuilderCall:
    """A module-level call on an imperative workflow: ``wf.add_entity(t, a=...)``, ..."""

    receiver: str
    method: str
    call: CallRef | None = None  # add_entity / add_task / add_launch_plan / add_subwf
    io_name: str | None = None  # add_workflow_input / add_workflow_output: the name
    io_type: str | None = None  # ... and the python type text


@dataclass
class Facts:
    """Everything extraction learns from a run of statements."""

    drafts: list[Draft] = field(default_factory=list)
    namedtuples: dict[str, list[Output]] = field(default_factory=dict)
    functions: dict[str, tuple[list[Input], list[Output], str | None, str | None]] = field(
        default_factory=dict
    )
    builders: list[tuple[BuilderCall, int]] = field(
        default_factory=list
    )  # (call, relative line of the statement)
    _export: int | None = None
    _needs_context: bool | None = None
    _imperative: bool | None = None

    _references: tuple[str, ...] | None = None

    @property
    def references(self) -> tuple[str, ...]:
        """Module-level names the entities refer to (their resolution depends on what those names are)."""
        if self._references is None:
            names: set[str] = set()
            for draft in self.drafts:
                names.update(draft.references())
            self._references = tuple(sorted(names))
        return self._references

    @property
    def imperative(self) -> bool:
        """True when these statements build an imperative workflow (or add to one)."""
        if self._imperative is None:
            drafts = self.drafts
            self._imperative = bool(self.builders) or any(
                d.kind is EntityKind.IMPERATIVE_WORKFLOW for d in drafts
            )
        return self._imperative

    @property
    def needs_context(self) -> bool:
        """True when an entity of these statements depends on other statements."""
        if self._needs_context is None:
            self._needs_context = any(d.needs_context for d in self.drafts)
        return self._needs_context

    def export_key(self) -> int:
        """Hash of what other statements depend on: names, kinds, interfaces, NamedTuples, builder calls."""
        if self._export is None:
            self._export = hash(
                (
                    tuple(
                        (
                            d.name,
                            d.flyte_name,
                            d.kind,
                            tuple(d.inputs),
                            tuple(d.outputs),
                            d.returns,
                            d.wrapped,
                            d.workflow,
                            d.named_after_workflow,
                            d.mapped,
                        )
                        for d in self.drafts
                    ),
                    tuple((k, tuple(v)) for k, v in self.namedtuples.items()),
                    tuple((k, tuple(v[0]), tuple(v[1]), v[2], v[3]) for k, v in self.functions.items()),
                    tuple(
                        (b.receiver, b.method, b.io_name, b.io_type, _call_key(b.call))
                        for b, _ in self.builders
                    ),
                )
            )
        return self._export


def _call_key(call: CallRef | None) -> object:
    if call is None:
        return None
    return (call.ref, call.span, tuple(call.keywords.items()), call.positional, call.mapped)
