"""Runs real flytekit on lint cases: a script for the test venv's Python (never imported by pytest).

Reads ``{"cases": [{"name", "source", "run", "extra": {module: source}}]}`` as JSON on stdin. For each case
it writes the module (and its extra sibling modules) into a fresh source root, imports it, serializes every
entity the import created (tasks, workflows and their default launch plans, launch plans) the way
``pyflyte package`` does, then evaluates ``run`` (a Python expression, e.g. ``wf(x=1)``) in the module.
Writes one JSON object on stdout: ``{name: {"stage": "import" | "serialize" | "run" | null, "error": str |
null, "result": str | null}}`` where ``stage`` is where flytekit failed (null: it did not).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import tempfile
from collections import OrderedDict


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def main() -> None:
    request = json.load(sys.stdin)
    os.environ.setdefault("FLYTE_SDK_LOGGING_LEVEL", "50")
    from flytekit.configuration import ImageConfig, SerializationSettings
    from flytekit.core import context_manager
    from flytekit.core.base_task import PythonTask
    from flytekit.core.launch_plan import LaunchPlan
    from flytekit.core.workflow import WorkflowBase
    from flytekit.tools.translator import get_serializable

    root = tempfile.mkdtemp(prefix="flyte-ls-cases-")
    sys.path.insert(0, root)
    settings = SerializationSettings(image_config=ImageConfig.auto_default_image(), source_root=root)
    results: dict[str, dict[str, str | None]] = {}
    for case in request["cases"]:
        name = case["name"]
        for module, source in {**case.get("extra", {}), name: case["source"]}.items():
            with open(os.path.join(root, f"{module}.py"), "w", encoding="utf-8") as f:
                f.write(source)
        out: dict[str, str | None] = {"stage": None, "error": None, "result": None}
        results[name] = out
        LaunchPlan.CACHE.clear()  # launch plan names are process-global: every case starts afresh
        before = len(context_manager.FlyteEntities.entities)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            try:
                module = importlib.import_module(name)
            except BaseException as exc:
                out.update(stage="import", error=_error_text(exc))
                continue
            try:
                ctx = context_manager.FlyteContextManager.current_context().with_serialization_settings(
                    settings
                )
                with context_manager.FlyteContextManager.with_context(ctx) as sctx:
                    serialized: OrderedDict = OrderedDict()
                    for entity in list(context_manager.FlyteEntities.entities[before:]):
                        if isinstance(entity, (PythonTask, WorkflowBase, LaunchPlan)):
                            get_serializable(serialized, settings, entity)
                            if isinstance(entity, WorkflowBase):
                                default_lp = LaunchPlan.get_default_launch_plan(sctx, entity)
                                get_serializable(serialized, settings, default_lp)
            except BaseException as exc:
                out.update(stage="serialize", error=_error_text(exc))
                continue
            if case.get("run"):
                try:
                    out["result"] = repr(eval(case["run"], vars(module)))
                except BaseException as exc:
                    out.update(stage="run", error=_error_text(exc))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
