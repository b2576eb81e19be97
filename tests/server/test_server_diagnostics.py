"""Diagnostics scheduling on an in-process server with a real lint worker process: a running pass is never
cancelled, a stale result is moved through the later edits and followed by exactly one pass, a worker killed
in the middle of a pass is replaced and the pass retried."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

import pytest
from lsprotocol import types

from flyte_ls.server.documents import Document
from flyte_ls.server.features import diagnostics
from flyte_ls.server.server import FlyteLanguageServer
from flyte_ls.server.settings import parse_settings

pytestmark = pytest.mark.timeout(60)

HEADER = "from flytekit import task\n\n\n"
GOOD = "@task\ndef ok_{i}(x: int) -> int:\n    y = x + {i}\n    return y\n\n\n"
BAD = "@task\ndef untyped(x) -> int:\n    return 1\n"
URI = "file:///project/big.py"


def module(tasks: int) -> str:
    return HEADER + "".join(GOOD.format(i=i) for i in range(tasks)) + BAD


Published = list[tuple[int | None, list[tuple[str, int]]]]  # (version, [(code, line)])


@pytest.fixture
async def server():
    server = FlyteLanguageServer()
    server.loop = asyncio.get_running_loop()
    settings, problems, _ = parse_settings({"diagnostics": {"debounceMs": 100}})
    assert problems == []
    server.settings = settings
    published: Published = []

    def record(params: types.PublishDiagnosticsParams) -> None:
        published.append(
            (params.version, sorted((str(d.code), d.range.start.line) for d in params.diagnostics))
        )

    server.text_document_publish_diagnostics = record  # type: ignore[method-assign]
    server.published = published  # type: ignore[attr-defined]
    diagnostics.setup(server)
    await server.lint_worker.start()
    yield server
    await server.lint_worker.aclose()


def feature(server: FlyteLanguageServer) -> Any:
    hook = server.on_change[0]
    return hook.__self__  # type: ignore[attr-defined]


def edit(
    server: FlyteLanguageServer, doc: Document, version: int, line: int, cols: tuple[int, int], text: str
) -> None:
    """An incremental didChange replacing columns ``cols`` of ``line`` (ASCII text) by ``text``."""
    lines = doc.text.source.split("\n")
    lines[line] = lines[line][: cols[0]] + text + lines[line][cols[1] :]
    change = types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=line, character=cols[0]),
            end=types.Position(line=line, character=cols[1]),
        ),
        text=text,
    )
    server.documents.change(doc.uri, "\n".join(lines), version, [change])
    server.emit(server.on_change, doc)


async def settle(server: FlyteLanguageServer, passes: int, timeout: float = 30) -> None:
    """Wait until ``passes`` lint passes have finished and nothing more is scheduled."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while feature(server).passes < passes or server.running_tasks():
        assert loop.time() < deadline, f"{feature(server).passes} passes, running {server.running_tasks()}"
        await asyncio.sleep(0.02)


async def test_a_stale_result_is_moved_through_the_edits_then_replaced_by_one_follow_up(
    server: FlyteLanguageServer,
) -> None:
    source = module(200)
    bad_line = source.split("\n").index("def untyped(x) -> int:")
    doc = server.documents.open(URI, source, 1, "python")
    server.emit(server.on_open, doc)  # the pass starts with this text...
    edit(server, doc, 2, 0, (0, 0), "# a comment\n")  # ...and the user types meanwhile: a line more above
    assert doc.text.source.split("\n")[5] == "def ok_0(x: int) -> int:"
    edit(server, doc, 3, 5, (10, 15), "")  # and makes ok_0 untyped: 'def ok_0(x)'
    await settle(server, 2)
    await asyncio.sleep(0.3)  # longer than the debounce: no further pass may start
    published: Published = server.published  # type: ignore[attr-defined]
    assert feature(server).passes == 2
    assert published == [
        (3, [("FL001", bad_line + 1)]),  # the first pass's finding, moved one line down
        (3, [("FL001", 5), ("FL001", bad_line + 1)]),  # the follow-up pass: ok_0 is untyped now
    ]


async def test_a_current_result_is_published_as_it_is(server: FlyteLanguageServer) -> None:
    doc = server.documents.open(URI, module(3), 7, "python")
    server.emit(server.on_open, doc)
    await settle(server, 1)
    published: Published = server.published  # type: ignore[attr-defined]
    assert published == [(7, [("FL001", 3 + 3 * 6 + 1)])]


async def test_a_worker_killed_during_a_pass_is_replaced_and_the_pass_retried(
    server: FlyteLanguageServer, caplog: pytest.LogCaptureFixture
) -> None:
    pid = server.lint_worker.pid
    assert pid is not None
    source = module(1500)  # ~9,000 lines: a pass of a few hundred milliseconds
    doc = server.documents.open(URI, source, 1, "python")
    with caplog.at_level(logging.WARNING):
        server.emit(server.on_open, doc)
        deadline = asyncio.get_running_loop().time() + 10  # the pass starts at once (later when loaded)
        while not server.lint_worker.busy and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert server.lint_worker.busy
        os.kill(pid, signal.SIGKILL)
        await settle(server, 1)
    assert "died during lint" in caplog.text
    assert server.lint_worker.starts == 2 and server.lint_worker.pid != pid
    published: Published = server.published  # type: ignore[attr-defined]
    assert published == [(1, [("FL001", source.split("\n").index("def untyped(x) -> int:"))])]


async def test_closing_during_a_pass_drops_its_result(server: FlyteLanguageServer) -> None:
    doc = server.documents.open(URI, module(300), 1, "python")
    server.emit(server.on_open, doc)
    server.documents.close(URI)
    server.emit(server.on_close, doc)
    await settle(server, 1)
    published: Published = server.published  # type: ignore[attr-defined]
    assert published == [(None, [])]  # the close's empty publish, nothing after it


async def test_no_pass_while_diagnostics_are_disabled(server: FlyteLanguageServer) -> None:
    settings, _, _ = parse_settings({"diagnostics": {"enabled": False}})
    server.apply_settings(settings)
    doc = server.documents.open(URI, module(3), 1, "python")
    server.emit(server.on_open, doc)
    edit(server, doc, 2, 0, (0, 0), "\n")
    await asyncio.sleep(0.3)
    assert feature(server).passes == 0
    assert server.published == []  # type: ignore[attr-defined]
