"""Benchmark: the web bridge with 1,000 vehicles — REST list, WebSocket fan-out, ingest.

    python bench/web_bridge.py [--vehicles 1000] [--http-clients 50] [--ws-clients 100]
                               [--seconds 20] [--ws-compression deflate|none] [--busy]

Three kinds of process, all on 127.0.0.1:

- the bridge, ``python -m web_bridge`` (uvicorn, uvloop, one process), in a DDS domain of its
  own (claimed like the tests claim theirs), on the fleet_test database and the machine's
  Redis under a key prefix of its own;
- this process: a synthetic ``/fleet/status`` publisher (FleetStatus of ``--vehicles``
  VehicleStatus at 1 Hz, FLEET_QOS, every stamp = publish time, positions moving). It stands
  in for fleet_manager: the figures are the bridge's from ``/fleet/status`` onward;
- one load-generator process (asyncio on uvloop): httpx.AsyncClient for REST and ingest, the
  ``websockets`` asyncio client for the WebSocket, so the generators do not starve the
  publisher of its core.

Phases, ``--seconds`` each (after a second of warm-up): ``GET /api/v1/vehicles`` at
``--http-clients`` concurrent clients, default page (100) then ``limit=1000``;
``--ws-clients`` WebSockets subscribed to ``fleet`` (latency = receipt time in the client −
the vehicle's stamp, per vehicle in every update; messages/s and vehicle updates/s
delivered); sequential 500-sample ``POST /api/v1/ingest`` batches of one vehicle. For each:
the bridge's CPU (% of one core, /proc/<pid>/stat) over the measured window; its RSS at the
start and after every phase.

``--busy`` adds two processes spinning at nice 19 for the whole run (a loaded machine).
The admin user, its site and API key are inserted in the database and deleted at the end
with their audit rows; the bridge's Redis keys are deleted too; the bridge is killed even on
Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _common import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get("FLEET_TEST_DATABASE_URL",
                              "postgresql+psycopg://fleet@127.0.0.1:5432/fleet_test")
REDIS_URL = os.environ.get("FLEET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = secrets.token_urlsafe(16)
BASE = (47.398, 8.546)  # near the simulator's home, Zurich
ROSBRIDGE = "rosbridge (users' figure): 858 msg/s, P99 19.8 ms with one client, collapsing " \
            "under load"
# A low-priority CPU hog. Its session is its own scheduler autogroup (Linux), where os.nice
# alone changes nothing against other sessions: the group's nice is lowered too.
SPINNER = """
import contextlib, os
os.nice(19)
with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
    group.write("19")
while True:
    pass
"""
# The stamp of each vehicle in a fleet update; a regular expression is much cheaper than
# parsing 100 clients' JSON in one generator process, and finds exactly one per vehicle.
STAMP = re.compile(r'"vehicle_id":"[^"]*","stamp":([0-9.eE+-]+)')
UPDATE_PREFIX = '{"type":"update","channel":"fleet","kind":"vehicles"'


# --- figures ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values`` (nearest rank), NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(seconds: float) -> str:
    return "   n/a" if math.isnan(seconds) else f"{seconds * 1000:6.1f}"


def rss_mib(pid: int) -> float:
    """Return the resident set size of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def verdict(value: float, goal: float) -> str:
    return "n/a" if math.isnan(value) else ("met" if value < goal else "MISSED")


# --- the load generator (its own process) -----------------------------------------------


def load_worker(conn: Any) -> None:
    """Run the phases the parent sends over ``conn``; answer marks and results."""
    import uvloop

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us; Ctrl-C is its
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    phases = {"http": http_phase, "ws": ws_phase, "ingest": ingest_phase}
    while True:
        kind, params = conn.recv()
        if kind == "stop":
            return
        try:
            result = asyncio.run(phases[kind](conn, **params))
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        conn.send(("result", result))


