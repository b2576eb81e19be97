"""Peak resident memory of a server process: the kernel's high-water mark (VmHWM), and sampling."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is a dev dependency
    psutil = None


def vm_hwm_mb(pid: int) -> float | None:
    """The process's peak RSS since it started (Linux ``/proc/<pid>/status`` VmHWM), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far (all its threads)."""
    if psutil is None:
        return None
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(t.user + t.system)


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU time of a process, its live descendants and the children it has reaped."""
    if psutil is None:
        return None
    try:
        proc = psutil.Process(pid)
        t = proc.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                ct = child.cpu_times()
                total += ct.user + ct.system
    except psutil.Error:
        return None
    return float(total)


def rss_mb(pid: int) -> float | None:
    if psutil is not None:
        try:
            return float(psutil.Process(pid).memory_info().rss) / 2**20
        except psutil.Error:
            return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _children(pid: int) -> list[int]:
    if psutil is None:
        return []
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


class RssSampler:
    """Samples the RSS of a process and of its process tree every ``interval`` seconds, on a thread
    (independent of the event loop)."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.max_sampled = 0.0
        self.max_tree = 0.0
        self.max_children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        children: list[int] = []
        tick = 0
        while not self._stop.is_set():
            value = rss_mb(self.pid)
            if value is None:
                return
            self.max_sampled = max(self.max_sampled, value)
            if tick % 5 == 0:  # listing the descendants scans /proc (~1 ms): every 5th sample is enough
                children = _children(self.pid)
                self.max_children = max(self.max_children, len(children))
            tick += 1
            if children:
                tree = value + sum(rss_mb(c) or 0.0 for c in children)
                self.max_tree = max(self.max_tree, tree)
            self._stop.wait(self.interval)

    def current_mb(self) -> float | None:
        return rss_mb(self.pid)

    def tree_peak_mb(self) -> float:
        """The largest sampled sum of RSS over the server and its worker processes."""
        return max(self.max_tree, self.peak_mb())

    def peak_mb(self) -> float:
        """VmHWM when the kernel provides it (exact), else the largest sample."""
        hwm = vm_hwm_mb(self.pid)
        return max(hwm or 0.0, self.max_sampled)
