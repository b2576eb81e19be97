"""After `exit` the server process ends within a grace period, even with a non-daemon thread still busy.

The busy thread stands in for what was seen in CI once (the `--tcp` server still alive 15 s after `exit` on a
loaded machine): the interpreter waits for every non-daemon thread at exit, and nothing in the test can make a
real indexing batch or file system that slow on demand.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

STUCK = 'threading.Thread(target=time.sleep, args=(120,), name="stuck-batch").start()  # not a daemon'
PROGRAM = textwrap.dedent(
    """
    import sys, threading, time
    from flyte_ls.server.features.lifecycle import exit_watchdog

    STUCK
    exit_watchdog(3, grace_s=0.5)
    sys.exit(0)  # what pygls does after the exit handler: without the watchdog this waits 120 s
    """
)


@pytest.mark.timeout(60)
def test_the_process_ends_after_the_grace_period_with_the_status_given() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.replace("STUCK", STUCK)], capture_output=True, text=True, timeout=50
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 3, done.stderr
    assert elapsed < 30, f"took {elapsed:.1f} s"


@pytest.mark.timeout(60)
def test_a_process_that_ends_by_itself_keeps_its_own_status() -> None:
    program = PROGRAM.replace("STUCK", "")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
