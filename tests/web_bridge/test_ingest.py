"""Vehicles without ROS: API keys, and telemetry ingested over HTTP and WebSocket, published
on the graph as MAVROS would, seen by fleet_manager and stored by the recorder."""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import NavSatFix
from sqlalchemy import text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fleet_interfaces.msg import FleetStatus, VehicleStatus
from fleet_manager.node import FleetManagerNode
from fleet_ros.graph import RosGraph
from fleet_ros.qos import FLEET_QOS, SENSOR_QOS
from tests.mission_planner.test_node import write
from tests.ros_helpers import Collector
from tests.telemetry_recorder.test_node import recorder

from .conftest import Accounts, BridgeServer, token_of

_n = itertools.count()
LAT, LON = 47.398, 8.546


@pytest.fixture
def vid(accounts: Accounts) -> Iterator[str]:
    """A vehicle id no other test uses; its rows (telemetry, registry, audit) go afterwards."""
    name = f"ing{os.getpid()}x{next(_n)}"
    with accounts.engine.connect() as conn:
        started = conn.execute(text("select now()")).scalar_one()
    yield name
    with accounts.engine.begin() as conn:
        # Refusals before any key was known carry no identity: this test's are its time's.
        conn.execute(text(
            "delete from audit_log where action = 'ingest' and (api_key_id in "
            "(select id from api_keys where vehicle_id = :v) or (api_key_id is null "
            "and time >= :t and remote_addr = '127.0.0.1'))"), {"v": name, "t": started})
        conn.execute(text("delete from telemetry where vehicle_id = :v"), {"v": name})
        conn.execute(text("delete from flights where vehicle_id = :v"), {"v": name})
        conn.execute(text("delete from vehicles where id = :v"), {"v": name})
        conn.execute(text("delete from api_keys where vehicle_id = :v"), {"v": name})


def sample(vehicle: str, stamp: float, **changes: Any) -> dict[str, Any]:
    """Return a well-formed sample of ``vehicle`` at ``stamp``."""
    s = {"vehicle_id": vehicle, "stamp": stamp, "latitude": LAT, "longitude": LON,
         "altitude": 488.0, "relative_altitude": 0.0, "heading": 90.0, "ground_speed": 0.0,
         "armed": False, "mode": "AUTO.LOITER", "landed_state": "on_ground",
         "battery_percent": 90.0, "voltage": 16.2, "current": 0.5,
         "home": {"latitude": LAT, "longitude": LON, "altitude": 488.0}}
    s.update(changes)
    return s


def new_key(server: BridgeServer, token: str, vehicle: str, site: str) -> str:
    """Create an API key for ``vehicle`` at ``site`` and return it."""
    with server.client(token) as c:
        r = c.post("/api/v1/keys", json={"vehicle_id": vehicle, "site_id": site,
                                         "name": "test rig"})
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def post(server: BridgeServer, key: str, samples: list[Any]) -> Any:
    """POST a batch with ``key``; return the response."""
    with server.client() as c:
        return c.post("/api/v1/ingest", json={"samples": samples},
                      headers={"X-API-Key": key})


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Return the first truthy value of ``predicate``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def ws_connect(server: BridgeServer, key: str | None = None) -> ClientConnection:
    """Open the ingest socket (with the key in a header when given)."""
    headers = {"X-API-Key": key} if key else None
    return connect(f"{server.ws_url}/api/v1/ingest/ws", additional_headers=headers,
                   open_timeout=10, close_timeout=5)


def closed_with(ws: ClientConnection) -> tuple[int | None, str]:
    """Read until the server closes; return its close code and reason."""
    def drain() -> None:
        while True:
            ws.recv(timeout=10)

    with pytest.raises(ConnectionClosed) as closed:
        drain()
    rcvd = closed.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd else (None, "")


def audit_of(accounts: Accounts, vehicle: str) -> list[Any]:
    with accounts.engine.connect() as conn:
        return list(conn.execute(text(
            "select a.method, a.status_code, a.role, a.details, k.vehicle_id from audit_log a "
            "join api_keys k on k.id = a.api_key_id where a.action = 'ingest' "
            "and k.vehicle_id = :v order by a.id"), {"v": vehicle}))


