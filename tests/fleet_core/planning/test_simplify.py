"""Simplified outlines keep their safe side, and waypoints are never closer than the minimum."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon

from fleet_core.errors import ConfigError
from fleet_core.missions_config import load_planner_settings
from fleet_core.planning import PlanningContext, PlanningError, parse_request, plan_mission
from fleet_core.planning.environment import PlanEnvironment
from fleet_core.planning.simplify import grow_simplified, shrink_simplified, thin_polyline

from .conftest import FRAME, VEHICLE, pos, rect, ring, survey_spec, zone


def circle(radius: float, n: int = 10_000, centre: tuple[float, float] = (0.0, 0.0),
           ) -> list[tuple[float, float]]:
    """Return ``n`` vertices on a circle, counter-clockwise."""
    return [(centre[0] + radius * math.cos(2 * math.pi * k / n),
             centre[1] + radius * math.sin(2 * math.pi * k / n)) for k in range(n)]


def jagged(radius: float, n: int = 10_000, seed: int = 7) -> list[tuple[float, float]]:
    """Return a star-shaped outline whose radius jumps by up to 2 m from vertex to vertex."""
    rng = np.random.default_rng(seed)
    r = radius + rng.uniform(-2.0, 2.0, n)
    a = 2 * math.pi * np.arange(n) / n
    return list(zip((r * np.cos(a)).tolist(), (r * np.sin(a)).tolist(), strict=True))


def farthest_vertex(geom: Polygon | MultiPolygon, original: Polygon | MultiPolygon) -> float:
    """Return how far the furthest vertex of ``geom`` is from the outline of ``original``."""
    corners = shapely.points(shapely.get_coordinates(geom))
    return float(np.max(shapely.distance(corners, original.boundary)))


def vertices(geom: Polygon | MultiPolygon) -> int:
    polys = [geom] if isinstance(geom, Polygon) else list(geom.geoms)
    return sum(len(r.coords) - 1 for p in polys for r in (p.exterior, *p.interiors))


# Coarser than the jagged outline's 2 m noise, as a footprint or a margin is.
TOLERANCE_M = 4.0
SHAPES: dict[str, Polygon | MultiPolygon] = {
    "circle": Polygon(circle(500.0)),
    "jagged": Polygon(jagged(300.0)),
    "ring with a hole": Polygon(circle(500.0), [circle(200.0)[::-1]]),
    "two circles": MultiPolygon([Polygon(circle(100.0, 4000)),
                                 Polygon(circle(100.0, 4000, centre=(400.0, 0.0)))]),
}


@pytest.mark.parametrize("name", SHAPES)
def test_grow_simplified_contains_the_original_with_far_fewer_vertices(name: str) -> None:
    original = SHAPES[name]
    grown = grow_simplified(original, TOLERANCE_M)
    assert grown.covers(original)
    assert vertices(grown) < vertices(original) / 20
    # Grown by no more than about twice the tolerance anywhere.
    assert farthest_vertex(grown, original) <= 2 * TOLERANCE_M + 0.01


@pytest.mark.parametrize("name", SHAPES)
def test_shrink_simplified_lies_inside_the_original_with_far_fewer_vertices(name: str) -> None:
    original = SHAPES[name]
    shrunk = shrink_simplified(original, TOLERANCE_M)
    assert original.covers(shrunk)
    assert vertices(shrunk) < vertices(original) / 20
    assert farthest_vertex(shrunk, original) <= 2 * TOLERANCE_M + 0.01
    assert shrunk.area > 0.97 * original.area


def test_a_simple_outline_is_returned_unchanged() -> None:
    square = Polygon(rect(0, 0, 100, 100))
    assert grow_simplified(square, 5.0).equals(square)
    assert shrink_simplified(square, 5.0).equals(square)
    assert grow_simplified(square, 0.0) is square


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_a_bad_tolerance_is_refused_naming_it(bad: float) -> None:
    with pytest.raises(ValueError, match=f"tolerance .* got {bad!r}"):
        grow_simplified(Polygon(rect(0, 0, 10, 10)), bad)


def test_thin_polyline_keeps_the_ends_and_nothing_closer_than_the_minimum() -> None:
    line = [(0.3 * k, 0.0) for k in range(101)]  # 30 m in 0.3 m steps
    thin = thin_polyline(line, 2.0)
    assert thin[0] == line[0]
    assert thin[-1] == line[-1]
    assert min(math.dist(a, b) for a, b in itertools.pairwise(thin)) >= 2.0
    assert len(thin) <= 16


def test_thin_polyline_keeps_a_loop_closed() -> None:
    loop = [*circle(10.0, 200), (10.0, 0.0)]
    thin = thin_polyline(loop, 2.0)
    assert thin[0] == thin[-1] == (10.0, 0.0)
    assert min(math.dist(a, b) for a, b in itertools.pairwise(thin)) >= 2.0


def test_thin_polyline_collapses_a_line_shorter_than_the_minimum_to_one_point() -> None:
    assert thin_polyline([(0.0, 0.0), (0.5, 0.0), (1.0, 0.0)], 2.0) == [(0.0, 0.0)]
    assert thin_polyline([(0.0, 0.0), (1.0, 0.0)], 0.0) == [(0.0, 0.0), (1.0, 0.0)]


def test_a_finely_drawn_no_fly_zone_is_planned_around_as_a_simplified_zone_containing_it(
        ctx: PlanningContext) -> None:
    fine = circle(200.0, centre=(600.0, 0.0))
    c = PlanningContext(start=ctx.start, vehicle=VEHICLE, now=ctx.now,
                        no_fly_zones=[zone("round", fine)])
    env = PlanEnvironment(c, 50.0, [], (c.now, c.now + 3600.0))
    original = Polygon(env.proj.forward([(p.longitude, p.latitude)
                                         for p in c.no_fly_zones[0].polygon]))
    shape = env.band[0].shape
    assert shape.covers(original)
    assert vertices(shape) < 200
    # And a delivery past it keeps out of the original zone.
    spec = {"type": "delivery", "altitude_m": 50.0, "payload_kg": 0.5,
            "pickup": pos(300.0, 0.0), "dropoff": pos(900.0, 0.0)}
    plan = plan_mission(parse_request(spec), c)
    path = [FRAME.to_enu(w.position)[:2] for w in plan.waypoints]
    flown = LineString(path)
    assert flown.distance(Polygon(fine)) >= c.zone_margin_m - 0.1


@pytest.mark.parametrize("bad", [-1.0, math.nan, 1000.0])
def test_a_bad_minimum_waypoint_spacing_is_refused_naming_it(ctx: PlanningContext,
                                                              bad: float) -> None:
    c = PlanningContext(start=ctx.start, vehicle=VEHICLE, now=ctx.now,
                        min_waypoint_spacing_m=bad)
    with pytest.raises(PlanningError, match=f"min_waypoint_spacing_m .* got {bad}"):
        plan_mission(parse_request(survey_spec([ring(rect(0, 0, 100, 100))])), c)


def test_the_minimum_waypoint_spacing_is_read_from_missions_yaml_and_checked() -> None:
    s = load_planner_settings({"mission_planner": {"min_waypoint_spacing_m": 5.0}})
    assert s.min_waypoint_spacing_m == 5.0
    assert load_planner_settings({"mission_planner": {}}).min_waypoint_spacing_m == 2.0
    with pytest.raises(ConfigError, match=r"min_waypoint_spacing_m must be within 0\.\.50 m, "
                                          r"got -1"):
        load_planner_settings({"mission_planner": {"min_waypoint_spacing_m": -1}})
