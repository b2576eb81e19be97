"""Persistent state of the local Admin: a SQLite (WAL) index of registered entities and projects.

Entities (tasks, workflows, launch plans) are indexed by ``(resource_type, project, domain, name, version)``
with their ``created_at``, a digest of their deterministic serialization and, for launch plans, their state;
the serialized protobufs (the request spec and the closure Admin returns) live in BLOB columns of the same
row, so an entity is written in one transaction and a crash never leaves an index row without its data.
``state_dir/blobs/`` is created for larger files (execution data) that other parts of the backend store.
Executions, node and task executions keep their records here too, as do the signals of gate nodes
(``signals``: one row per execution and signal id, ``value`` NULL until set) and the task cache (``cache``:
datacatalog-like dataset/version/tag keys with the outputs inline), so both survive a restart.

One connection guarded by a lock: the sync gRPC servicer runs on a thread pool, and SQLite serialises
writers anyway; the lock makes read-check-write sequences (idempotent creates, activation) atomic.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# flyteidl.core.identifier_pb2.ResourceType values, repeated so this module needs no protobuf import.
TASK = 1
WORKFLOW = 2
LAUNCH_PLAN = 3

# flyteidl.admin.LaunchPlanState
LP_INACTIVE = 0
LP_ACTIVE = 1

DEFAULT_PROJECT = "flytesnacks"
DEFAULT_DOMAINS: tuple[str, ...] = ("development", "staging", "production")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_type INTEGER NOT NULL,
    project TEXT NOT NULL,
    domain TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    digest TEXT NOT NULL,
    state INTEGER,
    spec BLOB NOT NULL,
    closure BLOB NOT NULL,
    UNIQUE (resource_type, project, domain, name, version)
);
CREATE INDEX IF NOT EXISTS entities_by_name ON entities (resource_type, project, domain, name, created_at);
CREATE TABLE IF NOT EXISTS projects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    labels BLOB NOT NULL DEFAULT x'',
    state INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS named_entities (
    resource_type INTEGER NOT NULL,
    project TEXT NOT NULL,
    domain TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    state INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (resource_type, project, domain, name)
);
CREATE TABLE IF NOT EXISTS executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    domain TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    phase INTEGER NOT NULL,
    launch_plan BLOB NOT NULL,
    workflow BLOB NOT NULL,
    spec BLOB NOT NULL,
    closure BLOB NOT NULL,
    launch_plan_name TEXT NOT NULL DEFAULT '',
    launch_plan_version TEXT NOT NULL DEFAULT '',
    workflow_name TEXT NOT NULL DEFAULT '',
    workflow_version TEXT NOT NULL DEFAULT '',
    task_name TEXT NOT NULL DEFAULT '',
    task_version TEXT NOT NULL DEFAULT '',
    state INTEGER NOT NULL DEFAULT 0,
    UNIQUE (project, domain, name)
);
CREATE TABLE IF NOT EXISTS node_executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    domain TEXT NOT NULL,
    execution TEXT NOT NULL,
    node_id TEXT NOT NULL,
    parent_id TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    phase INTEGER NOT NULL,
    record BLOB NOT NULL,
    UNIQUE (project, domain, execution, node_id)
);
CREATE TABLE IF NOT EXISTS task_executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    domain TEXT NOT NULL,
    execution TEXT NOT NULL,
    node_id TEXT NOT NULL,
    retry_attempt INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    phase INTEGER NOT NULL,
    record BLOB NOT NULL,
    UNIQUE (project, domain, execution, node_id, retry_attempt)
);
CREATE TABLE IF NOT EXISTS signals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    domain TEXT NOT NULL,
    execution TEXT NOT NULL,
    signal_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    type BLOB NOT NULL,
    value BLOB,
    UNIQUE (project, domain, execution, signal_id)
);
CREATE TABLE IF NOT EXISTS cache (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    domain TEXT NOT NULL,
    dataset TEXT NOT NULL,
    version TEXT NOT NULL,
    tag TEXT NOT NULL,
    created_at REAL NOT NULL,
    outputs BLOB NOT NULL,
    source BLOB NOT NULL,
    UNIQUE (project, domain, dataset, version, tag)
);
"""

