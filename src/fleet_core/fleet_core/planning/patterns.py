"""Coverage patterns in a local metric frame: lawnmower, crosshatch, perimeter, spiral, orbit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LinearRing, LineString, MultiLineString, MultiPolygon, Polygon
from shapely.ops import unary_union

from fleet_core.planning.simplify import (
    DEFAULT_MIN_WAYPOINT_SPACING_M,
    as_area,
    shrink_simplified,
    thin_polyline,
)

XY = tuple[float, float]
Area = Polygon | MultiPolygon

# Bounds on the work one request can cause (a 1 m spacing over 100 km² is not a mission).
MAX_LINES = 5000
MAX_LOOPS = 500
_MIN_RUN_M = 0.01


@dataclass(frozen=True, slots=True)
class Runs:
    """Polylines flown while surveying, in flight order, and the ground their camera sees."""

    runs: list[list[XY]]
    swath: Polygon | MultiPolygon


def ring_tolerance(spacing: float, width: float,
                   min_spacing_m: float = DEFAULT_MIN_WAYPOINT_SPACING_M) -> float:
    """Return how far (m) a flown ring may stray from its exact offset of the boundary.

    A simplified ring lies up to twice this inside its exact offset. With an eighth of the
    smaller of the line spacing and the swath overlap (footprint width less spacing), two
    neighbouring rings still overlap and the outermost still reaches the boundary, so the
    coverage is kept; an eighth of the minimum waypoint spacing is always allowed, detail
    finer than the waypoints are apart being lost anyway.
    """
    fine = min(spacing, width - spacing) / 8.0 if spacing > 0 else 0.0
    return max(fine, min_spacing_m / 8.0, 0.0)


def _thin(runs: list[list[XY]], min_spacing_m: float) -> list[list[XY]]:
    return [thin_polyline(run, min_spacing_m) for run in runs]


def parts(geom: Area) -> list[Polygon]:
    """Return the non-empty polygons of an area."""
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [g for g in geom.geoms if not g.is_empty]


def longest_edge_bearing(geom: Area) -> float:
    """Return the compass bearing (degrees, [0, 180)) of the largest part's longest edge."""
    biggest = max(parts(geom), key=lambda p: p.area)
    xy = np.asarray(biggest.exterior.coords)
    d = np.diff(xy, axis=0)
    k = int(np.argmax(np.hypot(d[:, 0], d[:, 1])))
    return math.degrees(math.atan2(d[k, 0], d[k, 1])) % 180.0


def _rotation_deg(bearing: float) -> float:
    # A line of compass bearing b points at (sin b, cos b): 90 - b degrees from the x axis.
    return 90.0 - bearing


def sweep_lines(geom: Area, spacing: float, bearing: float) -> list[tuple[XY, XY]]:
    """Return the unordered sweep segments of one lawnmower pass, ``spacing`` apart."""
    rot = _rotation_deg(bearing)
    g = affinity.rotate(geom, -rot, origin=(0.0, 0.0))
    minx, miny, maxx, maxy = g.bounds
    height = maxy - miny
    n = max(1, math.ceil(height / spacing))
    if n > MAX_LINES:
        raise ValueError(f"{n} sweep lines needed (over {MAX_LINES}): area too large for a "
                         f"line spacing of {spacing:.1f} m")
    offset = (height - (n - 1) * spacing) / 2
    ys = miny + offset + spacing * np.arange(n)
    lines = [LineString([(minx - 1.0, y), (maxx + 1.0, y)]) for y in ys]
    shapely.prepare(g)
    cut = shapely.intersection(np.asarray(lines, dtype=object), g)
    segments: list[tuple[XY, XY]] = []
    for piece in cut:
        for line in _lines(piece):
            (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
            if abs(x1 - x0) > _MIN_RUN_M:
                segments.append(((min(x0, x1), y0), (max(x0, x1), y1)))
    return [(_rotate(a, rot), _rotate(b, rot)) for a, b in segments]


def _lines(geom: object) -> list[LineString]:
    if isinstance(geom, LineString):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, MultiLineString):
        return list(geom.geoms)
    return [g for g in getattr(geom, "geoms", ()) if isinstance(g, LineString)]


