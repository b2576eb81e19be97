"""The suite's handle on its backend: `Suite` (backend + project copy + FlyteRemote), `Runs` (what a test
module's fixture started), and the backend starter of tests/local/local_backend.py."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flytekit_e2e import CASES, DOMAIN, POLL, PROJECT, WAIT, PyflyteRun, start_pyflyte, workflows_module

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "local"))
from local_backend import Backend, start_backend

__all__ = ["Backend", "Runs", "Suite", "start_backend"]


@dataclass
class Runs:
    """What a test module's fixture started, by case key: flytekit's local results, `pyflyte run --remote`
    processes and FlyteRemote executions."""

    local: dict[str, dict[str, Any]]
    cli: dict[str, PyflyteRun]
    executions: dict[str, Any]


@dataclass
class Suite:
    backend: Backend
    project: Path  # holds workflows/ (the package the cases import) and the input files
    remote: Any  # flytekit.remote.FlyteRemote
    started: list[PyflyteRun] = field(default_factory=list)

    def pyflyte(self, key: str) -> PyflyteRun:
        run = start_pyflyte(self.backend.config, self.project, key)
        self.started.append(run)
        return run

    def close(self) -> None:
        """Stop what the suite started (idempotent): waiting pyflyte processes, then the backend."""
        self.kill_pyflyte_runs()
        self.backend.stop()

    def kill_pyflyte_runs(self) -> None:
        """pyflyte processes a failed test left waiting (e.g. on a gate nobody approved)."""
        for run in self.started:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.communicate()

    def register(self, module: str, entity: str) -> Any:
        """FlyteRemote.register_script of a workflow or launch plan of workflows/<module>.py (script mode)."""
        return self.remote.register_script(
            getattr(workflows_module(module), entity),
            source_path=str(self.project),
            module_name=f"workflows.{module}",
            project=PROJECT,
            domain=DOMAIN,
        )

    def execute(self, entity: Any, key: str, **kwargs: Any) -> Any:
        case = CASES[key]
        envs = dict(case.env) or None
        return self.remote.execute(entity, inputs=case.inputs(), wait=False, envs=envs, **kwargs)

    def wait(self, execution: Any) -> Any:
        return self.remote.wait(execution, timeout=WAIT, poll_interval=POLL)

    def fetch(self, name: str) -> Any:
        return self.remote.sync_execution(self.remote.fetch_execution(name=name), sync_nodes=True)
