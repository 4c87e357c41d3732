"""Each kind of telemetry updates the vehicle's picture; garbage is refused with its reason,
and only samples that show the vehicle is there now keep it alive."""

from __future__ import annotations

import math

import pytest

from fleet_core.fleet.model import RejectReason, TelemetryLimits, VehicleSpec, VehicleState
from fleet_core.fleet.telemetry import (
    AutopilotState,
    AutopilotText,
    BatteryReading,
    EstimatorHealth,
    Heading,
    HomePosition,
    ItemReached,
    Landed,
    PositionFix,
    Rejected,
    RelativeAltitude,
    SensorHealth,
    Telemetry,
    Velocity,
    battery_from_mavros,
    checked_battery,
    checked_fix,
    checked_heading,
    checked_home,
    checked_relative_altitude,
    checked_velocity,
    landed_state,
    take,
)
from fleet_core.geo import GeoPoint
from fleet_core.mavlink import SENSOR_GPS, SENSOR_MOTOR_OUTPUTS, SENSORS_PRESENT, LandedState

LIMITS = TelemetryLimits()
HERE = GeoPoint(47.4, 8.5, 500.0)


def fresh() -> VehicleState:
    return VehicleState(VehicleSpec("uav0", "/uav0/mavros", max_speed=15.0))


def test_a_sample_is_taken_and_keeps_the_vehicle_alive() -> None:
    v = fresh()
    assert take(v, PositionFix(HERE), 99.0, 100.0, LIMITS) is None
    assert (v.position, v.position_time, v.gps_fix_ok, v.last_seen) == (HERE, 100.0, True, 100.0)


def test_a_sample_stamped_in_the_future_is_refused_before_anything_else() -> None:
    v = fresh()
    assert take(v, Rejected(RejectReason.OUT_OF_RANGE), 200.0, 100.0, LIMITS) == Rejected(
        RejectReason.FUTURE_STAMP)
    assert take(v, PositionFix(HERE), math.nan, 100.0, LIMITS) == Rejected(
        RejectReason.NOT_FINITE)
    assert v.position is None
    assert v.last_seen is None


def test_a_refused_decoding_is_passed_on_and_changes_nothing() -> None:
    v = fresh()
    refused = Rejected(RejectReason.OUT_OF_RANGE, "rel_alt nan")
    assert take(v, refused, None, 100.0, LIMITS) is refused
    assert v.last_seen is None


def test_a_fix_that_jumps_further_than_the_vehicle_can_fly_is_refused() -> None:
    v = fresh()
    take(v, PositionFix(HERE), None, 100.0, LIMITS)
    far = GeoPoint(47.5, 8.5, 500.0)  # 11 km in one second
    assert take(v, PositionFix(far), None, 101.0, LIMITS) == Rejected(
        RejectReason.IMPOSSIBLE_JUMP, "47.5, 8.5")
    assert v.position == HERE


def test_no_fix_marks_gps_lost_but_is_still_a_sign_of_life() -> None:
    v = fresh()
    assert take(v, PositionFix(None), None, 100.0, LIMITS) is None
    assert (v.gps_fix_ok, v.position, v.last_seen) == (False, None, 100.0)


def test_a_velocity_beyond_three_times_the_airframes_top_speed_is_refused() -> None:
    v = fresh()
    assert take(v, Velocity(40.0, 0.0, 0.0), None, 100.0, LIMITS) is None
    assert v.velocity_enu == (40.0, 0.0, 0.0)
    assert take(v, Velocity(50.0, 0.0, 0.0), None, 100.0, LIMITS) == Rejected(
        RejectReason.OUT_OF_RANGE, "velocity (50.0, 0.0, 0.0)")
    assert v.velocity_enu == (40.0, 0.0, 0.0)


def test_mavros_reporting_the_link_down_is_recorded_but_is_no_sign_of_life() -> None:
    v = fresh()
    take(v, AutopilotState(connected=True, armed=True, mode="AUTO.MISSION"), None, 100.0,
         LIMITS)
    assert (v.connected, v.armed, v.mode, v.last_seen) == (True, True, "AUTO.MISSION", 100.0)
    take(v, AutopilotState(connected=False, armed=False, mode="MANUAL"), None, 105.0, LIMITS)
    assert (v.connected, v.armed, v.mode, v.last_seen) == (False, True, "AUTO.MISSION", 100.0)


def test_a_reached_item_is_latched_so_it_is_no_sign_of_life() -> None:
    v = fresh()
    assert take(v, ItemReached(3), None, 100.0, LIMITS) is None
    assert (v.last_reached_item, v.last_seen) == (3, None)


def test_an_unknown_battery_value_is_nan_in_the_picture() -> None:
    v = fresh()
    take(v, BatteryReading(42.0, None, 12.5, charging=True), None, 100.0, LIMITS)
    assert (v.battery_percent, v.battery_current, v.battery_charging) == (42.0, 12.5, True)
    assert math.isnan(v.battery_voltage)


