"""The fleet's own topics (``/fleet/...``), written once: name, message type and QoS.

fleet_manager and mission_planner publish them; the recorder, web_bridge and tools subscribe.
A subscriber whose profile does not match the publisher's hears nothing, so both sides take
type and profile from here (the MAVROS topics have their catalogue in
``fleet_core.mavros_topics``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription

from fleet_interfaces.msg import (
    ChargingQueue,
    ChargingSession,
    CoordinationEvent,
    FleetStatus,
    MissionEvent,
    MissionStatusArray,
    NoFlyZoneArray,
    TelemetryBatch,
)
from fleet_ros.qos import EVENTS_QOS, FLEET_QOS, TELEMETRY_BATCH_QOS


@dataclass(frozen=True)
class FleetTopic:
    """A fleet topic: its name, its message class and the profile publisher and readers use."""

    name: str
    msg_type: Any
    qos: QoSProfile

    def __hash__(self) -> int:  # QoSProfile is not hashable; the name is unique
        return hash(self.name)


FLEET_STATUS = FleetTopic("/fleet/status", FleetStatus, FLEET_QOS)
"""fleet_manager's picture of every vehicle, at its status rate."""
COORDINATION_EVENTS = FleetTopic("/fleet/events", CoordinationEvent, EVENTS_QOS)
MISSIONS = FleetTopic("/fleet/missions", MissionStatusArray, FLEET_QOS)
"""Every mission the planner knows, at its tick rate."""
MISSION_EVENTS = FleetTopic("/fleet/mission_events", MissionEvent, EVENTS_QOS)
NO_FLY_ZONES = FleetTopic("/fleet/no_fly_zones", NoFlyZoneArray, FLEET_QOS)
"""The zones in force."""
CHARGING_SESSIONS = FleetTopic("/fleet/charging_sessions", ChargingSession, EVENTS_QOS)
CHARGING_QUEUE = FleetTopic("/fleet/charging_queue", ChargingQueue, FLEET_QOS)
TELEMETRY = FleetTopic("/fleet/telemetry", TelemetryBatch, TELEMETRY_BATCH_QOS)
"""The telemetry fleet_manager accepted, batched per tick (fleet_ros.telemetry_batch)."""


def subscribe_fleet(node: Node, callbacks: Mapping[FleetTopic, Callable[[Any], None]]
                    ) -> dict[FleetTopic, Subscription[Any]]:
    """Subscribe to each fleet topic with its callback, on the topic's own type and profile."""
    return {topic: node.create_subscription(topic.msg_type, topic.name, callback, topic.qos)
            for topic, callback in callbacks.items()}
