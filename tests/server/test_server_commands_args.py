"""The argument object of the flyte.* commands: each field validated, errors naming the field and the form."""

from __future__ import annotations

import datetime

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from flyte_ls.remote.identifiers import WorkflowExecutionIdentifier
from flyte_ls.server.features.commands_args import Args, execution_from_url, parse_execution

pytestmark = pytest.mark.timeout(30)

EX = WorkflowExecutionIdentifier("p", "d", "abc")


@pytest.mark.parametrize(
    "arguments", [(), ({"a": 1}, {"b": 2}), ("text",), (3,)], ids=["none", "two", "string", "number"]
)
def test_one_object_argument(arguments: tuple[object, ...]) -> None:
    with pytest.raises(
        JsonRpcInvalidParams, match=r"flyte\.register: takes one JSON object argument.*Expected"
    ):
        Args("flyte.register", arguments)


def test_fields_are_checked_by_type() -> None:
    args = Args("flyte.execute", [{"uri": "file:///a.py", "entity": "", "inputs": [1], "parallel": "yes"}])
    assert args.required("uri") == "file:///a.py"
    with pytest.raises(JsonRpcInvalidParams, match="`entity` must be a non-empty string, got ''"):
        args.required("entity")
    with pytest.raises(JsonRpcInvalidParams, match="`inputs` must be an object"):
        args.obj("inputs")
    with pytest.raises(JsonRpcInvalidParams, match="`parallel` must be true or false"):
        args.boolean("parallel")
    with pytest.raises(JsonRpcInvalidParams, match="`domain` is missing"):
        args.required("domain")
    assert args.string("project", required=False) is None


def test_dates_are_iso() -> None:
    args = Args("flyte.backfill", [{"from": "2026-01-31", "to": "2026-02-01T12:00Z", "bad": "31/01/2026"}])
    assert args.date("from") == datetime.datetime(2026, 1, 31)
    assert args.date("to") == datetime.datetime(2026, 2, 1, 12, tzinfo=datetime.timezone.utc)
    with pytest.raises(JsonRpcInvalidParams, match="ISO date"):
        args.date("bad")


def test_execution_forms() -> None:
    assert parse_execution({"project": "p", "domain": "d", "name": "abc"}, "x", "y") == EX
    assert parse_execution({"name": "abc"}, "p", "d") == EX
    assert parse_execution("ex:p:d:abc", "x", "y") == EX
    assert parse_execution("abc", "p", "d") == EX
    assert (
        parse_execution("http://localhost:30080/console/projects/p/domains/d/executions/abc", "x", "y") == EX
    )
    for bad in (42, {"project": "p"}, "", "a b", "ex:p:d", "https://example.com/other"):
        assert parse_execution(bad, "p", "d") is None, bad
    with pytest.raises(JsonRpcInvalidParams, match="`execution` must be"):
        Args("flyte.terminate", [{"execution": 42}]).execution("p", "d")


def test_console_urls_of_nodes_name_their_execution() -> None:
    url = "https://flyte.example.com/console/projects/p/domains/d/executions/abc/nodes/n0?tab=inputs"
    assert execution_from_url(url) == EX
    assert execution_from_url("https://flyte.example.com/console/projects/p/domains/d/workflows/w") is None
