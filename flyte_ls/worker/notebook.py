"""Pickle an entity defined in notebook cells, in the format of flytekit's interactive mode.

:func:`serialize_notebook` answers the worker's ``serializeNotebook`` request ``{cells: [source...], upTo,
entity, outDir, image?, pythonVersionCheck?, cwd?}`` in a forked child (:mod:`.isolate`): it runs the code
cells ``0..upTo`` in order (magics and shell escapes blanked) in a fresh ``__main__`` namespace, as a kernel
would (in ``cwd``, the notebook's folder, when given), finds the entity, gives it and every task it runs
flytekit's notebook task resolver, cloudpickles them as flytekit's ``PickledEntity``
(``metadata.python_version``, ``entities{name: task}``) into ``<outDir>/pkl.gz`` (the name the task's
runtime looks for), and serializes the specs with the fast registration placeholders, as
:func:`.serialize.serialize` does. The result is ``serialize``'s plus ``pickle: {path, md5, size,
pythonVersion}``; the registration uploads ``pkl.gz`` as the tasks' distribution and derives the version
from its md5.

flytekit names an entity defined in a notebook by its bare function name (``t1``, not ``module.t1``)
because it detects the kernel; the child has none, so it tells flytekit's module tracking it is one.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import itertools
import linecache
import os
import sys
import traceback
import types
import uuid
from collections.abc import Iterator
from typing import Any

from .ipython import code_lines
from .serialize import (
    ENTITY_ERROR,
    IMPORT_ERROR,
    SERIALIZE_ERROR,
    RequestError,
    _b64,
    _interface_and_defaults,
    _one_line,
    entity_kind,
    serialization_settings,
    serialize_entity,
)

MAX_PICKLE_BYTES = 150 * 1024 * 1024  # flytekit's interactive-mode limit on the gzipped pickle
PICKLE_NAME = "pkl.gz"  # flytekit.core.python_auto_container.PICKLE_FILE_PATH: the runtime opens this name
NOTEBOOK_RESOLVER = "flytekit.core.python_auto_container.default_notebook_task_resolver"


def code_cell_source(source: str) -> str:
    """A code cell as plain Python, its IPython lines blanked (:mod:`.ipython`); the line count is kept, so
    line numbers still point into the cell."""
    return "\n".join(code_lines(source))


def cell_name(index: int) -> str:
    """The file name the code of cell ``index`` is compiled under (tracebacks name it)."""
    return f"<cell {index}>"


def serialize_notebook(params: dict[str, Any]) -> dict[str, Any]:
    """The ``serializeNotebook`` request (see the module docstring). Raises :class:`RequestError`."""
    cells = [str(c) for c in params.get("cells") or []]
    up_to = len(cells) - 1 if params.get("upTo") is None else int(params["upTo"])
    name = str(params["entity"])
    if not params.get("outDir"):
        raise RequestError(SERIALIZE_ERROR, "serialize", "serializeNotebook needs outDir (the pkl.gz folder)")
    if not cells:
        raise RequestError(ENTITY_ERROR, "entity", f"no code cells to run: {name} is defined in none")
    if not 0 <= up_to < len(cells):
        raise RequestError(
            ENTITY_ERROR, "entity", f"cell {up_to} is not one of the notebook's {len(cells)} code cells"
        )
    flytekit_models = _interactive_mode()
    _check_python_version(params.get("pythonVersionCheck"))
    _pretend_kernel()
    if params.get("cwd"):
        _enter(str(params["cwd"]))
    before = set(sys.modules)  # the worker's own (flytekit...): the cells' imports are the others
    namespace = _run_cells(cells[: up_to + 1])
    if name not in namespace:
        raise RequestError(ENTITY_ERROR, "entity", f"cells 0..{up_to} define no {name!r}")
    entity = namespace[name]
    kind = entity_kind(entity)
    if kind is None:
        raise RequestError(
            ENTITY_ERROR,
            "entity",
            f"{name} is not a task, workflow or launch plan (it is a {type(entity).__name__})",
        )
    pickled = _pickled_entity(entity, flytekit_models)
    if params.get("cwd"):
        _pickle_by_value_under(str(params["cwd"]), [m for m in sys.modules if m not in before])
    seed = hashlib.sha256("\0".join(cells[: up_to + 1]).encode()).digest()
    pickle = _write_pickle(pickled, params.get("outDir"), name, seed)
    try:
        settings = serialization_settings(params.get("image"))
        out = serialize_entity(entity, settings)
        interface, defaults = _interface_and_defaults(entity, kind, out)
    except Exception as exc:
        raise RequestError(
            SERIALIZE_ERROR,
            "serialize",
            f"serializing {name} failed: {_one_line(exc)}",
            {"traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))},
        ) from None
    return {
        "target": {"resourceType": kind.upper(), "name": entity.name},
        "tasks": [_b64(spec) for spec in out.tasks],
        "workflows": [_b64(spec) for spec in out.workflows],
        "launchPlans": [{"spec": _b64(lp), "autoActivate": auto} for lp, auto in out.launch_plans],
        "files": [],
        "image": settings.image_config.default_image.full,
        "interface": _b64(interface),
        "defaults": {key: _b64(literal) for key, literal in sorted(defaults.items())},
        "pickle": pickle,
    }


def _interactive_mode() -> Any:
    """flytekit's interactive-mode classes (its ``python_auto_container`` module), or a clear refusal."""
    import flytekit
    from flytekit.core import python_auto_container

    if not hasattr(python_auto_container, "PickledEntity"):
        raise RequestError(
            SERIALIZE_ERROR,
            "serialize",
            f"flytekit {getattr(flytekit, '__version__', '?')} in {sys.executable} has no interactive mode "
            "(PickledEntity): upgrade flytekit in the notebook's interpreter to register from a notebook",
        )
    return python_auto_container


