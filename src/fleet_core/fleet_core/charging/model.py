"""Charging stations, requests, pad assignments and finished sessions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum, IntEnum

from fleet_core.charging.errors import ChargingError
from fleet_core.geo import GeoPoint


class Urgency(IntEnum):
    """How badly a vehicle needs a pad; lower values are served first."""

    EMERGENCY = 0
    CRITICAL = 1
    NORMAL = 2


class ChargingPolicy(Enum):
    """How vehicles of equal urgency are ordered."""

    LOWEST_BATTERY = "lowest_battery"
    FIFO = "fifo"
    LEAST_TOTAL_WAIT = "least_total_wait"  # shortest charge first minimises the sum of waits


@dataclass(frozen=True, slots=True)
class ChargingStation:
    """A place with ``pads`` charging pads, each delivering ``charge_rate_w``."""

    station_id: str
    position: GeoPoint
    pads: int
    charge_rate_w: float
    site: str | None = None

    def __post_init__(self) -> None:
        if not self.station_id:
            raise ChargingError("station_id must not be empty")
        if not self.position.is_valid():
            raise ChargingError(f"station {self.station_id!r}: position {self.position} "
                                f"is not valid")
        if isinstance(self.pads, bool) or not isinstance(self.pads, int) or self.pads < 1:
            raise ChargingError(f"station {self.station_id!r}: pads must be an integer >= 1, "
                                f"got {self.pads!r}")
        if not (math.isfinite(self.charge_rate_w) and self.charge_rate_w > 0):
            raise ChargingError(f"station {self.station_id!r}: charge_rate_w must be > 0, "
                                f"got {self.charge_rate_w!r}")

    def charge_time_s(self, from_pct: float, to_pct: float, capacity_wh: float) -> float:
        """Return the seconds a pad needs to take a battery from ``from_pct`` to ``to_pct``."""
        energy_wh = max(0.0, to_pct - from_pct) / 100.0 * capacity_wh
        return energy_wh / self.charge_rate_w * 3600.0


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """A vehicle asking for a pad.

    ``range_m`` is how far it can still fly: only stations within it are considered.
    ``requested_at`` None means the time the queue receives it.
    """

    vehicle_id: str
    target_pct: float
    urgency: Urgency
    battery_pct: float
    capacity_wh: float
    position: GeoPoint
    range_m: float
    requested_at: float | None = None

    def __post_init__(self) -> None:
        v = self.vehicle_id
        if not v:
            raise ChargingError("charge request vehicle_id must not be empty")
        if not (math.isfinite(self.battery_pct) and 0.0 <= self.battery_pct <= 100.0):
            raise ChargingError(f"vehicle {v!r}: battery_pct must be 0..100, "
                                f"got {self.battery_pct!r}")
        if not math.isfinite(self.target_pct) or self.target_pct > 100.0:
            raise ChargingError(f"vehicle {v!r}: target_pct must be at most 100, "
                                f"got {self.target_pct!r}")
        if self.target_pct <= self.battery_pct:
            raise ChargingError(f"vehicle {v!r}: target_pct {self.target_pct} is not above "
                                f"the current battery {self.battery_pct}")
        if not isinstance(self.urgency, Urgency):
            raise ChargingError(f"vehicle {v!r}: urgency must be an Urgency, "
                                f"got {self.urgency!r}")
        if not (math.isfinite(self.capacity_wh) and self.capacity_wh > 0):
            raise ChargingError(f"vehicle {v!r}: capacity_wh must be > 0, "
                                f"got {self.capacity_wh!r}")
        if not self.position.is_valid():
            raise ChargingError(f"vehicle {v!r}: position {self.position} is not valid")
        if not (math.isfinite(self.range_m) and self.range_m >= 0):
            raise ChargingError(f"vehicle {v!r}: range_m must be finite and >= 0, "
                                f"got {self.range_m!r}")
        if self.requested_at is not None and not math.isfinite(self.requested_at):
            raise ChargingError(f"vehicle {v!r}: requested_at must be finite, "
                                f"got {self.requested_at!r}")


@dataclass(frozen=True, slots=True)
class PadAssignment:
    """Fly ``vehicle_id`` to pad ``pad`` (0-based) of ``station_id``; the pad is held for it."""

    vehicle_id: str
    station_id: str
    pad: int
    distance_m: float
    expected_charge_s: float


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    """A waiting vehicle's place in the queue and when it should be charged.

    ``position`` is 1-based over the whole queue; ``time_to_full_s`` runs from now until the
    vehicle reaches its target charge (queue wait plus charge time).
    """

    vehicle_id: str
    position: int
    station_id: str
    wait_s: float
    time_to_full_s: float


@dataclass(frozen=True, slots=True)
class PadSession:
    """One charging session: in progress (``ended_at`` None), finished or abandoned.

    ``queue_wait_s`` is the time from the request until a pad was assigned; the flight to
    the pad is not queueing and is left out.
    """

    vehicle_id: str
    station_id: str
    pad: int
    requested_at: float
    assigned_at: float
    started_at: float
    ended_at: float | None
    queue_wait_s: float
    start_pct: float
    end_pct: float
    energy_wh: float
    completed: bool
