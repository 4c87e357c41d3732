"""A survey's mission items switch the camera on along its lines and off everywhere else."""

from __future__ import annotations

import json
import math

import pytest
from shapely.geometry import LineString, Polygon

from fleet_core.mavlink import MavCmd, MissionItem
from fleet_core.planning import (
    MissionPlan,
    PlanningContext,
    WaypointKind,
    mission_item_map,
    parse_request,
    plan_mission,
    plan_remainder,
    to_mission_items,
)
from fleet_core.planning.event_details import MissionEventDetails, planned_details
from fleet_core.planning.items import photo_lines, photos_on_line

from .conftest import FRAME, pos, rect, ring, survey_spec

CAM = MavCmd.DO_SET_CAM_TRIGG_DIST


def xy(plan: MissionPlan, k: int) -> tuple[float, float]:
    e, n, _ = FRAME.to_enu(plan.waypoints[k].position)
    return e, n


def line_length(plan: MissionPlan, first: int, last: int) -> float:
    return sum(math.dist(xy(plan, k - 1), xy(plan, k)) for k in range(first + 1, last + 1))


def camera_states(items: list[MissionItem]) -> list[float]:
    """Return the trigger distance in force when each item is flown to."""
    on = 0.0
    out = []
    for it in items:
        out.append(on)
        if it.command == CAM:
            on = it.param1
    return out


def lawnmower(ctx: PlanningContext, **kw: object) -> MissionPlan:
    return plan_mission(parse_request(survey_spec([ring(rect(0, 0, 200, 150))], **kw)), ctx)


def test_each_sweep_line_starts_the_camera_at_its_start_and_stops_it_at_its_end(
        ctx: PlanningContext) -> None:
    plan = lawnmower(ctx)
    items = to_mission_items(plan)
    cams = [(k, it) for k, it in enumerate(items) if it.command == CAM]
    # 150 m across at 12 m spacing: 13 lines, each bracketed by one "on" and one "off".
    assert len(cams) == 26
    assert plan.trigger_distance_m == pytest.approx(30.0 * 0.2)
    for (k_on, on), (k_off, off) in zip(cams[::2], cams[1::2], strict=True):
        assert (on.param1, on.param3) == (pytest.approx(plan.trigger_distance_m), 1.0)
        assert (off.param1, off.param3) == (0.0, 0.0)
        # On right after the line's first waypoint, off right after its last.
        assert items[k_on - 1].command == MavCmd.NAV_WAYPOINT
        assert [it.command for it in items[k_on + 1:k_off]] == [MavCmd.NAV_WAYPOINT]
        start = (items[k_on - 1].x_lat, items[k_on - 1].y_long)
        end = (items[k_off - 1].x_lat, items[k_off - 1].y_long)
        assert start != end


def test_transit_legs_fly_with_the_camera_off(ctx: PlanningContext) -> None:
    plan = lawnmower(ctx)
    items = to_mission_items(plan)
    states = camera_states(items)
    index = mission_item_map(plan)
    for it, on, k in zip(items, states, index, strict=True):
        if it.command in (MavCmd.NAV_TAKEOFF, MavCmd.NAV_LAND):
            assert on == 0.0
        if it.command == MavCmd.NAV_WAYPOINT:
            assert (on > 0) == plan.waypoints[k].photo
    first_line = next(k for k, w in enumerate(plan.waypoints) if w.photo)
    assert all(not w.photo for w in plan.waypoints[:first_line])
    assert plan.return_index is not None
    assert all(not w.photo for w in plan.waypoints[plan.return_index:])
    assert states[-1] == 0.0


def test_the_photo_count_follows_from_the_line_lengths_and_the_spacing(
        ctx: PlanningContext) -> None:
    plan = lawnmower(ctx)
    # 13 lines of 200 m at 6 m: a photo at each start, then 33 more.
    assert plan.photo_count == 13 * (1 + 33)
    lines = photo_lines(plan.waypoints)
    assert len(lines) == 13
    assert all(line_length(plan, a, b) == pytest.approx(200.0, abs=0.05) for a, b in lines)


def test_the_photo_spacing_follows_from_the_vertical_field_of_view_altitude_and_overlap(
        ctx: PlanningContext) -> None:
    spec = survey_spec([ring(rect(0, 0, 200, 150))], altitude_m=60.0,
                       camera={"hfov_deg": 70.0, "vfov_deg": 50.0}, front_overlap_pct=75.0)
    plan = plan_mission(parse_request(spec), ctx)
    spacing = 2 * 60.0 * math.tan(math.radians(25.0)) * 0.25
    assert plan.trigger_distance_m == pytest.approx(spacing)
    lines = photo_lines(plan.waypoints)
    assert plan.photo_count == sum(1 + math.floor(line_length(plan, a, b) / spacing)
                                   for a, b in lines)
    assert plan.photo_count > len(lines)


