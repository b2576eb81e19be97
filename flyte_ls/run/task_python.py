"""The Python a notebook's tasks will run on, known before anything is pickled or uploaded.

A notebook entity is pickled (flytekit's interactive mode) and a pickle loads only on the Python major.minor
that made it, so the worker refuses to pickle when the task interpreter's differs (``pythonVersionCheck``).
:func:`task_python` chooses that Python:

1. the local backend is what commands use (auto-started, ``flyte.backend`` = ``"local"``, or found running by
   ``flyte-ls local status``): its task interpreter's ``python_version`` — the local backend ignores images;
2. otherwise ``flyte.image`` when its tag names a Python with one clear ``py<major>.<minor>`` token
   (``cr.flyte.org/flyteorg/flytekit:py3.10-1.16.0`` → ``3.10``);
3. otherwise unknown (None): flytekit's default image is chosen from the notebook interpreter's own version,
   so it matches; an image whose tag says nothing cannot be checked here.

:func:`mismatch_message` says what to change, in the editor's terms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOCAL = "local"
IMAGE = "image"

# `py3.10` between the tag's start or a `-`/`_` and its end or a `-`/`_`: not `python3.10`, not `py310`
_PY_TOKEN = re.compile(r"(?:^|[-_])py(\d+)\.(\d+)(?=$|[-_])")


@dataclass(frozen=True)
class TaskPython:
    """The Python tasks run on (``3.11.7`` or ``3.10``), where that comes from (:data:`LOCAL`: the local
    backend's interpreter, ``where`` its path; :data:`IMAGE`: ``flyte.image``, ``where`` the image)."""

    version: str
    source: str
    where: str


def image_python(image: str | None) -> str | None:
    """``3.10`` for an image whose tag has one clear ``py3.10`` token (``...flytekit:py3.10-1.16.0``), else
    None (no tag, no such token, or tokens naming different versions)."""
    if not image:
        return None
    name = image.strip().rsplit("/", 1)[-1]  # a registry's `host:port/` is not a tag
    if ":" not in name:
        return None
    tag = name.rsplit(":", 1)[1]
    found = {f"{m.group(1)}.{m.group(2)}" for m in _PY_TOKEN.finditer(tag)}
    return found.pop() if len(found) == 1 else None


def task_python(local_status: Mapping[str, Any] | None, image: str | None) -> TaskPython | None:
    """The Python tasks will run on (module docstring): ``local_status`` is ``flyte-ls local status --json``
    of the local backend when that is the backend commands use (else None), ``image`` the ``flyte.image``
    setting. None: unknown, nothing to check."""
    if local_status is not None:
        version = str(local_status.get("python_version") or "")
        # A backend started before the version was recorded: unknown (the backend reports a mismatch
        # itself when the task runs). The image does not matter there.
        return TaskPython(version, LOCAL, str(local_status.get("python", ""))) if version else None
    from_image = image_python(image)
    if from_image is not None and image:
        return TaskPython(from_image, IMAGE, image)
    return None


def major_minor(version: str) -> str:
    """``3.11`` of ``3.11.7``."""
    return ".".join(version.split(".")[:2])


def mismatch_message(notebook_python: str | None, notebook_version: str, tasks: TaskPython) -> str:
    """Why a notebook entity is not pickled and what to change: the notebook's interpreter
    (``flyte.pythonPath``; the kernel's) is Python ``notebook_version``, its tasks run on ``tasks``."""
    mine, theirs = major_minor(notebook_version), major_minor(tasks.version)
    interpreter = f" {notebook_python}" if notebook_python else ""
    head = (
        f"the notebook's interpreter{interpreter} (flyte.pythonPath: select the kernel's interpreter) "
        f"is Python {notebook_version}, but its tasks would run on Python {tasks.version}"
    )
    why = "A notebook task is pickled, and a pickle loads only on the Python major.minor that made it"
    if tasks.source == LOCAL:
        return (
            f"{head}, the local backend's interpreter {tasks.where} (`flyte-ls local start --python`). "
            f"{why}: stop the local backend (Flyte: Stop Local Backend, command flyte.stopLocalBackend; "
            "the next run starts it with the notebook's interpreter) or start it with a Python "
            f"{mine} interpreter (`flyte-ls local start --python /path/to/python{mine}`), or select a "
            f"Python {theirs} interpreter for the notebook."
        )
    return (
        f"{head}, the image's: flyte.image is {tasks.where}. {why}: set flyte.image to an image with "
        f"Python {mine} (a tag with py{mine}, e.g. cr.flyte.org/flyteorg/flytekit:py{mine}-<flytekit "
        f"version>), clear flyte.image (flytekit's default image matches the notebook's Python), or select "
        f"a Python {theirs} interpreter for the notebook."
    )