def _python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"


def _check_python_version(expected: Any) -> None:
    """Refuse when the task interpreter's Python (``"3.11"`` or ``"3.11.4"``) is another major.minor than
    this one: the pickle would not load there (flytekit's resolver compares major.minor)."""
    if not expected:
        return
    wanted = str(expected).split(".")[:2]
    if wanted != [str(sys.version_info.major), str(sys.version_info.minor)]:
        raise RequestError(
            SERIALIZE_ERROR,
            "pythonVersion",
            f"the notebook's interpreter {sys.executable} is Python {_python_version()} but tasks run on "
            f"Python {expected}: a pickle loads only on the same major.minor version — select an "
            "interpreter or an image with the same Python version",
            {"python": _python_version()},
        )


def _enter(folder: str) -> None:
    """Run the cells where the notebook is, as Jupyter does (relative paths in cells), with that folder
    importable (a kernel puts it first on ``sys.path``)."""
    try:
        os.chdir(folder)
    except OSError as exc:
        raise RequestError(
            IMPORT_ERROR, "import", f"cannot run the cells in {folder}: {_one_line(exc)}"
        ) from None
    sys.path.insert(0, folder)


def _pretend_kernel() -> None:
    """Make flytekit's module tracking behave as in a Jupyter kernel (it checks for IPython there): entities
    whose module is ``__main__`` are named by their bare name, as flytekit's interactive mode names them."""
    from flytekit.core import tracker

    tracker.is_ipython_or_pickle_exists = lambda: True


def _run_cells(cells: list[str]) -> dict[str, Any]:
    """Run the cells in order in a fresh ``__main__`` module (cloudpickle pickles what ``__main__`` defines
    by value, as for a kernel's cells); an error names the cell and line. Each cell's code is put in
    ``linecache`` under its name, as a kernel does: flytekit reads a task's source (``inspect.getsource``)."""
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    for index, source in enumerate(cells):
        try:
            text = code_cell_source(source)
            linecache.cache[cell_name(index)] = (len(text), None, text.splitlines(True), cell_name(index))
            code = compile(text, cell_name(index), "exec")
            exec(code, module.__dict__)
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, GeneratorExit)):
                raise
            raise _cell_failure(index, exc) from None
    return module.__dict__


def _pickle_by_value_under(folder: str, imported: list[str]) -> None:
    """Have cloudpickle carry by value the modules the cells imported (``imported``: new in ``sys.modules``
    since the cells started) from the notebook's folder (a ``helpers.py`` next to the notebook), as it does
    for the cells' own code.

    flytekit's interactive mode pickles them by reference, so a task defined or used there fails where it
    runs, which has the pickle but not the module (``ModuleNotFoundError: helpers``). Installed packages
    (site-packages, the interpreter's own) stay by reference: the image has them. Only the new modules are
    looked at, through their ``__dict__`` (a lazy module's ``__getattr__`` would import it)."""
    import cloudpickle

    root = os.path.realpath(folder) + os.sep
    installed = tuple(
        os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p
    )
    for name in imported:
        module = sys.modules.get(name)
        file = vars(module).get("__file__") if isinstance(module, types.ModuleType) else None
        if not isinstance(file, str) or name == "__main__":
            continue
        path = os.path.realpath(file)
        if not path.startswith(root) or path.startswith(installed):
            continue
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            continue
        try:
            cloudpickle.register_pickle_by_value(module)
        except ValueError:  # cloudpickle refuses a module it cannot find in sys.modules under its name
            continue


