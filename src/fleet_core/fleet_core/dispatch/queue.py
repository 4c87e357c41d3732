"""The mission queue: priority first, then scheduled time, then submission order."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from fleet_core.dispatch.errors import DispatchError
from fleet_core.dispatch.state import MissionRecord


@dataclass(frozen=True, slots=True)
class QueueOrder:
    """Where a mission sorts among missions of equal priority.

    ``since`` is its scheduled time, or the submission time when it has none; ``seq`` is the
    submission order; ``part`` orders the parts of a split mission behind their parent's slot.
    """

    since: float
    seq: int
    part: int = 0


class MissionQueue:
    """Missions waiting for a vehicle, read in dispatch order.

    The order is computed when read, from each record's current priority, so a priority
    change re-sorts without any bookkeeping. A mission handed back keeps the slot it was
    first given: it does not go behind missions submitted after it.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, MissionRecord] = {}
        self._orders: dict[str, QueueOrder] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, mission_id: object) -> bool:
        return mission_id in self._waiting

    def __iter__(self) -> Iterator[MissionRecord]:
        return iter(self.ordered())

    def push(self, record: MissionRecord, now: float, *, order: QueueOrder | None = None) -> None:
        """Queue ``record``; reuse its earlier slot (or ``order``) if it has one."""
        if record.mission_id in self._waiting:
            raise DispatchError(f"mission {record.mission_id!r} is already queued")
        if order is None:
            order = self._orders.get(record.mission_id)
        if order is None:
            since = record.scheduled_at if record.scheduled_at is not None else now
            order = QueueOrder(since, next(self._seq))
        self._orders[record.mission_id] = order
        self._waiting[record.mission_id] = record

    def order_of(self, mission_id: str) -> QueueOrder:
        """Return the slot of a mission that is or was queued."""
        try:
            return self._orders[mission_id]
        except KeyError:
            raise DispatchError(f"mission {mission_id!r} was never queued") from None

    def remove(self, mission_id: str) -> MissionRecord:
        """Take a mission out of the queue (it keeps its slot for a later push)."""
        try:
            return self._waiting.pop(mission_id)
        except KeyError:
            raise DispatchError(f"mission {mission_id!r} is not queued") from None

    def forget(self, mission_id: str) -> None:
        """Drop everything about a mission that is over."""
        self._waiting.pop(mission_id, None)
        self._orders.pop(mission_id, None)

    def ordered(self) -> list[MissionRecord]:
        """Return every queued mission in dispatch order."""
        return sorted(self._waiting.values(), key=self._key)

    def due(self, now: float) -> list[MissionRecord]:
        """Return the queued missions whose scheduled time has come, in dispatch order."""
        return [r for r in self.ordered() if r.scheduled_at is None or r.scheduled_at <= now]

    def _key(self, record: MissionRecord) -> tuple[int, float, int, int]:
        order = self._orders[record.mission_id]
        return (-record.priority, order.since, order.seq, order.part)
