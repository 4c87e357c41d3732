"""Merge a vehicle's MAVROS topics into TelemetrySample rows: one row per position fix.

MAVROS publishes position, altitude, heading, velocity, battery and state on separate topics
at different rates. A row is emitted for every ``global_position/global`` fix and carries the
newest value of every other topic, unless that value is older than ``max_age`` relative to the
fix: a vehicle that stopped reporting its battery must not show the last percentage forever.

The merger takes plain values, never ROS messages, so that the recorder node and the rosbag2
import share it. Unit conversions from MAVROS messages happen in the adapters; the one that
is easy to get wrong (``BatteryState``) is fleet_core's :func:`battery_from_mavros`, which
fleet_manager, the recorder and the bag import all use (re-exported here).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from fleet_core.fleet.telemetry import BatteryReading, battery_from_mavros, battery_to_mavros
from fleet_core.mavlink import LandedState
from fleet_db.samples import TelemetrySample

T = TypeVar("T")

DEFAULT_MAX_AGE = timedelta(seconds=5)
"""Five MAVROS heartbeats: state and battery arrive at about 1 Hz."""

__all__ = ["DEFAULT_MAX_AGE", "BatteryReading", "RejectedValueError", "SampleMerger",
           "battery_from_mavros", "battery_to_mavros"]


class RejectedValueError(ValueError):
    """A value handed to the merger is garbage; the message names it."""


def _finite_or_none(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class _Stamped(Generic[T]):
    value: T
    stamp: datetime


@dataclass(slots=True)
class _Latest:
    """The newest value of each topic of one vehicle, with the stamp it came with."""

    altitude_rel: _Stamped[float | None] | None = None
    heading_deg: _Stamped[float | None] | None = None
    velocity: _Stamped[tuple[float | None, float | None]] | None = None  # ground, climb
    battery: _Stamped[BatteryReading] | None = None
    state: _Stamped[tuple[str | None, bool | None]] | None = None  # mode, armed
    landed_state: _Stamped[int] | None = None
    mission_id: str | None = None
    last_fix: datetime | None = None


def _check_stamp(stamp: datetime) -> None:
    if stamp.tzinfo is None:
        raise RejectedValueError(f"stamp {stamp.isoformat()} has no time zone")


class SampleMerger:
    """Merge per-vehicle topic values into TelemetrySample rows. Thread-safe.

    Every ``on_*`` method takes the vehicle id and the stamp of the value (timezone-aware;
    the message header stamp, or the receive time for headerless std_msgs/Float64). A value
    is carried into a fix's row when ``fix stamp - value stamp <= max_age``. Non-finite
    numbers mean "unknown" (MAVROS sends NaN for an unknown heading) and clear the value;
    values that cannot be right raise :class:`RejectedValueError`.
    """

    def __init__(self, max_age: timedelta = DEFAULT_MAX_AGE) -> None:
        if max_age <= timedelta(0):
            raise ValueError(f"max_age must be positive, got {max_age}")
        self.max_age = max_age
        self._vehicles: dict[str, _Latest] = {}
        # The recorder may run its subscriptions on a multi-threaded executor.
        self._lock = threading.Lock()

    def _latest(self, vehicle: str) -> _Latest:
        if not vehicle:
            raise RejectedValueError("empty vehicle id")
        latest = self._vehicles.get(vehicle)
        if latest is None:
            latest = self._vehicles[vehicle] = _Latest()
        return latest

    def _update(self, vehicle: str, stamp: datetime, name: str, value: object) -> None:
        _check_stamp(stamp)
        with self._lock:
            setattr(self._latest(vehicle), name, _Stamped(value, stamp))

    def _fresh(self, slot: _Stamped[T] | None, at: datetime) -> T | None:
        if slot is None or at - slot.stamp > self.max_age:
            return None
        return slot.value

    def on_fix(self, vehicle: str, stamp: datetime, latitude: float, longitude: float,
               altitude_amsl: float | None) -> TelemetrySample | None:
        """Return the row for this fix, or None when the vehicle already has a row at ``stamp``.

        Raises RejectedValueError for a position out of range, a non-finite one, or a stamp in
        the future or without a time zone.
        """
        _check_stamp(stamp)
        with self._lock:
            latest = self._latest(vehicle)
            if latest.last_fix == stamp:
                return None  # (vehicle_id, time) is the key: a repeated fix adds nothing
            ground, climb = self._fresh(latest.velocity, stamp) or (None, None)
            battery = self._fresh(latest.battery, stamp) or BatteryReading(None, None, None)
            mode, armed = self._fresh(latest.state, stamp) or (None, None)
            sample = TelemetrySample(
                vehicle_id=vehicle, time=stamp, latitude=float(latitude),
                longitude=float(longitude), altitude_amsl=_finite_or_none(altitude_amsl),
                altitude_rel=self._fresh(latest.altitude_rel, stamp),
                heading_deg=self._fresh(latest.heading_deg, stamp),
                ground_speed_mps=ground, climb_rate_mps=climb,
                battery_pct=battery.percent, voltage_v=battery.voltage_v,
                current_a=battery.current_a, mode=mode, armed=armed,
                landed_state=self._fresh(latest.landed_state, stamp),
                mission_id=latest.mission_id,
            )
            reason = sample.reject_reason()
            if reason is not None:
                raise RejectedValueError(f"fix of {vehicle}: {reason}")
            latest.last_fix = stamp
            return sample

    def on_rel_alt(self, vehicle: str, stamp: datetime, altitude_rel: float) -> None:
        """Take global_position/rel_alt (metres above home; NaN = unknown)."""
        self._update(vehicle, stamp, "altitude_rel", _finite_or_none(altitude_rel))

    def on_heading(self, vehicle: str, stamp: datetime, heading_deg: float) -> None:
        """Take global_position/compass_hdg (degrees clockwise from north; NaN = unknown)."""
        heading = _finite_or_none(heading_deg)
        if heading is not None and not 0.0 <= heading <= 360.0:
            raise RejectedValueError(f"heading {heading_deg} of {vehicle} is outside 0..360")
        self._update(vehicle, stamp, "heading_deg", heading)

    def on_velocity(self, vehicle: str, stamp: datetime, vx_east: float, vy_north: float,
                    vz_up: float) -> None:
        """Take local_position/velocity_local (ENU, m/s): ground speed and climb rate."""
        east, north, up = (_finite_or_none(v) for v in (vx_east, vy_north, vz_up))
        ground = None if east is None or north is None else math.hypot(east, north)
        self._update(vehicle, stamp, "velocity", (ground, up))

    def on_battery(self, vehicle: str, stamp: datetime, percent: float | None,
                   voltage_v: float | None = None, current_a: float | None = None) -> None:
        """Take a battery report in row units (see :func:`battery_from_mavros`)."""
        pct = _finite_or_none(percent)
        if pct is not None and not 0.0 <= pct <= 100.0:
            raise RejectedValueError(
                f"battery percent {percent} of {vehicle} is outside 0..100 "
                "(sensor_msgs percentage is 0..1: convert with battery_from_mavros)")
        volts = _finite_or_none(voltage_v)
        if volts is not None and volts < 0.0:
            raise RejectedValueError(f"battery voltage {voltage_v} of {vehicle} is negative")
        self._update(vehicle, stamp, "battery",
                     BatteryReading(pct, volts, _finite_or_none(current_a)))

    def on_state(self, vehicle: str, stamp: datetime, mode: str, armed: bool,
                 connected: bool) -> None:
        """Take mavros state. While MAVROS reports the link lost, mode and armed are unknown."""
        value = (mode or None, bool(armed)) if connected else (None, None)
        self._update(vehicle, stamp, "state", value)

    def on_extended_state(self, vehicle: str, stamp: datetime, landed_state: int) -> None:
        """Take mavros extended_state's landed_state (MAV_LANDED_STATE)."""
        try:
            state = LandedState(landed_state)
        except ValueError:
            raise RejectedValueError(
                f"landed_state {landed_state} of {vehicle} is not a MAV_LANDED_STATE "
                f"({min(LandedState)}..{max(LandedState)})") from None
        self._update(vehicle, stamp, "landed_state", int(state))

    def set_mission(self, vehicle: str, mission_id: str | None) -> None:
        """Tag the vehicle's following rows with a mission id (None: no mission). Never stale."""
        with self._lock:
            self._latest(vehicle).mission_id = mission_id or None

    def forget(self, vehicle: str) -> None:
        """Drop everything known about a vehicle."""
        with self._lock:
            self._vehicles.pop(vehicle, None)

    def vehicles(self) -> list[str]:
        """Return the ids of the vehicles seen so far."""
        with self._lock:
            return sorted(self._vehicles)
