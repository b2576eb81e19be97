"""Entity and execution identifiers with flytekit's string forms (``flytekit.interfaces.cli_identifiers``).

- ``<type>:<project>:<domain>:<name>:<version>`` with type ``tsk``, ``wf`` or ``lp`` (:class:`Identifier`);
- ``ex:<project>:<domain>:<name>`` (:class:`WorkflowExecutionIdentifier`);
- ``te:<ex project>:<ex domain>:<ex name>:<node id>:<task project>:<task domain>:<task name>:<task version>:``
  ``<retry attempt>`` (:class:`TaskExecutionIdentifier`).

An empty project or domain segment takes the caller's default (a remote's ``default_project`` /
``default_domain``). A version that is empty or ``latest`` means "the latest by creation time" and is kept as
``None``; it is written back as ``latest``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

from flyte_ls.remote.errors import FlyteUserException

LATEST = "latest"


class IdentifierError(FlyteUserException, ValueError):
    """A string that is not an identifier, or one missing a part that has no default (flytekit raises
    ``FlyteValueException``, also a user error and a ``ValueError``)."""

    error_code = "USER:ValueError"


class ResourceType(enum.IntEnum):
    """The entity kinds that have a string form, with flyteidl's numbers."""

    TASK = identifier_pb2.TASK
    WORKFLOW = identifier_pb2.WORKFLOW
    LAUNCH_PLAN = identifier_pb2.LAUNCH_PLAN

    @property
    def code(self) -> str:
        """The prefix of the string form: ``tsk``, ``wf`` or ``lp``."""
        return _CODES[self]


_CODES = {ResourceType.TASK: "tsk", ResourceType.WORKFLOW: "wf", ResourceType.LAUNCH_PLAN: "lp"}
_BY_CODE = {code: kind for kind, code in _CODES.items()}


def _segments(text: str, count: int, form: str) -> list[str]:
    parts = text.strip().split(":")
    if len(parts) != count:
        raise IdentifierError(f"{text!r} is not an identifier: write it as {form}")
    return parts


def _scope(
    project: str, domain: str, default_project: str | None, default_domain: str | None, text: str
) -> tuple[str, str]:
    project = project or (default_project or "")
    domain = domain or (default_domain or "")
    if not project or not domain:
        missing = "project" if not project else "domain"
        raise IdentifierError(
            f"{text!r} names no {missing}: write it in the identifier or set a default {missing}"
        )
    return project, domain


def _required(value: str, what: str, text: str) -> str:
    if not value:
        raise IdentifierError(f"{text!r} has an empty {what}: every identifier needs one")
    return value


@dataclass(frozen=True)
class Identifier:
    """A task, workflow or launch plan version; ``version=None`` means the latest one."""

    resource_type: ResourceType
    project: str
    domain: str
    name: str
    version: str | None = None
    org: str = ""

    @classmethod
    def parse(
        cls, text: str, *, default_project: str | None = None, default_domain: str | None = None
    ) -> Identifier:
        """``tsk:project:domain:name:version`` (``wf:`` / ``lp:``); empty project/domain take the defaults."""
        code, project, domain, name, version = _segments(
            text, 5, "<tsk|wf|lp>:<project>:<domain>:<name>:<version>"
        )
        kind = _BY_CODE.get(code)
        if kind is None:
            raise IdentifierError(
                f"{text!r} starts with {code!r}: an entity identifier starts with tsk, wf or lp"
            )
        project, domain = _scope(project, domain, default_project, default_domain, text)
        return cls(
            kind, project, domain, _required(name, "name", text), None if version in ("", LATEST) else version
        )

    def __str__(self) -> str:
        return f"{self.resource_type.code}:{self.project}:{self.domain}:{self.name}:{self.version or LATEST}"

    @property
    def is_latest(self) -> bool:
        """True when the version is to be resolved to the latest registered one."""
        return self.version is None

    def with_version(self, version: str | None) -> Identifier:
        return Identifier(self.resource_type, self.project, self.domain, self.name, version, self.org)

    def to_proto(self) -> identifier_pb2.Identifier:
        return identifier_pb2.Identifier(
            resource_type=int(self.resource_type),
            project=self.project,
            domain=self.domain,
            name=self.name,
            version=self.version or "",
            org=self.org,
        )

    def named_entity(self) -> common_pb2.NamedEntityIdentifier:
        """The version-less id the List and GetActiveLaunchPlan RPCs take."""
        return common_pb2.NamedEntityIdentifier(
            project=self.project, domain=self.domain, name=self.name, org=self.org
        )

    @classmethod
    def from_proto(cls, pb: identifier_pb2.Identifier) -> Identifier:
        try:
            kind = ResourceType(pb.resource_type)
        except ValueError:
            raise IdentifierError(
                f"resource type {pb.resource_type} has no string form (task, workflow or launch plan)"
            ) from None
        return cls(kind, pb.project, pb.domain, pb.name, pb.version or None, pb.org)


