"""Register what the worker serialized: package the loaded source files, upload the archive, register the
tasks, workflows and launch plans under a version derived from their content. An entity defined in
notebook cells (:func:`register_notebook_entity`) uploads the worker's ``pkl.gz`` instead of an archive.

The version is a hash of the archive's md5, every spec's deterministic protobuf bytes, the image and the
project/domain: the same code and settings give the same version on any machine (so registering unchanged
code again is a series of ``ALREADY_EXISTS``, which is success), and any change to a packaged file or to what
the serializer produced gives a new one. The specs still hold the worker's placeholders
(``{{ registration.version }}``, ``{{ .remote_package_path }}``) when hashed; :mod:`flyte_ls.remote`'s
``register_*`` fill them.

No LSP types here: the server's commands, the demo and the benchmark call :func:`register` alike.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2

from flyte_ls.remote import packaging
from flyte_ls.remote.entities import walk_nodes
from flyte_ls.remote.errors import FlyteUserException
from flyte_ls.remote.identifiers import Identifier, ResourceType

if TYPE_CHECKING:
    from flyte_ls.remote.remote import AsyncFlyteRemote

NOTEBOOK_PICKLE = "pkl.gz"  # the name flytekit's task runtime downloads and its notebook resolver opens

Step = Callable[[str], None]
"""Progress callback: called with "packaging", "uploading", then "registering"."""

_KINDS = {
    "TASK": ResourceType.TASK,
    "WORKFLOW": ResourceType.WORKFLOW,
    "LAUNCH_PLAN": ResourceType.LAUNCH_PLAN,
    "LAUNCHPLAN": ResourceType.LAUNCH_PLAN,
}


class RegistrationError(FlyteUserException):
    """The entity cannot be registered as serialized; the message says what to change."""

    error_code = "USER:RegistrationError"


class Serialized(Protocol):
    """What :func:`register` reads from the worker's result (``flyte_ls.run.worker_client.WorkerResult``)."""

    @property
    def tasks(self) -> Sequence[task_pb2.TaskSpec]: ...

    @property
    def workflows(self) -> Sequence[workflow_pb2.WorkflowSpec]: ...

    @property
    def launch_plans(self) -> Sequence[tuple[launch_plan_pb2.LaunchPlan, bool]]: ...

    @property
    def target(self) -> Any: ...  # (resource type, flyte name): a pair or an object with those attributes

    @property
    def files(self) -> Sequence[str]: ...

    @property
    def image(self) -> str: ...


@dataclass(frozen=True)
class Registration:
    """One registration: the version, the entity to run (``target``), everything registered, where the
    console shows it, the packaged files (POSIX paths relative to the source root), the archive's digest
    (the ``fast<digest>.tar.gz`` name) and its uploaded URL."""

    version: str
    target: Identifier
    entities: list[Identifier]
    console_url: str
    packaged_files: list[str]
    digest: str
    package_url: str = ""


async def register(
    remote: AsyncFlyteRemote,
    result: Serialized,
    *,
    source_root: str | Path,
    project: str,
    domain: str,
    version: str | None = None,
    on_step: Step | None = None,
) -> Registration:
    """Package ``result.files`` (the source files under ``source_root`` that the worker's import loaded),
    upload the archive, and register ``result``'s tasks (concurrently), workflows and launch plans into
    ``project``/``domain`` under ``version`` (default: the content hash described in the module docstring).
    A launch plan is activated only when its spec asks for it (``auto_activate``), as ``pyflyte run``.
    Registering identical entities again is not an error."""
    step = on_step or (lambda _name: None)
    name = target_of(result)[1]
    if not result.files:
        raise RegistrationError(
            f"nothing to package for {name}: the import loaded no source file under {source_root}; "
            "open the file inside the workspace folder it belongs to"
        )
    step("packaging")
    tmp = await asyncio.to_thread(tempfile.mkdtemp, prefix="flyte-ls-package-")
    try:
        package = await asyncio.to_thread(
            packaging.fast_package, source_root, tmp, mode="loaded-modules", modules=result.files
        )
        step("uploading")
        md5, package_url = await remote.upload_file(package.path, project, domain)
    finally:
        await asyncio.to_thread(shutil.rmtree, tmp, True)
    return await _register_uploaded(
        remote, result, project, domain, version, md5, package_url, step,
        packaged_files=list(package.files), digest=package.digest,
    )  # fmt: skip


async def register_notebook_entity(
    remote: AsyncFlyteRemote,
    result: Serialized,
    pickle_path: str | Path,
    *,
    project: str,
    domain: str,
    version: str | None = None,
    on_step: Step | None = None,
) -> Registration:
    """Register an entity defined in notebook cells, as flytekit's interactive mode does: upload the
    worker's ``pkl.gz`` (the pickled entities; it is the tasks' distribution, which their runtime
    downloads and the notebook task resolver loads) and register ``result``'s specs with its URL, under
    ``version`` (default: :func:`version_of` the ``pkl.gz``'s md5 — the same cells give the same pickle —
    the specs, image, project and domain). Registering identical entities again is not an error."""
    step = on_step or (lambda _name: None)
    name = target_of(result)[1]
    path = Path(pickle_path)
    if path.name != NOTEBOOK_PICKLE:
        raise RegistrationError(
            f"{path} is not a notebook pickle: the task runtime loads only a file named {NOTEBOOK_PICKLE}"
        )
    if not path.is_file():
        raise RegistrationError(f"the pickle of {name} is gone ({path}): serialize the notebook again")
    step("uploading")
    md5, pickle_url = await remote.upload_file(path, project, domain)
    return await _register_uploaded(
        remote, result, project, domain, version, md5, pickle_url, step, packaged_files=[], digest=md5.hex()
    )