async def http_phase(conn: Any, *, url: str, token: str, clients: int, seconds: float,
                     limit: int | None) -> dict[str, Any]:
    """GET /api/v1/vehicles from ``clients`` concurrent connections for ``seconds``."""
    params = {"limit": str(limit)} if limit else {}
    latencies: list[float] = []
    codes: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=30.0, limits=limits) as http:
        first = await http.get("/api/v1/vehicles", params=params)
        first.raise_for_status()
        items = len(first.json()["items"])
        start = time.monotonic() + 1.0
        end = start + seconds

        async def client() -> None:
            while (now := time.monotonic()) < end:
                t0 = time.perf_counter()
                try:
                    r = await http.get("/api/v1/vehicles", params=params)
                except httpx.TransportError as exc:
                    errors[f"{type(exc).__name__} {exc}"[:80]] += 1
                    continue
                dt = time.perf_counter() - t0
                if now >= start:
                    latencies.append(dt)
                    codes[r.status_code] += 1

        async def marks() -> None:
            await asyncio.sleep(max(0.0, start - time.monotonic()))
            conn.send(("mark", "start"))
            await asyncio.sleep(max(0.0, end - time.monotonic()))
            conn.send(("mark", "end"))

        await asyncio.gather(marks(), *(client() for _ in range(clients)))
    return {"latencies": latencies, "codes": dict(codes), "items": items, "window": seconds,
            "errors": dict(errors)}


async def ws_phase(conn: Any, *, url: str, token: str, clients: int, seconds: float,
                   vehicles: int, compression: str) -> dict[str, Any]:
    """Open ``clients`` WebSockets on ``fleet``; measure what they receive for ``seconds``."""
    import websockets

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=30.0) as http:
        gate = asyncio.Semaphore(8)

        async def buy() -> str:
            async with gate:
                r = await http.post("/api/v1/auth/ws-ticket")
                r.raise_for_status()
                return str(r.json()["ticket"])

        tickets = await asyncio.gather(*(buy() for _ in range(clients)))
    ws_url = url.replace("http://", "ws://", 1) + "/api/v1/ws"
    latencies: list[float] = []
    counts = Counter[str]()
    snapshots: list[int] = []
    closes: Counter[str] = Counter()
    ready = asyncio.Event()
    window = [math.inf, math.inf]  # wall-clock start and end, set once every client is ready
    done = asyncio.Event()

    async def client(ticket: str) -> None:
        async with websockets.connect(
                f"{ws_url}?ticket={ticket}", max_size=None, open_timeout=30,
                close_timeout=5, compression=None if compression == "none" else "deflate",
        ) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 15))
            if hello.get("type") != "hello":
                raise RuntimeError(f"expected hello, got {str(hello)[:80]}")
            await ws.send('{"type":"subscribe","channel":"fleet"}')
            async with asyncio.timeout(30):
                while True:
                    raw = await ws.recv()
                    if isinstance(raw, str) and raw.startswith('{"type":"snapshot"'):
                        snapshots.append(len(json.loads(raw)["data"]))
                        break
            if len(snapshots) == clients:
                ready.set()
            while not done.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                now = time.time()
                if not window[0] <= now < window[1] or not isinstance(raw, str):
                    continue
                counts["messages"] += 1
                counts["bytes"] += len(raw)
                if raw.startswith(UPDATE_PREFIX):
                    stamps = STAMP.findall(raw)
                    counts["updates"] += 1
                    counts["vehicles"] += len(stamps)
                    latencies.extend(now - float(s) for s in stamps)

    async def guarded(ticket: str) -> None:
        try:
            await client(ticket)
        except websockets.ConnectionClosed as exc:
            closes[f"closed {exc.rcvd.code if exc.rcvd else 'without a frame'}"] += 1
        except Exception as exc:
            closes[type(exc).__name__] += 1

    tasks = [asyncio.create_task(guarded(t)) for t in tickets]
    try:
        async with asyncio.timeout(60):
            await ready.wait()
    except TimeoutError:
        done.set()
        await asyncio.gather(*tasks)
        return {"error": f"only {len(snapshots)} of {clients} clients had their snapshot "
                         f"after 60 s ({dict(closes)})"}
    await asyncio.sleep(2.0)  # every client past its snapshot and first updates
    window[0] = time.time()
    window[1] = window[0] + seconds
    conn.send(("mark", "start"))
    await asyncio.sleep(seconds)
    conn.send(("mark", "end"))
    await asyncio.sleep(0.5)
    done.set()
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*tasks)
    except TimeoutError:
        closes["close timed out"] += sum(1 for t in tasks if not t.done())
    return {"latencies": latencies, "counts": dict(counts), "closes": dict(closes),
            "snapshots": (min(snapshots), max(snapshots)), "window": seconds,
            "expected_vehicles": vehicles}


