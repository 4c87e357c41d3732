"""Separation between airborne vehicles: present and predicted, with a spatial grid.

Positions and velocities are in one local ENU frame (metres, m/s). Vehicles are hashed
into square cells at least as wide as the largest distance two vehicles can close within
the look-ahead, so any conflicting pair lies in the same or adjacent cells: each vehicle
is compared with its neighbourhood only, O(n) for a fleet spread over an area.
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
    max_speed: float = 20.0  # bounds the cell size; faster tracks are clamped for hashing

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


def find_conflicts(tracks: Sequence[Track], rules: SeparationRules) -> list[Conflict]:
    """Return every pair of tracks that breaches the rules now or within the look-ahead."""
    reach = rules.horizontal_m + 2 * rules.max_speed * rules.lookahead_s
    cell = max(reach, 1.0)
    grid: dict[tuple[int, int], list[int]] = defaultdict(list)
    keys: list[tuple[int, int]] = []
    for i, t in enumerate(tracks):
        k = (math.floor(t.east / cell), math.floor(t.north / cell))
        keys.append(k)
        grid[k].append(i)
    conflicts: list[Conflict] = []
    for i, t1 in enumerate(tracks):
        cx, cy = keys[i]
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for j in grid.get((cx + dx, cy + dy), ()):
                    if j <= i:
                        continue
                    t2 = tracks[j]
                    # Cheap reject before the closest-approach arithmetic.
                    if abs(t2.east - t1.east) > reach or abs(t2.north - t1.north) > reach:
                        continue
                    now_h = math.hypot(t2.east - t1.east, t2.north - t1.north)
                    now_v = abs(t2.up - t1.up)
                    if now_h < rules.horizontal_m and now_v < rules.vertical_m:
                        conflicts.append(Conflict(t1.vehicle_id, t2.vehicle_id, 0.0, now_h, now_v))
                        continue
                    tc, h, v = closest_approach(t1, t2, rules.lookahead_s)
                    if h < rules.horizontal_m and v < rules.vertical_m:
                        conflicts.append(Conflict(t1.vehicle_id, t2.vehicle_id, tc, h, v))
    return conflicts


def yielding_vehicle(conflict: Conflict, priority: dict[str, int]) -> str:
    """Return which vehicle of a conflict gives way: the lower priority, then the larger id."""
    pa, pb = priority.get(conflict.a, 0), priority.get(conflict.b, 0)
    if pa != pb:
        return conflict.a if pa < pb else conflict.b
    return max(conflict.a, conflict.b)
