"""The fleet's picture of one vehicle: status, liveness, telemetry validation."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

from fleet_core.geo import GeoPoint, haversine_m
from fleet_core.mavlink import LandedState


class OperatingStatus(IntEnum):
    """What a vehicle is doing, as the fleet sees it (fleet_interfaces/VehicleStatus)."""

    UNKNOWN = 0
    IDLE = 1
    IN_MISSION = 2
    RETURNING = 3
    CHARGING = 4
    MAINTENANCE = 5
    OFFLINE = 6


class Liveness(IntEnum):
    """How recent the vehicle's telemetry is."""

    FRESH = 0
    STALE = 1
    LOST = 2


@dataclass(frozen=True, slots=True)
class LivenessThresholds:
    """Ages (s) of the newest sample at which a vehicle becomes stale, then lost."""

    stale_after_s: float = 3.0
    lost_after_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.stale_after_s < self.lost_after_s:
            raise ValueError(
                f"liveness thresholds need 0 < stale_after_s < lost_after_s, got "
                f"{self.stale_after_s} and {self.lost_after_s}"
            )


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    """A vehicle's registry entry: identity and capabilities."""

    vehicle_id: str
    mavros_prefix: str
    model: str = "multirotor"
    max_payload_kg: float = 0.0
    max_range_m: float = 10_000.0
    cruise_speed: float = 8.0
    max_speed: float = 15.0  # physical limit: faster apparent motion is a glitch
    battery_capacity_wh: float = 222.0
    home_site: str = ""
    max_wind_mps: float | None = None  # the airframe's wind limit; None: the planner's default


class RejectReason(IntEnum):
    """Why a telemetry sample was ignored."""

    NOT_FINITE = 0
    OUT_OF_RANGE = 1
    FUTURE_STAMP = 2
    IMPOSSIBLE_JUMP = 3
    MALFORMED = 4  # bytes that are not the topic's message (a raw subscription)


@dataclass(slots=True)
class VehicleState:
    """Everything the fleet knows about one vehicle. Times are seconds on one clock."""

    spec: VehicleSpec
    last_seen: float | None = None
    connected: bool = False
    armed: bool = False
    mode: str = ""
    landed_state: LandedState = LandedState.UNDEFINED
    battery_percent: float = math.nan
    battery_voltage: float = math.nan
    battery_current: float = math.nan
    battery_charging: bool = False
    position: GeoPoint | None = None
    position_time: float | None = None
    relative_altitude: float = math.nan
    heading: float = math.nan
    velocity_enu: tuple[float, float, float] = (0.0, 0.0, 0.0)
    home: GeoPoint | None = None
    gps_fix_ok: bool = True  # the newest NavSatFix had a fix
    position_estimate_ok: bool = True  # estimator_status: horizontal absolute position valid
    estimator_ok: bool = True
    sensors_ok: bool = True
    motors_ok: bool = True
    warnings: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    current_mission_id: str = ""
    last_reached_item: int = -1  # MAVROS mission/reached wp_seq of the current upload
    maintenance: bool = False
    rejected: dict[RejectReason, int] = field(default_factory=dict)

    @property
    def vehicle_id(self) -> str:
        """Return the vehicle's id."""
        return self.spec.vehicle_id

    @property
    def ground_speed(self) -> float:
        """Return the horizontal speed in m/s."""
        return math.hypot(self.velocity_enu[0], self.velocity_enu[1])

    @property
    def airborne(self) -> bool:
        """Tell whether the vehicle is in the air (landed state, else armed and above 1 m)."""
        if self.landed_state in (LandedState.IN_AIR, LandedState.TAKEOFF, LandedState.LANDING):
            return True
        if self.landed_state == LandedState.ON_GROUND:
            return False
        return self.armed and self.relative_altitude > 1.0

    def liveness(self, now: float, thresholds: LivenessThresholds) -> Liveness:
        """Return the liveness at ``now`` from the age of the newest sample."""
        if self.last_seen is None or not self.connected:
            return Liveness.LOST
        age = now - self.last_seen
        if age >= thresholds.lost_after_s:
            return Liveness.LOST
        if age >= thresholds.stale_after_s:
            return Liveness.STALE
        return Liveness.FRESH

    def status(self, now: float, thresholds: LivenessThresholds) -> OperatingStatus:
        """Return the fleet status at ``now``; maintenance wins over everything."""
        if self.maintenance:
            return OperatingStatus.MAINTENANCE
        if self.last_seen is None:
            return OperatingStatus.UNKNOWN
        if self.liveness(now, thresholds) is Liveness.LOST:
            return OperatingStatus.OFFLINE
        if self.battery_charging and not self.airborne:
            return OperatingStatus.CHARGING
        if self.airborne and self.mode in ("AUTO.RTL", "RTL", "AUTO.LAND", "LAND", "SMART_RTL"):
            return OperatingStatus.RETURNING
        if self.airborne or (self.armed and self.current_mission_id):
            return OperatingStatus.IN_MISSION
        return OperatingStatus.IDLE

    def gps_ok(self, now: float, thresholds: LivenessThresholds) -> bool:
        """Tell whether the vehicle has a 3D fix that still arrives and a valid position estimate.

        MAVROS stops publishing global_position/global when the autopilot has no global
        position, so a fix that stopped while the rest of the telemetry goes on is a lost fix.
        """
        if not (self.gps_fix_ok and self.position_estimate_ok):
            return False
        if self.position_time is None:
            return self.last_seen is None  # telemetry without any fix yet: no GPS
        return now - self.position_time < thresholds.stale_after_s

    def reject(self, reason: RejectReason) -> None:
        """Count a sample ignored for ``reason``."""
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def touch(self, now: float) -> None:
        """Record that a valid sample arrived at ``now``."""
        self.last_seen = now if self.last_seen is None else max(self.last_seen, now)