@pytest.mark.parametrize(("sample", "field", "value"), [
    (RelativeAltitude(30.0), "relative_altitude", 30.0),
    (Heading(90.0), "heading", 90.0),
    (Landed(LandedState.IN_AIR), "landed_state", LandedState.IN_AIR),
    (HomePosition(HERE), "home", HERE),
    (SensorHealth(sensors_ok=False, motors_ok=True), "sensors_ok", False),
    (EstimatorHealth(estimator_ok=True, position_estimate_ok=False), "position_estimate_ok",
     False),
])
def test_each_kind_of_sample_sets_its_field(sample: Telemetry, field: str,
                                            value: object) -> None:
    v = fresh()
    assert take(v, sample, None, 100.0, LIMITS) is None
    assert getattr(v, field) == value
    assert v.last_seen == 100.0


def test_only_texts_of_warning_severity_or_worse_are_kept_and_they_are_cut_short() -> None:
    v = fresh()
    take(v, AutopilotText(severity=6, text="info"), None, 100.0, LIMITS)
    take(v, AutopilotText(severity=4, text="x" * 300), None, 100.0, LIMITS)
    assert list(v.warnings) == ["x" * 200]


def test_the_battery_converts_sensor_msgs_units_and_unknowns() -> None:
    assert battery_from_mavros(0.42, 15.3, -12.5) == BatteryReading(42.0, 15.3, 12.5)
    assert battery_from_mavros(math.nan, math.nan, math.inf) == BatteryReading(None, None, None)


@pytest.mark.parametrize(("percentage", "voltage", "reason"), [
    (1.5, 24.0, RejectReason.OUT_OF_RANGE), (0.5, math.inf, RejectReason.NOT_FINITE),
    (0.5, -1.0, RejectReason.OUT_OF_RANGE)])
def test_an_impossible_battery_is_refused(percentage: float, voltage: float,
                                          reason: RejectReason) -> None:
    refused = checked_battery(percentage, voltage, 0.0)
    assert refused == Rejected(reason, f"percentage {percentage}, voltage {voltage}")


@pytest.mark.parametrize(("decoded", "expected"), [
    (checked_fix(GeoPoint(math.nan, 8.5, 500.0)), Rejected(RejectReason.NOT_FINITE, "nan, 8.5")),
    (checked_fix(GeoPoint(95.0, 8.5, 500.0)), Rejected(RejectReason.OUT_OF_RANGE, "95.0, 8.5")),
    (checked_fix(None), PositionFix(None)),
    (checked_relative_altitude(math.nan), Rejected(RejectReason.OUT_OF_RANGE, "rel_alt nan")),
    (checked_relative_altitude(25_000.0),
     Rejected(RejectReason.OUT_OF_RANGE, "rel_alt 25000.0")),
    (checked_heading(400.0), Rejected(RejectReason.OUT_OF_RANGE, "heading 400.0")),
    (checked_velocity(1.0, math.inf, 0.0),
     Rejected(RejectReason.OUT_OF_RANGE, "velocity (1.0, inf, 0.0)")),
    (checked_home(GeoPoint(47.0, 8.0, math.nan)),
     Rejected(RejectReason.OUT_OF_RANGE, "home GeoPoint(latitude=47.0, longitude=8.0, "
                                         "altitude=nan)")),
])
def test_garbage_in_a_message_itself_is_refused_with_the_value(decoded: object,
                                                               expected: Rejected) -> None:
    assert decoded == expected


def test_an_unknown_heading_is_kept_as_unknown() -> None:
    heading = checked_heading(math.nan)
    assert isinstance(heading, Heading)
    assert math.isnan(heading.degrees)


def test_a_landed_state_this_code_does_not_know_is_undefined() -> None:
    assert landed_state(2) is LandedState.IN_AIR
    assert landed_state(9) is LandedState.UNDEFINED


def test_sensor_health_counts_only_enabled_sensors_and_the_motors_when_reported() -> None:
    assert SensorHealth.from_bits(SENSORS_PRESENT, SENSORS_PRESENT) == SensorHealth(True, True)
    no_gps = SensorHealth.from_bits(SENSORS_PRESENT, SENSORS_PRESENT & ~SENSOR_GPS)
    assert no_gps == SensorHealth(sensors_ok=False, motors_ok=True)
    assert SensorHealth.from_bits(SENSORS_PRESENT, SENSORS_PRESENT & ~SENSOR_MOTOR_OUTPUTS) \
        == SensorHealth(sensors_ok=False, motors_ok=False)
    assert SensorHealth.from_bits(0, 0) == SensorHealth(True, True)  # nothing enabled


def test_the_estimator_is_fine_with_attitude_velocity_and_an_unglitched_position() -> None:
    ok = EstimatorHealth.from_flags(attitude=True, velocity_horiz=True, pos_horiz_abs=True,
                                    gps_glitch=False)
    glitch = EstimatorHealth.from_flags(attitude=True, velocity_horiz=True, pos_horiz_abs=True,
                                        gps_glitch=True)
    assert ok == EstimatorHealth(True, True)
    assert glitch == EstimatorHealth(estimator_ok=True, position_estimate_ok=False)
