"""Shared helpers: areas and zones built in metres around an origin, converted to WGS-84."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.fleet.model import VehicleSpec
from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.planning import PlanningContext

ORIGIN = GeoPoint(47.3977, 8.5456)
FRAME = LocalFrame.at(ORIGIN)
VEHICLE = VehicleSpec("uav0", "/uav0/mavros", max_payload_kg=2.0)


def ring(points: Sequence[tuple[float, float]], frame: LocalFrame = FRAME) -> list[list[float]]:
    """Return a closed GeoJSON ring (lon, lat) of points given in metres east/north."""
    out = []
    for e, n in [*points, points[0]]:
        p = frame.to_geo(e, n, 0.0)
        out.append([p.longitude, p.latitude])
    return out


def pos(east: float, north: float, frame: LocalFrame = FRAME) -> dict[str, float]:
    """Return a request position (latitude, longitude) ``east``, ``north`` metres away."""
    p = frame.to_geo(east, north, 0.0)
    return {"latitude": p.latitude, "longitude": p.longitude}


def rect(e0: float, n0: float, e1: float, n1: float) -> list[tuple[float, float]]:
    """Return the corners of an axis-aligned rectangle in metres."""
    return [(e0, n0), (e1, n0), (e1, n1), (e0, n1)]


def zone(zid: str, corners: Sequence[tuple[float, float]], frame: LocalFrame = FRAME,
         **kw: float | None) -> NoFlyZone:
    """Return a no-fly zone over corners given in metres."""
    return NoFlyZone(zid, zid, tuple(frame.to_geo(e, n, 0.0) for e, n in corners),
                     **kw)  # type: ignore[arg-type]


def survey_spec(area: list[list[list[float]]], **kw: object) -> dict[str, object]:
    """Return a survey request with a 40 m x 30 m footprint and 70/80 % overlap."""
    spec: dict[str, object] = {
        "type": "survey", "altitude_m": 50.0, "speed_mps": 8.0,
        "area": {"type": "Polygon", "coordinates": area},
        "camera": {"footprint_width_m": 40.0, "footprint_height_m": 30.0},
        "side_overlap_pct": 70.0, "front_overlap_pct": 80.0,
    }
    spec.update(kw)
    return spec


@pytest.fixture
def ctx() -> PlanningContext:
    return PlanningContext(start=FRAME.to_geo(-50.0, -50.0, 0.0), vehicle=VEHICLE, now=1000.0)
