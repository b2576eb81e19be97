"""Serialize a flytekit entity, and everything it needs, into flyteidl protos.

:func:`serialize` answers the worker's ``serialize`` request (run in a forked child by :mod:`.isolate`, so
edited user code is imported afresh): it imports the user's module by its dotted name under the source root,
finds the entity and serializes it with the registration placeholders, which the server fills when it
registers. :func:`serialize_entity` is the one serializer, also used by :mod:`flyte_ls.remote.remote_script`.

flytekit is imported inside the functions (the worker imports it once at start; the server's side imports
this module without it).
"""

from __future__ import annotations

import base64
import importlib
import os
import sys
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = "{{ registration.project }}"
DOMAIN = "{{ registration.domain }}"
VERSION = "{{ registration.version }}"

# JSON-RPC error codes of the serialize request
IMPORT_ERROR = -32001
ENTITY_ERROR = -32002
SERIALIZE_ERROR = -32003

_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class RequestError(Exception):
    """A request failed in a way the user can act on: its JSON-RPC error code, kind, message and data."""

    def __init__(self, code: int, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.kind, self.message = code, kind, message
        self.data = {"kind": kind, "frames": [], "traceback": "", **(data or {})}

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


@dataclass
class Serialized:
    """The flyteidl protos of an entity and everything it needs, in registration order (tasks first)."""

    tasks: list[Any] = field(default_factory=list)  # flyteidl.admin.task_pb2.TaskSpec
    workflows: list[Any] = field(default_factory=list)  # flyteidl.admin.workflow_pb2.WorkflowSpec
    launch_plans: list[tuple[Any, bool]] = field(default_factory=list)  # (admin LaunchPlan, auto-activate)
    kind: str = "task"  # the entity's own resource type: "task", "workflow" or "launch_plan"


def serialization_settings(
    image: Any,
    *,
    project: str = PROJECT,
    domain: str = DOMAIN,
    version: str = VERSION,
    source_root: str | os.PathLike[str] | None = None,
    destination_dir: str = ".",
    distribution_location: str | None = None,
    env: dict[str, str] | None = None,
    default_resources: Any = None,
) -> Any:
    """flytekit's ``SerializationSettings`` for fast registration. ``image`` is an ``ImageConfig``, an image
    name or ``None`` (flytekit's default image); without ``distribution_location`` flytekit writes the
    ``{{ .remote_package_path }}`` placeholder into the container args, as ``pyflyte package --fast``."""
    from flytekit.configuration import FastSerializationSettings, ImageConfig, SerializationSettings

    if image is None or image == "":
        image = ImageConfig.auto_default_image()
    elif isinstance(image, str):
        image = ImageConfig.auto(img_name=image)
    return SerializationSettings(
        image_config=image,
        env=env,
        default_resources=default_resources,
        project=project,
        domain=domain,
        version=version,
        source_root=None if source_root is None else str(source_root),
        fast_serialization_settings=FastSerializationSettings(
            enabled=True, destination_dir=destination_dir, distribution_location=distribution_location
        ),
    )


def entity_kind(entity: Any) -> str | None:
    """ "task", "workflow" or "launch_plan" for a flytekit entity defined in code, else ``None``."""
    from flytekit.core.base_task import Task
    from flytekit.core.launch_plan import LaunchPlan
    from flytekit.core.reference_entity import ReferenceEntity
    from flytekit.core.workflow import WorkflowBase

    if isinstance(entity, ReferenceEntity):
        return None
    if isinstance(entity, LaunchPlan):
        return "launch_plan"
    if isinstance(entity, WorkflowBase):
        return "workflow"
    if isinstance(entity, Task):
        return "task"
    return None


def serialize_entity(
    entity: Any, settings: Any, *, default_launch_plan: bool = True, options: Any = None
) -> Serialized:
    """flytekit's serializer on ``entity`` (a task, workflow or launch plan) and what it uses — tasks,
    sub-workflows, launch plans it calls, and for a workflow its default launch plan when
    ``default_launch_plan``. Entities fetched from a backend (flytekit.remote) are left out: they are
    registered already."""
    from flytekit.core.launch_plan import LaunchPlan
    from flytekit.core.workflow import WorkflowBase
    from flytekit.models import launch_plan as lp_models
    from flytekit.models import task as task_models
    from flytekit.models.admin import workflow as wf_models
    from flytekit.tools.translator import get_serializable

    entities: OrderedDict[Any, Any] = OrderedDict()
    get_serializable(entities, settings, entity, options)
    if default_launch_plan and isinstance(entity, WorkflowBase):
        get_serializable(entities, settings, LaunchPlan.get_or_create(entity), options)
    out = Serialized(kind=entity_kind(entity) or "task")
    for model in entities.values():
        if type(model).__module__.startswith("flytekit.remote"):
            continue
        if isinstance(model, task_models.TaskSpec):
            out.tasks.append(model.to_flyte_idl())
        elif isinstance(model, wf_models.WorkflowSpec):
            out.workflows.append(model.to_flyte_idl())
        elif isinstance(model, lp_models.LaunchPlan):
            out.launch_plans.append((model.to_flyte_idl(), bool(model.should_auto_activate)))
    return out


# --- the worker's request -------------------------------------------------------------------------------


def module_name(file: str, source_root: str) -> str:
    """The dotted module name of ``file`` relative to ``source_root`` (a package's ``__init__.py`` is the
    package)."""
    try:
        rel = Path(os.path.abspath(file)).relative_to(os.path.abspath(source_root))
    except ValueError:
        rel = Path("-")  # not under the source root: not importable by a module name
    parts = list(rel.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(part.isidentifier() for part in parts):
        raise RequestError(
            IMPORT_ERROR, "import", f"{file} is not an importable module under the source root {source_root}"
        )
    return ".".join(parts)


def serialize(params: dict[str, Any]) -> dict[str, Any]:
    """The ``serialize`` request: ``{file, entity, sourceRoot, image?}`` → the result the brief describes
    (protos as base64 of their deterministic bytes). Raises :class:`RequestError`."""
    file, name, root = str(params["file"]), str(params["entity"]), os.path.abspath(params["sourceRoot"])
    entity = _load(file, name, root)
    kind = entity_kind(entity)
    if kind is None:
        raise RequestError(
            ENTITY_ERROR,
            "entity",
            f"{name} in {file} is not a task, workflow or launch plan (it is a {type(entity).__name__})",
        )
    try:
        settings = serialization_settings(params.get("image"), source_root=root)
        out = serialize_entity(entity, settings)
        interface, defaults = _interface_and_defaults(entity, kind, out)
    except Exception as exc:
        message = f"serializing {name} failed: {_one_line(exc)}"
        raise _failure(SERIALIZE_ERROR, "serialize", message, exc) from None
    return {
        "target": {"resourceType": kind.upper(), "name": entity.name},
        "tasks": [_b64(spec) for spec in out.tasks],
        "workflows": [_b64(spec) for spec in out.workflows],
        "launchPlans": [{"spec": _b64(lp), "autoActivate": auto} for lp, auto in out.launch_plans],
        "files": loaded_files(root),
        "image": settings.image_config.default_image.full,
        "interface": _b64(interface),
        "defaults": {key: _b64(literal) for key, literal in sorted(defaults.items())},
    }


def loaded_files(source_root: str) -> list[str]:
    """The source files under ``source_root`` of the modules imported so far — the user's code, not the
    installed packages of an environment that lives under it (``.venv/``: its prefix, ``site-packages``)."""
    root = os.path.abspath(source_root) + os.sep
    installed = tuple(
        os.path.abspath(p) + os.sep for p in {sys.prefix, sys.exec_prefix, sys.base_prefix} if p
    )
    files = set()
    for module in list(sys.modules.values()):
        # Read the module's namespace without attribute access: a lazily loaded module (flytekit's
        # lazy_module, importlib's LazyLoader) would be imported by it — joblib and friends, ~25 ms a request.
        try:
            namespace = object.__getattribute__(module, "__dict__")
        except AttributeError:
            continue
        path = namespace.get("__file__")
        if not isinstance(path, str) or not path.endswith(".py"):
            continue
        path = os.path.abspath(path)
        parts = path.split(os.sep)
        if (
            path.startswith(root)
            and not path.startswith(_HERE)
            and not any(path.startswith(prefix) and prefix != root for prefix in installed)
            and "site-packages" not in parts
            and "dist-packages" not in parts
        ):
            files.add(path)
    return sorted(files)


def _load(file: str, name: str, root: str) -> Any:
    dotted = module_name(file, root)
    sys.path.insert(0, root)
    # a module of that name the worker imported itself (not the user's) must not shadow the user's
    parts = dotted.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        loaded = sys.modules.get(prefix)
        if loaded is not None and not str(getattr(loaded, "__file__", "") or "").startswith(root + os.sep):
            del sys.modules[prefix]
    try:
        module = importlib.import_module(dotted)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, GeneratorExit)):
            raise
        raise _failure(IMPORT_ERROR, "import", f"importing {dotted} failed: {_one_line(exc)}", exc) from None
    if not hasattr(module, name):
        raise RequestError(ENTITY_ERROR, "entity", f"{dotted} ({file}) has no {name!r}")
    return getattr(module, name)


