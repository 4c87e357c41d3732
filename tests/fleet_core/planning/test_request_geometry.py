"""Area geometry in requests: degenerate areas, vertex limits and rings across +/-180."""

from __future__ import annotations

import math

import pytest

from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.planning import RequestError, parse_request

from .conftest import rect, ring, survey_spec


def _circle(n: int) -> list[tuple[float, float]]:
    return [(500 * math.cos(2 * math.pi * k / n), 500 * math.sin(2 * math.pi * k / n))
            for k in range(n)]


def test_a_near_zero_area_polygon_is_refused_saying_it_has_no_area() -> None:
    sliver = ring([(0, 0), (100, 0), (50, 1e-6)])
    with pytest.raises(RequestError, match=r"area.coordinates: has \(almost\) no area: .* m²"):
        parse_request(survey_spec([sliver]))


def test_a_closed_ring_of_exactly_the_vertex_limit_is_accepted() -> None:
    spec = survey_spec([ring(_circle(10_000))])
    assert len(spec["area"]["coordinates"][0]) == 10_001  # type: ignore[index]
    request = parse_request(spec)
    assert request.area is not None
    assert len(request.area.polygons[0][0]) == 10_001


@pytest.mark.parametrize("closed", [True, False], ids=["closed", "open"])
def test_a_ring_over_the_vertex_limit_is_refused_counting_distinct_vertices(
        closed: bool) -> None:
    coords = ring(_circle(10_001))
    with pytest.raises(RequestError, match="has 10001 vertices, more than 10000"):
        parse_request(survey_spec([coords if closed else coords[:-1]]))


def test_a_field_with_a_hole_on_one_side_of_the_antimeridian_is_a_valid_polygon() -> None:
    frame = LocalFrame.at(GeoPoint(-16.8, 180.0))
    field = ring(rect(-350, -250, 350, 250), frame)
    hole = ring(rect(50, -50, 150, 50), frame)
    assert all(lon < 0 for lon, _ in hole)
    request = parse_request(survey_spec([field, hole]))
    assert request.area is not None
