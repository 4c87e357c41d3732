"""The Redis live tier: state, GEO positions, counters and progress written by one leader,
fan-out between instances, the near/summary routes, and Redis going away and coming back."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from .conftest import REDIS_URL, Accounts, BridgeServer, token_of
from .test_ws import (
    event,
    feed,
    leading,
    open_ws,
    subscribe,
    until,
    vehicle,
    vehicle_ids,
    wait_for,
)

ZURICH = (47.3977, 8.5456)


def redis_of(server: BridgeServer) -> redis.Redis:
    """Return a client of the server's Redis (strings decoded)."""
    return redis.Redis.from_url(server.settings.redis_url, decode_responses=True,
                                socket_timeout=2)


# -- what the leader writes ---------------------------------------------------------------

def test_the_leader_writes_state_positions_counters_and_progress(
        start_bridge: Any, accounts: Accounts) -> None:
    north, south = accounts.site("north"), accounts.site("south")
    server = leading(start_bridge(with_ros=False, state_ttl_s=20))
    p = server.settings.redis_prefix
    feed(server, "fleet", [vehicle("n1", north, lat=ZURICH[0], lon=ZURICH[1]),
                           vehicle("n2", north, lat=ZURICH[0] + 0.01, lon=ZURICH[1],
                                   status="charging"),
                           vehicle("s1", south, lat=ZURICH[0], lon=ZURICH[1] + 0.001)])
    feed(server, "missions", [{"mission_id": "m1", "vehicle_id": "n1", "state": "active",
                               "progress_pct": 40.0, "current_waypoint": 3,
                               "waypoint_count": 9}])
    r = redis_of(server)
    wait_for(lambda: r.hgetall(f"{p}counts") == {f"{north}|idle": "1", f"{north}|charging": "1",
                                                  f"{south}|idle": "1"},
             5.0, "the counters per site and status")
    state = r.hgetall(f"{p}v:n1")
    assert (state["site"], state["status"]) == (north, "idle")
    assert json.loads(state["json"])["vehicle_id"] == "n1"
    assert 0 < r.ttl(f"{p}v:n1") <= 20  # a silent vehicle expires
    assert sorted(r.zrange(f"{p}geo", 0, -1)) == ["n1", "n2", "s1"]
    assert json.loads(r.hget(f"{p}progress", "m1") or "{}")["progress_pct"] == 40.0
    # Only what changed is written again; a vehicle that left is removed.
    feed(server, "fleet", [vehicle("n1", north, lat=ZURICH[0], lon=ZURICH[1]),
                           vehicle("s1", south, lat=ZURICH[0], lon=ZURICH[1] + 0.001)])
    wait_for(lambda: r.zrange(f"{p}geo", 0, -1) and "n2" not in r.zrange(f"{p}geo", 0, -1),
             5.0, "n2 gone from the GEO set")
    assert r.exists(f"{p}v:n2") == 0
    assert f"{north}|charging" not in r.hgetall(f"{p}counts")
    r.close()


def test_near_and_summary_answer_only_the_sites_the_caller_sees(
        start_bridge: Any, accounts: Accounts) -> None:
    north, south = accounts.site("north"), accounts.site("south")
    name = accounts.user("northviewer", ("viewer", north))
    server = leading(start_bridge(with_ros=False))
    feed(server, "fleet", [vehicle("n1", north, lat=ZURICH[0], lon=ZURICH[1]),
                           vehicle("n2", north, lat=ZURICH[0] + 0.001, lon=ZURICH[1]),
                           vehicle("far", north, lat=ZURICH[0] + 0.5, lon=ZURICH[1]),
                           vehicle("s1", south, lat=ZURICH[0], lon=ZURICH[1])])
    r = redis_of(server)
    wait_for(lambda: r.zcard(f"{server.settings.redis_prefix}geo") == 4, 5.0, "positions")
    r.close()
    with server.client(token_of(server, name)) as c:
        near = c.get("/api/v1/fleet/near", params={
            "latitude": ZURICH[0], "longitude": ZURICH[1], "radius_m": 1000}).json()
        assert near["source"] == "redis"
        assert [v["vehicle_id"] for v in near["items"]] == ["n1", "n2"]  # nearest first
        assert near["items"][1]["distance_m"] == pytest.approx(111.2, abs=1.0)
        one = c.get("/api/v1/fleet/near", params={
            "latitude": ZURICH[0], "longitude": ZURICH[1], "radius_m": 1000, "limit": 1})
        assert [v["vehicle_id"] for v in one.json()["items"]] == ["n1"]
        summary = c.get("/api/v1/fleet/summary").json()
        assert summary == {"source": "redis", "total": 3, "sites": [
            {"site_id": north, "total": 3, "by_status": {"idle": 3}}]}
        bad = c.get("/api/v1/fleet/near", params={"latitude": 91, "longitude": 0})
        assert bad.status_code == 422
        assert "latitude" in bad.json()["detail"]


