"""Boundary simplification and waypoint thinning for planning, in a local metric frame.

A boundary drawn or imported with thousands of vertices (a 10,000-vertex circle has edges of
0.3 m) becomes thousands of waypoints, and the autopilot slows to a stop at each. The planner
works to a tolerance far coarser than that (a camera footprint, a safety margin), so outlines
are simplified to that tolerance first, in the direction that is safe for their use:

- :func:`grow_simplified` for things to keep out of (no-fly zones): the result always contains
  the input, so avoiding it still avoids the original.
- :func:`shrink_simplified` for things to stay inside (the area to survey): the result always
  lies inside the input, so flying it never leaves the original.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import shapely
from shapely.geometry import MultiPolygon, Polygon

XY = tuple[float, float]
Area = Polygon | MultiPolygon

# Default least distance between consecutive waypoints, in metres: well under any sensible
# line spacing or footprint, well over the GNSS noise an autopilot's acceptance radius absorbs.
DEFAULT_MIN_WAYPOINT_SPACING_M = 2.0
# Above this, a "minimum waypoint spacing" would skip real corners of a route or a survey.
MAX_MIN_WAYPOINT_SPACING_M = 50.0


def _check_tolerance(tolerance_m: float) -> None:
    if not math.isfinite(tolerance_m) or tolerance_m < 0:
        raise ValueError(f"simplification tolerance must be a finite number >= 0 m, "
                         f"got {tolerance_m!r}")


def as_area(geom: object) -> Area:
    """Keep only the polygonal part of a shapely result (buffers can return collections)."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    polys: list[Polygon] = []
    for g in getattr(geom, "geoms", ()):
        if isinstance(g, Polygon):
            polys.append(g)
        elif isinstance(g, MultiPolygon):
            polys.extend(g.geoms)
    return MultiPolygon(polys) if polys else Polygon()


def _offsets(simple: Area, polygon: Area, tolerance_m: float) -> tuple[float, float]:
    """Return the distances to try offsetting the simplified outline by.

    Douglas-Peucker keeps every vertex within the tolerance of the simplified outline, except
    that GEOS may drop a ring's start vertex further off than that; the Hausdorff distance
    between the outlines is how far it really moved, so that is the fallback.
    """
    moved = float(shapely.hausdorff_distance(simple.boundary, polygon.boundary))
    return tolerance_m, max(tolerance_m, moved) * 1.001 + 1e-6


def grow_simplified(polygon: Area, tolerance_m: float) -> Area:
    """Return a simplified outline of ``polygon`` that always contains it.

    Douglas-Peucker moves no point of the outline by more than about ``tolerance_m``, so
    growing the simplified outline by that (mitre joins, so corners stay sharp and add no arc
    vertices) covers every point of the original. When the simplified outline already covers
    the input (only concave bends were cut) it is returned as is; otherwise the result lies
    within about twice the distance the simplification moved the outline. If no grown outline
    covers the input, the input is returned: safety is never traded for fewer vertices. A zero
    tolerance or an empty polygon returns the input.
    """
    _check_tolerance(tolerance_m)
    if tolerance_m == 0 or polygon.is_empty:
        return polygon
    simple = as_area(shapely.simplify(polygon, tolerance_m, preserve_topology=True))
    if simple.covers(polygon):
        return simple  # the chords only cut across concave bends: nothing to grow
    for d in _offsets(simple, polygon, tolerance_m):
        grown = as_area(shapely.buffer(simple, d, join_style="mitre", mitre_limit=2.0))
        if grown.covers(polygon):
            return grown
    return polygon


def shrink_simplified(polygon: Area, tolerance_m: float) -> Area:
    """Return a simplified outline of ``polygon`` that always lies inside it.

    The mirror of :func:`grow_simplified`: the simplified outline is shrunk by as much as the
    simplification moved it, unless it already lies inside the input (only convex bends were
    cut, as on a circle). Parts thinner than twice that may vanish; a zero tolerance or an
    empty polygon returns the input. Use a tolerance small next to the features that must
    survive. If no shrunk outline lies inside, it is clipped to the input.
    """
    _check_tolerance(tolerance_m)
    if tolerance_m == 0 or polygon.is_empty:
        return polygon
    simple = as_area(shapely.simplify(polygon, tolerance_m, preserve_topology=True))
    if polygon.covers(simple):
        return simple  # the chords only cut across convex bends (a circle): nothing to shrink
    shrunk = simple
    for d in _offsets(simple, polygon, tolerance_m):
        shrunk = as_area(shapely.buffer(simple, -d, join_style="mitre", mitre_limit=2.0))
        if shrunk.is_empty or polygon.covers(shrunk):
            return shrunk
    # Clipping adds back original vertices, but only where the shrunk outline pokes out.
    return as_area(shapely.intersection(shrunk, polygon))


def thin_polyline(points: Sequence[XY], min_spacing_m: float, *,
                  keep_last: bool = True) -> list[XY]:
    """Drop waypoints closer than ``min_spacing_m`` to the previously kept one.

    The first point is always kept. With ``keep_last`` the last point is kept too (the end of a
    sweep line or the closing point of a loop matters), dropping kept points too close to it,
    unless it is within ``min_spacing_m`` of the first: then the polyline collapses to its
    first point. No two consecutive output points are closer than ``min_spacing_m``.
    """
    if not math.isfinite(min_spacing_m) or min_spacing_m < 0:
        raise ValueError(f"minimum waypoint spacing must be a finite number >= 0 m, "
                         f"got {min_spacing_m!r}")
    if not points:
        return []
    out: list[XY] = [points[0]]
    for p in points[1:]:
        if math.dist(p, out[-1]) >= min_spacing_m:
            out.append(p)
    if keep_last and len(points) > 1 and out[-1] != points[-1]:
        while len(out) > 1 and math.dist(points[-1], out[-1]) < min_spacing_m:
            out.pop()
        if math.dist(points[-1], out[-1]) >= min_spacing_m:
            out.append(points[-1])
    return out
