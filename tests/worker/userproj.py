"""A small user project for the worker tests: a package with a helper module, tasks, a workflow with a
sub-workflow and a launch plan node, and modules that fail in the ways user code does."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = str(REPO / ".venv" / "bin" / "python")

FILES = {
    "app/__init__.py": "",
    "app/helpers.py": """
        from flytekit import task


        def scale(x: int) -> int:
            return x * 3


        @task
        def add_one(x: int) -> int:
            return x + 1
        """,
    "app/flows.py": """
        from typing import Optional

        from flytekit import LaunchPlan, task, workflow

        from app.helpers import add_one, scale


        @task
        def triple(x: int = 3, note: Optional[str] = None) -> int:
            print("triple runs")
            return scale(x)


        @workflow
        def inner(x: int) -> int:
            return add_one(x=triple(x=x))


        inner_lp = LaunchPlan.get_or_create(inner, name="app.inner_lp", default_inputs={"x": 4})


        @workflow
        def main(x: int = 2) -> int:
            return inner_lp(x=inner(x=x))


        fixed_lp = LaunchPlan.get_or_create(main, name="app.main_fixed", fixed_inputs={"x": 7})


        def not_an_entity() -> None:
            pass
        """,
    "app/broken.py": """
        import app.helpers

        raise ValueError("broken at import")
        """,
    "app/syntax.py": """
        def oops(:
            pass
        """,
    "app/sleepy.py": """
        import time

        time.sleep(600)
        """,
    "app/exits.py": """
        import os

        os._exit(7)
        """,
    "app/noisy.py": """
        import os
        import sys

        from flytekit import task

        print("printed at import")
        os.write(1, b"written to fd 1 at import\\n")
        sys.stdout.flush()


        @task
        def quiet(x: int = 1) -> int:
            return x
        """,
    "app/forks.py": """
        import os
        import time

        from flytekit import task

        if os.fork() == 0:  # a process of the user's that outlives the import, holding what it inherited
            time.sleep(20)
            os._exit(0)


        @task
        def forked() -> int:
            return 1
        """,
    "lonely.py": """
        from flytekit import task


        @task
        def alone() -> str:
            return "alone"
        """,
}


def write_project(root: Path) -> Path:
    """Write the project under ``root`` (its source root) and return ``root``."""
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def base_python() -> str:
    """The interpreter the test venv was made from (no flytekit there)."""
    return str(Path(sys.base_prefix) / "bin" / "python3")
