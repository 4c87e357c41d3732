"""Results of the repository queries: frozen values, never ORM rows.

Telemetry points are returned as ``fleet_db.samples.TelemetrySample`` (the row contract).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleet_db.samples import TelemetrySample


@dataclass(frozen=True, slots=True)
class NearestVehicle:
    """An available vehicle and how far its latest position is from the asked point."""

    vehicle_id: str
    site_id: str | None
    distance_m: float  # geodesic, on the WGS-84 spheroid
    sample: TelemetrySample


@dataclass(frozen=True, slots=True)
class VehiclePresence:
    """A vehicle seen inside an area: its first and last sample there and how many."""

    vehicle_id: str
    first_time: datetime
    last_time: datetime
    samples: int


@dataclass(frozen=True, slots=True)
class ZoneCrossing:
    """A mission whose planned path crosses a no-fly zone active at the asked time."""

    mission_id: str
    mission_status: str
    zone_id: str


@dataclass(frozen=True, slots=True)
class SiteAvailability:
    """How many vehicles of a site are in each status (every status listed, zeros included)."""

    site_id: str | None  # None: vehicles not assigned to a site
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Return the number of vehicles of the site."""
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class MissionTimelineEntry:
    """One mission state transition."""

    time: datetime
    from_state: str | None
    to_state: str
    reason: str | None
    actor: str | None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SiteSuccess:
    """Missions of a site that finished in a period: how many, how many completed, how long."""

    site_id: str | None
    finished: int  # completed + aborted + failed
    completed: int
    avg_duration_s: float | None  # of the completed ones with a start time; None if none

    @property
    def success_rate(self) -> float:
        """Return completed / finished (0 when nothing finished)."""
        return self.completed / self.finished if self.finished else 0.0


@dataclass(frozen=True, slots=True)
class MinuteRollup:
    """One row of ``telemetry_1min``."""

    vehicle_id: str
    minute: datetime
    samples: int
    latitude: float  # mean position of the minute's samples
    longitude: float
    battery_min_pct: float | None
    battery_max_pct: float | None
    distance_m: float
    time_in_air_s: float
    max_alt_rel_m: float | None
