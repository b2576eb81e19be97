"""The §7 suite: unmodified flytekit clients end to end against `flyte-ls local`.

One real `flyte-ls local start` backend for the whole directory (stopped after its last test), a private copy
of workflows/ (the workflow files written for these tests), and a FlyteRemote client in the test process bound
to the backend's config.yaml. Every test module starts its runs at once in a module fixture — `pyflyte run
--remote --wait` subprocesses, FlyteRemote executions, and flytekit's local run of the same cases
(local_driver.py) — then each test waits for its own and compares (flytekit_e2e.normalize).

Run: `.venv/bin/pytest -q tests/e2e/flytekit` (about a minute).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from flytekit_e2e import (
    DOMAIN,
    INPUT_DIR,
    INPUT_FILES,
    PROJECT,
    WORDS,
    WORDS_FILE,
    WORKFLOWS,
    add_project_to_path,
)
from flytekit_suite import Suite, start_backend


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    root = tmp_path_factory.mktemp("flytekit-e2e")
    project = root / "project"
    project.mkdir()
    shutil.copytree(WORKFLOWS, project / "workflows", ignore=shutil.ignore_patterns("__pycache__"))
    (project / WORDS_FILE).write_text(WORDS)
    # flytekit uploads a directory input file by file as <filename_root>/<file name> (CreateUploadLocation
    # takes a name, not a path), so any Admin flattens sub-directories: the input directory is flat
    (project / INPUT_DIR).mkdir()
    for name, text in INPUT_FILES.items():
        (project / INPUT_DIR / name).write_text(text)
    add_project_to_path(project)
    backend = start_backend(root / "state")
    suite: Suite | None = None
    try:
        from flytekit.configuration import Config
        from flytekit.remote import FlyteRemote

        remote = FlyteRemote(
            Config.auto(config_file=str(backend.config)), default_project=PROJECT, default_domain=DOMAIN
        )
        suite = Suite(backend, project, remote)
        yield suite
    finally:
        if suite is not None:
            suite.close()
        backend.stop()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the backend after the last test of this directory, not at the end of the whole session (the
    fixture is session-scoped: without an __init__.py here, a "package" scope would last as long)."""
    if nextitem is not None and nextitem.path.parent == item.path.parent:
        return
    suite = item.funcargs.get("suite") if hasattr(item, "funcargs") else None
    if isinstance(suite, Suite):
        suite.close()
