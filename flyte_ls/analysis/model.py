"""The data the analysis produces: entities, their interfaces, findings.

Pure data, no behaviour beyond small helpers. Positions are 0-based lines and 0-based *code point*
columns into the source text (Python ``str`` indices); the language server converts columns to the
client's position encoding.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class EntityKind(str, enum.Enum):
    """Kinds of Flyte entity. The string values are a public contract (``flyte/entities``)."""

    TASK = "task"
    DYNAMIC = "dynamic"
    EAGER = "eager"
    WORKFLOW = "workflow"
    IMPERATIVE_WORKFLOW = "imperative_workflow"
    LAUNCH_PLAN = "launch_plan"
    MAP_TASK = "map_task"
    REFERENCE_TASK = "reference_task"
    REFERENCE_WORKFLOW = "reference_workflow"
    REFERENCE_LAUNCH_PLAN = "reference_launch_plan"
    CONTAINER_TASK = "container_task"
    SHELL_TASK = "shell_task"
    OTHER_TASK = "other_task"

    @property
    def is_task_like(self) -> bool:
        return self in _TASK_LIKE

    @property
    def is_workflow_like(self) -> bool:
        return self in (EntityKind.WORKFLOW, EntityKind.IMPERATIVE_WORKFLOW, EntityKind.REFERENCE_WORKFLOW)


_TASK_LIKE = frozenset(
    {
        EntityKind.TASK,
        EntityKind.DYNAMIC,
        EntityKind.EAGER,
        EntityKind.MAP_TASK,
        EntityKind.REFERENCE_TASK,
        EntityKind.CONTAINER_TASK,
        EntityKind.SHELL_TASK,
        EntityKind.OTHER_TASK,
    }
)


@dataclass(frozen=True, order=True)
class Position:
    line: int  # 0-based
    character: int  # 0-based code point offset in the line


@dataclass(frozen=True)
class Range:
    start: Position
    end: Position

    @staticmethod
    def of(start_line: int, start_char: int, end_line: int, end_char: int) -> Range:
        return Range(Position(start_line, start_char), Position(end_line, end_char))

    def contains(self, pos: Position) -> bool:
        return self.start <= pos <= self.end


@dataclass(frozen=True)
class Input:
    name: str
    type: str | None  # annotation source text; None when missing
    default: str | None  # default value source text; None when there is no default
    required: bool


@dataclass(frozen=True)
class Output:
    name: str  # o0, o1, ... or NamedTuple field name
    type: str | None  # annotation source text


@dataclass(frozen=True)
class CallSite:
    """A call inside a workflow body (or an imperative workflow's ``add_entity``) to another entity."""

    callee: str  # the Python name as written at the call (e.g. ``t1`` or ``mod.t1``)
    target: str | None  # resolved entity key: the Flyte name when known (same module or imported), else None
    range: Range
    keywords: dict[str, str]  # keyword -> bound expression source text
    positional: int  # number of positional arguments


@dataclass
class Entity:
    """One Flyte entity found in a module."""

    name: str  # Python name bound at module level (or the ``name=`` of an unassigned launch plan)
    flyte_name: str  # name as flytekit computes it: ``<module>.<name>`` or an explicit ``name=``
    kind: EntityKind
    range: Range  # first decorator line through the end of the definition
    selection_range: Range  # the name
    inputs: list[Input] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # decorator keyword -> source text
    calls: list[CallSite] = field(default_factory=list)  # workflows: static call graph
    docstring: str | None = None
    # Kind-specific details, e.g. the workflow a launch plan points at (``workflow``), the mapped task of a
    # map task (``task``), the reference's project/domain/name/version.
    details: dict[str, Any] = field(default_factory=dict)


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """A lint finding. ``code`` is stable (``FL001``...)."""

    code: str
    message: str
    severity: Severity
    range: Range
    entity: str | None = None  # Python name of the entity the finding is about, if any


@dataclass
class ModuleAnalysis:
    """Everything the analysis knows about one module."""

    module: str  # dotted module name as flytekit would compute it ("" when unknown)
    entities: list[Entity] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    syntax_error: Finding | None = None  # set when the source does not parse (entities may be recovered)

    def entity(self, name: str) -> Entity | None:
        for e in self.entities:
            if e.name == name:
                return e
        return None
