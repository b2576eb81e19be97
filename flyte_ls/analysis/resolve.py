"""The post-pass: shift drafts into module positions and resolve what depends on other statements.

Resolved here: workflow call targets (a module entity → its Flyte name; an imported name → its qualified path,
which is the Flyte name of a function entity defined in that module), NamedTuple outputs, ``t = task(fn)``
wrappers, the workflow of a launch plan (its Flyte name, interface and, for a default launch plan, its name),
the task of a map task (flytekit's ``<module>.map_<function>_<md5>-arraynode`` name and list interface), and
the ``add_entity`` / ``add_workflow_input`` / ``add_workflow_output`` calls of an imperative workflow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from flyte_ls.analysis.drafts import BuilderCall, CallRef, Draft, Facts, MapSpec, Ref, Span
from flyte_ls.analysis.model import CallSite, Entity, EntityKind, Input, Output, Position, Range

_REFERENCES = frozenset({EntityKind.LAUNCH_PLAN, EntityKind.REFERENCE_TASK, EntityKind.REFERENCE_LAUNCH_PLAN})


@dataclass
class Context:
    """What the module's statements tell each other."""

    module: str
    drafts: dict[str, Draft] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # python name -> final Flyte name
    namedtuples: dict[str, list[Output]] = field(default_factory=dict)
    functions: dict[str, tuple[list[Input], list[Output], str | None, str | None]] = field(
        default_factory=dict
    )
    builders: list[tuple[BuilderCall, int]] = field(default_factory=list)  # (call, absolute line offset)
    _keys: dict[str, int] = field(default_factory=dict)

    def key_of(self, name: str) -> int:
        """Hash of everything the context says about ``name`` that a referring entity may use."""
        key = self._keys.get(name)
        if key is None:
            draft = self.drafts.get(name)
            facts: tuple[object, ...] = (self.names.get(name), _nt(self.namedtuples.get(name)))
            if draft is not None:
                facts += (
                    draft.kind,
                    tuple(draft.inputs),
                    tuple(draft.outputs),
                    draft.returns,
                    _nt(self.namedtuples.get(draft.returns or "")),
                    draft.wrapped,
                    draft.workflow,
                    draft.mapped,
                )
                function = self.functions.get(draft.wrapped or "")
                if function is not None:
                    facts += (
                        tuple(function[0]),
                        tuple(function[1]),
                        _nt(self.namedtuples.get(function[2] or "")),
                    )
            function = self.functions.get(name)
            if function is not None:
                facts += (tuple(function[0]), tuple(function[1]), function[2], function[3])
                facts += (_nt(self.namedtuples.get(function[2] or "")),)
            key = hash(facts)
            self._keys[name] = key
        return key

    def key_for(self, facts: Facts) -> int:
        """Hash of what the entities of ``facts`` take from the rest of the module."""
        return hash(tuple(self.key_of(name) for name in facts.references))


def _nt(fields: list[Output] | None) -> tuple[Output, ...] | None:
    return None if fields is None else tuple(fields)


def build_context(chunks: Sequence[tuple[Facts, int]], module: str) -> Context:
    ctx = Context(module)
    for facts, offset in chunks:
        for draft in facts.drafts:
            ctx.drafts.setdefault(draft.name, draft)
        ctx.namedtuples.update(facts.namedtuples)
        ctx.functions.update(facts.functions)
        ctx.builders.extend((call, offset) for call, _line in facts.builders)
    for name, draft in ctx.drafts.items():
        ctx.names[name] = draft.flyte_name
    # Launch plans named after their workflow first, then map tasks (which may map over a launch plan).
    for name, draft in ctx.drafts.items():
        if draft.kind is EntityKind.LAUNCH_PLAN and draft.named_after_workflow and draft.workflow is not None:
            ctx.names[name] = _target_name(draft.workflow, ctx) or draft.workflow.text
    for name, draft in ctx.drafts.items():
        if draft.mapped is not None:
            ctx.names[name] = map_task_name(draft.mapped, ctx)[0]
    return ctx


def _target_name(ref: Ref, ctx: Context) -> str | None:
    if ref.local is not None:
        return ctx.names.get(ref.local)
    return ref.qualified


