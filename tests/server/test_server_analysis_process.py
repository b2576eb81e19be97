"""The analysis worker process, for real: lint and scan calls, module lookups, and what happens when the
process dies, hangs or fails."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest

from flyte_ls.analysis import ModuleAnalysis, analyze
from flyte_ls.server.analysis_process import AnalysisProcess, WorkerFailed

pytestmark = pytest.mark.timeout(60)

UNTYPED = "from flytekit import task\n\n\n@task\ndef untyped(x) -> int:\n    return 1\n"
CALLER = (
    "from flytekit import workflow\n"
    "from pkg.tasks import add\n\n\n"
    "@workflow\n"
    "def wf() -> int:\n"
    "    return add(x=1, y=2)\n"
)
TASKS = "from flytekit import task\n\n\n@task\ndef add(x: int) -> int:\n    return x\n"


@pytest.fixture
async def process():
    proc = AnalysisProcess("test worker")
    yield proc
    await proc.aclose()


async def test_a_lint_call_returns_the_findings_of_that_source(process: AnalysisProcess) -> None:
    findings, syntax_error = await process.call("lint", "file:///m.py", UNTYPED, "m", None)
    assert syntax_error is None
    assert [(f.code, f.range.start.line) for f in findings if f.code == "FL001"] == [("FL001", 4)]
    _, syntax_error = await process.call("lint", "file:///m.py", "def broken(:\n", "m", None)
    assert syntax_error is not None and syntax_error.code == "FL000"


async def test_imported_modules_come_from_the_servers_lookup_and_are_resent_only_when_changed() -> None:
    stamps = {"pkg.tasks": 1}
    modules = {"pkg.tasks": analyze(TASKS, "pkg.tasks", lint=False)}
    asked: list[str] = []

    def lookup(module: str) -> tuple[int | None, ModuleAnalysis | None]:
        asked.append(module)
        return stamps.get(module), modules.get(module)

    process = AnalysisProcess("test worker", lookup=lookup)
    try:
        findings, _ = await process.call("lint", "file:///wf.py", CALLER, "pkg.wf", None)
        assert [f.code for f in findings] == ["FL010"], "add(y=...) is checked against add's signature"
        assert "has no input `y`" in findings[0].message
        assert "pkg.tasks" in asked
        # The worker keeps its copy while the stamp is the same, and takes the new one when it changes.
        findings_again, _ = await process.call("lint", "file:///wf.py", CALLER, "pkg.wf", None)
        assert [f.code for f in findings_again] == ["FL010"]
        modules["pkg.tasks"] = analyze(TASKS.replace("x: int", "x: int, y: int"), "pkg.tasks", lint=False)
        stamps["pkg.tasks"] = 2
        findings_now, _ = await process.call("lint", "file:///wf.py", CALLER, "pkg.wf", None)
        assert findings_now == []
    finally:
        await process.aclose()


async def test_a_scan_call_indexes_files(process: AnalysisProcess, tmp_path: Path) -> None:
    path = tmp_path / "tasks.py"
    path.write_text(TASKS)
    [(entry, note)] = await process.call("scan", [str(path)], "utf-16", 100_000)
    assert note is None and entry is not None
    assert [s.name for s in entry.symbols] == ["add"]


async def test_a_killed_process_is_replaced_by_the_next_call(
    process: AnalysisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    first = await process.call("ping")
    os.kill(first, signal.SIGKILL)
    await asyncio.sleep(0.2)
    with caplog.at_level(logging.WARNING):
        second = await process.call("ping")
    assert second != first and process.starts == 2


async def test_dying_during_a_call_fails_it_with_retry_and_logs(
    process: AnalysisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    pid = await process.call("ping")
    big = UNTYPED * 2000  # a pass long enough to be killed in the middle of it
    call = asyncio.ensure_future(process.call("lint", "file:///big.py", big, "big", None))
    await asyncio.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    with caplog.at_level(logging.WARNING), pytest.raises(WorkerFailed) as failed:
        await call
    assert failed.value.retry
    assert "died during lint" in caplog.text and "SIGKILL" in caplog.text
    assert await process.call("ping") != pid


async def test_a_hung_process_is_killed_at_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    process = AnalysisProcess("test worker", deadline_s=1.0)
    try:
        pid = await process.call("ping")
        os.kill(pid, signal.SIGSTOP)  # a real hang: the process is alive and does not answer
        with caplog.at_level(logging.WARNING), pytest.raises(WorkerFailed) as failed:
            await process.call("ping")
        assert not failed.value.retry
        assert "did not finish ping within 1.0 s: killed" in caplog.text
        with pytest.raises(ProcessLookupError):
            for _ in range(50):  # SIGKILL ends even a stopped process
                os.kill(pid, 0)
                await asyncio.sleep(0.05)
        assert await process.call("ping") != pid
    finally:
        await process.aclose()


async def test_an_operation_that_raises_fails_the_call_and_keeps_the_process(
    process: AnalysisProcess,
) -> None:
    pid = await process.call("ping")
    with pytest.raises(WorkerFailed) as failed:
        await process.call("scan", None, "utf-16", 1)  # not a list of paths
    assert not failed.value.retry and "TypeError" in str(failed.value)
    assert await process.call("ping") == pid


async def test_close_ends_the_process_and_refuses_calls(process: AnalysisProcess) -> None:
    pid = await process.call("ping")
    await process.aclose()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(WorkerFailed, match="shut down"):
        await process.call("ping")
