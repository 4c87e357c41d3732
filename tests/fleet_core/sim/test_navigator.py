"""The navigator turns the mode into a setpoint and steps through the uploaded mission."""

from __future__ import annotations

import math

import pytest

from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.mavlink import LandedState, MavCmd, MissionItem
from fleet_core.sim.config import SimVehicleConfig
from fleet_core.sim.kinematics import Airframe, Setpoint
from fleet_core.sim.navigator import Navigator
from fleet_core.sim.outbox import Outbox

HOME = GeoPoint(47.397742, 8.545594, 488.0)
FRAME = LocalFrame.at(HOME)
CONFIG = SimVehicleConfig("uav0", "/uav0/mavros", HOME)
LIMITS = CONFIG.limits
REL_ALT = 3


def item(cmd: int, east: float = 0.0, north: float = 0.0, alt: float = 20.0, *,
         p1: float = 0.0, p2: float = 0.0) -> MissionItem:
    g = FRAME.to_geo(east, north, 0.0)
    return MissionItem(REL_ALT, cmd, False, True, p1, p2, 0.0, 0.0, g.latitude, g.longitude, alt)


def navigator(*, up: float = 0.0) -> Navigator:
    state = LandedState.IN_AIR if up > 0 else LandedState.ON_GROUND
    body = Airframe(LIMITS, up=up, landed_state=state)
    return Navigator(CONFIG, FRAME, body, Outbox())


def control(nav: Navigator, mode: str, *, armed: bool = True) -> str | None:
    return nav.control(mode, 0.1, armed=armed, motor_failure=False)


class TestMission:
    def test_an_upload_with_one_unsupported_command_is_refused_whole(self) -> None:
        nav = navigator()
        assert not nav.load([item(MavCmd.NAV_WAYPOINT), item(MavCmd.CONDITION_YAW)], 0)
        assert nav.mission == ()
        assert nav.outbox.drain_texts()[-1].text == (
            f"Mission rejected: unsupported command {int(MavCmd.CONDITION_YAW)} at item 1")

    def test_a_partial_upload_keeps_the_items_before_its_start(self) -> None:
        nav = navigator()
        first = [item(MavCmd.NAV_WAYPOINT, 10), item(MavCmd.NAV_WAYPOINT, 20)]
        assert nav.load(first, 0)
        assert nav.load([item(MavCmd.NAV_WAYPOINT, 30)], 1)
        assert nav.mission == (first[0], item(MavCmd.NAV_WAYPOINT, 30))

    def test_a_partial_upload_past_the_end_is_refused(self) -> None:
        nav = navigator()
        assert not nav.load([item(MavCmd.NAV_WAYPOINT)], 1)

    def test_set_current_outside_the_mission_is_refused(self) -> None:
        nav = navigator()
        nav.load([item(MavCmd.NAV_WAYPOINT)], 0)
        assert not nav.set_current(1)
        assert nav.set_current(0)

    def test_a_reached_waypoint_is_announced_and_the_next_one_becomes_current(self) -> None:
        nav = navigator(up=20.0)
        nav.load([item(MavCmd.NAV_WAYPOINT), item(MavCmd.NAV_WAYPOINT, 100)], 0)
        control(nav, "AUTO.MISSION")
        assert nav.outbox.drain_reached() == [0]
        assert nav.seq == 1
        control(nav, "AUTO.MISSION")
        assert nav.setpoint.target == pytest.approx((100.0, 0.0), abs=0.01)

    def test_a_mission_starting_on_the_ground_inserts_a_takeoff(self) -> None:
        nav = navigator()
        nav.load([item(MavCmd.NAV_WAYPOINT, 100, alt=40)], 0)
        control(nav, "AUTO.MISSION")
        assert nav.setpoint == Setpoint(target=(0.0, 0.0), target_alt=40.0,
                                        speed=LIMITS.cruise_speed)
        assert nav.body.landed_state is LandedState.TAKEOFF
        assert nav.outbox.drain_texts()[-1].text == "Takeoff detected"


class TestModes:
    def test_a_disarmed_vehicle_gets_no_setpoint(self) -> None:
        nav = navigator()
        control(nav, "AUTO.TAKEOFF", armed=False)
        assert nav.setpoint == Setpoint()

    def test_takeoff_asks_for_hold_once_at_the_takeoff_altitude(self) -> None:
        nav = navigator(up=5.0)
        nav.set_takeoff_altitude(HOME.altitude + 15.0)
        assert control(nav, "AUTO.TAKEOFF") is None
        assert nav.setpoint.target_alt == 15.0
        nav.body.up = 14.6
        assert control(nav, "AUTO.TAKEOFF") == "AUTO.LOITER"

    def test_a_takeoff_altitude_below_one_metre_means_mis_takeoff_alt(self) -> None:
        nav = navigator()
        nav.set_takeoff_altitude(math.nan)
        assert nav.takeoff_alt == LIMITS.takeoff_altitude

    def test_rtl_climbs_then_returns_then_descends(self) -> None:
        nav = navigator(up=10.0)
        nav.body.east = 200.0
        nav.enter("AUTO.RTL")
        control(nav, "AUTO.RTL")
        assert nav.setpoint.target == (200.0, 0.0)
        assert nav.setpoint.target_alt == LIMITS.rtl_altitude
        nav.body.up = LIMITS.rtl_altitude
        control(nav, "AUTO.RTL")
        assert nav.setpoint.target == (0.0, 0.0)
        assert nav.setpoint.target_alt == LIMITS.rtl_altitude
        nav.body.east = 0.5
        control(nav, "AUTO.RTL")
        assert nav.setpoint.landing

    def test_entering_hold_in_the_air_holds_where_the_vehicle_is(self) -> None:
        nav = navigator(up=12.0)
        nav.body.north = 7.0
        nav.enter("AUTO.LOITER")
        assert nav.setpoint == Setpoint(target=(0.0, 7.0), target_alt=12.0,
                                        speed=LIMITS.cruise_speed)

    @pytest.mark.parametrize(("requested", "cruise"), [
        (0.0, LIMITS.cruise_speed), (5.0, 5.0), (99.0, LIMITS.max_horizontal_speed),
    ], ids=["default", "as asked", "capped"])
    def test_change_speed_falls_back_to_the_default_and_is_capped(
            self, requested: float, cruise: float) -> None:
        assert navigator().speed_setting(requested) == cruise

    def test_a_reposition_to_an_invalid_point_is_refused(self) -> None:
        assert navigator(up=10.0).reposition_setpoint(91.0, 0.0, math.nan) is None
