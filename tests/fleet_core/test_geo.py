"""Local ENU frames and distances are right at any latitude."""

from __future__ import annotations

import math

import pytest

from fleet_core.geo import GeoPoint, LocalFrame, haversine_m, heading_deg


@pytest.mark.parametrize("latitude", [0.0, 47.4, 60.0, -33.9, 78.2], ids=lambda v: f"lat{v}")
def test_enu_round_trip_returns_the_same_point(latitude: float) -> None:
    frame = LocalFrame.at(GeoPoint(latitude, 8.5, 400.0))
    p = frame.to_geo(1234.5, -987.6, 50.0)
    e, n, u = frame.to_enu(p)
    assert (e, n, u) == pytest.approx((1234.5, -987.6, 50.0), abs=1e-6)


@pytest.mark.parametrize("latitude", [0.0, 45.0, 60.0], ids=lambda v: f"lat{v}")
def test_one_kilometre_east_matches_the_great_circle_distance(latitude: float) -> None:
    origin = GeoPoint(latitude, 10.0)
    frame = LocalFrame.at(origin)
    east = frame.to_geo(1000.0, 0.0, 0.0)
    # Ellipsoid vs sphere differ by up to ~0.5 %; the frame must be within that of 1 km.
    assert haversine_m(origin, east) == pytest.approx(1000.0, rel=6e-3)


def test_a_degree_of_longitude_at_60_degrees_is_half_of_one_at_the_equator() -> None:
    at_60 = LocalFrame.at(GeoPoint(60.0, 0.0)).metres_per_deg_lon
    at_0 = LocalFrame.at(GeoPoint(0.0, 0.0)).metres_per_deg_lon
    assert at_60 / at_0 == pytest.approx(0.5, rel=3e-3)


def test_frame_wraps_across_the_antimeridian() -> None:
    frame = LocalFrame.at(GeoPoint(0.0, 179.9999))
    p = frame.to_geo(100.0, 0.0, 0.0)
    assert p.longitude < -179.99
    assert frame.to_enu(p)[0] == pytest.approx(100.0, abs=1e-6)


def test_invalid_origin_is_rejected_with_the_value() -> None:
    with pytest.raises(ValueError, match="nan"):
        LocalFrame.at(GeoPoint(math.nan, 0.0))


@pytest.mark.parametrize(("east", "north", "expected"),
                         [(0, 1, 0.0), (1, 0, 90.0), (0, -1, 180.0), (-1, 0, 270.0)])
def test_heading_is_clockwise_from_north(east: float, north: float, expected: float) -> None:
    assert heading_deg(east, north) == pytest.approx(expected)
