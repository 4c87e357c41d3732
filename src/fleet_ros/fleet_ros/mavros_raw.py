"""Decoders of serialized MAVROS messages, for subscriptions made with ``raw=True``.

fleet_manager receives every vehicle's telemetry: ~26 messages a second per vehicle. A raw
subscription hands over the CDR bytes; the position-rate topics are read here with the
layouts of :mod:`fleet_ros.cdr` (the fields needed, no message object), and the rest, at
heartbeat rate, are deserialized by rclpy and go through the typed decoders of
:mod:`fleet_ros.mavros_convert`, so that each topic still has exactly one meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from rclpy.serialization import deserialize_message
from sensor_msgs.msg import NavSatStatus

from fleet_core.fleet.model import RejectReason
from fleet_core.fleet.telemetry import (
    PositionFix,
    Rejected,
    Telemetry,
    checked_fix,
    checked_heading,
    checked_relative_altitude,
    checked_velocity,
)
from fleet_core.geo import GeoPoint
from fleet_core.mavros_topics import MavrosTopic
from fleet_ros import cdr
from fleet_ros.mavros_convert import TELEMETRY_DECODERS, stamp_from_msg
from fleet_ros.mavros_io import message_class

Decoded = tuple[float | None, Telemetry | Rejected]
"""A sample's header stamp (POSIX seconds; None for headerless topics) and its value."""

RawDecoder = Callable[[bytes], Decoded]


def _fix(data: bytes) -> Decoded:
    sec, nanosec, status, _service, lat, lon, alt, *_ = cdr.NAV_SAT_FIX.unpack(data)
    stamp = float(sec) + float(nanosec) * 1e-9
    if status < NavSatStatus.STATUS_FIX:
        return stamp, PositionFix(None)
    return stamp, checked_fix(GeoPoint(lat, lon, alt))


def _rel_alt(data: bytes) -> Decoded:
    return None, checked_relative_altitude(cdr.unpack_float64(data))


def _heading(data: bytes) -> Decoded:
    return None, checked_heading(cdr.unpack_float64(data))


def _velocity(data: bytes) -> Decoded:
    sec, nanosec, east, north, up, *_ = cdr.TWIST_STAMPED.unpack(data)
    return (float(sec) + float(nanosec) * 1e-9,
            checked_velocity(east, north, up))


_FAST: Mapping[MavrosTopic, RawDecoder] = {
    MavrosTopic.FIX: _fix,
    MavrosTopic.REL_ALT: _rel_alt,
    MavrosTopic.HEADING: _heading,
    MavrosTopic.VELOCITY: _velocity,
}


def _typed(topic: MavrosTopic) -> RawDecoder:
    cls = message_class(topic.msgtype)
    decode = TELEMETRY_DECODERS[topic]

    def decoder(data: bytes) -> Decoded:
        msg: Any = deserialize_message(data, cls)
        return stamp_from_msg(msg), decode(msg)
    return decoder


def _refusing(decode: RawDecoder, topic: MavrosTopic) -> RawDecoder:
    """Turn bytes that are not the topic's message into a Rejected naming the topic."""
    def decoder(data: bytes) -> Decoded:
        try:
            return decode(data)
        except (cdr.CdrError, TypeError, ValueError, RuntimeError) as exc:
            # RuntimeError: rclpy's RMWError for bytes Fast CDR cannot read.
            return None, Rejected(RejectReason.MALFORMED,
                                  f"{topic.value}: malformed message: {exc}")
    return decoder


RAW_DECODERS: Mapping[MavrosTopic, RawDecoder] = MappingProxyType({
    topic: _refusing(_FAST.get(topic) or _typed(topic), topic) for topic in TELEMETRY_DECODERS})
"""The fleet picture's topics (as TELEMETRY_DECODERS) -> decoder of their serialized form."""