def _rotate(p: XY, deg: float) -> XY:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return (p[0] * c - p[1] * s, p[0] * s + p[1] * c)


def swath_boxes(segments: Sequence[tuple[XY, XY]], width: float, height: float) -> list[Polygon]:
    """Return the ground each segment's photos cover: its width, and half a frame past its ends."""
    boxes = []
    for a, b in segments:
        length = math.dist(a, b)
        if length < 1e-9:
            continue
        ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
        px, py = -uy * width / 2, ux * width / 2
        ex, ey = ux * height / 2, uy * height / 2
        a2, b2 = (a[0] - ex, a[1] - ey), (b[0] + ex, b[1] + ey)
        boxes.append(Polygon([(a2[0] + px, a2[1] + py), (b2[0] + px, b2[1] + py),
                              (b2[0] - px, b2[1] - py), (a2[0] - px, a2[1] - py)]))
    return boxes


def order_segments(segments: Sequence[tuple[XY, XY]], start: XY) -> list[list[XY]]:
    """Order segments greedily by the nearest free end, flipping them as needed.

    From a line's end the nearest free end is usually the neighbouring line's, which gives
    the boustrophedon; around holes and in concave areas it finishes one lobe before the next.
    """
    if not segments:
        return []
    ends = np.asarray([[a[0], a[1], b[0], b[1]] for a, b in segments], dtype=float)
    free = np.ones(len(segments), dtype=bool)
    here = np.asarray(start, dtype=float)
    out: list[list[XY]] = []
    for _ in range(len(segments)):
        da = np.hypot(ends[:, 0] - here[0], ends[:, 1] - here[1])
        db = np.hypot(ends[:, 2] - here[0], ends[:, 3] - here[1])
        da[~free] = np.inf
        db[~free] = np.inf
        ia, ib = int(np.argmin(da)), int(np.argmin(db))
        a, b = segments[ia] if da[ia] <= db[ib] else segments[ib][::-1]
        k = ia if da[ia] <= db[ib] else ib
        free[k] = False
        out.append([a, b])
        here = np.asarray(b, dtype=float)
    return out


def lawnmower(geom: Area, spacing: float, footprint: tuple[float, float], bearing: float,
              start: XY, *, min_spacing_m: float = DEFAULT_MIN_WAYPOINT_SPACING_M) -> Runs:
    """Cover the area with parallel lines along ``bearing``.

    A line shorter than ``min_spacing_m`` is flown as one waypoint (its photo covers it).
    """
    segments = sweep_lines(geom, spacing, bearing)
    boxes = swath_boxes(segments, *footprint)
    return Runs(_thin(order_segments(segments, start), min_spacing_m), _union(boxes))


def crosshatch(geom: Area, spacing: float, footprint: tuple[float, float], bearing: float,
               start: XY, *, min_spacing_m: float = DEFAULT_MIN_WAYPOINT_SPACING_M) -> Runs:
    """Cover the area twice, the second pass perpendicular to the first."""
    first = lawnmower(geom, spacing, footprint, bearing, start, min_spacing_m=min_spacing_m)
    end = first.runs[-1][-1] if first.runs else start
    second = lawnmower(geom, spacing, footprint, (bearing + 90.0) % 180.0, end,
                       min_spacing_m=min_spacing_m)
    return Runs(first.runs + second.runs, _union([first.swath, second.swath]))


def _rings(geom: Area) -> list[list[XY]]:
    rings: list[list[XY]] = []
    for p in parts(geom):
        for r in (p.exterior, *p.interiors):
            rings.append([(float(x), float(y)) for x, y in r.coords])
    return rings


def _loop_from(ring: list[XY], here: XY) -> list[XY]:
    """Return the closed ring started at its vertex nearest ``here``."""
    body = ring[:-1] if ring[0] == ring[-1] else ring
    k = min(range(len(body)), key=lambda i: math.dist(body[i], here))
    rotated = body[k:] + body[:k]
    return [*rotated, rotated[0]]


def _loop_swath(loops: list[list[XY]], width: float) -> Polygon | MultiPolygon:
    lines = [LineString(loop) for loop in loops if len(loop) >= 2]
    if not lines:
        return Polygon()
    return _union(list(shapely.buffer(np.asarray(lines, dtype=object), width / 2,
                                      cap_style="flat", join_style="mitre", mitre_limit=2.0)))


