"""Endpoints made from the MAVROS catalogue carry MAVROS's types and QoS and talk to each other."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from fleet_core.mavros_topics import Durability, MavrosTopic, Reliability
from fleet_ros.graph import RosGraph
from fleet_ros.mavros_io import NO_EVENTS, advertise, message_class, subscribe
from fleet_ros.qos import MAVROS_TOPIC_QOS, mavros_qos

_RELIABILITY = {Reliability.RELIABLE: ReliabilityPolicy.RELIABLE,
                Reliability.BEST_EFFORT: ReliabilityPolicy.BEST_EFFORT}
_DURABILITY = {Durability.VOLATILE: DurabilityPolicy.VOLATILE,
               Durability.TRANSIENT_LOCAL: DurabilityPolicy.TRANSIENT_LOCAL}
"""Written out rather than derived by name, so that a wrong conversion cannot hide in both."""


@pytest.mark.parametrize("topic", list(MavrosTopic), ids=lambda t: t.value)
def test_every_catalogue_type_is_an_installed_message_class(topic: MavrosTopic) -> None:
    cls = message_class(topic.msgtype)
    assert f"{cls.__module__.split('.')[0]}/msg/{cls.__name__}" == topic.msgtype.value


@pytest.mark.parametrize("topic", list(MavrosTopic), ids=lambda t: t.value)
def test_every_rclpy_profile_is_the_catalogue_profile(topic: MavrosTopic) -> None:
    qos = mavros_qos(topic)
    assert (qos.depth, qos.reliability, qos.durability) == (
        topic.qos.depth, _RELIABILITY[topic.qos.reliability],
        _DURABILITY[topic.qos.durability])
    assert MAVROS_TOPIC_QOS[topic.value] is qos


@pytest.mark.parametrize("name", ["NavSatFix", "sensor_msgs/NavSatFix", "sensor_msgs/msg/",
                                  "no_such_pkg/msg/Thing", "std_msgs/msg/NoSuchType",
                                  "sensor_msgs/msg/a/b"])
def test_a_bad_type_name_is_refused_by_name(name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        message_class(name)


@pytest.mark.ros
def test_a_subscription_hears_a_publisher_made_from_the_catalogue(graph: RosGraph) -> None:
    node = graph.node("mavros_io_probe")
    heard: list[Any] = []
    subs = subscribe(node, "/io1/mavros", {MavrosTopic.REL_ALT: heard.append,
                                           MavrosTopic.STATE: heard.append})
    pubs = advertise(node, "/io1/mavros", [MavrosTopic.STATE, MavrosTopic.REL_ALT],
                     event_callbacks=NO_EVENTS)
    assert set(subs) == set(pubs) == {MavrosTopic.STATE, MavrosTopic.REL_ALT}
    assert pubs[MavrosTopic.STATE].topic_name == "/io1/mavros/state"
    # State is durable: a message published before discovery still arrives.
    pubs[MavrosTopic.STATE].publish(message_class(MavrosTopic.STATE.msgtype)(mode="AUTO.LOITER"))
    graph.wait_for(lambda: any(getattr(m, "mode", "") == "AUTO.LOITER" for m in heard), 5.0,
                   "the state message")
