"""The lint worker process end to end: diagnostics while the user types in bursts on a large module, a killed
worker is replaced, and memory stays flat over many lint passes (server and worker)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest
import pytest_lsp
from lsp_helpers import (
    CONFIG,
    DEFAULT_TIMEOUT,
    logged,
    next_diagnostics,
    open_document,
    publish_count,
    replace_text,
    start_session,
    stop_session,
    wait_until,
)
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.timeout(120)

PRESET = "visual-studio-code"
HEADER = "from flytekit import task\n\n\n"
TASK = "@task\ndef t_{i}(x: int) -> int:\n    y = x + {i}\n    return y\n\n\n"


def module(tasks: int) -> str:
    """``tasks`` clean tasks, 6 lines each; task i's ``def`` is on line 4 + 6 i, its body on the next line."""
    return HEADER + "".join(TASK.format(i=i) for i in range(tasks))


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient, tmp_path: Path):
    """A fresh server per test (tests here kill its worker); each test starts the session with its options."""
    lsp_client.root = tmp_path  # type: ignore[attr-defined]
    lsp_client.started = False  # type: ignore[attr-defined]
    yield
    if lsp_client.started:  # type: ignore[attr-defined]
        await stop_session(lsp_client)


async def start(client: LanguageClient, options: dict[str, Any] | None = None) -> None:
    await start_session(client, PRESET, client.root, options)  # type: ignore[attr-defined]
    client.started = True  # type: ignore[attr-defined]


def server_process(client: LanguageClient) -> psutil.Process:
    return psutil.Process(client._server.pid)  # type: ignore[union-attr]


async def lint_worker(client: LanguageClient) -> psutil.Process:
    """The server's only child process once the workspace is indexed (small workspaces index in a thread)."""
    children = await wait_until(lambda: server_process(client).children(), "the lint worker process")
    assert len(children) == 1, children
    return children[0]


def codes_at(client: LanguageClient, doc: str) -> list[tuple[str, int]]:
    return sorted((str(d.code), d.range.start.line) for d in client.diagnostics.get(doc, []))


def edit_body(client: LanguageClient, doc: str, version: int, task: int) -> None:
    """Retype task ``task``'s body line (``    y = x + <n>``) with another number."""
    line = 5 + 6 * task
    replace_text(client, doc, version, (line, 0), (line, 100), f"    y = x + {version}")


def untype(client: LanguageClient, doc: str, version: int, task: int) -> None:
    """Remove task ``task``'s input annotation (FL001 on its ``def`` line)."""
    line = 4 + 6 * task
    replace_text(client, doc, version, (line, 0), (line, 100), f"def t_{task}(x) -> int:")


async def test_diagnostics_keep_coming_while_typing_in_bursts(client: LanguageClient) -> None:
    """Bursts of 5 edits 0.1 s apart on a ~10,000-line module, 0.35 s between bursts: longer than the 300 ms
    debounce, shorter than the debounce plus a lint pass (so every pass ends after the next burst began)."""
    await start(client)
    path: Path = client.root / "big.py"  # type: ignore[attr-defined]
    text = module(1600)
    path.write_text(text)
    doc = open_document(client, path, text)
    await next_diagnostics(client, doc, 0, timeout=30)
    await asyncio.sleep(0.5)
    before = publish_count(client, doc)
    version, bursts = 1, 6
    for burst in range(bursts):
        for k in range(5):
            version += 1
            edit_body(client, doc, version, (burst * 5 + k) * 50)
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.25)
    during = publish_count(client, doc) - before
    assert during >= bursts - 1, f"{during} diagnostics publishes during {bursts} bursts of typing"
    # The last word: the newest text, linted. A mistake typed now is reported on its line.
    version += 1
    untype(client, doc, version, 1000)
    await wait_until(lambda: ("FL001", 4 + 6 * 1000) in codes_at(client, doc), "FL001 of the last edit", 30)


async def test_a_killed_lint_worker_is_replaced_and_diagnostics_keep_coming(client: LanguageClient) -> None:
    await start(client)
    path: Path = client.root / "tasks.py"  # type: ignore[attr-defined]
    text = module(5)
    path.write_text(text)
    doc = open_document(client, path, text)
    assert await next_diagnostics(client, doc, 0) == []
    worker = await lint_worker(client)
    os.kill(worker.pid, signal.SIGKILL)
    await wait_until(lambda: logged(client, "lint worker", "exited unexpectedly", "SIGKILL"), "a log line")

    untype(client, doc, 2, 3)
    await wait_until(lambda: codes_at(client, doc) == [("FL001", 4 + 6 * 3)], "FL001 from a new worker")
    replacement = await lint_worker(client)
    assert replacement.pid != worker.pid

    # And once more, killed in the middle of a pass this time (a large text keeps the worker busy).
    big = module(1500)
    seen = publish_count(client, doc)
    replace_text(client, doc, 3, (0, 0), (text.count("\n"), 0), big)
    await asyncio.sleep(0.35)  # the 300 ms debounce, then the pass starts
    os.kill(replacement.pid, signal.SIGKILL)
    assert await next_diagnostics(client, doc, seen, timeout=30) == []
    assert (await lint_worker(client)).pid not in (worker.pid, replacement.pid)


async def test_memory_stays_flat_over_many_lint_passes(client: LanguageClient) -> None:
    await start(client, {"diagnostics": {"debounceMs": 20}})
    path: Path = client.root / "big.py"  # type: ignore[attr-defined]
    text = module(500)  # 3,000 lines
    path.write_text(text)
    doc = open_document(client, path, text)
    await next_diagnostics(client, doc, 0, timeout=30)
    worker = await lint_worker(client)
    server = server_process(client)

    async def passes(first_version: int, n: int) -> None:
        for version in range(first_version, first_version + n):
            seen = publish_count(client, doc)
            edit_body(client, doc, version, version % 500)
            await next_diagnostics(client, doc, seen, timeout=DEFAULT_TIMEOUT)

    await passes(2, 5)  # warm-up
    server_warm, worker_warm = server.memory_info().rss, worker.memory_info().rss
    await passes(7, 30)
    server_end, worker_end = server.memory_info().rss, worker.memory_info().rss
    mb = 2**20
    assert server_end < 2 * server_warm, f"server: {server_warm / mb:.0f} -> {server_end / mb:.0f} MB"
    assert worker_end < 2 * worker_warm, f"lint worker: {worker_warm / mb:.0f} -> {worker_end / mb:.0f} MB"
    assert publish_count(client, doc) == 36 and codes_at(client, doc) == []
