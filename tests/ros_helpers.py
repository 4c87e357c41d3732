"""Helpers for graph tests: a thread-safe collector of one topic's messages."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from fleet_ros.graph import RosGraph

_names = itertools.count()


class Collector:
    """Subscribes to one topic on its own node and keeps every message, thread-safely."""

    def __init__(self, graph: RosGraph, msg_type: Any, topic: str, qos: Any) -> None:
        self._items: list[Any] = []
        self._lock = threading.Lock()
        graph.node(f"collector_{next(_names)}").create_subscription(
            msg_type, topic, self._add, qos)

    def _add(self, msg: Any) -> None:
        with self._lock:
            self._items.append(msg)

    def last(self) -> Any:
        """Return the newest message, or None."""
        with self._lock:
            return self._items[-1] if self._items else None

    def snapshot(self) -> list[Any]:
        """Return a copy of every message so far."""
        with self._lock:
            return list(self._items)

    def find(self, pred: Callable[[Any], bool]) -> Any:
        """Return the first message matching ``pred``, or None."""
        with self._lock:
            return next((m for m in self._items if pred(m)), None)
