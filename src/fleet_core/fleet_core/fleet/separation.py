"""Separation between airborne vehicles: present and predicted, with a spatial grid.

Positions and velocities are in one local ENU frame (metres, m/s). Each vehicle is
indexed by the box it sweeps over the look-ahead; only vehicles whose boxes share a grid
cell are compared, so a fleet spread over an area costs O(n), not O(n^2).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


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


def _swept_box(t: Track, horizon_s: float, pad: float) -> tuple[float, float, float, float]:
    """Return the box the track covers over the horizon, padded on every side."""
    e2, n2 = t.east + t.ve * horizon_s, t.north + t.vn * horizon_s
    return (min(t.east, e2) - pad, min(t.north, n2) - pad,
            max(t.east, e2) + pad, max(t.north, n2) + pad)


def find_conflicts(tracks: Sequence[Track], rules: SeparationRules) -> list[Conflict]:
    """Return every pair of tracks that breaches the rules now or within the look-ahead.

    Two tracks can only come within the horizontal minimum if the boxes they sweep over the
    look-ahead, each padded by half the minimum, overlap. Each box is entered in the grid
    cells it covers; only tracks sharing a cell are compared.
    """
    horizon = rules.lookahead_s
    pad = rules.horizontal_m / 2
    cell = max(2 * rules.horizontal_m, rules.max_speed * horizon / 2, 1.0)
    boxes = [_swept_box(t, horizon, pad) for t in tracks]
    grid: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        for cx in range(math.floor(x0 / cell), math.floor(x1 / cell) + 1):
            for cy in range(math.floor(y0 / cell), math.floor(y1 / cell) + 1):
                grid[(cx, cy)].append(i)
    seen: set[tuple[int, int]] = set()
    conflicts: list[Conflict] = []
    h_min, v_min = rules.horizontal_m, rules.vertical_m
    for members in grid.values():
        if len(members) < 2:
            continue
        for a_idx, i in enumerate(members):
            bi = boxes[i]
            for j in members[a_idx + 1:]:
                bj = boxes[j]
                if bi[0] > bj[2] or bj[0] > bi[2] or bi[1] > bj[3] or bj[1] > bi[3]:
                    continue
                pair = (i, j) if i < j else (j, i)
                if pair in seen:
                    continue
                seen.add(pair)
                t1, t2 = tracks[pair[0]], tracks[pair[1]]
                now_h = math.hypot(t2.east - t1.east, t2.north - t1.north)
                now_v = abs(t2.up - t1.up)
                if now_h < h_min and now_v < v_min:
                    conflicts.append(Conflict(t1.vehicle_id, t2.vehicle_id, 0.0, now_h, now_v))
                    continue
                tc, h, v = closest_approach(t1, t2, horizon)
                if h < h_min and v < v_min:
                    conflicts.append(Conflict(t1.vehicle_id, t2.vehicle_id, tc, h, v))
    return conflicts


def yielding_vehicle(conflict: Conflict, priority: dict[str, int]) -> str:
    """Return which vehicle of a conflict gives way: the lower priority, then the larger id."""
    pa, pb = priority.get(conflict.a, 0), priority.get(conflict.b, 0)
    if pa != pb:
        return conflict.a if pa < pb else conflict.b
    return max(conflict.a, conflict.b)
