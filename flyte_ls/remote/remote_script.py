"""Serializing *flytekit* objects for :meth:`RegisterMixin.register_script`: the only place in
:mod:`flyte_ls.remote` that touches flytekit, and only inside its functions, when a caller hands it flytekit
objects (so flytekit is already importable and imported in that process).

The language server itself registers the specs its worker serialized; this path is for scripts that hold
flytekit entities, as flytekit's ``FlyteRemote.register_script``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyte_ls.remote.errors import FlyteUserException


@dataclass(frozen=True)
class Serialized:
    """The admin protos of an entity and everything it needs, in registration order (tasks first)."""

    tasks: list[Any]  # flyteidl.admin.task_pb2.TaskSpec
    workflows: list[Any]  # flyteidl.admin.workflow_pb2.WorkflowSpec
    launch_plans: list[tuple[Any, bool]]  # (flyteidl.admin.launch_plan_pb2.LaunchPlan, auto-activate)
    kind: str  # the entity's own resource type: "task", "workflow" or "launch_plan"


def entity_module_file(entity: Any) -> Path:
    """The file of the module the flytekit entity was defined in."""
    module_name = str(getattr(entity, "instantiated_in", None) or getattr(entity, "__module__", ""))
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path:
        raise FlyteUserException(
            f"cannot tell which file defines {getattr(entity, 'name', entity)!r}: pass source_path="
        )
    return Path(path).resolve()


def default_source_root(module_file: Path) -> Path:
    """The first ancestor directory that is not a package (has no ``__init__.py``), as flytekit."""
    folder = module_file.parent
    while (folder / "__init__.py").exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def loaded_module_files(source_root: Path, module_name: str | None = None) -> list[str]:
    """The files of the imported modules that lie under ``source_root`` (flytekit's script mode), with
    ``module_name``'s (imported now if it is not yet)."""
    if module_name and module_name not in sys.modules:
        import importlib

        importlib.import_module(module_name)
    root = str(source_root.resolve()) + os.sep
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and os.path.abspath(path).startswith(root) and path.endswith(".py"):
            files.add(os.path.abspath(path))
    return sorted(files)


def image_name(image_config: Any) -> str:
    """What identifies the image settings in the version hash: an image name as is, flytekit's
    ``ImageConfig`` by its default image's full name and its images'."""
    if image_config is None or isinstance(image_config, str):
        return image_config or ""
    images = [getattr(image_config, "default_image", None), *(getattr(image_config, "images", None) or [])]
    return ",".join(str(getattr(image, "full", image)) for image in images if image is not None)


def version_hash(md5: bytes, *parts: str) -> str:
    """A version from the uploaded archive's md5 and the settings that shape the specs, in flytekit's format
    (22 url-safe base64 characters); reproducible from the same code and settings on any machine."""
    h = hashlib.md5(md5)
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return base64.urlsafe_b64encode(h.digest()).decode().rstrip("=")


def serialize(
    entity: Any,
    *,
    project: str,
    domain: str,
    version: str,
    image_config: Any,
    package_url: str,
    destination_dir: str,
    source_root: Path,
    default_launch_plan: bool,
    options: Any = None,
    envs: dict[str, str] | None = None,
    default_resources: Any = None,
) -> Serialized:
    """flytekit's serializer on ``entity`` (a task, workflow or launch plan) with fast-register settings;
    ``image_config`` is flytekit's ``ImageConfig``, an image name, or ``None`` (flytekit's default image)."""
    from flytekit.configuration import FastSerializationSettings, ImageConfig, SerializationSettings
    from flytekit.core.launch_plan import LaunchPlan
    from flytekit.core.workflow import WorkflowBase
    from flytekit.models import launch_plan as lp_models
    from flytekit.models import task as task_models
    from flytekit.models.admin import workflow as wf_models
    from flytekit.tools.translator import get_serializable

    if image_config is None:
        image_config = ImageConfig.auto_default_image()
    elif isinstance(image_config, str):
        image_config = ImageConfig.auto(img_name=image_config)
    settings = SerializationSettings(
        image_config=image_config,
        env=envs,
        default_resources=default_resources,
        project=project,
        domain=domain,
        version=version,
        source_root=str(source_root),
        fast_serialization_settings=FastSerializationSettings(
            enabled=True, destination_dir=destination_dir, distribution_location=package_url
        ),
    )
    entities: OrderedDict[Any, Any] = OrderedDict()
    get_serializable(entities, settings, entity, options)
    if default_launch_plan and isinstance(entity, WorkflowBase):
        get_serializable(entities, settings, LaunchPlan.get_or_create(entity), options)
    kind = (
        "launch_plan"
        if isinstance(entity, LaunchPlan)
        else "workflow"
        if isinstance(entity, WorkflowBase)
        else "task"
    )
    out = Serialized([], [], [], kind)
    for model in entities.values():
        if type(model).__module__.startswith("flytekit.remote"):
            continue  # fetched remote entities are registered already
        if isinstance(model, task_models.TaskSpec):
            out.tasks.append(model.to_flyte_idl())
        elif isinstance(model, wf_models.WorkflowSpec):
            out.workflows.append(model.to_flyte_idl())
        elif isinstance(model, lp_models.LaunchPlan):
            out.launch_plans.append((model.to_flyte_idl(), bool(model.should_auto_activate)))
    return out
