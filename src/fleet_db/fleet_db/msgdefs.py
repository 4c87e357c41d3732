"""The rosbags type store for the MAVROS topics the project records, without ROS installed.

Standard types (sensor_msgs, std_msgs, geometry_msgs) come from rosbags' ROS 2 Kilted store,
the distro of the project's wheels. The mavros_msgs types are registered from the
definitions below, copied field for field from src/compat/mavros_msgs/msg (themselves
hash-identical to upstream MAVROS 2.x): a bag then carries the same message definitions and
RIHS01 hashes as one recorded by ``ros2 bag record`` next to MAVROS. Constants are kept too,
so the definitions stored in a bag read like the upstream files.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from functools import cache

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from fleet_core.mavlink import LandedState, MavSeverity
from fleet_core.mavros_topics import MsgType

STORE = Stores.ROS2_KILTED

STRING = "std_msgs/msg/String"


class VtolState(IntEnum):
    """MAV_VTOL_STATE (mavros_msgs/ExtendedState.vtol_state); the fleet flies multirotors."""

    UNDEFINED = 0
    TRANSITION_TO_FW = 1
    TRANSITION_TO_MC = 2
    MC = 3
    FW = 4


def _constants(members: Iterable[IntEnum], prefix: str = "") -> str:
    """Return the .msg lines ``uint8 <prefix><NAME> = <value>`` of enum members."""
    return "".join(f"uint8 {prefix}{m.name} = {m.value}\n" for m in members)


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

# The constants are the values fleet_core.mavlink names; a test compares every line with
# src/compat/mavros_msgs/msg, so a renamed member cannot drift unnoticed.
EXTENDED_STATE_MSG = f"""\
{_constants(VtolState, "VTOL_STATE_")}
{_constants(LandedState, "LANDED_STATE_")}
std_msgs/Header header
uint8 vtol_state
uint8 landed_state
"""

STATUS_TEXT_MSG = f"""\
{_constants(MavSeverity)}
std_msgs/Header header
uint8 severity
string text
"""

MAVROS_DEFINITIONS: dict[str, str] = {
    MsgType.STATE.value: STATE_MSG,
    MsgType.EXTENDED_STATE.value: EXTENDED_STATE_MSG,
    MsgType.STATUS_TEXT.value: STATUS_TEXT_MSG,
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