# --- keys ---------------------------------------------------------------------------------


def test_an_admin_creates_a_key_shown_once_lists_it_without_secrets_and_revokes_it(
        start_bridge: Any, accounts: Accounts, vid: str) -> None:
    site = accounts.site("north")
    admin = accounts.user("admin", ("admin", site))
    server = start_bridge(with_ros=False)
    with server.client(token_of(server, admin)) as c:
        r = c.post("/api/v1/keys", json={"vehicle_id": vid, "site_id": site,
                                         "name": "LTE module"})
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["key"].startswith(created["prefix"] + ".")
        listed = c.get("/api/v1/keys", params={"vehicle_id": vid}).json()["items"]
        assert [k["prefix"] for k in listed] == [created["prefix"]]
        assert "key" not in listed[0]
        assert "key_hash" not in listed[0]
        assert created["key"] not in json.dumps(listed)
        assert listed[0]["site_id"] == site
        assert listed[0]["revoked_at"] is None
        r = c.delete(f"/api/v1/keys/{created['prefix']}")
        assert r.status_code == 200, r.text
        assert r.json()["revoked_at"] is not None
        assert c.delete("/api/v1/keys/fk_00000000").status_code == 404
    with accounts.engine.connect() as conn:
        stored = conn.execute(text("select key_hash from api_keys where prefix = :p"),
                              {"p": created["prefix"]}).scalar_one()
    assert stored.startswith("$argon2id$")
    assert created["key"] not in stored


def test_only_an_admin_of_the_keys_site_manages_its_keys(start_bridge: Any,
                                                        accounts: Accounts, vid: str) -> None:
    north, south = accounts.site("north"), accounts.site("south")
    north_admin = accounts.user("na", ("admin", north))
    operator = accounts.user("op", ("operator", south))
    south_admin = accounts.user("sa", ("admin", south), ("viewer", north))
    server = start_bridge(with_ros=False)
    body = {"vehicle_id": vid, "site_id": north, "name": "x"}
    with server.client(token_of(server, operator)) as c:
        assert c.post("/api/v1/keys", json=body).status_code == 403
    with server.client(token_of(server, south_admin)) as c:
        r = c.post("/api/v1/keys", json=body)
        assert r.status_code == 403, r.text
        assert "not admin" in r.json()["detail"]
    key = new_key(server, token_of(server, north_admin), vid, north)
    with server.client(token_of(server, south_admin)) as c:
        assert c.get("/api/v1/keys", params={"vehicle_id": vid}).json()["items"] == []
        assert c.delete(f"/api/v1/keys/{key.split('.')[0]}").status_code == 403
    with server.client(token_of(server, north_admin)) as c:
        r = c.post("/api/v1/keys", json={**body, "site_id": f"{accounts.tag}_nowhere"})
        assert r.status_code == 404
        r = c.post("/api/v1/keys", json={**body, "expires_at": "2001-01-01T00:00:00Z"})
        assert r.status_code == 422
        assert "in the past" in r.json()["detail"]


# --- authentication and limits (no graph needed: refused before anything is published) ---


