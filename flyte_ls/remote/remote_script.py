"""Serializing *flytekit* objects for :meth:`RegisterMixin.register_script`: the only place in
:mod:`flyte_ls.remote` that touches flytekit, and only inside its functions, when a caller hands it flytekit
objects (so flytekit is already importable and imported in that process).

The language server itself registers the specs its worker serialized; this path is for scripts that hold
flytekit entities, as flytekit's ``FlyteRemote.register_script``.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path
from typing import Any

from flyte_ls.remote.errors import FlyteUserException
from flyte_ls.worker.serialize import Serialized


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
    from flyte_ls.worker.serialize import loaded_files

    return loaded_files(str(source_root.resolve()))


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
    """flytekit's serializer on ``entity`` (a task, workflow or launch plan) with fast-register settings —
    the worker's (:func:`flyte_ls.worker.serialize.serialize_entity`), one implementation; ``image_config``
    is flytekit's ``ImageConfig``, an image name, or ``None`` (flytekit's default image)."""
    from flyte_ls.worker import serialize as worker

    settings = worker.serialization_settings(
        image_config,
        project=project,
        domain=domain,
        version=version,
        source_root=source_root,
        destination_dir=destination_dir,
        distribution_location=package_url,
        env=envs,
        default_resources=default_resources,
    )
    return worker.serialize_entity(entity, settings, default_launch_plan=default_launch_plan, options=options)
