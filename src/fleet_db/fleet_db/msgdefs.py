"""The rosbags type store for the MAVROS topics the project records, without ROS installed.

Standard types (sensor_msgs, std_msgs, geometry_msgs) come from rosbags' ROS 2 Kilted store,
the distro of the project's wheels. The mavros_msgs types are registered from the
definitions below, copied field for field from src/compat/mavros_msgs/msg (themselves
hash-identical to upstream MAVROS 2.x): a bag then carries the same message definitions and
RIHS01 hashes as one recorded by ``ros2 bag record`` next to MAVROS. Constants are kept too,
so the definitions stored in a bag read like the upstream files.
"""

from __future__ import annotations

from functools import cache

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

STORE = Stores.ROS2_KILTED

NAV_SAT_FIX = "sensor_msgs/msg/NavSatFix"
BATTERY_STATE = "sensor_msgs/msg/BatteryState"
FLOAT64 = "std_msgs/msg/Float64"
STRING = "std_msgs/msg/String"
TWIST_STAMPED = "geometry_msgs/msg/TwistStamped"
MAVROS_STATE = "mavros_msgs/msg/State"
MAVROS_EXTENDED_STATE = "mavros_msgs/msg/ExtendedState"
MAVROS_STATUS_TEXT = "mavros_msgs/msg/StatusText"

STATE_MSG = """\
std_msgs/Header header
bool connected
bool armed
bool guided
bool manual_input
string mode
uint8 system_status

string MODE_PX4_MANUAL=MANUAL
string MODE_PX4_ACRO=ACRO
string MODE_PX4_ALTITUDE=ALTCTL
string MODE_PX4_POSITION=POSCTL
string MODE_PX4_OFFBOARD=OFFBOARD
string MODE_PX4_STABILIZED=STABILIZED
string MODE_PX4_RATTITUDE=RATTITUDE
string MODE_PX4_MISSION=AUTO.MISSION
string MODE_PX4_LOITER=AUTO.LOITER
string MODE_PX4_RTL=AUTO.RTL
string MODE_PX4_LAND=AUTO.LAND
string MODE_PX4_RTGS=AUTO.RTGS
string MODE_PX4_READY=AUTO.READY
string MODE_PX4_TAKEOFF=AUTO.TAKEOFF
"""

EXTENDED_STATE_MSG = """\
uint8 VTOL_STATE_UNDEFINED = 0
uint8 VTOL_STATE_TRANSITION_TO_FW = 1
uint8 VTOL_STATE_TRANSITION_TO_MC = 2
uint8 VTOL_STATE_MC = 3
uint8 VTOL_STATE_FW = 4

uint8 LANDED_STATE_UNDEFINED = 0
uint8 LANDED_STATE_ON_GROUND = 1
uint8 LANDED_STATE_IN_AIR = 2
uint8 LANDED_STATE_TAKEOFF = 3
uint8 LANDED_STATE_LANDING = 4

std_msgs/Header header
uint8 vtol_state
uint8 landed_state
"""

STATUS_TEXT_MSG = """\
uint8 EMERGENCY = 0
uint8 ALERT = 1
uint8 CRITICAL = 2
uint8 ERROR = 3
uint8 WARNING = 4
uint8 NOTICE = 5
uint8 INFO = 6
uint8 DEBUG = 7

std_msgs/Header header
uint8 severity
string text
"""

MAVROS_DEFINITIONS: dict[str, str] = {
    MAVROS_STATE: STATE_MSG,
    MAVROS_EXTENDED_STATE: EXTENDED_STATE_MSG,
    MAVROS_STATUS_TEXT: STATUS_TEXT_MSG,
}
"""Type name -> .msg text of the mavros_msgs types a bag of ours may hold."""


def make_typestore() -> Typestore:
    """Return a new type store: ROS 2 Kilted plus the mavros_msgs types above."""
    store = get_typestore(STORE)
    for name, text in MAVROS_DEFINITIONS.items():
        store.register(get_types_from_msg(text, name))
    return store


@cache
def typestore() -> Typestore:
    """Return the shared type store. Read-only by convention: register nothing in it."""
    return make_typestore()
