"""Separation between airborne vehicles: present and predicted, with a spatial grid.

Positions and velocities are in one local ENU frame (metres, m/s). Each vehicle is
indexed by the box it sweeps over the look-ahead; only vehicles whose boxes share a grid
cell are compared, so a fleet spread over an area costs O(n), not O(n^2). The grid and the
first screening of pairs are numpy array operations over the whole fleet; only pairs that
may be in conflict reach the exact per-pair test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]

_WIDE_BOX_CELLS = 256  # a swept box over more cells is paired with every track instead
_MARGIN = 1e-9  # relative slack of the array screening over the exact test


@dataclass(frozen=True, slots=True)
class Track:
    """One airborne vehicle's position and velocity in the common ENU frame."""

    vehicle_id: str
    east: float
    north: float
    up: float
    ve: float = 0.0
    vn: float = 0.0
    vu: float = 0.0


@dataclass(frozen=True, slots=True)
class SeparationRules:
    """Minimum separation and how far ahead to predict."""

    horizontal_m: float = 15.0
    vertical_m: float = 8.0
    lookahead_s: float = 10.0
    max_speed: float = 20.0  # sizes the grid cells (correctness does not depend on it)

    def __post_init__(self) -> None:
        for name in ("horizontal_m", "vertical_m", "max_speed"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"separation {name} must be a positive number, got {value!r}")
        if not (math.isfinite(self.lookahead_s) and self.lookahead_s >= 0):
            raise ValueError(f"separation lookahead_s must be >= 0, got {self.lookahead_s!r}")


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two vehicles closer than the rules allow, now or within the look-ahead."""

    a: str
    b: str
    time_to_closest_s: float  # 0 = already in conflict
    horizontal_m: float  # horizontal distance at closest approach
    vertical_m: float  # vertical distance at closest approach

    @property
    def key(self) -> tuple[str, str]:
        """Return the pair in a canonical order."""
        return (self.a, self.b) if self.a <= self.b else (self.b, self.a)

    @property
    def predicted(self) -> bool:
        """Tell whether the breach lies in the future rather than now."""
        return self.time_to_closest_s > 0


def closest_approach(t1: Track, t2: Track, horizon_s: float) -> tuple[float, float, float]:
    """Return (time, horizontal distance, vertical distance) of closest horizontal approach.

    Straight-line extrapolation of both tracks over [0, horizon_s].
    """
    px, py, pz = t2.east - t1.east, t2.north - t1.north, t2.up - t1.up
    vx, vy, vz = t2.ve - t1.ve, t2.vn - t1.vn, t2.vu - t1.vu
    v2 = vx * vx + vy * vy
    t = 0.0 if v2 < 1e-9 else min(max(-(px * vx + py * vy) / v2, 0.0), horizon_s)
    return t, math.hypot(px + vx * t, py + vy * t), abs(pz + vz * t)


def _conflict(t1: Track, t2: Track, rules: SeparationRules) -> Conflict | None:
    """Return the conflict between two tracks, or None: the exact test, one pair at a time."""
    h_min, v_min = rules.horizontal_m, rules.vertical_m
    now_h = math.hypot(t2.east - t1.east, t2.north - t1.north)
    now_v = abs(t2.up - t1.up)
    if now_h < h_min and now_v < v_min:
        return Conflict(t1.vehicle_id, t2.vehicle_id, 0.0, now_h, now_v)
    tc, h, v = closest_approach(t1, t2, rules.lookahead_s)
    if h < h_min and v < v_min:
        return Conflict(t1.vehicle_id, t2.vehicle_id, tc, h, v)
    return None


def find_conflicts(tracks: Sequence[Track], rules: SeparationRules) -> list[Conflict]:
    """Return every pair of tracks that breaches the rules now or within the look-ahead.

    Conflicts come ordered by the positions of their two tracks in ``tracks``; ``a`` is the
    earlier one. Raises ValueError naming the track if a position or velocity is not finite.
    """
    n = len(tracks)
    if n < 2:
        return []
    # One column per field, built from plain lists: the cheapest way from objects to arrays.
    east = np.fromiter([t.east for t in tracks], np.float64, n)
    north = np.fromiter([t.north for t in tracks], np.float64, n)
    up = np.fromiter([t.up for t in tracks], np.float64, n)
    ve = np.fromiter([t.ve for t in tracks], np.float64, n)
    vn = np.fromiter([t.vn for t in tracks], np.float64, n)
    vu = np.fromiter([t.vu for t in tracks], np.float64, n)
    finite = (np.isfinite(east) & np.isfinite(north) & np.isfinite(up)
              & np.isfinite(ve) & np.isfinite(vn) & np.isfinite(vu))
    if not finite.all():
        bad = tracks[int(np.argmin(finite))]
        raise ValueError(f"separation: track {bad.vehicle_id!r} has a non-finite position or "
                         f"velocity: {bad!r}")
    first, second = _candidate_pairs(east, north, ve, vn, rules)
    first, second = _may_conflict(first, second, (east, north, up, ve, vn, vu), rules)
    conflicts: list[Conflict] = []
    # Only the few pairs the arrays could not rule out reach the exact test, which is the
    # scalar one: results are bit for bit those of checking every pair one by one.
    for i, j in sorted(zip(first.tolist(), second.tolist(), strict=True)):
        conflict = _conflict(tracks[i], tracks[j], rules)
        if conflict is not None:
            conflicts.append(conflict)
    return conflicts


def _candidate_pairs(east: FloatArray, north: FloatArray, ve: FloatArray, vn: FloatArray,
                     rules: SeparationRules) -> tuple[IndexArray, IndexArray]:
    """Return the pairs (i < j, each once) whose padded swept boxes share a grid cell.

    Two tracks can only come within the horizontal minimum if the boxes they sweep over the
    look-ahead, each padded by half the minimum, overlap; then they share a grid cell. A box
    spanning more than _WIDE_BOX_CELLS cells (a very fast track) is paired with every track
    instead, so one outlier cannot flood the grid.
    """
    horizon = rules.lookahead_s
    pad = rules.horizontal_m / 2
    cell = max(2 * rules.horizontal_m, rules.max_speed * horizon / 2, 1.0)
    east_end, north_end = east + ve * horizon, north + vn * horizon
    with np.errstate(over="ignore", invalid="ignore"):
        # Float cell bounds first: an overflowing box becomes infinitely wide, hence wide.
        cx0 = np.floor((np.minimum(east, east_end) - pad) / cell)
        cx1 = np.floor((np.maximum(east, east_end) + pad) / cell)
        cy0 = np.floor((np.minimum(north, north_end) - pad) / cell)
        cy1 = np.floor((np.maximum(north, north_end) + pad) / cell)
        wide = ~((cx1 - cx0 + 1) * (cy1 - cy0 + 1) <= _WIDE_BOX_CELLS)
    narrow = np.flatnonzero(~wide)
    firsts, seconds = [], []
    if narrow.size > 1:
        i, j = _pairs_sharing_a_cell(narrow, cx0[narrow], cx1[narrow], cy0[narrow], cy1[narrow])
        firsts.append(i)
        seconds.append(j)
    for w in np.flatnonzero(wide).tolist():
        # Every other track, except wide ones earlier in the order (they paired with w).
        others = np.flatnonzero(~wide | (np.arange(east.size) > w))
        others = others[others != w]
        firsts.append(np.minimum(others, w))
        seconds.append(np.maximum(others, w))
    if not firsts:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    return np.concatenate(firsts), np.concatenate(seconds)


def _pairs_sharing_a_cell(owners: IndexArray, cx0: FloatArray, cx1: FloatArray,
                          cy0: FloatArray, cy1: FloatArray) -> tuple[IndexArray, IndexArray]:
    """Return the pairs of ``owners`` (ascending) whose cell ranges meet, each pair once.

    ``cx0..cx1`` by ``cy0..cy1`` are the (float, integral) cell ranges of each owner.
    """
    n = owners.size
    # Cells count from the lowest one. Clamping is monotonic, so ranges that meet still do;
    # the bound keeps (cell key * n + owner) below 2**62 however far apart the tracks are.
    bound = math.isqrt(2**62 // n) - 1
    x_min, y_min = cx0.min(), cy0.min()
    x0 = np.minimum(cx0 - x_min, bound).astype(np.int64)
    x1 = np.minimum(cx1 - x_min, bound).astype(np.int64)
    y0 = np.minimum(cy0 - y_min, bound).astype(np.int64)
    y1 = np.minimum(cy1 - y_min, bound).astype(np.int64)
    ny = y1 - y0 + 1
    counts = (x1 - x0 + 1) * ny
    # One entry per (owner, covered cell), numbered row by row inside the owner's range.
    owner = np.repeat(np.arange(n, dtype=np.int64), counts)
    k = np.arange(owner.size, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    ny_e = ny[owner]
    span = int(y1.max()) + 1
    key = (x0[owner] + k // ny_e) * span + (y0[owner] + k % ny_e)
    # Sorting key * n + owner groups the entries by cell, owners ascending inside a cell
    # (so pairs come out i < j), and is much cheaper than an argsort.
    entries = np.sort(key * n + owner)
    key = entries // n
    owner = entries - key * n
    # Pair each entry with the entries after it in the same cell.
    new_cell = np.empty(key.size, np.bool_)
    new_cell[0] = True
    np.not_equal(key[1:], key[:-1], out=new_cell[1:])
    cell_end = np.append(np.flatnonzero(new_cell[1:]) + 1, key.size)
    after = cell_end[np.cumsum(new_cell) - 1] - np.arange(key.size) - 1
    p = np.repeat(np.arange(key.size), after)
    q = np.arange(p.size) - np.repeat(np.cumsum(after) - after, after) + p + 1
    a, b = owner[p], owner[q]
    # Ranges sharing several cells would pair in each: keep only the pair in the lowest
    # cell of the ranges' intersection, which both ranges contain.
    cell = key[p]
    once = ((cell // span == np.maximum(x0[a], x0[b]))
            & (cell % span == np.maximum(y0[a], y0[b])))
    return owners[a[once]], owners[b[once]]


def _may_conflict(first: IndexArray, second: IndexArray,
                  columns: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray,
                                 FloatArray],
                  rules: SeparationRules) -> tuple[IndexArray, IndexArray]:
    """Return the pairs the exact test could find in conflict, as array operations.

    The same arithmetic as _conflict, compared with a margin (squared distances instead of
    hypot round differently) and letting NaN through: it may keep a pair the exact test then
    rejects, never the reverse.
    """
    east, north, up, ve, vn, vu = columns
    h_lim = (rules.horizontal_m * (1 + _MARGIN)) ** 2
    v_lim = rules.vertical_m * (1 + _MARGIN)
    horizon = rules.lookahead_s
    px, py, pz = east[second] - east[first], north[second] - north[first], up[second] - up[first]
    vx, vy, vz = ve[second] - ve[first], vn[second] - vn[first], vu[second] - vu[first]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        now = ~(px * px + py * py >= h_lim) & ~(np.abs(pz) >= v_lim)
        v2 = vx * vx + vy * vy
        t = np.minimum(np.maximum(-(px * vx + py * vy) / v2, 0.0), horizon)
        t[v2 < 1e-9] = 0.0
        hx, hy = px + vx * t, py + vy * t
        ahead = ~(hx * hx + hy * hy >= h_lim) & ~(np.abs(pz + vz * t) >= v_lim)
    keep = now | ahead
    return first[keep], second[keep]


def yielding_vehicle(conflict: Conflict, priority: dict[str, int]) -> str:
    """Return which vehicle of a conflict gives way: the lower priority, then the larger id."""
    pa, pb = priority.get(conflict.a, 0), priority.get(conflict.b, 0)
    if pa != pb:
        return conflict.a if pa < pb else conflict.b
    return max(conflict.a, conflict.b)
