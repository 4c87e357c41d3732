"""Charging over REST: stations as GeoJSON, charges requested through the planner, and the
live queue with its waits (the planner's /fleet/charging_queue)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet_ros.graph import RosGraph

from .conftest import Accounts, token_of
from .test_missions import bridge_sees, start_fleet, until

pytestmark = pytest.mark.ros


def test_two_vehicles_queue_for_one_pad_and_the_second_sees_its_wait(
        graph: RosGraph, tmp_path: Path, start_bridge: Any, accounts: Accounts) -> None:
    site_a, site_b = accounts.site("a"), accounts.site("b")
    op = accounts.user("op", ("operator", site_a))
    other = accounts.user("other", ("operator", site_b))
    start_fleet(graph, tmp_path, {"uav0": site_a, "uav1": site_a}, battery_pct=40.0)
    server = start_bridge(ros_domain_id=graph.domain_id)
    bridge_sees(server, "uav0", "uav1")
    with server.client(token_of(server, op)) as c:
        stations = until(lambda: (r := c.get("/api/v1/charging/stations").json())
                         .get("source") == "planner" and r, 10.0, "the planner's stations")
        (pad,) = stations["features"]
        assert pad["id"] == "pad_t"
        assert pad["geometry"]["type"] == "Point"
        assert pad["properties"]["pads"] == 1
        assert pad["properties"]["charge_rate_w"] == pytest.approx(3000.0)

        first = c.post("/api/v1/charging/requests", json={"vehicle_id": "uav0",
                                                          "target_pct": 90})
        assert first.status_code == 202, first.text
        assert first.json()["station_id"] == "pad_t"
        until(lambda: any(e["vehicle_id"] == "uav0" and e["pad"] == 0 for e in
                          c.get("/api/v1/charging/queue").json()["entries"]), 10.0,
              "uav0 given the pad")
        second = c.post("/api/v1/charging/requests", json={"vehicle_id": "uav1",
                                                           "target_pct": 90})
        assert second.status_code == 202, second.text
        assert second.json()["state"] == "queued"
        assert second.json()["queue_position"] == 1

        queue = c.get("/api/v1/charging/queue").json()["entries"]
        waiting = next(e for e in queue if e["vehicle_id"] == "uav1")
        assert waiting["pad"] is None
        assert waiting["estimated_wait_s"] > 0.0  # uav0 holds the only pad
        assert waiting["time_to_full_s"] > waiting["estimated_wait_s"]
        again = c.post("/api/v1/charging/requests", json={"vehicle_id": "uav0"})
        assert again.status_code == 409
        assert "already has a charging request" in again.json()["detail"]
        garbage = c.post("/api/v1/charging/requests", json={"vehicle_id": "uav0",
                                                            "target_pct": 150})
        assert garbage.status_code == 422
    with server.client(token_of(server, other)) as b:
        assert b.get("/api/v1/charging/queue").json()["entries"] == []
        assert b.post("/api/v1/charging/requests",
                      json={"vehicle_id": "uav1"}).status_code == 404
