"""Survey patterns cover the allowed area, stay inside it and measure right at any latitude."""

from __future__ import annotations

import itertools
import math

import pytest
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon

from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.planning import (
    MissionPlan,
    PlanningContext,
    WaypointKind,
    parse_request,
    plan_mission,
)
from fleet_core.planning.projection import Projection

from .conftest import FRAME, VEHICLE, rect, ring, survey_spec

GEOD = Geod(ellps="WGS84")


def survey_points(plan: MissionPlan) -> list[tuple[float, float]]:
    return [FRAME.to_enu(w.position)[:2] for w in plan.waypoints
            if w.kind is WaypointKind.SURVEY]


def test_lawnmower_covers_the_allowed_area_with_the_given_footprint_and_overlap(
        ctx: PlanningContext) -> None:
    plan = plan_mission(parse_request(survey_spec([ring(rect(0, 0, 200, 150))])), ctx)
    assert plan.coverage_pct is not None
    assert plan.coverage_pct >= 99.0
    assert plan.line_spacing_m == pytest.approx(40.0 * 0.3)
    assert plan.trigger_distance_m == pytest.approx(30.0 * 0.2)
    # 150 m across at 12 m spacing: 13 lines of 200 m.
    assert len(survey_points(plan)) == 26
    assert plan.waypoints[0].kind is WaypointKind.TAKEOFF
    assert plan.waypoints[-1].kind is WaypointKind.LAND


def test_lawnmower_lines_follow_the_longest_edge_unless_a_bearing_is_given(
        ctx: PlanningContext) -> None:
    area = [ring(rect(0, 0, 200, 100))]
    default = survey_points(plan_mission(parse_request(survey_spec(area)), ctx))
    assert abs(default[1][1] - default[0][1]) < 0.5  # east-west lines along the 200 m edge
    north = survey_points(plan_mission(parse_request(survey_spec(area, sweep_deg=0.0)), ctx))
    assert abs(north[1][0] - north[0][0]) < 0.5
    assert len(north) > len(default)


def test_field_of_view_gives_the_footprint_at_altitude(ctx: PlanningContext) -> None:
    spec = survey_spec([ring(rect(0, 0, 200, 150))],
                       camera={"hfov_deg": 90.0, "vfov_deg": 60.0}, side_overlap_pct=50.0)
    plan = plan_mission(parse_request(spec), ctx)
    # 2 * 50 m * tan(45 deg) = 100 m wide; half of it between lines.
    assert plan.line_spacing_m == pytest.approx(50.0)


def test_crosshatch_flies_two_perpendicular_passes(ctx: PlanningContext) -> None:
    area = [ring(rect(0, 0, 200, 150))]
    single = plan_mission(parse_request(survey_spec(area)), ctx)
    cross = plan_mission(parse_request(survey_spec(area, pattern="crosshatch")), ctx)
    pts = survey_points(cross)
    segs = list(zip(pts[::2], pts[1::2], strict=True))
    east_west = sum(abs(b[1] - a[1]) < 0.5 for a, b in segs)
    north_south = sum(abs(b[0] - a[0]) < 0.5 for a, b in segs)
    assert east_west == 13
    assert north_south == 17  # 200 m across at 12 m
    assert east_west + north_south == len(segs)
    # 200 m x 13 + 150 m x 17 of lines, plus turns and the transits out and home.
    assert 5150 < cross.distance_m < 5150 + 1500
    assert cross.distance_m > single.distance_m
    assert cross.coverage_pct is not None
    assert cross.coverage_pct >= 99.0


def test_perimeter_runs_inside_the_boundary(ctx: PlanningContext) -> None:
    plan = plan_mission(parse_request(survey_spec([ring(rect(0, 0, 200, 150))],
                                                  pattern="perimeter")), ctx)
    pts = survey_points(plan)
    area = Polygon(rect(0, 0, 200, 150))
    assert all(area.contains(Point(p)) for p in pts)
    assert all(abs(area.exterior.distance(Point(p)) - 6.0) < 0.1 for p in pts)
    loop = LineString(pts)
    assert loop.length == pytest.approx(2 * (188 + 138), rel=0.01)


