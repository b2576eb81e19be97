"""Task templates from real `pyflyte package` output, and attempt directories, for the runner and pool tests
(test_runner.py, test_pool.py)."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from flyteidl.admin import task_pb2
from flyteidl.core import tasks_pb2

from flyte_ls.local.runner import AttemptPaths, ExecutionKey

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv" / "bin" / "python")
IMAGE = "ghcr.io/flyteorg/flytekit:py3.11-1.16.31"  # only written into the package, never pulled


@dataclass
class Package:
    templates: dict[str, tasks_pb2.TaskTemplate]
    tarball: Path | None
    source: Path  # the package's source root (for the non-fast variant's PYTHONPATH)


def package_tasks(data: Path, pkg: str, tmp: Path, copy: str, execution: ExecutionKey) -> Package:
    """A copy of ``data`` (holding package ``pkg``) packaged with `pyflyte package --copy <copy>`; the task
    templates by name without the ``<pkg>.tasks.`` prefix, in ``execution``'s project and domain, at v1."""
    source = tmp / f"src-{copy}"
    shutil.copytree(data, source, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp / f"{copy}.tgz"
    proc = subprocess.run(
        [str(Path(PYTHON).with_name("pyflyte")), "--pkgs", pkg, "package", "--image", IMAGE,
         "--copy", copy, "-f", "-o", str(out)],
        cwd=source, capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    specs = tmp / f"specs-{copy}"
    with tarfile.open(out) as archive:
        archive.extractall(specs, filter="data")
    templates: dict[str, tasks_pb2.TaskTemplate] = {}
    for path in specs.glob("*_1.pb"):
        template = task_pb2.TaskSpec.FromString(path.read_bytes()).template
        template.id.project, template.id.domain, template.id.version = (
            execution.project,
            execution.domain,
            "v1",
        )
        templates[template.id.name.removeprefix(f"{pkg}.tasks.")] = template
    tarballs = list(specs.glob("fast*.tar.gz"))
    return Package(templates, tarballs[0] if tarballs else None, source)


def attempt_paths(root: Path, raw: Path, node: str = "n0", attempt: int = 0) -> AttemptPaths:
    """The directories of one attempt of ``node`` under ``root``, its raw output under ``raw``."""
    return AttemptPaths(
        inputs=root / "md" / node / "data" / "inputs.pb",
        output_prefix=root / "md" / node / "data" / str(attempt),
        raw_output_prefix=raw,
        checkpoint=raw / "_flytecheckpoints",
        prev_checkpoint=None,
        workdir=root / "work" / f"{node}-{attempt}",
        log=root / "logs" / f"{node}-{attempt}.log",
    )
