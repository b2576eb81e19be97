"""Uploading code and registering serialized entities: :class:`RegisterMixin` of the remote client.

Written against :class:`~flyte_ls.remote.remote.RemoteBase`'s attributes only (``config``,
``default_project``, ``default_domain``, ``async _call(rpc, request, *, kind, timeout=None)``), so it mixes
into ``AsyncFlyteRemote``; the sync facade runs the same coroutines.

The entities are the *serialized* specs flytekit's serializer produces (``pyflyte package`` writes them as
``NN_<name>_1.pb`` TaskSpec, ``_2.pb`` WorkflowSpec, ``_3.pb`` LaunchPlan): the language server's worker
produces them in the user's interpreter, so this module never imports flytekit. Blank or placeholder
project/domain/version fields of the ids (and of the references inside a workflow) are filled from the
arguments, and a fast-registered task's ``{{ .remote_package_path }}`` / ``{{ .dest_dir }}`` from
``package_url`` / ``dest_dir`` — what ``pyflyte register`` / ``flytectl register files`` do to a package.
``register_script`` / ``fast_register_workflow`` take flytekit objects instead: they serialize them with
flytekit through :mod:`.remote_script`, which imports flytekit only when called.

How it differs from flytekit's FlyteRemote (../shared/reference/flytekit-remote.md §2, §3):

* ``ALREADY_EXISTS`` (the identical entity is registered) returns the id, without the retries flytekit
  sends first; the same id with a different structure raises :class:`FlyteInvalidInputException` saying to
  use a new version;
* ``upload_file`` hashes the file's current bytes (never cached by path), streams the PUT off the event
  loop with every header the server asked for, and honours ``insecure_skip_verify`` / ``ca_cert_file_path``
  and ``http_proxy_url``.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2
from flyteidl.service import dataproxy_pb2

from flyte_ls.remote import packaging, remote_script
from flyte_ls.remote.errors import FlyteException, FlyteInvalidInputException, FlyteUserException
from flyte_ls.remote.identifiers import Identifier, ResourceType

if TYPE_CHECKING:
    from flyte_ls.remote.config import Config
    from flyte_ls.remote.transport import Kind

PACKAGE_PLACEHOLDER = "{{ .remote_package_path }}"
DEST_DIR_PLACEHOLDER = "{{ .dest_dir }}"
_PLACEHOLDERS = ("", "{{ registration.project }}", "{{ registration.domain }}", "{{ registration.version }}")
UPLOAD_TIMEOUT_S = 300.0


class FlyteUploadException(FlyteUserException):
    """The PUT to a signed upload URL was refused (the server's answer is in the message)."""

    error_code = "USER:UploadFailed"


class RegisterMixin:
    """upload_file / fast_package / register_task / register_workflow / register_launch_plan /
    register_script / fast_register_workflow."""

    if TYPE_CHECKING:  # provided by RemoteBase
        config: Config
        default_project: str | None
        default_domain: str | None

        async def _call(self, rpc: str, request: Any, *, kind: Kind, timeout: float | None = None) -> Any: ...

    def _project_domain(self, project: str | None, domain: str | None) -> tuple[str, str]:
        project, domain = project or self.default_project, domain or self.default_domain
        if not project or not domain:
            raise FlyteUserException(
                "no project/domain to register or upload into: pass project= and domain=, or create the "
                "remote with default_project= and default_domain="
            )
        return project, domain

    # --- upload ---------------------------------------------------------------------------------------------

    async def upload_file(
        self,
        to_upload: str | os.PathLike[str],
        project: str | None = None,
        domain: str | None = None,
        filename_root: str | None = None,
    ) -> tuple[bytes, str]:
        """Upload a local file through Admin's DataProxy: ``CreateUploadLocation`` (with the file's md5), then
        a PUT of its bytes to the signed URL with ``Content-MD5`` and every header the server returned.
        Returns ``(md5 bytes, native_url)``; the native URL is what tasks and inputs refer to."""
        project, domain = self._project_domain(project, domain)
        local = Path(to_upload)
        if not local.is_file():
            raise FlyteUserException(
                f"cannot upload {local}: it is not a file (upload directories as archives)"
            )
        md5 = await asyncio.to_thread(packaging.file_md5, local)
        request = dataproxy_pb2.CreateUploadLocationRequest(
            project=project,
            domain=domain,
            filename=local.name,
            content_md5=md5,
            filename_root=filename_root or "",
            add_content_md5_metadata=True,
        )
        location = await self._call("CreateUploadLocation", request, kind="create")
        headers = packaging.upload_headers(
            md5, local.stat().st_size, dict(location.headers), location.native_url
        )
        await asyncio.to_thread(_put, location.signed_url, local, headers, self.config)
        return md5, location.native_url

    async def fast_package(
        self,
        root: str | os.PathLike[str],
        deref_symlinks: bool = False,
        output: str | os.PathLike[str] | None = None,
        options: Any = None,
        *,
        project: str | None = None,
        domain: str | None = None,
        mode: packaging.Mode | None = None,
        modules: Iterable[str | os.PathLike[str]] | None = None,
        ignores: Iterable[str] = (),
        keep_default_ignores: bool = True,
    ) -> tuple[bytes, str, packaging.Package]:
        """Package ``root`` (:func:`flyte_ls.remote.packaging.fast_package`) into ``output`` (default: a
        temporary folder) and upload the archive. Returns ``(md5 bytes, native_url, package)``; pass the
        native URL as ``package_url`` when registering the tasks that run from it.

        ``options`` may be flytekit's ``FastPackageOptions`` (its ``ignores``, ``keep_default_ignores`` and
        ``copy_style`` — ``ALL`` is the whole tree, ``LOADED_MODULES`` the imported modules' files); the
        keyword arguments override it. ``mode`` defaults to ``"whole-tree"``."""
        ignores = (*_option(options, "ignores", ()), *ignores)
        keep_default_ignores = keep_default_ignores and _option(options, "keep_default_ignores", True)
        if mode is None:
            style = str(getattr(_option(options, "copy_style", None), "name", ""))
            mode = "loaded-modules" if style == "LOADED_MODULES" else "whole-tree"
            if mode == "loaded-modules" and modules is None:
                modules = remote_script.loaded_module_files(Path(root).resolve())
        import tempfile  # imported when packaging, not with the client

        with tempfile.TemporaryDirectory(prefix="flyte-fast-") as tmp:
            package = await asyncio.to_thread(
                packaging.fast_package,
                root,
                output or tmp,
                mode=mode,
                modules=modules,
                deref_symlinks=deref_symlinks,
                ignores=ignores,
                keep_default_ignores=keep_default_ignores,
            )
            md5, url = await self.upload_file(package.path, project, domain)
        return md5, url, package

    # --- register -------------------------------------------------------------------------------------------

    async def register_task(
        self,
        spec: task_pb2.TaskSpec,
        project: str | None = None,
        domain: str | None = None,
        version: str | None = None,
        *,
        package_url: str | None = None,
        dest_dir: str | None = None,
    ) -> Identifier:
        """Register a serialized task (``CreateTask``) and return its id. Blank/placeholder id fields are
        filled from the arguments (the remote's defaults for project/domain); ``package_url`` (a fast
        archive's native URL) replaces the ``{{ .remote_package_path }}`` placeholder of its container."""
        spec = _copy(spec)
        ident = self._fill(spec.template.id, project, domain, version)
        _fill_container(spec.template, package_url, dest_dir)
        request = task_pb2.TaskCreateRequest(id=ident, spec=spec)
        return await self._create("CreateTask", request, ident)

    async def register_workflow(
        self,
        spec: workflow_pb2.WorkflowSpec,
        project: str | None = None,
        domain: str | None = None,
        version: str | None = None,
    ) -> Identifier:
        """Register a serialized workflow (``CreateWorkflow``) and return its id. Blank/placeholder fields of
        its id, of its sub-workflows' ids and of the task / sub-workflow / launch plan references of their
        nodes are filled from the arguments. Its tasks (and launch plans it calls) must be registered first;
        register its launch plan (``pyflyte package``'s ``_3.pb``) with :meth:`register_launch_plan`."""
        spec = _copy(spec)
        ident = self._fill(spec.template.id, project, domain, version)
        fill = (ident.project, ident.domain, ident.version)
        for template in (spec.template, *spec.sub_workflows):
            _fill_id(template.id, *fill)
            for node in template.nodes:
                _fill_node(node, *fill)
        request = workflow_pb2.WorkflowCreateRequest(id=ident, spec=spec)
        return await self._create("CreateWorkflow", request, ident)

    async def register_launch_plan(
        self,
        spec: launch_plan_pb2.LaunchPlan | launch_plan_pb2.LaunchPlanSpec,
        version: str | None = None,
        project: str | None = None,
        domain: str | None = None,
        *,
        name: str | None = None,
        activate: bool = False,
    ) -> Identifier:
        """Register a launch plan (``CreateLaunchPlan``) and return its id; ``activate=True`` then makes it
        the active version (``UpdateLaunchPlan``; Admin deactivates the previous one). Given as
        ``pyflyte package``'s ``LaunchPlan`` (id + spec) or a bare ``LaunchPlanSpec`` with ``name`` (default:
        its workflow's name). Blank/placeholder fields, including the workflow id's, are filled."""
        if isinstance(spec, launch_plan_pb2.LaunchPlan):
            given_id, lp_spec = spec.id, _copy(spec.spec)
        else:
            lp_spec = _copy(spec)
            given_id = identifier_pb2.Identifier(name=name or lp_spec.workflow_id.name)
        given_id = _copy(given_id)
        given_id.resource_type = identifier_pb2.LAUNCH_PLAN
        if name:
            given_id.name = name
        ident = self._fill(given_id, project, domain, version)
        _fill_id(lp_spec.workflow_id, ident.project, ident.domain, ident.version)
        request = launch_plan_pb2.LaunchPlanCreateRequest(id=ident, spec=lp_spec)
        result = await self._create("CreateLaunchPlan", request, ident)
        if activate:
            update = launch_plan_pb2.LaunchPlanUpdateRequest(id=ident, state=launch_plan_pb2.ACTIVE)
            await self._call("UpdateLaunchPlan", update, kind="update")
        return result

    async def register_script(
        self,
        entity: Any,
        image_config: Any = None,
        version: str | None = None,
        project: str | None = None,
        domain: str | None = None,
        destination_dir: str = ".",
        copy_all: bool = False,
        default_launch_plan: bool = True,
        options: Any = None,
        source_path: str | os.PathLike[str] | None = None,
        module_name: str | None = None,
        envs: dict[str, str] | None = None,
        default_resources: Any = None,
        fast_package_options: Any = None,
    ) -> Identifier:
        """Fast-register a *flytekit* task, workflow or launch plan (flytekit is imported only here): package
        the code under ``source_path`` (default: the first non-package folder above the entity's module;
        the imported modules' files, or the whole tree with ``copy_all`` or ``fast_package_options`` whose
        ``copy_style`` is ``ALL``), upload it, serialize the entity and what it uses with flytekit, and
        register them (a workflow with its default launch plan). ``version`` defaults to a hash of the archive
        and the settings. Returns the entity's id.

        flytekit's parameters: ``image_config`` (an ``ImageConfig`` or an image name), ``options`` (for the
        launch plans), ``envs`` and ``default_resources`` (into the serialization settings); ``module_name``
        names a module whose file must be packaged too."""
        project, domain = self._project_domain(project, domain)
        if source_path is not None:
            root = Path(source_path).resolve()
        else:
            root = remote_script.default_source_root(remote_script.entity_module_file(entity))
        style = str(getattr(_option(fast_package_options, "copy_style", None), "name", ""))
        whole_tree = copy_all or style == "ALL"
        modules = None
        if not whole_tree:
            modules = remote_script.loaded_module_files(root, module_name)
        md5, url, _ = await self.fast_package(
            root,
            options=fast_package_options,
            project=project,
            domain=domain,
            mode="whole-tree" if whole_tree else "loaded-modules",
            modules=modules,
        )
        name = str(getattr(entity, "name", ""))
        image = remote_script.image_name(image_config)
        settings = [project, domain, image, name, destination_dir, str(default_launch_plan)]
        if envs or default_resources:
            settings += [repr(sorted((envs or {}).items())), repr(default_resources)]
        version = version or remote_script.version_hash(md5, *settings)
        serialized = await asyncio.to_thread(
            remote_script.serialize,
            entity,
            project=project,
            domain=domain,
            version=version,
            image_config=image_config,
            package_url=url,
            destination_dir=destination_dir,
            source_root=root,
            default_launch_plan=default_launch_plan,
            options=options,
            envs=envs,
            default_resources=default_resources,
        )
        await asyncio.gather(
            *(self.register_task(spec, project, domain, version) for spec in serialized.tasks)
        )
        for wf_spec in serialized.workflows:
            await self.register_workflow(wf_spec, project, domain, version)
        for lp, auto_activate in serialized.launch_plans:
            await self.register_launch_plan(lp, version, project, domain, activate=auto_activate)
        kind = {"task": ResourceType.TASK, "workflow": ResourceType.WORKFLOW}.get(
            serialized.kind, ResourceType.LAUNCH_PLAN
        )
        return Identifier(kind, project, domain, name, version)

    async def fast_register_workflow(
        self,
        entity: Any,
        serialization_settings: Any = None,
        version: str | None = None,
        default_launch_plan: bool = True,
        options: Any = None,
        fast_package_options: Any = None,
        *,
        project: str | None = None,
        domain: str | None = None,
        **kwargs: Any,
    ) -> Identifier:
        """:meth:`register_script` for a flytekit workflow in script mode (the imported modules' files).
        ``serialization_settings`` (flytekit's) supplies project, domain, image, environment and version
        where the arguments do not."""
        ss = serialization_settings
        if ss is not None:
            project = project or getattr(ss, "project", None) or None
            domain = domain or getattr(ss, "domain", None) or None
            version = version or getattr(ss, "version", None) or None
            kwargs.setdefault("image_config", getattr(ss, "image_config", None))
            kwargs.setdefault("envs", getattr(ss, "env", None))
        return await self.register_script(
            entity,
            version=version,
            project=project,
            domain=domain,
            default_launch_plan=default_launch_plan,
            options=options,
            fast_package_options=fast_package_options,
            **kwargs,
        )

    def _fill(
        self, ident: identifier_pb2.Identifier, project: str | None, domain: str | None, version: str | None
    ) -> identifier_pb2.Identifier:
        project = project or (None if ident.project in _PLACEHOLDERS else ident.project)
        domain = domain or (None if ident.domain in _PLACEHOLDERS else ident.domain)
        project, domain = self._project_domain(project, domain)
        version = version or (None if ident.version in _PLACEHOLDERS else ident.version)
        if not version:
            raise FlyteUserException(f"{ident.name or 'the entity'} has no version: pass version=")
        if not ident.name:
            raise FlyteUserException("the spec's id has no name: serialize the entity with its name")
        ident.project, ident.domain, ident.version = project, domain, version
        return ident

    async def _create(self, rpc: str, request: Any, ident: identifier_pb2.Identifier) -> Identifier:
        result = Identifier.from_proto(ident)
        try:
            await self._call(rpc, request, kind="create")
        except FlyteException as err:
            if err.code == grpc.StatusCode.ALREADY_EXISTS:
                return result  # the identical entity is registered already: fine
            if err.code == grpc.StatusCode.INVALID_ARGUMENT and "different structure" in err.details:
                raise FlyteInvalidInputException(
                    f"{result} is already registered with a different structure; a registered version "
                    f"cannot change: register under a new version ({err.details})",
                    code=err.code,
                    method=rpc,
                    details=err.details,
                ) from err
            raise
        return result


def _option(options: Any, name: str, default: Any) -> Any:
    """A field of flytekit's ``FastPackageOptions`` (or any object with it), else ``default``."""
    value = getattr(options, name, None)
    return default if value is None else value


def _copy(message: Any) -> Any:
    clone = type(message)()
    clone.CopyFrom(message)
    return clone


def _fill_id(ident: identifier_pb2.Identifier, project: str, domain: str, version: str) -> None:
    if ident.project in _PLACEHOLDERS:
        ident.project = project
    if ident.domain in _PLACEHOLDERS:
        ident.domain = domain
    if ident.version in _PLACEHOLDERS:
        ident.version = version


def _fill_node(node: core_workflow_pb2.Node, project: str, domain: str, version: str) -> None:
    """Fill the references of a node and of the nodes it contains (branches, array nodes)."""
    if node.HasField("task_node"):
        _fill_id(node.task_node.reference_id, project, domain, version)
    elif node.HasField("workflow_node"):
        wf = node.workflow_node
        _fill_id(
            wf.launchplan_ref if wf.HasField("launchplan_ref") else wf.sub_workflow_ref,
            project,
            domain,
            version,
        )
    elif node.HasField("branch_node"):
        if_else = node.branch_node.if_else
        for inner in (if_else.case.then_node, *(block.then_node for block in if_else.other)):
            _fill_node(inner, project, domain, version)
        if if_else.HasField("else_node"):
            _fill_node(if_else.else_node, project, domain, version)
    elif node.HasField("array_node"):
        _fill_node(node.array_node.node, project, domain, version)


def _fill_container(template: Any, package_url: str | None, dest_dir: str | None) -> None:
    if not template.HasField("container"):
        return
    args = template.container.args
    for i, arg in enumerate(args):
        if arg == PACKAGE_PLACEHOLDER and package_url:
            args[i] = package_url
        elif arg == DEST_DIR_PLACEHOLDER and dest_dir:
            args[i] = dest_dir
    if PACKAGE_PLACEHOLDER in args:
        raise FlyteUserException(
            f"task {template.id.name} runs from a fast-registered archive: upload it (fast_package or "
            "upload_file) and pass its native URL as package_url="
        )


def _put(url: str, path: Path, headers: dict[str, str], config: Config) -> None:
    """PUT the file to a signed URL (blocking: run off the event loop)."""
    import urllib.error  # uploads only: not imported with the client
    import urllib.request

    handlers: list[urllib.request.BaseHandler] = []
    if config.http_proxy_url:
        proxy = config.http_proxy_url
        handlers.append(urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=config.ca_cert_file_path or None)
        if config.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    with open(path, "rb") as body:
        request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
        try:
            with opener.open(request, timeout=UPLOAD_TIMEOUT_S) as response:
                status = response.status
        except urllib.error.HTTPError as err:
            answer = err.read().decode(errors="replace")[:500]
            raise FlyteUploadException(
                f"uploading {path.name} was refused with HTTP {err.code}: {answer or err.reason}; "
                "check the file did not change during the upload and retry"
            ) from None
        except urllib.error.URLError as err:
            raise FlyteUploadException(
                f"uploading {path.name} failed: {err.reason}; check the storage endpoint is reachable "
                "(and http_proxy_url / no_proxy)"
            ) from None
    if status not in (200, 201, 204):
        raise FlyteUploadException(f"uploading {path.name} got HTTP {status}; expected 200 or 201")


__all__ = ["FlyteUploadException", "RegisterMixin"]
