"""Admin list semantics: filters to parameterised SQL, sort keys, page tokens, readable InvalidArgument."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyte_ls.local.errors import InvalidArgument
from flyte_ls.local.listing import ENTITY_COLUMNS, build_page, next_token, parse_filters
from flyte_ls.local.store import TASK, Store

pytestmark = pytest.mark.timeout(30)


def test_parse_filters_binds_values() -> None:
    where, params = parse_filters(
        "eq(version,v1)+value_in(name,a;b)+contains(name,x%)", ENTITY_COLUMNS, "task"
    )
    assert where == "version = ? AND name IN (?, ?) AND name LIKE ? ESCAPE '\\'"
    assert params == ["v1", "a", "b", "%x\\%%"]
    where, params = parse_filters("gte(task.created_at,2024-01-01T00:00:00Z)", ENTITY_COLUMNS, "task")
    assert where == "created_at >= ?" and params == [1704067200.0]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ("eq(version)", r"expected op\(key,value\)"),
        ("like(name,a)", "unknown operator 'like'"),
        ("eq(spec,x)", "unknown key 'spec'"),
        ("eq(workflow.name,x)", "cannot filter on 'workflow'"),
        ("gt(created_at,yesterday)", "invalid timestamp"),
        ("value_in(name,)", "value_in needs values"),
    ],
)
def test_bad_filters_are_invalid_argument(filters: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_filters(filters, ENTITY_COLUMNS, "task")


def test_injection_is_just_a_value(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.insert_entity(TASK, "flytesnacks", "development", "t", "v1", digest="d", spec=b"", closure=b"")
    page = build_page(
        filters="eq(name,t' OR 1=1 --)",
        sort_key="",
        sort_direction=0,
        limit=10,
        token="",
        columns=ENTITY_COLUMNS,
    )
    assert store.list_entities(TASK, "flytesnacks", "development", None, page) == []
    store.close()


def test_sort_and_paging(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for i in range(5):
        store.insert_entity(
            TASK,
            "flytesnacks",
            "development",
            "t",
            f"v{i}",
            digest="d",
            spec=b"",
            closure=b"",
            created_at=100.0 + i,
        )
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = build_page(
            filters="", sort_key="created_at", sort_direction=0, limit=2, token=token, columns=ENTITY_COLUMNS
        )
        rows = store.list_entities(TASK, "flytesnacks", "development", "t", page)
        seen += [r.version for r in rows]
        pages += 1
        token = next_token(page, rows)
        if not token:
            break
    assert seen == ["v4", "v3", "v2", "v1", "v0"] and pages == 3
    # A full last page still returns a token; the page after it is empty with no token.
    page = build_page(
        filters="", sort_key="version", sort_direction=1, limit=5, token="", columns=ENTITY_COLUMNS
    )
    rows = store.list_entities(TASK, "flytesnacks", "development", "t", page)
    assert [r.version for r in rows] == ["v0", "v1", "v2", "v3", "v4"] and next_token(page, rows) == "5"
    store.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "invalid limit"),
        ({"token": "abc"}, "invalid page token"),
        ({"sort_key": "digest"}, "invalid sort key"),
    ],
)
def test_bad_paging(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"filters": "", "sort_key": "", "sort_direction": 0, "limit": 10, "token": ""}
    args.update(kwargs)
    with pytest.raises(InvalidArgument, match=message):
        build_page(columns=ENTITY_COLUMNS, **args)  # type: ignore[arg-type]
