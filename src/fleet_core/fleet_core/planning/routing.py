"""Shortest transit around no-fly zones: a visibility graph over the buffered zone corners."""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

from shapely import prepared
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.ops import unary_union

XY = tuple[float, float]

# Obstacles are checked shrunk by this much so that a path running along the margin's edge
# (sweep lines end exactly on it) is not taken for a crossing by rounding.
_TOLERANCE_M = 0.05
# Graph nodes sit this far outside the margin so edges between them stay clear of it.
_NODE_OFFSET_M = 1.0
_MITRE_LIMIT = 2.0


def _polygons(geom: object) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, MultiPolygon):
        return [g for g in geom.geoms if not g.is_empty]
    return []


def buffered(zones: Sequence[Polygon], margin_m: float) -> Polygon | MultiPolygon:
    """Return the union of the zones grown by ``margin_m`` (mitred: never inside the margin)."""
    if not zones:
        return Polygon()
    grown = [z.buffer(margin_m, join_style="mitre", mitre_limit=_MITRE_LIMIT) if margin_m > 0
             else z for z in zones]
    merged = unary_union(grown)
    assert isinstance(merged, Polygon | MultiPolygon)
    return merged


class Router:
    """Finds the shortest path between two points that keeps out of the zones plus margin."""

    def __init__(self, zones: Sequence[Polygon], margin_m: float) -> None:
        self.zones = list(zones)
        self.margin_m = margin_m
        self.obstacle = buffered(self.zones, margin_m)
        strict = buffered(self.zones, max(margin_m - _TOLERANCE_M, 0.0))
        if margin_m <= _TOLERANCE_M and not strict.is_empty:
            strict = strict.buffer(-_TOLERANCE_M)
        raw = unary_union(self.zones) if self.zones else Polygon()
        self._strict = prepared.prep(strict)
        self._raw = prepared.prep(raw.buffer(-_TOLERANCE_M) if not raw.is_empty else raw)
        self._raw_shape = raw
        # Points on the margin's edge (sweep line ends) must not count as inside it.
        self._margin_shape = buffered(self.zones, max(margin_m - 2 * _TOLERANCE_M, 0.0))
        self._nodes: list[XY] = []
        if self.zones:
            outer = buffered(self.zones, margin_m + _NODE_OFFSET_M)
            for poly in _polygons(outer):
                for ring in (poly.exterior, *poly.interiors):
                    self._nodes.extend((float(x), float(y)) for x, y in ring.coords[:-1])

    def inside_zone(self, p: XY) -> bool:
        """Tell whether ``p`` is inside a zone itself."""
        return bool(self.zones) and self._raw_shape.contains(Point(p))

    def in_margin(self, p: XY) -> bool:
        """Tell whether ``p`` is within the safety margin of a zone (or inside one)."""
        return bool(self.zones) and self._margin_shape.contains(Point(p))

    def blocked(self, a: XY, b: XY) -> bool:
        """Tell whether the straight leg a→b enters a zone or its margin.

        A leg that starts or ends inside the margin (a vehicle already there) is only
        checked against the zones themselves, or it could never leave.
        """
        if not self.zones or a == b:
            return False
        line = LineString([a, b])
        if self.in_margin(a) or self.in_margin(b):
            return bool(self._raw.intersects(line))
        return bool(self._strict.intersects(line))

    def path(self, a: XY, b: XY) -> list[XY] | None:
        """Return the shortest clear path [a, ..., b], or None when there is none."""
        if not self.blocked(a, b):
            return [a, b]
        nodes = [a, b, *(n for n in self._nodes if not self._raw_shape.contains(Point(n)))]
        goal = 1
        dist = {0: 0.0}
        prev: dict[int, int] = {}
        done: set[int] = set()
        heap: list[tuple[float, float, int]] = [(math.dist(a, b), 0.0, 0)]
        while heap:
            _, d, i = heapq.heappop(heap)
            if i in done:
                continue
            done.add(i)
            if i == goal:
                out = [nodes[goal]]
                while i != 0:
                    i = prev[i]
                    out.append(nodes[i])
                return out[::-1]
            here = nodes[i]
            for j, there in enumerate(nodes):
                if j in done:
                    continue
                nd = d + math.dist(here, there)
                if nd >= dist.get(j, math.inf) or self.blocked(here, there):
                    continue
                dist[j] = nd
                prev[j] = i
                heapq.heappush(heap, (nd + math.dist(there, b), nd, j))
        return None

    def path_length(self, a: XY, b: XY) -> float | None:
        """Return the length of the shortest clear path, or None."""
        p = self.path(a, b)
        if p is None:
            return None
        return sum(math.dist(p[k], p[k + 1]) for k in range(len(p) - 1))
