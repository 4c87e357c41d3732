"""Geometry across the antimeridian costs the same as the same geometry anywhere else."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest

from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.planning import (
    PlanningContext,
    PlanningError,
    WaypointKind,
    parse_request,
    plan_mission,
)
from fleet_core.planning.projection import Projection

from .conftest import VEHICLE, rect, zone


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def _survey(shift: float) -> dict[str, object]:
    """The issue's ~700 m x 500 m field at 180 deg, moved ``shift`` degrees east."""
    corners = [[179.9967, -16.8023], [-179.9967, -16.8023], [-179.9967, -16.7977],
               [179.9967, -16.7977], [179.9967, -16.8023]]
    return {"type": "survey", "altitude_m": 40, "pattern": "crosshatch",
            "camera": {"hfov_deg": 70, "vfov_deg": 55},
            "area": {"type": "Polygon",
                     "coordinates": [[[_wrap(lon + shift), lat] for lon, lat in corners]]}}


def _ctx(lon: float, lat: float = -16.8030, *, energy_limit: bool = True) -> PlanningContext:
    return PlanningContext(start=GeoPoint(lat, _wrap(lon)), vehicle=VEHICLE, now=1000.0,
                           energy_limit=energy_limit)


def test_a_survey_across_the_antimeridian_costs_the_same_as_at_longitude_zero() -> None:
    across = plan_mission(parse_request(_survey(0.0)), _ctx(179.9960, energy_limit=False))
    at_zero = plan_mission(parse_request(_survey(180.0)), _ctx(-0.0040, energy_limit=False))
    assert across.distance_m == pytest.approx(at_zero.distance_m, rel=0.01)
    assert across.energy_wh == pytest.approx(at_zero.energy_wh, rel=0.01)
    assert len(across.waypoints) == len(at_zero.waypoints)


def test_the_crosshatch_second_pass_across_the_antimeridian_is_spaced_at_the_line_spacing(
        ) -> None:
    plan = plan_mission(parse_request(_survey(0.0)), _ctx(179.9960, energy_limit=False))
    assert plan.line_spacing_m == pytest.approx(16.8, abs=0.01)
    frame = LocalFrame.at(GeoPoint(-16.8, 180.0))
    points = [(w.kind, frame.to_enu(w.position)[:2]) for w in plan.waypoints]
    survey = [xy for kind, xy in points if kind is WaypointKind.SURVEY]
    # Every survey point lies inside the ~700 m x 500 m field, not spread around the globe.
    assert all(abs(e) < 400 and abs(n) < 300 for e, n in survey)
    # The sweep lines of each pass (east-west, then north-south) are 16.8 m apart.
    offsets: dict[bool, set[float]] = {True: set(), False: set()}
    for (k0, (e0, n0)), (k1, (e1, n1)) in pairwise(points):
        if k0 is k1 is WaypointKind.SURVEY and math.hypot(e1 - e0, n1 - n0) > 100:
            east_west = abs(e1 - e0) > abs(n1 - n0)
            offsets[east_west].add(round((n0 + n1) / 2 if east_west else (e0 + e1) / 2, 1))
    for found in offsets.values():
        ordered = sorted(found)
        gaps = [b - a for a, b in pairwise(ordered)]
        assert len(gaps) > 10
        assert sorted(gaps)[len(gaps) // 2] == pytest.approx(16.8, abs=0.2)


def test_a_delivery_across_the_antimeridian_is_planned_at_its_true_length() -> None:
    def delivery(shift: float) -> float:
        spec = {"type": "delivery", "altitude_m": 40, "payload_kg": 1.0,
                "pickup": {"latitude": -16.80, "longitude": _wrap(179.9850 + shift)},
                "dropoff": {"latitude": -16.80, "longitude": _wrap(-179.9850 + shift)}}
        return plan_mission(parse_request(spec), _ctx(179.9840 + shift, -16.80)).distance_m

    across, at_zero = delivery(0.0), delivery(180.0)
    assert across == pytest.approx(at_zero, rel=0.01)
    assert 2 * 3100 < across < 2 * 3500


def test_a_zone_across_the_antimeridian_is_flown_around() -> None:
    frame = LocalFrame.at(GeoPoint(-16.80, 180.0))
    blocker = zone("z", rect(-100, -200, 100, 200), frame)
    assert {p.longitude > 0 for p in blocker.polygon} == {True, False}
    start = frame.to_geo(-1000, 0, 0)
    target = frame.to_geo(1000, 0, 0)
    ctx = PlanningContext(start=start, vehicle=VEHICLE, now=1000.0, no_fly_zones=(blocker,))
    spec = {"type": "emergency", "altitude_m": 40,
            "target": {"latitude": target.latitude, "longitude": target.longitude}}
    plan = plan_mission(parse_request(spec), ctx)
    # Around the 400 m zone and back: a little more than 2 x 2 km, never through it.
    assert 4000 < plan.distance_m < 4400
    for w in plan.waypoints:
        e, n, _ = frame.to_enu(w.position)
        assert not (-100 < e < 100 and -200 < n < 200)


def test_a_projection_centred_across_the_antimeridian_round_trips_in_range() -> None:
    proj = Projection.around([(179.999, 10.0), (-179.999, 10.001)])
    assert abs(abs(proj.lon0) - 180.0) < 0.01
    xy = proj.forward([(179.999, 10.0), (-179.999, 10.0)])
    assert math.dist(xy[0], xy[1]) == pytest.approx(219.3, abs=1.0)
    back = proj.inverse(xy)
    assert all(-180.0 <= lon <= 180.0 for lon, _ in back)
    assert back[1][0] == pytest.approx(-179.999, abs=1e-6)


def test_geometry_beyond_the_latitude_limit_is_refused_with_the_reason() -> None:
    spec = {"type": "emergency", "altitude_m": 40,
            "target": {"latitude": 86.001, "longitude": 10.0}}
    ctx = PlanningContext(start=GeoPoint(86.0, 10.0), vehicle=VEHICLE, now=1000.0)
    with pytest.raises(PlanningError, match=r"latitude 86.0.* beyond .*85"):
        plan_mission(parse_request(spec), ctx)
