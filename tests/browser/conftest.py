"""Real headless Chromium (Debian's ``/usr/bin/chromium``) driven by Python Playwright, for the console tests.

Playwright only drives the browser here: it never downloads one (no ``playwright install``). Each test gets
a fresh browser context (its own cookies, cache and storage) on one browser per module, launched with a
fresh temporary profile. A :class:`Browse` records what the pages did: every request (and aborts those that
leave this machine), console errors, uncaught exceptions and Content-Security-Policy violations; the fixture
fails the test when any of them happened.

Without Chromium the tests skip with a message, except in CI (``CI`` set, as .ci/run is run), where they fail:
.ci/run installs it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))  # local_backend, chromium_launch

from chromium_browser import LAUNCH_TIMEOUT_MS, Browse, open_context
from chromium_launch import CHROMIUM_ARGS, require_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module. Not per session: between its calls Playwright's sync API marks its own
    event loop as the thread's running loop, which the asyncio tests of later modules must not meet."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # launch() gives the browser a fresh temporary user data dir, removed on close
        b = pw.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True, timeout=LAUNCH_TIMEOUT_MS
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def browse(browser: Any) -> Iterator[Browse]:
    """A fresh light-scheme context; the test fails if a page requested anything outside this machine,
    logged a console error, threw, or violated its Content-Security-Policy."""
    b = open_context(browser, color_scheme="light")
    try:
        yield b
    finally:
        b.context.close()
    assert not b.problems(), b.problems()


@pytest.fixture
def browse_dark(browser: Any) -> Iterator[Browse]:
    """As ``browse``, with ``prefers-color-scheme: dark`` emulated."""
    b = open_context(browser, color_scheme="dark")
    try:
        yield b
    finally:
        b.context.close()
    assert not b.problems(), b.problems()
