"""Routing around no-fly zones: clear of every zone and margin, near-shortest, and cheap.

Zones here are shapely polygons in metres, as the planner hands them to the router. The
reference path is an independent full visibility graph over every corner of the zones grown
by their margin (shapely's own buffers, one check per pair of corners): slow, but exact up
to the node offset.
"""

from __future__ import annotations

import heapq
import math
import random
from itertools import pairwise

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Polygon
from shapely.ops import unary_union

from fleet_core.planning.routing import Router

XY = tuple[float, float]


def circle(cx: float, cy: float, radius: float, vertices: int) -> Polygon:
    return Polygon([(cx + radius * math.cos(2 * math.pi * k / vertices),
                     cy + radius * math.sin(2 * math.pi * k / vertices))
                    for k in range(vertices)])


def u_shape(x: float, y: float, size: float) -> Polygon:
    """A U open to the north: a pocket a path has to go into to reach its bottom."""
    w = size / 4
    return Polygon([(x, y), (x + size, y), (x + size, y + size), (x + size - w, y + size),
                    (x + size - w, y + w), (x + w, y + w), (x + w, y + size), (x, y + size)])


def length(path: list[XY]) -> float:
    return sum(math.dist(a, b) for a, b in pairwise(path))


def assert_clear(path: list[XY], zones: list[Polygon], margin: float) -> None:
    """No leg enters a zone or comes nearer to it than the margin (5 cm rounding aside)."""
    keep_out = [z.buffer(margin - 0.1) if margin > 0.1 else z.buffer(-0.05) for z in zones]
    for a, b in pairwise(path):
        if a == b:
            continue
        leg = LineString([a, b])
        for k, shape in enumerate(keep_out):
            assert not leg.intersects(shape), f"leg {a} -> {b} enters zone {k} or its margin"


def reference_length(zones: list[Polygon], margin: float, a: XY, b: XY) -> float | None:
    """Shortest path over all corners of the zones grown by margin + 1 m (no pruning)."""
    grown = unary_union([z.buffer(margin + 1.0, join_style="mitre", mitre_limit=2.0)
                         for z in zones])
    polys = [grown] if isinstance(grown, Polygon) else list(getattr(grown, "geoms", []))
    nodes = [a, b]
    for poly in polys:
        for ring in (poly.exterior, *poly.interiors):
            nodes.extend((float(x), float(y)) for x, y in ring.coords[:-1])
    keep_out = unary_union([z.buffer(max(margin - 0.05, 0.0), join_style="mitre",
                                     mitre_limit=2.0) for z in zones])
    shapely.prepare(keep_out)
    pts = np.array(nodes)
    ii, jj = np.triu_indices(len(pts), 1)
    clear = ~shapely.intersects(keep_out, shapely.linestrings(np.stack([pts[ii], pts[jj]], 1)))
    adjacency: list[list[tuple[int, float]]] = [[] for _ in nodes]
    for i, j in zip(ii[clear].tolist(), jj[clear].tolist(), strict=True):
        d = math.dist(nodes[i], nodes[j])
        adjacency[i].append((j, d))
        adjacency[j].append((i, d))
    best = {0: 0.0}
    heap = [(0.0, 0)]
    while heap:
        d, i = heapq.heappop(heap)
        if i == 1:
            return d
        if d > best[i]:
            continue
        for j, w in adjacency[i]:
            if d + w < best.get(j, math.inf):
                best[j] = d + w
                heapq.heappush(heap, (d + w, j))
    return None


def random_layout(seed: int) -> tuple[list[Polygon], float, XY, XY]:
    """Six zones (fine circles, random convex blobs, a U) between two points 2 km apart."""
    rnd = random.Random(seed)
    zones: list[Polygon] = []
    for k in range(6):
        cx, cy = rnd.uniform(200, 1800), rnd.uniform(-400, 400)
        kind = k % 3
        if kind == 0:
            zones.append(circle(cx, cy, rnd.uniform(40, 220), 48))
        elif kind == 1:
            blob = [(cx + rnd.uniform(-150, 150), cy + rnd.uniform(-150, 150)) for _ in range(7)]
            hull = Polygon(blob).convex_hull
            assert isinstance(hull, Polygon)
            zones.append(hull)
        else:
            zones.append(u_shape(cx - 100, cy - 100, 200))
    a, b = (0.0, rnd.uniform(-300, 300)), (2000.0, rnd.uniform(-300, 300))
    return zones, rnd.choice([0.0, 10.0, 30.0]), a, b


@pytest.mark.parametrize("seed", range(8))
def test_a_route_through_a_random_layout_is_clear_and_within_1_5_percent_of_the_shortest(
        seed: int) -> None:
    zones, margin, a, b = random_layout(seed)
    path = Router(zones, margin).path(a, b)
    best = reference_length(zones, margin, a, b)
    assert best is not None
    assert path is not None
    assert path[0] == a
    assert path[-1] == b
    assert_clear(path, zones, margin)
    assert length(path) <= best * 1.015


