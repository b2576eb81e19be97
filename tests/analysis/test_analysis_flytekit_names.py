"""Module paths and Flyte names, checked against what real flytekit computes when it imports the code."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from analysis_helpers import all_kinds_source

from flyte_ls.analysis import EntityKind, analyze, import_name_for, module_name_for, source_root_for


def _tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_module_names(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "src/pkg/__init__.py": "",
            "src/pkg/sub/__init__.py": "",
            "src/pkg/sub/mod.py": "",
            "src/pkg/nopkg/mod.py": "",
            "src/script.py": "",
        },
    )
    src = tmp_path / "src"
    assert module_name_for(src / "pkg/sub/mod.py") == "pkg.sub.mod"
    assert source_root_for(src / "pkg/sub/mod.py") == src
    # flytekit names the entities of a package's __init__.py ``pkg.sub.__init__.<name>``; Python says pkg.sub
    assert module_name_for(src / "pkg/sub/__init__.py") == "pkg.sub.__init__"
    assert import_name_for(src / "pkg/sub/__init__.py") == "pkg.sub"
    assert import_name_for(src / "pkg/sub/mod.py") == "pkg.sub.mod"
    assert module_name_for(src / "pkg/__init__.py") == "pkg.__init__"
    assert module_name_for(src / "pkg/nopkg/mod.py") == "mod"  # its folder has no __init__.py
    assert source_root_for(src / "pkg/nopkg/mod.py") == src / "pkg/nopkg"
    assert module_name_for(src / "script.py") == "script"
    assert module_name_for(str(src / "pkg" / "sub" / ".." / "sub" / "mod.py")) == "pkg.sub.mod"
    assert module_name_for(src / "pkg/sub/not_there.py") == "pkg.sub.not_there"  # unsaved files work too


PROBE = textwrap.dedent(
    """
    import importlib, json, sys
    sys.path.insert(0, sys.argv[1])
    from flytekit.core.base_task import PythonTask
    from flytekit.core.launch_plan import LaunchPlan
    from flytekit.core.workflow import WorkflowBase
    mod = importlib.import_module(sys.argv[2])
    out = {}
    for attr, value in vars(mod).items():
        if isinstance(value, (PythonTask, WorkflowBase, LaunchPlan)):
            iface = value.python_interface
            out[attr] = {"name": value.name, "inputs": list(iface.inputs), "outputs": list(iface.outputs)}
            if isinstance(value, LaunchPlan) and hasattr(value, "_parameters"):  # not reference launch plans
                out[attr]["parameters"] = list(value.parameters.parameters)
    out["__launch_plans__"] = sorted(LaunchPlan.CACHE)
    print(json.dumps(out))
    """
)


def _flytekit_view(root: Path, module: str) -> dict:
    pytest.importorskip("flytekit")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(root), module],
        capture_output=True,
        text=True,
        timeout=100,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_flyte_names_and_interfaces_match_flytekit(tmp_path: Path) -> None:
    _tree(tmp_path, {"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/mod.py": all_kinds_source()})
    path = tmp_path / "pkg/sub/mod.py"
    module = module_name_for(path)
    assert module == "pkg.sub.mod"
    real = _flytekit_view(tmp_path, module)
    ours = {e.name: e for e in analyze(path.read_text(), module, path=str(path), lint=False).entities}
    launch_plans = real.pop("__launch_plans__")
    assert set(real) <= set(ours), set(real) - set(ours)
    for attr, facts in real.items():
        entity = ours[attr]
        assert entity.flyte_name == facts["name"], attr
        expected_inputs = facts.get(
            "parameters", facts["inputs"]
        )  # a launch plan's inputs exclude fixed ones
        assert [i.name for i in entity.inputs] == expected_inputs, attr
        assert [o.name for o in entity.outputs] == facts["outputs"], attr
    # every launch plan flytekit made, assigned or not, is an entity with that name
    ours_lp = sorted({e.flyte_name for e in ours.values() if e.kind is EntityKind.LAUNCH_PLAN})
    assert ours_lp == launch_plans


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_relative_imports_and_package_modules_match_flytekit(tmp_path: Path) -> None:
    files = {
        "proj/__init__.py": "",
        "proj/tasks.py": "from flytekit import task\n\n@task\ndef t(a: int) -> int:\n    return a\n",
        "proj/flows/__init__.py": textwrap.dedent(
            """
            from flytekit import workflow, map_task
            from ..tasks import t
            from .. import tasks

            @workflow
            def wf(a: int) -> int:
                return tasks.t(a=t(a=a))

            m = map_task(t)
            """
        ),
    }
    _tree(tmp_path, files)
    path = tmp_path / "proj/flows/__init__.py"
    module = module_name_for(path)
    assert module == "proj.flows.__init__"  # flytekit names entities of a package's __init__.py so
    assert import_name_for(path) == "proj.flows"
    real = _flytekit_view(tmp_path, import_name_for(path))
    ours = {e.name: e for e in analyze(path.read_text(), module, path=str(path), lint=False).entities}
    assert ours["wf"].flyte_name == real["wf"]["name"] == "proj.flows.__init__.wf"
    assert ours["m"].flyte_name == real["m"]["name"]
    assert [c.target for c in ours["wf"].calls] == ["proj.tasks.t", "proj.tasks.t"]
