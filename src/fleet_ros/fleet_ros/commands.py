"""Service calls to vehicles that never block the executor: deadline, retries, one outcome.

A node calls ``CommandRunner.send`` from any callback and gets its outcome later through
``on_done``. A timer of the node polls the pending calls; nothing waits in a callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rclpy.client import Client
from rclpy.node import Node
from rclpy.task import Future


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """How a command ended."""

    vehicle_id: str
    what: str
    ok: bool
    attempts: int
    detail: str
    tag: object = None  # the sender's own token, given back untouched


@dataclass(slots=True)
class _Pending:
    client: Client[Any, Any]
    request: Any
    vehicle_id: str
    what: str
    accept: Callable[[Any], bool]
    future: Future[Any] | None
    deadline: float
    attempts: int
    tag: object
    timeout: float


class CommandRunner:
    """Sends service requests with a deadline and bounded retries; reports each outcome once."""

    def __init__(self, node: Node, *, timeout_s: float, retries: int,
                 on_done: Callable[[CommandOutcome], None], max_pending: int = 1000) -> None:
        if timeout_s <= 0 or retries < 0:
            raise ValueError(f"need timeout_s > 0 and retries >= 0, got {timeout_s}, {retries}")
        self._node = node
        self._timeout = timeout_s
        self._retries = retries
        self._on_done = on_done
        self._max_pending = max_pending
        self._pending: list[_Pending] = []
        self._timer = node.create_timer(0.05, self._poll)

    @property
    def pending(self) -> int:
        """Return how many commands are in flight."""
        return len(self._pending)

    def send(self, client: Client[Any, Any], request: Any, *, vehicle_id: str, what: str,
             accept: Callable[[Any], bool], tag: object = None,
             timeout_s: float | None = None) -> bool:
        """Start a command; return False (and report it failed) if the queue is full.

        ``what`` names the command in logs and outcomes; ``tag`` is the caller's own token
        (which operation this call belongs to), handed back in the outcome untouched;
        ``timeout_s`` replaces the runner's timeout for this command (a long transfer).
        """
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"need timeout_s > 0, got {timeout_s}")
        if len(self._pending) >= self._max_pending:
            self._on_done(CommandOutcome(vehicle_id, what, False, 0,
                                         f"command queue full ({self._max_pending})", tag))
            return False
        entry = _Pending(client, request, vehicle_id, what, accept, None, 0.0, 0, tag,
                         self._timeout if timeout_s is None else timeout_s)
        self._attempt(entry)
        self._pending.append(entry)
        return True

    def _attempt(self, entry: _Pending) -> None:
        entry.attempts += 1
        entry.deadline = time.monotonic() + entry.timeout
        entry.future = entry.client.call_async(entry.request) \
            if entry.client.service_is_ready() else None

    def _poll(self) -> None:
        now = time.monotonic()
        still: list[_Pending] = []
        for entry in self._pending:
            detail = ""
            f = entry.future
            if f is None and entry.client.service_is_ready():
                entry.future = f = entry.client.call_async(entry.request)
            if f is not None and f.done():
                response = f.result()
                if response is not None and entry.accept(response):
                    self._finish(entry, True, f"accepted: {_short(response)}")
                    continue
                detail = f"refused: {_short(response)}"
            elif now < entry.deadline:
                still.append(entry)
                continue
            else:
                detail = (f"no answer within {entry.timeout:g} s" if f is not None
                          else f"service {entry.client.srv_name} not available")
                if f is not None:
                    entry.client.remove_pending_request(f)
            if entry.attempts <= self._retries:
                self._attempt(entry)
                still.append(entry)
            else:
                self._finish(entry, False, detail)
        self._pending = still

    def _finish(self, entry: _Pending, ok: bool, detail: str) -> None:
        self._on_done(CommandOutcome(entry.vehicle_id, entry.what, ok, entry.attempts, detail,
                                     entry.tag))


def _short(response: Any) -> str:
    if response is None:
        return "no response"
    fields = response.get_fields_and_field_types() if hasattr(
        response, "get_fields_and_field_types") else {}
    return ", ".join(f"{k}={getattr(response, k)}" for k in fields)
