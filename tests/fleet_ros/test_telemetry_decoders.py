"""MAVROS messages decode into fleet_core telemetry; a message that is garbage in itself is
refused with the value; fleet_manager's picture is made of exactly these topics."""

from __future__ import annotations

import math

from geometry_msgs.msg import TwistStamped
from mavros_msgs.msg import (
    EstimatorStatus,
    ExtendedState,
    HomePosition,
    State,
    StatusText,
    SysStatus,
    WaypointReached,
)
from sensor_msgs.msg import BatteryState, NavSatFix, NavSatStatus
from std_msgs.msg import Float64

from fleet_core.fleet.model import RejectReason
from fleet_core.fleet.telemetry import (
    AutopilotState,
    AutopilotText,
    BatteryReading,
    EstimatorHealth,
    ItemReached,
    Landed,
    PositionFix,
    Rejected,
    RelativeAltitude,
    SensorHealth,
    Velocity,
)
from fleet_core.geo import GeoPoint
from fleet_core.mavlink import SENSORS_PRESENT, LandedState
from fleet_core.mavros_topics import MavrosTopic
from fleet_ros.mavros_convert import (
    TELEMETRY_DECODERS,
    battery_from_msg,
    estimator_health_from_msg,
    fix_from_msg,
    heading_from_msg,
    home_from_msg,
    landed_from_msg,
    reached_from_msg,
    relative_altitude_from_msg,
    sensor_health_from_msg,
    stamp_from_msg,
    state_from_msg,
    text_from_msg,
    velocity_from_msg,
)


def test_state_and_landed_state_decode() -> None:
    assert state_from_msg(State(connected=True, armed=True, mode="AUTO.MISSION")) == \
        AutopilotState(True, True, "AUTO.MISSION")
    assert landed_from_msg(ExtendedState(landed_state=2)) == Landed(LandedState.IN_AIR)
    assert landed_from_msg(ExtendedState(landed_state=200)) == Landed(LandedState.UNDEFINED)


def test_the_battery_is_in_percent_with_the_discharge_current_positive() -> None:
    msg = BatteryState(percentage=0.42, voltage=15.5, current=-12.5,
                       power_supply_status=BatteryState.POWER_SUPPLY_STATUS_CHARGING)
    reading = battery_from_msg(msg)
    assert isinstance(reading, BatteryReading)
    assert (reading.voltage_v, reading.current_a, reading.charging) == (15.5, 12.5, True)
    assert math.isclose(reading.percent or 0.0, 42.0, rel_tol=1e-6)
    assert battery_from_msg(BatteryState(percentage=1.5, voltage=24.0)) == Rejected(
        RejectReason.OUT_OF_RANGE, "percentage 1.5, voltage 24.0")


def test_a_fix_without_a_fix_status_is_no_fix_and_a_bad_one_is_refused() -> None:
    fix = NavSatFix(latitude=47.4, longitude=8.5, altitude=500.0)
    fix.status.status = NavSatStatus.STATUS_NO_FIX
    assert fix_from_msg(fix) == PositionFix(None)
    fix.status.status = NavSatStatus.STATUS_FIX
    assert fix_from_msg(fix) == PositionFix(GeoPoint(47.4, 8.5, 500.0))
    fix.latitude = math.nan
    assert fix_from_msg(fix) == Rejected(RejectReason.NOT_FINITE, "nan, 8.5")


def test_altitude_heading_velocity_and_home_decode_or_are_refused() -> None:
    assert relative_altitude_from_msg(Float64(data=30.0)) == RelativeAltitude(30.0)
    assert heading_from_msg(Float64(data=-5.0)) == Rejected(RejectReason.OUT_OF_RANGE,
                                                            "heading -5.0")
    twist = TwistStamped()
    twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z = 1.0, 2.0, -0.5
    assert velocity_from_msg(twist) == Velocity(1.0, 2.0, -0.5)
    home = HomePosition()
    home.geo.latitude, home.geo.longitude, home.geo.altitude = 95.0, 8.5, 488.0
    refused = home_from_msg(home)
    assert isinstance(refused, Rejected)
    assert refused.reason is RejectReason.OUT_OF_RANGE


def test_health_texts_and_reached_items_decode() -> None:
    assert sensor_health_from_msg(SysStatus(sensors_enabled=SENSORS_PRESENT,
                                            sensors_health=SENSORS_PRESENT)) == \
        SensorHealth(True, True)
    assert estimator_health_from_msg(EstimatorStatus(
        attitude_status_flag=True, velocity_horiz_status_flag=True,
        pos_horiz_abs_status_flag=True, gps_glitch_status_flag=True)) == \
        EstimatorHealth(estimator_ok=True, position_estimate_ok=False)
    assert text_from_msg(StatusText(severity=4, text="GPS fix lost")) == \
        AutopilotText(4, "GPS fix lost")
    assert reached_from_msg(WaypointReached(wp_seq=3)) == ItemReached(3)


def test_the_stamp_is_read_from_the_header_and_a_headerless_message_has_none() -> None:
    msg = BatteryState()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 100, 500_000_000
    assert stamp_from_msg(msg) == 100.5
    assert stamp_from_msg(Float64(data=1.0)) is None


def test_the_picture_is_made_of_the_vehicle_state_topics_not_the_mission_or_odometry() -> None:
    assert set(MavrosTopic) - set(TELEMETRY_DECODERS) == {
        MavrosTopic.WAYPOINTS, MavrosTopic.GLOBAL_ODOMETRY, MavrosTopic.LOCAL_POSE}
