"""Full garbage collections at idle moments only (flyte_ls.server.idle_gc)."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator

import pytest

from flyte_ls.server.idle_gc import NO_AUTOMATIC_FULL_PASS, IdleCollector, configure_process

pytestmark = pytest.mark.timeout(10)


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def gc_state() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_configure_process_freezes_the_start_up_heap_and_stops_automatic_full_passes(gc_state: None) -> None:
    configure_process()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[2] == NO_AUTOMATIC_FULL_PASS


def test_no_collection_while_messages_keep_coming() -> None:
    collector = IdleCollector(time.monotonic, idle_s=1.0, max_gap_s=300)
    collector.request()
    assert not collector.step()
    assert collector.requested and collector.collections == 0


def test_an_idle_server_collects_what_was_asked_for() -> None:
    last = time.monotonic() - 5
    collector = IdleCollector(lambda: last, idle_s=1.0, max_gap_s=300)
    gc.disable()  # no automatic collection may free the cycle first
    try:
        garbage = weakref.ref(Cycle())
        assert garbage() is not None, "a cycle outlives its last reference"
        collector.request()
        assert collector.step()
        assert garbage() is None
    finally:
        gc.enable()
    assert not collector.requested and collector.collections == 1


def test_a_server_that_is_never_idle_still_collects_when_overdue() -> None:
    collector = IdleCollector(time.monotonic, idle_s=1.0, max_gap_s=0.0)
    collector.request()
    assert collector.step()


def test_nothing_to_do_means_no_collection() -> None:
    last = time.monotonic() - 5
    collector = IdleCollector(lambda: last, idle_s=1.0, max_gap_s=300)
    gc.collect()  # nothing promoted to the oldest generation since, nothing requested
    assert not collector.due()
    assert not collector.step()