@pytest.mark.parametrize("direction", ["outward", "inward"])
def test_spiral_rings_stay_inside_and_cover_the_area(ctx: PlanningContext,
                                                     direction: str) -> None:
    plan = plan_mission(parse_request(survey_spec([ring(rect(0, 0, 200, 150))],
                                                  pattern="spiral", spiral=direction)), ctx)
    pts = survey_points(plan)
    area = Polygon(rect(0, 0, 200, 150))
    assert all(area.contains(Point(p)) for p in pts)
    edge = [area.exterior.distance(Point(p)) for p in pts]
    if direction == "outward":
        assert edge[0] > edge[-1]
    else:
        assert edge[0] < edge[-1]
    assert plan.coverage_pct is not None
    assert plan.coverage_pct >= 99.0
    # Rings 12 m apart over 30,000 m^2: about area / spacing of track.
    track = sum(math.dist(a, b) for a, b in itertools.pairwise(pts))
    assert 0.8 * 30_000 / 12 < track < 1.3 * 30_000 / 12


def test_a_concave_area_with_a_hole_is_covered_without_surveying_the_hole(
        ctx: PlanningContext) -> None:
    l_shape = [(0, 0), (240, 0), (240, 80), (80, 80), (80, 200), (0, 200)]
    hole = rect(20, 20, 60, 60)
    spec = survey_spec([ring(l_shape), ring(hole)[::-1]])
    plan = plan_mission(parse_request(spec), ctx)
    assert plan.coverage_pct is not None
    assert plan.coverage_pct >= 99.0
    area = Polygon(l_shape, [hole])
    pts = survey_points(plan)
    segs = list(zip(pts[::2], pts[1::2], strict=True))
    for a, b in segs:
        assert area.buffer(0.01).contains(LineString([a, b]))


def test_distances_are_right_at_60_degrees_north() -> None:
    frame = LocalFrame.at(GeoPoint(60.0, 10.0))
    ctx = PlanningContext(start=frame.to_geo(-100, -100, 0), vehicle=VEHICLE)
    spec = survey_spec([ring(rect(0, 0, 300, 150), frame)])
    plan = plan_mission(parse_request(spec), ctx)
    lons = [w.position.longitude for w in plan.waypoints]
    lats = [w.position.latitude for w in plan.waypoints]
    geodesic = GEOD.line_length(lons, lats)
    assert plan.distance_m == pytest.approx(geodesic, rel=0.005)
    # And the lines really are 300 m long on the ellipsoid.
    pts = [w.position for w in plan.waypoints if w.kind is WaypointKind.SURVEY]
    _, _, d = GEOD.inv(pts[0].longitude, pts[0].latitude, pts[1].longitude, pts[1].latitude)
    assert d == pytest.approx(300.0, rel=0.005)


def test_the_projection_round_trips_to_a_millimetre() -> None:
    proj = Projection(60.0, 10.0)
    lonlats = [(10.01, 60.02), (9.97, 59.99)]
    back = proj.inverse(proj.forward(lonlats))
    for (lon, lat), (lon2, lat2) in zip(lonlats, back, strict=True):
        assert GEOD.inv(lon, lat, lon2, lat2)[2] < 1e-3


def fine_circle(radius: float = 500.0, n: int = 10_000) -> list[tuple[float, float]]:
    """Return a circle drawn with ``n`` vertices (0.3 m apart at 500 m)."""
    return [(radius * math.cos(2 * math.pi * k / n), radius * math.sin(2 * math.pi * k / n))
            for k in range(n)]


def whole_plan_ctx(**kw: float) -> PlanningContext:
    """Return a context planning on one imaginary battery, from outside a 500 m circle."""
    return PlanningContext(start=FRAME.to_geo(-600.0, -600.0, 0.0), vehicle=VEHICLE,
                           now=1000.0, energy_limit=False, **kw)  # type: ignore[arg-type]


