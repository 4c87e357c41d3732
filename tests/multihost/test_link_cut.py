"""Three hosts on this machine, and the link between the fleet and the graph cut for 30 s.

Host A runs fleet_sim (5 vehicles); host B runs fleet_manager, telemetry_recorder (writing
to the real PostgreSQL) and web_bridge; host C is an API and WebSocket client of B's
web_bridge. Each host is a network namespace; A-B and B-C are veth pairs on private
10.213.x.0/24 subnets with no default route, so nothing leaves the machine. DDS discovers
over the A-B subnet (ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET), over UDP only, so that the veth
is the only path between the hosts whatever Fast DDS decides about shared memory between
processes of one machine (here it did not use it across namespaces: the test also passed
with the default transports). B reaches PostgreSQL and Redis on the root namespace's
127.0.0.1 through relays listening on B's own loopback (tests/multihost/netns.py).

What is asserted, once the link has been down 30 s and up again:

* fleet_manager (on B) reports every vehicle STALE, then LOST, in /fleet/status while the
  link is down (liveness thresholds 2 s / 6 s here); a link_lost event opens for each on
  /fleet/events and is stored in coordination_events; after the link returns every vehicle
  is FRESH again and each event is resolved (closed_at set), one row per vehicle. Host C
  sees the same through web_bridge: each vehicle's liveness over the REST API, and the
  link_lost events opened and resolved on its WebSocket.
* Telemetry: no (vehicle, time) is twice in ``telemetry``; each vehicle's rows are exactly
  the position fixes the recorder's subscriptions delivered to it (counted in the recorder's
  process, tests/multihost/probe.py), none missing, none extra; every row is a fix that a
  counting subscriber on A saw fleet_sim publish; no row is stamped while the link was down
  (samples published then are lost: best-effort, volatile QoS), and rows resume after it.

Not asserted: that every fix A published while the link was up is stored. Best-effort
readers keep the last 5 samples, so a recorder whose executor falls behind on a loaded
machine loses some before its callbacks see them; the counts are printed (``-rP``).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from sqlalchemy import Engine, text

from tests.conftest import claimed_domain
from tests.multihost.netns import (
    Hosts,
    NetnsUnavailableError,
    check_available,
    hosts,
    in_host,
    prefix_of_this_process,
)
from tests.multihost.probe import micros
from tests.web_bridge.conftest import PASSWORD, REDIS_URL, TEST_URL, _clean_redis

pytestmark = pytest.mark.ros

ROOT = Path(__file__).resolve().parents[2]
VEHICLES = 5
CUT_S = 30.0
STALE_S, LOST_S = 2.0, 6.0
AFTER_ROWS = 30  # rows each side of the cut, enough to see a stream, not a stray sample
FRESH, STALE, LOST = 0, 1, 2  # fleet_interfaces/VehicleStatus.LIVENESS_*
LINK_LOST, OPEN, RESOLVED = 3, 0, 1  # fleet_interfaces/CoordinationEvent
BRIDGE_PORT = 8080
T = TypeVar("T")


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str, h: Hosts) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        dead = [name for name, p, _ in h.procs if p.poll() is not None]
        if dead or time.monotonic() >= deadline:
            logs = "\n".join(f"--- {n}:\n{h.log(n)}" for n, _, _ in h.procs)
            raise AssertionError(f"{'processes ended: ' + str(dead) if dead else 'timed out'} "
                                 f"after waiting for {what}\n{logs}")
        time.sleep(0.2)


class Watched:
    """What the probe on B wrote of fleet_manager's view (JSON lines), read incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = []
        self._offset = 0

    def refresh(self) -> list[dict[str, Any]]:
        if self.path.exists():
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
            complete = data[:data.rfind(b"\n") + 1]
            self._offset += len(complete)
            self.entries += [json.loads(line) for line in complete.splitlines() if line]
        return self.entries

    def last_status(self) -> dict[str, int]:
        return next((e["status"] for e in reversed(self.refresh()) if "status" in e), {})

    def all_in(self, ids: list[str], liveness: int) -> bool:
        status = self.last_status()
        return all(status.get(v) == liveness for v in ids)

    def seen_since(self, since: float, vid: str, liveness: int) -> bool:
        return any(e["t"] >= since and e.get("status", {}).get(vid) == liveness
                   for e in self.refresh())

    def link_events(self, since: float, state: int) -> set[str]:
        return {v for e in self.refresh() if e["t"] >= since and "event" in e
                and e["event"]["type"] == LINK_LOST and e["event"]["state"] == state
                for v in e["event"]["vehicles"]}


