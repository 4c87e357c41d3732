"""Inspection missions: an orbit around a structure and a flight along an area's perimeter."""

from __future__ import annotations

import dataclasses
import math

import pytest
from shapely.geometry import Point, Polygon

from fleet_core.planning import (
    PlanningContext,
    PlanningError,
    WaypointKind,
    parse_request,
    plan_mission,
)

from .conftest import FRAME, pos, rect, ring, zone


def test_an_orbit_circles_the_structure_at_its_radius_and_closes(ctx: PlanningContext) -> None:
    plan = plan_mission(parse_request({"type": "inspection", "altitude_m": 30.0,
                                       "orbit": {"centre": pos(100, 0), "radius_m": 30.0}}),
                        ctx)
    orbit = [FRAME.to_enu(w.position)[:2] for w in plan.waypoints
             if w.kind is WaypointKind.INSPECT]
    # 19 chords of at most 10 m around a 30 m circle, plus the first point again.
    assert len(orbit) == 20
    assert orbit[0] == pytest.approx(orbit[-1], abs=0.01)
    for e, n in orbit:
        assert math.hypot(e - 100.0, n) == pytest.approx(30.0, abs=0.05)
    assert all(w.position.altitude == pytest.approx(30.0) for w in plan.waypoints
               if w.kind is WaypointKind.INSPECT)
    # The circle is 188 m; the vehicle also flies out from (-50, -50) and back home.
    assert 2 * math.pi * 30.0 < plan.distance_m < 2 * math.pi * 30.0 + 2 * 180.0
    assert plan.waypoints[-1].kind is WaypointKind.LAND


def test_an_orbit_too_close_to_a_no_fly_zone_is_refused_naming_it(ctx: PlanningContext) -> None:
    ctx = dataclasses.replace(ctx, no_fly_zones=[
        zone("tower", rect(125, -10, 145, 10), floor_m=0.0, ceiling_m=100.0)])
    with pytest.raises(PlanningError, match=r"the orbit of 30 m around .* comes within 10 m "
                                            r"of a no-fly zone"):
        plan_mission(parse_request({"type": "inspection", "altitude_m": 30.0,
                                    "orbit": {"centre": pos(100, 0), "radius_m": 30.0}}),
                     ctx)


def test_a_perimeter_inspection_flies_the_boundary_itself_once_around(
        ctx: PlanningContext) -> None:
    corners = rect(0, 0, 200, 100)
    spec = {"type": "inspection", "altitude_m": 40.0, "pattern": "perimeter",
            "area": {"type": "Polygon", "coordinates": [ring(corners)]},
            "camera": {"footprint_width_m": 20.0, "footprint_height_m": 15.0},
            "side_overlap_pct": 0.0, "front_overlap_pct": 0.0}
    plan = plan_mission(parse_request(spec), ctx)
    area = Polygon(corners)
    work = [FRAME.to_enu(w.position)[:2] for w in plan.waypoints
            if w.kind not in (WaypointKind.TAKEOFF, WaypointKind.TRANSIT, WaypointKind.LAND)]
    # The fence line is what is inspected: its four corners, and back to the first.
    assert len(work) == 5
    assert work[0] == pytest.approx(work[-1], abs=0.01)
    for e, n in work:
        assert area.exterior.distance(Point(e, n)) < 0.05
    assert {(round(e), round(n)) for e, n in work} == set(corners)
    assert all(w.kind is WaypointKind.INSPECT for w in plan.waypoints[1:6])
