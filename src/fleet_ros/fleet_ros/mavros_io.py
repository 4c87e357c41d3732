"""A vehicle's MAVROS publishers and subscriptions, made from fleet_core.mavros_topics.

The catalogue says which type and profile a topic has; this module is the one place that
turns a type name into its rclpy message class and creates the endpoints, so that no node
writes a MAVROS topic's type or QoS by hand.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from rclpy.event_handler import PublisherEventCallbacks
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.subscription import Subscription

from fleet_core.mavros_topics import MavrosTopic
from fleet_ros.qos import mavros_qos

NO_EVENTS = PublisherEventCallbacks(use_default_callbacks=False)
"""Publisher event callbacks that install no QoS event handlers. rclpy adds each handler to
the executor's wait set on every spin, which at 500 vehicles x 14 topics costs more than the
simulation itself; QoS mismatches still show up on the subscriber's side."""


@cache
def message_class(msgtype: str) -> Any:
    """Return the rclpy message class of a type name such as ``sensor_msgs/msg/NavSatFix``."""
    package, sep, name = msgtype.partition("/msg/")
    if not (sep and package and name) or "/" in name:
        raise ValueError(f"{msgtype!r} is not a message type name (package/msg/Name)")
    try:
        module = importlib.import_module(f"{package}.msg")
    except ImportError as exc:
        raise ValueError(f"message type {msgtype!r}: package {package!r} is not "
                         f"installed") from exc
    cls = getattr(module, name, None)
    if cls is None:
        raise ValueError(f"message type {msgtype!r}: {package}.msg has no {name}")
    return cls


def advertise(node: Node, prefix: str, topics: Iterable[MavrosTopic], *,
              event_callbacks: PublisherEventCallbacks | None = None
              ) -> dict[MavrosTopic, Publisher[Any]]:
    """Create a publisher per topic under ``prefix`` (e.g. ``/uav3/mavros``), as MAVROS would.

    Pass ``event_callbacks=NO_EVENTS`` where many vehicles share one node (see NO_EVENTS).
    """
    return {topic: node.create_publisher(message_class(topic.msgtype), topic.under(prefix),
                                         mavros_qos(topic), event_callbacks=event_callbacks)
            for topic in topics}


def subscribe(node: Node, prefix: str, callbacks: Mapping[MavrosTopic, Callable[[Any], None]],
              *, raw: bool = False) -> dict[MavrosTopic, Subscription[Any]]:
    """Subscribe to each topic under ``prefix`` with its callback and MAVROS's profile.

    With ``raw``, the callbacks get the serialized bytes (see fleet_ros.mavros_raw).
    """
    return {topic: node.create_subscription(message_class(topic.msgtype), topic.under(prefix),
                                            callback, mavros_qos(topic), raw=raw)
            for topic, callback in callbacks.items()}
