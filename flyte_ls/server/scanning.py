"""Parsing many files off the event loop: in analysis worker processes when there are many and cores to spare.

Parsing is CPU-bound Python, so threads share one core through the GIL; for a large workspace (hundreds of
files) worker processes (:mod:`flyte_ls.server.analysis_process`) use the other cores and leave the server's
own interpreter free to answer requests. The lint worker, which lives as long as the server, takes batches
too (between lint passes); the other workers live only for one indexing run. Small jobs, single-core machines,
or workers that fail fall back to the index thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

from flyte_ls.server.analysis_process import AnalysisProcess, WorkerFailed
from flyte_ls.server.index import IndexEntry, scan_batch

log = logging.getLogger(__name__)

BATCH = 50
POOL_MIN_FILES = 200
MAX_WORKERS = 2  # each worker costs ~20-30 MB: more would break the 150 MB budget for the whole process tree

ScanResult = tuple[IndexEntry | None, str | None]
OnBatch = Callable[[list[str], list[ScanResult]], None]


def worker_count(files: int) -> int:
    """Processes worth using for ``files`` files (0: use the index thread)."""
    cpus = os.cpu_count() or 1
    if files < POOL_MIN_FILES or cpus < 2:
        return 0
    return min(MAX_WORKERS, cpus)


async def scan_files(
    paths: list[str],
    encoding: str,
    max_size: int,
    thread: Executor,
    on_batch: OnBatch,
    workers: int | None = None,
    shared: Sequence[AnalysisProcess] = (),
) -> None:
    """Scan ``paths`` in batches; ``on_batch`` gets the results of each batch on the event loop.

    ``shared`` are long-lived worker processes that may take batches too (they count towards ``workers``).
    """
    loop = asyncio.get_running_loop()
    batches = [paths[i : i + BATCH] for i in range(0, len(paths), BATCH)]
    count = worker_count(len(paths)) if workers is None else workers
    if count > 0:
        batches = await _in_processes(batches, encoding, max_size, count, list(shared)[:count], on_batch)
    for batch in batches:
        on_batch(batch, await loop.run_in_executor(thread, scan_batch, batch, encoding, max_size))


async def _in_processes(
    batches: list[list[str]],
    encoding: str,
    max_size: int,
    count: int,
    shared: list[AnalysisProcess],
    on_batch: OnBatch,
) -> list[list[str]]:
    """Run the batches in worker processes; returns the batches not done (empty unless workers failed)."""
    temporary = [AnalysisProcess(f"index worker {i + 1}") for i in range(count - len(shared))]
    todo = deque(batches)
    failed: list[list[str]] = []

    async def consume(process: AnalysisProcess) -> None:
        while todo:
            batch = todo.popleft()
            try:
                results = await process.call("scan", batch, encoding, max_size)
            except WorkerFailed as exc:
                log.warning("The %s failed (%s); its files are indexed in a thread.", process.name, exc)
                failed.append(batch)
                return
            on_batch(batch, results)

    try:
        await asyncio.gather(*(consume(p) for p in [*temporary, *shared]))
    finally:
        await asyncio.gather(*(process.aclose() for process in temporary))
    return failed + list(todo)
