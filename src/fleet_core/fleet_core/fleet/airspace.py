"""No-fly zones: polygon, altitude band and active window; inside and predicted-entry checks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from shapely import prepared
from shapely.geometry import LineString, Point, Polygon
from shapely.prepared import PreparedGeometry

from fleet_core.geo import GeoPoint, LocalFrame


@dataclass(frozen=True, slots=True)
class NoFlyZone:
    """An airspace volume to stay out of while active. Times are POSIX seconds."""

    zone_id: str
    name: str
    polygon: tuple[GeoPoint, ...]  # outer ring, not closed
    floor_m: float = 0.0  # above ground (home), metres
    ceiling_m: float = 10_000.0
    active_from: float | None = None
    active_until: float | None = None

    def validate(self) -> None:
        """Raise ValueError naming the first thing wrong with the zone."""
        if not self.zone_id:
            raise ValueError("no-fly zone needs a non-empty id")
        if len(self.polygon) < 3:
            raise ValueError(f"no-fly zone {self.zone_id!r} needs at least 3 vertices, "
                             f"got {len(self.polygon)}")
        for i, p in enumerate(self.polygon):
            if not p.is_valid():
                raise ValueError(f"no-fly zone {self.zone_id!r} vertex {i} is not a valid "
                                 f"WGS-84 position: {p}")
        if not (math.isfinite(self.floor_m) and math.isfinite(self.ceiling_m)
                and self.floor_m < self.ceiling_m):
            raise ValueError(f"no-fly zone {self.zone_id!r} needs floor < ceiling, got "
                             f"{self.floor_m} and {self.ceiling_m}")
        if (self.active_from is not None and self.active_until is not None
                and self.active_from >= self.active_until):
            raise ValueError(f"no-fly zone {self.zone_id!r} ends before it starts")

    def active(self, now: float) -> bool:
        """Tell whether the zone applies at POSIX time ``now``."""
        if self.active_from is not None and now < self.active_from:
            return False
        return self.active_until is None or now < self.active_until


@dataclass(frozen=True, slots=True)
class AirspaceHit:
    """A vehicle inside, or predicted to enter, a zone."""

    vehicle_id: str
    zone_id: str
    inside: bool  # False: predicted within the look-ahead


@dataclass(slots=True)
class Airspace:
    """The zones in force, projected once into the fleet's local frame."""

    frame: LocalFrame
    zones: dict[str, NoFlyZone] = field(default_factory=dict)
    _shapes: dict[str, PreparedGeometry[Polygon]] = field(default_factory=dict)

    def set_zones(self, zones: Sequence[NoFlyZone]) -> None:
        """Replace every zone (all validated first: a bad zone changes nothing)."""
        for z in zones:
            z.validate()
        ids = [z.zone_id for z in zones]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate no-fly zone ids in {ids}")
        shapes: dict[str, PreparedGeometry[Polygon]] = {}
        for z in zones:
            ring = [self.frame.to_enu(p)[:2] for p in z.polygon]
            poly = Polygon(ring)
            if not poly.is_valid:
                raise ValueError(f"no-fly zone {z.zone_id!r} polygon is self-intersecting")
            shapes[z.zone_id] = prepared.prep(poly)
        self.zones = {z.zone_id: z for z in zones}
        self._shapes = shapes

    def check(self, vehicle_id: str, *, east: float, north: float, rel_alt: float,
              velocity: tuple[float, float, float], lookahead_s: float,
              now: float) -> list[AirspaceHit]:
        """Return the active zones the vehicle is inside or will enter within the look-ahead."""
        hits = []
        here = Point(east, north)
        ahead = (east + velocity[0] * lookahead_s, north + velocity[1] * lookahead_s,
                 rel_alt + velocity[2] * lookahead_s)
        path = LineString([(east, north), ahead[:2]]) if (
            abs(velocity[0]) + abs(velocity[1]) > 0.05) else None
        for zid, z in self.zones.items():
            if not z.active(now):
                continue
            prep = self._shapes[zid]
            in_band_now = z.floor_m <= rel_alt <= z.ceiling_m
            if in_band_now and prep.contains(here):
                hits.append(AirspaceHit(vehicle_id, zid, True))
                continue
            lo, hi = min(rel_alt, ahead[2]), max(rel_alt, ahead[2])
            if path is not None and lo <= z.ceiling_m and hi >= z.floor_m and \
                    prep.intersects(path):
                hits.append(AirspaceHit(vehicle_id, zid, False))
        return hits
