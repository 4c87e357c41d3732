"""The one WebSocket per client: auth, snapshots then sequenced updates, resume, site scoping,
garbage, and back-pressure (a silent client never delays the others nor grows memory)."""

from __future__ import annotations

import contextlib
import json
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from .conftest import Accounts, BridgeServer, token_of

WS = "/api/v1/ws"


# -- helpers ---------------------------------------------------------------------------------

def vehicle(vid: str, site: str | None, *, lat: float = 47.398, lon: float = 8.546,
            status: str = "idle", battery: float = 80.0) -> dict[str, Any]:
    """Return a vehicle as the picture holds it (convert.vehicle's shape)."""
    return {
        "vehicle_id": vid, "stamp": time.time(), "status": status, "liveness": "fresh",
        "mode": "AUTO.LOITER", "armed": False, "landed_state": "on_ground",
        "battery_pct": battery, "voltage_v": 16.0, "current_a": 0.0,
        "position": {"latitude": lat, "longitude": lon, "altitude": 488.0},
        "relative_altitude_m": 0.0, "heading_deg": 0.0, "ground_speed_mps": 0.0,
        "home": None, "mission_id": None, "last_reached_item": -1, "model": "x500",
        "site_id": site, "health": {"gps_ok": True, "estimator_ok": True, "sensors_ok": True,
                                    "battery_ok": True, "motors_ok": True, "link_ok": True,
                                    "warnings": []}}


def event(event_id: str, *vehicle_ids: str, **data: str) -> dict[str, Any]:
    """Return a coordination event as the picture holds it."""
    return {"kind": "coordination", "event_id": event_id, "type": "low_battery",
            "stamp": time.time(), "vehicle_ids": list(vehicle_ids), "severity": "warning",
            "state": "open", "resolution": "", "data": dict(data)}


def feed(server: BridgeServer, kind: str, payload: Any) -> None:
    """Hand one update to the server's picture, on its event loop (as the ROS node does)."""
    live = server.bridge.extras["live"]
    live.loop.call_soon_threadsafe(server.bridge.picture.on_update, kind, payload)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Return the first truthy value of ``predicate``; fail naming ``what`` past ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {what}")


def leading(server: BridgeServer) -> BridgeServer:
    """Wait until ``server`` holds the live tier's lease (its updates reach Redis)."""
    live = server.bridge.extras["live"]
    wait_for(lambda: live.online and live.leader, 5.0, "the instance leads the live tier")
    return server


def ticket(server: BridgeServer, token: str) -> str:
    """Buy a WebSocket ticket with an access token."""
    with server.client(token) as c:
        r = c.post("/api/v1/auth/ws-ticket")
    assert r.status_code == 200, r.text
    return str(r.json()["ticket"])


@contextlib.contextmanager
def open_ws(server: BridgeServer, token: str, **kwargs: Any) -> Iterator[ClientConnection]:
    """Open the WebSocket with a fresh ticket; yield it after its hello."""
    with connect(f"{server.ws_url}{WS}?ticket={ticket(server, token)}", open_timeout=10,
                 **kwargs) as ws:
        hello = receive(ws)
        assert hello["type"] == "hello"
        assert hello["authenticated"] is True
        yield ws


def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """Return the next message as JSON."""
    return dict(json.loads(ws.recv(timeout=timeout)))


def until(ws: ClientConnection, predicate: Callable[[dict[str, Any]], bool],
          timeout: float = 5.0, what: str = "a message") -> dict[str, Any]:
    """Read messages until one satisfies ``predicate``; fail past ``timeout``."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = receive(ws, left)
        except TimeoutError:
            break
        if predicate(message):
            return message
    raise AssertionError(f"no {what} within {timeout} s")


def subscribe(ws: ClientConnection, channel: str, since: str | None = None) -> dict[str, Any]:
    """Subscribe and return the answer (snapshot or resumed)."""
    ws.send(json.dumps({"type": "subscribe", "channel": channel,
                        **({"since": since} if since else {})}))
    return until(ws, lambda m: m["type"] in ("snapshot", "resumed")
                 and m["channel"] == channel, what=f"the answer to subscribing {channel}")


def closed_with(ws: ClientConnection, timeout: float = 10.0) -> tuple[int | None, str]:
    """Read until the server closes; return its close code and reason."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
    except TimeoutError:
        pass
    raise AssertionError(f"the server did not close the socket within {timeout} s")


def vehicle_ids(message: dict[str, Any]) -> set[str]:
    """Return the vehicle ids of a fleet snapshot or update."""
    return {v["vehicle_id"] for v in message["data"]}


@pytest.fixture
def viewer(accounts: Accounts) -> str:
    """Return a viewer of every site."""
    return accounts.user("all", ("viewer", None))


# -- snapshot, updates, resume ------------------------------------------------------------

