"""Helpers shared by the benchmarks: process CPU time and a background spin thread."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds used so far by process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Spinner:
    """Spins an executor on a daemon thread until stopped."""

    def __init__(self, executor: Any) -> None:
        self._executor = executor
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._executor.spin_once(timeout_sec=0.1)

    def stop(self) -> None:
        """Stop spinning and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=2.0)
