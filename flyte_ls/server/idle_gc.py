"""The server's cyclic garbage collection: young generations as usual, full passes only when nobody waits.

A full pass traverses every tracked object; with a 10,000-line document open that takes 20-50 ms, and a
request arriving meanwhile waits for it. Python starts one whenever enough objects have survived two younger
collections — at whatever moment that happens. Here the start-up heap is frozen (it lives as long as the
process), automatic full passes are effectively switched off, and :class:`IdleCollector` runs them instead
when no message has arrived for a while and something has been promoted to the oldest generation since the
last one; or, if the client never goes quiet, at least every few minutes.

The server makes little cyclic garbage in the first place: lint passes, which build and drop whole syntax
trees, run in the lint worker process (which collects after each pass), and what remains (asyncio and JSON-RPC
bookkeeping) is mostly freed by the young generations.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

YOUNG_THRESHOLDS = (700, 10)
NO_AUTOMATIC_FULL_PASS = 1_000_000  # gen1 collections before a full one: about never
IDLE_S = 1.0
MAX_GAP_S = 300.0


def configure_process() -> None:
    """At start-up, once everything is imported: freeze the start-up heap; full passes only when idle."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*YOUNG_THRESHOLDS, NO_AUTOMATIC_FULL_PASS)


class IdleCollector:
    """Runs :func:`gc.collect` when the server has been idle for ``idle_s`` (see the module docstring)."""

    def __init__(
        self,
        last_activity: Callable[[], float],
        idle_s: float = IDLE_S,
        max_gap_s: float = MAX_GAP_S,
    ) -> None:
        self.last_activity = last_activity
        self.idle_s = idle_s
        self.max_gap_s = max_gap_s
        self.requested = False
        self.collections = 0
        self._last = time.monotonic()

    def request(self) -> None:
        """Ask for a full pass at the next idle moment (after work that left much garbage behind)."""
        self.requested = True

    def due(self) -> bool:
        return self.requested or gc.get_count()[2] > 0

    def step(self) -> bool:
        """Collect if idle (or overdue) and there is something to collect; True when it did."""
        now = time.monotonic()
        idle = now - self.last_activity() >= self.idle_s
        overdue = now - self._last >= self.max_gap_s
        if not (idle or overdue) or not self.due():
            return False
        started = time.perf_counter()
        found = gc.collect()
        self.requested = False
        self._last = now
        self.collections += 1
        log.debug(
            "Full garbage collection: %d objects in %.1f ms", found, (time.perf_counter() - started) * 1000
        )
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.idle_s / 2)
            self.step()