@dataclass(frozen=True, slots=True)
class TelemetryLimits:
    """What counts as garbage telemetry."""

    max_future_s: float = 2.0  # stamps further ahead of our clock are not trusted
    jump_slack_m: float = 25.0  # GPS noise and re-acquisition tolerated on top of max speed


def check_stamp(stamp: float, now: float, limits: TelemetryLimits) -> RejectReason | None:
    """Return why a sample's header stamp is unusable, or None (a zero stamp is allowed)."""
    if not math.isfinite(stamp):
        return RejectReason.NOT_FINITE
    if stamp > now + limits.max_future_s:
        return RejectReason.FUTURE_STAMP
    return None


def check_point(point: GeoPoint) -> RejectReason | None:
    """Return why a position is no place a vehicle can be, or None."""
    if not (math.isfinite(point.latitude) and math.isfinite(point.longitude)
            and math.isfinite(point.altitude)):
        return RejectReason.NOT_FINITE
    if not point.is_valid() or not -1000.0 <= point.altitude <= 20_000.0:
        return RejectReason.OUT_OF_RANGE
    return None


def check_position(state: VehicleState, point: GeoPoint, now: float,
                   limits: TelemetryLimits) -> RejectReason | None:
    """Return why a position fix must be ignored, or None to accept it."""
    reason = check_point(point)
    if reason is not None:
        return reason
    if state.position is not None and state.position_time is not None:
        dt = max(now - state.position_time, 0.0)
        reach = state.spec.max_speed * dt + limits.jump_slack_m
        if haversine_m(state.position, point) > reach:
            return RejectReason.IMPOSSIBLE_JUMP
    return None


def check_battery(percent: float, voltage: float) -> RejectReason | None:
    """Return why a battery reading must be ignored (NaN percent means unknown: allowed)."""
    if math.isinf(percent) or math.isinf(voltage):
        return RejectReason.NOT_FINITE
    if not math.isnan(percent) and not 0.0 <= percent <= 100.0:
        return RejectReason.OUT_OF_RANGE
    if not math.isnan(voltage) and not 0.0 <= voltage <= 100.0:
        return RejectReason.OUT_OF_RANGE
    return None