def test_subscribe_answers_a_snapshot_then_updates_with_sequence_numbers(
        start_bridge: Any, viewer: str) -> None:
    server = leading(start_bridge(with_ros=False))
    feed(server, "fleet", [vehicle("uav1", None), vehicle("uav2", None)])
    with open_ws(server, token_of(server, viewer)) as ws:
        snap = subscribe(ws, "fleet")
        assert snap["type"] == "snapshot"
        assert vehicle_ids(snap) == {"uav1", "uav2"}
        feed(server, "fleet", [vehicle("uav1", None, battery=42.0), vehicle("uav2", None)])
        update = until(ws, lambda m: m["type"] == "update" and m["channel"] == "fleet"
                       and any(v.get("battery_pct") == 42.0 for v in m["data"]),
                       what="uav1's new battery level on fleet")
        assert update["kind"] == "vehicles"
        assert "seq" in update

        assert subscribe(ws, "events")["data"] == []
        seqs = []
        for n in range(3):
            feed(server, "event", event(f"e{n}", "uav1"))
            m = until(ws, lambda m: m["type"] == "update" and m["channel"] == "events",
                      what=f"event e{n}")
            assert m["data"]["event_id"] == f"e{n}"
            seqs.append(tuple(int(x) for x in m["seq"].split("-")))
        assert seqs == sorted(set(seqs))  # stream IDs, strictly increasing


def test_a_client_that_reconnects_with_its_last_seq_gets_what_it_missed(
        start_bridge: Any, viewer: str) -> None:
    server = leading(start_bridge(with_ros=False))
    token = token_of(server, viewer)
    feed(server, "fleet", [vehicle("uav1", None)])
    with open_ws(server, token) as ws:
        subscribe(ws, "events")
        feed(server, "event", event("before", "uav1"))
        last = until(ws, lambda m: m["type"] == "update", what="the first event")["seq"]
    for n in range(3):
        feed(server, "event", event(f"missed{n}", "uav1"))
    import redis

    r = redis.Redis.from_url(server.settings.redis_url, socket_timeout=2)
    wait_for(lambda: r.xlen(f"{server.settings.redis_prefix}stream") == 4, 5.0,
             "the events in the stream")
    r.close()
    with open_ws(server, token) as ws:
        answer = subscribe(ws, "events", since=last)
        assert answer["type"] == "resumed"
        assert answer["missed"] == 3
        got = [until(ws, lambda m: m["type"] == "update", what="a missed event")
               for _ in range(3)]
        assert [m["data"]["event_id"] for m in got] == ["missed0", "missed1", "missed2"]
        # And it keeps following live.
        feed(server, "event", event("live", "uav1"))
        m = until(ws, lambda m: m["type"] == "update", what="the live event")
        assert m["data"]["event_id"] == "live"


def test_a_resume_point_the_stream_no_longer_holds_gets_a_fresh_snapshot(
        start_bridge: Any, viewer: str) -> None:
    server = leading(start_bridge(with_ros=False, stream_maxlen=10))
    token = token_of(server, viewer)
    feed(server, "fleet", [vehicle("uav1", None)])
    with open_ws(server, token) as ws:
        subscribe(ws, "events")
        feed(server, "event", event("first", "uav1"))
        first = until(ws, lambda m: m["type"] == "update", what="the first event")["seq"]
    for n in range(400):  # MAXLEN ~10 trims whole nodes of 100 entries
        feed(server, "event", event(f"e{n}", "uav1"))
    live = server.bridge.extras["live"]
    wait_for(lambda: live.last_seq != first and len(server.bridge.picture.events) == 401, 5.0,
             "the flood written")
    with open_ws(server, token) as ws:
        answer = subscribe(ws, "events", since=first)
        assert answer["type"] == "snapshot"
        assert answer["resumed"] is False
        assert answer["data"][-1]["event_id"] == "e399"
        # A sequence number this stream never had is no better.
        assert subscribe(ws, "missions", since="1-0")["type"] == "snapshot"


# -- auth ----------------------------------------------------------------------------------

def test_the_first_message_may_authenticate_and_re_authentication_keeps_the_socket_open(
        start_bridge: Any, accounts: Accounts) -> None:
    from web_bridge.security import Grant, issue_token

    server = start_bridge(with_ros=False)
    secret = server.settings.jwt_secret.get_secret_value()
    grants = (Grant("viewer", None),)
    short, _, _ = issue_token(secret, 4242, "shortlived", grants, 2.0)
    with connect(f"{server.ws_url}{WS}", open_timeout=10) as ws:
        assert receive(ws)["authenticated"] is False
        ws.send(json.dumps({"type": "auth", "token": short}))
        assert receive(ws)["type"] == "auth_ok"
        fresh, _, _ = issue_token(secret, 4242, "shortlived", grants, 60.0)
        ws.send(json.dumps({"type": "auth", "token": fresh}))
        assert until(ws, lambda m: m["type"] == "auth_ok")["expires_at"] > time.time() + 30
        time.sleep(2.5)  # past the first token's expiry
        ws.send(json.dumps({"type": "ping", "id": 1}))
        assert until(ws, lambda m: m["type"] == "pong")["id"] == 1


