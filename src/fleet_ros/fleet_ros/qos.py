"""rclpy QoS profiles: the MAVROS ones from fleet_core.mavros_topics, and the fleet's own.

The MAVROS profiles and which topic uses which are written once, ROS-free, in
:mod:`fleet_core.mavros_topics`; this module only turns them into ``QoSProfile`` objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from fleet_core import mavros_topics as catalogue
from fleet_core.mavros_topics import Durability, MavrosTopic, QosSpec, Reliability


def qos_profile(spec: QosSpec) -> QoSProfile:
    """Return a new rclpy profile for ``spec`` (KEEP_LAST history)."""
    # The catalogue's policies bear rmw's names, which rclpy's enums share.
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=spec.depth,
                      reliability=ReliabilityPolicy[spec.reliability.name],
                      durability=DurabilityPolicy[spec.durability.name])


SENSOR_QOS = qos_profile(catalogue.SENSOR)
"""Streams of samples: battery, positions, velocities, status texts."""

STATE_QOS = qos_profile(catalogue.STATE)
"""State a late joiner must get: state, extended_state, sys_status, home."""

LATCHED_QOS = qos_profile(catalogue.LATCHED)
"""The last value only: mission/waypoints, mission/reached."""

_PROFILES = {catalogue.SENSOR: SENSOR_QOS, catalogue.STATE: STATE_QOS,
             catalogue.LATCHED: LATCHED_QOS}

MAVROS_TOPIC_QOS: Mapping[str, QoSProfile] = MappingProxyType(
    {topic.value: _PROFILES[topic.qos] for topic in MavrosTopic})
"""Topic name relative to a vehicle's MAVROS prefix (or its MavrosTopic) -> profile."""


def mavros_qos(topic: MavrosTopic) -> QoSProfile:
    """Return the shared rclpy profile of a MAVROS topic."""
    return _PROFILES[topic.qos]


FLEET_QOS = qos_profile(QosSpec(10, Reliability.RELIABLE, Durability.TRANSIENT_LOCAL))
"""Fleet outputs (/fleet/status, /fleet/missions, ...): reliable, and a late dashboard or
recorder gets the last picture at once."""

EVENTS_QOS = qos_profile(QosSpec(100, Reliability.RELIABLE, Durability.TRANSIENT_LOCAL))
"""Fleet event streams: a late subscriber still gets the last 100 events."""

TELEMETRY_BATCH_QOS = qos_profile(QosSpec(100, Reliability.RELIABLE, Durability.TRANSIENT_LOCAL))
"""/fleet/telemetry: reliable, and the last 100 batches (10 s at 10 Hz) kept for a late joiner,
so a recorder restarted within that time stores what it missed (rows are unique per vehicle
and time, so what it already had is not stored twice)."""
TELEMETRY_LIVE_QOS = qos_profile(QosSpec(100, Reliability.RELIABLE, Durability.VOLATILE))
"""/fleet/telemetry read for the live picture (fleet_manager merge): matches the batches'
publishers, without their kept history (samples from before the reader started are stale)."""
