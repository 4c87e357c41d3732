"""The commander arms, switches modes and runs the failsafes the way PX4 does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.mavlink import LandedState, MavResult, MavSeverity, MavState
from fleet_core.sim.battery import Battery
from fleet_core.sim.commander import Commander, Failure
from fleet_core.sim.config import BatterySpec, SimVehicleConfig
from fleet_core.sim.kinematics import Airframe
from fleet_core.sim.navigator import Navigator
from fleet_core.sim.outbox import Outbox

HOME = GeoPoint(47.397742, 8.545594, 488.0)


def commander(*, up: float = 0.0, percent: float = 100.0) -> Commander:
    config = SimVehicleConfig("uav0", "/uav0/mavros", HOME,
                              battery=replace(BatterySpec(), initial_percent=percent))
    state = LandedState.IN_AIR if up > 0 else LandedState.ON_GROUND
    body = Airframe(config.limits, up=up, landed_state=state)
    outbox = Outbox()
    nav = Navigator(config, LocalFrame.at(HOME), body, outbox)
    return Commander(config, Battery.new(config.battery), body, nav, outbox)


def last_text(c: Commander) -> str:
    return c.outbox.drain_texts()[-1].text


class TestArming:
    @pytest.mark.parametrize(("failure", "reason"), [
        (Failure.MOTOR_FAILURE, "motor failure"),
        (Failure.BATTERY_FAULT, "battery unhealthy"),
        (Failure.GPS_LOSS, "GPS fix too low"),
    ], ids=["motor", "battery", "gps"])
    def test_arming_is_refused_with_the_reason(self, failure: Failure, reason: str) -> None:
        c = commander()
        c.inject(failure, True, 0.0)
        assert c.arm(True) == MavResult.TEMPORARILY_REJECTED
        assert last_text(c) == f"Arming denied: {reason}"

    def test_arming_in_a_mode_that_cannot_fly_is_refused(self) -> None:
        c = commander()
        c.mode = "AUTO.LAND"
        assert c.arm(True) == MavResult.TEMPORARILY_REJECTED
        assert last_text(c) == "Arming denied: not possible in AUTO.LAND"

    def test_a_forced_arm_skips_the_checks(self) -> None:
        c = commander(percent=5.0)
        assert c.arm(True, force=True) == MavResult.ACCEPTED
        assert c.armed


class TestModes:
    def test_a_refused_mode_says_why_and_leaves_the_mode(self) -> None:
        c = commander()
        assert not c.request_mode("POSCTL")
        assert c.mode == "AUTO.LOITER"
        assert last_text(c) == ("Switching to POSCTL is currently not possible: "
                                "no manual control or setpoints")

    def test_with_a_failed_motor_only_land_is_accepted(self) -> None:
        c = commander(up=20.0)
        c.inject(Failure.MOTOR_FAILURE, True, 0.0)
        assert c.mode == "AUTO.LAND"
        assert c.mode_result("AUTO.RTL") == MavResult.TEMPORARILY_REJECTED
        assert c.system_status == MavState.EMERGENCY


class TestFailsafes:
    def test_losing_gps_in_the_air_lands(self) -> None:
        c = commander(up=20.0)
        c.inject(Failure.GPS_LOSS, True, 0.0)
        assert c.mode == "AUTO.LAND"
        assert last_text(c) == "Failsafe activated: no global position, landing"

    def test_the_link_counts_as_connected_until_the_timeout(self) -> None:
        c = commander()
        c.inject(Failure.LINK_LOSS, True, 100.0)
        assert not c.link_up
        assert c.connected(100.0 + c.link_timeout_s - 0.1)
        assert not c.connected(100.0 + c.link_timeout_s)

    def test_injecting_twice_is_reported_and_changes_nothing(self) -> None:
        c = commander()
        c.inject(Failure.GPS_LOSS, True, 0.0)
        assert c.inject(Failure.GPS_LOSS, True, 0.0) == "GPS_LOSS already active on uav0"

    def test_each_battery_threshold_warns_once_and_the_emergency_level_lands(self) -> None:
        c = commander(up=20.0, percent=14.0)
        c.armed = True
        c.check_battery()
        c.check_battery()
        assert [(t.severity, t.text) for t in c.outbox.drain_texts()] == [
            (MavSeverity.WARNING, "Low battery level! Return advised")]
        c.battery.soc = 0.04
        c.check_battery()
        assert [t.text for t in c.outbox.drain_texts()] == [
            "Critical battery level!", "Emergency battery level! Landing"]
        assert c.mode == "AUTO.LAND"


class TestAutoDisarm:
    def test_after_a_landing_the_vehicle_disarms_after_com_disarm_land(self) -> None:
        c = commander()
        c.armed = True
        c.mode = "AUTO.LAND"
        c.auto_disarm(c.config.limits.auto_disarm_land_s - 0.1)
        assert c.armed
        c.auto_disarm(0.1)
        assert not c.armed
        assert last_text(c) == "Disarmed by landing"

    def test_a_vehicle_about_to_take_off_is_not_disarmed_before_flight(self) -> None:
        c = commander()
        assert c.arm(True) == MavResult.ACCEPTED
        c.set_mode("AUTO.TAKEOFF")
        c.navigator.control("AUTO.TAKEOFF", 0.1, armed=True, motor_failure=False)
        c.auto_disarm(c.config.limits.auto_disarm_preflight_s + 1.0)
        assert c.armed
