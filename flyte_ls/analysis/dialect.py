"""Which SDK names make Flyte entities: the decorator dialect, behind a small interface.

The extraction code asks a :class:`Dialect` what a (canonical, fully qualified) decorator or call name means.
The flytekit 1.x dialect is the only one today; the Flyte 2 SDK (``flyte``, ``@env.task``) can be added as a
second implementation without touching the extraction.

Every deep path below was checked against flytekit 1.16.31 (``tests/analysis/test_dialect.py`` imports each
one and compares it with the public name).
"""

from __future__ import annotations

from typing import Protocol

from flyte_ls.analysis.model import EntityKind


class Dialect(Protocol):
    """What an SDK's names mean. Names are canonical dotted paths (see :meth:`canonical`)."""

    #: Top-level packages whose imports this dialect understands (``"flytekit"``, ``"flytekitplugins"``).
    roots: tuple[str, ...]

    def canonical(self, qualified: str) -> str:
        """The public spelling of a qualified name (``flytekit.core.task.task`` → ``flytekit.task``)."""
        ...

    def decorator_kind(self, qualified: str) -> EntityKind | None:
        """Kind of entity made by decorating a function with ``qualified`` (bare or called), or None."""
        ...

    def call_kind(self, qualified: str) -> EntityKind | None:
        """Kind of entity made by calling ``qualified`` at module level (``ContainerTask(...)``), or None."""
        ...

    def star_names(self, module: str) -> frozenset[str]:
        """Names that ``from <module> import *`` binds (only what the dialect knows; may be empty)."""
        ...


# Deep path -> public path, for names flytekit re-exports (flytekit/__init__.py and a few sub-packages).
_PUBLIC: dict[str, str] = {
    "flytekit.core.array_node_map_task.map_task": "flytekit.map_task",
    "flytekit.core.base_sql_task.SQLTask": "flytekit.SQLTask",
    "flytekit.core.base_task.kwtypes": "flytekit.kwtypes",
    "flytekit.core.base_task.TaskMetadata": "flytekit.TaskMetadata",
    "flytekit.core.base_task.SecurityContext": "flytekit.SecurityContext",
    "flytekit.core.cache.Cache": "flytekit.Cache",
    "flytekit.core.cache.CachePolicy": "flytekit.CachePolicy",
    "flytekit.core.cache.VersionParameters": "flytekit.VersionParameters",
    "flytekit.core.condition.conditional": "flytekit.conditional",
    "flytekit.core.container_task.ContainerTask": "flytekit.ContainerTask",
    "flytekit.core.dynamic_workflow_task.dynamic": "flytekit.dynamic",
    "flytekit.core.environment.Environment": "flytekit.Environment",
    "flytekit.core.gate.approve": "flytekit.approve",
    "flytekit.core.gate.sleep": "flytekit.sleep",
    "flytekit.core.gate.wait_for_input": "flytekit.wait_for_input",
    "flytekit.core.launch_plan.LaunchPlan": "flytekit.LaunchPlan",
    "flytekit.core.launch_plan.reference_launch_plan": "flytekit.reference_launch_plan",
    "flytekit.core.notification.Email": "flytekit.Email",
    "flytekit.core.notification.PagerDuty": "flytekit.PagerDuty",
    "flytekit.core.notification.Slack": "flytekit.Slack",
    "flytekit.core.pod_template.PodTemplate": "flytekit.PodTemplate",
    "flytekit.core.python_function_task.PythonFunctionTask": "flytekit.PythonFunctionTask",
    "flytekit.core.python_function_task.PythonInstanceTask": "flytekit.PythonInstanceTask",
    "flytekit.core.reference.get_reference_entity": "flytekit.get_reference_entity",
    "flytekit.core.reference_entity.LaunchPlanReference": "flytekit.LaunchPlanReference",
    "flytekit.core.reference_entity.TaskReference": "flytekit.TaskReference",
    "flytekit.core.reference_entity.WorkflowReference": "flytekit.WorkflowReference",
    "flytekit.core.resources.Resources": "flytekit.Resources",
    "flytekit.core.schedule.CronSchedule": "flytekit.CronSchedule",
    "flytekit.core.schedule.FixedRate": "flytekit.FixedRate",
    "flytekit.core.task.Secret": "flytekit.Secret",
    "flytekit.core.task.eager": "flytekit.eager",
    "flytekit.core.task.reference_task": "flytekit.reference_task",
    "flytekit.core.task.task": "flytekit.task",
    "flytekit.core.workflow.ImperativeWorkflow": "flytekit.Workflow",
    "flytekit.core.workflow.WorkflowFailurePolicy": "flytekit.WorkflowFailurePolicy",
    "flytekit.core.workflow.reference_workflow": "flytekit.reference_workflow",
    "flytekit.core.workflow.workflow": "flytekit.workflow",
    "flytekit.deck.Deck": "flytekit.Deck",
    "flytekit.image_spec.ImageSpec": "flytekit.ImageSpec",
    "flytekit.types.directory.FlyteDirectory": "flytekit.FlyteDirectory",
    "flytekit.types.file.FlyteFile": "flytekit.FlyteFile",
    "flytekit.types.structured.structured_dataset.StructuredDataset": "flytekit.StructuredDataset",
    "flytekit.sensor.file_sensor.FileSensor": "flytekit.sensor.FileSensor",
    "flytekit.sensor.base_sensor.BaseSensor": "flytekit.sensor.BaseSensor",
}