def test_past_expiry_without_re_authentication_the_socket_closes_1008(
        start_bridge: Any) -> None:
    from web_bridge.security import Grant, issue_token

    server = start_bridge(with_ros=False)
    short, _, _ = issue_token(server.settings.jwt_secret.get_secret_value(), 4242, "short",
                              (Grant("viewer", None),), 2.0)
    with connect(f"{server.ws_url}{WS}", open_timeout=10) as ws:
        receive(ws)
        ws.send(json.dumps({"type": "auth", "token": short}))
        assert receive(ws)["type"] == "auth_ok"
        assert closed_with(ws, 6.0) == (1008, "token expired")


def test_a_ticket_opens_one_socket_only(start_bridge: Any, viewer: str) -> None:
    server = start_bridge(with_ros=False)
    once = ticket(server, token_of(server, viewer))
    with connect(f"{server.ws_url}{WS}?ticket={once}", open_timeout=10) as ws:
        assert receive(ws)["type"] == "hello"
    with connect(f"{server.ws_url}{WS}?ticket={once}", open_timeout=10) as ws:
        assert closed_with(ws) == (1008, "ticket was already used")


GARBAGE = [
    pytest.param("not json", "message is not JSON", id="not-json"),
    pytest.param(b"\x00\x01", "binary messages are not understood", id="binary"),
    pytest.param('["subscribe"]', 'message must be a JSON object with a "type"', id="array"),
    pytest.param('{"type":"launch"}', "unknown message type 'launch'", id="unknown-type"),
    pytest.param('{"type":"subscribe","channel":"secrets"}', "unknown channel 'secrets'",
                 id="unknown-channel"),
    pytest.param('{"type":"subscribe","channel":"fleet","extra":1}', "extra", id="extra-key"),
    pytest.param('{"type":"auth","token":"not-a-real-token"}', "token is invalid",
                 id="bad-reauth"),
]


@pytest.mark.parametrize(("message", "reason"), GARBAGE)
def test_garbage_closes_the_socket_with_1008_and_a_reason(
        start_bridge: Any, viewer: str, message: str | bytes, reason: str) -> None:
    server = start_bridge(with_ros=False)
    with open_ws(server, token_of(server, viewer)) as ws:
        ws.send(message)
        code, text = closed_with(ws)
    assert code == 1008
    assert reason in text


def test_a_bad_ticket_or_no_auth_message_closes_1008(start_bridge: Any) -> None:
    server = start_bridge(with_ros=False)
    with connect(f"{server.ws_url}{WS}?ticket=forged.ticket.value", open_timeout=10) as ws:
        code, reason = closed_with(ws)
    assert (code, reason.split(":")[0]) == (1008, "token is invalid")
    with connect(f"{server.ws_url}{WS}", open_timeout=10) as ws:
        receive(ws)
        ws.send(json.dumps({"type": "subscribe", "channel": "fleet"}))
        assert closed_with(ws)[0] == 1008
    with connect(f"{server.ws_url}{WS}", open_timeout=10) as ws:
        receive(ws)
        assert closed_with(ws, 8.0) == (1008, "no auth message within 5 s")


# -- site scoping ----------------------------------------------------------------------------

def test_a_viewer_of_one_site_sees_only_its_vehicles_missions_and_events(
        start_bridge: Any, accounts: Accounts) -> None:
    north, south = accounts.site("north"), accounts.site("south")
    name = accounts.user("northviewer", ("viewer", north))
    server = leading(start_bridge(with_ros=False))
    feed(server, "fleet", [vehicle("n1", north), vehicle("s1", south), vehicle("x1", None)])
    missions = [{"mission_id": "mn", "vehicle_id": "n1", "state": "active"},
                {"mission_id": "ms", "vehicle_id": "s1", "state": "active"}]
    feed(server, "missions", missions)
    with open_ws(server, token_of(server, name)) as ws:
        assert vehicle_ids(subscribe(ws, "fleet")) == {"n1"}
        assert [m["mission_id"] for m in subscribe(ws, "missions")["data"]] == ["mn"]
        assert subscribe(ws, "vehicle/s1")["data"] is None  # no hint that it exists
        subscribe(ws, "events")
        feed(server, "fleet", [vehicle("n1", north, battery=50.0),
                               vehicle("s1", south, battery=50.0),
                               vehicle("x1", None, battery=50.0)])
        feed(server, "event", event("south-only", "s1"))
        feed(server, "event", event("north-too", "s1", "n1"))
        feed(server, "missions", [{**m, "state": "paused"} for m in missions])
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            try:
                seen.append(receive(ws, deadline - time.monotonic()))
            except TimeoutError:
                break
    updates = [m for m in seen if m["type"] == "update"]
    fleet = set().union(*(vehicle_ids(m) for m in updates if m["channel"] == "fleet"))
    assert fleet == {"n1"}
    assert [m["data"]["event_id"] for m in updates if m["channel"] == "events"] == ["north-too"]
    assert [m["data"]["mission_id"] for m in updates if m["channel"] == "missions"] == ["mn"]
    assert not [m for m in updates if m["channel"] == "vehicle/s1"]


