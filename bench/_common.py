"""Helpers shared by the benchmarks: shipped configs, process CPU time, a spin thread."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import yaml

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CONFIG = Path(__file__).resolve().parents[1] / "config"


def shipped_config(name: str) -> dict[str, Any]:
    """Load ``config/<name>`` for a benchmark to modify and write elsewhere.

    A shared key naming a file (``charging_stations: stations.yaml``) is made absolute, so
    the copy still finds it from a temporary directory.
    """
    doc: dict[str, Any] = yaml.safe_load((CONFIG / name).read_text())
    for section in doc.values():
        if isinstance(section, dict) and isinstance(section.get("charging_stations"), str):
            section["charging_stations"] = str(CONFIG / section["charging_stations"])
    return doc


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