async def _register_uploaded(
    remote: AsyncFlyteRemote,
    result: Serialized,
    project: str,
    domain: str,
    version: str | None,
    md5: bytes,
    url: str,
    step: Step,
    *,
    packaged_files: list[str],
    digest: str,
) -> Registration:
    """Register ``result``'s specs with the uploaded distribution ``url`` under ``version`` (default: the
    content version of its ``md5``): what both the file and the notebook paths end with."""
    kind, name = target_of(result)
    version = version or version_of(md5, result, project, domain)
    step("registering")
    entities = await _register_all(remote, result, project, domain, version, url)
    target = Identifier(kind, project, domain, name, version)
    return Registration(
        version=version,
        target=target,
        entities=entities,
        console_url=remote.generate_console_url(target),
        packaged_files=packaged_files,
        digest=digest,
        package_url=url,
    )


def version_of(archive_md5: bytes, result: Serialized, project: str, domain: str) -> str:
    """The content version: 22 url-safe base64 characters (flytekit's format) of a sha256 over the archive's
    md5, each spec's deterministic bytes, each launch plan's auto-activation, the image, project and domain.
    Every part is length-prefixed, so no two different inputs share a byte stream."""
    h = hashlib.sha256()

    def part(data: bytes) -> None:
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)

    part(archive_md5)
    for spec in (*result.tasks, *result.workflows):
        part(spec.SerializeToString(deterministic=True))
    for lp, auto_activate in result.launch_plans:
        part(lp.SerializeToString(deterministic=True) + (b"\1" if auto_activate else b"\0"))
    for text in (result.image, project, domain):
        part(text.encode())
    return base64.urlsafe_b64encode(h.digest()[:16]).decode().rstrip("=")


def target_of(result: Serialized) -> tuple[ResourceType, str]:
    """The result's target as (resource type, name); the type may be given as "TASK" / "WORKFLOW" /
    "LAUNCH_PLAN", a :class:`ResourceType` or flyteidl's number."""
    target = result.target
    kind: Any
    if isinstance(target, dict):
        kind, name = target.get("resourceType", target.get("resource_type")), target.get("name")
    elif hasattr(target, "resource_type"):
        kind, name = target.resource_type, target.name
    else:
        kind, name = target
    if isinstance(kind, str):
        resource_type = _KINDS.get(kind.upper())
        if resource_type is None:
            raise RegistrationError(f"unknown target type {kind!r}: expected TASK, WORKFLOW or LAUNCH_PLAN")
    else:
        resource_type = ResourceType(int(kind))
    return resource_type, str(name)


async def _register_all(
    remote: AsyncFlyteRemote,
    result: Serialized,
    project: str,
    domain: str,
    version: str,
    package_url: str,
) -> list[Identifier]:
    """Tasks first, all at once; then workflows and launch plans in dependency order: a launch plan after
    its workflow, a workflow after the launch plans its nodes call (Admin compiles against them)."""
    tasks = await asyncio.gather(
        *(
            remote.register_task(spec, project, domain, version, package_url=package_url)
            for spec in result.tasks
        )
    )
    workflows = {spec.template.id.name: spec for spec in result.workflows}
    launch_plans = {lp.id.name: (lp, activate) for lp, activate in result.launch_plans}
    done: dict[tuple[str, str], Identifier] = {}
    visiting: set[tuple[str, str]] = set()

    async def workflow(name: str) -> None:
        key = ("wf", name)
        if key in done or key in visiting:
            return
        visiting.add(key)
        spec = workflows[name]
        for called in _called_launch_plans(spec):
            if called in launch_plans:
                await launch_plan(called)
        done[key] = await remote.register_workflow(spec, project, domain, version)

    async def launch_plan(name: str) -> None:
        key = ("lp", name)
        if key in done or key in visiting:
            return
        visiting.add(key)
        lp, activate = launch_plans[name]
        if lp.spec.workflow_id.name in workflows:
            await workflow(lp.spec.workflow_id.name)
        done[key] = await remote.register_launch_plan(lp, version, project, domain, activate=activate)

    for name in workflows:
        await workflow(name)
    for name in launch_plans:
        await launch_plan(name)
    return [*tasks, *done.values()]


def _called_launch_plans(spec: workflow_pb2.WorkflowSpec) -> list[str]:
    names = []
    for template in (spec.template, *spec.sub_workflows):
        for node in walk_nodes(template.nodes):
            if node.HasField("workflow_node") and node.workflow_node.HasField("launchplan_ref"):
                names.append(node.workflow_node.launchplan_ref.name)
    return names
