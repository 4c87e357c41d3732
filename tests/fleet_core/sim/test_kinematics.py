"""The airframe approaches its setpoint within PX4's limits; the land detector follows."""

from __future__ import annotations

import math

import pytest

from fleet_core.mavlink import LandedState
from fleet_core.sim.config import FlightLimits
from fleet_core.sim.kinematics import Airframe, Setpoint

LIMITS = FlightLimits()
DT = 0.1


def fly(body: Airframe, sp: Setpoint, seconds: float, *, armed: bool = True,
        motor_failure: bool = False) -> list[LandedState]:
    """Step for ``seconds``; return the land detector's changes in order."""
    changes = []
    for _ in range(round(seconds / DT)):
        change = body.move(sp, DT, armed=armed, motor_failure=motor_failure,
                           cruise=LIMITS.cruise_speed)
        if change is not None:
            changes.append(change)
    return changes


def in_air(up: float = 20.0) -> Airframe:
    return Airframe(LIMITS, up=up, landed_state=LandedState.IN_AIR)


def test_a_disarmed_vehicle_on_the_ground_does_not_move() -> None:
    body = Airframe(LIMITS)
    assert fly(body, Setpoint(target=(50.0, 0.0), target_alt=20.0), 5.0, armed=False) == []
    assert (body.east, body.north, body.up) == (0.0, 0.0, 0.0)


def test_a_climb_from_the_ground_is_reported_as_takeoff_then_in_air() -> None:
    body = Airframe(LIMITS)
    changes = fly(body, Setpoint(target=(0.0, 0.0), target_alt=20.0), 20.0)
    assert changes == [LandedState.TAKEOFF, LandedState.IN_AIR]
    assert body.up == pytest.approx(20.0, abs=0.5)


def test_the_climb_rate_never_exceeds_the_limit() -> None:
    body = Airframe(LIMITS)
    sp = Setpoint(target=(0.0, 0.0), target_alt=100.0)
    for _ in range(200):
        body.move(sp, DT, armed=True, motor_failure=False, cruise=LIMITS.cruise_speed)
        assert body.vu <= LIMITS.max_climb_rate + 1e-9


def test_horizontal_speed_and_acceleration_stay_within_the_limits() -> None:
    body = in_air()
    sp = Setpoint(target=(500.0, 0.0), target_alt=20.0, speed=50.0)
    previous = 0.0
    for _ in range(300):
        body.move(sp, DT, armed=True, motor_failure=False, cruise=LIMITS.cruise_speed)
        assert body.ground_speed <= LIMITS.max_horizontal_speed + 1e-9
        assert body.ground_speed - previous <= LIMITS.max_acceleration * DT + 1e-9
        previous = body.ground_speed


def test_the_vehicle_stops_at_its_target() -> None:
    body = in_air()
    fly(body, Setpoint(target=(40.0, 30.0), target_alt=20.0, speed=8.0), 30.0)
    assert math.hypot(body.east - 40.0, body.north - 30.0) < 0.5
    assert body.ground_speed < 0.2


def test_a_landing_is_reported_and_touchdown_stops_the_vehicle() -> None:
    body = in_air(up=5.0)
    changes = fly(body, Setpoint(landing=True, target_alt=0.0), 20.0)
    assert changes == [LandedState.LANDING, LandedState.ON_GROUND]
    assert (body.up, body.vu) == (0.0, 0.0)


def test_below_ten_metres_a_landing_slows_to_the_landing_speed() -> None:
    body = in_air(up=8.0)
    fly(body, Setpoint(landing=True, target_alt=0.0), 3.0)
    assert body.vu == pytest.approx(-LIMITS.landing_speed)


def test_motors_stopped_in_the_air_make_the_vehicle_fall() -> None:
    body = in_air(up=50.0)
    fly(body, Setpoint(), 1.0, armed=False)
    assert body.vu < -5.0
    assert body.up < 50.0


def test_the_heading_turns_toward_the_direction_of_travel_at_the_yaw_rate_limit() -> None:
    body = in_air()  # facing north
    fly(body, Setpoint(target=(500.0, 0.0), target_alt=20.0, speed=8.0), 0.5)
    assert 0.0 < body.heading <= LIMITS.max_yaw_rate_deg * 0.5
    fly(body, Setpoint(target=(500.0, 0.0), target_alt=20.0, speed=8.0), 5.0)
    assert body.heading == pytest.approx(90.0, abs=1.0)


def test_lift_off_changes_the_land_detector_only_on_the_ground() -> None:
    body = Airframe(LIMITS)
    assert body.lift_off()
    assert body.landed_state is LandedState.TAKEOFF
    assert not body.lift_off()
