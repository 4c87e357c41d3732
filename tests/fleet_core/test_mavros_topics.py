"""The MAVROS catalogue names every topic once, with MAVROS's types and QoS."""

from __future__ import annotations

import pytest

from fleet_core.mavros_topics import (
    CATALOGUE,
    LATCHED,
    SENSOR,
    STATE,
    Durability,
    MavrosTopic,
    MsgType,
    QosSpec,
    Reliability,
)

# What MAVROS publishes (shared/docs/mavros-interfaces.md), written out here rather than
# read from the catalogue, so that a wrong entry there cannot hide in both.
_EXPECTED = {
    "state": ("mavros_msgs/msg/State", "STATE"),
    "extended_state": ("mavros_msgs/msg/ExtendedState", "STATE"),
    "sys_status": ("mavros_msgs/msg/SysStatus", "STATE"),
    "estimator_status": ("mavros_msgs/msg/EstimatorStatus", "STATE"),
    "battery": ("sensor_msgs/msg/BatteryState", "SENSOR"),
    "statustext/recv": ("mavros_msgs/msg/StatusText", "SENSOR"),
    "global_position/global": ("sensor_msgs/msg/NavSatFix", "SENSOR"),
    "global_position/rel_alt": ("std_msgs/msg/Float64", "SENSOR"),
    "global_position/compass_hdg": ("std_msgs/msg/Float64", "SENSOR"),
    "global_position/local": ("nav_msgs/msg/Odometry", "SENSOR"),
    "local_position/pose": ("geometry_msgs/msg/PoseStamped", "SENSOR"),
    "local_position/velocity_local": ("geometry_msgs/msg/TwistStamped", "SENSOR"),
    "home_position/home": ("mavros_msgs/msg/HomePosition", "STATE"),
    "mission/waypoints": ("mavros_msgs/msg/WaypointList", "LATCHED"),
    "mission/reached": ("mavros_msgs/msg/WaypointReached", "LATCHED"),
}
_PROFILES = {"SENSOR": SENSOR, "STATE": STATE, "LATCHED": LATCHED}


def test_every_topic_has_mavros_type_and_profile() -> None:
    got = {t.value: (t.msgtype.value, t.qos) for t in MavrosTopic}
    assert got == {name: (msgtype, _PROFILES[kind])
                   for name, (msgtype, kind) in _EXPECTED.items()}


def test_the_catalogue_has_one_entry_per_topic() -> None:
    assert set(CATALOGUE) == set(MavrosTopic)


def test_sensor_streams_are_best_effort_and_volatile_while_state_is_reliable_and_durable(
        ) -> None:
    assert (SENSOR.depth, SENSOR.reliability, SENSOR.durability) == (
        5, Reliability.BEST_EFFORT, Durability.VOLATILE)
    assert (STATE.depth, STATE.reliability, STATE.durability) == (
        10, Reliability.RELIABLE, Durability.TRANSIENT_LOCAL)
    assert (LATCHED.depth, LATCHED.reliability, LATCHED.durability) == (
        1, Reliability.RELIABLE, Durability.TRANSIENT_LOCAL)


@pytest.mark.parametrize("prefix", ["/uav3/mavros", "/uav3/mavros/"])
def test_a_topic_under_a_prefix_is_its_full_name(prefix: str) -> None:
    assert MavrosTopic.FIX.under(prefix) == "/uav3/mavros/global_position/global"


def test_a_topic_is_found_by_its_relative_name() -> None:
    assert MavrosTopic("statustext/recv") is MavrosTopic.STATUS_TEXT


def test_every_message_type_is_a_ros2_type_name() -> None:
    for msgtype in MsgType:
        package, middle, name = msgtype.value.split("/")
        assert (middle, name[:1].isupper(), bool(package)) == ("msg", True, True), msgtype


def test_a_profile_without_history_is_refused() -> None:
    with pytest.raises(ValueError, match="depth must be at least 1, got 0"):
        QosSpec(0, Reliability.RELIABLE, Durability.VOLATILE)
