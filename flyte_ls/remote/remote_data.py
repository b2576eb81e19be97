"""Data and backfills: :class:`DataMixin` of the remote client — ``download`` and ``launch_backfill``.

``download`` (../shared/reference/flytekit-remote.md §2) walks literals and copies what they point at into a
local directory, through fsspec (the local backend's URIs are plain absolute paths; ``s3://`` and friends get
the configured ``storage`` credentials). A file goes to ``<dir>/<name>``, a directory to ``<dir>/<name>/``,
a collection to ``<dir>/<name>/<index>``, a map to ``<dir>/<name>/<key>``, anything else to
``<dir>/<name>.json``. An offloaded literal (``offloaded_metadata``: a large output flytekit keeps in the
store) is read from the store and saved as what it holds; store errors name the object (and, for access
denied, the credential settings to check) and never the secret.
Names that are not a single plain path component (``..``, ``a/b``) are refused, and no file is ever written
outside the target directory.

``launch_backfill`` (§7) builds the backfill workflow directly as a ``WorkflowTemplate`` of launch-plan nodes
(one per cron tick in ``(from_date, to_date)``, both exclusive like flytekit's), registers it with its default
launch plan (``CreateWorkflow`` + ``CreateLaunchPlan``) and runs it. Unlike flytekit, the default version has
no ``=`` padding (Admin refuses it), ``schedule=`` may replace the launch plan's, and ``dry_run`` returns the
:class:`BackfillPlan` without any write RPC.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import grpc
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2, node_execution_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2
from flyteidl.core import workflow_pb2 as core_wf_pb2

from flyte_ls.remote.entities import FlyteWorkflowExecution
from flyte_ls.remote.errors import FlyteException
from flyte_ls.remote.identifiers import Identifier, ResourceType
from flyte_ls.remote.literals_python import to_json

if TYPE_CHECKING:
    from flyte_ls.remote.config import Config
    from flyte_ls.remote.remote import AsyncFlyteRemote
    from flyte_ls.remote.transport import Kind

FailurePolicy = core_wf_pb2.WorkflowMetadata.OnFailurePolicy
_MULTIPART = 1  # core.BlobType.BlobDimensionality.MULTIPART


@dataclass
class BackfillPlan:
    """What a backfill runs: the workflow (``template``), the launch plan its nodes launch, one kickoff time
    per node, and the version it is (or would be) registered under."""

    template: core_wf_pb2.WorkflowTemplate
    launch_plan: Identifier
    kickoff_times: list[datetime.datetime] = field(default_factory=list)
    version: str = ""

    @property
    def workflow(self) -> Identifier:
        return Identifier.from_proto(self.template.id)


class DataMixin:
    """download / launch_backfill, over :class:`RemoteBase` (and the fetch/execute mixins)."""

    if TYPE_CHECKING:  # provided by RemoteBase
        config: Config
        default_project: str | None
        default_domain: str | None

        async def _call(self, rpc: str, request: Any, *, kind: Kind, timeout: float | None = None) -> Any: ...

    def _client(self) -> AsyncFlyteRemote:
        """This object as the client it is mixed into: id resolution (FetchMixin._resolve_id), execution ids
        and execute (ExecuteMixin) are used from there, with their one declaration."""
        return cast("AsyncFlyteRemote", self)

    # --- download -----------------------------------------------------------------------------------------

    async def download(
        self,
        data: Any,
        download_to: str | os.PathLike[str],
        recursive: bool = True,
        *,
        which: str = "outputs",
    ) -> dict[str, Path]:
        """Copy ``data`` into the directory ``download_to`` (created if needed); returns each name's path.

        ``data``: a ``LiteralMap``, a mapping of names to ``Literal``, one ``Literal`` (saved as ``data``), or
        an execution / node execution (object, id or proto) whose ``which`` (``"outputs"`` or ``"inputs"``)
        are fetched with ``GetExecutionData`` / ``GetNodeExecutionData``. ``recursive=False`` saves only the
        top-level values that are not collections or maps.
        """
        literals = await inline_data(self.config, await self._literals_of(data, which))
        target = Path(download_to).expanduser().resolve()
        storage = _storage_options(self.config)
        return await asyncio.to_thread(_download_all, literals.literals, target, recursive, storage)

    async def _literals_of(self, data: Any, which: str) -> literals_pb2.LiteralMap:
        if which not in ("outputs", "inputs"):
            raise ValueError(f"which={which!r}: give 'outputs' or 'inputs'")
        if isinstance(data, literals_pb2.LiteralMap):
            return data
        if isinstance(data, literals_pb2.Literal):
            return literals_pb2.LiteralMap(literals={"data": data})
        if isinstance(data, Mapping) and all(isinstance(v, literals_pb2.Literal) for v in data.values()):
            return literals_pb2.LiteralMap(literals=data)
        ident = getattr(data, "id", data)
        if isinstance(ident, identifier_pb2.NodeExecutionIdentifier):
            request: Any = node_execution_pb2.NodeExecutionGetDataRequest(id=ident)
            response = await self._call("GetNodeExecutionData", request, kind="read")
        else:
            try:
                exec_id = self._client()._execution_id(data).to_proto()
            except TypeError:
                raise TypeError(
                    f"cannot download {type(data).__name__}: pass a LiteralMap, a Literal, a mapping of "
                    "Literals, or an execution / node execution (or its id or name)"
                ) from None
            request = execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id)
            response = await self._call("GetExecutionData", request, kind="read")
        return await inline_data(self.config, getattr(response, f"full_{which}"), getattr(response, which))

    # --- backfill -----------------------------------------------------------------------------------------

    async def launch_backfill(
        self,
        project: str | None,
        domain: str | None,
        from_date: datetime.datetime,
        to_date: datetime.datetime,
        launchplan: Any,
        launchplan_version: str | None = None,
        execution_name: str | None = None,
        version: str | None = None,
        dry_run: bool = False,
        execute: bool = True,
        parallel: bool = False,
        failure_policy: Any = None,
        overwrite_cache: bool | None = None,
        schedule: str | None = None,
    ) -> FlyteWorkflowExecution | BackfillPlan:
        """Run ``launchplan`` once per tick of its cron schedule (or ``schedule``) in ``(from_date, to_date)``
        as one backfill execution: nodes chained one after the other, or all at once with ``parallel=True``.

        ``failure_policy``: a ``WorkflowMetadata.OnFailurePolicy`` value, flytekit's ``WorkflowFailurePolicy``
        (any enum whose value is one), or its name (default: fail immediately).
        ``dry_run=True`` returns the :class:`BackfillPlan` without registering; ``execute=False`` registers
        and returns the plan. ``version`` must be URL-safe (Admin's rule); the default is a digest of the
        range and the launch plan, without base64 padding.
        """
        if from_date >= to_date:
            raise ValueError(f"from_date {from_date} must be before to_date {to_date}")
        failure_policy = _failure_policy(failure_policy)
        lp_name, lp_version = _launch_plan_ref(launchplan, launchplan_version)
        lp_id = await self._client()._resolve_id(
            ResourceType.LAUNCH_PLAN, project, domain, lp_name, lp_version
        )
        lp = await self._call("GetLaunchPlan", common_pb2.ObjectGetRequest(id=lp_id.to_proto()), kind="read")
        cron, kickoff_arg = _cron_of(lp, schedule)
        ticks = _ticks(cron, from_date, to_date)
        if not ticks:
            raise ValueError(
                f"schedule {cron!r} has no tick between {from_date} and {to_date} (both excluded): widen it"
            )
        if version is None:
            key = f"{ticks[0]}-{ticks[-1]}-{lp_id.name}-{lp_id.version}-{cron}-{parallel}-{failure_policy}"
            version = base64.urlsafe_b64encode(hashlib.md5(key.encode()).digest()).decode().rstrip("=")
        elif "=" in version or "/" in version:
            raise ValueError(f"version {version!r}: Admin accepts URL-safe versions only (no '=' or '/')")
        wf_id = Identifier(
            ResourceType.WORKFLOW, lp_id.project, lp_id.domain, f"backfill-{lp_id.name}", version
        )
        template = _template(wf_id, lp_id, ticks, kickoff_arg, parallel, failure_policy)
        plan = BackfillPlan(template, lp_id, ticks, version)
        if dry_run:
            return plan
        await self._register_backfill(plan)
        if not execute:
            return plan
        default_lp = Identifier(ResourceType.LAUNCH_PLAN, wf_id.project, wf_id.domain, wf_id.name, version)
        return await self._client().execute(
            default_lp, {}, execution_name=execution_name, overwrite_cache=overwrite_cache
        )

    async def _register_backfill(self, plan: BackfillPlan) -> None:
        wf_id = plan.template.id
        lp_id = identifier_pb2.Identifier()
        lp_id.CopyFrom(wf_id)
        lp_id.resource_type = identifier_pb2.LAUNCH_PLAN
        await _create(
            self,
            "CreateWorkflow",
            workflow_pb2.WorkflowCreateRequest(
                id=wf_id, spec=workflow_pb2.WorkflowSpec(template=plan.template)
            ),
        )
        spec = launch_plan_pb2.LaunchPlanSpec(
            workflow_id=wf_id,
            entity_metadata=launch_plan_pb2.LaunchPlanMetadata(),
            default_inputs=interface_pb2.ParameterMap(),
            fixed_inputs=literals_pb2.LiteralMap(),
        )
        await _create(self, "CreateLaunchPlan", launch_plan_pb2.LaunchPlanCreateRequest(id=lp_id, spec=spec))


async def _create(remote: DataMixin, rpc: str, request: Any) -> None:
    """Create; the same backfill registered again (same version) is fine."""
    try:
        await remote._call(rpc, request, kind="create")
    except FlyteException as err:
        if err.code != grpc.StatusCode.ALREADY_EXISTS:
            raise


def _failure_policy(policy: Any) -> int | None:
    """``OnFailurePolicy`` as its int: an int, an enum member whose value is one (flytekit's
    ``WorkflowFailurePolicy``), or its name; ``None`` stays ``None`` (the default)."""
    if policy is None:
        return None
    value = getattr(policy, "value", policy)
    if isinstance(value, str) and value in FailurePolicy.keys():
        value = FailurePolicy.Value(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in FailurePolicy.values():
        names = ", ".join(FailurePolicy.keys())
        raise ValueError(
            f"failure_policy {policy!r}: give one of {names} (flytekit's WorkflowFailurePolicy too)"
        )
    return int(value)


def _launch_plan_ref(launchplan: Any, version: str | None) -> tuple[str, str | None]:
    if launchplan is None:
        raise ValueError("launchplan is required: a launch plan name, entity or Identifier")
    if isinstance(launchplan, str):
        return launchplan, version
    ident = getattr(launchplan, "id", launchplan)
    if isinstance(ident, identifier_pb2.Identifier):
        ident = Identifier.from_proto(ident)
    if not isinstance(ident, Identifier):
        raise TypeError(f"not a launch plan: {launchplan!r}")
    return ident.name, version or ident.version


def _cron_of(lp: launch_plan_pb2.LaunchPlan, schedule: str | None) -> tuple[str, str]:
    """The cron expression (``schedule`` or the launch plan's) and the kickoff-time input ('' if none)."""
    sched = lp.spec.entity_metadata.schedule
    kickoff_arg = sched.kickoff_time_input_arg
    if schedule is not None:
        return schedule, kickoff_arg
    kind = sched.WhichOneof("ScheduleExpression") if lp.spec.entity_metadata.HasField("schedule") else None
    if kind is None:
        raise ValueError(
            f"launch plan {lp.id.name}:{lp.id.version} has no schedule: give schedule='<cron>' or pick a "
            "scheduled launch plan"
        )
    if kind != "cron_schedule":
        raise NotImplementedError(
            f"launch plan {lp.id.name} has a {kind} schedule: only cron schedules can be backfilled (pass "
            "schedule='<cron>' to backfill it on a cron instead)"
        )
    return sched.cron_schedule.schedule, kickoff_arg


def _ticks(cron: str, start: datetime.datetime, end: datetime.datetime) -> list[datetime.datetime]:
    from croniter import croniter  # only backfills need it

    it = croniter(cron, start_time=start)
    ticks: list[datetime.datetime] = []
    while True:
        tick = it.get_next(datetime.datetime)
        if tick >= end:
            return ticks
        ticks.append(tick)


def _template(
    wf_id: Identifier,
    lp_id: Identifier,
    ticks: list[datetime.datetime],
    kickoff_arg: str,
    parallel: bool,
    failure_policy: int | None,
) -> core_wf_pb2.WorkflowTemplate:
    nodes = []
    for i, tick in enumerate(ticks):
        inputs = []
        if kickoff_arg:
            value = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive()))
            stamp = tick if tick.tzinfo else tick.replace(tzinfo=datetime.timezone.utc)
            value.scalar.primitive.datetime.FromDatetime(stamp)
            inputs.append(
                literals_pb2.Binding(var=kickoff_arg, binding=literals_pb2.BindingData(scalar=value.scalar))
            )
        node = core_wf_pb2.Node(
            id=f"n{i}",
            metadata=core_wf_pb2.NodeMetadata(
                name=f"b-{tick}", retries=literals_pb2.RetryStrategy(retries=0)
            ),
            inputs=inputs,
            upstream_node_ids=[] if parallel or i == 0 else [f"n{i - 1}"],
            workflow_node=core_wf_pb2.WorkflowNode(launchplan_ref=lp_id.to_proto()),
        )
        nodes.append(node)
    return core_wf_pb2.WorkflowTemplate(
        id=wf_id.to_proto(),
        metadata=core_wf_pb2.WorkflowMetadata(on_failure=failure_policy or FailurePolicy.FAIL_IMMEDIATELY),
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(), outputs=interface_pb2.VariableMap()
        ),
        nodes=nodes,
        metadata_defaults=core_wf_pb2.WorkflowMetadataDefaults(),
    )