def perimeter(geom: Area, spacing: float, footprint: tuple[float, float], start: XY,
              inset: float | None = None, *,
              min_spacing_m: float = DEFAULT_MIN_WAYPOINT_SPACING_M) -> Runs:
    """Fly each boundary once, ``inset`` (default half a line spacing) inside it.

    The boundary is simplified to ``ring_tolerance`` (never outward) and no two waypoints are
    closer than ``min_spacing_m``: a finely drawn outline must not become thousands of stops.
    """
    d = spacing / 2 if inset is None else inset
    inner = as_area(geom.buffer(-d, join_style="mitre")) if d > 0 else geom
    inner = shrink_simplified(inner, ring_tolerance(spacing, footprint[0], min_spacing_m))
    loops: list[list[XY]] = []
    here = start
    for ring in _rings(inner):
        loop = thin_polyline(_loop_from(ring, here), min_spacing_m)
        loops.append(loop)
        here = loop[-1]
    return Runs(loops, _loop_swath(loops, footprint[0]))


def spiral(geom: Area, spacing: float, footprint: tuple[float, float], start: XY,
           *, outward: bool, min_spacing_m: float = DEFAULT_MIN_WAYPOINT_SPACING_M) -> Runs:
    """Fly rings offset inward ``spacing`` apart, from the middle out or the edge in.

    Each ring is simplified to ``ring_tolerance`` (never outward) and no two waypoints are
    closer than ``min_spacing_m``: a finely drawn outline must not become thousands of stops.
    """
    # A quarter of the tolerance for the outline, the rest for each ring: each offset then
    # costs a buffer of a few hundred vertices, not of thousands, and the rings stray no
    # further in all.
    tolerance = ring_tolerance(spacing, footprint[0], min_spacing_m)
    outline = shrink_simplified(geom, tolerance / 4)
    levels: list[list[list[XY]]] = []
    d = spacing / 2
    while len(levels) < MAX_LOOPS:
        inner = shrink_simplified(as_area(outline.buffer(-d, join_style="mitre")),
                                  tolerance * 3 / 4)
        rings = [r for r in _rings(inner) if len(r) >= 4]
        if not rings:
            break
        levels.append(rings)
        d += spacing
    if len(levels) >= MAX_LOOPS:
        raise ValueError(f"spiral needs more than {MAX_LOOPS} rings: area too large for a "
                         f"line spacing of {spacing:.1f} m")
    if outward:
        levels.reverse()
    loops: list[list[XY]] = []
    here = start
    for rings in levels:
        remaining = list(rings)
        while remaining:
            k = min(range(len(remaining)),
                    key=lambda i: LinearRing(remaining[i]).distance(shapely.Point(here)))
            loop = thin_polyline(_loop_from(remaining.pop(k), here), min_spacing_m)
            loops.append(loop)
            here = loop[-1]
    return Runs(loops, _loop_swath(loops, footprint[0]))


def orbit(centre: XY, radius: float, start: XY, max_chord_m: float = 10.0) -> list[XY]:
    """Return a closed circle of waypoints around ``centre``, from the point nearest ``start``."""
    n = min(72, max(8, math.ceil(2 * math.pi * radius / max_chord_m)))
    a0 = math.atan2(start[1] - centre[1], start[0] - centre[0])
    pts = [(centre[0] + radius * math.cos(a0 + 2 * math.pi * k / n),
            centre[1] + radius * math.sin(a0 + 2 * math.pi * k / n)) for k in range(n)]
    return [*pts, pts[0]]


def coverage_pct(swath: Polygon | MultiPolygon, allowed: Area) -> float:
    """Return the share of ``allowed`` inside ``swath``, in percent."""
    if allowed.area <= 0:
        return 0.0
    return 100.0 * swath.intersection(allowed).area / allowed.area


def _union(geoms: Sequence[object]) -> Polygon | MultiPolygon:
    merged = unary_union([g for g in geoms if isinstance(g, Polygon | MultiPolygon)])
    return as_area(merged)
