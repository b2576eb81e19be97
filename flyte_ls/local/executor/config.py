"""What a :class:`~flyte_ls.local.executor.engine.WorkflowRun` is given (:class:`RunConfig`) and gives back
(:class:`RunOutcome`), and propeller's node ids and scopes (where a node's data lives)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from flyteidl.admin import node_execution_pb2
from flyteidl.core import execution_pb2, identifier_pb2, interface_pb2, literals_pb2

from flyte_ls.local.executor.cache import TaskCache
from flyte_ls.local.executor.gates import SignalWaiter
from flyte_ls.local.executor.result import NodeResult
from flyte_ls.local.runner import KILL_GRACE_S, ExecutionKey

IdKey = tuple[str, str, str, str, str]


def entity_key(ident: object) -> IdKey:
    """A task/workflow identifier as a dict key."""
    return (
        str(getattr(ident, "resource_type", "")),
        ident.project,  # type: ignore[attr-defined]
        ident.domain,  # type: ignore[attr-defined]
        ident.name,  # type: ignore[attr-defined]
        ident.version,  # type: ignore[attr-defined]
    )


class ChildLauncher(Protocol):
    """Launch-plan nodes' child executions (:class:`~flyte_ls.local.executor.children.ChildExecutions`)."""

    def launch_plan_interface(
        self, ident: identifier_pb2.Identifier
    ) -> interface_pb2.TypedInterface | None: ...

    async def run(
        self,
        parent: identifier_pb2.WorkflowExecutionIdentifier,
        node_id: str,
        launch_plan: identifier_pb2.Identifier,
        inputs: literals_pb2.LiteralMap,
        linked: Callable[[identifier_pb2.WorkflowExecutionIdentifier], None],
        recover: identifier_pb2.WorkflowExecutionIdentifier | None = None,
    ) -> NodeResult: ...


@dataclass(frozen=True)
class RunConfig:
    execution: ExecutionKey
    run_dir: Path  # propeller's workflow dir: <run>/<node>/data/...
    python: str  # the interpreter with flytekit that runs tasks
    raw_dir: Path | None = None  # default <run>/raw
    log_dir: Path | None = None  # default <run>/logs
    work_dir: Path | None = None  # private per-attempt cwd / --dest-dir; default <run>/work
    fast_distribution: str | None = None  # for templates still holding {{ .remote_package_path }}
    max_parallelism: int = 0  # task / launch-plan nodes (and map-task indexes) at once; 0 = unlimited
    max_system_retries: int = 3  # propeller's max-node-retries-system-failures
    # top-level node id -> outputs of nodes that already SUCCEEDED (resuming after a restart): not re-run
    completed: Mapping[str, literals_pb2.LiteralMap] = field(default_factory=dict)
    extra_env: Mapping[str, str] | None = None
    kill_grace_s: float = KILL_GRACE_S
    signals: SignalWaiter | None = None  # approve/signal gates wait through it (the SignalService's store)
    children: ChildLauncher | None = None  # launch-plan nodes run their child executions through it
    cache: TaskCache | None = None  # outputs of discoverable tasks (None: nothing is cached)
    overwrite_cache: bool = False  # the execution's: run cached tasks anyway and replace their outputs
    # RecoverExecution: the reference execution's node records by unique id (see :mod:`.recovery`)
    recover_from: Mapping[str, node_execution_pb2.NodeExecution] = field(default_factory=dict)
    # resumed after a restart: when the nodes that were running had started (unique id -> epoch seconds);
    # a gate waits only the rest of its timeout / sleep
    resumed_started: Mapping[str, float] = field(default_factory=dict)


@dataclass
class RunOutcome:
    phase: int  # core.WorkflowExecution.Phase: SUCCEEDED, FAILED or ABORTED
    outputs: literals_pb2.LiteralMap | None = None
    outputs_uri: str = ""
    error: execution_pb2.ExecutionError | None = None


_B32 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "abcdefghijklmnopqrstuvwxyz123456")


def unique_node_id(*parts: str, limit: int = 20) -> str:
    """Propeller's ``FixedLengthUniqueIDForParts``: the parts joined by ``-``, or ``f`` + base32 of FNV-1a 32
    when that is longer than ``limit``."""
    joined = "-".join(parts)
    if len(joined) <= limit:
        return joined
    h = 0x811C9DC5
    for byte in joined.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    digits = base64.b32encode(h.to_bytes(4, "big")).decode().rstrip("=")
    return "f" + digits.translate(_B32)


@dataclass(frozen=True)
class Scope:
    """Where the nodes of one (sub)workflow run: their parent node, attempt and data directory."""

    parent: str  # unique id of the parent node ("" at the top level)
    data_root: Path  # where this scope's node dirs go
    retry_group: str = "0"  # the parent's attempt

    def unique(self, node_id: str) -> str:
        return unique_node_id(self.parent, self.retry_group, node_id) if self.parent else node_id

    def data_dir(self, unique: str) -> Path:
        return self.data_root / unique / "data" if not self.parent else self.data_root / unique