# -- two instances --------------------------------------------------------------------------

def test_two_instances_share_updates_and_only_the_leader_writes(
        start_bridge: Any, accounts: Accounts) -> None:
    viewer = accounts.user("all", ("viewer", None))
    prefix = f"fleettest:{accounts.tag}:"
    first = leading(start_bridge(with_ros=False, redis_prefix=prefix))
    second = start_bridge(with_ros=False, redis_prefix=prefix)
    live_b = second.bridge.extras["live"]
    wait_for(lambda: live_b.online, 5.0, "the second instance subscribed")
    assert not live_b.leader
    fleet = [vehicle("uav1", None), vehicle("uav2", None)]
    for server in (first, second):  # both see the same graph
        feed(server, "fleet", fleet)
    with open_ws(second, token_of(second, viewer)) as ws:
        assert vehicle_ids(subscribe(ws, "fleet")) == {"uav1", "uav2"}
        subscribe(ws, "events")
        same = event("seen-by-both", "uav1")
        for server in (first, second):
            feed(server, "event", same)
        got = until(ws, lambda m: m["type"] == "update" and m["channel"] == "events",
                    what="the event through the first instance")
        assert got["data"]["event_id"] == "seen-by-both"
        moved = [vehicle("uav1", None, battery=12.0), fleet[1]]
        feed(first, "fleet", moved)  # only through the leader
        until(ws, lambda m: m["type"] == "update" and m["channel"] == "fleet"
              and any(v.get("battery_pct") == 12.0 for v in m["data"]),
              what="the first instance's vehicle update on the second's client")
        r = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_timeout=2)
        assert r.xlen(f"{prefix}stream") == 1  # written once, not once per instance
        # The leader goes away: the other takes over within the lease (released at once
        # here; a crashed leader's lapses within 3 s).
        first.stop()
        wait_for(lambda: live_b.leader, 4.0, "the second instance leads")
        feed(second, "event", event("after-handover", "uav1"))
        got = until(ws, lambda m: m["type"] == "update" and m["channel"] == "events",
                    what="an event after the handover")
        assert got["data"]["event_id"] == "after-handover"
        assert r.xlen(f"{prefix}stream") == 2
        r.close()