class EventFeed:
    """A WebSocket client on host C subscribed to web_bridge's ``events`` channel: keeps
    every link_lost update as (vehicle, state)."""

    def __init__(self, h: Hosts, api: str, token: str) -> None:
        import httpx
        from websockets.sync.client import connect

        def open_socket() -> Any:
            r = httpx.post(f"{api}/auth/ws-ticket", timeout=5.0,
                           headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            ws_url = api.replace("http://", "ws://") + f"/ws?ticket={r.json()['ticket']}"
            return connect(ws_url, open_timeout=10).__enter__()  # closed in close()

        # Connected from C: the socket is C's whichever thread reads it.
        self.ws = in_host(h, "c", open_socket)
        hello = json.loads(self.ws.recv(timeout=10))
        assert hello["type"] == "hello", hello
        self.ws.send(json.dumps({"type": "subscribe", "channel": "events"}))
        self.seen: set[tuple[str, str]] = set()
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name="ws-c", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for raw in self.ws:
                m = json.loads(raw)
                if m.get("channel") != "events":
                    continue
                if m["type"] in ("snapshot", "resumed"):
                    self.subscribed.set()
                elif m["type"] == "update" and m["data"].get("type") == "link_lost":
                    with self._lock:
                        self.seen |= {(v, m["data"]["state"]) for v in m["data"]["vehicle_ids"]}
        except ConnectionClosed:
            pass

    def vehicles_in(self, state: str) -> set[str]:
        with self._lock:
            return {v for v, s in self.seen if s == state}

    def close(self) -> None:
        self.ws.close()
        self._thread.join(5.0)


def write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


def configs(tmp: Path, ids: list[str]) -> tuple[str, str, str]:
    """fleet_sim.yaml, fleet_manager's fleet.yaml and the recorder's (no sites, no vehicles:
    nothing but what the graph reports lands in the shared database)."""
    origin = {"latitude": 47.3977, "longitude": 8.5456, "altitude": 488.0}
    sim = write(tmp / "fleet_sim.yaml", {"fleet_sim": {
        "seed": 1, "time_factor": 1.0, "position_rate_hz": 10.0, "state_rate_hz": 1.0,
        "vehicles": [{"id": v, "home": {**origin, "latitude": origin["latitude"] + 1e-4 * i}}
                     for i, v in enumerate(ids)]}})
    fleet = write(tmp / "fleet.yaml", {"fleet_manager": {
        "origin": origin, "vehicles": [{"id": v} for v in ids], "status_rate_hz": 4.0,
        "check_rate_hz": 4.0, "discovery": {"enabled": False},
        # Shorter than the shipped 3 s / 10 s, so that both show well within the cut.
        "liveness": {"stale_after_s": STALE_S, "lost_after_s": LOST_S},
        "separation": {"enabled": False}}})
    recorder = write(tmp / "recorder-fleet.yaml", {"fleet_manager": {
        "origin": origin, "vehicles": [], "sites": []}})
    return sim, fleet, recorder


def node_env(domain: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ROS_DOMAIN_ID": str(domain),
        # Discovery over the namespaces' own subnets: the root namespace's LOCALHOST rule
        # would keep every host to itself.
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET",
        # UDP only: the veth is then the only path between A and B, never shared memory.
        "FASTDDS_BUILTIN_TRANSPORTS": "UDPv4",
        "PYTHONUNBUFFERED": "1", **extra})
    env.pop("ROS_LOCALHOST_ONLY", None)
    env.pop("ROS_STATIC_PEERS", None)
    return env


