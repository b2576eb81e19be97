"""Debian's ``/usr/bin/chromium`` for the tests that open console pages in a real browser: where it is and the
command-line flags every launch uses (the Playwright tests of tests/browser, this directory's
test_console_browser.py, which runs it directly; scripts/console_screenshots.py keeps a copy that
tests/browser checks).

Chromium keeps only the last ``--disable-features`` (and ``--enable-features``) switch of its command line.
Playwright passes its own list of disabled features first, so CHROMIUM_ARGS has none (a list here would
replace Playwright's); a launch without Playwright adds one switch with every feature it disables,
:func:`disable_features`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("FLYTE_LS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The browser's own background requests (account, autofill and check-in queries) resolve no name: not
    # even a DNS query leaves this machine. Pages reach only 127.0.0.1 / localhost.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def disable_features(*features: str) -> str:
    """The one ``--disable-features`` switch of a launch without Playwright (Chromium ignores all but the
    last one)."""
    return "--disable-features=" + ",".join(features)


def require_chromium() -> str:
    """The Chromium executable; skips the test without one, except in CI (``CI`` set), where it fails."""
    if CHROMIUM is None or not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, and CI must run the browser tests (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does it in CI)")
    return CHROMIUM
