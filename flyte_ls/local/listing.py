"""Admin's list semantics: filters, ``sort_by`` and ``limit``/``token`` paging, turned into safe SQL.

Filters are ``op(key,value)`` terms joined by ``+`` (``eq(version,v1)+value_in(name,a;b)``). Keys are looked
up in a whitelist of columns per list call, values are always bound parameters, never interpolated. Admin
also accepts keys qualified by the entity (``task.name``, ``launch_plan.state``); the qualifier is dropped.
Page tokens are stringified offsets; a token is returned only when the page is full.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from flyte_ls.local.errors import InvalidArgument
from flyte_ls.local.store import Page

_OPS: dict[str, str] = {"eq": "=", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_ALL_OPS = (*_OPS, "contains", "value_in")
_TERM = re.compile(r"^\s*([a-z_]+)\s*\(\s*([A-Za-z_.]+)\s*,(.*)\)\s*$", re.DOTALL)

# Sort.Direction: DESCENDING = 0, ASCENDING = 1.
DESCENDING = 0
ASCENDING = 1


@dataclass(frozen=True)
class Column:
    """A filterable/sortable column: its SQL expression and how a filter value is converted for it."""

    sql: str
    convert: Callable[[str], object] = str


def timestamp(value: str) -> float:
    """A filter value for a time column: RFC 3339 (``2024-01-02T03:04:05Z``) or epoch seconds."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidArgument(
            f"invalid timestamp {value!r}: use RFC 3339, e.g. 2024-01-02T03:04:05Z"
        ) from None


def enum_value(names: Mapping[str, int]) -> Callable[[str], object]:
    """A converter accepting an enum's name (``ACTIVE``) or its number (``1``)."""

    def convert(value: str) -> object:
        if value.upper() in names:
            return names[value.upper()]
        try:
            return int(value)
        except ValueError:
            raise InvalidArgument(f"invalid value {value!r}: expected one of {', '.join(names)}") from None

    return convert


def parse_filters(filters: str, columns: Mapping[str, Column], entity: str = "") -> tuple[str, list[object]]:
    """``op(key,value)+...`` → an SQL condition with ``?`` placeholders and its parameters."""
    if not filters.strip():
        return "", []
    clauses: list[str] = []
    params: list[object] = []
    for term in _split_terms(filters):
        m = _TERM.match(term)
        if not m:
            raise InvalidArgument(f"invalid filter {term!r}: expected op(key,value), e.g. eq(version,v1)")
        op, key, raw = m.group(1), m.group(2), m.group(3).strip()
        if op not in _ALL_OPS:
            raise InvalidArgument(
                f"invalid filter {term!r}: unknown operator {op!r} (use one of {', '.join(_ALL_OPS)})"
            )
        column = _column(key, columns, entity, term)
        if op == "value_in":
            values = [v.strip() for v in raw.split(";") if v.strip()]
            if not values:
                raise InvalidArgument(f"invalid filter {term!r}: value_in needs values separated by ';'")
            clauses.append(f"{column.sql} IN ({', '.join('?' for _ in values)})")
            params.extend(column.convert(v) for v in values)
        elif op == "contains":
            clauses.append(f"{column.sql} LIKE ? ESCAPE '\\'")
            escaped = raw.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(f"%{escaped}%")
        else:
            clauses.append(f"{column.sql} {_OPS[op]} ?")
            params.append(column.convert(raw))
    return " AND ".join(clauses), params


def _split_terms(filters: str) -> list[str]:
    """Split on ``+`` outside parentheses (values may not contain parentheses, but keep this robust)."""
    terms: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(filters):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "+" and depth == 0:
            terms.append(filters[start:i])
            start = i + 1
    terms.append(filters[start:])
    return [t for t in terms if t.strip()]


def _column(key: str, columns: Mapping[str, Column], entity: str, term: str) -> Column:
    if "." in key:
        prefix, _, field = key.rpartition(".")
        if entity and prefix != entity:
            raise InvalidArgument(
                f"invalid filter {term!r}: cannot filter on {prefix!r} here (use {entity}.<key>)"
            )
        key = field
    if key not in columns:
        raise InvalidArgument(
            f"invalid filter {term!r}: unknown key {key!r} (use one of {', '.join(sorted(columns))})"
        )
    return columns[key]


def order_by(key: str, direction: int, columns: Mapping[str, Column], default: str) -> str:
    """``sort_by`` → an ORDER BY clause over a whitelisted column (ties broken by insertion order)."""
    if not key:
        return default
    key = key.rpartition(".")[2]
    if key not in columns:
        raise InvalidArgument(f"invalid sort key {key!r} (use one of {', '.join(sorted(columns))})")
    sql_dir = "ASC" if direction == ASCENDING else "DESC"
    return f"{columns[key].sql} {sql_dir}, seq {sql_dir}"


def offset_from_token(token: str) -> int:
    if not token:
        return 0
    try:
        offset = int(token)
    except ValueError:
        raise InvalidArgument(
            f"invalid page token {token!r}: pass back the token of the previous page"
        ) from None
    if offset < 0:
        raise InvalidArgument(f"invalid page token {token!r}: pass back the token of the previous page")
    return offset


def build_page(
    *,
    filters: str,
    sort_key: str,
    sort_direction: int,
    limit: int,
    token: str,
    columns: Mapping[str, Column],
    entity: str = "",
    default_order: str = "seq ASC",
    require_limit: bool = True,
) -> Page:
    """The :class:`Page` for one list request. Admin rejects ``limit`` 0 on entity lists (not on projects)."""
    if limit < 0 or (require_limit and limit == 0):
        raise InvalidArgument(f"invalid limit {limit}: must be a positive number of results per page")
    where, params = parse_filters(filters, columns, entity)
    return Page(
        where=where,
        params=params,
        order_by=order_by(sort_key, sort_direction, columns, default_order),
        limit=limit or None,
        offset=offset_from_token(token),
    )


def next_token(page: Page, results: Sequence[object]) -> str:
    """The token of the next page: only when this page is full."""
    if page.limit is not None and len(results) == page.limit:
        return str(page.offset + page.limit)
    return ""


ENTITY_COLUMNS: dict[str, Column] = {
    "project": Column("project"),
    "domain": Column("domain"),
    "name": Column("name"),
    "version": Column("version"),
    "created_at": Column("created_at", timestamp),
    "updated_at": Column("updated_at", timestamp),
}

NAME_COLUMNS: dict[str, Column] = {
    "name": Column("name"),
    "created_at": Column("created_at", timestamp),
}

PROJECT_COLUMNS: dict[str, Column] = {
    "identifier": Column("id"),
    "id": Column("id"),
    "name": Column("name"),
    "description": Column("description"),
    "state": Column(
        "state", enum_value({"ACTIVE": 0, "ARCHIVED": 1, "SYSTEM_GENERATED": 2, "SYSTEM_ARCHIVED": 3})
    ),
    "created_at": Column("created_at", timestamp),
}
