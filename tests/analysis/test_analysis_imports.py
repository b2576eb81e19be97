"""ImportTable: names and attribute chains resolved through the imports, canonicalised to flytekit's names."""

from __future__ import annotations

import ast
import importlib
import textwrap

import pytest

from flyte_ls.analysis import dialect
from flyte_ls.analysis.imports import ImportTable, resolve_relative


def table(source: str, module: str = "", *, is_package: bool = False) -> ImportTable:
    return ImportTable.from_tree(ast.parse(textwrap.dedent(source)), module, is_package=is_package)


def q(tbl: ImportTable, expr: str) -> str | None:
    return tbl.qualified_name(ast.parse(expr, mode="eval").body)


@pytest.mark.parametrize(
    ("source", "expr", "expected"),
    [
        ("from flytekit import task", "task", "flytekit.task"),
        ("from flytekit import task as flyte_task", "flyte_task", "flytekit.task"),
        ("import flytekit", "flytekit.task", "flytekit.task"),
        ("import flytekit as fk", "fk.task", "flytekit.task"),
        ("import flytekit as fk", "fk.workflow", "flytekit.workflow"),
        ("from flytekit.core.task import task", "task", "flytekit.task"),
        ("from flytekit.core.workflow import workflow", "workflow", "flytekit.workflow"),
        ("from flytekit.core.dynamic_workflow_task import dynamic", "dynamic", "flytekit.dynamic"),
        ("from flytekit.core.task import eager", "eager", "flytekit.eager"),
        ("from flytekit.core.condition import conditional", "conditional", "flytekit.conditional"),
        ("from flytekit import LaunchPlan", "LaunchPlan.get_or_create", "flytekit.LaunchPlan.get_or_create"),
        (
            "from flytekit.core.launch_plan import LaunchPlan",
            "LaunchPlan.create",
            "flytekit.LaunchPlan.create",
        ),
        ("import flytekit.core.launch_plan as lp", "lp.LaunchPlan", "flytekit.LaunchPlan"),
        ("import flytekit.core.task", "flytekit.core.task.task", "flytekit.task"),
        ("from flytekit.core.array_node_map_task import map_task", "map_task", "flytekit.map_task"),
        ("from flytekit.core.container_task import ContainerTask", "ContainerTask", "flytekit.ContainerTask"),
        ("from flytekit.core.workflow import ImperativeWorkflow", "ImperativeWorkflow", "flytekit.Workflow"),
        ("from flytekit import Workflow", "Workflow", "flytekit.Workflow"),
        (
            "from flytekit.extras.sqlite3.task import SQLite3Task",
            "SQLite3Task",
            "flytekit.extras.sqlite3.task.SQLite3Task",
        ),
        (
            "from flytekit.extras.tasks.shell import ShellTask",
            "ShellTask",
            "flytekit.extras.tasks.shell.ShellTask",
        ),
        ("from flytekit.core.task import ReferenceTask", "ReferenceTask", "flytekit.core.task.ReferenceTask"),
        ("from flytekitplugins.spark import Spark", "Spark", "flytekitplugins.spark.Spark"),
        ("from flytekit import *", "task", "flytekit.task"),
        ("import os.path", "os.path.join", "os.path.join"),
        ("from typing import NamedTuple", "NamedTuple", "typing.NamedTuple"),
    ],
)
def test_qualified_names(source: str, expr: str, expected: str) -> None:
    assert q(table(source), expr) == expected


def test_unimported_names_and_expressions_are_none() -> None:
    tbl = table("from flytekit import task")
    assert q(tbl, "workflow") is None
    assert q(tbl, "print") is None
    assert q(tbl, "task()") is None
    assert q(tbl, "x[0].task") is None


def test_module_level_rebinding_shadows_the_import() -> None:
    for rebinding in (
        "def task(fn):\n    return fn",
        "task = print",
        "class task: ...",
        "for task in []: pass",
    ):
        tbl = table(f"from flytekit import task\n{rebinding}\n")
        assert q(tbl, "task") is None, rebinding