def test_ingest_without_a_good_key_is_refused_and_audited(start_bridge: Any,
                                                          accounts: Accounts, vid: str) -> None:
    site = accounts.site("north")
    admin = accounts.user("admin", ("admin", site))
    server = start_bridge(with_ros=False)
    key = new_key(server, token_of(server, admin), vid, site)
    prefix = key.split(".")[0]
    batch = {"samples": [sample(vid, time.time())]}
    with server.client() as c:
        r = c.post("/api/v1/ingest", json=batch)
        assert r.status_code == 401
        assert "X-API-Key" in r.json()["detail"]
        r = c.post("/api/v1/ingest", json=batch, headers={"X-API-Key": "hello"})
        assert r.status_code == 401
        assert "malformed API key" in r.json()["detail"]
        r = c.post("/api/v1/ingest", json=batch, headers={"X-API-Key": key[:-4] + "abcd"})
        assert r.status_code == 401
        assert f"API key {prefix} is wrong" in r.json()["detail"]
        r = c.post("/api/v1/ingest", json=batch, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 401
    with accounts.engine.connect() as conn:
        refused = conn.execute(text(
            "select count(*) from audit_log where action = 'ingest' and target_id = :p "
            "and status_code = 401"), {"p": prefix}).scalar_one()
    assert refused == 1  # the wrong secret; the other attempts named no key of ours


def test_a_batch_of_more_than_500_samples_is_too_large(start_bridge: Any, accounts: Accounts,
                                                       vid: str) -> None:
    site = accounts.site("north")
    admin = accounts.user("admin", ("admin", site))
    server = start_bridge(with_ros=False)
    key = new_key(server, token_of(server, admin), vid, site)
    now = time.time() - 600
    r = post(server, key, [sample(vid, now + i * 0.1) for i in range(501)])
    assert r.status_code == 413
    assert "501 samples is over the limit of 500" in r.json()["detail"]


def test_a_key_over_its_rate_is_told_when_to_come_back(start_bridge: Any, accounts: Accounts,
                                                       vid: str) -> None:
    site = accounts.site("north")
    admin = accounts.user("admin", ("admin", site))
    server = start_bridge(with_ros=False, ingest_rate_per_second=2.0)
    key = new_key(server, token_of(server, admin), vid, site)
    # Without a graph each accepted batch answers 503; the limit counts before that.
    # Six within a second: whichever way a one-second window splits them, one is over.
    codes = [post(server, key, [sample(vid, time.time())]) for _ in range(6)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited, [r.status_code for r in codes]
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert "2 batches per second" in limited[0].json()["detail"]
    assert {r.status_code for r in codes} <= {429, 503}


# --- ingest on the graph --------------------------------------------------------------------


@pytest.mark.ros
def test_http_ingest_publishes_the_good_samples_and_names_the_bad_ones(
        accounts: Accounts, vid: str, graph: RosGraph, start_bridge: Any) -> None:
    site = accounts.site("north")
    admin = accounts.user("admin", ("admin", site))
    fixes = Collector(graph, NavSatFix, f"/{vid}/mavros/global_position/global", SENSOR_QOS)
    server = start_bridge(ros_domain_id=graph.domain_id)  # type: ignore[attr-defined]
    key = new_key(server, token_of(server, admin), vid, site)
    # The subscriber must have matched the bridge's publisher, which exists after a batch.
    t0 = time.time() - 5.0
    assert post(server, key, [sample(vid, t0)]).json()["accepted"] == 1
    publisher = server.bridge.extras["ingest"].publishers[vid].fix
    wait_for(lambda: publisher.get_subscription_count() > 0, 10.0, "the collector to match")
    batch = [sample(vid, t0 + 1, latitude=LAT + 1e-5),
             sample(vid, t0 + 2, latitude=123.0),
             sample(vid, t0 + 3, latitude=LAT + 2e-5),
             sample(vid, t0 + 2.5),
             sample("someone_else", t0 + 4),
             sample(vid, t0 + 4, latitude=LAT + 3e-5, mode=None)]
    r = post(server, key, batch)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["accepted"] == 2
    assert answer["last_stamp"] == pytest.approx(t0 + 3)
    problems = {x["index"]: x["problem"] for x in answer["rejected"]}
    assert sorted(problems) == [1, 3, 4, 5]
    assert problems[1].startswith("latitude 123.0: ")
    assert "is not after the previous accepted sample's" in problems[3]
    assert f"not this key's vehicle {vid!r}" in problems[4]
    assert problems[5] == "mode is required"
    # Acknowledged means published: both good samples are on the topic, stamped as sent.
    def after_first() -> list[Any]:
        return [m for m in fixes.snapshot()
                if m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 > t0 + 0.5]

    got = wait_for(lambda: len(after_first()) == 2 and after_first(), 10.0,
                   "both accepted fixes")
    assert [round(m.latitude, 6) for m in got] == [round(LAT + 1e-5, 6), round(LAT + 2e-5, 6)]
    # A replay of the batch is refused whole: its stamps are no longer new.
    again = post(server, key, batch).json()
    assert again["accepted"] == 0
    assert len(again["rejected"]) == 6
    audits = audit_of(accounts, vid)
    assert [(m, s, role) for m, s, role, _, _ in audits][-1] == ("POST", 200, "vehicle")
    assert audits[-2][3]["accepted"] == 2
    assert audits[-2][3]["rejected"] == 4
    metrics = server.bridge.metrics.render().decode()
    assert 'fleet_ingest_samples_total{outcome="accepted"} 3.0' in metrics


@pytest.mark.ros
def test_a_revoked_key_is_refused_at_once_even_while_cached(
        accounts: Accounts, vid: str, graph: RosGraph, start_bridge: Any) -> None:
    site = accounts.site("north")
    admin = accounts.user("admin", ("admin", site))
    server = start_bridge(ros_domain_id=graph.domain_id)  # type: ignore[attr-defined]
    token = token_of(server, admin)
    key = new_key(server, token, vid, site)
    other = start_bridge(ros_domain_id=graph.domain_id,  # type: ignore[attr-defined]
                         redis_prefix=server.settings.redis_prefix)
    t0 = time.time() - 5
    assert post(server, key, [sample(vid, t0)]).json()["accepted"] == 1
    assert post(other, key, [sample(vid, t0 + 1)]).json()["accepted"] == 1
    with server.client(token) as c:
        assert c.delete(f"/api/v1/keys/{key.split('.')[0]}").status_code == 200
    for instance in (server, other):  # the other instance learns it through Redis
        r = post(instance, key, [sample(vid, t0 + 2)])
        assert r.status_code == 401
        assert "revoked" in r.json()["detail"]


@pytest.mark.ros
def test_websocket_ingest_answers_each_batch_and_closes_on_garbage(
        accounts: Accounts, vid: str, graph: RosGraph, start_bridge: Any) -> None:
    site = accounts.site("north")
    admin = accounts.user("admin", ("admin", site))
    server = start_bridge(ros_domain_id=graph.domain_id)  # type: ignore[attr-defined]
    token = token_of(server, admin)
    key = new_key(server, token, vid, site)
    t0 = time.time() - 10
    with ws_connect(server, key) as ws:
        ws.send(json.dumps({"id": "b1", "samples": [sample(vid, t0), sample(vid, t0 + 1,
                                                                           heading=400.0)]}))
        answer = json.loads(ws.recv(timeout=10))
        assert answer["id"] == "b1"
        assert answer["accepted"] == 1
        assert answer["rejected"] == [
            {"index": 1, "problem": "heading 400.0: Input should be less than or equal to 360"}]
        ws.send(json.dumps({"id": 2, "samples": [sample(vid, t0 + 2)] * 501}))
        too_big = json.loads(ws.recv(timeout=10))
        assert too_big["status"] == 413
        assert too_big["id"] == 2
        ws.send("{not json")
        code, reason = closed_with(ws)
        assert code == 1008
        assert "is not JSON" in reason
    # The key in the first message instead of a header.
    with ws_connect(server) as ws:
        ws.send(json.dumps({"api_key": key}))
        assert json.loads(ws.recv(timeout=10)) == {"authenticated": True, "vehicle_id": vid}
        ws.send(json.dumps({"samples": [sample(vid, t0 + 3)]}))
        assert json.loads(ws.recv(timeout=10))["accepted"] == 1
        ws.send(json.dumps({"sample": []}))
        code, reason = closed_with(ws)
        assert code == 1008
        assert '{"samples": [...]}' in reason
    with ws_connect(server) as ws:
        ws.send(json.dumps({"api_key": "fk_00000000.nothing-like-a-real-key"}))
        code, reason = closed_with(ws)
        assert code == 1008
        assert "unknown" in reason
    # An open socket whose key is revoked is closed at its next batch.
    with ws_connect(server, key) as ws:
        with server.client(token) as c:
            assert c.delete(f"/api/v1/keys/{key.split('.')[0]}").status_code == 200
        ws.send(json.dumps({"samples": [sample(vid, t0 + 4)]}))
        code, reason = closed_with(ws)
        assert code == 1008
        assert "revoked" in reason
    methods = [m for m, *_ in audit_of(accounts, vid)]
    assert methods.count("WS") >= 3


@pytest.mark.ros
def test_an_http_only_vehicle_is_in_the_fleet_picture_and_its_samples_are_recorded(
        accounts: Accounts, vid: str, graph: RosGraph, tmp_path: Path,
        start_bridge: Any) -> None:
    fleet = write(tmp_path, "fleet.yaml", {"fleet_manager": {
        "origin": {"latitude": LAT, "longitude": LON, "altitude": 488.0}, "vehicles": [],
        "status_rate_hz": 5.0, "discovery": {"enabled": True, "period_s": 0.5},
        "liveness": {"stale_after_s": 2.0, "lost_after_s": 6.0},
        "separation": {"enabled": False}}})
    graph.add(FleetManagerNode(context=graph.context,
                               parameter_overrides=[Parameter("config_file", value=fleet)]))
    recorder(graph, tmp_path / "spool")
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    site = accounts.site("north")
    admin = accounts.user("admin", ("admin", site))
    server = start_bridge(ros_domain_id=graph.domain_id)  # type: ignore[attr-defined]
    key = new_key(server, token_of(server, admin), vid, site)

    sent: list[float] = []

    def seen() -> Any:
        # A vehicle reporting at 4 Hz, creeping north at 1 m/s, until the fleet sees it
        # idle and the recorder has stored a few of its samples.
        stamp = time.time()
        s = sample(vid, stamp, latitude=LAT + len(sent) * 2.25e-6, ground_speed=1.0,
                   heading=0.0)
        assert post(server, key, [s]).json()["accepted"] == 1
        sent.append(stamp)
        time.sleep(0.25)
        last = status.last()
        mine = [v for v in (last.vehicles if last else []) if v.vehicle_id == vid]
        return mine and mine[0].status == VehicleStatus.STATUS_IDLE and len(sent) >= 8 \
            and rows() >= 4 and mine[0]

    def rows() -> int:
        with accounts.engine.connect() as conn:
            return int(conn.execute(text("select count(*) from telemetry where vehicle_id = :v"),
                                    {"v": vid}).scalar_one())

    vehicle = wait_for(seen, 60.0, f"{vid} idle in /fleet/status and recorded")
    assert vehicle.model == "multirotor"  # discovered, not configured
    assert vehicle.armed is False
    assert vehicle.autopilot_mode == "AUTO.LOITER"
    assert vehicle.battery_percent == pytest.approx(90.0)
    assert vehicle.position.latitude == pytest.approx(LAT, abs=1e-4)
    assert vehicle.landed_state == VehicleStatus.LANDED_ON_GROUND
    with accounts.engine.connect() as conn:
        stored = list(conn.execute(text(
            "select extract(epoch from time), st_y(position), st_x(position), battery_pct "
            "from telemetry where vehicle_id = :v order by time"), {"v": vid}))
    for t, lat, lon, _ in stored:  # each row is one sample we sent, at its own stamp
        i = min(range(len(sent)), key=lambda k: abs(sent[k] - float(t)))
        assert float(t) == pytest.approx(sent[i], abs=1e-3)
        assert lat == pytest.approx(LAT + i * 2.25e-6, abs=1e-9)
        assert lon == pytest.approx(LON)
    # Each row carries the battery of its sample (float32 in sensor_msgs/BatteryState).
    assert any(b is not None and math.isclose(b, 90.0, rel_tol=1e-6) for *_, b in stored)
    # The bridge's own picture shows it too (to an admin of every site: it has no site).
    assert vid in server.bridge.picture.vehicles
