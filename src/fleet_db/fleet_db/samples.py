"""The telemetry row: one merged sample of a vehicle at one instant.

This is the contract between the recorder (which merges MAVROS topics into samples), the
ingest path (which COPYs them into ``telemetry``), the queries (which return them) and the
rosbag2 export/import. The ``telemetry`` table has one column per field, with the position as
``geometry(Point, 4326)`` built from longitude/latitude, and primary key (vehicle_id, time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# A stamp further ahead of the receiving clock than this is a broken clock, not a sample.
MAX_FUTURE_SKEW = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class TelemetrySample:
    """One vehicle sample. ``None`` means "not known yet" (no message of that kind so far)."""

    vehicle_id: str
    time: datetime  # timezone-aware, UTC
    latitude: float
    longitude: float
    altitude_amsl: float | None = None  # metres, as MAVROS global_position/global reports it
    altitude_rel: float | None = None  # metres above home
    heading_deg: float | None = None  # 0..360, clockwise from north
    ground_speed_mps: float | None = None
    climb_rate_mps: float | None = None
    battery_pct: float | None = None  # 0..100
    voltage_v: float | None = None
    current_a: float | None = None
    mode: str | None = None
    armed: bool | None = None
    landed_state: int | None = None  # MAVLink MAV_LANDED_STATE
    mission_id: str | None = None

    def reject_reason(self, now: datetime | None = None) -> str | None:
        """Return why this sample must not be stored, or None when it is sound."""
        if not self.vehicle_id:
            return "empty vehicle_id"
        if self.time.tzinfo is None:
            return f"time {self.time.isoformat()} has no time zone"
        if not (math.isfinite(self.latitude) and math.isfinite(self.longitude)):
            return f"position ({self.latitude}, {self.longitude}) is not finite"
        if not (-90.0 <= self.latitude <= 90.0 and -180.0 <= self.longitude <= 180.0):
            return f"position ({self.latitude}, {self.longitude}) is out of range"
        for name in ("altitude_amsl", "altitude_rel", "heading_deg", "ground_speed_mps",
                     "climb_rate_mps", "battery_pct", "voltage_v", "current_a"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                return f"{name} {value} is not finite"
        if self.battery_pct is not None and not 0.0 <= self.battery_pct <= 100.0:
            return f"battery_pct {self.battery_pct} is outside 0..100"
        reference = now if now is not None else datetime.now(UTC)
        if self.time - reference > MAX_FUTURE_SKEW:
            return f"time {self.time.isoformat()} is in the future (now {reference.isoformat()})"
        return None