def test_aliases_and_partials_of_imported_names() -> None:
    source = """
    import functools
    from functools import partial
    import flytekit as fk
    from flytekit import task
    from pkg import tasks

    my_task = fk.task
    gpu_task = functools.partial(task, requests=None)
    cpu_task = partial(fk.task, retries=2)
    clean = tasks.clean
    not_partial = fk.map_task(something)
    local = some_local_name
    fake = mylib.partial(task)
    """
    tbl = table(source)
    assert q(tbl, "my_task") == "flytekit.task"
    assert q(tbl, "gpu_task") == "flytekit.task"
    assert q(tbl, "cpu_task") == "flytekit.task"
    assert q(tbl, "clean") == "pkg.tasks.clean"
    assert q(tbl, "not_partial") is None
    assert q(tbl, "local") is None
    assert q(tbl, "fake") is None


def test_import_after_a_user_definition_wins() -> None:
    assert q(table("def task(fn):\n    return fn\nfrom flytekit import task\n"), "task") == "flytekit.task"


def test_fallbacks_in_nested_blocks_do_not_shadow() -> None:
    source = """
    try:
        from flytekit import task
    except ImportError:
        task = None
    if True:
        import flytekit as fk
    """
    tbl = table(source)
    assert q(tbl, "task") == "flytekit.task"
    assert q(tbl, "fk.workflow") == "flytekit.workflow"


def test_star_import_is_shadowed_by_a_definition() -> None:
    assert q(table("from flytekit import *\ndef task(f):\n    return f\n"), "task") is None


def test_relative_imports_resolve_against_the_module() -> None:
    tbl = table("from . import tasks\nfrom .tasks import clean as c\nfrom ..shared import util", "pkg.sub.wf")
    assert tbl.imported_names() == {
        "tasks": "pkg.sub.tasks",
        "c": "pkg.sub.tasks.clean",
        "util": "pkg.shared.util",
    }
    assert q(tbl, "tasks.clean") == "pkg.sub.tasks.clean"
    package = table("from .tasks import clean", "pkg.sub", is_package=True)
    assert package.imported_names() == {"clean": "pkg.sub.tasks.clean"}
    init = table("from .tasks import clean\nfrom .. import up", "pkg.sub.__init__")  # module_name_for's name
    assert init.imported_names() == {"clean": "pkg.sub.tasks.clean", "up": "pkg.up"}


def test_relative_imports_without_a_module_keep_their_dots() -> None:
    assert table("from .tasks import clean").imported_names() == {"clean": ".tasks.clean"}


@pytest.mark.parametrize(
    ("target", "module", "is_package", "expected"),
    [
        (".x", "a.b", False, "a.x"),
        ("..x", "a.b.c", False, "a.x"),
        (".x", "a", True, "a.x"),
        (".", "a.b", False, "a"),
        ("...x", "a.b", False, "...x"),
        ("x.y", "a.b", False, "x.y"),
    ],
)
def test_resolve_relative(target: str, module: str, is_package: bool, expected: str) -> None:
    assert resolve_relative(target, module, is_package) == expected


def test_module_aliases_and_imported_names() -> None:
    tbl = table("import a.b as c\nimport d.e\nfrom f import g as h, i")
    assert tbl.module_aliases() == {"c": "a.b", "d": "d"}
    assert tbl.imported_names() == {"h": "f.g", "i": "f.i"}


def test_fingerprint_ignores_definitions_that_do_not_change_a_resolution() -> None:
    base = table("from flytekit import task\n")
    assert base.fingerprint() == table("from flytekit import task\ndef helper(): ...\n").fingerprint()
    assert base.fingerprint() != table("from flytekit import task\ndef task(): ...\n").fingerprint()


def _resolve(dotted: str) -> object:
    """Import the longest importable module prefix of ``dotted`` and walk the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@pytest.mark.flytekit
@pytest.mark.timeout(60)
def test_every_canonical_path_exists_in_flytekit() -> None:
    """Each deep path maps to the very object its public spelling names, in the installed flytekit."""
    pytest.importorskip("flytekit")
    for deep, public in dialect.PUBLIC_NAMES.items():
        assert _resolve(deep) is _resolve(public), (deep, public)
    for deep in dialect.DEEP_NAMES:
        assert _resolve(deep) is not None, deep
    for name in ("flytekit.LaunchPlan.get_or_create", "flytekit.LaunchPlan.create"):
        assert callable(_resolve(name))
