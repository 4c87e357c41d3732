"""A local metric projection (azimuthal equidistant) centred on the mission, via pyproj."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence

import numpy as np
from pyproj import CRS, Transformer
from pyproj.enums import TransformDirection
from shapely.geometry import MultiPolygon, Polygon

from fleet_core.geo import GeoPoint
from fleet_core.planning.errors import PlanningError
from fleet_core.planning.types import Area, PolygonRings

# Beyond this the lon/lat rings requests are written in stop describing small areas well
# (a field around a pole has no lon/lat ring) and the planner does not serve polar flights.
MAX_ABS_LATITUDE = 85.0

# Transformers take milliseconds to build and are not shared between threads, so each
# thread keeps a few, keyed by a centre rounded to ~1 km (any nearby centre is as good).
_CACHE = threading.local()
_CACHE_SIZE = 16


def _transformer(lat0: float, lon0: float) -> Transformer:
    cache: dict[tuple[float, float], Transformer] | None = getattr(_CACHE, "items", None)
    if cache is None:
        cache = {}
        _CACHE.items = cache
    key = (lat0, lon0)
    found = cache.get(key)
    if found is None:
        crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m")
        found = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
        if len(cache) >= _CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = found
    return found


def wrap_longitude(lon: float) -> float:
    """Return ``lon`` in [-180, 180)."""
    return (lon + 180.0) % 360.0 - 180.0


def unwrap_longitudes(lons: Iterable[float]) -> np.ndarray:
    """Return longitudes made continuous around their circular mean (no jump at +/-180).

    Meaningful for points spanning less than 180 degrees, which every mission does.
    """
    arr = np.asarray(list(lons), dtype=float)
    rad = np.radians(arr)
    s, c = float(np.sin(rad).sum()), float(np.cos(rad).sum())
    # Opposite points have no mean direction; any reference on the circle does then.
    ref = math.degrees(math.atan2(s, c)) if math.hypot(s, c) > 1e-9 else float(arr[0])
    return ref + (arr - ref + 180.0) % 360.0 - 180.0


class Projection:
    """Converts WGS-84 lon/lat to metres east/north of a centre and back."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0 = round(lat0, 2)
        self.lon0 = round(lon0, 2)
        self._t = _transformer(self.lat0, self.lon0)

    @classmethod
    def around(cls, lonlats: Iterable[tuple[float, float]]) -> Projection:
        """Centre a projection on the bounding box of the given (lon, lat) points.

        The box is taken on longitudes unwrapped around their circular mean, so points on both
        sides of the antimeridian are centred there rather than at longitude 0.
        """
        pts = np.asarray(list(lonlats), dtype=float)
        worst = int(np.argmax(np.abs(pts[:, 1])))
        if abs(pts[worst, 1]) > MAX_ABS_LATITUDE:
            raise PlanningError(f"the point ({pts[worst, 0]:.6f}, {pts[worst, 1]:.6f}) at "
                                f"latitude {pts[worst, 1]:.4f} is beyond the planner's limit of "
                                f"+/-{MAX_ABS_LATITUDE:g} degrees")
        lons = unwrap_longitudes(pts[:, 0])
        lon = wrap_longitude(float(lons.min() + lons.max()) / 2)
        lat = (pts[:, 1].min() + pts[:, 1].max()) / 2
        return cls(float(lat), lon)

    def forward(self, lonlats: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        """Project (lon, lat) pairs to (x, y) metres."""
        if not lonlats:
            return []
        arr = np.asarray(lonlats, dtype=float)
        x, y = self._t.transform(arr[:, 0], arr[:, 1])
        return list(zip(np.asarray(x).tolist(), np.asarray(y).tolist(), strict=True))

    def inverse(self, xys: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        """Unproject (x, y) metres to (lon, lat) pairs."""
        if not xys:
            return []
        arr = np.asarray(xys, dtype=float)
        lon, lat = self._t.transform(arr[:, 0], arr[:, 1], direction=TransformDirection.INVERSE)
        # Waypoints must be valid GeoPoints: a centre near 180 must not yield 180.0001.
        lon = (np.asarray(lon) + 180.0) % 360.0 - 180.0
        return list(zip(lon.tolist(), np.asarray(lat).tolist(), strict=True))

    def point(self, p: GeoPoint) -> tuple[float, float]:
        """Project one WGS-84 point."""
        return self.forward([(p.longitude, p.latitude)])[0]

    def area(self, area: Area) -> Polygon | MultiPolygon:
        """Project an area to a shapely (Multi)Polygon in metres."""
        polys = [self.polygon(rings) for rings in area.polygons]
        return polys[0] if len(polys) == 1 else MultiPolygon(polys)

    def polygon(self, rings: PolygonRings) -> Polygon:
        """Project one polygon's rings."""
        projected = [self.forward(list(r)) for r in rings]
        return Polygon(projected[0], projected[1:])

    def unproject_polygon(self, poly: Polygon) -> PolygonRings:
        """Return a metric polygon's rings in (lon, lat)."""
        rings = [poly.exterior, *poly.interiors]
        return tuple(tuple(self.inverse([(float(c[0]), float(c[1])) for c in r.coords]))
                     for r in rings)
