"""Store: entities, projects and named entities persist across reopen; inserts never overwrite."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flyte_ls.local.store import LAUNCH_PLAN, LP_ACTIVE, LP_INACTIVE, TASK, Page, Store

pytestmark = pytest.mark.timeout(30)


def _insert(store: Store, name: str, version: str, rt: int = TASK, **kw: object) -> object:
    return store.insert_entity(
        rt, "flytesnacks", "development", name, version, digest=f"d-{version}", spec=b"s", closure=b"c", **kw
    )


def test_seeded_project_and_wal(tmp_path: Path) -> None:
    store = Store(tmp_path)
    project = store.get_project("flytesnacks")
    assert project is not None and project.name == "flytesnacks"
    assert store.domains == ("development", "staging", "production")
    assert (tmp_path / "admin.db").exists() and (tmp_path / "blobs").is_dir()
    mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


def test_insert_returns_existing_row_and_persists(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert _insert(store, "wf.t", "v1") is None
    existing = _insert(store, "wf.t", "v1")
    assert existing is not None and existing.digest == "d-v1"  # type: ignore[attr-defined]
    store.put_project("other", "Other", "desc")
    store.close()

    reopened = Store(tmp_path)
    row = reopened.get_entity(TASK, "flytesnacks", "development", "wf.t", "v1")
    assert row is not None and row.spec == b"s" and row.closure == b"c"
    assert reopened.get_project("other") is not None
    assert [p.id for p in reopened.list_projects(Page())] == ["flytesnacks", "other"]
    assert reopened.get_named_entity(TASK, "flytesnacks", "development", "wf.t") is not None
    reopened.close()


def test_activation_deactivates_previous(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for v in ("v1", "v2"):
        _insert(store, "lp", v, rt=LAUNCH_PLAN, state=LP_INACTIVE)
    store.activate_launch_plan("flytesnacks", "development", "lp", "v1")
    store.activate_launch_plan("flytesnacks", "development", "lp", "v2")
    states = {
        v: store.get_entity(LAUNCH_PLAN, "flytesnacks", "development", "lp", v).state  # type: ignore[union-attr]
        for v in ("v1", "v2")
    }
    assert states == {"v1": LP_INACTIVE, "v2": LP_ACTIVE}
    active = store.active_launch_plans("flytesnacks", "development", None, Page())
    assert [r.version for r in active] == ["v2"]
    store.close()


def test_concurrent_inserts_from_threads(tmp_path: Path) -> None:
    store = Store(tmp_path)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                _insert(store, f"t{i}", f"v{j}")
                store.list_entities(TASK, "flytesnacks", "development", f"t{i}", Page())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.list_entities(TASK, "flytesnacks", "development", None, Page())) == 160
    store.close()
