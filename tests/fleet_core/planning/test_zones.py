"""No-fly zones: transits go around them, coverage leaves them out, inactive ones do not count."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from shapely.geometry import LineString, Point, Polygon

from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.planning import (
    MissionPlan,
    PlanningContext,
    PlanningError,
    Waypoint,
    WaypointKind,
    parse_request,
    plan_mission,
    validate_waypoints,
)

from .conftest import FRAME, VEHICLE, rect, ring, survey_spec, zone

# Start 600 m west of the area; a zone sits across the straight line between them.
START = FRAME.to_geo(-600.0, 75.0, 0.0)
BLOCKER = zone("blocker", rect(-350, -100, -250, 250))


def legs_in_metres(plan: MissionPlan) -> list[LineString]:
    pts = [FRAME.to_enu(w.position)[:2] for w in plan.waypoints]
    return [LineString([a, b]) for a, b in itertools.pairwise(pts) if a != b]


def zone_shape(z: NoFlyZone) -> Polygon:
    return Polygon([FRAME.to_enu(p)[:2] for p in z.polygon])


def assert_clear_of(plan: MissionPlan, z: NoFlyZone, margin: float = 0.0) -> None:
    shape = zone_shape(z).buffer(margin - 0.1) if margin else zone_shape(z)
    for leg in legs_in_metres(plan):
        assert not leg.intersects(shape), f"{leg} enters {z.zone_id}"


def plan_with(zones: list[NoFlyZone], *, now: float = 1000.0, **kw: object) -> MissionPlan:
    ctx = PlanningContext(start=START, vehicle=VEHICLE, now=now, no_fly_zones=zones)
    return plan_mission(parse_request(survey_spec([ring(rect(0, 0, 200, 150))], **kw)), ctx)


def test_the_transit_to_the_area_goes_around_a_zone_in_the_way() -> None:
    direct = plan_with([])
    plan = plan_with([BLOCKER])
    assert_clear_of(plan, BLOCKER, margin=10.0)
    assert plan.distance_m > direct.distance_m + 100
    assert any(w.kind is WaypointKind.TRANSIT for w in plan.waypoints[1:5])


def test_a_zone_inside_the_area_is_left_out_of_the_coverage() -> None:
    inner = zone("inner", rect(80, 50, 120, 100))
    plan = plan_with([inner])
    assert_clear_of(plan, inner, margin=10.0)
    assert plan.coverage_pct is not None
    assert plan.coverage_pct >= 99.0
    assert any("excluded by no-fly zones" in w for w in plan.warnings)


def test_an_inactive_zone_is_not_avoided() -> None:
    later = zone("later", rect(-350, -100, -250, 250), active_from=10_000_000.0)
    expired = zone("expired", rect(-350, -100, -250, 250), active_until=500.0)
    assert plan_with([later, expired]).distance_m == pytest.approx(plan_with([]).distance_m)


def test_a_zone_that_becomes_active_during_the_flight_is_avoided() -> None:
    soon = zone("soon", rect(-350, -100, -250, 250), active_from=1100.0)
    assert_clear_of(plan_with([soon]), soon)


def test_a_zone_whose_band_is_above_the_flight_altitude_is_not_avoided() -> None:
    high = zone("high", rect(-350, -100, -250, 250), floor_m=120.0, ceiling_m=400.0)
    assert plan_with([high]).distance_m == pytest.approx(plan_with([]).distance_m)
    low = zone("low", rect(-350, -100, -250, 250), floor_m=0.0, ceiling_m=60.0)
    assert_clear_of(plan_with([low]), low)


def test_a_start_inside_a_zone_is_rejected() -> None:
    around_start = zone("home", rect(-650, 25, -550, 125))
    with pytest.raises(PlanningError, match="vehicle's position is inside no-fly zone 'home'"):
        plan_with([around_start])


def test_an_area_entirely_inside_a_zone_is_rejected() -> None:
    with pytest.raises(PlanningError, match="entirely inside no-fly zones"):
        plan_with([zone("all", rect(-20, -20, 220, 170))])


def test_a_target_boxed_in_by_zones_has_no_route() -> None:
    walls = [zone("w", rect(-500, -500, 700, -400)), zone("e", rect(600, -400, 700, 600)),
             zone("n", rect(-500, 500, 600, 600)), zone("s", rect(-500, -400, -400, 500))]
    ctx = PlanningContext(start=FRAME.to_geo(-800, 0, 0), vehicle=VEHICLE, no_fly_zones=walls)
    spec = {"type": "emergency", "altitude_m": 40, "target": _pos(0, 0), "hover_s": 10}
    with pytest.raises(PlanningError, match="no route around the no-fly zones to target"):
        plan_mission(parse_request(spec), ctx)


def _pos(e: float, n: float) -> dict[str, float]:
    p = FRAME.to_geo(e, n, 0.0)
    return {"latitude": p.latitude, "longitude": p.longitude}


def test_a_delivery_routes_around_several_zones() -> None:
    zones = [zone(f"z{k}", rect(200 + 300 * k, -150 + 60 * k, 300 + 300 * k, 150 + 60 * k))
             for k in range(4)]
    ctx = PlanningContext(start=FRAME.to_geo(0, 0, 0), vehicle=VEHICLE, no_fly_zones=zones)
    spec = {"type": "delivery", "altitude_m": 40, "pickup": _pos(50, 0),
            "dropoff": _pos(1500, 100), "payload_kg": 1.0}
    plan = plan_mission(parse_request(spec), ctx)
    for z in zones:
        assert_clear_of(plan, z, margin=10.0)
    kinds = [w.kind for w in plan.waypoints]
    assert kinds.index(WaypointKind.PICKUP) < kinds.index(WaypointKind.DROPOFF)


def test_edited_waypoints_crossing_an_active_zone_are_refused() -> None:
    ctx = PlanningContext(start=FRAME.to_geo(-600, 75, 0), vehicle=VEHICLE, now=1000.0,
                          no_fly_zones=[BLOCKER])
    clear = [Waypoint(FRAME.to_geo(-600, 400, 50), WaypointKind.TRANSIT),
             Waypoint(FRAME.to_geo(0, 400, 50), WaypointKind.TRANSIT)]
    validate_waypoints(clear, ctx)
    crossing = [Waypoint(FRAME.to_geo(0, 75, 50), WaypointKind.TRANSIT)]
    with pytest.raises(PlanningError, match="leg to waypoint 0 crosses no-fly zone 'blocker'"):
        validate_waypoints(crossing, ctx)
    inside = [*clear, Waypoint(FRAME.to_geo(-300, 0, 50), WaypointKind.TRANSIT)]
    with pytest.raises(PlanningError, match="waypoint 2 is inside no-fly zone 'blocker'"):
        validate_waypoints(inside, ctx)


def test_edited_waypoints_may_cross_an_inactive_zone_or_fly_over_its_ceiling() -> None:
    crossing = [Waypoint(FRAME.to_geo(0, 75, 50), WaypointKind.TRANSIT)]
    expired = zone("old", rect(-350, -100, -250, 250), active_until=10.0)
    low = zone("low", rect(-350, -100, -250, 250), ceiling_m=30.0)
    ctx = PlanningContext(start=START, vehicle=VEHICLE, now=1000.0, no_fly_zones=[expired, low])
    validate_waypoints(crossing, ctx)


def test_garbage_waypoints_are_refused() -> None:
    ctx = PlanningContext(start=START, vehicle=VEHICLE)
    with pytest.raises(PlanningError, match="waypoint 0 is not a valid position"):
        validate_waypoints([Waypoint(FRAME.to_geo(0, 0, float("nan")), WaypointKind.TRANSIT)],
                           ctx)
    with pytest.raises(PlanningError, match="no waypoints"):
        validate_waypoints([], ctx)


def test_a_zone_near_the_area_keeps_its_margin() -> None:
    beside = zone("beside", rect(-40, 0, -20, 150))
    plan = plan_with([beside])
    pts = [Point(FRAME.to_enu(w.position)[:2]) for w in plan.waypoints]
    shape = zone_shape(beside)
    assert min(shape.distance(p) for p in pts[1:-2]) >= 9.9


def test_edited_waypoints_the_battery_cannot_fly_home_from_are_refused() -> None:
    far = [Waypoint(FRAME.to_geo(0, 3000, 50), WaypointKind.TRANSIT),
           Waypoint(FRAME.to_geo(3000, 3000, 50), WaypointKind.TRANSIT, hold_s=60.0)]
    full = PlanningContext(start=START, vehicle=VEHICLE, now=1000.0)
    validate_waypoints(far, full)  # about 60 Wh of a full 222 Wh battery
    low = dataclasses.replace(full, available_energy_wh=80.0)
    with pytest.raises(PlanningError, match=r"the new waypoints and the flight home need "
                                            r"\d+ Wh plus a 44 Wh reserve \(20 %\), but only "
                                            r"80 Wh are left"):
        validate_waypoints(far, low)
    # A long hover costs energy too.
    hover = [Waypoint(FRAME.to_geo(0, 100, 50), WaypointKind.LOITER, hold_s=1800.0)]
    with pytest.raises(PlanningError, match="flight home need"):
        validate_waypoints(hover, full)