_ENTITY_COLUMNS = (
    "seq, resource_type, project, domain, name, version, created_at, updated_at, digest, state, spec, closure"
)
_PROJECT_COLUMNS = "seq, id, name, description, labels, state, created_at"
_EXECUTION_COLUMNS = (
    "seq, project, domain, name, created_at, updated_at, phase, launch_plan, workflow, spec, closure,"
    " launch_plan_name, launch_plan_version, workflow_name, workflow_version, task_name, task_version, state"
)
# Columns added to ``executions`` after its first version: added to an older database on open.
_EXECUTION_ADDED_COLUMNS = {
    **{
        name: "TEXT NOT NULL DEFAULT ''"
        for name in (
            "launch_plan_name",
            "launch_plan_version",
            "workflow_name",
            "workflow_version",
            "task_name",
            "task_version",
        )
    },
    "state": "INTEGER NOT NULL DEFAULT 0",
}
_NODE_COLUMNS = "seq, project, domain, execution, node_id, parent_id, created_at, updated_at, phase, record"
_TASK_COLUMNS = (
    "seq, project, domain, execution, node_id, retry_attempt, created_at, updated_at, phase, record"
)
_SIGNAL_COLUMNS = "seq, project, domain, execution, signal_id, created_at, updated_at, type, value"
_CACHE_COLUMNS = "seq, project, domain, dataset, version, tag, created_at, outputs, source"


@dataclass(frozen=True)
class EntityRow:
    seq: int
    resource_type: int
    project: str
    domain: str
    name: str
    version: str
    created_at: float
    updated_at: float
    digest: str
    state: int | None
    spec: bytes
    closure: bytes


@dataclass(frozen=True)
class ProjectRow:
    seq: int
    id: str
    name: str
    description: str
    labels: bytes
    state: int
    created_at: float


@dataclass(frozen=True)
class NamedEntityRow:
    resource_type: int
    project: str
    domain: str
    name: str
    description: str
    state: int


@dataclass(frozen=True)
class ExecutionRow:
    """An execution: ``launch_plan`` and ``workflow`` are serialized ``core.Identifier``s, ``spec`` and
    ``closure`` the serialized ``admin.ExecutionSpec`` / ``admin.ExecutionClosure``; the names and versions
    (``task_*`` for single-task executions) are copies for list filters."""

    seq: int
    project: str
    domain: str
    name: str
    created_at: float
    updated_at: float
    phase: int
    launch_plan: bytes
    workflow: bytes
    spec: bytes
    closure: bytes
    launch_plan_name: str = ""
    launch_plan_version: str = ""
    workflow_name: str = ""
    workflow_version: str = ""
    task_name: str = ""
    task_version: str = ""
    state: int = 0  # admin.ExecutionState: 0 active, 1 archived


@dataclass(frozen=True)
class NodeRow:
    """A node execution: ``record`` is the serialized ``admin.NodeExecution``."""

    seq: int
    project: str
    domain: str
    execution: str
    node_id: str
    parent_id: str
    created_at: float
    updated_at: float
    phase: int
    record: bytes


@dataclass(frozen=True)
class TaskRow:
    """A task execution attempt: ``record`` is the serialized ``admin.TaskExecution``."""

    seq: int
    project: str
    domain: str
    execution: str
    node_id: str
    retry_attempt: int
    created_at: float
    updated_at: float
    phase: int
    record: bytes


@dataclass(frozen=True)
class SignalRow:
    """A signal of an execution: ``type`` is a serialized ``core.LiteralType``, ``value`` a serialized
    ``core.Literal`` or None while nobody has set it."""

    seq: int
    project: str
    domain: str
    execution: str
    signal_id: str
    created_at: float
    updated_at: float
    type: bytes
    value: bytes | None


@dataclass(frozen=True)
class CacheRow:
    """A cached task output (datacatalog's artifact): ``dataset`` ``flyte_task-<task name>``, ``version``
    ``<cache version>-<interface hash>``, ``tag`` ``flyte_cached-<inputs hash>``; ``outputs`` a serialized
    ``core.LiteralMap``, ``source`` the serialized ``core.TaskExecutionIdentifier`` that produced it."""

    seq: int
    project: str
    domain: str
    dataset: str
    version: str
    tag: str
    created_at: float
    outputs: bytes
    source: bytes


