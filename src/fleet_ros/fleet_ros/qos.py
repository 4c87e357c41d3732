"""QoS profiles of the MAVROS topics (shared/docs/mavros-interfaces.md), named once.

A reliable subscriber never matches a best-effort publisher and a transient-local subscriber
never matches a volatile one, so every publisher and subscriber of a MAVROS topic takes its
profile from here.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

SENSOR_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=5,
    reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE,
)
"""Streams of samples: battery, positions, velocities, status texts."""

STATE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
"""State a late joiner must get: state, extended_state, sys_status, home."""

LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
"""The last value only: mission/waypoints, mission/reached."""

# Topic name -> profile, relative to a vehicle's MAVROS prefix.
MAVROS_TOPIC_QOS: dict[str, QoSProfile] = {
    "state": STATE_QOS,
    "extended_state": STATE_QOS,
    "sys_status": STATE_QOS,
    "estimator_status": STATE_QOS,
    "battery": SENSOR_QOS,
    "statustext/recv": SENSOR_QOS,
    "global_position/global": SENSOR_QOS,
    "global_position/rel_alt": SENSOR_QOS,
    "global_position/compass_hdg": SENSOR_QOS,
    "global_position/local": SENSOR_QOS,
    "local_position/pose": SENSOR_QOS,
    "local_position/velocity_local": SENSOR_QOS,
    "home_position/home": STATE_QOS,
    "mission/waypoints": LATCHED_QOS,
    "mission/reached": LATCHED_QOS,
}

FLEET_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
"""Fleet outputs (/fleet/status, /fleet/missions, ...): reliable, and a late dashboard or
recorder gets the last picture at once."""

EVENTS_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=100,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
"""Fleet event streams: a late subscriber still gets the last 100 events."""