def load_counts(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def rows_of(engine: Engine, ids: list[str]) -> tuple[dict[str, list[int]], int, int]:
    """Each vehicle's row times (µs, sorted), and the count of rows and of distinct keys."""
    with engine.connect() as conn:
        total, distinct = conn.execute(text(
            "select count(*), count(distinct (vehicle_id, time)) from telemetry "
            "where vehicle_id = any(:v)"), {"v": ids}).one()
        found: dict[str, list[int]] = {v: [] for v in ids}
        for vid, at in conn.execute(text(
                "select vehicle_id, time from telemetry where vehicle_id = any(:v) "
                "order by vehicle_id, time"), {"v": ids}):
            found[vid].append(micros(at))
    return found, int(total), int(distinct)


def link_lost_rows(engine: Engine, ids: list[str], since: float) -> dict[str, list[Any]]:
    """Each vehicle's link_lost rows opened after ``since``: (opened_at, closed_at)."""
    with engine.connect() as conn:
        out: dict[str, list[Any]] = {v: [] for v in ids}
        for vid, opened, closed in conn.execute(text(
                "select vehicle_id, opened_at, closed_at from coordination_events "
                "where type = 'link_lost' and vehicle_id = any(:v) "
                "and opened_at > to_timestamp(:since) order by opened_at"),
                {"v": ids, "since": since}):
            out[vid].append((opened, closed))
    return out


@pytest.fixture
def namespaces_available() -> None:
    try:
        check_available()
    except NetnsUnavailableError as exc:
        pytest.skip(f"multi-host test needs network namespaces: {exc}")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"fleettest:{secrets.token_hex(4)}:"
    yield prefix
    _clean_redis({prefix})


@pytest.mark.usefixtures("namespaces_available")
def test_a_cut_link_makes_vehicles_lost_then_live_again_with_every_received_sample_stored_once(
        tmp_path: Path, tag: str, web_db: Engine, accounts: Any, redis_prefix: str) -> None:
    ids = [f"{tag}uav{i}" for i in range(VEHICLES)]
    sim_yaml, fleet_yaml, recorder_yaml = configs(tmp_path, ids)
    viewer = accounts.user("viewer", ("viewer", None))
    counts_a, counts_b = tmp_path / "counts-a.json", tmp_path / "counts-b.json"
    watched = Watched(tmp_path / "watch.jsonl")
    py = sys.executable
    with claimed_domain() as domain, hosts(prefix_of_this_process(), tmp_path) as h:
        for host in ("a", "b", "c"):
            h.add_host(host)
        ab = h.connect("a", "b", 1, multicast=True)
        bc = h.connect("b", "c", 2)
        h.relay("b", 5432)
        h.relay("b", 6379)
        env = node_env(domain, FLEET_DATABASE_URL=TEST_URL)
        probe = [py, "-m", "tests.multihost.probe", "--vehicles", ",".join(ids)]
        h.start("a", "probe-a", [*probe, "--out", str(counts_a)], env, ROOT)
        manager = h.start("b", "fleet_manager", [py, "-m", "fleet_manager", "--ros-args", "-p",
                                                 f"config_file:={fleet_yaml}"], env, ROOT)
        h.start("b", "probe-b", [*probe, "--out", str(counts_b), "--watch", str(watched.path),
                                 "--record", "--spool", str(tmp_path / "spool"),
                                 "--fleet-config", recorder_yaml], env, ROOT)
        h.start("b", "web_bridge", [py, "-m", "web_bridge", "--log-level", "warning"], {
            **env, "FLEET_HOST": bc.a_addr, "FLEET_PORT": str(BRIDGE_PORT),
            "FLEET_REDIS_URL": REDIS_URL, "FLEET_REDIS_PREFIX": redis_prefix,
            "FLEET_JWT_SECRET": secrets.token_hex(32), "FLEET_COOKIE_SECURE": "false",
            "FLEET_ROS_DOMAIN_ID": str(domain)}, ROOT)
        sim = h.start("a", "fleet_sim", [py, "-m", "fleet_sim", "--ros-args", "-p",
                                         f"config_file:={sim_yaml}"], env, ROOT)
        api = f"http://{bc.a_addr}:{BRIDGE_PORT}/api/v1"

        def livenesses(token: str) -> dict[str, str | None]:
            """Each vehicle's liveness as host C reads it from web_bridge on B (None: not in
            the bridge's picture yet)."""
            import httpx

            def get(vid: str) -> str | None:
                r = httpx.get(f"{api}/vehicles/{vid}", timeout=5.0,
                              headers={"Authorization": f"Bearer {token}"})
                if r.status_code == 404:
                    return None
                assert r.status_code == 200, r.text
                return str(r.json()["liveness"])

            return in_host(h, "c", lambda: {v: get(v) for v in ids})

        # All five live on B, their rows arriving in the database.
        wait_for(lambda: watched.all_in(ids, FRESH), 60.0, "every vehicle FRESH on B", h)
        wait_for(lambda: all(rows_of(web_db, ids)[0].values()), 30.0, "rows of every vehicle",
                 h)
        login = wait_for(lambda: _login(h, api, viewer), 30.0, "web_bridge answering C", h)
        token = login["access_token"]
        wait_for(lambda: set(livenesses(token).values()) == {"fresh"}, 20.0,
                 "C sees every vehicle fresh", h)
        feed = EventFeed(h, api, token)
        h.cleanups.append(feed.close)
        wait_for(feed.subscribed.is_set, 10.0, "C subscribed to the events channel", h)
        # A stretch of samples before the cut, waited for like the one after the recovery.
        wait_for(lambda: all(len(times) > AFTER_ROWS
                             for times in rows_of(web_db, ids)[0].values()),
                 60.0, f"more than {AFTER_ROWS} rows of every vehicle before the cut", h)

        cut_at = time.time()
        ab.cut()
        for vid in ids:
            wait_for(functools.partial(watched.seen_since, cut_at, vid, STALE), STALE_S + 10.0,
                     f"{vid} STALE after the cut", h)
        wait_for(lambda: watched.all_in(ids, LOST), LOST_S + 10.0, "every vehicle LOST", h)
        wait_for(lambda: watched.link_events(cut_at, OPEN) >= set(ids), 10.0,
                 "a link_lost event opened for every vehicle", h)
        wait_for(lambda: set(livenesses(token).values()) == {"lost"}, 10.0,
                 "C sees every vehicle lost", h)
        wait_for(lambda: feed.vehicles_in("open") >= set(ids), 10.0,
                 "C's WebSocket told of every link_lost event", h)
        # Rows opened by the cut (a hiccup of a loaded machine may have opened and closed
        # one before it).
        wait_for(lambda: all(link_lost_rows(web_db, ids, cut_at).values()), 10.0,
                 "the link_lost rows stored", h)
        assert all(closed is None for rows in link_lost_rows(web_db, ids, cut_at).values()
                   for _, closed in rows)
        time.sleep(max(0.0, cut_at + CUT_S - time.time()))
        restored_at = time.time()
        ab.restore()

        wait_for(lambda: watched.all_in(ids, FRESH), 40.0, "every vehicle FRESH again", h)
        wait_for(lambda: watched.link_events(restored_at, RESOLVED) >= set(ids), 10.0,
                 "every link_lost event resolved", h)
        wait_for(lambda: set(livenesses(token).values()) == {"fresh"}, 20.0,
                 "C sees every vehicle fresh again", h)
        wait_for(lambda: feed.vehicles_in("resolved") >= set(ids), 10.0,
                 "C's WebSocket told of every link_lost event resolved", h)
        feed.close()
        # A stretch of samples after the recovery: waited for, not slept for. A loaded
        # machine's best-effort readers drop samples (a CI run stored 27 in a 5 s sleep), so
        # what is checked is that rows resume, not how fast.
        restored_us = int(restored_at * 1e6)
        wait_for(lambda: all(sum(t > restored_us for t in times) > AFTER_ROWS
                             for times in rows_of(web_db, ids)[0].values()),
                 60.0, f"more than {AFTER_ROWS} rows of every vehicle after the recovery", h)

        # fleet_manager first: the silence of the stopped sim opens no more events. Then
        # fleet_sim: no sample is in flight when the counters stop.
        assert h.stop(manager) == 0, h.log("fleet_manager")
        assert h.stop(sim) == 0, h.log("fleet_sim")
        time.sleep(1.0)
        for name in ("probe-a", "probe-b"):
            proc = next(p for n, p, _ in h.procs if n == name)
            assert h.stop(proc, timeout=30.0) == 0, h.log(name)

    published = {v: set(s) for v, s in load_counts(counts_a)["fixes"].items()}
    b_side = load_counts(counts_b)
    handled = {v: set(s) for v, s in b_side["recorder_fixes"].items()}
    received = {v: set(s) for v, s in b_side["fixes"].items()}
    rows, total, distinct = rows_of(web_db, ids)
    cut_us, restored_us = int(cut_at * 1e6), int(restored_at * 1e6)
    summary = {v: {"published": len(published[v]), "received": len(received[v]),
                   "recorder": len(handled[v]), "rows": len(rows[v])} for v in ids}
    print(f"fixes per vehicle: {summary}; recorder: {b_side['recorder']}")

    assert total == distinct, f"{total - distinct} duplicate (vehicle, time) rows"
    assert b_side["recorder"]["last_error"] is None, b_side["recorder"]
    for vid in ids:
        stored = set(rows[vid])
        # Every fix the recorder received is a row, and every row is such a fix.
        assert stored == handled[vid], (
            f"{vid}: {len(handled[vid] - stored)} fixes received by the recorder without a "
            f"row, {len(stored - handled[vid])} rows it never received")
        # Every row is a fix fleet_sim published (A's counter matched a little after the
        # sim started: rows before its first count are not checked).
        assert {t for t in stored if t >= min(published[vid])} <= published[vid], (
            f"{vid}: rows of fixes A never published")
        during = [t for t in stored if cut_us + 1_000_000 < t < restored_us - 1_000_000]
        assert not during, f"{vid}: {len(during)} rows stamped while the link was down"
        before = sorted(t for t in stored if t < cut_us)
        after = sorted(t for t in stored if t > restored_us)
        assert len(before) > AFTER_ROWS, summary[vid]
        assert len(after) > AFTER_ROWS, summary[vid]
    events = link_lost_rows(web_db, ids, cut_at)
    for vid in ids:
        assert len(events[vid]) == 1, events[vid]  # one per vehicle for the whole cut
        opened, closed = events[vid][0]
        assert opened.timestamp() < restored_at
        assert closed is not None
        assert closed.timestamp() > restored_at


def _login(h: Hosts, api: str, username: str) -> dict[str, Any] | None:
    import httpx

    try:
        r = in_host(h, "c", lambda: httpx.post(api + "/auth/login", data={
            "username": username, "password": PASSWORD}, timeout=5.0))
    except httpx.HTTPError:
        return None
    return dict(r.json()) if r.status_code == 200 else None
