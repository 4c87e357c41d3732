"""Shortest transit around no-fly zones: a reduced visibility graph over the zones' corners.

The graph's nodes are the corners of the zones grown by their margin plus a small offset. A
zone drawn as a fine circle has hundreds of corners and a full visibility graph checks every
pair of them against every zone, which took minutes for a few thousand corners. So:

- the margin's outline is simplified to ``_SIMPLIFY_M`` before it is grown by the offset
  plus as much again, so it still contains every point of the margin (Douglas-Peucker moves
  no point further than the tolerance; this is checked) and its corners stay outside it:
  the zone is never shrunk, and a 2,000-vertex circle gives some 60 corners;
- only convex corners are kept: a shortest path never bends at a reflex one;
- only edges tangent to the outline at both ends are kept (both ring neighbours of each end
  on the same side of the edge): a shortest path wrapping round a corner is tangent there;
- the graph between corners is built once per :class:`Router` and reused by every
  :meth:`Router.path` call, and legs are checked in batches with shapely's vectorised
  predicates against prepared geometry.

Node placement only decides how short the path is: every leg returned is still checked
against the exact (unsimplified) zones plus margin.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

XY = tuple[float, float]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]

# Obstacles are checked shrunk by this much so that a path running along the margin's edge
# (sweep lines end exactly on it) is not taken for a crossing by rounding.
_TOLERANCE_M = 0.05
# Graph nodes sit this far outside the margin so edges between them stay clear of it.
_NODE_OFFSET_M = 1.0
# Outlines of the nodes are simplified to this: a 2,000-vertex circle of 600 m keeps about
# 55 corners, and a path round it grows by at most about twice this per zone it wraps.
_SIMPLIFY_M = 1.0
_MITRE_LIMIT = 2.0
# Slack of the side-of-line tests, relative to the extent of the graph: a neighbour this
# close to the line counts as on both sides, so nearly collinear corners keep their edges.
_SIDE_EPS = 1e-5
# Rows of the node-by-node tangency matrix computed at once (bounds the memory used).
_CHUNK = 128


def _polygons(geom: object) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, MultiPolygon):
        return [g for g in geom.geoms if not g.is_empty]
    out: list[Polygon] = []
    for g in getattr(geom, "geoms", ()):
        out.extend(_polygons(g))
    return out


def buffered(zones: Sequence[Polygon], margin_m: float) -> Polygon | MultiPolygon:
    """Return the union of the zones grown by ``margin_m`` (mitred: never inside the margin)."""
    if not zones:
        return Polygon()
    grown = [z.buffer(margin_m, join_style="mitre", mitre_limit=_MITRE_LIMIT) if margin_m > 0
             else z for z in zones]
    merged = unary_union(grown)
    assert isinstance(merged, Polygon | MultiPolygon)
    return merged


def _grow_simplified(shape: Polygon | MultiPolygon, tolerance_m: float,
                     grow_m: float) -> list[Polygon]:
    """Return ``shape`` simplified to ``tolerance_m``, then grown by ``grow_m`` plus that.

    Douglas-Peucker moves no point of the outline by more than the tolerance, so the result
    covers ``shape`` (checked) with its outline some ``grow_m`` to ``grow_m`` + twice the
    tolerance outside it; simplifying first also makes the buffer cheap.
    """
    pad = grow_m + tolerance_m * 1.001 + 1e-6  # rounding slack at corners kept as they are
    # Plain Douglas-Peucker is ten times quicker than the topology-preserving variant; in the
    # rare case its result is invalid and the grown shape misses a bit, use the slow one.
    for preserve in (False, True):
        simple = shapely.simplify(shape, tolerance_m, preserve_topology=preserve)
        grown = shapely.buffer(simple, pad, join_style="mitre", mitre_limit=_MITRE_LIMIT)
        if grown.covers(shape):
            return _polygons(grown)
    # Cannot happen in exact arithmetic; keep the fine outline.
    return _polygons(shapely.buffer(shape, grow_m, join_style="mitre", mitre_limit=_MITRE_LIMIT))


def _cross(ux: Floats, uy: Floats, vx: Floats, vy: Floats) -> Floats:
    return np.asarray(ux * vy - uy * vx, dtype=np.float64)


def _tangent(at: Floats, before: Floats, after: Floats, to: Floats) -> Bools:
    """Tell for each corner ``at[i]`` and point ``to[j]`` whether line i-j is tangent at i.

    It is when both ring neighbours of the corner (``before[i]``, ``after[i]``) lie on the
    same side of the line (or on it): the line then grazes the outline at the corner instead
    of cutting into it. Returns an (len(at), len(to)) matrix.
    """
    # Single precision about a local origin: this is the one quadratic step, and float32
    # halves its memory traffic; the slack below is far above its rounding, and slack only
    # lets more edges through to the exact check.
    origin = at.mean(axis=0) if len(at) else np.zeros(2)
    p = (at - origin).astype(np.float32)
    q = (to - origin).astype(np.float32)
    scale = float(max(np.abs(p).max(initial=0.0), np.abs(q).max(initial=0.0))) + 1.0
    eps = np.float32(_SIDE_EPS * scale)
    out = np.empty((len(at), len(to)), dtype=np.bool_)
    for r0 in range(0, len(at), _CHUNK):
        r = slice(r0, r0 + _CHUNK)
        sides = []
        for n in (before[r], after[r]):
            u = n - at[r]
            u /= np.maximum(np.hypot(u[:, 0], u[:, 1]), 1e-12)[:, None]
            u32 = u.astype(np.float32)
            # cross(u, to - at): which side of the corner's line to ``to`` the neighbour is.
            side = np.multiply.outer(u32[:, 0], q[:, 1])
            side -= np.multiply.outer(u32[:, 1], q[:, 0])
            side -= (u32[:, 0] * p[r, 1] - u32[:, 1] * p[r, 0])[:, None]
            sides.append((side > eps, side < -eps))
        (b_left, b_right), (a_left, a_right) = sides
        out[r] = ~((b_left & a_right) | (b_right & a_left))
    return out


def _tangent_pairs(at: Floats, before: Floats, after: Floats, to: Floats) -> Bools:
    """Tell for each k whether the line from corner ``at[k]`` to ``to[k]`` is tangent there.

    The same test as :func:`_tangent`, pair by pair instead of all against all.
    """
    d = to - at
    scale = float(np.abs(d).max(initial=0.0)) + 1.0
    sides = []
    for n in (before, after):
        u = n - at
        u /= np.maximum(np.hypot(u[:, 0], u[:, 1]), 1e-12)[:, None]
        side = u[:, 0] * d[:, 1] - u[:, 1] * d[:, 0]
        sides.append((side > _SIDE_EPS * scale, side < -_SIDE_EPS * scale))
    (b_left, b_right), (a_left, a_right) = sides
    return np.asarray(~((b_left & a_right) | (b_right & a_left)), dtype=np.bool_)


def _bitangent_pairs(xy: Floats, before: Floats, after: Floats) -> tuple[Ints, Ints]:
    """Return the pairs i < j of corners whose joining line is tangent at both ends."""
    found_i: list[Ints] = []
    found_j: list[Ints] = []
    for r0 in range(0, len(xy), _CHUNK):
        r1 = min(len(xy), r0 + _CHUNK)
        # Tangent at one end is already rare (the directions grazing a corner form a narrow
        # window), so find those pairs a block of rows at a time (bounded memory) and test
        # the other end only for them.
        ii, jj = np.nonzero(_tangent(xy[r0:r1], before[r0:r1], after[r0:r1], xy))
        ii = ii + r0
        later = ii < jj
        ii, jj = ii[later], jj[later]
        both = _tangent_pairs(xy[jj], before[jj], after[jj], xy[ii])
        found_i.append(ii[both])
        found_j.append(jj[both])
    if not found_i:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    return np.concatenate(found_i), np.concatenate(found_j)


@dataclass(frozen=True)
class _Graph:
    """Convex corners of the node outlines and the clear tangent edges between them."""

    xy: Floats  # (n, 2) corner positions
    before: Floats  # (n, 2) each corner's neighbours on its ring (convex or not)
    after: Floats
    part: Ints  # (n,) index into ``parts`` of the outline each corner is on
    parts: list[Polygon]  # prepared node outlines
    adjacency: list[list[tuple[int, float]]]

    @property
    def size(self) -> int:
        return len(self.xy)


class Router:
    """Finds the shortest path between two points that keeps out of the zones plus margin."""

    def __init__(self, zones: Sequence[Polygon], margin_m: float) -> None:
        if not math.isfinite(margin_m) or margin_m < 0:
            raise ValueError(f"zone margin must be a finite number >= 0 m, got {margin_m!r}")
        self.zones = list(zones)
        self.margin_m = margin_m
        strict = buffered(self.zones, max(margin_m - _TOLERANCE_M, 0.0))
        if margin_m <= _TOLERANCE_M and not strict.is_empty:
            strict = strict.buffer(-_TOLERANCE_M)
        self._strict = strict
        # Points on the margin's edge (sweep line ends) must not count as inside it.
        self._margin_shape = buffered(self.zones, max(margin_m - 2 * _TOLERANCE_M, 0.0))
        shapely.prepare(self._strict)
        shapely.prepare(self._margin_shape)
        self._graph: _Graph | None = None
        self.legs_checked = 0  # straight legs tested against the zones so far (a cost measure)

    # Built on first use: many plans never need them, and each is a union of big buffers.
    @cached_property
    def obstacle(self) -> Polygon | MultiPolygon:
        """The zones grown by the margin: what coverage leaves out."""
        return buffered(self.zones, self.margin_m)

    @cached_property
    def _raw_shape(self) -> Polygon | MultiPolygon:
        raw = unary_union(self.zones) if self.zones else Polygon()
        assert isinstance(raw, Polygon | MultiPolygon)
        shapely.prepare(raw)
        return raw

    @cached_property
    def _raw(self) -> Polygon | MultiPolygon:
        """The zones shrunk by the rounding tolerance: what a leg from inside the margin meets."""
        raw = self._raw_shape
        shrunk = raw.buffer(-_TOLERANCE_M) if not raw.is_empty else raw
        assert isinstance(shrunk, Polygon | MultiPolygon)
        shapely.prepare(shrunk)
        return shrunk

    # ------------------------------------------------------------------ points, legs
    def inside_zone(self, p: XY) -> bool:
        """Tell whether ``p`` is inside a zone itself."""
        return bool(self.zones) and bool(shapely.contains_xy(self._raw_shape, *p))

    def in_margin(self, p: XY) -> bool:
        """Tell whether ``p`` is within the safety margin of a zone (or inside one)."""
        return bool(self.zones) and bool(shapely.contains_xy(self._margin_shape, *p))

    def blocked(self, a: XY, b: XY) -> bool:
        """Tell whether the straight leg a→b enters a zone or its margin.

        A leg that starts or ends inside the margin (a vehicle already there) is only
        checked against the zones themselves, or it could never leave.
        """
        if not self.zones or a == b:
            return False
        self.legs_checked += 1
        line = LineString([a, b])
        if self.in_margin(a) or self.in_margin(b):
            return bool(shapely.intersects(self._raw, line))
        return bool(shapely.intersects(self._strict, line))

    @cached_property
    def _shrunk_zones(self) -> npt.NDArray[np.object_]:
        shrunk = np.array([z.buffer(-_TOLERANCE_M) for z in self.zones], dtype=object)
        shapely.prepare(shrunk)
        return shrunk

    def zone_crossed(self, a: XY, b: XY) -> int | None:
        """Return the index of the first zone the leg a→b enters (margin aside), or None.

        The last check of a plan, leg by leg: the zones are shrunk by the rounding tolerance
        and prepared once, not for every leg.
        """
        if not self.zones or a == b:
            return None
        hits = np.nonzero(shapely.intersects(self._shrunk_zones, LineString([a, b])))[0]
        return int(hits[0]) if len(hits) else None

    def _blocked_many(self, starts: Floats, ends: Floats, against: shapely.Geometry) -> Bools:
        """Tell for each leg starts[k]→ends[k] whether it meets ``against`` (vectorised)."""
        if len(starts) == 0:
            return np.zeros(0, dtype=np.bool_)
        self.legs_checked += len(starts)
        lines = shapely.linestrings(np.stack([starts, ends], axis=1))
        return np.asarray(shapely.intersects(against, lines), dtype=np.bool_)

    # ------------------------------------------------------------------------- graph
    @property
    def nodes(self) -> list[XY]:
        """Return the corners paths may bend at (built on first use, then kept)."""
        g = self._corner_graph()
        return [(float(x), float(y)) for x, y in g.xy]

    def _corner_graph(self) -> _Graph:
        if self._graph is None:
            self._graph = self._build_graph()
        return self._graph

    def _build_graph(self) -> _Graph:
        xs: list[Floats] = []
        befores: list[Floats] = []
        afters: list[Floats] = []
        part_ids: list[Ints] = []
        parts: list[Polygon] = []
        if self.zones:
            # The margin (as checked) grown by the offset, simplified: one cheap buffer.
            parts = [orient(p, sign=1.0) for p in _grow_simplified(
                self._strict, _SIMPLIFY_M, _NODE_OFFSET_M + _TOLERANCE_M)]
        for k, poly in enumerate(parts):
            shapely.prepare(poly)
            # Oriented so the zone lies left of every ring (exterior CCW, holes CW): a corner
            # is convex, seen from outside the zone, where its ring turns left.
            for ring in (poly.exterior, *poly.interiors):
                pts = np.asarray(ring.coords, dtype=np.float64)[:-1]
                if len(pts) < 3:
                    continue
                before, after = np.roll(pts, 1, axis=0), np.roll(pts, -1, axis=0)
                turn = _cross(pts[:, 0] - before[:, 0], pts[:, 1] - before[:, 1],
                              after[:, 0] - pts[:, 0], after[:, 1] - pts[:, 1])
                convex = turn > 0
                xs.append(pts[convex])
                befores.append(before[convex])
                afters.append(after[convex])
                part_ids.append(np.full(int(convex.sum()), k, dtype=np.intp))
        if not xs:
            empty = np.zeros((0, 2), dtype=np.float64)
            return _Graph(empty, empty, empty, np.zeros(0, dtype=np.intp), parts, [])
        xy, before, after = np.concatenate(xs), np.concatenate(befores), np.concatenate(afters)
        part = np.concatenate(part_ids)
        # Corners are outside the margin by construction; drop any rounding left inside.
        keep = ~np.asarray(shapely.contains_xy(self._strict, xy[:, 0], xy[:, 1]), dtype=np.bool_)
        xy, before, after, part = xy[keep], before[keep], after[keep], part[keep]
        n = len(xy)
        ii, jj = _bitangent_pairs(xy, before, after)
        clear = ~self._blocked_many(xy[ii], xy[jj], self._strict)
        ii, jj = ii[clear], jj[clear]
        lengths = np.hypot(*(xy[jj] - xy[ii]).T)
        adjacency: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for i, j, d in zip(ii.tolist(), jj.tolist(), lengths.tolist(), strict=True):
            adjacency[i].append((j, d))
            adjacency[j].append((i, d))
        return _Graph(xy, before, after, part, parts, adjacency)

    def _links(self, g: _Graph, p: XY) -> list[tuple[int, float]]:
        """Return the corners visible from ``p`` that a shortest path can go to, with lengths."""
        if g.size == 0:
            return []
        here = np.array(p, dtype=np.float64)
        useful = _tangent(g.xy, g.before, g.after, here[None, :])[:, 0]
        # Inside a node outline (between the margin and the corners) no corner of that
        # outline is tangent as seen from ``p``, but the path must leave through one of them.
        for k, poly in enumerate(g.parts):
            if shapely.contains_xy(poly, *p):
                useful |= g.part == k
        idx = np.nonzero(useful)[0]
        against = self._raw if self.in_margin(p) else self._strict
        starts = np.broadcast_to(here, (len(idx), 2))
        clear = ~self._blocked_many(starts, g.xy[idx], against)
        idx = idx[clear]
        lengths = np.hypot(*(g.xy[idx] - here).T)
        return list(zip(idx.tolist(), lengths.tolist(), strict=True))

    # -------------------------------------------------------------------------- search
    def path(self, a: XY, b: XY) -> list[XY] | None:
        """Return the shortest clear path [a, ..., b], or None when there is none."""
        if not self.blocked(a, b):
            return [a, b]
        g = self._corner_graph()
        n = g.size
        source, goal = n, n + 1
        from_a = self._links(g, a)
        into_b = dict(self._links(g, b))
        if not from_a or not into_b:
            return None
        rest = np.hypot(g.xy[:, 0] - b[0], g.xy[:, 1] - b[1]).tolist()  # A* heuristic
        rest += [math.dist(a, b), 0.0]
        best = {source: 0.0}
        prev: dict[int, int] = {}
        heap: list[tuple[float, float, int]] = [(rest[source], 0.0, source)]
        while heap:
            _, d, i = heapq.heappop(heap)
            if d > best.get(i, math.inf):
                continue  # a shorter way here was found after this entry was queued
            if i == goal:
                out = [b]
                i = prev[goal]
                while i != source:
                    out.append((float(g.xy[i, 0]), float(g.xy[i, 1])))
                    i = prev[i]
                out.append(a)
                return out[::-1]
            edges = from_a if i == source else g.adjacency[i]
            if i in into_b:
                edges = [*edges, (goal, into_b[i])]
            for j, w in edges:
                nd = d + w
                if nd < best.get(j, math.inf):
                    best[j] = nd
                    prev[j] = i
                    heapq.heappush(heap, (nd + rest[j], nd, j))
        return None

    def path_length(self, a: XY, b: XY) -> float | None:
        """Return the length of the shortest clear path, or None."""
        p = self.path(a, b)
        if p is None:
            return None
        return sum(math.dist(p[k], p[k + 1]) for k in range(len(p) - 1))