@dataclass(frozen=True)
class Page:
    """A SQL fragment built by :mod:`flyte_ls.local.listing`: ``where`` uses ``?`` placeholders only."""

    where: str = ""
    params: Sequence[object] = ()
    order_by: str = "seq ASC"
    limit: int | None = None
    offset: int = 0


class Store:
    """The local Admin's database under ``state_dir`` (``admin.db`` and ``blobs/``). Thread-safe."""

    def __init__(self, state_dir: Path, domains: Sequence[str] = DEFAULT_DOMAINS) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.blobs_dir = self.state_dir / "blobs"
        self.blobs_dir.mkdir(exist_ok=True)
        self.domains: tuple[str, ...] = tuple(domains)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.state_dir / "admin.db", check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._db.executescript(_SCHEMA)  # commits on its own: not inside _tx
            self._add_missing_columns("executions", _EXECUTION_ADDED_COLUMNS)
        if self.get_project(DEFAULT_PROJECT) is None:
            self.put_project(DEFAULT_PROJECT, DEFAULT_PROJECT, "Default project (flytekit's default).")

    def _add_missing_columns(self, table: str, columns: dict[str, str]) -> None:
        present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})").fetchall()}
        for name, decl in columns.items():
            if name not in present:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- entities -----------------------------------------------------------------------------------------

    def insert_entity(
        self,
        resource_type: int,
        project: str,
        domain: str,
        name: str,
        version: str,
        *,
        digest: str,
        spec: bytes,
        closure: bytes,
        state: int | None = None,
        created_at: float | None = None,
    ) -> EntityRow | None:
        """Insert a new entity version; if that id exists, insert nothing and return the stored row."""
        now = time.time() if created_at is None else created_at
        with self._tx() as db:
            existing = self._get_entity(resource_type, project, domain, name, version)
            if existing is not None:
                return existing
            db.execute(
                "INSERT INTO entities (resource_type, project, domain, name, version, created_at, updated_at,"
                " digest, state, spec, closure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (resource_type, project, domain, name, version, now, now, digest, state, spec, closure),
            )
            db.execute(
                "INSERT OR IGNORE INTO named_entities (resource_type, project, domain, name)"
                " VALUES (?, ?, ?, ?)",
                (resource_type, project, domain, name),
            )
        return None

    def get_entity(
        self, resource_type: int, project: str, domain: str, name: str, version: str
    ) -> EntityRow | None:
        with self._lock:
            return self._get_entity(resource_type, project, domain, name, version)

    def _get_entity(
        self, resource_type: int, project: str, domain: str, name: str, version: str
    ) -> EntityRow | None:
        row = self._db.execute(
            f"SELECT {_ENTITY_COLUMNS} FROM entities"
            " WHERE resource_type = ? AND project = ? AND domain = ? AND name = ? AND version = ?",
            (resource_type, project, domain, name, version),
        ).fetchone()
        return EntityRow(*row) if row else None

    def list_entities(
        self, resource_type: int, project: str, domain: str, name: str | None, page: Page
    ) -> list[EntityRow]:
        """Entity versions of one project/domain (and one name, when given) matching ``page``."""
        where = ["resource_type = ?", "project = ?", "domain = ?"]
        params: list[object] = [resource_type, project, domain]
        if name:
            where.append("name = ?")
            params.append(name)
        return [EntityRow(*r) for r in self._select("entities", _ENTITY_COLUMNS, where, params, page)]

    def list_entity_names(
        self, resource_type: int, project: str, domain: str, page: Page
    ) -> list[tuple[str, float]]:
        """Distinct names (with the latest ``created_at``) of one project/domain, for List…Ids."""
        where = ["resource_type = ?", "project = ?", "domain = ?"]
        params: list[object] = [resource_type, project, domain]
        if page.where:
            where.append(f"({page.where})")
            params.extend(page.params)
        sql = (
            "SELECT name, MAX(created_at) AS created_at, MIN(seq) AS seq FROM entities WHERE "
            + " AND ".join(where)
            + f" GROUP BY name ORDER BY {page.order_by}"
        )
        sql, params = _paged(sql, params, page)
        with self._lock:
            return [(r[0], r[1]) for r in self._db.execute(sql, params).fetchall()]

    def activate_launch_plan(self, project: str, domain: str, name: str, version: str) -> None:
        """Make this version the active one of its name, deactivating any other active version."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE entities SET state = ?, updated_at = ? WHERE resource_type = ? AND project = ?"
                " AND domain = ? AND name = ? AND state = ? AND version != ?",
                (LP_INACTIVE, now, LAUNCH_PLAN, project, domain, name, LP_ACTIVE, version),
            )
            db.execute(
                "UPDATE entities SET state = ?, updated_at = ? WHERE resource_type = ? AND project = ?"
                " AND domain = ? AND name = ? AND version = ?",
                (LP_ACTIVE, now, LAUNCH_PLAN, project, domain, name, version),
            )

    def deactivate_launch_plan(self, project: str, domain: str, name: str, version: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE entities SET state = ?, updated_at = ? WHERE resource_type = ? AND project = ?"
                " AND domain = ? AND name = ? AND version = ?",
                (LP_INACTIVE, time.time(), LAUNCH_PLAN, project, domain, name, version),
            )

    def active_launch_plans(self, project: str, domain: str, name: str | None, page: Page) -> list[EntityRow]:
        where = ["resource_type = ?", "project = ?", "domain = ?", "state = ?"]
        params: list[object] = [LAUNCH_PLAN, project, domain, LP_ACTIVE]
        if name:
            where.append("name = ?")
            params.append(name)
        return [EntityRow(*r) for r in self._select("entities", _ENTITY_COLUMNS, where, params, page)]

    # --- named entities -----------------------------------------------------------------------------------

    def get_named_entity(
        self, resource_type: int, project: str, domain: str, name: str
    ) -> NamedEntityRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT resource_type, project, domain, name, description, state FROM named_entities"
                " WHERE resource_type = ? AND project = ? AND domain = ? AND name = ?",
                (resource_type, project, domain, name),
            ).fetchone()
        return NamedEntityRow(*row) if row else None

    def update_named_entity(
        self, resource_type: int, project: str, domain: str, name: str, description: str, state: int
    ) -> bool:
        """Set a named entity's metadata; False when no entity of that name was ever registered."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE named_entities SET description = ?, state = ?"
                " WHERE resource_type = ? AND project = ? AND domain = ? AND name = ?",
                (description, state, resource_type, project, domain, name),
            )
            return cur.rowcount > 0

    def list_named_entities(
        self, resource_type: int, project: str, domain: str, page: Page
    ) -> list[NamedEntityRow]:
        where = ["resource_type = ?", "project = ?", "domain = ?"]
        params: list[object] = [resource_type, project, domain]
        cols = "resource_type, project, domain, name, description, state"
        return [NamedEntityRow(*r) for r in self._select("named_entities", cols, where, params, page)]

    # --- projects -----------------------------------------------------------------------------------------

    def put_project(
        self, project_id: str, name: str, description: str = "", labels: bytes = b"", state: int = 0
    ) -> bool:
        """Create a project; False (nothing written) when the id exists."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO projects (id, name, description, labels, state, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (project_id, name, description, labels, state, time.time()),
            )
            return cur.rowcount > 0

    def update_project(self, project_id: str, name: str, description: str, labels: bytes, state: int) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE projects SET name = ?, description = ?, labels = ?, state = ? WHERE id = ?",
                (name, description, labels, state, project_id),
            )
            return cur.rowcount > 0

    def get_project(self, project_id: str) -> ProjectRow | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE id = ?", (project_id,)
            ).fetchone()
        return ProjectRow(*row) if row else None

    def list_projects(self, page: Page) -> list[ProjectRow]:
        return [ProjectRow(*r) for r in self._select("projects", _PROJECT_COLUMNS, [], [], page)]

    # --- executions ---------------------------------------------------------------------------------------
    # Rows only: flyte_ls.local.executions.records builds and validates the protobufs they hold.

    def insert_execution(self, row: ExecutionRow) -> bool:
        """Insert a new execution (``row.seq`` is ignored); False (nothing written) when the name exists."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO executions (project, domain, name, created_at, updated_at, phase,"
                " launch_plan, workflow, spec, closure, launch_plan_name, launch_plan_version, workflow_name,"
                " workflow_version, task_name, task_version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.project,
                    row.domain,
                    row.name,
                    row.created_at,
                    row.updated_at,
                    row.phase,
                    row.launch_plan,
                    row.workflow,
                    row.spec,
                    row.closure,
                    row.launch_plan_name,
                    row.launch_plan_version,
                    row.workflow_name,
                    row.workflow_version,
                    row.task_name,
                    row.task_version,
                ),
            )
            return cur.rowcount > 0

    def get_execution(self, project: str, domain: str, name: str) -> ExecutionRow | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE project = ? AND domain = ? AND name = ?",
                (project, domain, name),
            ).fetchone()
        return ExecutionRow(*row) if row else None

    @contextmanager
    def update_execution(self, project: str, domain: str, name: str) -> Iterator[list[ExecutionRow | None]]:
        """Read-modify-write of one execution in a transaction: the caller replaces ``box[0]`` with the new
        row (or leaves it); raising inside the block writes nothing."""
        with self._tx() as db:
            row = db.execute(
                f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE project = ? AND domain = ? AND name = ?",
                (project, domain, name),
            ).fetchone()
            old = ExecutionRow(*row) if row else None
            box: list[ExecutionRow | None] = [old]
            yield box
            new = box[0]
            if new is not None and new != old:
                db.execute(
                    "UPDATE executions SET updated_at = ?, phase = ?, spec = ?, closure = ?, state = ?"
                    " WHERE seq = ?",
                    (new.updated_at, new.phase, new.spec, new.closure, new.state, new.seq),
                )

    def list_executions(self, project: str, domain: str, page: Page) -> list[ExecutionRow]:
        where = ["project = ?", "domain = ?"]
        params: list[object] = [project, domain]
        return [ExecutionRow(*r) for r in self._select("executions", _EXECUTION_COLUMNS, where, params, page)]

    def executions_in_phases(self, phases: Sequence[int]) -> list[ExecutionRow]:
        """Executions in any of ``phases`` (e.g. the unfinished ones after a restart), oldest first."""
        marks = ", ".join("?" for _ in phases)
        where = [f"phase IN ({marks})"] if phases else ["0"]
        return [
            ExecutionRow(*r)
            for r in self._select("executions", _EXECUTION_COLUMNS, where, list(phases), Page())
        ]

    def put_node(self, row: NodeRow) -> None:
        """Insert or replace the node execution ``(project, domain, execution, node_id)``."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO node_executions (project, domain, execution, node_id, parent_id, created_at,"
                " updated_at, phase, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (project, domain, execution, node_id) DO UPDATE SET"
                " parent_id = excluded.parent_id, updated_at = excluded.updated_at,"
                " phase = excluded.phase, record = excluded.record",
                (
                    row.project,
                    row.domain,
                    row.execution,
                    row.node_id,
                    row.parent_id,
                    row.created_at,
                    row.updated_at,
                    row.phase,
                    row.record,
                ),
            )

    def get_node(self, project: str, domain: str, execution: str, node_id: str) -> NodeRow | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_NODE_COLUMNS} FROM node_executions"
                " WHERE project = ? AND domain = ? AND execution = ? AND node_id = ?",
                (project, domain, execution, node_id),
            ).fetchone()
        return NodeRow(*row) if row else None

    def list_nodes(
        self, project: str, domain: str, execution: str, parent_id: str, page: Page
    ) -> list[NodeRow]:
        """Node executions of one execution whose parent is ``parent_id`` ('' = the top level)."""
        where = ["project = ?", "domain = ?", "execution = ?", "parent_id = ?"]
        params: list[object] = [project, domain, execution, parent_id]
        return [NodeRow(*r) for r in self._select("node_executions", _NODE_COLUMNS, where, params, page)]

    def has_child_nodes(self, project: str, domain: str, execution: str, node_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM node_executions WHERE project = ? AND domain = ? AND execution = ?"
                " AND parent_id = ? LIMIT 1",
                (project, domain, execution, node_id),
            ).fetchone()
        return row is not None

    def put_task(self, row: TaskRow) -> None:
        """Insert or replace the task attempt ``(project, domain, execution, node_id, retry_attempt)``."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO task_executions (project, domain, execution, node_id, retry_attempt, created_at,"
                " updated_at, phase, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (project, domain, execution, node_id, retry_attempt) DO UPDATE SET"
                " updated_at = excluded.updated_at, phase = excluded.phase, record = excluded.record",
                (
                    row.project,
                    row.domain,
                    row.execution,
                    row.node_id,
                    row.retry_attempt,
                    row.created_at,
                    row.updated_at,
                    row.phase,
                    row.record,
                ),
            )

    def get_task(
        self, project: str, domain: str, execution: str, node_id: str, retry_attempt: int
    ) -> TaskRow | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_TASK_COLUMNS} FROM task_executions WHERE project = ? AND domain = ?"
                " AND execution = ? AND node_id = ? AND retry_attempt = ?",
                (project, domain, execution, node_id, retry_attempt),
            ).fetchone()
        return TaskRow(*row) if row else None

    def list_tasks(
        self, project: str, domain: str, execution: str, node_id: str, page: Page
    ) -> list[TaskRow]:
        where = ["project = ?", "domain = ?", "execution = ?", "node_id = ?"]
        params: list[object] = [project, domain, execution, node_id]
        return [TaskRow(*r) for r in self._select("task_executions", _TASK_COLUMNS, where, params, page)]

    # --- signals ------------------------------------------------------------------------------------------

    def get_or_create_signal(
        self, project: str, domain: str, execution: str, signal_id: str, type_: bytes
    ) -> SignalRow:
        """The signal, created unset with ``type_`` when it does not exist yet."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO signals (project, domain, execution, signal_id, created_at, updated_at, type)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (project, domain, execution, signal_id) DO NOTHING",
                (project, domain, execution, signal_id, now, now, type_),
            )
            row = db.execute(
                f"SELECT {_SIGNAL_COLUMNS} FROM signals"
                " WHERE project = ? AND domain = ? AND execution = ? AND signal_id = ?",
                (project, domain, execution, signal_id),
            ).fetchone()
        return SignalRow(*row)

    def get_signal(self, project: str, domain: str, execution: str, signal_id: str) -> SignalRow | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_SIGNAL_COLUMNS} FROM signals"
                " WHERE project = ? AND domain = ? AND execution = ? AND signal_id = ?",
                (project, domain, execution, signal_id),
            ).fetchone()
        return SignalRow(*row) if row else None

    def set_signal(
        self, project: str, domain: str, execution: str, signal_id: str, type_: bytes, value: bytes
    ) -> None:
        """Set the signal's value (creating the signal with ``type_`` if it does not exist yet)."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO signals (project, domain, execution, signal_id, created_at, updated_at, type,"
                " value) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project, domain, execution, signal_id)"
                " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (project, domain, execution, signal_id, now, now, type_, value),
            )

    def list_signals(self, project: str, domain: str, execution: str, page: Page) -> list[SignalRow]:
        where = ["project = ?", "domain = ?", "execution = ?"]
        params: list[object] = [project, domain, execution]
        return [SignalRow(*r) for r in self._select("signals", _SIGNAL_COLUMNS, where, params, page)]

    # --- cache ---------------------------------------------------------------------------------------------

    def get_cached(self, project: str, domain: str, dataset: str, version: str, tag: str) -> CacheRow | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_CACHE_COLUMNS} FROM cache"
                " WHERE project = ? AND domain = ? AND dataset = ? AND version = ? AND tag = ?",
                (project, domain, dataset, version, tag),
            ).fetchone()
        return CacheRow(*row) if row else None

    def put_cached(self, row: CacheRow) -> None:
        """Insert or replace the cached outputs of ``(project, domain, dataset, version, tag)``."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO cache (project, domain, dataset, version, tag, created_at, outputs, source)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project, domain, dataset, version, tag)"
                " DO UPDATE SET created_at = excluded.created_at, outputs = excluded.outputs,"
                " source = excluded.source",
                (
                    row.project,
                    row.domain,
                    row.dataset,
                    row.version,
                    row.tag,
                    row.created_at,
                    row.outputs,
                    row.source,
                ),
            )

    # --- helpers ------------------------------------------------------------------------------------------

    def _select(
        self, table: str, columns: str, where: list[str], params: list[object], page: Page
    ) -> list[Any]:
        where = list(where)
        params = list(params)
        if page.where:
            where.append(f"({page.where})")
            params.extend(page.params)
        sql = f"SELECT {columns} FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {page.order_by}"
        sql, params = _paged(sql, params, page)
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())


def _paged(sql: str, params: list[object], page: Page) -> tuple[str, list[object]]:
    if page.limit is not None:
        return sql + " LIMIT ? OFFSET ?", [*params, page.limit, page.offset]
    if page.offset:
        return sql + " LIMIT -1 OFFSET ?", [*params, page.offset]
    return sql, params
