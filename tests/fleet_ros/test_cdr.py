"""The hand-made CDR layouts agree with rclpy's serializer both ways."""

from __future__ import annotations

import math

import pytest
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import NavSatFix
from std_msgs.msg import Float64

from fleet_ros import cdr

FRAMES = ["", "a", "ab", "abc", "map", "base_link", "a_much_longer_frame_name_17"]


@pytest.mark.parametrize("frame", FRAMES)
def test_a_packed_fix_reads_back_in_rclpy_with_every_field(frame: str) -> None:
    cov = [float(k) for k in range(9)]
    data = cdr.NAV_SAT_FIX.packer(frame).pack(17, 999, 2, 1, 47.5, 8.25, 512.5, *cov, 3)
    msg = deserialize_message(data, NavSatFix)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (17, 999,
                                                                                     frame)
    assert (msg.status.status, msg.status.service) == (2, 1)
    assert (msg.latitude, msg.longitude, msg.altitude) == (47.5, 8.25, 512.5)
    assert list(msg.position_covariance) == cov
    assert msg.position_covariance_type == 3


@pytest.mark.parametrize("frame", FRAMES)
def test_an_rclpy_fix_unpacks_to_its_fields(frame: str) -> None:
    msg = NavSatFix()
    msg.header.frame_id = frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = 5, 6
    msg.status.status, msg.status.service = -1, 8
    msg.latitude, msg.longitude, msg.altitude = -16.8, 179.99, float("nan")
    values = cdr.NAV_SAT_FIX.unpack(serialize_message(msg))
    assert values[:7] == (5, 6, -1, 8, -16.8, 179.99, values[6])
    assert math.isnan(float(values[6]))  # type: ignore[arg-type]


@pytest.mark.parametrize("frame", FRAMES)
def test_pose_and_twist_round_trip_through_rclpy(frame: str) -> None:
    pose = deserialize_message(cdr.POSE_STAMPED.packer(frame).pack(1, 2, 1.0, 2.0, 3.0, 0.0,
                                                                   0.0, 0.5, 0.5), PoseStamped)
    assert (pose.pose.position.z, pose.pose.orientation.w, pose.header.frame_id) == (3.0, 0.5,
                                                                                     frame)
    twist = TwistStamped()
    twist.header.frame_id = frame
    twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z = 1.5, -2.5, 0.25
    assert cdr.TWIST_STAMPED.unpack(serialize_message(twist))[2:5] == (1.5, -2.5, 0.25)


def test_float64_round_trips_through_rclpy() -> None:
    assert deserialize_message(cdr.pack_float64(12.75), Float64).data == 12.75
    assert cdr.unpack_float64(serialize_message(Float64(data=-3.5))) == -3.5


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x00\x00" + bytes(20), b"\x00\x01\x00\x00"
                                  + bytes(8) + b"\xff\xff\xff\x7f" + bytes(8)])
def test_bytes_that_are_not_the_message_are_refused_with_the_reason(data: bytes) -> None:
    with pytest.raises(cdr.CdrError):
        cdr.NAV_SAT_FIX.unpack(data)


def test_a_truncated_fix_is_refused() -> None:
    data = cdr.NAV_SAT_FIX.packer("map").pack(1, 2, 0, 1, 1.0, 2.0, 3.0, *[0.0] * 9, 0)
    with pytest.raises(cdr.CdrError, match="expected"):
        cdr.NAV_SAT_FIX.unpack(data[:-10])
    with pytest.raises(cdr.CdrError, match="Float64"):
        cdr.unpack_float64(data)
