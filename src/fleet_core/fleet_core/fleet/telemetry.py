"""Telemetry a vehicle reports, as values, and how each one updates the fleet's picture.

MAVROS publishes a vehicle's state on a dozen topics. ``fleet_ros.mavros_convert`` decodes
each message into one of the values here (or a :class:`Rejected` when the message itself is
garbage); :func:`take` applies a value to a :class:`VehicleState`, with the checks that need
the vehicle's history (an impossible jump, a speed beyond the airframe's). Nothing here
imports ROS, so the rules are unit-tested without a graph and shared with fleet_db.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import assert_never

from fleet_core.fleet.model import (
    RejectReason,
    TelemetryLimits,
    VehicleState,
    check_battery,
    check_point,
    check_position,
    check_stamp,
)
from fleet_core.geo import GeoPoint
from fleet_core.mavlink import SENSOR_MOTOR_OUTPUTS, SENSORS_PRESENT, LandedState, MavSeverity

MAX_RELATIVE_ALTITUDE_M = 20_000.0
"""Heights above home beyond this are garbage, not flight."""

MAX_WARNING_CHARS = 200


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a sample was ignored, and the value that made it so (for the log)."""

    reason: RejectReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AutopilotState:
    """mavros_msgs/State: MAVROS's link to the autopilot, arming and flight mode."""

    connected: bool
    armed: bool
    mode: str


@dataclass(frozen=True, slots=True)
class Landed:
    """mavros_msgs/ExtendedState: on the ground, taking off, in the air or landing."""

    state: LandedState


@dataclass(frozen=True, slots=True)
class BatteryReading:
    """A battery report: percent 0..100, volts, amps positive while discharging; None unknown."""

    percent: float | None
    voltage_v: float | None
    current_a: float | None
    charging: bool = False


@dataclass(frozen=True, slots=True)
class PositionFix:
    """A GNSS fix; ``position`` None when the receiver reports no fix."""

    position: GeoPoint | None


@dataclass(frozen=True, slots=True)
class RelativeAltitude:
    """Height above home, metres."""

    metres: float


@dataclass(frozen=True, slots=True)
class Heading:
    """Compass heading, degrees clockwise from north; NaN unknown."""

    degrees: float


@dataclass(frozen=True, slots=True)
class Velocity:
    """Velocity in the local East-North-Up frame, m/s."""

    east: float
    north: float
    up: float


@dataclass(frozen=True, slots=True)
class HomePosition:
    """Where the vehicle returns to."""

    position: GeoPoint


@dataclass(frozen=True, slots=True)
class SensorHealth:
    """SYS_STATUS: every sensor present and enabled is healthy; the motors are."""

    sensors_ok: bool
    motors_ok: bool

    @classmethod
    def from_bits(cls, enabled: int, health: int) -> SensorHealth:
        """Read MAV_SYS_STATUS_SENSOR bitmasks (only the sensors fleet_manager knows count)."""
        known = enabled & SENSORS_PRESENT
        return cls(sensors_ok=(health & known) == known,
                   motors_ok=bool(health & SENSOR_MOTOR_OUTPUTS)
                   or not known & SENSOR_MOTOR_OUTPUTS)


@dataclass(frozen=True, slots=True)
class EstimatorHealth:
    """ESTIMATOR_STATUS: attitude and velocity valid; an absolute position not glitching."""

    estimator_ok: bool
    position_estimate_ok: bool

    @classmethod
    def from_flags(cls, *, attitude: bool, velocity_horiz: bool, pos_horiz_abs: bool,
                   gps_glitch: bool) -> EstimatorHealth:
        """Read the estimator's status flags."""
        return cls(estimator_ok=attitude and velocity_horiz and pos_horiz_abs,
                   position_estimate_ok=pos_horiz_abs and not gps_glitch)


@dataclass(frozen=True, slots=True)
class AutopilotText:
    """A STATUSTEXT: MAVLink severity (0 emergency .. 7 debug) and text."""

    severity: int
    text: str


@dataclass(frozen=True, slots=True)
class ItemReached:
    """The autopilot reached mission item ``seq`` of its current upload."""

    seq: int


Telemetry = (AutopilotState | Landed | BatteryReading | PositionFix | RelativeAltitude
             | Heading | Velocity | HomePosition | SensorHealth | EstimatorHealth
             | AutopilotText | ItemReached)


def landed_state(value: int) -> LandedState:
    """Read MAV_LANDED_STATE; a value this code does not know is UNDEFINED."""
    return LandedState(value) if 0 <= value <= LandedState.LANDING else LandedState.UNDEFINED


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def battery_from_mavros(percentage: float, voltage: float, current: float,
                        charging: bool = False) -> BatteryReading:
    """Convert sensor_msgs/BatteryState fields to a BatteryReading, without judging them.

    ``percentage`` is 0..1 in sensor_msgs (MAVROS fills it so); the reading is 0..100.
    ``current`` is negative while discharging in sensor_msgs; the reading holds the
    discharge current as a positive number. NaN means "unmeasured" and becomes None.
    """
    pct = _finite_or_none(percentage)
    cur = _finite_or_none(current)
    return BatteryReading(percent=None if pct is None else pct * 100.0,
                          voltage_v=_finite_or_none(voltage),
                          current_a=None if cur is None else -cur, charging=charging)