async def ingest_phase(conn: Any, *, url: str, key: str, vehicle_id: str, seconds: float,
                       batch: int) -> dict[str, Any]:
    """POST ``batch``-sample batches of one vehicle, one after the other, for ``seconds``."""
    latencies: list[float] = []
    codes: Counter[int] = Counter()
    refused = 0
    problem = ""
    previous = time.time() - 120.0
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as http:
        start = time.monotonic() + 1.0
        end = start + seconds
        marked = False
        while (now := time.monotonic()) < end:
            if now >= start and not marked:
                conn.send(("mark", "start"))
                marked = True
            # The newest batch a vehicle would send: its last ~50 s at 10 Hz, up to now.
            wall = time.time()
            first = max(previous, wall - 50.0)
            step = (wall - first) / batch
            body = json.dumps({"samples": [{
                "vehicle_id": vehicle_id, "stamp": first + step * (i + 1),
                "latitude": BASE[0] + 1e-6 * i, "longitude": BASE[1] + 1e-6 * i,
                "altitude": 518.0, "relative_altitude": 30.0, "heading": 90.0,
                "ground_speed": 8.0, "battery_percent": 76.5, "voltage": 15.9, "current": 12.0,
                "armed": True, "mode": "AUTO.MISSION", "landed_state": "in_air",
            } for i in range(batch)]})
            t0 = time.perf_counter()
            r = await http.post("/api/v1/ingest", content=body)
            dt = time.perf_counter() - t0
            previous = first + step * batch
            if r.status_code != 200 or r.json()["accepted"] != batch:
                refused += 1
                problem = problem or r.text[:200]
            if now >= start:
                latencies.append(dt)
                codes[r.status_code] += 1
        conn.send(("mark", "end"))
    return {"latencies": latencies, "codes": dict(codes), "refused": refused,
            "problem": problem, "window": seconds}


# --- the synthetic /fleet/status ------------------------------------------------------------


