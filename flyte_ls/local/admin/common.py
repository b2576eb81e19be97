"""What every Admin entity RPC shares: identifier validation, digests, structure diffs, list paging glue."""

from __future__ import annotations

import difflib
import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence

from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2
from google.protobuf import text_format, timestamp_pb2
from google.protobuf.message import Message

from flyte_ls.local import listing
from flyte_ls.local.errors import AdminError, AlreadyExists, InvalidArgument, NotFound
from flyte_ls.local.store import LAUNCH_PLAN, TASK, WORKFLOW, EntityRow, Page, Store

RESOURCE_NAMES = {
    identifier_pb2.TASK: "task",
    identifier_pb2.WORKFLOW: "workflow",
    identifier_pb2.LAUNCH_PLAN: "launch plan",
}

# Go's url.QueryEscape leaves exactly these unescaped: Admin requires versions that survive it unchanged.
_URL_SAFE = re.compile(r"^[A-Za-z0-9_.~-]+$")
_MAX_DIFF_LINES = 40


class Base:
    """State shared by the servicer mixins."""

    def __init__(self, store: Store) -> None:
        self.store = store


def id_str(project: str, domain: str, name: str, version: str = "") -> str:
    parts = [project, domain, name] + ([version] if version else [])
    return "/".join(parts)


def ident_str(ident: identifier_pb2.Identifier) -> str:
    return id_str(ident.project, ident.domain, ident.name, ident.version)


def validate_project_domain(store: Store, project: str, domain: str) -> None:
    if not project:
        raise InvalidArgument("missing project")
    if not domain:
        raise InvalidArgument("missing domain")
    row = store.get_project(project)
    if row is None:
        raise InvalidArgument(
            f"failed to validate that project [{project}] and domain [{domain}] are registered: "
            f"project [{project}] does not exist (register it: `flytectl create project`)"
        )
    if row.state != 0:
        raise InvalidArgument(f"project [{project}] is not active")
    if domain not in store.domains:
        raise InvalidArgument(
            f"domain [{domain}] is unrecognized by system (known: {', '.join(store.domains)})"
        )


def validate_identifier(store: Store, ident: identifier_pb2.Identifier, expected: int) -> None:
    """A complete identifier of the expected resource type in a known project and domain."""
    kind = RESOURCE_NAMES[expected]
    if ident.resource_type != expected:
        got = identifier_pb2.ResourceType.Name(ident.resource_type)
        raise InvalidArgument(
            f"unexpected resource type {got} for identifier [{ident_str(ident)}], expected "
            f"{identifier_pb2.ResourceType.Name(expected)} for a {kind}"
        )
    for field in ("project", "domain", "name", "version"):
        if not getattr(ident, field):
            raise InvalidArgument(f"missing {field} in the {kind} identifier [{ident_str(ident)}]")
    if not _URL_SAFE.match(ident.version):
        raise InvalidArgument(
            f"version [{ident.version}] of {kind} [{ident.name}] is not URL safe: "
            "use letters, digits and -_.~"
        )
    validate_project_domain(store, ident.project, ident.domain)


def validate_named_id(store: Store, ident: common_pb2.NamedEntityIdentifier, kind: str) -> None:
    validate_project_domain(store, ident.project, ident.domain)
    if not ident.name:
        raise InvalidArgument(f"missing name in the {kind} identifier [{ident.project}/{ident.domain}]")


def digest(message: Message) -> str:
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()


def structure_diff(old: Message, new: Message) -> str:
    """A short unified diff of two messages in text format, for 'different structure' errors."""
    lines = list(
        difflib.unified_diff(
            text_format.MessageToString(old).splitlines(),
            text_format.MessageToString(new).splitlines(),
            "registered",
            "new",
            lineterm="",
            n=1,
        )
    )
    if len(lines) > _MAX_DIFF_LINES:
        lines = [*lines[:_MAX_DIFF_LINES], f"... ({len(lines) - _MAX_DIFF_LINES} more lines)"]
    return "\n".join(lines)