def battery_to_mavros(reading: BatteryReading) -> tuple[float, float, float]:
    """Return (percentage 0..1, voltage, current) for sensor_msgs/BatteryState; NaN = unknown."""
    nan = math.nan
    return (
        nan if reading.percent is None else reading.percent / 100.0,
        nan if reading.voltage_v is None else reading.voltage_v,
        nan if reading.current_a is None else -reading.current_a,
    )


def checked_battery(percentage: float, voltage: float, current: float,
                    charging: bool = False) -> BatteryReading | Rejected:
    """Convert like :func:`battery_from_mavros`, refusing an infinite or impossible reading."""
    reason = check_battery(percentage * 100.0, voltage)
    if reason is not None:
        return Rejected(reason, f"percentage {percentage}, voltage {voltage}")
    return battery_from_mavros(percentage, voltage, current, charging)


def checked_fix(position: GeoPoint | None) -> PositionFix | Rejected:
    """Wrap a fix, refusing coordinates that are not a place on Earth."""
    if position is not None:
        reason = check_point(position)
        if reason is not None:
            return Rejected(reason, f"{position.latitude}, {position.longitude}")
    return PositionFix(position)


def checked_relative_altitude(metres: float) -> RelativeAltitude | Rejected:
    """Wrap a height above home, refusing NaN and heights no vehicle flies at."""
    if not math.isfinite(metres) or abs(metres) > MAX_RELATIVE_ALTITUDE_M:
        return Rejected(RejectReason.OUT_OF_RANGE, f"rel_alt {metres}")
    return RelativeAltitude(metres)


def checked_heading(degrees: float) -> Heading | Rejected:
    """Wrap a compass heading, refusing one outside 0..360 (NaN is "unknown": kept)."""
    if math.isfinite(degrees) and not 0.0 <= degrees <= 360.0:
        return Rejected(RejectReason.OUT_OF_RANGE, f"heading {degrees}")
    return Heading(degrees)


def checked_velocity(east: float, north: float, up: float) -> Velocity | Rejected:
    """Wrap an ENU velocity, refusing a component that is not finite."""
    if not (math.isfinite(east) and math.isfinite(north) and math.isfinite(up)):
        return Rejected(RejectReason.OUT_OF_RANGE, f"velocity {(east, north, up)}")
    return Velocity(east, north, up)


def checked_home(home: GeoPoint) -> HomePosition | Rejected:
    """Wrap a home position, refusing one that is not a place on Earth."""
    if not home.is_valid() or not math.isfinite(home.altitude):
        return Rejected(RejectReason.OUT_OF_RANGE, f"home {home}")
    return HomePosition(home)


def take(state: VehicleState, sample: Telemetry | Rejected, stamp: float | None, now: float,
         limits: TelemetryLimits) -> Rejected | None:
    """Apply one decoded sample stamped ``stamp`` (None: unstamped) at ``now``.

    Return why it was ignored, or None. A sample that shows the vehicle is there now
    refreshes its liveness; a latched one, or MAVROS reporting the link down, does not.
    """
    if stamp is not None:
        reason = check_stamp(stamp, now, limits)
        if reason is not None:
            return Rejected(reason)
    v = state
    # One function for every kind: this runs for each of ~13k messages a second at 500
    # vehicles, the most frequent kinds first.
    match sample:
        case PositionFix(position=point):
            if point is None:
                v.gps_fix_ok = False
            else:
                reason = check_position(v, point, now, limits)
                if reason is not None:
                    return Rejected(reason, f"{point.latitude}, {point.longitude}")
                v.gps_fix_ok = True
                v.position = point
                v.position_time = now
        case Velocity(east=e, north=n, up=u):
            if math.hypot(e, n, u) > 3 * v.spec.max_speed:
                return Rejected(RejectReason.OUT_OF_RANGE, f"velocity {(e, n, u)}")
            v.velocity_enu = (e, n, u)
        case RelativeAltitude(metres=metres):
            v.relative_altitude = metres
        case Heading(degrees=degrees):
            v.heading = degrees
        case Rejected():
            return sample
        case AutopilotState(connected=connected, armed=armed, mode=mode):
            v.connected = connected
            if not connected:
                return None  # MAVROS's own "link lost" report is not a sign of life
            v.armed = armed
            v.mode = mode
        case Landed(state=landed):
            v.landed_state = landed
        case BatteryReading(percent=percent, voltage_v=volts, current_a=amps):
            v.battery_percent = math.nan if percent is None else percent
            v.battery_voltage = math.nan if volts is None else volts
            v.battery_current = math.nan if amps is None else amps
            v.battery_charging = sample.charging
        case HomePosition(position=home):
            v.home = home
        case SensorHealth(sensors_ok=sensors_ok, motors_ok=motors_ok):
            v.sensors_ok = sensors_ok
            v.motors_ok = motors_ok
        case EstimatorHealth(estimator_ok=estimator_ok, position_estimate_ok=position_ok):
            v.estimator_ok = estimator_ok
            v.position_estimate_ok = position_ok
        case AutopilotText(severity=severity, text=text):
            if severity <= MavSeverity.WARNING:
                v.warnings.append(text[:MAX_WARNING_CHARS])
        case ItemReached(seq=seq):
            v.last_reached_item = seq
            return None  # latched: the last value may be old, so it is no sign of life
        case _:
            assert_never(sample)
    v.touch(now)
    return None