class FleetPublisher:
    """Publishes a FleetStatus of ``n`` moving vehicles at 1 Hz, stamped at publish time."""

    def __init__(self, domain_id: int, n: int, site: str) -> None:
        from builtin_interfaces.msg import Time
        from geographic_msgs.msg import GeoPoint

        from fleet_interfaces.msg import FleetStatus, HealthFlags, VehicleStatus
        from fleet_ros.graph import RosGraph
        from fleet_ros.qos import FLEET_QOS

        self._time = Time
        self.graph = RosGraph(domain_id=domain_id, threads=2)
        self.node = self.graph.node("bridge_bench_fleet")
        self.pub = self.node.create_publisher(FleetStatus, "/fleet/status", FLEET_QOS)
        self.msg = FleetStatus()
        self.msg.counts_by_status = [0, n, 0, 0, 0, 0, 0]
        side = math.ceil(math.sqrt(n))
        for k in range(n):
            v = VehicleStatus()
            v.vehicle_id = f"bench{k:04d}"
            v.status = VehicleStatus.STATUS_IN_MISSION
            v.liveness = VehicleStatus.LIVENESS_FRESH
            v.autopilot_mode = "AUTO.MISSION"
            v.armed = True
            v.landed_state = VehicleStatus.LANDED_IN_AIR
            v.battery_percent, v.battery_voltage, v.battery_current = 80.0, 15.8, 12.0
            home = GeoPoint(latitude=BASE[0] + (k // side) * 2e-3,
                            longitude=BASE[1] + (k % side) * 3e-3, altitude=488.0)
            v.home = home
            v.position = GeoPoint(latitude=home.latitude, longitude=home.longitude,
                                  altitude=518.0)
            v.relative_altitude, v.ground_speed = 30.0, 8.0
            v.last_reached_item = 3
            v.model = "x500"
            v.home_site = site
            v.health = HealthFlags(gps_ok=True, estimator_ok=True, sensors_ok=True,
                                   battery_ok=True, motors_ok=True, link_ok=True)
            self.msg.vehicles.append(v)
        self.homes = [(v.home.latitude, v.home.longitude) for v in self.msg.vehicles]
        self.published = 0
        self.durations: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-status", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            t0 = time.perf_counter()
            wall = time.time()
            # Each vehicle flies a circle of ~150 m, one turn in two minutes.
            angle = wall * 2 * math.pi / 120.0
            for k, v in enumerate(self.msg.vehicles):
                lat, lon = self.homes[k]
                a = angle + k
                v.position.latitude = lat + 1.35e-3 * math.sin(a)
                v.position.longitude = lon + 2.0e-3 * math.cos(a)
                v.heading = math.degrees(a) % 360.0
            sec, nanosec = divmod(time.time_ns(), 1_000_000_000)
            stamp = self._time(sec=sec, nanosec=nanosec)
            for v in self.msg.vehicles:
                v.stamp = stamp
            self.msg.stamp = stamp
            self.pub.publish(self.msg)
            self.published += 1
            self.durations.append(time.perf_counter() - t0)
            next_tick += 1.0
            self._stop.wait(max(0.0, next_tick - time.monotonic()))

    def close(self) -> None:
        """Stop publishing and close the graph."""
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.graph.close()


# --- set-up and clean-up ----------------------------------------------------------------------


@contextlib.contextmanager
def bench_accounts(tag: str) -> Iterator[tuple[str, str]]:
    """Insert a site and an all-sites admin (argon2 hash); yield (username, site); delete them
    with their audit rows and API keys afterwards."""
    from argon2 import PasswordHasher
    from sqlalchemy import create_engine, text

    engine = create_engine(DATABASE_URL)
    username, site = f"{tag}_admin", f"{tag}_site"
    digest = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
    with engine.begin() as c:
        c.execute(text("insert into sites (id, name, location, time_zone) values "
                       "(:id, :id, st_setsrid(st_makepoint(:lon, :lat), 4326), 'UTC')"),
                  {"id": site, "lat": BASE[0], "lon": BASE[1]})
        user_id = c.execute(text("insert into users (username, password_hash) values (:u, :h) "
                                 "returning id"), {"u": username, "h": digest}).scalar_one()
        c.execute(text("insert into roles (user_id, site_id, role) values (:u, null, 'admin')"),
                  {"u": user_id})
    try:
        yield username, site
    finally:
        with engine.begin() as c:
            keys = c.execute(text("select id from api_keys where user_id = :u or site_id = :s"),
                             {"u": user_id, "s": site}).scalars().all()
            c.execute(text("delete from audit_log where user_id = :u or username = :n "
                           "or site_id = :s or api_key_id = any(:k)"),
                      {"u": user_id, "n": username, "s": site, "k": list(keys)})
            c.execute(text("delete from api_keys where id = any(:k)"), {"k": list(keys)})
            c.execute(text("delete from users where id = :u"), {"u": user_id})
            c.execute(text("update vehicles set site_id = null where site_id = :s"),
                      {"s": site})
            c.execute(text("delete from sites where id = :s"), {"s": site})
        engine.dispose()


def clean_redis(prefix: str) -> int:
    """Delete every Redis key under ``prefix``; return how many there were."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i:i + 1000])
        return len(keys)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any] | None) -> None:
    """Terminate ``proc`` (and its session), kill it if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_until(what: str, timeout: float, check: Any, bridge: subprocess.Popen[Any]) -> Any:
    """Return the first truthy ``check()``; raise naming ``what`` past ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bridge.poll() is not None:
            raise RuntimeError(f"the bridge exited ({bridge.returncode}) while waiting: {what}")
        with contextlib.suppress(OSError, ValueError, KeyError, httpx.HTTPError):
            value = check()
            if value:
                return value
        time.sleep(0.25)
    raise TimeoutError(f"not within {timeout:g} s: {what}")


# --- the run --------------------------------------------------------------------------------


class Phases:
    """Sends phases to the load process and samples the bridge's CPU at its marks."""

    def __init__(self, conn: Any, load_pid: int, bridge_pid: int, timeout: float) -> None:
        self.conn, self.load_pid, self.bridge_pid = conn, load_pid, bridge_pid
        self.timeout = timeout
        self.rss: list[tuple[str, float]] = []

    def run(self, name: str, kind: str, **params: Any) -> dict[str, Any]:
        """Run one phase; return its result with the CPU of each process in its window."""
        self.conn.send((kind, params))
        deadline = time.monotonic() + self.timeout
        marks: dict[str, tuple[float, float, float, float]] = {}
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.conn.poll(left):
                raise TimeoutError(f"phase {name!r} did not finish within {self.timeout:g} s")
            what, value = self.conn.recv()
            if what == "mark":
                marks[value] = (time.monotonic(), cpu_seconds(self.bridge_pid),
                                cpu_seconds(self.load_pid), cpu_seconds(os.getpid()))
                continue
            result: dict[str, Any] = value
            break
        if "error" in result:
            raise RuntimeError(f"phase {name!r} failed: {result['error']}")
        if "start" in marks and "end" in marks:
            (w0, b0, l0, p0), (w1, b1, l1, p1) = marks["start"], marks["end"]
            span = w1 - w0
            result["cpu"] = (100 * (b1 - b0) / span, 100 * (l1 - l0) / span,
                             100 * (p1 - p0) / span)
        self.rss.append((f"after {name}", rss_mib(self.bridge_pid)))
        return result


BUCKET = re.compile(r'^fleet_http_request_seconds_bucket\{(?=[^}]*route="(?:/api/v1)?/vehicles")'
                    r'(?=[^}]*method="GET")[^}]*le="([^"]+)"[^}]*\} ([0-9.e+]+)$', re.MULTILINE)


def vehicle_buckets(url: str) -> dict[float, float]:
    """Return the bridge's cumulative latency buckets of GET /api/v1/vehicles (/metrics)."""
    text = httpx.get(f"{url}/metrics", timeout=10.0).text
    return {float(le): float(n) for le, n in BUCKET.findall(text)}


def server_side(before: dict[float, float], after: dict[float, float]) -> str:
    """Return the bucket bounds of p50 and p95 of the requests between two readings."""
    delta = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    total = delta[-1][1] if delta else 0.0
    if not total:
        return "n/a"
    bounds = [next(le for le, n in delta if n >= q * total) for q in (0.5, 0.95)]
    return "  ".join(f"p{q} <= {'inf' if math.isinf(b) else f'{b * 1000:g}'} ms"
                     for q, b in zip((50, 95), bounds, strict=True))


def cpu_text(result: dict[str, Any]) -> str:
    b, g, p = result.get("cpu", (math.nan,) * 3)
    return f"bridge {b:4.0f}%  load-gen {g:4.0f}%  publisher {p:3.0f}%"


def stop_load(load: Any, conn: Any) -> None:
    """Ask the load process to stop; terminate it if it does not."""
    if load.is_alive():
        with contextlib.suppress(OSError, ValueError):
            conn.send(("stop", None))
        load.join(timeout=5)
    if load.is_alive():
        load.terminate()
        load.join(timeout=5)


def quantiles(values: list[float]) -> tuple[float, float, float, float]:
    """Return (p50, p95, p99, max) of ``values``."""
    ordered = sorted(values)
    return pct(ordered, 0.50), pct(ordered, 0.95), pct(ordered, 0.99), pct(ordered, 1.0)


def run(args: argparse.Namespace, stack: contextlib.ExitStack, *, domain: int, tag: str,
        username: str, site: str, prefix: str, log: Path) -> int:
    """Start the bridge, the publisher and the load process; run the phases; print."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = stack.enter_context(log.open("w"))
    env = {**os.environ, "FLEET_JWT_SECRET": secrets.token_hex(32), "FLEET_PORT": str(port),
           "FLEET_HOST": "127.0.0.1", "FLEET_REDIS_URL": REDIS_URL, "FLEET_REDIS_PREFIX": prefix,
           "FLEET_ROS_DOMAIN_ID": str(domain), "FLEET_DATABASE_URL": DATABASE_URL,
           "FLEET_ARGON2_TIME_COST": "1", "FLEET_ARGON2_MEMORY_KIB": "64",
           "FLEET_RATE_LIMIT_PER_MINUTE": "100000000", "FLEET_INGEST_RATE_PER_SECOND": "1000",
           "FLEET_COOKIE_SECURE": "false", "FLEET_ACCESS_TOKEN_TTL_S": "3600",
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    # cwd: the repository, so ``-m web_bridge`` is the package, never this file.
    bridge = subprocess.Popen([sys.executable, "-m", "web_bridge", "--log-level", "warning"],
                              env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT,
                              start_new_session=True)
    stack.callback(stop_process, bridge)
    publisher = FleetPublisher(domain, args.vehicles, site)
    stack.callback(publisher.close)
    started = time.monotonic()

    def health() -> Any:
        return httpx.get(f"{url}/health", timeout=2.0).json()

    wait_until("the bridge answers /health", 90, health, bridge)
    wait_until(f"{args.vehicles} vehicles in the bridge's picture", 90, lambda: health()[
        "components"]["graph"]["detail"].startswith(f"{args.vehicles} vehicles"), bridge)
    warmup = time.monotonic() - started
    r = httpx.post(f"{url}/api/v1/auth/login", timeout=30.0,
                   data={"username": username, "password": PASSWORD})
    r.raise_for_status()
    token = r.json()["access_token"]
    ingest_vehicle = f"{tag}_ingest"
    r = httpx.post(f"{url}/api/v1/keys", timeout=30.0, headers={"Authorization": f"Bearer {token}"},
                   json={"vehicle_id": ingest_vehicle, "site_id": site, "name": "benchmark"})
    r.raise_for_status()
    api_key = r.json()["key"]

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    load = ctx.Process(target=load_worker, args=(child,), name="bridge-bench-load", daemon=True)
    load.start()
    stack.callback(stop_load, load, parent)
    phases = Phases(parent, load.pid, bridge.pid, timeout=args.seconds + 180)
    rss_start = rss_mib(bridge.pid)
    time.sleep(2.0)  # the load process imports its libraries outside the windows
    buckets = [vehicle_buckets(url)]
    http_default = phases.run("GET /vehicles", "http", url=url, token=token,
                              clients=args.http_clients, seconds=args.seconds, limit=None)
    buckets.append(vehicle_buckets(url))
    http_all = phases.run("GET /vehicles?limit=1000", "http", url=url, token=token,
                          clients=args.http_clients, seconds=args.seconds, limit=1000)
    buckets.append(vehicle_buckets(url))
    http_default["server"] = server_side(buckets[0], buckets[1])
    http_all["server"] = server_side(buckets[1], buckets[2])
    ws = phases.run("WebSocket", "ws", url=url, token=token, clients=args.ws_clients,
                    seconds=args.seconds, vehicles=args.vehicles,
                    compression=args.ws_compression)
    ing = phases.run("ingest", "ingest", url=url, key=api_key, vehicle_id=ingest_vehicle,
                     seconds=args.seconds, batch=500)
    rss_end = rss_mib(bridge.pid)
    load_avg = os.getloadavg()
    published, durations = publisher.published, list(publisher.durations)
    problems = [line for line in log.read_text(errors="replace").splitlines()
                if " ERROR " in line or "Traceback" in line]

    machine = "BUSY machine (2 spinning processes at nice 19)" if args.busy else "quiet machine"
    print(f"web_bridge benchmark: {args.vehicles} vehicles at 1 Hz, {args.seconds:g} s per "
          f"phase, {machine}, {os.cpu_count()} cores")
    print(f"  /fleet/status is SYNTHETIC: this process publishes FleetStatus with {args.vehicles}"
          f" VehicleStatus at 1 Hz (FLEET_QOS, stamp = publish time, positions moving), so the "
          f"figures\n  are the bridge's from /fleet/status onward, not fleet_manager's "
          f"({published} published, build+publish median {statistics.median(durations) * 1000:.0f}"
          f" ms)")
    print(f"  bridge: python -m web_bridge (uvicorn + uvloop, one process) on 127.0.0.1:{port}, "
          f"DDS domain {domain}, Redis prefix {prefix}, database fleet_test; ready with every "
          f"vehicle after {warmup:.1f} s")
    print("  load generators: one separate process (asyncio on uvloop: httpx.AsyncClient, "
          "websockets client); CPU below is % of one core over each measured window")
    print()
    print(f"GET /api/v1/vehicles, {args.http_clients} concurrent clients (goal p95 < 50 ms)")
    print("  page             requests   req/s  p50 ms  p95 ms  p99 ms  max ms  goal    CPU")
    for label, res in (("default (100)", http_default), ("limit=1000", http_all)):
        lat = res["latencies"]
        p50, p95, p99, top = quantiles(lat)
        bad = sum(n for code, n in res["codes"].items() if code != 200)
        print(f"  {label:<15}{len(lat):>9} {len(lat) / res['window']:>7.0f} {ms(p50)}  {ms(p95)}"
              f"  {ms(p99)}  {ms(top)}  {verdict(p95, 0.050):<6}  {cpu_text(res)}")
        if bad or res["items"] != min(args.vehicles, 100 if label.startswith("default")
                                      else 1000):
            print(f"    !! {bad} answers were not 200; items per page {res['items']}")
        print(f"    in the bridge (its /metrics histogram, request in → answer out): "
              f"{res['server']}")
        if res["errors"]:
            print(f"    !! requests that failed: {res['errors']}")
    print()
    lat = ws["latencies"]
    p50, p95, p99, top = quantiles(lat)
    counts, window = ws["counts"], ws["window"]
    msg_rate = counts.get("updates", 0) / window
    vehicle_rate = counts.get("vehicles", 0) / window
    expected = args.vehicles * args.ws_clients
    print(f"WebSocket, {args.ws_clients} clients on `fleet`, {args.vehicles} vehicles at 1 Hz "
          f"({'permessage-deflate' if args.ws_compression == 'deflate' else 'no compression'})")
    print(f"  delivery latency, vehicle stamp -> client receipt: p50 {ms(p50).strip()} ms, "
          f"p95 {ms(p95).strip()} ms, p99 {ms(p99).strip()} ms, max {ms(top).strip()} ms "
          f"(goal p99 < 250 ms: {verdict(p99, 0.250)})")
    print(f"  delivered: {msg_rate:,.0f} update messages/s, {vehicle_rate:,.0f} vehicle "
          f"updates/s ({vehicle_rate / expected:.0%} of {expected:,}/s published to them), "
          f"{counts.get('bytes', 0) / window / 1e6:.1f} MB/s of JSON")
    print(f"  snapshots of {ws['snapshots'][0]}..{ws['snapshots'][1]} vehicles; clients closed "
          f"early: {ws['closes'] or 'none'}; {cpu_text(ws)}")
    print(f"  this bridge:      {msg_rate:>7,.0f} msg/s (each up to 500 vehicles: "
          f"{vehicle_rate:,.0f} vehicle states/s), P99 {ms(p99).strip()} ms with "
          f"{args.ws_clients} clients")
    print(f"  {ROSBRIDGE}")
    print()
    lat = ing["latencies"]
    p50, p95, p99, top = quantiles(lat)
    print("POST /api/v1/ingest, 500-sample batches of one vehicle, one after the other "
          "(goal p95 < 100 ms)")
    print(f"  {len(lat)} batches ({len(lat) / ing['window']:.1f}/s, "
          f"{500 * len(lat) / ing['window']:,.0f} samples/s): p50 {ms(p50).strip()} ms, "
          f"p95 {ms(p95).strip()} ms, p99 {ms(p99).strip()} ms, max {ms(top).strip()} ms "
          f"({verdict(p95, 0.100)}); {cpu_text(ing)}")
    if ing["refused"]:
        print(f"    !! {ing['refused']} batches not wholly accepted: {ing['problem']}")
    print()
    print(f"bridge RSS: start {rss_start:.0f} MiB, "
          + ", ".join(f"{name} {mib:.0f}" for name, mib in phases.rss)
          + f"; end {rss_end:.0f} MiB")
    print(f"load average at the end: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}")
    if problems:
        print(f"bridge log has {len(problems)} errors (kept in {log}); first: {problems[0][:200]}")
    else:
        log.unlink(missing_ok=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--http-clients", type=int, default=50)
    parser.add_argument("--ws-clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument("--ws-compression", choices=["deflate", "none"], default="deflate",
                        help="permessage-deflate on the WebSockets (what browsers ask for)")
    parser.add_argument("--busy", action="store_true",
                        help="also run 2 processes spinning at nice 19 (a loaded machine)")
    args = parser.parse_args()
    if not (1 <= args.vehicles <= 10_000 and 1 <= args.http_clients <= 500
            and 1 <= args.ws_clients <= 1000 and 1 <= args.seconds <= 600):
        parser.error("need 1..10000 vehicles, 1..500 HTTP clients, 1..1000 WebSocket clients "
                     "and 1..600 seconds")
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    sys.path.insert(0, str(ROOT))
    from tests.conftest import claimed_domain  # the tests' lock files: no domain is shared

    # SIGTERM unwinds like Ctrl-C: the bridge and the spinners are always stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tag = f"bench{secrets.token_hex(3)}"
    prefix = f"bench:{tag}:"
    log = Path(tempfile.gettempdir()) / f"{tag}-bridge.log"
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
          flush=True)
    try:
        with contextlib.ExitStack() as stack:
            domain = stack.enter_context(claimed_domain())
            username, site = stack.enter_context(bench_accounts(tag))
            stack.callback(clean_redis, prefix)
            if args.busy:
                for _ in range(2):
                    spinner = subprocess.Popen([sys.executable, "-c", SPINNER],
                                               start_new_session=True)
                    stack.callback(stop_process, spinner)
            return run(args, stack, domain=domain, tag=tag, username=username, site=site,
                       prefix=prefix, log=log)
    except KeyboardInterrupt:
        print("interrupted: the bridge was stopped and the benchmark's rows and keys deleted",
              file=sys.stderr)
        return 130
    except Exception:
        if log.exists():
            print(f"the bridge's log: {log}", file=sys.stderr)
        raise


if __name__ == "__main__":
    sys.exit(main())
