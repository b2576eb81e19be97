"""Parsing many files off the event loop: in worker processes when there are many and cores to spare.

Parsing is CPU-bound Python, so threads share one core through the GIL; for a large workspace (hundreds of
files) a small pool of spawned processes (``spawn``: the server has threads, ``fork`` would copy their locks)
uses the other cores and leaves the server's own interpreter free to answer requests. The pool lives only for
one indexing run. Small jobs, single-core machines, or a pool that cannot start fall back to the index thread.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from flyte_ls.server.index import IndexEntry, scan_batch

log = logging.getLogger(__name__)

BATCH = 50
POOL_MIN_FILES = 200
MAX_WORKERS = 2  # each worker costs ~30 MB: more would break the 150 MB budget for the whole process tree

ScanResult = tuple[IndexEntry | None, str | None]
OnBatch = Callable[[list[str], list[ScanResult]], None]


def worker_count(files: int) -> int:
    """Processes worth starting for ``files`` files (0: use the index thread)."""
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
) -> None:
    """Scan ``paths`` in batches; ``on_batch`` gets the results of each batch on the event loop."""
    loop = asyncio.get_running_loop()
    batches = [paths[i : i + BATCH] for i in range(0, len(paths), BATCH)]
    count = worker_count(len(paths)) if workers is None else workers
    if count > 0:
        try:
            batches = await _in_processes(batches, encoding, max_size, count, on_batch)
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            log.warning("Index worker processes failed (%s); indexing the rest in a thread.", exc)
    for batch in batches:
        on_batch(batch, await loop.run_in_executor(thread, scan_batch, batch, encoding, max_size))


async def _in_processes(
    batches: list[list[str]], encoding: str, max_size: int, count: int, on_batch: OnBatch
) -> list[list[str]]:
    """Run the batches in a process pool; returns the batches not done (empty unless the pool broke)."""
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"))
    pending: dict[asyncio.Future[list[ScanResult]], list[str]] = {}
    try:
        for batch in batches:
            pending[asyncio.wrap_future(pool.submit(scan_batch, batch, encoding, max_size))] = batch
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for fut in done:
                batch = pending.pop(fut)
                on_batch(batch, fut.result())
        return []
    except BrokenProcessPool:
        remaining = list(pending.values())
        if len(remaining) == len(batches):
            raise
        log.warning("An index worker process died; indexing %d batches in a thread.", len(remaining))
        return remaining
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
