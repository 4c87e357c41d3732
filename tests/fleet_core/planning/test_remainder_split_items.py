"""Taking over the rest of a mission, splitting a survey, and MAVROS mission items."""

from __future__ import annotations

import pytest
from shapely.geometry import Polygon
from shapely.ops import unary_union

from fleet_core.mavlink import MavCmd, MavFrame
from fleet_core.planning import (
    MissionRequest,
    PlanningContext,
    PlanningError,
    RequestError,
    WaypointKind,
    mission_item_map,
    parse_request,
    plan_mission,
    plan_remainder,
    split_survey,
    to_mission_items,
)
from fleet_core.planning.projection import Projection

from .conftest import FRAME, VEHICLE, rect, ring, survey_spec, zone


def area_polygon(request: MissionRequest, proj: Projection) -> Polygon:
    assert request.area is not None
    polys = [proj.polygon(rings) for rings in request.area.polygons]
    merged = unary_union(polys)
    assert isinstance(merged, Polygon)
    return merged


def test_the_remainder_starts_from_the_new_vehicle_and_flies_the_rest(
        ctx: PlanningContext) -> None:
    plan = plan_mission(parse_request(survey_spec([ring(rect(0, 0, 200, 150))])), ctx)
    half = len(plan.waypoints) // 2
    other = PlanningContext(start=FRAME.to_geo(400, 400, 0), vehicle=VEHICLE, now=2000.0,
                            no_fly_zones=[zone("new", rect(250, 250, 350, 350))])
    rest = plan_remainder(plan, half, other)
    assert rest.waypoints[0].kind is WaypointKind.TAKEOFF
    assert FRAME.to_enu(rest.waypoints[0].position)[0] == pytest.approx(400.0, abs=0.5)
    before = [FRAME.to_enu(w.position) for w in plan.waypoints[half:]
              if w.kind is WaypointKind.SURVEY]
    after = [FRAME.to_enu(w.position) for w in rest.waypoints if w.kind is WaypointKind.SURVEY]
    assert len(after) == len(before)
    for p, q in zip(after, before, strict=True):
        assert p == pytest.approx(q, abs=0.01)
    assert rest.waypoints[-1].kind is WaypointKind.LAND
    assert FRAME.to_enu(rest.waypoints[-1].position)[0] == pytest.approx(400.0, abs=0.5)
    assert rest.start_time == 2000.0
    assert rest.distance_m < plan.distance_m + 800
    with pytest.raises(PlanningError, match="from_index 99 is outside"):
        plan_remainder(plan, 99, other)


def test_split_survey_parts_cover_the_area_with_about_equal_areas() -> None:
    l_shape = [(0, 0), (400, 0), (400, 120), (150, 120), (150, 300), (0, 300)]
    request = parse_request(survey_spec([ring(l_shape)]))
    parts = split_survey(request, 3)
    assert len(parts) == 3
    proj = Projection(FRAME.origin.latitude, FRAME.origin.longitude)
    whole = area_polygon(request, proj)
    pieces = [unary_union([proj.polygon(r) for r in p.area.polygons])  # type: ignore[union-attr]
              for p in parts]
    union = unary_union(pieces)
    assert union.symmetric_difference(whole).area < 1e-4 * whole.area
    for a in pieces:
        assert a.area == pytest.approx(whole.area / 3, rel=0.01)
    for i in range(3):
        for j in range(i + 1, 3):
            assert pieces[i].intersection(pieces[j]).area < 1e-4 * whole.area
    ctx = PlanningContext(start=FRAME.to_geo(-50, -50, 0), vehicle=VEHICLE)
    for part in parts:
        assert part.sweep_deg == parts[0].sweep_deg
        plan = plan_mission(part, ctx)
        assert plan.coverage_pct is not None
        assert plan.coverage_pct >= 99.0


def test_split_survey_refuses_what_it_cannot_split() -> None:
    request = parse_request(survey_spec([ring(rect(0, 0, 200, 150))]))
    with pytest.raises(RequestError, match="parts: must be an integer"):
        split_survey(request, 0)
    assert split_survey(request, 1) == [request]
    delivery = parse_request({"type": "delivery", "altitude_m": 40, "pickup": "@a",
                              "dropoff": "@b", "payload_kg": 1})
    with pytest.raises(RequestError, match="only a survey can be split"):
        split_survey(delivery, 2)


def test_a_plan_converts_to_mission_items_the_simulator_accepts(
        ctx: PlanningContext) -> None:
    from fleet_core.sim.config import SimVehicleConfig
    from fleet_core.sim.vehicle import SimVehicle

    spec = {"type": "emergency", "altitude_m": 30, "hover_s": 20,
            "target": {"latitude": FRAME.to_geo(200, 0, 0).latitude,
                       "longitude": FRAME.to_geo(200, 0, 0).longitude}}
    plan = plan_mission(parse_request(spec), ctx)
    items = to_mission_items(plan)
    index = mission_item_map(plan)
    assert [it.command for it in items] == [MavCmd.NAV_TAKEOFF, MavCmd.DO_CHANGE_SPEED,
                                            MavCmd.NAV_LOITER_TIME, MavCmd.NAV_WAYPOINT,
                                            MavCmd.NAV_LAND]
    assert all(it.frame == MavFrame.GLOBAL_REL_ALT for it in items)
    assert items[0].is_current
    assert items[2].param1 == 20.0
    assert items[1].param2 == 8.0
    assert index == [0, 1, 1, 2, 3]
    vehicle = SimVehicle(SimVehicleConfig("uav0", "/uav0/mavros", ctx.start), seed=0)
    assert vehicle.push_mission(items) == (True, len(items))


def test_a_plan_with_charging_stops_converts_one_leg_at_a_time() -> None:
    from fleet_core.fleet.model import VehicleSpec

    small = VehicleSpec("uav0", "/uav0/mavros", battery_capacity_wh=150.0)
    ctx = PlanningContext(start=FRAME.to_geo(0, 0, 0), vehicle=small,
                          charging_stations=[("pad", FRAME.to_geo(1500, 400, 0))])
    a, b = FRAME.to_geo(0, 300, 0), FRAME.to_geo(3000, 300, 0)
    spec = {"type": "patrol", "altitude_m": 40, "repeat": 2,
            "route": [{"latitude": a.latitude, "longitude": a.longitude},
                      {"latitude": b.latitude, "longitude": b.longitude}]}
    plan = plan_mission(parse_request(spec), ctx)
    with pytest.raises(ValueError, match="legs"):
        to_mission_items(plan)
    for k in range(len(plan.legs)):
        items = to_mission_items(plan, leg=k)
        assert items[0].command == MavCmd.NAV_TAKEOFF
        assert items[-1].command == MavCmd.NAV_LAND