@dataclass(frozen=True)
class WorkflowExecutionIdentifier:
    """An execution: ``ex:project:domain:name``."""

    project: str
    domain: str
    name: str
    org: str = ""

    @classmethod
    def parse(
        cls, text: str, *, default_project: str | None = None, default_domain: str | None = None
    ) -> WorkflowExecutionIdentifier:
        code, project, domain, name = _segments(text, 4, "ex:<project>:<domain>:<name>")
        if code != "ex":
            raise IdentifierError(f"{text!r} starts with {code!r}: an execution identifier starts with ex")
        project, domain = _scope(project, domain, default_project, default_domain, text)
        return cls(project, domain, _required(name, "name", text))

    def __str__(self) -> str:
        return f"ex:{self.project}:{self.domain}:{self.name}"

    def to_proto(self) -> identifier_pb2.WorkflowExecutionIdentifier:
        return identifier_pb2.WorkflowExecutionIdentifier(
            project=self.project, domain=self.domain, name=self.name, org=self.org
        )

    @classmethod
    def from_proto(cls, pb: identifier_pb2.WorkflowExecutionIdentifier) -> WorkflowExecutionIdentifier:
        return cls(pb.project, pb.domain, pb.name, pb.org)


@dataclass(frozen=True)
class TaskExecutionIdentifier:
    """One attempt of a task in a node of an execution: ``te:`` + execution, node, task and attempt."""

    task_id: Identifier
    execution_id: WorkflowExecutionIdentifier
    node_id: str
    retry_attempt: int = 0

    _FORM = (
        "te:<ex project>:<ex domain>:<ex name>:<node>:<task project>:<task domain>:<task name>:<version>:<n>"
    )

    @classmethod
    def parse(
        cls, text: str, *, default_project: str | None = None, default_domain: str | None = None
    ) -> TaskExecutionIdentifier:
        code, ep, ed, en, node, tp, td, tn, tv, retry = _segments(text, 10, cls._FORM)
        if code != "te":
            raise IdentifierError(
                f"{text!r} starts with {code!r}: a task execution identifier starts with te"
            )
        if not (retry.isascii() and retry.isdigit()):
            raise IdentifierError(
                f"{text!r} ends with {retry!r}: the retry attempt is a number (0 for the first)"
            )
        ep, ed = _scope(ep, ed, default_project, default_domain, text)
        tp, td = _scope(tp, td, default_project, default_domain, text)
        return cls(
            task_id=Identifier(ResourceType.TASK, tp, td, _required(tn, "task name", text), tv or None),
            execution_id=WorkflowExecutionIdentifier(ep, ed, _required(en, "execution name", text)),
            node_id=_required(node, "node id", text),
            retry_attempt=int(retry),
        )

    def __str__(self) -> str:
        ex, task = self.execution_id, self.task_id
        return (
            f"te:{ex.project}:{ex.domain}:{ex.name}:{self.node_id}:"
            f"{task.project}:{task.domain}:{task.name}:{task.version or ''}:{self.retry_attempt}"
        )

    def to_proto(self) -> identifier_pb2.TaskExecutionIdentifier:
        return identifier_pb2.TaskExecutionIdentifier(
            task_id=self.task_id.to_proto(),
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                node_id=self.node_id, execution_id=self.execution_id.to_proto()
            ),
            retry_attempt=self.retry_attempt,
        )

    @classmethod
    def from_proto(cls, pb: identifier_pb2.TaskExecutionIdentifier) -> TaskExecutionIdentifier:
        return cls(
            task_id=Identifier.from_proto(pb.task_id),
            execution_id=WorkflowExecutionIdentifier.from_proto(pb.node_execution_id.execution_id),
            node_id=pb.node_execution_id.node_id,
            retry_attempt=pb.retry_attempt,
        )


AnyIdentifier = Identifier | WorkflowExecutionIdentifier | TaskExecutionIdentifier


def parse_identifier(
    text: str, *, default_project: str | None = None, default_domain: str | None = None
) -> AnyIdentifier:
    """Any of the three string forms, chosen by its prefix (``tsk``/``wf``/``lp``, ``ex`` or ``te``)."""
    code = text.strip().split(":", 1)[0]
    kind: type[Identifier] | type[WorkflowExecutionIdentifier] | type[TaskExecutionIdentifier]
    if code in _BY_CODE:
        kind = Identifier
    elif code == "ex":
        kind = WorkflowExecutionIdentifier
    elif code == "te":
        kind = TaskExecutionIdentifier
    else:
        raise IdentifierError(f"{text!r} starts with {code!r}: identifiers start with tsk, wf, lp, ex or te")
    return kind.parse(text, default_project=default_project, default_domain=default_domain)