def _interface_and_defaults(entity: Any, kind: str, out: Serialized) -> tuple[Any, dict[str, Any]]:
    """The target's TypedInterface and its default inputs as literals: a launch plan's (a workflow's default
    launch plan's) defaults, a task's signature defaults (``pyflyte run`` applies them client side)."""
    from flyteidl.core import interface_pb2

    if kind == "task":
        from flytekit.core.context_manager import FlyteContextManager
        from flytekit.core.interface import transform_inputs_to_parameters

        spec = next(t for t in out.tasks if t.template.id.name == entity.name)
        params = transform_inputs_to_parameters(
            FlyteContextManager.current_context(), entity.python_interface
        )
        defaults = {k: p.default for k, p in params.parameters.items() if p.default is not None}
        return spec.template.interface, {k: v.to_flyte_idl() for k, v in defaults.items()}
    lp_name = entity.name
    lp = next((lp for lp, _ in out.launch_plans if lp.id.name == lp_name), None)
    wf_name = lp.spec.workflow_id.name if lp is not None else entity.name
    wf = next((w for w in out.workflows if w.template.id.name == wf_name), None)
    interface = interface_pb2.TypedInterface()
    if wf is not None:
        interface.CopyFrom(wf.template.interface)
    defaults = {}
    if lp is not None:
        for key, param in lp.spec.default_inputs.parameters.items():
            if param.HasField("default"):
                defaults[key] = param.default
        if kind == "launch_plan":
            for key in lp.spec.fixed_inputs.literals:
                if key in interface.inputs.variables:
                    del interface.inputs.variables[key]
    return interface, defaults


def _b64(message: Any) -> str:
    return base64.b64encode(message.SerializeToString(deterministic=True)).decode("ascii")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _failure(code: int, kind: str, message: str, exc: BaseException) -> RequestError:
    return RequestError(
        code,
        kind,
        message,
        {
            "frames": frames(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        },
    )


def frames(exc: BaseException) -> list[dict[str, Any]]:
    """The traceback of ``exc`` as ``{file, line, name}``, innermost last: only frames whose file exists,
    none of the worker's own; a syntax error adds its own line."""
    out = [
        {"file": os.path.abspath(f.filename), "line": f.lineno or 0, "name": f.name}
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.isfile(f.filename) and not os.path.abspath(f.filename).startswith(_HERE)
    ]
    if isinstance(exc, SyntaxError) and exc.filename and os.path.isfile(exc.filename):
        out.append({"file": os.path.abspath(exc.filename), "line": exc.lineno or 0, "name": "<module>"})
    return out
