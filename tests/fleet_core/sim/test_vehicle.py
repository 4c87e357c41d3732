"""The simulated multirotor follows PX4's rules as a MAVROS client sees them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest

from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.mavlink import LandedState, MavCmd, MavResult, MissionItem
from fleet_core.sim.config import BatterySpec, ChargingPad, SimVehicleConfig
from fleet_core.sim.vehicle import Failure, SimVehicle

HOME = GeoPoint(47.397742, 8.545594, 488.0)
FRAME = LocalFrame.at(HOME)
REL_ALT = 3


def make(**battery: float) -> SimVehicle:
    cfg = SimVehicleConfig("uav0", "/uav0/mavros", HOME,
                           battery=replace(BatterySpec(), **battery))
    return SimVehicle(cfg)


def item(cmd: int, east: float = 0.0, north: float = 0.0, alt: float = 20.0, *,
         p1: float = 0.0, p2: float = 0.0) -> MissionItem:
    g = FRAME.to_geo(east, north, 0.0)
    return MissionItem(REL_ALT, cmd, False, True, p1, p2, 0.0, 0.0, g.latitude, g.longitude, alt)


def square_mission() -> list[MissionItem]:
    return [item(MavCmd.NAV_TAKEOFF, alt=20), item(MavCmd.NAV_WAYPOINT, 60, 0),
            item(MavCmd.NAV_WAYPOINT, 60, 60), item(MavCmd.NAV_WAYPOINT, 0, 60),
            item(MavCmd.NAV_WAYPOINT, 0, 0)]


def run_until(v: SimVehicle, done: Callable[[], bool], limit_s: float, dt: float = 0.1) -> float:
    t = 0.0
    while not done():
        v.step(dt)
        t += dt
        assert t < limit_s, f"condition not reached within {limit_s} simulated seconds"
    return t


def fly_up(v: SimVehicle, alt: float = 20.0) -> None:
    assert v.takeoff(HOME.altitude + alt) == MavResult.ACCEPTED
    assert v.arm(True) == MavResult.ACCEPTED
    run_until(v, lambda: v.mode == "AUTO.LOITER" and v.up > alt - 1, 60)


class TestArming:
    def test_arming_is_accepted_on_the_ground_with_gps_and_battery(self) -> None:
        v = make()
        assert v.arm(True) == MavResult.ACCEPTED
        assert v.armed

    def test_arming_below_ten_percent_is_temporarily_rejected(self) -> None:
        v = make(initial_percent=9.0)
        assert v.arm(True) == MavResult.TEMPORARILY_REJECTED
        assert not v.armed
        assert "Arming denied: battery 9%" in v.drain_texts()[-1].text

    def test_arming_without_gps_fix_is_refused(self) -> None:
        v = make()
        v.inject(Failure.GPS_LOSS, True)
        assert v.arm(True) == MavResult.TEMPORARILY_REJECTED

    def test_arming_in_mission_mode_with_an_empty_mission_is_refused(self) -> None:
        v = make()
        assert v.push_mission([item(MavCmd.NAV_WAYPOINT, 10, 0)]) == (True, 1)
        assert v.request_mode("AUTO.MISSION")
        v.clear_mission()  # PX4 then falls back to hold
        v.mode = "AUTO.MISSION"
        assert v.arm(True) == MavResult.TEMPORARILY_REJECTED

    def test_arming_while_armed_is_acknowledged_like_px4(self) -> None:
        v = make()
        v.arm(True)
        assert v.arm(True) == MavResult.ACCEPTED

    def test_disarming_in_the_air_is_refused_unless_forced(self) -> None:
        v = make()
        fly_up(v)
        assert v.arm(False) == MavResult.TEMPORARILY_REJECTED
        assert v.command(MavCmd.COMPONENT_ARM_DISARM, (0, 21196)) == MavResult.ACCEPTED
        run_until(v, lambda: v.landed_state is LandedState.ON_GROUND, 30)

    def test_an_armed_vehicle_that_never_takes_off_disarms_itself(self) -> None:
        v = make()
        v.arm(True)
        t = run_until(v, lambda: not v.armed, 30)
        assert t == pytest.approx(10.0, abs=0.2)


class TestModes:
    @pytest.mark.parametrize("mode", ["OFFBOARD", "POSCTL", "MANUAL"])
    def test_modes_that_need_setpoints_or_rc_are_refused(self, mode: str) -> None:
        v = make()
        assert not v.request_mode(mode)
        assert v.mode == "AUTO.LOITER"

    def test_an_unknown_mode_changes_nothing(self) -> None:
        v = make()
        assert not v.request_mode("WARP_DRIVE")
        assert v.mode == "AUTO.LOITER"

    def test_mission_mode_without_a_mission_is_refused(self) -> None:
        v = make()
        assert not v.request_mode("AUTO.MISSION")

    def test_takeoff_climbs_to_the_altitude_and_holds(self) -> None:
        v = make()
        fly_up(v, 15.0)
        v.step(5.0)
        assert v.up == pytest.approx(15.0, abs=0.6)
        assert v.landed_state is LandedState.IN_AIR
        assert v.ground_speed < 0.1

    def test_do_set_mode_uses_px4_custom_mode_numbers(self) -> None:
        v = make()
        fly_up(v)
        assert v.command(MavCmd.DO_SET_MODE, (1, 4, 5)) == MavResult.ACCEPTED
        assert v.mode == "AUTO.RTL"

    @pytest.mark.parametrize("params", [(1, math.nan, 4), (1, 4, math.inf), (1, 99, 99)],
                             ids=["nan-main", "inf-sub", "unknown-numbers"])
    def test_do_set_mode_with_bad_numbers_is_denied(self, params: tuple[float, ...]) -> None:
        v = make()
        assert v.command(MavCmd.DO_SET_MODE, params) == MavResult.DENIED
        assert v.mode == "AUTO.LOITER"

    def test_reposition_holds_at_the_new_altitude_keeping_nan_coordinates(self) -> None:
        v = make()
        fly_up(v, 20.0)
        nan = math.nan
        assert v.command(MavCmd.DO_REPOSITION,
                         (-1, 0, 0, nan, nan, nan, HOME.altitude + 32.0)) == MavResult.ACCEPTED
        assert v.mode == "AUTO.LOITER"
        v.step(15.0)
        assert v.up == pytest.approx(32.0, abs=0.3)
        assert math.hypot(v.east, v.north) < 0.5

    def test_reposition_on_the_ground_is_refused(self) -> None:
        assert make().command(MavCmd.DO_REPOSITION, (0,) * 7) == MavResult.TEMPORARILY_REJECTED

    def test_an_unknown_command_is_unsupported(self) -> None:
        assert make().command(31337, ()) == MavResult.UNSUPPORTED


class TestMission:
    def test_a_five_item_mission_is_flown_with_reached_events_in_order(self) -> None:
        v = make()
        assert v.push_mission(square_mission()) == (True, 5)
        assert v.request_mode("AUTO.MISSION")
        assert v.arm(True) == MavResult.ACCEPTED
        reached: list[int] = []
        run_until(v, lambda: reached.extend(v.drain_reached()) or v.mission_finished, 200)
        assert reached == [0, 1, 2, 3, 4]
        assert math.hypot(v.east, v.north) < 2.5
        assert v.up == pytest.approx(20.0, abs=1.0)

    def test_a_mission_ending_in_land_lands_there_and_disarms(self) -> None:
        v = make()
        v.push_mission([item(MavCmd.NAV_WAYPOINT, 40, 0, 15), item(MavCmd.NAV_LAND, 40, 20, 0)])
        v.request_mode("AUTO.MISSION")
        v.arm(True)
        run_until(v, lambda: not v.armed, 200)
        assert v.landed_state is LandedState.ON_GROUND
        assert (v.east, v.north) == (pytest.approx(40, abs=2.5), pytest.approx(20, abs=2.5))
        assert v.drain_reached() == [0, 1]

    def test_loiter_time_holds_before_continuing(self) -> None:
        v = make()
        v.push_mission([item(MavCmd.NAV_WAYPOINT, 0, 0, 10),
                        item(MavCmd.NAV_LOITER_TIME, 0, 0, 10, p1=20.0)])
        v.request_mode("AUTO.MISSION")
        v.arm(True)
        run_until(v, lambda: v.mission_seq == 1, 60)
        t = run_until(v, lambda: v.mission_finished, 60)
        assert t >= 20.0

    def test_change_speed_sets_the_cruise_speed(self) -> None:
        v = make()
        v.push_mission([item(MavCmd.DO_CHANGE_SPEED, p2=4.0), item(MavCmd.NAV_WAYPOINT, 300, 0)])
        v.request_mode("AUTO.MISSION")
        v.arm(True)
        run_until(v, lambda: v.ground_speed > 3.9, 120)
        v.step(5.0)
        assert v.ground_speed == pytest.approx(4.0, abs=0.05)

    def test_pause_holds_and_continue_resumes_at_the_same_item(self) -> None:
        v = make()
        v.push_mission(square_mission())
        v.request_mode("AUTO.MISSION")
        v.arm(True)
        run_until(v, lambda: v.mission_seq == 2, 200)
        assert v.command(MavCmd.DO_PAUSE_CONTINUE, (0,)) == MavResult.ACCEPTED
        assert v.mode == "AUTO.LOITER"
        v.step(5.0)
        assert v.ground_speed < 0.5
        assert v.command(MavCmd.DO_PAUSE_CONTINUE, (1,)) == MavResult.ACCEPTED
        assert v.mission_seq == 2
        run_until(v, lambda: v.mission_finished, 200)

    @pytest.mark.parametrize("bad", [
        item(MavCmd.NAV_WAYPOINT, alt=math.nan),
        MissionItem(REL_ALT, 16, False, True, 0, 0, 0, 0, math.nan, 8.5, 10),
        MissionItem(REL_ALT, 16, False, True, 0, 0, 0, 0, 95.0, 8.5, 10),
        MissionItem(1, 16, False, True, 0, 0, 0, 0, 1.0, 1.0, 10),
        item(MavCmd.DO_JUMP),
        item(9999),
    ], ids=["nan-alt", "nan-lat", "lat-95", "local-frame", "do-jump", "unknown-cmd"])
    def test_an_invalid_mission_is_refused_whole(self, bad: MissionItem) -> None:
        v = make()
        v.push_mission([item(MavCmd.NAV_WAYPOINT, 5, 5)])
        assert v.push_mission([item(MavCmd.NAV_WAYPOINT), bad]) == (False, 0)
        assert len(v.mission) == 1

    def test_set_current_out_of_range_fails(self) -> None:
        v = make()
        v.push_mission(square_mission())
        assert v.set_current(3)
        assert not v.set_current(5)


class TestReturnAndLand:
    def test_rtl_climbs_returns_lands_at_home_and_disarms(self) -> None:
        v = make()
        fly_up(v, 15.0)
        v.push_mission([item(MavCmd.NAV_WAYPOINT, 150, 80, 15)])
        v.request_mode("AUTO.MISSION")
        run_until(v, lambda: v.mission_finished, 200)
        assert v.command(MavCmd.NAV_RETURN_TO_LAUNCH, ()) == MavResult.ACCEPTED
        max_up = 0.0

        def landed() -> bool:
            nonlocal max_up
            max_up = max(max_up, v.up)
            return not v.armed

        run_until(v, landed, 300)
        assert max_up >= 29.5  # RTL_RETURN_ALT
        assert math.hypot(v.east, v.north) < 1.5
        assert v.landed_state is LandedState.ON_GROUND

    def test_land_descends_where_it_is(self) -> None:
        v = make()
        fly_up(v)
        assert v.land() == MavResult.ACCEPTED
        run_until(v, lambda: not v.armed, 120)
        assert math.hypot(v.east, v.north) < 1.0


class TestFailures:
    def test_link_loss_reports_disconnected_only_after_the_timeout(self) -> None:
        v = make()
        v.inject(Failure.LINK_LOSS, True)
        assert not v.link_up
        v.step(9.5)
        assert v.connected
        v.step(1.0)
        assert not v.connected
        assert v.arm(True) == MavResult.FAILED  # no COMMAND_ACK over a dead link
        v.inject(Failure.LINK_LOSS, False)
        assert v.connected
        assert v.link_up

    def test_motor_failure_lands_and_blocks_arming(self) -> None:
        v = make()
        fly_up(v)
        v.inject(Failure.MOTOR_FAILURE, True)
        assert v.mode == "AUTO.LAND"
        run_until(v, lambda: v.landed_state is LandedState.ON_GROUND, 60)
        v.step(3.0)
        assert not v.armed
        assert v.arm(True) == MavResult.TEMPORARILY_REJECTED

    def test_gps_loss_in_flight_lands(self) -> None:
        v = make()
        fly_up(v)
        v.inject(Failure.GPS_LOSS, True)
        assert v.mode == "AUTO.LAND"

    def test_battery_fault_collapses_the_charge_and_drains_fast(self) -> None:
        v = make()
        fly_up(v)
        v.inject(Failure.BATTERY_FAULT, True)
        assert v.battery.percent <= 12.0
        run_until(v, lambda: v.mode == "AUTO.LAND", 120)  # emergency level reached
        texts = [t.text for t in v.drain_texts()]
        assert "Emergency battery level! Landing" in texts


class TestBattery:
    def test_hover_drains_about_hover_power_over_capacity(self) -> None:
        v = make()
        fly_up(v)
        before = v.battery.percent
        v.step(60.0)
        used_wh = (before - v.battery.percent) / 100 * v.config.battery.capacity_wh
        assert used_wh == pytest.approx(350.0 / 60, rel=0.05)

    def test_voltage_sags_under_load(self) -> None:
        v = make()
        rest = v.battery.voltage
        fly_up(v)
        assert v.battery.voltage < rest - 0.3

    def test_a_landed_disarmed_vehicle_charges_on_a_pad(self) -> None:
        cfg = SimVehicleConfig("uav0", "/uav0/mavros", HOME,
                               battery=replace(BatterySpec(), initial_percent=50.0))
        pad = ChargingPad("st", 0, HOME, 1.5, 600.0)
        v = SimVehicle(cfg, pads=(pad,))
        v.step(60.0)
        assert v.battery.charging
        assert v.battery.percent == pytest.approx(50.0 + 600 / 60 / 222 * 100, rel=0.01)


def test_the_same_seed_gives_the_same_noisy_track() -> None:
    def track(seed: int) -> list[tuple[float, float]]:
        cfg = SimVehicleConfig("uav0", "/uav0/mavros", HOME, gps_noise_m=0.5)
        v = SimVehicle(cfg, seed=seed)
        out = []
        for _ in range(20):
            v.step(0.1)
            p = v.position()
            out.append((p.latitude, p.longitude))
        return out

    assert track(7) == track(7)
    assert track(7) != track(8)


def test_step_rejects_a_bad_time_step() -> None:
    with pytest.raises(ValueError, match="nan"):
        make().step(math.nan)