def closest_gap(plan: MissionPlan) -> float:
    """Return the shortest horizontal move between waypoints (landing is a vertical one)."""
    return min(math.dist(FRAME.to_enu(a.position)[:2], FRAME.to_enu(b.position)[:2])
               for a, b in itertools.pairwise(plan.waypoints) if b.kind is not WaypointKind.LAND)


def test_a_spiral_over_a_finely_drawn_circle_flies_few_waypoints_never_closer_than_2_m(
        ) -> None:
    # Without simplification: 79,010 waypoints, some 2.5 cm apart, costed at 9,709 Wh.
    spec = survey_spec([ring(fine_circle())], pattern="spiral")
    plan = plan_mission(parse_request(spec), whole_plan_ctx())
    assert len(plan.waypoints) < 3000
    assert closest_gap(plan) >= 2.0
    assert plan.coverage_pct is not None
    assert plan.coverage_pct >= 99.0
    assert plan.line_spacing_m == pytest.approx(12.0)
    # About area / spacing of track (65 km): the energy is that of flying it, not of stops.
    assert 0.9 * math.pi * 500**2 / 12 < plan.distance_m < 1.2 * math.pi * 500**2 / 12
    assert plan.energy_wh < 3000


def test_a_perimeter_of_a_finely_drawn_circle_flies_few_waypoints_never_closer_than_2_m(
        ) -> None:
    # Today's planner flew it as 10,004 waypoints 0.3 m apart.
    spec = survey_spec([ring(fine_circle())], pattern="perimeter")
    plan = plan_mission(parse_request(spec), whole_plan_ctx())
    assert closest_gap(plan) >= 2.0
    assert len(plan.waypoints) < 200
    pts = survey_points(plan)
    # Still a loop 6 m (half a line spacing) inside the edge, give or take the tolerance.
    assert all(5.9 < 500.0 - math.hypot(*p) < 6.0 + 2 * 1.5 for p in pts)
    assert LineString(pts).length == pytest.approx(2 * math.pi * 494.0, rel=0.01)


def test_a_sweep_line_shorter_than_the_minimum_spacing_is_flown_as_one_waypoint(
        ctx: PlanningContext) -> None:
    # 145.4 m high at 12 m spacing: the top line is 0.7 m below the apex, 0.96 m long.
    apex = [(0.0, 0.0), (200.0, 0.0), (100.0, 145.4)]
    plan = plan_mission(parse_request(survey_spec([ring(apex)])), ctx)
    assert closest_gap(plan) >= 2.0
    tip = [p for p in survey_points(plan) if p[1] > 140.0]
    assert len(tip) == 1
    assert plan.coverage_pct is not None
    assert plan.coverage_pct >= 99.0


def test_the_minimum_waypoint_spacing_is_configurable() -> None:
    spec = survey_spec([ring(fine_circle(100.0, 4000))], pattern="spiral")
    plan = plan_mission(parse_request(spec), whole_plan_ctx(min_waypoint_spacing_m=10.0))
    assert closest_gap(plan) >= 10.0
    assert plan.coverage_pct is not None
    assert plan.coverage_pct >= 99.0


def test_a_spiral_over_a_finely_drawn_concave_area_with_a_hole_still_covers_it() -> None:
    # A 10,000-vertex outline: a wavy-edged disc with a round hole off its centre.
    n = 10_000
    outer = [((450 + 20 * math.sin(12 * a)) * math.cos(a), (450 + 20 * math.sin(12 * a))
              * math.sin(a)) for a in (2 * math.pi * k / n for k in range(n))]
    hole = [(150 + 60 * math.cos(a), 60 * math.sin(a))
            for a in (2 * math.pi * k / 2000 for k in range(2000))]
    spec = survey_spec([ring(outer), ring(hole[::-1])], pattern="spiral")
    plan = plan_mission(parse_request(spec), whole_plan_ctx())
    assert plan.coverage_pct is not None
    assert plan.coverage_pct >= 99.0
    assert closest_gap(plan) >= 2.0
    area = Polygon(outer, [hole])
    assert all(area.contains(Point(p)) for p in survey_points(plan))
    assert len(plan.waypoints) < 5000