def map_task_name(spec: MapSpec, ctx: Context) -> tuple[str, bool]:
    """flytekit's name for a map task, and whether it is exact (every hashed argument was a literal)."""
    target = spec.target
    draft = ctx.drafts.get(target.local) if target.local is not None else None
    if draft is not None and draft.kind in _REFERENCES:
        # map_task over a launch plan / reference task makes an ArrayNode named after its target.
        return ctx.names.get(target.local or "", draft.flyte_name), True
    exact = True
    if draft is not None and draft.kind is EntityKind.SHELL_TASK:
        # Instance tasks are named after their task type and variable: ShellTask's type is "python-task".
        module, function = "python-task", draft.name
    elif draft is not None and draft.kind is EntityKind.OTHER_TASK:
        module, function, exact = ctx.module, draft.name, False  # their task type is not known statically
    elif draft is not None:
        module, function = ctx.module, draft.wrapped or draft.name
    elif target.qualified is not None:
        module, _, function = target.qualified.rpartition(".")
    else:
        module, function = ctx.module, target.text
    parts = (spec.concurrency, spec.min_successes, spec.min_success_ratio)
    exact = exact and all(p is not None for p in parts)
    seed = ",".join(spec.bound_inputs) + "".join(p if p is not None else "?" for p in parts)
    digest = hashlib.md5(seed.encode("utf-8")).hexdigest()
    prefix = f"{module}." if module else ""
    return f"{prefix}map_{function}_{digest}-arraynode", exact


class Shifter:
    """Makes module positions from relative spans: ``offset`` lines down; BOM-shifted columns on line 0."""

    __slots__ = ("bom", "offset")

    def __init__(self, offset: int, bom: int) -> None:
        self.offset = offset
        self.bom = bom

    def range(self, span: Span) -> Range:
        sl, sc, el, ec = span
        sl += self.offset
        el += self.offset
        if self.bom:
            sc += self.bom if sl == 0 else 0
            ec += self.bom if el == 0 else 0
        return Range(Position(sl, sc), Position(el, ec))


_new = object.__new__


def _moved_range(r: Range, delta: int) -> Range:
    # Built without the frozen dataclasses' __init__ (three times faster): moving a few hundred entities after
    # a line is inserted is on the path of every keystroke.
    start: Position = _new(Position)
    start.__dict__.update(line=r.start.line + delta, character=r.start.character)
    end: Position = _new(Position)
    end.__dict__.update(line=r.end.line + delta, character=r.end.character)
    moved: Range = _new(Range)
    moved.__dict__.update(start=start, end=end)
    return moved


def shift_entity(entity: Entity, delta: int) -> Entity:
    """A copy of ``entity`` ``delta`` lines further down (its calls too); the rest is shared."""
    moved: Entity = _new(Entity)
    moved.__dict__.update(entity.__dict__)
    moved.range = _moved_range(entity.range, delta)
    moved.selection_range = _moved_range(entity.selection_range, delta)
    if entity.calls:
        calls = []
        for call in entity.calls:
            site: CallSite = _new(CallSite)
            site.__dict__.update(call.__dict__)
            site.__dict__["range"] = _moved_range(call.range, delta)
            calls.append(site)
        moved.calls = calls
    return moved


def _call_site(call: CallRef, ctx: Context, shift: Shifter) -> CallSite | None:
    if call.mapped is not None:
        target: str | None = map_task_name(call.mapped, ctx)[0]
    elif call.ref.local is not None:
        target = ctx.names.get(call.ref.local)
        if target is None:
            return None  # a plain function or a builtin, not an entity
    else:
        target = call.ref.qualified
        if target is None:
            return None
    return CallSite(call.ref.text, target, shift.range(call.span), dict(call.keywords), call.positional)


def _namedtuple(outputs: list[Output], returns: str | None, ctx: Context) -> list[Output]:
    if returns is not None and returns in ctx.namedtuples:
        return list(ctx.namedtuples[returns])
    return outputs