def test_a_route_into_the_pocket_of_a_u_shaped_zone_goes_in_through_its_mouth() -> None:
    zones = [u_shape(0, 0, 400)]
    inside, outside = (200.0, 150.0), (200.0, -300.0)  # the pocket's bottom; south of the U
    path = Router(zones, 10.0).path(outside, inside)
    assert path is not None
    assert_clear(path, zones, 10.0)
    assert max(y for _, y in path) > 400  # over the top of an arm and down into the pocket
    best = reference_length(zones, 10.0, outside, inside)
    assert best is not None
    assert length(path) <= best * 1.015


def test_a_fine_circle_becomes_a_graph_of_few_corners() -> None:
    router = Router([circle(0, 0, 600, 2000)], 10.0)
    assert 8 < len(router.nodes) <= 120
    # Every corner stays outside the margin: the zone is never shrunk.
    margin = circle(0, 0, 600, 2000).buffer(10.0)
    assert not any(margin.contains(shapely.Point(p)) for p in router.nodes)


def test_a_route_around_ten_fine_zones_checks_few_legs_and_stays_clear() -> None:
    radii = [300, 600, 150, 450, 100, 550, 250, 400, 200, 500]
    zones = [circle(900 + 950 * k, (-1) ** k * 0.4 * r, r, 500) for k, r in enumerate(radii)]
    router = Router(zones, 10.0)
    path = router.path((50.0, 0.0), (10_500.0, 0.0))
    assert path is not None
    assert_clear(path, zones, 10.0)
    # The full graph of 5,000 corners would check millions of legs.
    assert router.legs_checked < 5_000
    assert len(router.nodes) < 1_000


def test_later_routes_on_the_same_router_reuse_its_graph() -> None:
    zones = [circle(500 * k, 0, 150, 200) for k in range(1, 5)]
    router = Router(zones, 10.0)
    assert router.path((0.0, 0.0), (2500.0, 10.0)) is not None
    first = router.legs_checked
    again = router.path((0.0, 20.0), (2500.0, -20.0))
    assert again is not None
    assert_clear(again, zones, 10.0)
    assert router.legs_checked - first < first / 5  # only the legs from and to the two ends


def test_a_clear_straight_leg_is_the_route_and_builds_no_graph() -> None:
    router = Router([circle(0, 500, 100, 500)], 10.0)
    assert router.path((-300.0, 0.0), (300.0, 0.0)) == [(-300.0, 0.0), (300.0, 0.0)]
    assert router.legs_checked == 1


def test_a_vehicle_inside_the_margin_can_leave_without_entering_the_zone() -> None:
    zones = [circle(0, 0, 200, 500)]
    start = (205.0, 0.0)  # 5 m from the zone: inside the 20 m margin
    router = Router(zones, 20.0)
    assert router.in_margin(start)
    path = router.path(start, (-600.0, 0.0))
    assert path is not None
    assert_clear(path, zones, 0.0)
    assert_clear(path[1:], zones, 20.0)  # once out, it keeps the margin


def test_an_end_just_outside_the_margin_is_reached_near_the_shortest_way() -> None:
    zones = [circle(0, 0, 200, 500)]
    end = (0.0, 220.5)  # outside the 20 m margin, among the graph's corners
    router = Router(zones, 20.0)
    assert not router.in_margin(end)
    path = router.path((0.0, -600.0), end)
    assert path is not None
    assert_clear(path, zones, 20.0)
    best = reference_length(zones, 20.0, (0.0, -600.0), end)
    assert best is not None
    assert length(path) <= best * 1.015


def test_a_target_boxed_in_by_zones_has_no_route() -> None:
    ring = circle(0, 0, 500, 300).difference(circle(0, 0, 300, 300))
    assert isinstance(ring, Polygon)
    assert Router([ring], 10.0).path((-800.0, 0.0), (0.0, 0.0)) is None


def test_overlapping_zones_are_routed_around_as_one() -> None:
    zones = [circle(0, 0, 200, 300), circle(250, 0, 200, 300), Polygon(
        [(100, -400), (160, -400), (160, 400), (100, 400)])]
    path = Router(zones, 15.0).path((-500.0, 0.0), (800.0, 0.0))
    assert path is not None
    assert_clear(path, zones, 15.0)
    best = reference_length(zones, 15.0, (-500.0, 0.0), (800.0, 0.0))
    assert best is not None
    assert length(path) <= best * 1.015


def test_a_negative_or_non_finite_margin_is_refused() -> None:
    with pytest.raises(ValueError, match="zone margin must be a finite number >= 0 m, got -1"):
        Router([circle(0, 0, 100, 50)], -1.0)
    with pytest.raises(ValueError, match="got nan"):
        Router([], float("nan"))


def test_the_zone_a_leg_crosses_is_named_by_its_index() -> None:
    zones = [circle(0, 0, 100, 200), circle(400, 0, 100, 200)]
    router = Router(zones, 10.0)
    assert router.zone_crossed((-300.0, 0.0), (200.0, 0.0)) == 0
    assert router.zone_crossed((250.0, 0.0), (600.0, 0.0)) == 1
    assert router.zone_crossed((-300.0, 105.0), (600.0, 105.0)) is None  # in the margin only
    assert router.zone_crossed((0.0, 0.0), (0.0, 0.0)) is None
