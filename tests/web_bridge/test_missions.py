"""Missions over REST against the real graph: fleet_sim + fleet_manager + mission_planner in
the test's domain, the bridge joined to it. Commands answer once the vehicle acted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from rclpy.parameter import Parameter
from sqlalchemy import text
from websockets.exceptions import ConnectionClosed

from fleet_core.geo import GeoPoint, LocalFrame
from fleet_interfaces.srv import InjectFailure
from fleet_manager.node import FleetManagerNode
from fleet_ros.graph import RosGraph
from fleet_sim.node import FleetSimNode
from mission_planner.node import MissionPlannerNode

from .conftest import Accounts, BridgeServer, token_of
from .test_ws import open_ws, subscribe

pytestmark = pytest.mark.ros
T = TypeVar("T")

HOME = GeoPoint(47.397742, 8.545594, 488.0)
FRAME = LocalFrame.at(HOME)
STATION = {"id": "pad_t", "location": None, "charge_rate_w": 3000.0, "pad_radius_m": 2.0,
           "pads": [{"east": 0.0, "north": 0.0}]}


def at(east: float, north: float) -> dict[str, float]:
    g = FRAME.to_geo(east, north, 0.0)
    return {"latitude": g.latitude, "longitude": g.longitude, "altitude": 488.0}


@pytest.fixture(autouse=True)
def forget_missions(accounts: Accounts) -> Iterator[None]:
    """Delete the mission rows the bridge stored for this test's users."""
    yield
    with accounts.engine.begin() as conn:
        conn.execute(text("delete from missions where created_by like :p"),
                     {"p": f"{accounts.tag}%"})


def start_fleet(graph: RosGraph, tmp_path: Path, vehicles: dict[str, str], *,
                factor: float = 15.0, battery_pct: float = 100.0) -> MissionPlannerNode:
    """Start fleet_sim, fleet_manager and mission_planner with ``vehicles`` (id → site).

    The simulated MAVROS link timeout is long and a vehicle is stale after 1 s of silence,
    so a cut link shows as stale well before the planner would hand its mission back.
    """
    ids = sorted(vehicles)
    station = {**STATION, "location": at(-40.0, 0.0)}

    def write(name: str, doc: dict[str, Any]) -> str:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    sim = write("sim.yaml", {"fleet_sim": {
        "seed": 1, "time_factor": factor, "link_timeout_s": 3000.0,
        "vehicles": [{"id": vid, "home": at(30.0 * i, 0),
                      "battery": {"initial_percent": battery_pct}} for i, vid in enumerate(ids)],
        "charging_stations": [station]}})
    fleet = write("fleet.yaml", {"fleet_manager": {
        "origin": at(0, 0), "status_rate_hz": 5.0, "check_rate_hz": 10.0,
        "command_timeout_s": 2.0, "discovery": {"enabled": False},
        "vehicles": [{"id": vid, "home_site": vehicles[vid]} for vid in ids],
        "liveness": {"stale_after_s": 1.0, "lost_after_s": 120.0},
        "separation": {"enabled": False}}})
    missions = write("missions.yaml", {"mission_planner": {
        "tick_rate_hz": 5.0, "command_timeout_s": 2.0, "charging_stations": [station]}})
    graph.add(FleetSimNode(context=graph.context,
                           parameter_overrides=[Parameter("config_file", value=sim)]))
    graph.add(FleetManagerNode(context=graph.context,
                               parameter_overrides=[Parameter("config_file", value=fleet)]))
    planner = MissionPlannerNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=missions), Parameter("fleet_config_file", value=fleet)])
    graph.add(planner)
    graph.wait_for(lambda: len(planner.candidates()) == len(ids), 20.0,
                   "the planner sees every vehicle with a position and a battery level")
    return planner


def survey(size: float = 40.0, east: float = 50.0) -> dict[str, Any]:
    ring = [at(east, 0), at(east + size, 0), at(east + size, size), at(east, size)]
    coords = [[p["longitude"], p["latitude"]] for p in [*ring, ring[0]]]
    return {"type": "survey", "altitude_m": 20.0, "speed_mps": 8.0,
            "area": {"type": "Polygon", "coordinates": [coords]}, "pattern": "lawnmower",
            "camera": {"footprint_width_m": 40.0, "footprint_height_m": 30.0},
            "side_overlap_pct": 20.0, "front_overlap_pct": 20.0}


