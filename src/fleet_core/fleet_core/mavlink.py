"""MAVLink and MAVROS constants the fleet speaks, as plain Python (no ROS import)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class MavResult(IntEnum):
    """MAV_RESULT: the autopilot's answer to a command."""

    ACCEPTED = 0
    TEMPORARILY_REJECTED = 1
    DENIED = 2
    UNSUPPORTED = 3
    FAILED = 4
    IN_PROGRESS = 5


class MavCmd(IntEnum):
    """The MAV_CMD codes the fleet uses (mavros_msgs/CommandCode)."""

    NAV_WAYPOINT = 16
    NAV_LOITER_UNLIM = 17
    NAV_LOITER_TURNS = 18
    NAV_LOITER_TIME = 19
    NAV_RETURN_TO_LAUNCH = 20
    NAV_LAND = 21
    NAV_TAKEOFF = 22
    CONDITION_YAW = 115
    DO_SET_MODE = 176
    DO_JUMP = 177
    DO_CHANGE_SPEED = 178
    DO_SET_HOME = 179
    DO_REPOSITION = 192
    DO_PAUSE_CONTINUE = 193
    DO_SET_CAM_TRIGG_DIST = 206
    DO_FENCE_ENABLE = 207
    MISSION_START = 300
    COMPONENT_ARM_DISARM = 400


class MavFrame(IntEnum):
    """MAV_FRAME values that carry global coordinates."""

    GLOBAL = 0
    GLOBAL_REL_ALT = 3
    GLOBAL_INT = 5
    GLOBAL_RELATIVE_ALT_INT = 6


class LandedState(IntEnum):
    """MAV_LANDED_STATE (mavros_msgs/ExtendedState.landed_state)."""

    UNDEFINED = 0
    ON_GROUND = 1
    IN_AIR = 2
    TAKEOFF = 3
    LANDING = 4


class MavState(IntEnum):
    """MAV_STATE (mavros_msgs/State.system_status)."""

    UNINIT = 0
    BOOT = 1
    CALIBRATING = 2
    STANDBY = 3
    ACTIVE = 4
    CRITICAL = 5
    EMERGENCY = 6
    POWEROFF = 7
    FLIGHT_TERMINATION = 8


class MavSeverity(IntEnum):
    """MAV_SEVERITY (mavros_msgs/StatusText.severity)."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7


# MAV_SYS_STATUS_SENSOR bits used in SysStatus.sensors_*.
SENSOR_GYRO = 0x01
SENSOR_ACCEL = 0x02
SENSOR_MAG = 0x04
SENSOR_ABS_PRESSURE = 0x08
SENSOR_GPS = 0x20
SENSOR_MOTOR_OUTPUTS = 0x8000
SENSOR_BATTERY = 0x2000000
SENSORS_PRESENT = (
    SENSOR_GYRO | SENSOR_ACCEL | SENSOR_MAG | SENSOR_ABS_PRESSURE | SENSOR_GPS
    | SENSOR_MOTOR_OUTPUTS | SENSOR_BATTERY
)

# The param2 value that forces arming or disarming (PX4 and ArduPilot).
FORCE_ARM_MAGIC = 21196.0


class Px4Mode(StrEnum):
    """PX4 flight modes as MAVROS names them (State.mode, SetMode.custom_mode).

    A StrEnum: a mode compares equal to the string MAVROS sends.
    """

    MANUAL = "MANUAL"
    ACRO = "ACRO"
    ALTCTL = "ALTCTL"
    POSCTL = "POSCTL"
    OFFBOARD = "OFFBOARD"
    STABILIZED = "STABILIZED"
    RATTITUDE = "RATTITUDE"
    MISSION = "AUTO.MISSION"
    LOITER = "AUTO.LOITER"
    RTL = "AUTO.RTL"
    LAND = "AUTO.LAND"
    RTGS = "AUTO.RTGS"
    READY = "AUTO.READY"
    TAKEOFF = "AUTO.TAKEOFF"
    FOLLOW_TARGET = "AUTO.FOLLOW_TARGET"
    PRECLAND = "AUTO.PRECLAND"


PX4_MODES = tuple(m.value for m in Px4Mode)

# PX4 custom_mode encoding used by DO_SET_MODE: (main_mode, sub_mode) -> mode string.
PX4_CUSTOM_MODES: dict[tuple[int, int], str] = {
    (1, 0): "MANUAL",
    (2, 0): "ALTCTL",
    (3, 0): "POSCTL",
    (4, 1): "AUTO.READY",
    (4, 2): "AUTO.TAKEOFF",
    (4, 3): "AUTO.LOITER",
    (4, 4): "AUTO.MISSION",
    (4, 5): "AUTO.RTL",
    (4, 6): "AUTO.LAND",
    (4, 7): "AUTO.RTGS",
    (4, 8): "AUTO.FOLLOW_TARGET",
    (4, 9): "AUTO.PRECLAND",
    (5, 0): "ACRO",
    (6, 0): "OFFBOARD",
    (7, 0): "STABILIZED",
    (8, 0): "RATTITUDE",
}


@dataclass(frozen=True, slots=True)
class MissionItem:
    """One mission item as MAVROS carries it (mavros_msgs/Waypoint)."""

    frame: int
    command: int
    is_current: bool
    autocontinue: bool
    param1: float
    param2: float
    param3: float
    param4: float
    x_lat: float
    y_long: float
    z_alt: float