def timestamp(seconds: float | None = None) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int((time.time() if seconds is None else seconds) * 1e9))
    return ts


def page_for(
    request: Message,
    columns: Mapping[str, listing.Column],
    entity: str = "",
    *,
    require_limit: bool = True,
    default_order: str = "seq ASC",
) -> Page:
    """The :class:`Page` of a list request (``limit``, ``token``, ``filters``, ``sort_by``)."""
    sort_by = getattr(request, "sort_by")  # noqa: B009 - any list request message
    has_sort = request.HasField("sort_by")
    return listing.build_page(
        filters=getattr(request, "filters", ""),
        sort_key=sort_by.key if has_sort else "",
        sort_direction=sort_by.direction if has_sort else listing.DESCENDING,
        limit=getattr(request, "limit"),  # noqa: B009
        token=getattr(request, "token"),  # noqa: B009
        columns=columns,
        entity=entity,
        require_limit=require_limit,
        default_order=default_order,
    )


def next_token(page: Page, results: Sequence[object]) -> str:
    return listing.next_token(page, results)


_ENTITY_LABELS = {TASK: "task", WORKFLOW: "workflow", LAUNCH_PLAN: "launch plan"}


def entity_row(store: Store, kind: int, ident: identifier_pb2.Identifier) -> EntityRow:
    """The stored version of a task, workflow or launch plan (``kind``: the store's resource type, which is
    flyteidl's); InvalidArgument for a bad identifier, NotFound with Admin's message when it is missing."""
    validate_identifier(store, ident, kind)
    row = store.get_entity(kind, ident.project, ident.domain, ident.name, ident.version)
    if row is None:
        raise NotFound(f"{_ENTITY_LABELS[kind]} [{ident_str(ident)}] does not exist")
    return row


def list_entity_rows(
    store: Store, kind: int, request: common_pb2.ResourceListRequest, columns: Mapping[str, listing.Column]
) -> tuple[list[EntityRow], str]:
    """One page of a List{Tasks,Workflows,LaunchPlans} request, and the token of the next page."""
    validate_project_domain(store, request.id.project, request.id.domain)
    page = page_for(request, columns, _ENTITY_LABELS[kind].replace(" ", "_"))
    rows = store.list_entities(kind, request.id.project, request.id.domain, request.id.name, page)
    return rows, next_token(page, rows)


def insert_version(
    store: Store,
    ident: identifier_pb2.Identifier,
    *,
    spec: Message,
    closure: Message,
    structure: Message,
    registered: Callable[[EntityRow], Message],
    state: int | None = None,
    exists: Callable[[str], AdminError] = AlreadyExists,
    differs: Callable[[str], AdminError] = InvalidArgument,
) -> None:
    """Store a new version of a task, workflow or launch plan, or refuse it as Admin does when the id exists:
    the same ``structure`` (its digest, or the same spec) → ``exists`` (ALREADY_EXISTS: identical structure),
    else ``differs`` (INVALID_ARGUMENT) with a diff between ``registered(stored row)`` and ``structure``.
    ``structure`` is what identifies the version (the compiled task or workflow, the launch plan's spec)."""
    label = _ENTITY_LABELS[ident.resource_type]
    new_digest = digest(structure)
    spec_bytes = spec.SerializeToString(deterministic=True)
    existing = store.insert_entity(
        ident.resource_type,
        ident.project,
        ident.domain,
        ident.name,
        ident.version,
        digest=new_digest,
        spec=spec_bytes,
        closure=closure.SerializeToString(deterministic=True),
        state=state,
    )
    if existing is None:
        return
    if existing.digest == new_digest or existing.spec == spec_bytes:
        raise exists(f"{label} [{ident_str(ident)}] with identical structure already exists")
    raise differs(
        f"{label} [{ident_str(ident)}] with different structure already exists. "
        f"(Please register a new version of the {label}):\n{structure_diff(registered(existing), structure)}"
    )
