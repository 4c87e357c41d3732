"""The wire form (CDR) of the five MAVROS messages that make up most of the traffic.

At 1,000 vehicles the position-rate topics (global_position/global, rel_alt, compass_hdg,
local_position/pose, velocity_local) are ~25,000 messages a second. rclpy turns each into a
Python message object and back (measured here: 62 us per typed message received against 25 us
raw), so the simulator publishes these as serialized bytes and fleet_manager subscribes to
them raw and reads only the fields it needs, with the layouts below.

The layouts are facts of the ROS 2 type definitions (std_msgs/Header, sensor_msgs/NavSatFix,
std_msgs/Float64, geometry_msgs/PoseStamped, geometry_msgs/TwistStamped) encoded as plain
little-endian CDR (XCDR1), as rmw_fastrtps_cpp writes them: a 4-byte encapsulation header,
then each field aligned to its own size counted from the end of that header. The only
variable-length field is the header's frame_id, so each layout is a ``struct.Struct`` per
frame_id length, cached. tests/fleet_ros/test_cdr.py checks every layout against rclpy's own
serializer both ways.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import cache
from typing import Any

ENCAPSULATION = b"\x00\x01\x00\x00"  # CDR, little endian, no options
_SIZES = {"b": 1, "B": 1, "H": 2, "i": 4, "I": 4, "d": 8}
_HEADER_END = 12  # stamp.sec, stamp.nanosec, the frame_id string's length


class CdrError(ValueError):
    """Bytes that are not the expected message's CDR form."""


@cache
def _header_layout(name_len: int, fields: tuple[str, ...]) -> struct.Struct:
    """Return the layout of a stamped message whose frame_id has ``name_len`` bytes
    (terminating NUL included) followed by ``fields`` (struct codes such as ``"d"``,
    ``"9d"``)."""
    fmt = ["<4siII", f"{name_len}s"]
    pos = _HEADER_END + name_len
    for field in fields:
        code = field[-1]
        size = _SIZES[code]
        pad = -pos % size
        if pad:
            fmt.append(f"{pad}x")
        count = int(field[:-1] or 1)
        fmt.append(field)
        pos += pad + size * count
    return struct.Struct("".join(fmt))


class StampedCodec:
    """Packs and unpacks one stamped message type: header, then fixed-size fields."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)

    def packer(self, frame_id: str) -> _Packer:
        """Return a packer for messages with this frame_id (the simulator's are constant)."""
        name = frame_id.encode() + b"\0"
        return _Packer(_header_layout(len(name), self.fields), name)

    def unpack(self, data: bytes) -> tuple[Any, ...]:
        """Return (sec, nanosec, *fields) of a serialized message; the frame_id is skipped.

        Raises CdrError when the bytes are not this message's CDR form.
        """
        if len(data) < 16 or data[:2] != b"\x00\x01":
            raise CdrError(f"not little-endian CDR ({len(data)} bytes, "
                           f"encapsulation {data[:4].hex()})")
        (name_len,) = _U32.unpack_from(data, 12)
        if name_len > len(data):
            raise CdrError(f"frame_id length {name_len} beyond the {len(data)}-byte message")
        layout = _header_layout(name_len, self.fields)
        if len(data) < layout.size:
            raise CdrError(f"{len(data)} bytes, expected {layout.size}")
        values = layout.unpack_from(data)
        return (values[1], values[2], *values[5:])


class _Packer:
    __slots__ = ("_layout", "_name")

    def __init__(self, layout: struct.Struct, name: bytes) -> None:
        self._layout = layout
        self._name = name

    def pack(self, sec: int, nanosec: int, *values: float | int) -> bytes:
        """Return the serialized message (values in field order, arrays flattened)."""
        return self._layout.pack(ENCAPSULATION, sec, nanosec, len(self._name), self._name,
                                 *values)


_U32 = struct.Struct("<I")
_FLOAT64 = struct.Struct("<4sd")

NAV_SAT_FIX = StampedCodec(["b", "H", "d", "d", "d", "9d", "B"])
"""sensor_msgs/NavSatFix: status.status, status.service, latitude, longitude, altitude,
position_covariance[9], position_covariance_type."""

POSE_STAMPED = StampedCodec(["d", "d", "d", "d", "d", "d", "d"])
"""geometry_msgs/PoseStamped: position x y z, orientation x y z w."""

TWIST_STAMPED = StampedCodec(["d", "d", "d", "d", "d", "d"])
"""geometry_msgs/TwistStamped: linear x y z, angular x y z."""


def pack_float64(value: float) -> bytes:
    """Return a serialized std_msgs/Float64."""
    return _FLOAT64.pack(ENCAPSULATION, value)


def unpack_float64(data: bytes) -> float:
    """Return the value of a serialized std_msgs/Float64."""
    if len(data) != _FLOAT64.size or data[:2] != b"\x00\x01":
        raise CdrError(f"not a little-endian CDR std_msgs/Float64 ({len(data)} bytes)")
    return float(_FLOAT64.unpack(data)[1])