def until(fn: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``fn`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def mission_in(c: httpx.Client, mid: str, *states: str) -> dict[str, Any] | None:
    m = c.get(f"/api/v1/missions/{mid}").json()
    return m if m.get("state") in states else None


def bridge_sees(server: BridgeServer, *vehicles: str) -> None:
    until(lambda: all(v in server.bridge.picture.vehicles for v in vehicles), 15.0,
          f"the bridge's picture shows {vehicles}")


class MissionWatcher:
    """Follows ``mission/<id>`` on the bridge's WebSocket in a thread: the snapshot, then
    every update's mission, in order."""

    def __init__(self, server: BridgeServer, token: str, mission_id: str) -> None:
        self.seen: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._ws = open_ws(server, token)
        ws = self._ws.__enter__()
        answer = subscribe(ws, f"mission/{mission_id}")
        if answer.get("data"):
            self.seen.append(answer["data"])
        self._thread = threading.Thread(target=self._read, args=(ws,), daemon=True)
        self._thread.start()

    def _read(self, ws: Any) -> None:
        while not self._stop.is_set():
            try:
                message = json.loads(ws.recv(timeout=0.2))
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            if message.get("type") == "update" and message.get("kind") == "mission":
                self.seen.append(message["data"])

    def stop(self) -> list[dict[str, Any]]:
        """Stop reading and return what was seen."""
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._ws.__exit__(None, None, None)
        return self.seen


def test_a_survey_is_previewed_created_paused_resumed_and_completed(
        graph: RosGraph, tmp_path: Path, start_bridge: Any, accounts: Accounts) -> None:
    site = accounts.site("a")
    op = accounts.user("op", ("operator", site))
    start_fleet(graph, tmp_path, {"uav0": site})
    server = start_bridge(ros_domain_id=graph.domain_id)
    bridge_sees(server, "uav0")
    with server.client(token_of(server, op)) as c:
        preview = c.post("/api/v1/missions/preview", json={"spec": survey()})
        assert preview.status_code == 200, preview.text
        plan = preview.json()
        assert plan["path"]["type"] == "LineString"
        assert len(plan["path"]["coordinates"]) >= 4
        assert plan["distance_m"] > 100.0
        assert plan["coverage_pct"] >= 99.0

        created = c.post("/api/v1/missions", json={"spec": survey(), "priority": 5,
                                                   "site_id": site})
        assert created.status_code == 201, created.text
        mid = created.json()["mission_id"]
        assert created.json()["site_id"] == site
        assert created.json()["created_by"] == op
        watcher = MissionWatcher(server, token_of(server, op), mid)

        until(lambda: mission_in(c, mid, "active"), 30.0, "the mission active")
        paused = c.post(f"/api/v1/missions/{mid}/pause", json={"reason": "bird nearby"})
        assert paused.status_code == 200, paused.text
        assert paused.json()["vehicle_mode"] == "AUTO.LOITER"
        again = c.post(f"/api/v1/missions/{mid}/pause")
        assert again.status_code == 409
        assert "paused, not active" in again.json()["detail"]

        resumed = c.post(f"/api/v1/missions/{mid}/resume")
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["vehicle_mode"] == "AUTO.MISSION"
        progress: list[float] = []

        def completed() -> dict[str, Any] | None:
            m = c.get(f"/api/v1/missions/{mid}").json()
            progress.append(m["progress_pct"] or 0.0)
            return m if m["state"] == "completed" else None

        done = until(completed, 90.0, "the mission completed")
        assert done["progress_pct"] == pytest.approx(100.0)
        assert progress == sorted(progress)
        listed = c.get("/api/v1/missions", params={"state": "completed", "site": site}).json()
        assert mid in [m["mission_id"] for m in listed["items"]]
        late = c.post(f"/api/v1/missions/{mid}/pause")
        assert late.status_code == 409
        assert "completed" in late.json()["detail"]
    # The same flight as the WebSocket showed it: states in order, progress rising to 100 %.
    seen = watcher.stop()
    states = [m["state"] for m in seen]
    assert "paused" in states
    assert states[-1] == "completed"
    assert states.index("paused") < len(states) - 1 - states[::-1].index("active")
    flown = [m["progress_pct"] or 0.0 for m in seen]
    assert flown == sorted(flown)
    assert flown[-1] == pytest.approx(100.0)
    assert len({round(p) for p in flown}) >= 3, f"too few progress updates: {flown}"


def test_abort_is_acknowledged_by_the_vehicle_and_other_sites_cannot_command(
        graph: RosGraph, tmp_path: Path, start_bridge: Any, accounts: Accounts) -> None:
    site_a, site_b = accounts.site("a"), accounts.site("b")
    op_a = accounts.user("op_a", ("operator", site_a))
    op_b = accounts.user("op_b", ("operator", site_b))
    viewer_a = accounts.user("view_a", ("viewer", site_a))
    start_fleet(graph, tmp_path, {"uav0": site_a})
    server = start_bridge(ros_domain_id=graph.domain_id)
    bridge_sees(server, "uav0")
    with server.client(token_of(server, op_a)) as a:
        refused = a.post("/api/v1/missions", json={"spec": {"type": "survey",
                                                            "altitude_m": -5},
                                                   "site_id": site_a})
        assert refused.status_code == 422
        assert "altitude_m" in refused.json()["detail"]
        assert a.post("/api/v1/missions", json={"spec": survey(),
                                                "site_id": site_b}).status_code == 404
        mid = a.post("/api/v1/missions", json={"spec": survey(size=80.0),
                                               "site_id": site_a}).json()["mission_id"]
        until(lambda: mission_in(a, mid, "active"), 30.0, "the mission active")
        # One vehicle, busy: the second mission waits in the queue.
        queued = a.post("/api/v1/missions", json={"spec": survey(), "site_id": site_a})
        assert queued.status_code == 201, queued.text
        qid = queued.json()["mission_id"]
        not_flying = a.post(f"/api/v1/missions/{qid}/pause")
        assert not_flying.status_code == 409
        assert "queued, not active" in not_flying.json()["detail"]

        with server.client(token_of(server, op_b)) as b:
            assert b.post(f"/api/v1/missions/{mid}/abort").status_code == 404
            assert b.get(f"/api/v1/missions/{mid}").status_code == 404
            assert mid not in [m["mission_id"] for m in b.get("/api/v1/missions").json()["items"]]
        with server.client(token_of(server, viewer_a)) as v:
            assert v.get(f"/api/v1/missions/{mid}").json()["site_id"] == site_a
            assert v.post(f"/api/v1/missions/{mid}/abort").status_code == 403

        aborted = a.post(f"/api/v1/missions/{mid}/abort", json={"reason": "weather"})
        assert aborted.status_code == 200, aborted.text
        assert aborted.json()["vehicle_mode"] in ("AUTO.RTL", "AUTO.LAND")
        assert until(lambda: mission_in(a, mid, "aborted"), 5.0, "the mission aborted")
        assert a.post(f"/api/v1/missions/{qid}/abort").status_code == 200


def test_a_command_to_a_vehicle_whose_link_was_cut_answers_504_with_the_reason(
        graph: RosGraph, tmp_path: Path, start_bridge: Any, accounts: Accounts) -> None:
    site = accounts.site("a")
    op = accounts.user("op", ("operator", site))
    start_fleet(graph, tmp_path, {"uav0": site})
    server = start_bridge(ros_domain_id=graph.domain_id, ack_timeout_s=5.0)
    bridge_sees(server, "uav0")
    inject = graph.node("failures").create_client(InjectFailure, "/fleet_sim/inject_failure")
    with server.client(token_of(server, op)) as c:
        mid = c.post("/api/v1/missions", json={"spec": survey(size=80.0),
                                               "site_id": site}).json()["mission_id"]
        until(lambda: mission_in(c, mid, "active"), 30.0, "the mission active")
        assert graph.call(inject, InjectFailure.Request(
            vehicle_id="uav0", failure=InjectFailure.Request.FAILURE_LINK_LOSS,
            active=True)).success
        until(lambda: server.bridge.picture.vehicles["uav0"]["liveness"] != "fresh", 10.0,
              "uav0 no longer fresh in the picture")
        started = time.monotonic()
        r = c.post(f"/api/v1/missions/{mid}/pause")
        assert r.status_code == 504
        assert "uav0 link lost" in r.json()["detail"]
        assert time.monotonic() - started < 3.0  # said at once, not after the deadline
        # Nothing was sent: the mission is still active, not stuck in a state the vehicle
        # never took.
        assert c.get(f"/api/v1/missions/{mid}").json()["state"] == "active"


def test_sites_are_listed_by_grant_and_changed_by_their_admins(
        start_bridge: Any, accounts: Accounts) -> None:
    site_a, site_b = accounts.site("a"), accounts.site("b")
    boss = accounts.user("boss", ("admin", None))
    admin_a = accounts.user("admin_a", ("admin", site_a))
    server = start_bridge(with_ros=False)
    with server.client(token_of(server, admin_a)) as a:
        ids = [s["id"] for s in a.get("/api/v1/sites", params={"limit": 1000}).json()["items"]]
        assert ids == [site_a]
        assert a.get(f"/api/v1/sites/{site_b}").status_code == 404
        changed = a.put(f"/api/v1/sites/{site_a}", json={"name": "North field",
                                                         "time_zone": "Europe/Zurich"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["name"] == "North field"
        assert a.put(f"/api/v1/sites/{site_a}",
                     json={"time_zone": "Mars/Olympus"}).status_code == 422
        assert a.put(f"/api/v1/sites/{site_b}", json={"name": "x"}).status_code == 404
        new = {"id": f"{accounts.tag}_c", "name": "C",
               "location": {"latitude": 47.0, "longitude": 8.0}}
        assert a.post("/api/v1/sites", json=new).status_code == 403
    with server.client(token_of(server, boss)) as b:
        created = b.post("/api/v1/sites", json=new)
        assert created.status_code == 201, created.text
        accounts.sites.append(str(new["id"]))
        assert created.json()["location"]["latitude"] == pytest.approx(47.0)
        assert b.post("/api/v1/sites", json=new).status_code == 409
        assert b.get(f"/api/v1/sites/{new['id']}").json()["time_zone"] == "UTC"
