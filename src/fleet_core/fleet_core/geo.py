"""Geodesy on the WGS-84 ellipsoid for the short distances a fleet works over."""

from __future__ import annotations

import math
from dataclasses import dataclass

WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS-84 position: degrees, and metres above the ellipsoid."""

    latitude: float
    longitude: float
    altitude: float = 0.0

    def is_valid(self) -> bool:
        """Tell whether the coordinates are finite and inside their ranges."""
        return (
            math.isfinite(self.latitude)
            and math.isfinite(self.longitude)
            and -90.0 <= self.latitude <= 90.0
            and -180.0 <= self.longitude <= 180.0
        )


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """A local East-North-Up tangent frame around an origin.

    Uses the ellipsoid's meridian and prime-vertical radii of curvature at the origin, so
    the error stays below a centimetre within a few kilometres at any latitude (beyond that,
    use pyproj). It is cheap enough for the simulator's inner loop.
    """

    origin: GeoPoint
    metres_per_deg_lat: float
    metres_per_deg_lon: float

    @classmethod
    def at(cls, origin: GeoPoint) -> LocalFrame:
        """Build the frame whose (0, 0, 0) is ``origin``."""
        if not origin.is_valid():
            raise ValueError(f"local frame origin {origin} is not a valid WGS-84 position")
        lat = math.radians(origin.latitude)
        s2 = math.sin(lat) ** 2
        meridian = WGS84_A * (1 - WGS84_E2) / (1 - WGS84_E2 * s2) ** 1.5
        prime_vertical = WGS84_A / math.sqrt(1 - WGS84_E2 * s2)
        return cls(
            origin=origin,
            metres_per_deg_lat=math.radians(1.0) * meridian,
            metres_per_deg_lon=math.radians(1.0) * prime_vertical * math.cos(lat),
        )

    def to_enu(self, point: GeoPoint) -> tuple[float, float, float]:
        """Convert a WGS-84 point to (east, north, up) metres in this frame."""
        dlon = (point.longitude - self.origin.longitude + 540.0) % 360.0 - 180.0
        return (
            dlon * self.metres_per_deg_lon,
            (point.latitude - self.origin.latitude) * self.metres_per_deg_lat,
            point.altitude - self.origin.altitude,
        )

    def to_geo(self, east: float, north: float, up: float) -> GeoPoint:
        """Convert (east, north, up) metres in this frame to a WGS-84 point."""
        lon = self.origin.longitude + east / self.metres_per_deg_lon
        lon = (lon + 540.0) % 360.0 - 180.0
        return GeoPoint(
            latitude=self.origin.latitude + north / self.metres_per_deg_lat,
            longitude=lon,
            altitude=self.origin.altitude + up,
        )


def haversine_m(a: GeoPoint, b: GeoPoint) -> float:
    """Return the great-circle distance in metres between two points (mean Earth radius)."""
    r = 6_371_008.8
    p1, p2 = math.radians(a.latitude), math.radians(b.latitude)
    dp = p2 - p1
    dl = math.radians(b.longitude - a.longitude)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


def heading_deg(east: float, north: float) -> float:
    """Return the compass heading (0 = north, clockwise, [0, 360)) of a vector."""
    return math.degrees(math.atan2(east, north)) % 360.0


def yaw_to_quaternion(yaw_enu_rad: float) -> tuple[float, float, float, float]:
    """Return (x, y, z, w) of a rotation by ``yaw_enu_rad`` about the up axis."""
    return (0.0, 0.0, math.sin(yaw_enu_rad / 2), math.cos(yaw_enu_rad / 2))
