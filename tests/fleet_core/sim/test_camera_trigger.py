"""The simulated camera trigger takes the photos a survey's mission items ask for."""

from __future__ import annotations

import pytest

from fleet_core.fleet.model import VehicleSpec
from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.mavlink import MavCmd, MavResult, MissionItem
from fleet_core.planning import PlanningContext, parse_request, plan_mission, to_mission_items
from fleet_core.sim.camera import CameraTrigger
from fleet_core.sim.config import SimVehicleConfig
from fleet_core.sim.vehicle import SimVehicle

HOME = GeoPoint(47.397742, 8.545594, 488.0)
FRAME = LocalFrame.at(HOME)
REL_ALT = 3
CAM = MavCmd.DO_SET_CAM_TRIGG_DIST


def item(cmd: int, east: float = 0.0, north: float = 0.0, alt: float = 20.0, *,
         p1: float = 0.0, p3: float = 0.0) -> MissionItem:
    g = FRAME.to_geo(east, north, 0.0)
    return MissionItem(REL_ALT, cmd, False, True, p1, 0.0, p3, 0.0, g.latitude, g.longitude,
                       alt)


def vehicle() -> SimVehicle:
    return SimVehicle(SimVehicleConfig("uav0", "/uav0/mavros", HOME))


def fly_mission(v: SimVehicle, items: list[MissionItem], limit_s: float = 900.0) -> None:
    assert v.push_mission(items) == (True, len(items))
    assert v.request_mode("AUTO.MISSION")
    assert v.arm(True) == MavResult.ACCEPTED
    t = 0.0
    while v.armed:
        v.step(0.1)
        t += 0.1
        assert t < limit_s, f"mission not flown within {limit_s} s (item {v.mission_seq})"
    assert v.mission_finished


def ring(corners: list[tuple[float, float]]) -> list[list[float]]:
    out = []
    for e, n in [*corners, corners[0]]:
        g = FRAME.to_geo(e, n, 0.0)
        out.append([g.longitude, g.latitude])
    return out


class TestCameraTrigger:
    def test_it_shoots_once_at_once_then_once_per_spacing_flown(self) -> None:
        camera = CameraTrigger()
        assert camera.set_distance(10.0, shoot_now=True)
        assert camera.photos == 1
        camera.travel(9.5)
        assert camera.photos == 1
        camera.travel(0.5)
        assert camera.photos == 2
        camera.travel(25.0)  # one step past two more spacings: both photos are taken
        assert camera.photos == 4
        camera.travel(5.0)  # the 5 m carried over from the last step reach the spacing
        assert camera.photos == 5

    def test_a_distance_of_zero_stops_it(self) -> None:
        camera = CameraTrigger()
        camera.set_distance(10.0, shoot_now=False)
        camera.travel(10.0)
        assert camera.set_distance(0.0, shoot_now=False)
        camera.travel(100.0)
        assert camera.photos == 1

    def test_a_negative_or_undefined_distance_is_refused_and_changes_nothing(self) -> None:
        camera = CameraTrigger()
        camera.set_distance(10.0, shoot_now=False)
        assert not camera.set_distance(-1.0, shoot_now=True)
        assert not camera.set_distance(float("nan"), shoot_now=True)
        assert (camera.distance_m, camera.photos) == (10.0, 0)


class TestMissionItems:
    def test_an_upload_with_camera_items_is_accepted(self) -> None:
        v = vehicle()
        items = [item(MavCmd.NAV_TAKEOFF), item(CAM, p1=5.0, p3=1.0),
                 item(MavCmd.NAV_WAYPOINT, 50), item(CAM)]
        assert v.push_mission(items) == (True, 4)

    def test_an_upload_with_a_negative_trigger_distance_is_refused_naming_it(self) -> None:
        v = vehicle()
        assert v.push_mission([item(MavCmd.NAV_TAKEOFF), item(CAM, p1=-5.0)]) == (False, 0)
        assert v.drain_texts()[-1].text == (
            "Mission rejected: camera trigger distance -5.0 at item 1 is not >= 0")

    def test_photos_are_taken_along_the_line_only(self) -> None:
        v = vehicle()
        # 50 m to the line, a 95 m line at 10 m spacing, 105 m back home.
        fly_mission(v, [item(MavCmd.NAV_TAKEOFF), item(MavCmd.NAV_WAYPOINT, 50),
                        item(CAM, p1=10.0, p3=1.0), item(MavCmd.NAV_WAYPOINT, 50, 95),
                        item(CAM), item(MavCmd.NAV_WAYPOINT), item(MavCmd.NAV_LAND)])
        # One at the start and one per 10 m flown with the camera on (about 95 m: the
        # waypoints are reached up to 2 m early, NAV_ACC_RAD, and turned into late).
        assert v.photo_count == 10

    def test_command_long_sets_the_trigger_distance(self) -> None:
        v = vehicle()
        assert v.command(CAM, (5.0, 0.0, 1.0)) == MavResult.ACCEPTED
        assert v.photo_count == 1
        assert v.command(CAM, (float("nan"),)) == MavResult.DENIED

    def test_triggering_pauses_while_the_mission_does_not_run(self) -> None:
        v = vehicle()
        assert v.takeoff(HOME.altitude + 20.0) == MavResult.ACCEPTED
        assert v.arm(True) == MavResult.ACCEPTED
        for _ in range(150):
            v.step(0.1)
        assert v.command(CAM, (5.0, 0.0, 0.0)) == MavResult.ACCEPTED
        g = FRAME.to_geo(100.0, 0.0, 0.0)
        assert v.command(MavCmd.DO_REPOSITION, (0, 0, 0, 0, g.latitude, g.longitude,
                                                HOME.altitude + 20.0)) == MavResult.ACCEPTED
        for _ in range(300):
            v.step(0.1)
        assert v.east > 90.0
        assert v.photo_count == 0


def test_a_planned_survey_flown_by_the_simulator_takes_the_planned_photos() -> None:
    ctx = PlanningContext(start=HOME, vehicle=VehicleSpec("uav0", "/uav0/mavros"))
    # Lines of 90 m at 24 m spacing: 3.75 spacings, well away from a whole number, so
    # reaching waypoints 2 m early (NAV_ACC_RAD) cannot cost a photo.
    spec = {"type": "survey", "altitude_m": 20.0, "speed_mps": 8.0, "sweep_deg": 90.0,
            "area": {"type": "Polygon", "coordinates": [ring([(40, 20), (130, 20), (130, 110),
                                                              (40, 110)])]},
            "camera": {"footprint_width_m": 40.0, "footprint_height_m": 30.0},
            "side_overlap_pct": 20.0, "front_overlap_pct": 20.0}
    plan = plan_mission(parse_request(spec), ctx)
    assert plan.trigger_distance_m == pytest.approx(24.0)
    assert plan.photo_count == 3 * (1 + 3)
    v = vehicle()
    fly_mission(v, to_mission_items(plan))
    assert v.photo_count == plan.photo_count