def finalize(draft: Draft, ctx: Context | None, shift: Shifter) -> Entity:
    """The :class:`Entity` for ``draft`` at its module position (``ctx`` used if ``draft.needs_context``)."""
    entity = Entity(
        name=draft.name,
        flyte_name=draft.flyte_name,
        kind=draft.kind,
        range=shift.range(draft.span),
        selection_range=shift.range(draft.selection),
        inputs=draft.inputs,
        outputs=draft.outputs,
        settings=draft.settings,
        docstring=draft.docstring,
        details=draft.details,
    )
    if ctx is None or not draft.needs_context:
        return entity
    entity.details = dict(draft.details)
    entity.outputs = _namedtuple(draft.outputs, draft.returns, ctx)
    sites = (_call_site(call, ctx, shift) for call in draft.calls)
    entity.calls = [site for site in sites if site is not None]
    if draft.wrapped is not None and draft.wrapped in ctx.functions:
        inputs, outputs, returns, docstring = ctx.functions[draft.wrapped]
        entity.inputs, entity.outputs, entity.docstring = (
            inputs,
            _namedtuple(outputs, returns, ctx),
            docstring,
        )
    if draft.workflow is not None:
        _launch_plan(entity, draft, ctx)
    if draft.mapped is not None:
        _map_task(entity, draft.mapped, ctx)
    if draft.kind is EntityKind.IMPERATIVE_WORKFLOW:
        _imperative(entity, ctx)
    return entity


def _launch_plan(entity: Entity, draft: Draft, ctx: Context) -> None:
    assert draft.workflow is not None
    workflow_name = _target_name(draft.workflow, ctx)
    entity.details["workflow_flyte_name"] = workflow_name
    if draft.named_after_workflow:
        entity.flyte_name = workflow_name or draft.workflow.text
        if draft.name == draft.flyte_name:  # unassigned: the Python name is the launch plan's name
            entity.name = entity.flyte_name
    workflow = ctx.drafts.get(draft.workflow.local) if draft.workflow.local is not None else None
    if workflow is None:
        return
    fixed = entity.details.get("fixed_inputs") or {}
    defaults = entity.details.get("default_inputs") or {}
    inputs = []
    for item in workflow.inputs:
        if item.name in fixed:
            continue
        if item.name in defaults:
            item = Input(item.name, item.type, defaults[item.name], False)
        inputs.append(item)
    entity.inputs = inputs
    entity.outputs = _namedtuple(workflow.outputs, workflow.returns, ctx)


def _list_of(type_text: str | None, optional: bool = False) -> str | None:
    if type_text is None:
        return None
    return f"List[Optional[{type_text}]]" if optional else f"List[{type_text}]"


def _map_task(entity: Entity, spec: MapSpec, ctx: Context) -> None:
    name, exact = map_task_name(spec, ctx)
    entity.flyte_name = name
    entity.details["flyte_name_exact"] = exact
    entity.details["task_flyte_name"] = _target_name(spec.target, ctx)
    target = ctx.drafts.get(spec.target.local) if spec.target.local is not None else None
    if target is None:
        return
    inputs, outputs, returns = target.inputs, target.outputs, target.returns
    if target.wrapped is not None and target.wrapped in ctx.functions:
        inputs, outputs, returns, _ = ctx.functions[target.wrapped]
    outputs = _namedtuple(outputs, returns, ctx)
    bound = set(spec.bound_inputs)
    optional = spec.min_success_ratio not in (None, "1.0", "1")
    entity.inputs = [
        item if item.name in bound else Input(item.name, _list_of(item.type), None, True) for item in inputs
    ]
    entity.outputs = [Output(o.name, _list_of(o.type, optional)) for o in outputs]


def _imperative(entity: Entity, ctx: Context) -> None:
    inputs: list[Input] = []
    outputs: list[Output] = []
    calls: list[CallSite] = []
    for builder, offset in ctx.builders:
        if builder.receiver != entity.name:
            continue
        if builder.method == "add_workflow_input" and builder.io_name is not None:
            inputs.append(Input(builder.io_name, builder.io_type, None, True))
        elif builder.method == "add_workflow_output" and builder.io_name is not None:
            outputs.append(Output(builder.io_name, builder.io_type))
        elif builder.call is not None:
            site = _call_site(builder.call, ctx, Shifter(offset, 0))
            if site is not None:
                calls.append(site)
    entity.inputs, entity.outputs, entity.calls = inputs, outputs, calls