# Names without a shorter public spelling that the dialect needs (listed so the test checks they exist).
SHELL_TASK = "flytekit.extras.tasks.shell.ShellTask"
RAW_SHELL_TASK = "flytekit.extras.tasks.shell.RawShellTask"
REFERENCE_TASK_CLASS = "flytekit.core.task.ReferenceTask"
REFERENCE_WORKFLOW_CLASS = "flytekit.core.workflow.ReferenceWorkflow"
REFERENCE_LAUNCH_PLAN_CLASS = "flytekit.core.launch_plan.ReferenceLaunchPlan"
ARRAY_NODE_MAP_TASK = "flytekit.core.array_node_map_task.array_node_map_task"
ARRAY_NODE_MAP_TASK_CLASS = "flytekit.core.array_node_map_task.ArrayNodeMapTask"
CREATE_NODE = "flytekit.core.node_creation.create_node"
SQLITE3_TASK = "flytekit.extras.sqlite3.task.SQLite3Task"
DEEP_NAMES: tuple[str, ...] = (
    SHELL_TASK,
    RAW_SHELL_TASK,
    REFERENCE_TASK_CLASS,
    REFERENCE_WORKFLOW_CLASS,
    REFERENCE_LAUNCH_PLAN_CLASS,
    ARRAY_NODE_MAP_TASK,
    ARRAY_NODE_MAP_TASK_CLASS,
    CREATE_NODE,
    SQLITE3_TASK,
)

PUBLIC_NAMES: dict[str, str] = dict(_PUBLIC)

# Public flytekit names (``from flytekit import *`` binds these, among others).
_FLYTEKIT_TOP = frozenset(p.rsplit(".", 1)[1] for p in _PUBLIC.values() if p.count(".") == 1)

LAUNCH_PLAN_FACTORIES = frozenset({"flytekit.LaunchPlan.get_or_create", "flytekit.LaunchPlan.create"})
MAP_TASK_FACTORIES = frozenset({"flytekit.map_task", ARRAY_NODE_MAP_TASK, ARRAY_NODE_MAP_TASK_CLASS})
GET_REFERENCE_ENTITY = "flytekit.get_reference_entity"
CONDITIONAL = "flytekit.conditional"
KWTYPES = "flytekit.kwtypes"

_DECORATORS: dict[str, EntityKind] = {
    "flytekit.task": EntityKind.TASK,
    "flytekit.dynamic": EntityKind.DYNAMIC,
    "flytekit.eager": EntityKind.EAGER,
    "flytekit.workflow": EntityKind.WORKFLOW,
    "flytekit.reference_task": EntityKind.REFERENCE_TASK,
    "flytekit.reference_workflow": EntityKind.REFERENCE_WORKFLOW,
    "flytekit.reference_launch_plan": EntityKind.REFERENCE_LAUNCH_PLAN,
}

_CALLS: dict[str, EntityKind] = {
    "flytekit.LaunchPlan.get_or_create": EntityKind.LAUNCH_PLAN,
    "flytekit.LaunchPlan.create": EntityKind.LAUNCH_PLAN,
    "flytekit.map_task": EntityKind.MAP_TASK,
    ARRAY_NODE_MAP_TASK: EntityKind.MAP_TASK,
    ARRAY_NODE_MAP_TASK_CLASS: EntityKind.MAP_TASK,
    REFERENCE_TASK_CLASS: EntityKind.REFERENCE_TASK,
    REFERENCE_WORKFLOW_CLASS: EntityKind.REFERENCE_WORKFLOW,
    REFERENCE_LAUNCH_PLAN_CLASS: EntityKind.REFERENCE_LAUNCH_PLAN,
    "flytekit.ContainerTask": EntityKind.CONTAINER_TASK,
    SHELL_TASK: EntityKind.SHELL_TASK,
    RAW_SHELL_TASK: EntityKind.SHELL_TASK,
    "flytekit.Workflow": EntityKind.IMPERATIVE_WORKFLOW,
}

# Class-name suffixes that make an instantiation from flytekit / flytekitplugins an ``other_task``.
_TASK_SUFFIXES = ("Task", "Sensor")
_NOT_TASKS = frozenset({"flytekit.sensor.BaseSensor"})


class FlytekitDialect:
    """flytekit 1.x: ``@task``, ``@workflow``, ``LaunchPlan.get_or_create``, ``map_task``, task classes..."""

    roots: tuple[str, ...] = ("flytekit", "flytekitplugins")

    def __init__(self) -> None:
        self._canonical_cache: dict[str, str] = {}

    def canonical(self, qualified: str) -> str:
        cached = self._canonical_cache.get(qualified)
        if cached is not None:
            return cached
        result = qualified
        if qualified.startswith("flytekit."):
            parts = qualified.split(".")
            for cut in range(len(parts), 1, -1):
                public = _PUBLIC.get(".".join(parts[:cut]))
                if public is not None:
                    result = ".".join([public, *parts[cut:]])
                    break
        if len(self._canonical_cache) < 4096:
            self._canonical_cache[qualified] = result
        return result

    def decorator_kind(self, qualified: str) -> EntityKind | None:
        return _DECORATORS.get(qualified)

    def call_kind(self, qualified: str) -> EntityKind | None:
        kind = _CALLS.get(qualified)
        if kind is not None:
            return kind
        if qualified in _NOT_TASKS or not qualified.startswith(("flytekit.", "flytekitplugins.")):
            return None
        last = qualified.rsplit(".", 1)[-1]
        if last.endswith(_TASK_SUFFIXES) and last[:1].isupper() and last not in _ABSTRACT_TASKS:
            return EntityKind.OTHER_TASK
        if qualified == "flytekit.core.task.Echo":
            return EntityKind.OTHER_TASK
        return None

    def star_names(self, module: str) -> frozenset[str]:
        return _FLYTEKIT_TOP if module == "flytekit" else frozenset()


# Base classes that are not instantiated as tasks on their own.
_ABSTRACT_TASKS = frozenset({"PythonTask", "PythonAutoContainerTask"})

FLYTEKIT = FlytekitDialect()
