"""No-fly zones stop vehicles inside them or about to enter, within band and window."""

from __future__ import annotations

import pytest

from fleet_core.fleet.airspace import Airspace, NoFlyZone
from fleet_core.geo import GeoPoint, LocalFrame

ORIGIN = GeoPoint(47.3977, 8.5456, 488.0)
FRAME = LocalFrame.at(ORIGIN)


def square(zid: str, e0: float, n0: float, size: float, **kw: object) -> NoFlyZone:
    ring = tuple(FRAME.to_geo(e, n, 0) for e, n in
                 ((e0, n0), (e0 + size, n0), (e0 + size, n0 + size), (e0, n0 + size)))
    return NoFlyZone(zid, zid, ring, **kw)  # type: ignore[arg-type]


@pytest.fixture
def airspace() -> Airspace:
    a = Airspace(FRAME)
    a.set_zones([square("z", 100, -50, 100, floor_m=0.0, ceiling_m=120.0)])
    return a


def check(a: Airspace, east: float, alt: float = 30.0, ve: float = 0.0, now: float = 0.0
          ) -> list[tuple[str, bool]]:
    hits = a.check("uav0", east=east, north=0.0, rel_alt=alt, velocity=(ve, 0.0, 0.0),
                   lookahead_s=10.0, now=now)
    return [(h.zone_id, h.inside) for h in hits]


def test_a_vehicle_inside_a_zone_is_reported_inside(airspace: Airspace) -> None:
    assert check(airspace, 150.0) == [("z", True)]


def test_a_vehicle_heading_for_a_zone_is_reported_before_it_enters(airspace: Airspace) -> None:
    assert check(airspace, 30.0, ve=10.0) == [("z", False)]
    assert check(airspace, 30.0, ve=-10.0) == []


def test_a_vehicle_above_the_ceiling_is_clear(airspace: Airspace) -> None:
    assert check(airspace, 150.0, alt=150.0) == []


def test_an_inactive_zone_is_ignored() -> None:
    a = Airspace(FRAME)
    a.set_zones([square("later", 100, -50, 100, active_from=1000.0, active_until=2000.0)])
    assert check(a, 150.0, now=500.0) == []
    assert check(a, 150.0, now=1500.0) == [("later", True)]
    assert check(a, 150.0, now=2500.0) == []


@pytest.mark.parametrize(("zone", "message"), [
    (NoFlyZone("z", "z", (ORIGIN, ORIGIN)), "at least 3 vertices"),
    (NoFlyZone("z", "z", (ORIGIN, GeoPoint(95, 0), ORIGIN)), "vertex 1"),
    (square("z", 0, 0, 10, floor_m=50.0, ceiling_m=10.0), "floor < ceiling"),
    (NoFlyZone("bow", "bow", tuple(FRAME.to_geo(e, n, 0) for e, n in
                                   ((0, 0), (10, 10), (10, 0), (0, 10)))), "self-intersecting"),
], ids=["two-vertices", "bad-vertex", "inverted-band", "bow-tie"])
def test_a_bad_zone_is_rejected_and_changes_nothing(airspace: Airspace, zone: NoFlyZone,
                                                    message: str) -> None:
    with pytest.raises(ValueError, match=message):
        airspace.set_zones([zone])
    assert list(airspace.zones) == ["z"]
