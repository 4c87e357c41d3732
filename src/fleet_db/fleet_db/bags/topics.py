"""The topics of a bag: MAVROS's, named and typed by fleet_core.mavros_topics, and the mission.

Names are relative to the vehicle's namespace (``mavros/state`` under ``/uav3``); the offered
QoS is MAVROS's profile in rosbags' terms, as ``ros2 bag record`` stores it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)

from fleet_core.mavros_topics import LATCHED, MavrosTopic, QosSpec
from fleet_db import msgdefs

# rmw's "infinite" duration (RMW_DURATION_INFINITE, INT64_MAX ns) as ros2 bag records it.
_INFINITE = QosTime(sec=9223372036, nsec=854775807)


def offered_qos(spec: QosSpec) -> Qos:
    """Return ``spec`` as the offered QoS profile a bag records for a topic."""
    # The catalogue's policies bear rmw's names, which rosbags' enums share.
    return Qos(history=QosHistory.KEEP_LAST, depth=spec.depth,
               reliability=QosReliability[spec.reliability.name],
               durability=QosDurability[spec.durability.name], deadline=_INFINITE,
               lifespan=_INFINITE, liveliness=QosLiveliness.AUTOMATIC,
               liveliness_lease_duration=_INFINITE, avoid_ros_namespace_conventions=False)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A per-vehicle topic of a bag: name relative to the vehicle, type, offered QoS."""

    suffix: str
    msgtype: str
    qos: Qos

    def topic(self, vehicle_id: str) -> str:
        """Return the absolute topic name for ``vehicle_id`` ("" = no vehicle namespace)."""
        return f"/{vehicle_id}/{self.suffix}" if vehicle_id else f"/{self.suffix}"


def _mavros(topic: MavrosTopic) -> TopicSpec:
    # A plain str type name: rosbags writes it into metadata.yaml, which takes no StrEnum.
    return TopicSpec(f"mavros/{topic.value}", topic.msgtype.value, offered_qos(topic.qos))


FIX = _mavros(MavrosTopic.FIX)
REL_ALT = _mavros(MavrosTopic.REL_ALT)
HEADING = _mavros(MavrosTopic.HEADING)
VELOCITY = _mavros(MavrosTopic.VELOCITY)
BATTERY = _mavros(MavrosTopic.BATTERY)
STATE = _mavros(MavrosTopic.STATE)
EXTENDED_STATE = _mavros(MavrosTopic.EXTENDED_STATE)
# MAVROS has no topic for the mission a row belongs to; latched like MAVROS's mission topics.
MISSION = TopicSpec("fleet/mission_id", msgdefs.STRING, offered_qos(LATCHED))

TOPICS: tuple[TopicSpec, ...] = (MISSION, REL_ALT, HEADING, VELOCITY, BATTERY, STATE,
                                 EXTENDED_STATE, FIX)
"""Every topic of an exported bag, in the order a sample's messages are written (fix last)."""

_BY_SUFFIX = {spec.suffix: spec for spec in TOPICS}
_TOPIC_RE = re.compile(
    "^/?(?:(?P<vehicle>.+?)/)?(?P<suffix>"
    + "|".join(re.escape(spec.suffix) for spec in TOPICS) + ")$")


def parse_topic(topic: str) -> tuple[str, TopicSpec] | None:
    """Split ``/<vehicle>/mavros/...`` into (vehicle id, spec); None for any other topic."""
    match = _TOPIC_RE.match(topic)
    if match is None:
        return None
    return match["vehicle"] or "", _BY_SUFFIX[match["suffix"]]
