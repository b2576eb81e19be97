"""Tasks registered from a notebook (flytekit's interactive mode): what the local backend adds to running
them.

Such a task runs like any fast-registered one: its args are ``pyflyte-fast-execute --additional-distribution
<pkl.gz> --dest-dir . -- pyflyte-execute ... --resolver
flytekit.core.python_auto_container.default_notebook_task_resolver -- entity-name <name>``, so flytekit's own
entrypoint copies the gzipped cloudpickle into the attempt's working dir and the resolver loads the entity
from ``./pkl.gz``. The runner needs nothing special for that. This module only makes two failures say what
to do here instead of on a cluster:

- the pickle is gone from the backend's uploads (a cleaned state dir): the node fails at once, naming the
  file and the fix, instead of retrying a crashing ``pyflyte-fast-execute`` as a system error;
- the Python of the task interpreter differs from the notebook kernel's: flytekit's message advises another
  container image, which means nothing locally; the backend's ``--python`` is what to change.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from flyteidl.core import execution_pb2, tasks_pb2

NOTEBOOK_RESOLVER = "flytekit.core.python_auto_container.default_notebook_task_resolver"
PICKLE_NAME = "pkl.gz"  # flytekit's PICKLE_FILE_PATH: the name the resolver opens in the working dir
# flytekit's two version-mismatch messages (DefaultNotebookTaskResolver.load_task) both say this
_MISMATCH = "used to create the pickle file"
_PICKLED_WITH = re.compile(r"Python version used to create the pickle file: (\d+)\.(\d+)[.\d]*")
_CURRENT = re.compile(r"Current Python version: (\d+\.\d+)")


def _args(template: tasks_pb2.TaskTemplate) -> list[str]:
    return [*template.container.command, *template.container.args]


def is_notebook_task(template: tasks_pb2.TaskTemplate) -> bool:
    """Whether ``template`` loads its entity with flytekit's notebook resolver (a map task's too)."""
    return NOTEBOOK_RESOLVER in _args(template)


def pickle_location(template: tasks_pb2.TaskTemplate) -> str | None:
    """The ``--additional-distribution`` of a notebook task when it is its pickle, else None."""
    if not is_notebook_task(template):
        return None
    args = _args(template)
    for flag, value in itertools.pairwise(args):
        if flag == "--additional-distribution" and value.rsplit("/", 1)[-1] == PICKLE_NAME:
            return value
    return None


def missing_pickle(template: tasks_pb2.TaskTemplate) -> str | None:
    """Why the notebook task cannot start — its pickle is a local path that no longer exists — or None.

    Only plain absolute paths are checked (what this backend's DataProxy hands out); anything else is left
    to flytekit's download."""
    location = pickle_location(template)
    if location is None or not location.startswith("/") or Path(location).is_file():
        return None
    return (
        f"task {template.id.name} was registered from a notebook, and its pickled code {location} is no "
        "longer in the backend's uploads (was the state dir cleaned?). Register it again from the notebook "
        "(the same cells give the same version, and the pickle is uploaded again)."
    )


def explain_error(
    template: tasks_pb2.TaskTemplate, error: execution_pb2.ExecutionError, python: str
) -> execution_pb2.ExecutionError:
    """``error`` plus the local fix when flytekit refused the notebook's pickle for its Python version."""
    if not is_notebook_task(template) or _MISMATCH not in error.message:
        return error
    current = _CURRENT.search(error.message)
    here = f"Python {current.group(1)}" if current else "its Python"
    pickled = _PICKLED_WITH.search(error.message)
    kernel = f"Python {pickled.group(1)}.{pickled.group(2)}" if pickled else "the notebook kernel's Python"
    hint = (
        f"\n\nThe local backend runs tasks with {python} ({here}); the notebook's pickle needs {kernel}. "
        f"Start the backend with an interpreter of {kernel} that has flytekit "
        "(flyte-ls local start --python /path/to/python), or run the notebook on a kernel of "
        f"{here} and register it again."
    )
    explained = execution_pb2.ExecutionError()
    explained.CopyFrom(error)
    explained.message = error.message + hint
    return explained