# -- back-pressure ---------------------------------------------------------------------------

def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


class Reader(threading.Thread):
    """A client that reads everything and notes how late each flood event arrives."""

    def __init__(self, ws: ClientConnection) -> None:
        super().__init__(daemon=True)
        self.ws = ws
        self.latencies: list[float] = []
        self.dropped = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                m = receive(self.ws, 0.2)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            if m["type"] == "update" and m["channel"] == "events":
                self.latencies.append(time.time() - float(m["data"]["data"]["sent"]))
            elif m["type"] == "status" and "dropped" in m:
                self.dropped += m["dropped"]


class SilentClient:
    """A WebSocket client that subscribes and then never reads its socket (tiny buffer)."""

    def __init__(self, server: BridgeServer, token: str) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.protocol = ClientProtocol(parse_uri(
            f"{server.ws_url}{WS}?ticket={ticket(server, token)}"))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(5.0)
        self.sock.connect(("127.0.0.1", server.port))
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while not self.protocol.events_received():  # the handshake answer
            self.protocol.receive_data(self.sock.recv(65536))

    def _flush(self) -> None:
        self.sock.sendall(b"".join(self.protocol.data_to_send()))

    def send(self, message: dict[str, Any]) -> None:
        """Send one message."""
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()

    def drain_until_closed(self, timeout: float) -> int | None:
        """Read everything the server sent; return its close code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not data:
                break
            self.protocol.receive_data(data)
            self.protocol.events_received()
            if self.protocol.close_rcvd is not None:
                return self.protocol.close_rcvd.code
        return None if self.protocol.close_rcvd is None else self.protocol.close_rcvd.code


def test_a_silent_client_never_delays_the_others_nor_grows_memory(
        start_bridge: Any, viewer: str) -> None:
    server = leading(start_bridge(with_ros=False, ws_event_queue=64, ws_stuck_timeout_s=2.0,
                                  ws_fleet_rate_hz=5.0))
    token = token_of(server, viewer)
    fleet = [vehicle(f"uav{i}", None) for i in range(200)]
    feed(server, "fleet", fleet)
    metrics = server.bridge.metrics
    with contextlib.ExitStack() as stack:
        silent = SilentClient(server, token)
        stack.callback(silent.sock.close)
        silent.send({"type": "subscribe", "channel": "fleet"})
        silent.send({"type": "subscribe", "channel": "events"})
        readers = []
        for _ in range(2):
            ws = stack.enter_context(open_ws(server, token))
            subscribe(ws, "events")
            subscribe(ws, "fleet")
            readers.append(Reader(ws))
        for r in readers:
            r.start()
        rss_before = _rss_kib()
        padding = "x" * 8000  # big events fill the silent client's socket quickly
        sent = 0
        started = time.monotonic()
        while time.monotonic() - started < 6.0:  # ~300 events/s, and the fleet at 3 Hz
            for _ in range(10):
                feed(server, "event", event(f"e{sent}", "uav1", sent=str(time.time()),
                                            pad=padding))
                sent += 1
            if sent % 100 == 0:
                feed(server, "fleet", [vehicle(v["vehicle_id"], None, battery=sent % 100)
                                       for v in fleet])
            time.sleep(0.03)
        wait_for(lambda: all(len(r.latencies) >= sent for r in readers), 10.0,
                 "the readers got every event")
        rss_after = _rss_kib()
        for r in readers:
            r.stop.set()
            r.join(5.0)
        wait_for(lambda: metrics.ws_closed_slow._value.get() == 1, 5.0,
                 "the silent client closed for being stuck")
        # It gets the stuck deadline again to read its close frame: 1013.
        assert silent.drain_until_closed(10.0) == 1013
        assert metrics.ws_clients._value.get() == 2
    for r in readers:
        assert r.dropped == 0
        p99 = statistics.quantiles(r.latencies, n=100)[98]
        assert p99 < 0.5, f"p99 delivery latency {p99:.3f} s"
    assert rss_after - rss_before < 30_000, f"RSS grew {rss_after - rss_before} KiB"
