"""Coordination events: opened once per problem, resolved once, each with a stable id."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from enum import IntEnum


class EventType(IntEnum):
    """fleet_interfaces/CoordinationEvent.type."""

    COLLISION_AVOIDANCE = 0
    AIRSPACE_CONFLICT = 1
    LOW_BATTERY = 2
    LINK_LOST = 3
    CHARGING_QUEUE = 4
    EMERGENCY_LANDING = 5
    COMMAND_FAILED = 6


class EventSeverity(IntEnum):
    """fleet_interfaces/CoordinationEvent.severity."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2


@dataclass(frozen=True, slots=True)
class Event:
    """One coordination event as published (open, then resolved)."""

    event_id: str
    type: EventType
    vehicle_ids: tuple[str, ...]
    severity: EventSeverity
    stamp: float
    resolved: bool = False
    resolution: str = ""
    data: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class EventBook:
    """Open events by problem key; opening an open problem or resolving a closed one is a no-op."""

    prefix: str = "ev"
    _open: dict[tuple[str, ...], Event] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def open(self, key: tuple[str, ...], *, type_: EventType, vehicle_ids: tuple[str, ...],
             severity: EventSeverity, now: float, data: dict[str, str] | None = None,
             resolution: str = "") -> Event | None:
        """Open an event for ``key``; return it if new, None if one is already open.

        An open event whose severity rises is re-issued at the higher severity.
        """
        current = self._open.get(key)
        if current is not None:
            if severity > current.severity:
                current = replace(current, severity=severity, stamp=now,
                                  resolution=resolution or current.resolution)
                self._open[key] = current
                return current
            return None
        event = Event(f"{self.prefix}-{next(self._counter)}", type_, vehicle_ids, severity, now,
                      resolution=resolution, data=tuple(sorted((data or {}).items())))
        self._open[key] = event
        return event

    def notice(self, *, type_: EventType, vehicle_ids: tuple[str, ...], severity: EventSeverity,
               now: float, resolution: str, data: dict[str, str] | None = None) -> Event:
        """Return a one-shot event (already over when reported, e.g. a failed command)."""
        return Event(f"{self.prefix}-{next(self._counter)}", type_, vehicle_ids, severity, now,
                     resolved=True, resolution=resolution,
                     data=tuple(sorted((data or {}).items())))

    def resolve(self, key: tuple[str, ...], now: float, resolution: str) -> Event | None:
        """Close the event for ``key``; return the resolved event, or None if none was open."""
        current = self._open.pop(key, None)
        if current is None:
            return None
        return replace(current, resolved=True, stamp=now, resolution=resolution)

    def is_open(self, key: tuple[str, ...]) -> bool:
        """Tell whether an event for ``key`` is open."""
        return key in self._open

    def open_keys(self, kind: str) -> list[tuple[str, ...]]:
        """Return the keys of open events whose key starts with ``kind``."""
        return [k for k in self._open if k and k[0] == kind]