# --- download helpers ---------------------------------------------------------------------------------------


def _storage_options(config: Config) -> dict[str, Any]:
    """s3fs options from the configured storage (``storage.connection.*`` / ``FLYTE_AWS_*``): credentials,
    endpoint, region and addressing style. They hold the secret: never log them or put them in a message."""
    s = config.storage
    options: dict[str, Any] = {}
    if s.access_key_id:
        options["key"] = s.access_key_id
    if s.secret_access_key:
        options["secret"] = s.secret_access_key
    client: dict[str, Any] = {}
    if s.endpoint:
        client["endpoint_url"] = s.endpoint
    if s.region:
        client["region_name"] = s.region
    if client:
        options["client_kwargs"] = client
    if s.addressing_style:
        options["config_kwargs"] = {"s3": {"addressing_style": s.addressing_style}}
    return options


def _filesystem(uri: str, storage: dict[str, Any]) -> tuple[Any, str]:
    """The fsspec filesystem for ``uri`` (s3:// with the configured storage) and the path in it."""
    from fsspec.core import url_to_fs

    return url_to_fs(uri, **(storage if uri.startswith(("s3://", "s3a://")) else {}))


def _safe_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"refusing to download {name!r}: not a plain file name (it could escape the target)")
    return name


def _inside(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise ValueError(f"refusing to write {path}: outside {root}")
    return resolved


def _download_all(
    literals: Mapping[str, literals_pb2.Literal], root: Path, recursive: bool, storage: dict[str, Any]
) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    saved: dict[str, Path] = {}
    for name, literal in literals.items():  # offloaded ones were read already (inline_data)
        dest = root / _safe_name(name)
        nested = literal.HasField("collection") or literal.HasField("map")
        if nested and not recursive:
            continue
        saved[name] = _save(literal, root, dest, storage)
    return saved


def _save(literal: literals_pb2.Literal, root: Path, dest: Path, storage: dict[str, Any]) -> Path:
    _inside(root, dest)
    if literal.HasField("offloaded_metadata"):  # one nested in a collection or map
        return _save(_inlined(literal, storage), root, dest, storage)
    if literal.HasField("collection"):
        dest.mkdir(parents=True, exist_ok=True)
        for i, item in enumerate(literal.collection.literals):
            _save(item, root, dest / str(i), storage)
        return dest
    if literal.HasField("map"):
        dest.mkdir(parents=True, exist_ok=True)
        for key, item in literal.map.literals.items():
            _save(item, root, dest / _safe_name(key), storage)
        return dest
    scalar = literal.scalar
    if literal.HasField("scalar") and scalar.HasField("blob"):
        return _fetch(
            scalar.blob.uri, scalar.blob.metadata.type.dimensionality == _MULTIPART, root, dest, storage
        )
    if literal.HasField("scalar") and scalar.HasField("structured_dataset"):
        return _fetch(scalar.structured_dataset.uri, None, root, dest, storage)
    if literal.HasField("scalar") and scalar.HasField("union"):
        return _save(scalar.union.value, root, dest, storage)
    target = _inside(root, dest.with_name(dest.name + ".json"))
    target.write_text(json.dumps(to_json(literal), indent=2, default=str) + "\n")
    return target


@contextlib.contextmanager
def _reading(uri: str) -> Iterator[None]:
    """Store errors name the object and what to check (fsspec's own messages often name neither)."""
    try:
        yield
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{uri} does not exist in the store ({err})") from err
    except PermissionError as err:
        raise PermissionError(
            f"{uri}: access denied ({err}); check the storage credentials (storage.connection.access-key /"
            " secret-key in the config file, or FLYTE_AWS_ACCESS_KEY_ID / FLYTE_AWS_SECRET_ACCESS_KEY)"
        ) from err


def _literal_map_at(url: str, storage: dict[str, Any]) -> literals_pb2.LiteralMap:
    """The LiteralMap stored at ``url``: a signed http(s) URL (read with urllib) or a store URI (fsspec)."""
    with _reading(url.split("?", 1)[0]):  # a signed URL's query holds the signature: keep it out of errors
        if url.startswith(("http://", "https://")):
            import urllib.error
            import urllib.request

            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    data = response.read()
            except urllib.error.HTTPError as err:
                if err.code == 404:
                    raise FileNotFoundError(str(err)) from None
                raise
        else:
            fs, path = _filesystem(url, storage)
            data = fs.cat_file(path)
    literal_map = literals_pb2.LiteralMap()
    literal_map.ParseFromString(data)
    return literal_map


def _offloaded(uri: str, storage: dict[str, Any]) -> literals_pb2.Literal:
    literal = literals_pb2.Literal()
    with _reading(uri):
        fs, path = _filesystem(uri, storage)
        literal.ParseFromString(fs.cat_file(path))
    return literal


def _inlined(literal: literals_pb2.Literal, storage: dict[str, Any]) -> literals_pb2.Literal:
    """An offloaded literal as what it holds (a large output flytekit keeps in the store, at
    ``<output prefix>/<name>_offloaded_metadata.pb``); any other literal as it is."""
    if not literal.HasField("offloaded_metadata"):
        return literal
    held = _offloaded(literal.offloaded_metadata.uri, storage)
    if held.HasField("offloaded_metadata"):
        raise ValueError(f"offloaded literal {literal.offloaded_metadata.uri} points at another one")
    return held


def _needs_reading(full: literals_pb2.LiteralMap, blob: Any) -> bool:
    if not full.literals:
        return blob is not None and bool(blob.url) and blob.bytes > 0
    return any(literal.HasField("offloaded_metadata") for literal in full.literals.values())


def _read_inline(
    full: literals_pb2.LiteralMap, blob: Any, storage: dict[str, Any]
) -> literals_pb2.LiteralMap:
    if not full.literals and blob is not None and blob.url and blob.bytes > 0:
        full = _literal_map_at(blob.url, storage)
    if not any(literal.HasField("offloaded_metadata") for literal in full.literals.values()):
        return full
    inlined = literals_pb2.LiteralMap()
    for name, literal in full.literals.items():
        inlined.literals[name].CopyFrom(_inlined(literal, storage))
    return inlined


async def inline_data(
    config: Config, full: literals_pb2.LiteralMap, blob: Any = None
) -> literals_pb2.LiteralMap:
    """Inputs or outputs as Admin returned them (``full_inputs`` / ``full_outputs``), with what it did not
    inline read from where it is: an empty map whose deprecated UrlBlob ``blob`` (``inputs`` / ``outputs``,
    ``bytes > 0``) points at the data — read from that URL — and offloaded literals, read from the store
    with the configured storage. Without either, ``full`` itself and no I/O; the reads run off the loop."""
    if not _needs_reading(full, blob):
        return full
    return await asyncio.to_thread(_read_inline, full, blob, _storage_options(config))


async def inline_literal(config: Config, literal: literals_pb2.Literal) -> literals_pb2.Literal:
    """One literal, an offloaded one read from the store (see :func:`inline_data`)."""
    if not literal.HasField("offloaded_metadata"):
        return literal
    return await asyncio.to_thread(_inlined, literal, _storage_options(config))


def _fetch(uri: str, is_dir: bool | None, root: Path, dest: Path, storage: dict[str, Any]) -> Path:
    with _reading(uri):
        return _copy(uri, is_dir, root, dest, storage)


def _copy(uri: str, is_dir: bool | None, root: Path, dest: Path, storage: dict[str, Any]) -> Path:
    fs, path = _filesystem(uri, storage)
    if is_dir is None:
        is_dir = bool(fs.isdir(path))
    if not is_dir:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(path, str(dest))
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    base = path.rstrip("/")
    for remote in fs.find(path):
        rel = remote[len(base) :].lstrip("/") if remote.startswith(base) else ""
        parts = rel.split("/")
        if not rel or any(p in ("", ".", "..") or "\\" in p for p in parts):
            raise ValueError(f"refusing to download {remote!r}: its name would escape {dest}")
        local = _inside(root, dest.joinpath(*parts))
        local.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(remote, str(local))
    return dest
