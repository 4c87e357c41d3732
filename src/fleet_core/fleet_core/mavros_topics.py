"""The MAVROS topics of a vehicle, written once: name under its prefix, message type, QoS.

A reliable subscriber never matches a best-effort publisher and a transient-local subscriber
never matches a volatile one, so every publisher, subscriber, bag and replay of a MAVROS topic
takes its type and profile from here (shared/docs/mavros-interfaces.md). ROS-free on purpose:
fleet_ros turns a :class:`QosSpec` into an rclpy ``QoSProfile`` and a :class:`MsgType` into a
message class (``fleet_ros.mavros_io``); fleet_db turns them into a bag's offered QoS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType


class Reliability(Enum):
    """DDS reliability of a profile; member names are rmw's, as rclpy and rosbags spell them."""

    RELIABLE = "reliable"
    BEST_EFFORT = "best_effort"


class Durability(Enum):
    """DDS durability of a profile (whether a late joiner gets the history); rmw's names."""

    VOLATILE = "volatile"
    TRANSIENT_LOCAL = "transient_local"


@dataclass(frozen=True, slots=True)
class QosSpec:
    """A QoS profile with KEEP_LAST history, as plain values."""

    depth: int
    reliability: Reliability
    durability: Durability

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"QoS depth must be at least 1, got {self.depth}")


SENSOR = QosSpec(5, Reliability.BEST_EFFORT, Durability.VOLATILE)
"""Streams of samples: battery, positions, velocities, status texts."""

STATE = QosSpec(10, Reliability.RELIABLE, Durability.TRANSIENT_LOCAL)
"""State a late joiner must get: state, extended_state, sys_status, home."""

LATCHED = QosSpec(1, Reliability.RELIABLE, Durability.TRANSIENT_LOCAL)
"""The last value only: mission/waypoints, mission/reached."""


class MsgType(StrEnum):
    """The ROS 2 type names (``package/msg/Name``) of the MAVROS topics."""

    STATE = "mavros_msgs/msg/State"
    EXTENDED_STATE = "mavros_msgs/msg/ExtendedState"
    SYS_STATUS = "mavros_msgs/msg/SysStatus"
    ESTIMATOR_STATUS = "mavros_msgs/msg/EstimatorStatus"
    STATUS_TEXT = "mavros_msgs/msg/StatusText"
    HOME_POSITION = "mavros_msgs/msg/HomePosition"
    WAYPOINT_LIST = "mavros_msgs/msg/WaypointList"
    WAYPOINT_REACHED = "mavros_msgs/msg/WaypointReached"
    BATTERY_STATE = "sensor_msgs/msg/BatteryState"
    NAV_SAT_FIX = "sensor_msgs/msg/NavSatFix"
    FLOAT64 = "std_msgs/msg/Float64"
    ODOMETRY = "nav_msgs/msg/Odometry"
    POSE_STAMPED = "geometry_msgs/msg/PoseStamped"
    TWIST_STAMPED = "geometry_msgs/msg/TwistStamped"


class MavrosTopic(StrEnum):
    """A MAVROS topic; its value is its name relative to the vehicle's MAVROS prefix."""

    STATE = "state"
    EXTENDED_STATE = "extended_state"
    SYS_STATUS = "sys_status"
    ESTIMATOR_STATUS = "estimator_status"
    BATTERY = "battery"
    STATUS_TEXT = "statustext/recv"
    FIX = "global_position/global"
    REL_ALT = "global_position/rel_alt"
    HEADING = "global_position/compass_hdg"
    GLOBAL_ODOMETRY = "global_position/local"
    LOCAL_POSE = "local_position/pose"
    VELOCITY = "local_position/velocity_local"
    HOME = "home_position/home"
    WAYPOINTS = "mission/waypoints"
    REACHED = "mission/reached"

    @property
    def msgtype(self) -> MsgType:
        """The topic's message type."""
        return CATALOGUE[self].msgtype

    @property
    def qos(self) -> QosSpec:
        """The profile MAVROS publishes the topic with (and subscribers must ask for)."""
        return CATALOGUE[self].qos

    def under(self, prefix: str) -> str:
        """Return the topic's full name under a MAVROS prefix such as ``/uav3/mavros``."""
        return f"{prefix.rstrip('/')}/{self.value}"


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """What a MAVROS topic carries and how it is offered."""

    msgtype: MsgType
    qos: QosSpec


CATALOGUE: Mapping[MavrosTopic, CatalogueEntry] = MappingProxyType({
    MavrosTopic.STATE: CatalogueEntry(MsgType.STATE, STATE),
    MavrosTopic.EXTENDED_STATE: CatalogueEntry(MsgType.EXTENDED_STATE, STATE),
    MavrosTopic.SYS_STATUS: CatalogueEntry(MsgType.SYS_STATUS, STATE),
    MavrosTopic.ESTIMATOR_STATUS: CatalogueEntry(MsgType.ESTIMATOR_STATUS, STATE),
    MavrosTopic.BATTERY: CatalogueEntry(MsgType.BATTERY_STATE, SENSOR),
    MavrosTopic.STATUS_TEXT: CatalogueEntry(MsgType.STATUS_TEXT, SENSOR),
    MavrosTopic.FIX: CatalogueEntry(MsgType.NAV_SAT_FIX, SENSOR),
    MavrosTopic.REL_ALT: CatalogueEntry(MsgType.FLOAT64, SENSOR),
    MavrosTopic.HEADING: CatalogueEntry(MsgType.FLOAT64, SENSOR),
    MavrosTopic.GLOBAL_ODOMETRY: CatalogueEntry(MsgType.ODOMETRY, SENSOR),
    MavrosTopic.LOCAL_POSE: CatalogueEntry(MsgType.POSE_STAMPED, SENSOR),
    MavrosTopic.VELOCITY: CatalogueEntry(MsgType.TWIST_STAMPED, SENSOR),
    MavrosTopic.HOME: CatalogueEntry(MsgType.HOME_POSITION, STATE),
    MavrosTopic.WAYPOINTS: CatalogueEntry(MsgType.WAYPOINT_LIST, LATCHED),
    MavrosTopic.REACHED: CatalogueEntry(MsgType.WAYPOINT_REACHED, LATCHED),
})
"""Every MAVROS topic the fleet publishes or subscribes to, with its type and profile."""

if set(CATALOGUE) != set(MavrosTopic):  # pragma: no cover - caught at import, in every test
    raise RuntimeError(f"MAVROS topics without a catalogue entry: "
                       f"{sorted(set(MavrosTopic) - set(CATALOGUE))}")
