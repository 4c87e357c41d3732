"""A local metric projection (azimuthal equidistant) centred on the mission, via pyproj."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np
from pyproj import CRS, Transformer
from pyproj.enums import TransformDirection
from shapely.geometry import MultiPolygon, Polygon

from fleet_core.geo import GeoPoint
from fleet_core.planning.types import Area, PolygonRings

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


class Projection:
    """Converts WGS-84 lon/lat to metres east/north of a centre and back."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0 = round(lat0, 2)
        self.lon0 = round(lon0, 2)
        self._t = _transformer(self.lat0, self.lon0)

    @classmethod
    def around(cls, lonlats: Iterable[tuple[float, float]]) -> Projection:
        """Centre a projection on the bounding box of the given (lon, lat) points."""
        pts = np.asarray(list(lonlats), dtype=float)
        lon = (pts[:, 0].min() + pts[:, 0].max()) / 2
        lat = (pts[:, 1].min() + pts[:, 1].max()) / 2
        return cls(float(lat), float(lon))

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
        return list(zip(np.asarray(lon).tolist(), np.asarray(lat).tolist(), strict=True))

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
