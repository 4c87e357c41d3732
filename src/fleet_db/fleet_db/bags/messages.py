"""A telemetry row as MAVROS messages and back: what export writes and import merges.

The two directions live together because they change together: a value written one way
must be read back the same way for an export to import into exactly the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
from rosbags.interfaces import Qos
from rosbags.typesys.stores import ros2_kilted as ros2

from fleet_core.mavlink import MavState
from fleet_db import msgdefs
from fleet_db.bags import topics
from fleet_db.bags.errors import BagError
from fleet_db.bags.topics import TopicSpec
from fleet_db.merge import BatteryReading, SampleMerger, battery_from_mavros, battery_to_mavros
from fleet_db.samples import TelemetrySample

# The typed rosbags classes of the standard messages (the store msgdefs.typestore() extends).
Time = ros2.builtin_interfaces__msg__Time
Header = ros2.std_msgs__msg__Header
Float64 = ros2.std_msgs__msg__Float64
String = ros2.std_msgs__msg__String
Vector3 = ros2.geometry_msgs__msg__Vector3
Twist = ros2.geometry_msgs__msg__Twist
TwistStamped = ros2.geometry_msgs__msg__TwistStamped
BatteryState = ros2.sensor_msgs__msg__BatteryState
NavSatFix = ros2.sensor_msgs__msg__NavSatFix
NavSatStatus = ros2.sensor_msgs__msg__NavSatStatus

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_GPS_FIX = NavSatStatus.STATUS_FIX  # below this, lat/lon are not a position


@dataclass(frozen=True, slots=True)
class SliceMessage:
    """One message of a slice: what a bag holds and what a replay publishes."""

    topic: str
    msgtype: str
    time_ns: int  # log time = header stamp = sample time
    message: object  # a rosbags message object of ``msgtype``
    qos: Qos

    def cdr(self) -> bytes:
        """Serialize to CDR, e.g. for rclpy.serialization.deserialize_message."""
        return bytes(msgdefs.typestore().serialize_cdr(self.message, self.msgtype))


def time_ns(stamp: datetime) -> int:
    """Return an aware time as nanoseconds since the epoch, exactly (no float rounding)."""
    if stamp.tzinfo is None:
        raise BagError(f"time {stamp.isoformat()} has no time zone")
    delta = stamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _from_ns(ns: int) -> datetime:
    # PostgreSQL keeps microseconds: sub-microsecond digits are dropped, not rounded.
    return _EPOCH + timedelta(microseconds=ns // 1000)


def stamped_header(ns: int, frame_id: str) -> Header:
    """Return a std_msgs/Header stamped ``ns`` nanoseconds after the epoch."""
    return Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000),
                  frame_id=frame_id)


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


# ------------------------------------------------------------------ samples -> messages
def sample_messages(sample: TelemetrySample, previous: TelemetrySample | None = None
                    ) -> list[SliceMessage]:
    """Return the MAVROS messages that describe one row, the fix last (no mission topic).

    ``previous`` is the vehicle's row before this one. A value known there and unknown now
    is sent as "unknown" (NaN in Float64, TwistStamped and BatteryState, as MAVROS and
    sensor_msgs do; State with connected=false for mode and armed both unknown), so that an
    import does not carry the old value on. The ground speed is split along the heading into
    east (x) and north (y); without a heading it is all north, which keeps its magnitude.

    Not representable, hence not exact on import: armed unknown while the mode is known
    (State has no unknown armed; sent as false), and landed_state becoming unknown
    (ExtendedState has none; the import carries the last one until it is stale).
    """
    ns = time_ns(sample.time)
    vehicle = sample.vehicle_id
    out: list[SliceMessage] = []

    def add(spec: TopicSpec, message: object) -> None:
        out.append(SliceMessage(spec.topic(vehicle), spec.msgtype, ns, message, spec.qos))

    def known(*names: str) -> bool:
        return any(getattr(row, name) is not None for row in (sample, previous)
                   if row is not None for name in names)

    if known("altitude_rel"):
        add(topics.REL_ALT, Float64(data=_nan(sample.altitude_rel)))
    if known("heading_deg"):
        add(topics.HEADING, Float64(data=_nan(sample.heading_deg)))
    if known("ground_speed_mps", "climb_rate_mps"):
        east = north = math.nan
        if sample.ground_speed_mps is not None:
            hdg = math.radians(sample.heading_deg or 0.0)
            east = sample.ground_speed_mps * math.sin(hdg)
            north = sample.ground_speed_mps * math.cos(hdg)
        add(topics.VELOCITY, TwistStamped(
            header=stamped_header(ns, "map"),
            twist=Twist(linear=Vector3(x=east, y=north, z=_nan(sample.climb_rate_mps)),
                        angular=Vector3(x=0.0, y=0.0, z=0.0))))
    if known("battery_pct", "voltage_v", "current_a"):
        pct, volts, amps = battery_to_mavros(
            BatteryReading(sample.battery_pct, sample.voltage_v, sample.current_a))
        add(topics.BATTERY, BatteryState(
            header=stamped_header(ns, ""), voltage=volts, temperature=math.nan, current=amps,
            charge=math.nan, capacity=math.nan, design_capacity=math.nan, percentage=pct,
            power_supply_status=BatteryState.POWER_SUPPLY_STATUS_UNKNOWN,
            power_supply_health=BatteryState.POWER_SUPPLY_HEALTH_UNKNOWN,
            power_supply_technology=BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN,
            present=True, cell_voltage=np.empty(0, np.float32),
            cell_temperature=np.empty(0, np.float32), location="", serial_number=""))
    if known("mode", "armed"):
        state_cls = msgdefs.typestore().types[topics.STATE.msgtype]
        connected = sample.mode is not None or sample.armed is not None
        # Both unknown: what MAVROS publishes once the link is lost.
        status = (MavState.UNINIT if not connected
                  else MavState.ACTIVE if sample.armed else MavState.STANDBY)
        add(topics.STATE, state_cls(
            header=stamped_header(ns, ""), connected=connected, armed=bool(sample.armed),
            guided=False, manual_input=False, mode=sample.mode or "",
            system_status=int(status)))
    if sample.landed_state is not None:
        ext_cls = msgdefs.typestore().types[topics.EXTENDED_STATE.msgtype]
        add(topics.EXTENDED_STATE, ext_cls(header=stamped_header(ns, ""), vtol_state=0,
                                    landed_state=int(sample.landed_state)))
    add(topics.FIX, NavSatFix(
        header=stamped_header(ns, "base_link"),
        # rosbags annotates NavSatFix.status with an older distro's NavSatStatus class; the
        # serializer only reads the fields, which are the same.
        status=cast("Any", NavSatStatus(status=NavSatStatus.STATUS_FIX,
                                        service=NavSatStatus.SERVICE_GPS)),
        latitude=float(sample.latitude), longitude=float(sample.longitude),
        altitude=_nan(sample.altitude_amsl), position_covariance=np.zeros(9, np.float64),
        position_covariance_type=NavSatFix.COVARIANCE_TYPE_UNKNOWN))
    return out


def samples_to_messages(samples: Iterable[TelemetrySample]) -> Iterator[SliceMessage]:
    """Yield the messages of samples given in time order, with mission changes per vehicle."""
    previous: dict[str, TelemetrySample] = {}
    for sample in samples:
        vehicle = sample.vehicle_id
        before = previous.get(vehicle)
        if (before.mission_id if before is not None else None) != sample.mission_id:
            mission = topics.MISSION
            yield SliceMessage(mission.topic(vehicle), mission.msgtype, time_ns(sample.time),
                               String(data=sample.mission_id or ""), mission.qos)
        yield from sample_messages(sample, before)
        previous[vehicle] = sample


# ------------------------------------------------------------------ messages -> samples
def _stamp_ns(message: Any, log_ns: int) -> int:
    """Return the header stamp in ns, or the log time for headerless or unstamped messages."""
    header = getattr(message, "header", None)
    if header is None:
        return log_ns
    ns = int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
    return ns if ns > 0 else log_ns


def feed(merger: SampleMerger, vehicle: str, spec: TopicSpec, msg: Any, log_ns: int
         ) -> TelemetrySample | str | None:
    """Give one decoded message to the merger; return a row, a reason to ignore it, or None.

    Raises RejectedValueError for a value the merger refuses and AttributeError for a
    message that lacks a field.
    """
    stamp = _from_ns(_stamp_ns(msg, log_ns))
    if spec is topics.FIX:
        if int(msg.status.status) < _NO_GPS_FIX:
            return "no GPS fix"
        sample = merger.on_fix(vehicle, stamp, float(msg.latitude), float(msg.longitude),
                               float(msg.altitude))
        return sample if sample is not None else "repeated fix stamp"
    if spec is topics.REL_ALT:
        merger.on_rel_alt(vehicle, stamp, float(msg.data))
    elif spec is topics.HEADING:
        merger.on_heading(vehicle, stamp, float(msg.data))
    elif spec is topics.VELOCITY:
        lin = msg.twist.linear
        merger.on_velocity(vehicle, stamp, float(lin.x), float(lin.y), float(lin.z))
    elif spec is topics.BATTERY:
        reading = battery_from_mavros(float(msg.percentage), float(msg.voltage),
                                      float(msg.current))
        merger.on_battery(vehicle, stamp, reading.percent, reading.voltage_v,
                          reading.current_a)
    elif spec is topics.STATE:
        merger.on_state(vehicle, stamp, str(msg.mode), bool(msg.armed), bool(msg.connected))
    elif spec is topics.EXTENDED_STATE:
        merger.on_extended_state(vehicle, stamp, int(msg.landed_state))
    elif spec is topics.MISSION:
        merger.set_mission(vehicle, str(msg.data) or None)
    return None
