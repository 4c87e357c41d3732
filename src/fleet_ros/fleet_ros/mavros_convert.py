"""Conversions between MAVROS messages and fleet_core types (the one place for them).

The ``*_from_msg`` decoders turn a vehicle's telemetry into fleet_core.fleet.telemetry values,
refusing (as a :class:`Rejected`) what is garbage in the message itself; the checks that need
the vehicle's history are fleet_core's. One decoder per topic, for fleet_manager and the
recorder alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from geometry_msgs.msg import TwistStamped
from mavros_msgs.msg import (
    EstimatorStatus,
    ExtendedState,
    State,
    StatusText,
    SysStatus,
    Waypoint,
    WaypointReached,
)
from mavros_msgs.msg import HomePosition as HomePositionMsg
from sensor_msgs.msg import BatteryState, NavSatFix, NavSatStatus
from std_msgs.msg import Float64

from fleet_core.fleet.telemetry import (
    AutopilotState,
    AutopilotText,
    BatteryReading,
    EstimatorHealth,
    Heading,
    HomePosition,
    ItemReached,
    Landed,
    PositionFix,
    Rejected,
    RelativeAltitude,
    SensorHealth,
    Telemetry,
    Velocity,
    checked_battery,
    checked_fix,
    checked_heading,
    checked_home,
    checked_relative_altitude,
    checked_velocity,
    landed_state,
)
from fleet_core.geo import GeoPoint
from fleet_core.mavlink import MissionItem
from fleet_core.mavros_topics import MavrosTopic


def waypoint_to_item(wp: Waypoint) -> MissionItem:
    """Convert a mavros_msgs/Waypoint to a MissionItem."""
    return MissionItem(
        frame=int(wp.frame), command=int(wp.command), is_current=bool(wp.is_current),
        autocontinue=bool(wp.autocontinue), param1=float(wp.param1), param2=float(wp.param2),
        param3=float(wp.param3), param4=float(wp.param4), x_lat=float(wp.x_lat),
        y_long=float(wp.y_long), z_alt=float(wp.z_alt),
    )


def item_to_waypoint(item: MissionItem, *, is_current: bool | None = None) -> Waypoint:
    """Convert a MissionItem to a mavros_msgs/Waypoint."""
    return Waypoint(
        frame=item.frame, command=item.command,
        is_current=item.is_current if is_current is None else is_current,
        autocontinue=item.autocontinue, param1=item.param1, param2=item.param2,
        param3=item.param3, param4=item.param4, x_lat=item.x_lat, y_long=item.y_long,
        z_alt=item.z_alt,
    )


def items_to_waypoints(items: Sequence[MissionItem], current: int) -> list[Waypoint]:
    """Convert a mission, marking item ``current`` as the current one."""
    return [item_to_waypoint(it, is_current=i == current) for i, it in enumerate(items)]


def waypoints_to_items(waypoints: Iterable[Waypoint]) -> list[MissionItem]:
    """Convert a list of mavros_msgs/Waypoint."""
    return [waypoint_to_item(wp) for wp in waypoints]


def stamp_from_msg(msg: Any) -> float | None:
    """Return a message's header stamp in seconds, or None if it has no header."""
    header = getattr(msg, "header", None)
    if header is None:
        return None
    return float(header.stamp.sec) + float(header.stamp.nanosec) * 1e-9


def state_from_msg(msg: State) -> AutopilotState:
    """Decode mavros_msgs/State."""
    return AutopilotState(connected=bool(msg.connected), armed=bool(msg.armed),
                          mode=str(msg.mode))


def landed_from_msg(msg: ExtendedState) -> Landed:
    """Decode mavros_msgs/ExtendedState."""
    return Landed(landed_state(int(msg.landed_state)))


def battery_from_msg(msg: BatteryState) -> BatteryReading | Rejected:
    """Decode sensor_msgs/BatteryState (percentage 0..1, current negative discharging)."""
    return checked_battery(
        float(msg.percentage), float(msg.voltage), float(msg.current),
        charging=msg.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING)


def fix_position_from_msg(msg: NavSatFix) -> GeoPoint | None:
    """Return sensor_msgs/NavSatFix's position unchecked; None below STATUS_FIX ("no fix").

    For the recorder, whose table decides what it can store (a NaN altitude is a NULL there).
    """
    if msg.status.status < NavSatStatus.STATUS_FIX:
        return None
    return GeoPoint(float(msg.latitude), float(msg.longitude), float(msg.altitude))


def fix_from_msg(msg: NavSatFix) -> PositionFix | Rejected:
    """Decode sensor_msgs/NavSatFix; a status below STATUS_FIX is "no fix"."""
    point = fix_position_from_msg(msg)
    return PositionFix(None) if point is None else checked_fix(point)


def relative_altitude_from_msg(msg: Float64) -> RelativeAltitude | Rejected:
    """Decode global_position/rel_alt."""
    return checked_relative_altitude(float(msg.data))


def heading_from_msg(msg: Float64) -> Heading | Rejected:
    """Decode global_position/compass_hdg."""
    return checked_heading(float(msg.data))


def velocity_from_msg(msg: TwistStamped) -> Velocity | Rejected:
    """Decode local_position/velocity_local (ENU)."""
    lin = msg.twist.linear
    return checked_velocity(float(lin.x), float(lin.y), float(lin.z))


def home_from_msg(msg: HomePositionMsg) -> HomePosition | Rejected:
    """Decode mavros_msgs/HomePosition."""
    return checked_home(GeoPoint(float(msg.geo.latitude), float(msg.geo.longitude),
                                 float(msg.geo.altitude)))


def sensor_health_from_msg(msg: SysStatus) -> SensorHealth:
    """Decode mavros_msgs/SysStatus."""
    return SensorHealth.from_bits(int(msg.sensors_enabled), int(msg.sensors_health))


def estimator_health_from_msg(msg: EstimatorStatus) -> EstimatorHealth:
    """Decode mavros_msgs/EstimatorStatus."""
    return EstimatorHealth.from_flags(
        attitude=bool(msg.attitude_status_flag),
        velocity_horiz=bool(msg.velocity_horiz_status_flag),
        pos_horiz_abs=bool(msg.pos_horiz_abs_status_flag),
        gps_glitch=bool(msg.gps_glitch_status_flag))


def text_from_msg(msg: StatusText) -> AutopilotText:
    """Decode mavros_msgs/StatusText."""
    return AutopilotText(severity=int(msg.severity), text=str(msg.text))


def reached_from_msg(msg: WaypointReached) -> ItemReached:
    """Decode mavros_msgs/WaypointReached."""
    return ItemReached(int(msg.wp_seq))


TELEMETRY_DECODERS: Mapping[MavrosTopic, Callable[[Any], Telemetry | Rejected]] = \
    MappingProxyType({
        MavrosTopic.STATE: state_from_msg,
        MavrosTopic.EXTENDED_STATE: landed_from_msg,
        MavrosTopic.BATTERY: battery_from_msg,
        MavrosTopic.FIX: fix_from_msg,
        MavrosTopic.REL_ALT: relative_altitude_from_msg,
        MavrosTopic.HEADING: heading_from_msg,
        MavrosTopic.VELOCITY: velocity_from_msg,
        MavrosTopic.HOME: home_from_msg,
        MavrosTopic.SYS_STATUS: sensor_health_from_msg,
        MavrosTopic.ESTIMATOR_STATUS: estimator_health_from_msg,
        MavrosTopic.STATUS_TEXT: text_from_msg,
        MavrosTopic.REACHED: reached_from_msg,
    })
"""The vehicle telemetry the fleet picture is made of: MAVROS topic -> its decoder."""