def _cell_failure(index: int, exc: BaseException) -> RequestError:
    cell_frames = [
        {"cell": int(f.filename[6:-1]), "line": f.lineno or 0, "name": f.name}
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith("<cell ") and f.filename.endswith(">")
    ]
    if isinstance(exc, SyntaxError) and exc.filename == cell_name(index):
        cell_frames.append({"cell": index, "line": exc.lineno or 0, "name": "<module>"})
    line = cell_frames[-1]["line"] if cell_frames else 0
    return RequestError(
        IMPORT_ERROR,
        "import",
        f"running cell {index} failed (line {line}): {_one_line(exc)}",
        {
            "cell": index,
            "line": line,
            "error": _one_line(exc),
            "cellFrames": cell_frames,
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        },
    )


def _pickled_entity(root: Any, pac: Any) -> Any:
    """flytekit's ``PickledEntity`` for ``root``: every task it runs (itself, or its workflow's nodes, down
    sub-workflows, launch plans and map tasks), each given the notebook task resolver. Dynamic and eager
    tasks are refused: their bodies build workflows at run time, which the pickle cannot carry."""
    from flytekit.core.base_task import PythonTask
    from flytekit.core.launch_plan import LaunchPlan
    from flytekit.core.python_function_task import PythonFunctionTask
    from flytekit.core.workflow import WorkflowBase

    entities: dict[str, Any] = {}
    seen: set[int] = set()
    stack = [root]
    while stack:
        entity = stack.pop()
        if id(entity) in seen:
            continue
        seen.add(id(entity))
        if isinstance(entity, PythonFunctionTask):
            mode = entity.execution_mode
            for kind in ("DYNAMIC", "EAGER"):
                if mode == getattr(PythonFunctionTask.ExecutionBehavior, kind, None):
                    raise RequestError(
                        ENTITY_ERROR,
                        "entity",
                        f"{entity.name} is a{'n' if kind == 'EAGER' else ''} {kind.lower()} task: flytekit's "
                        "interactive mode cannot register dynamic or eager tasks from a notebook — move it "
                        "to a Python file and register that file",
                    )
        run_task = getattr(entity, "_run_task", None)  # a map task runs its inner task
        if isinstance(entity, PythonTask) and run_task is not None:
            stack.append(run_task)
        elif isinstance(entity, pac.PythonAutoContainerTask):
            entity.set_resolver(pac.default_notebook_task_resolver)
            entities[entity.name] = entity
        elif isinstance(entity, WorkflowBase):
            stack.extend(node.flyte_entity for node in entity.nodes)
        elif isinstance(entity, LaunchPlan):
            stack.append(entity.workflow)
        elif hasattr(entity, "target") and hasattr(entity.target, "workflow"):  # an array node
            stack.append(entity.target.workflow)
    return pac.PickledEntity(
        metadata=pac.PickledEntityMetadata(python_version=_python_version()), entities=entities
    )


@contextlib.contextmanager
def _class_ids_from(seed: bytes) -> Iterator[None]:
    """While pickling, the ids cloudpickle gives the classes it pickles by value (``uuid.uuid4()``, e.g. a
    task's output named tuple) are derived from ``seed`` (the cells' code) instead of random: the same
    cells then give the same pickle bytes, so the version and the upload's md5 are stable. They only need
    to be unique among the classes one process loads; the seed keeps two notebooks' apart."""
    real = uuid.uuid4
    count = itertools.count()

    def derived() -> uuid.UUID:
        digest = hashlib.sha256(seed + next(count).to_bytes(8, "big")).digest()
        return uuid.UUID(bytes=digest[:16], version=4)

    uuid.uuid4 = derived
    try:
        yield
    finally:
        uuid.uuid4 = real


def _write_pickle(pickled: Any, out_dir: Any, name: str, seed: bytes) -> dict[str, Any]:
    """cloudpickle ``pickled`` into ``<out_dir>/pkl.gz`` (the caller's folder, made if missing; gzip without a
    timestamp or name, so the same pickle gives the same file); its md5 is the pickle's. Refused over
    150 MB."""
    import cloudpickle

    try:
        with _class_ids_from(seed):
            data = cloudpickle.dumps(pickled)
    except Exception as exc:
        raise RequestError(
            SERIALIZE_ERROR,
            "pickle",
            f"pickling {name} failed: {_one_line(exc)} — does it use an object cloudpickle cannot "
            "pickle (an open file, a lock, a client)?",
            {"traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))},
        ) from None
    folder = str(out_dir)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, PICKLE_NAME)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(data)
    size = os.path.getsize(path)
    if size > MAX_PICKLE_BYTES:
        os.remove(path)
        raise RequestError(
            SERIALIZE_ERROR,
            "pickle",
            f"the pickle of {name} is {size / 2**20:.0f} MB, over the 150 MB flytekit's interactive mode "
            "allows: does a cell keep a large object (a data frame, a model) that the entity refers to?",
        )
    return {
        "path": path,
        "md5": hashlib.md5(data).hexdigest(),
        "size": size,
        "pythonVersion": _python_version(),
    }