# -- Redis going away and coming back -----------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server on a fixed port that a test stops and starts again."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(answers, 10.0, f"redis-server on port {self.port}")
        client.close()

    def stop(self) -> None:
        """Stop the server."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """Yield a started private Redis, stopped after the test."""
    server = RedisServer(_free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_stopped_and_restarted_degrades_then_recovers_by_itself(
        start_bridge: Any, accounts: Accounts, own_redis: RedisServer) -> None:
    viewer = accounts.user("all", ("viewer", None))
    server = leading(start_bridge(with_ros=False,
                                  redis_url=f"redis://127.0.0.1:{own_redis.port}/0"))
    live = server.bridge.extras["live"]
    token = token_of(server, viewer)
    feed(server, "fleet", [vehicle("uav1", None), vehicle("uav2", None, status="charging")])
    with open_ws(server, token) as ws, server.client(token) as http:
        subscribe(ws, "events")
        feed(server, "event", event("shared", "uav1"))
        assert until(ws, lambda m: m["type"] == "update")["seq"][0].isdigit()

        own_redis.stop()
        assert until(ws, lambda m: m["type"] == "status" and m.get("mode") == "local",
                     what="the local-delivery notice")
        health = http.get("/health").json()
        assert health["state"] == "degraded"
        assert health["components"]["redis"]["state"] == "down"
        assert http.get("/api/v1/auth/me").status_code == 200  # the API still answers
        summary = http.get("/api/v1/fleet/summary").json()
        assert (summary["source"], summary["total"]) == ("picture", 2)
        near = http.get("/api/v1/fleet/near", params={"latitude": 47.398,
                                                      "longitude": 8.546}).json()
        assert (near["source"], len(near["items"])) == ("picture", 2)
        feed(server, "event", event("local", "uav1"))
        local = until(ws, lambda m: m["type"] == "update", what="the event delivered locally")
        assert local["data"]["event_id"] == "local"
        assert local["seq"].startswith("L")

        own_redis.start()  # same port, empty: no restart of the bridge
        wait_for(lambda: live.online and live.leader, 10.0, "the live tier back on Redis")
        assert until(ws, lambda m: m["type"] == "status" and m.get("mode") == "shared",
                     what="the shared-delivery notice")
        assert http.get("/health").json()["components"]["redis"]["state"] == "ok"
        feed(server, "event", event("shared-again", "uav1"))
        again = until(ws, lambda m: m["type"] == "update", what="the event through Redis")
        assert again["data"]["event_id"] == "shared-again"
        assert again["seq"][0].isdigit()
        # The whole state was rewritten into the new, empty Redis.
        summary = http.get("/api/v1/fleet/summary").json()
        assert summary == {"source": "redis", "total": 2, "sites": [
            {"site_id": None, "total": 2, "by_status": {"charging": 1, "idle": 1}}]}


# -- the real graph -------------------------------------------------------------------------

@pytest.mark.ros
def test_the_graph_fleet_reaches_redis_and_a_site_viewers_websocket(
        graph: Any, tmp_path: Path, start_bridge: Any, accounts: Accounts) -> None:
    import yaml
    from rclpy.parameter import Parameter

    from fleet_core.geo import GeoPoint, LocalFrame
    from fleet_manager.node import FleetManagerNode
    from fleet_sim.node import FleetSimNode

    north, south = accounts.site("north"), accounts.site("south")
    name = accounts.user("northviewer", ("viewer", north))
    frame = LocalFrame.at(GeoPoint(ZURICH[0], ZURICH[1], 488.0))

    def at(east: float, north_m: float) -> dict[str, float]:
        g = frame.to_geo(east, north_m, 0.0)
        return {"latitude": g.latitude, "longitude": g.longitude, "altitude": 488.0}

    def write(file: str, doc: dict[str, Any]) -> str:
        path = tmp_path / file
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    sim = write("sim.yaml", {"fleet_sim": {
        "seed": 1, "time_factor": 5.0, "link_timeout_s": 10.0,
        "vehicles": [{"id": "wn0", "home": at(0, 0)}, {"id": "ws0", "home": at(0, 30)}]}})
    fleet = write("fleet.yaml", {"fleet_manager": {
        "origin": at(0, 0), "status_rate_hz": 2.0, "check_rate_hz": 4.0,
        "vehicles": [{"id": "wn0", "home_site": north}, {"id": "ws0", "home_site": south}],
        "discovery": {"enabled": True, "period_s": 0.5}, "separation": {"enabled": False}}})
    graph.add(FleetSimNode(context=graph.context,
                           parameter_overrides=[Parameter("config_file", value=sim)]))
    graph.add(FleetManagerNode(context=graph.context,
                               parameter_overrides=[Parameter("config_file", value=fleet)]))
    server = leading(start_bridge(ros_domain_id=graph.domain_id))
    p = server.settings.redis_prefix
    r = redis_of(server)
    wait_for(lambda: r.zcard(f"{p}geo") == 2, 30.0, "both simulated vehicles in the GEO set")
    assert r.hget(f"{p}v:wn0", "site") == north
    with open_ws(server, token_of(server, name)) as ws:
        assert vehicle_ids(subscribe(ws, "fleet")) == {"wn0"}
        update = until(ws, lambda m: m["type"] == "update" and m["channel"] == "fleet",
                       timeout=10.0, what="a fleet update from the graph")
        assert vehicle_ids(update) == {"wn0"}
    with server.client(token_of(server, name)) as c:
        near = c.get("/api/v1/fleet/near", params={
            "latitude": ZURICH[0], "longitude": ZURICH[1], "radius_m": 200}).json()
    assert (near["source"], [v["vehicle_id"] for v in near["items"]]) == ("redis", ["wn0"])
    r.close()
