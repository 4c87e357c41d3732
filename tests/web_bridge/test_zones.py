"""No-fly zones over REST: GeoJSON in and out, validated with errors naming the zone, applied
through fleet_manager's set_no_fly_zones (the whole set, or nothing)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from rclpy.parameter import Parameter

from fleet_interfaces.msg import NoFlyZoneArray
from fleet_manager.node import FleetManagerNode
from fleet_ros.graph import RosGraph
from fleet_ros.qos import FLEET_QOS
from tests.ros_helpers import Collector

from .conftest import Accounts, token_of
from .test_missions import until

pytestmark = pytest.mark.ros

SQUARE = [[8.5480, 47.3995], [8.5500, 47.3995], [8.5500, 47.4005], [8.5480, 47.4005],
          [8.5480, 47.3995]]


def zone(zone_id: str, ring: list[list[float]] | None = None, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "id": zone_id,
            "geometry": {"type": "Polygon", "coordinates": [ring or SQUARE]},
            "properties": {"name": zone_id, "floor_m": 0.0, "ceiling_m": 120.0, **props}}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def start_manager(graph: RosGraph, tmp_path: Path) -> Collector:
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump({"fleet_manager": {
        "origin": {"latitude": 47.397742, "longitude": 8.545594, "altitude": 488.0},
        "discovery": {"enabled": False},
        "no_fly_zones": [{"id": "helipad", "name": "Helipad", "floor_m": 0.0,
                          "ceiling_m": 150.0, "polygon": [
                              {"latitude": lat, "longitude": lon} for lon, lat in SQUARE[:-1]]}],
    }}))
    graph.add(FleetManagerNode(context=graph.context,
                               parameter_overrides=[Parameter("config_file", value=str(path))]))
    return Collector(graph, NoFlyZoneArray, "/fleet/no_fly_zones", FLEET_QOS)


BAD = [
    ("an open ring", zone("open", SQUARE[:-1]), "not closed"),
    ("two distinct points", zone("thin", [SQUARE[0], SQUARE[1], SQUARE[0], SQUARE[0]]),
     "fewer than 3 distinct"),
    ("a latitude out of range", zone("north", [[8.5, 95.0], *SQUARE[1:-1], [8.5, 95.0]]),
     "latitude 95.0 is outside"),
    ("a bow tie", zone("bowtie", [SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3], SQUARE[0]]),
     "invalid"),
    ("floor above ceiling", zone("upside", floor_m=200.0), "not below ceiling_m"),
    ("a window backwards", zone("late", active_from=2_000_000_000.0,
                                active_until=1_900_000_000.0), "not before active_until"),
    ("a point", {**zone("dot"), "geometry": {"type": "Point", "coordinates": [8.5, 47.4]}},
     "only 'Polygon'"),
]


def test_zones_are_listed_replaced_added_and_lifted_and_reach_the_graph(
        graph: RosGraph, tmp_path: Path, start_bridge: Any, accounts: Accounts) -> None:
    published = start_manager(graph, tmp_path)
    admin = accounts.user("admin", ("admin", None))
    server = start_bridge(ros_domain_id=graph.domain_id)
    with server.client(token_of(server, admin)) as c:
        until(lambda: c.get("/api/v1/zones").json()["features"], 15.0, "the configured zone")
        listed = c.get("/api/v1/zones").json()
        assert [f["id"] for f in listed["features"]] == ["helipad"]
        assert listed["features"][0]["geometry"]["coordinates"][0][0] == \
            listed["features"][0]["geometry"]["coordinates"][0][-1]

        shifted = [[lon + 0.01, lat] for lon, lat in SQUARE]
        r = c.put("/api/v1/zones", json=collection(
            zone("stadium", shifted, active_from="2030-01-01T00:00:00Z"), zone("school")))
        assert r.status_code == 200, r.text
        assert sorted(f["id"] for f in r.json()["features"]) == ["school", "stadium"]
        msg = until(lambda: (m := published.last()) is not None and
                    sorted(z.id for z in m.zones) == ["school", "stadium"] and m, 10.0,
                    "the new set on /fleet/no_fly_zones")
        stadium = next(z for z in msg.zones if z.id == "stadium")
        assert len(stadium.polygon) == 4  # the closing point is not sent
        assert stadium.active_from.sec == 1_893_456_000

        # What GET answers can be sent back as it is.
        assert c.put("/api/v1/zones", json=c.get("/api/v1/zones").json()).status_code == 200
        added = c.post("/api/v1/zones", json=zone("park", shifted, ceiling_m=60.0))
        assert added.status_code == 201, added.text
        assert c.post("/api/v1/zones", json=zone("park")).status_code == 409
        lifted = c.delete("/api/v1/zones/school")
        assert lifted.status_code == 200, lifted.text
        assert sorted(f["id"] for f in c.get("/api/v1/zones").json()["features"]) == \
            ["park", "stadium"]
        assert c.delete("/api/v1/zones/school").status_code == 404


def test_a_bad_zone_is_refused_naming_it_and_nothing_changes(
        graph: RosGraph, tmp_path: Path, start_bridge: Any, accounts: Accounts) -> None:
    published = start_manager(graph, tmp_path)
    admin = accounts.user("admin", ("admin", None))
    site = accounts.site("a")
    site_admin = accounts.user("site_admin", ("admin", site))
    server = start_bridge(ros_domain_id=graph.domain_id)
    with server.client(token_of(server, admin)) as c:
        until(lambda: c.get("/api/v1/zones").json()["features"], 15.0, "the configured zone")
        before = c.get("/api/v1/zones").json()
        sent = len(published.snapshot())
        for what, bad, problem in BAD:
            r = c.put("/api/v1/zones", json=collection(zone("fine"), copy.deepcopy(bad)))
            assert r.status_code == 422, what
            detail = r.json()["detail"]
            assert f"zone {bad['id']!r}" in detail, (what, detail)
            assert problem in detail, (what, detail)
        twice = c.put("/api/v1/zones", json=collection(zone("same"), zone("same")))
        assert twice.status_code == 422
        assert "used twice" in twice.json()["detail"]
        assert c.post("/api/v1/zones", json=BAD[0][1]).status_code == 422
        assert c.get("/api/v1/zones").json() == before
        assert len(published.snapshot()) == sent  # fleet_manager was never asked
    with server.client(token_of(server, site_admin)) as s:
        r = s.put("/api/v1/zones", json=collection(zone("mine")))
        assert r.status_code == 403
        assert "every site" in r.json()["detail"]