def test_the_legs_connecting_lines_around_a_hole_take_no_photos(ctx: PlanningContext) -> None:
    outer, hole = rect(0, 0, 240, 150), rect(80, 40, 160, 110)
    plan = plan_mission(parse_request(survey_spec([ring(outer), ring(hole)])), ctx)
    area = Polygon(outer, [hole])
    photo_legs = connecting = 0
    for k, w in enumerate(plan.waypoints[1:], start=1):
        leg = LineString([xy(plan, k - 1), xy(plan, k)])
        if w.photo:
            photo_legs += 1
            # Along the (east-west) sweep, never across the hole.
            assert area.buffer(0.5).contains(leg)
            assert abs(xy(plan, k)[1] - xy(plan, k - 1)[1]) < 0.5
        elif w.kind is WaypointKind.SURVEY:
            connecting += 1
    lines = photo_lines(plan.waypoints)
    assert photo_legs == len(lines) > 13  # lines through the hole's rows are cut in two
    assert connecting == len(lines)
    items = to_mission_items(plan)
    assert sum(1 for it in items if it.command == CAM) == 2 * len(lines)


def test_a_mission_without_a_camera_sends_no_camera_items(ctx: PlanningContext) -> None:
    spec = {"type": "patrol", "altitude_m": 40, "route": [pos(0, 300), pos(300, 300)]}
    plan = plan_mission(parse_request(spec), ctx)
    assert plan.photo_count is None
    assert not any(w.photo for w in plan.waypoints)
    assert all(it.command != CAM for it in to_mission_items(plan))


def test_camera_items_map_to_the_waypoint_they_follow(ctx: PlanningContext) -> None:
    plan = lawnmower(ctx)
    items = to_mission_items(plan)
    index = mission_item_map(plan)
    for k, it in enumerate(items):
        if it.command == CAM:
            assert index[k] == index[k - 1]
            assert plan.waypoints[index[k]].kind is WaypointKind.SURVEY


def test_each_leg_of_a_survey_with_charging_stops_switches_its_own_camera_off() -> None:
    from fleet_core.fleet.model import VehicleSpec

    small = VehicleSpec("uav0", "/uav0/mavros", battery_capacity_wh=60.0)
    ctx = PlanningContext(start=FRAME.to_geo(-50, -50, 0), vehicle=small,
                          charging_stations=[("pad", FRAME.to_geo(300, 75, 0))])
    plan = plan_mission(parse_request(survey_spec([ring(rect(0, 0, 600, 150))])), ctx)
    assert len(plan.legs) > 1
    total = 0
    for leg in range(len(plan.legs)):
        items = to_mission_items(plan, leg=leg)
        cams = [it.param1 for it in items if it.command == CAM]
        assert cams, f"leg {leg} takes no photos"
        assert cams[::2] == [pytest.approx(plan.trigger_distance_m)] * (len(cams) // 2)
        assert cams[1::2] == [0.0] * (len(cams) // 2)
        assert camera_states(items)[-1] == 0.0  # landing at the pad with the camera off
        total += len(cams) // 2
    assert total == len(photo_lines(plan.waypoints))


def test_the_remainder_of_a_survey_keeps_its_photo_lines_but_not_the_way_to_them(
        ctx: PlanningContext) -> None:
    plan = lawnmower(ctx)
    lines = photo_lines(plan.waypoints)
    third_end = lines[2][1]
    rest = plan_remainder(plan, third_end, ctx)
    rest_lines = photo_lines(rest.waypoints)
    assert len(rest_lines) == len(lines) - 3
    assert rest.photo_count == plan.photo_count * (len(lines) - 3) // len(lines)
    assert not rest.waypoints[1].photo


def test_a_photo_line_takes_one_photo_at_its_start_and_one_per_spacing_flown() -> None:
    assert photos_on_line(0.0, 10.0) == 1
    assert photos_on_line(9.99, 10.0) == 1
    assert photos_on_line(30.0, 10.0) == 4
    assert photos_on_line(30.000000001 - 1e-9, 10.0) == 4
    with pytest.raises(ValueError, match=r"trigger distance 0\.0 m"):
        photos_on_line(10.0, 0.0)
    with pytest.raises(ValueError, match=r"length -1\.0 m"):
        photos_on_line(-1.0, 10.0)


def test_the_plan_in_event_details_says_where_and_how_many_photos_are_taken(
        ctx: PlanningContext) -> None:
    plan = lawnmower(ctx)
    details = planned_details(mission_type="survey", priority=5, area=None, plan=plan)
    data = json.loads(details.to_json())
    assert data["plan"]["photo_count"] == plan.photo_count
    assert data["plan"]["trigger_distance_m"] == pytest.approx(6.0)
    assert data["plan"]["photo_lines"] == [list(line) for line in photo_lines(plan.waypoints)]
    back = MissionEventDetails.from_json(details.to_json())
    assert back.route is not None
    assert back.route.photo_count == plan.photo_count
    assert back.route.photo_lines == tuple(photo_lines(plan.waypoints))


def test_event_details_without_photos_read_as_before_and_bad_photo_lines_are_named(
        ctx: PlanningContext) -> None:
    old = {"plan": {"path": [[8.5, 47.3], [8.6, 47.3]], "distance_m": 10.0}}
    route = MissionEventDetails.from_dict(old).route
    assert route is not None
    assert (route.photo_count, route.photo_lines) == (None, ())
    assert "photo_count" not in route.to_dict()
    bad = {"plan": {**old["plan"], "photo_count": 3, "photo_lines": [[0, 5]]}}
    with pytest.raises(ValueError, match=r"photo line 0 .* path of 2 points: \[0, 5\]"):
        MissionEventDetails.from_dict(bad)
    with pytest.raises(ValueError, match="photo_count -1"):
        MissionEventDetails.from_dict({"plan": {**old["plan"], "photo_count": -1}})
