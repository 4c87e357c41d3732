"""Soak: the whole graph, one process per node, under load and scheduled faults (issue #13).

    python bench/soak.py --minutes 30 [--vehicles 200] [--domain 150] [--discovery-server]

Processes (each its own session, ROS_DOMAIN_ID=--domain, claimed with the tests' lock file
so no test shares it, discovery on localhost only):
fleet_sim (N vehicles), fleet_manager, mission_planner, telemetry_recorder (into the
benchmarks' database fleet_bench, with a spool of its own) and web_bridge (REST + WebSocket,
Redis keys under a prefix of this run); a probe (this script with --probe) that counts what
the simulator publishes and follows the missions; and this process, which drives the load:

- missions: patrols over random points south-west of the site, submitted through
  ``POST /api/v1/missions`` so that about one mission per vehicle is queued or flying;
- API clients: ``--api-rps`` GETs per second (vehicles, missions, fleet summary, latest
  telemetry, me, health), logged in as a user made for this run;
- WebSocket clients: ``--ws-clients`` sessions subscribed to fleet, missions, events,
  zones and charging, re-authenticating before their token expires and reconnecting when
  closed;
- faults, one every ``--fault-every`` seconds in turn: link loss and GPS loss of a random
  vehicle (fleet_sim's inject_failure service, cleared after a while), kill -9 of the
  recorder and its restart on the same spool, the recorder's database connections cut
  (pg_terminate_backend through psql), a restart of web_bridge.

Every minute and at the end it prints RSS and CPU per process (and their least-squares slope
per hour), samples published vs rows stored, missions (completed, failed and why), API errors
and WebSocket reconnects.

Samples: a telemetry row is made from each global_position/global fix (telemetry_recorder).
The probe subscribes to every vehicle's fix topic with the recorder's QoS and counts the fixes
per vehicle and second of their stamp. "Expected" are the fixes the probe counted while the
recorder was subscribed to that vehicle: a window from 1 s before each kill -9 until 2 s after
the restarted recorder's subscription to the vehicle appears in the ROS graph is excluded (what
the sim published then had no recorder to go to; it is reported apart). "Lost" = expected fixes
with no row (per vehicle and second: max(0, counted - rows)); "rows the probe did not see" =
the other way round (the probe's own drops: both subscriptions are best-effort). Duplicates:
(vehicle, time) is the table's key, so a duplicate cannot be stored; the recorder's
``duplicates_skipped`` (rows of a batch re-sent after a restart or a cut connection that were
already stored) is reported.

Every row written under this run's tag (vehicles, sites, missions, telemetry, the user) is
deleted at the end, with the Redis keys and the spool. Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import itertools
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _benchdb
from _common import (
    check_ranges,
    clean_up_graph_run,
    cpu_seconds,
    discovery_server_env,
    held_domain,
    rss_bytes,
    slope_per_hour,
    socket_peer_ports,
)

# bench/web_bridge.py would shadow the web_bridge package the soak imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = ("completed", "aborted", "failed")
FAULTS = ("link_loss", "gps_loss", "recorder_kill", "db_cut", "bridge_restart")
API_PATHS = ("/api/v1/vehicles?limit=50", "/api/v1/missions?limit=50", "/api/v1/fleet/summary",
             "/api/v1/telemetry/latest", "/api/v1/auth/me", "/health")
WS_CHANNELS = ("fleet", "missions", "events", "zones", "charging")
PR_SET_PDEATHSIG = 1


# =============================================================== the probe (a child process)
def probe_main(args: argparse.Namespace) -> int:
    """Count every vehicle's fixes per second of stamp, follow /fleet/missions and the
    recorder's diagnostics and subscriptions, and serve fault injections read from stdin."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from fleet_core.mavros_topics import MavrosTopic
    from fleet_interfaces.srv import InjectFailure
    from fleet_ros import fleet_topics
    from fleet_ros.mavros_io import message_class
    from fleet_ros.qos import mavros_qos

    out = Path(args.probe)
    prefixes: dict[str, str] = json.loads((out / "vehicles.json").read_text())
    stop = threading.Event()
    # Our own handlers, not rclpy's: the last state must be written before the end.
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = rclpy.create_node("soak_probe")
    counts: dict[str, Counter[int]] = {vid: Counter() for vid in prefixes}
    published = [0]
    unpack = struct.Struct("<iI").unpack_from

    def counter(vid: str) -> Any:
        c = counts[vid]

        def on_fix(raw: bytes) -> None:
            # CDR: 4 bytes of encapsulation, then header.stamp (int32 sec, uint32 nanosec).
            sec, nsec = unpack(raw, 4)
            # The recorder's row time is datetime.fromtimestamp(sec + nsec 1e-9): microseconds.
            c[math.floor(round(sec + nsec * 1e-9, 6))] += 1
            published[0] += 1
        return on_fix

    fix_type = message_class(MavrosTopic.FIX.msgtype)
    topics = {vid: MavrosTopic.FIX.under(p) for vid, p in prefixes.items()}
    for vid, topic in topics.items():
        node.create_subscription(fix_type, topic, counter(vid), mavros_qos(MavrosTopic.FIX),
                                 raw=True)
    missions: dict[str, dict[str, Any]] = {}  # id -> state, reason, vehicle, first terminal

    def on_missions(msg: Any) -> None:
        now = time.time()
        for m in msg.missions:
            mid = str(m.mission_id)
            rec = missions.setdefault(mid, {"state": "", "reason": "", "vehicles": []})
            rec["state"], rec["reason"] = str(m.state), str(m.reason)
            if m.vehicle_id and m.vehicle_id not in rec["vehicles"]:
                rec["vehicles"].append(str(m.vehicle_id))
            if m.state in TERMINAL and "ended" not in rec:
                rec["ended"] = now

    mt = fleet_topics.MISSIONS
    node.create_subscription(mt.msg_type, mt.name, on_missions, mt.qos)
    recorder_runs: list[dict[str, str]] = []  # the latest diagnostics of each recorder run

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for st in msg.status:
            if "recorder" not in st.name:
                continue
            values = {kv.key: kv.value for kv in st.values}
            if "writer.received" not in values:
                continue  # not a recording status (e.g. while it starts)
            values["_level"] = str(int.from_bytes(st.level, "little")
                                   if isinstance(st.level, bytes) else st.level)
            values["_message"] = st.message
            received = int(values.get("writer.received", "0") or 0)
            last = recorder_runs[-1] if recorder_runs else None
            if last is None or received < int(last.get("writer.received", "0") or 0):
                recorder_runs.append(values)  # a new run: its counters start at zero
            else:
                recorder_runs[-1] = values

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 50)
    # The recorder's subscriptions to each vehicle's fix topic: endpoint -> first seen.
    recorder_seen: dict[str, dict[str, float]] = {vid: {} for vid in prefixes}

    def poll_graph() -> None:
        now = time.time()
        for vid, t in topics.items():
            seen = recorder_seen[vid]
            for info in node.get_subscriptions_info_by_topic(t):
                if info.node_name == "telemetry_recorder":
                    seen.setdefault(bytes(info.endpoint_gid).hex(), now)

    node.create_timer(1.0, poll_graph)
    inject: Any = node.create_client(InjectFailure, "/fleet_sim/inject_failure")
    injections: list[dict[str, Any]] = []
    commands: list[str] = []
    lock = threading.Lock()

    def read_stdin() -> None:
        for line in sys.stdin:
            with lock:
                commands.append(line.strip())

    threading.Thread(target=read_stdin, daemon=True).start()

    def serve_commands() -> None:
        if not inject.service_is_ready():
            return  # a request before the service is discovered would be lost
        with lock:
            todo, commands[:] = list(commands), []
        for cmd in todo:
            _, vid, failure, active = cmd.split()
            entry: dict[str, Any] = {"at": time.time(), "cmd": cmd, "answer": None}
            injections.append(entry)
            fut = inject.call_async(InjectFailure.Request(
                vehicle_id=vid, failure=int(failure), active=active == "1"))

            def answered(f: Any, entry: dict[str, Any] = entry) -> None:
                r = f.result()
                entry["answer"] = f"{r.success}: {r.message}"
            fut.add_done_callback(answered)

    node.create_timer(0.2, serve_commands)

    def write(final: bool) -> None:
        state: dict[str, Any] = {
            "time": time.time(), "published": published[0],
            "published_by_vehicle": {v: sum(c.values()) for v, c in counts.items()},
            "missions": missions, "recorder_runs": recorder_runs, "injections": injections}
        if final:
            state["buckets"] = {v: dict(c) for v, c in counts.items()}
            state["recorder_seen"] = recorder_seen
        tmp = out / "probe.json.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(out / ("probe-final.json" if final else "probe.json"))

    node.create_timer(2.0, lambda: write(False))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    while not stop.is_set():
        executor.spin_once(timeout_sec=0.2)
    write(True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


# =============================================================== processes
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)  # loaded before any fork


def _die_with_parent() -> None:
    """In the child: SIGTERM when the soak process dies, even by SIGKILL (no orphans)."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Proc:
    """One process of the soak, restartable; its samples survive restarts."""

    role: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    stdin: bool = False
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # (monotonic t, pid, rss bytes, cpu seconds of this pid)
    samples: list[tuple[float, int, int, float]] = field(default_factory=list)

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"\n==== start {self.starts} at {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE if self.stdin else subprocess.DEVNULL,
                start_new_session=True,
                # Only a prctl in the child: no lock it could meet.
                preexec_fn=_die_with_parent)  # noqa: PLW1509

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def send(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> int | None:
        """Signal the process group, wait, kill it if it lingers; return the exit code."""
        if self.popen is None:
            return None
        self.send(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(5)
        # Anything left in its session (a grandchild) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        return self.popen.returncode

    def sample(self, t: float) -> None:
        if not self.alive():
            return
        with contextlib.suppress(OSError, ValueError, IndexError):
            self.samples.append((t, self.pid, rss_bytes(self.pid), cpu_seconds(self.pid)))

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# =============================================================== the soak's own bookkeeping
@dataclass
class Stats:
    t0: float = field(default_factory=time.monotonic)
    api: Counter[str] = field(default_factory=Counter)  # "ok", "<status>", "timeout", ...
    api_errors_in_restart: int = 0
    api_latency_s: list[float] = field(default_factory=list)
    submitted: dict[str, float] = field(default_factory=dict)  # mission id -> time
    submit_errors: Counter[str] = field(default_factory=Counter)
    ws_messages: int = 0
    ws_connects: int = 0
    ws_reconnects: int = 0
    ws_closes: Counter[str] = field(default_factory=Counter)
    faults: list[str] = field(default_factory=list)
    bridge_down: list[list[float]] = field(default_factory=list)  # [down, up] wall times
    recorder_kills: list[float] = field(default_factory=list)  # wall times
    db_cuts: int = 0
    probe: dict[str, Any] = field(default_factory=dict)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def in_bridge_restart(self) -> bool:
        return bool(self.bridge_down) and (self.bridge_down[-1][1] == 0.0
                                           or time.time() - self.bridge_down[-1][1] < 2.0)


class Tokens:
    """One login shared by the clients; logs in again before the token expires or on 401."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base, self.username, self.password = base, username, password
        self.token = ""
        self.expires = 0.0
        self.logins = 0
        self._lock = asyncio.Lock()

    async def get(self, client: Any, force: bool = False) -> str:
        async with self._lock:
            if force or time.time() > self.expires - 120:
                r = await client.post(f"{self.base}/api/v1/auth/login",
                                      data={"username": self.username,
                                            "password": self.password}, timeout=15)
                r.raise_for_status()
                doc = r.json()
                self.token = doc["access_token"]
                self.expires = time.time() + float(doc["expires_in"])
                self.logins += 1
            return self.token


# =============================================================== load generators
async def api_client(base: str, tokens: Tokens, stats: Stats, rps: float,
                     stop: asyncio.Event) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=10.0) as client:
        i = 0
        while not stop.is_set():
            path = API_PATHS[i % len(API_PATHS)]
            i += 1
            t = time.monotonic()
            try:
                token = await tokens.get(client)
                r = await client.get(base + path, headers={"Authorization": f"Bearer {token}"})
                if r.status_code == 401:
                    await tokens.get(client, force=True)
                outcome = "ok" if 200 <= r.status_code < 300 else str(r.status_code)
            except httpx.TimeoutException:
                outcome = "timeout"
            except (httpx.HTTPError, OSError) as exc:
                outcome = type(exc).__name__
            stats.api[outcome] += 1
            if outcome == "ok":
                stats.api_latency_s.append(time.monotonic() - t)
            elif stats.in_bridge_restart():
                stats.api_errors_in_restart += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, 1.0 / rps - (time.monotonic() - t)))


@contextlib.asynccontextmanager
async def dashboard_socket(url: str, token: str) -> AsyncIterator[Any]:
    """Connect to the bridge's WebSocket at ``url``, log in with ``token`` and subscribe to
    every channel, as the dashboard does; yield the connection."""
    import websockets

    async with websockets.connect(url, open_timeout=10, max_size=2**24) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        for ch in WS_CHANNELS:
            await ws.send(json.dumps({"type": "subscribe", "channel": ch}))
        yield ws


async def ws_client(base: str, tokens: Tokens, stats: Stats, stop: asyncio.Event) -> None:
    import httpx
    import websockets

    url = base.replace("http://", "ws://") + "/api/v1/ws"
    first = True
    async with httpx.AsyncClient(timeout=10.0) as client:
        while not stop.is_set():
            try:
                token = await tokens.get(client)
                async with dashboard_socket(url, token) as ws:
                    stats.ws_connects += 1
                    if not first:
                        stats.ws_reconnects += 1
                    first = False
                    authed = time.time()
                    while not stop.is_set():
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 1.0)
                        except TimeoutError:
                            raw = None
                        if raw is not None:
                            stats.ws_messages += 1
                        if time.time() - authed > 300:  # well before the token expires
                            token = await tokens.get(client)
                            await ws.send(json.dumps({"type": "auth", "token": token}))
                            authed = time.time()
            except websockets.ConnectionClosed as exc:
                stats.ws_closes[f"{exc.rcvd.code if exc.rcvd else 'no close'}"] += 1
            except (OSError, TimeoutError, httpx.HTTPError,
                    websockets.InvalidHandshake) as exc:
                stats.ws_closes[type(exc).__name__] += 1
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)


def patrol_spec(origin: Any, rng: random.Random) -> dict[str, Any]:
    """A patrol over two or three random points south-west of the site (away from the no-fly
    zone north-east of it). Not deliveries: only the three vehicles fleet.yaml describes
    carry a payload; the generated ones would leave deliveries queued."""
    from fleet_core.geo import LocalFrame

    frame = LocalFrame.at(origin)

    def point() -> dict[str, float]:
        p = frame.to_geo(rng.uniform(-600.0, 50.0), rng.uniform(-600.0, 50.0), 0.0)
        return {"latitude": p.latitude, "longitude": p.longitude}

    return {"type": "patrol", "name": "soak", "altitude_m": float(rng.choice(range(30, 65, 5))),
            "speed_mps": 8.0, "route": [point() for _ in range(rng.randint(2, 3))],
            "repeat": 1}


async def mission_driver(base: str, tokens: Tokens, stats: Stats, *, vehicles: int,
                         origin: Any, rate: float, stop: asyncio.Event) -> None:
    """Keep about one mission per vehicle queued or flying."""
    import httpx

    rng = random.Random(13)
    async with httpx.AsyncClient(timeout=20.0) as client:
        while not stop.is_set():
            missions = stats.probe.get("missions", {})
            ended = sum(1 for m in stats.submitted if missions.get(m, {}).get("state") in TERMINAL)
            open_now = len(stats.submitted) - ended
            if open_now < vehicles:
                try:
                    token = await tokens.get(client)
                    r = await client.post(f"{base}/api/v1/missions",
                                          json={"spec": patrol_spec(origin, rng),
                                                "priority": rng.randint(3, 7)},
                                          headers={"Authorization": f"Bearer {token}"})
                    if r.status_code == 201:
                        stats.submitted[r.json()["mission_id"]] = time.time()
                    else:
                        detail = ""
                        with contextlib.suppress(ValueError, KeyError, TypeError):
                            detail = str(r.json().get("detail", ""))[:70]
                        stats.submit_errors[f"{r.status_code} {detail}".strip()] += 1
                        if r.status_code == 401:
                            await tokens.get(client, force=True)
                except httpx.TimeoutException:
                    stats.submit_errors["timeout"] += 1
                except (httpx.HTTPError, OSError) as exc:
                    stats.submit_errors[type(exc).__name__] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0 / rate)


# =============================================================== the soak
class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tag = f"soak{secrets.token_hex(2)}_"
        self.tmp = Path(tempfile.mkdtemp(prefix="fleet-soak-"))
        self.stats = Stats()
        self.procs: dict[str, Proc] = {}
        self.port = args.port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.redis_prefix = f"fleetsoak:{self.tag}"
        self.login: Any = None
        self.configs: Any = None
        self.db_url = ""
        self._restarting: set[str] = set()
        self.server: Any = None  # the discovery server (--discovery-server), set by main

    # ------------------------------------------------------------ start
    def start_graph(self) -> None:
        from fleet_bringup.configs import write_graph_configs

        _benchdb.provision()
        self.db_url = _benchdb.URL
        a = self.args
        self.configs = c = write_graph_configs(self.tmp, a.vehicles, self.tag)
        (self.tmp / "vehicles.json").write_text(json.dumps(
            {v.vehicle_id: v.mavros_prefix for v in c.sim.vehicles}))
        (self.tmp / "spool").mkdir()
        logs = self.tmp / "logs"
        logs.mkdir()
        env = {**os.environ, "ROS_DOMAIN_ID": str(a.domain),
               "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "PYTHONUNBUFFERED": "1",
               "FLEET_DATABASE_URL": self.db_url}
        py = sys.executable
        ros = ["--ros-args", "--log-level", "warn"]
        fleet = f"fleet_config_file:={c.fleet_file}"
        specs = {
            # Its exit line (fixes published) at info, the rest at warn.
            "fleet_sim": [py, "-m", "fleet_sim", *ros, "--log-level", "fleet_sim.exit:=info",
                          "-p", f"config_file:={c.fleet_sim_file}",
                          "-p", f"vehicle_count:={a.vehicles}",
                          "-p", f"time_factor:={a.time_factor!r}"],
            "fleet_manager": [py, "-m", "fleet_manager", *ros,
                              "-p", f"config_file:={c.fleet_file}"],
            "mission_planner": [py, "-m", "mission_planner", *ros,
                                "-p", f"config_file:={c.missions_file}", "-p", fleet],
            "telemetry_recorder": [py, "-m", "telemetry_recorder", *ros, "-p", fleet,
                                   "-p", f"spool_dir:={self.tmp / 'spool'}"],
            "web_bridge": [py, "-m", "web_bridge", "--host", "127.0.0.1", "--port",
                           str(self.port), "--log-level", "warning"],
            "probe": [py, str(Path(__file__).resolve()), "--probe", str(self.tmp)],
        }
        bridge_env = {**env, "FLEET_JWT_SECRET": secrets.token_hex(32),
                      "FLEET_COOKIE_SECURE": "false", "FLEET_REDIS_PREFIX": self.redis_prefix,
                      # One user drives all the load: the per-user limit is not under test.
                      "FLEET_RATE_LIMIT_PER_MINUTE": "1000000",
                      "FLEET_LOGIN_RATE_LIMIT_PER_MINUTE": "1000"}
        # Under a discovery server, what lists the graph's topics must be a super client:
        # fleet_manager (vehicles' topics) and the probe (the recorder's subscriptions).
        lister_env = {**env, **self.server.client_env(super_client=True)} if self.server \
            else env
        envs = {"web_bridge": bridge_env, "fleet_manager": lister_env, "probe": lister_env}
        for role, argv in specs.items():
            self.procs[role] = Proc(role, argv, envs.get(role, env), logs / f"{role}.log",
                                    stdin=role == "probe")
        # The probe and the recorder first: they should hear the first fixes.
        for role in ("probe", "telemetry_recorder", "fleet_manager", "mission_planner",
                     "fleet_sim", "web_bridge"):
            self.procs[role].start()

    def check_alive(self) -> None:
        for p in self.procs.values():
            if p.popen is not None and not p.alive() and not self.restarting(p.role):
                raise RuntimeError(f"{p.role} exited with code {p.popen.returncode}; its log "
                                   f"({p.log}) ends:\n{p.tail()}")

    def restarting(self, role: str) -> bool:
        return role in self._restarting

    async def wait_bridge(self, timeout: float = 240.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=3.0) as client:
            while True:
                self.check_alive()
                with contextlib.suppress(httpx.HTTPError, OSError):
                    r = await client.get(f"{self.base}/health")
                    comps = r.json().get("components", {})
                    if r.status_code == 200 and comps.get("graph", {}).get("state") == "ok":
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"web_bridge not healthy within {timeout:g} s")
                await asyncio.sleep(0.5)

    async def wait_fleet(self, timeout: float) -> None:
        """Until fleet_manager sees every vehicle and the recorder wrote the site."""
        import httpx
        from sqlalchemy import create_engine, text

        engine = create_engine(self.db_url, pool_size=1)
        deadline = time.monotonic() + timeout
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                while True:
                    self.check_alive()
                    with contextlib.suppress(httpx.HTTPError, OSError, ValueError):
                        r = await client.get(f"{self.base}/health")
                        detail = r.json()["components"]["graph"]["detail"]
                        seen = int(detail.split()[0])
                        with engine.connect() as conn:
                            site = conn.execute(text("select 1 from sites where id = :s"),
                                                {"s": self.configs.site_id}).first()
                        if seen >= self.args.vehicles and site:
                            return
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the fleet was not up within {timeout:g} s")
                    await asyncio.sleep(1.0)
        finally:
            engine.dispose()

    # ------------------------------------------------------------ faults
    def probe_cmd(self, line: str) -> None:
        p = self.procs["probe"]
        assert p.popen is not None
        assert p.popen.stdin is not None
        p.popen.stdin.write((line + "\n").encode())
        p.popen.stdin.flush()

    async def fault(self, kind: str, rng: random.Random) -> str:
        ids = list(self.configs.vehicle_ids)
        if kind in ("link_loss", "gps_loss"):
            vid = rng.choice(ids)
            failure = 1 if kind == "link_loss" else 2
            hold = self.args.link_loss_s if kind == "link_loss" else self.args.gps_loss_s
            self.probe_cmd(f"inject {vid} {failure} 1")

            async def clear() -> None:
                await asyncio.sleep(hold)
                self.probe_cmd(f"inject {vid} {failure} 0")
            self._tasks.append(asyncio.ensure_future(clear()))
            return f"{kind} on {vid} for {hold:g} s"
        if kind == "recorder_kill":
            rec = self.procs["telemetry_recorder"]
            self._restarting.add(rec.role)
            try:
                self.stats.recorder_kills.append(time.time())
                rec.send(signal.SIGKILL)
                await asyncio.to_thread(rec.popen.wait, 10)  # type: ignore[union-attr]
                await asyncio.sleep(self.args.recorder_down_s)
                rec.start()
            finally:
                self._restarting.discard(rec.role)
            return f"recorder kill -9, restarted after {self.args.recorder_down_s:g} s"
        if kind == "db_cut":
            rec = self.procs["telemetry_recorder"]
            ports: list[int] = []
            for _ in range(30):  # a recorder just restarted may not have connected yet
                ports = socket_peer_ports(rec.pid, 5432) if rec.alive() else []
                if ports:
                    break
                await asyncio.sleep(0.5)
            if not ports:
                return "db_cut: the recorder had no database connection open"
            sql = ("select count(pg_terminate_backend(pid)) from pg_stat_activity where "
                   f"client_port in ({','.join(map(str, ports))}) and "
                   "client_addr in ('127.0.0.1', '::1')")
            r = await asyncio.to_thread(subprocess.run, [
                "psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres",
                "-At", "-c", sql], capture_output=True, text=True, timeout=20)
            self.stats.db_cuts += 1
            return (f"db_cut: {r.stdout.strip() or r.stderr.strip()} of the recorder's "
                    f"{len(ports)} connections terminated")
        if kind == "bridge_restart":
            web = self.procs["web_bridge"]
            self._restarting.add(web.role)
            window = [time.time(), 0.0]
            self.stats.bridge_down.append(window)
            try:
                code = await asyncio.to_thread(web.stop, 20.0)
                stopped = time.time()
                web.start()
                await self.wait_bridge()
            finally:
                self._restarting.discard(web.role)
                window[1] = time.time()
            return (f"web_bridge restart: stopped in {stopped - window[0]:.1f} s (exit {code}),"
                    f" healthy again {window[1] - stopped:.1f} s after its start")
        raise ValueError(f"unknown fault {kind!r}")

    # ------------------------------------------------------------ reporting
    def read_probe(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stats.probe = json.loads((self.tmp / "probe.json").read_text())

    def rows(self) -> int:
        from sqlalchemy import text

        with self._engine.connect() as conn:
            return int(conn.execute(text("select count(*) from telemetry where "
                                         "left(vehicle_id, length(:t)) = :t"),
                                    {"t": self.tag}).scalar_one())

    def process_table(self) -> list[str]:
        lines = [f"  {'process':<19}{'RSS MB':>8}{'(min..max)':>15}{'MB/h':>8}"
                 f"{'CPU% 1m':>9}{'CPU% all':>9}{'CPU%/h':>8}  starts"]
        for p in [*self.procs.values(), None]:
            if p is None:
                role, samples, starts = "soak (this)", self._own, 1
            else:
                role, samples, starts = p.role, p.samples, p.starts
            if not samples:
                continue
            pid = samples[-1][1]
            # The current run of a restarted one; a zombie's sample has no RSS.
            cur = [s for s in samples if s[1] == pid and s[2] > 0]
            if not cur:
                continue
            rss = [s[2] / 2**20 for s in cur]
            t = [s[0] for s in cur]
            # CPU % between consecutive samples of the same pid
            cpu_t, cpu = [], []
            for a, b in itertools.pairwise(cur):
                if b[0] > a[0]:
                    cpu_t.append(b[0])
                    cpu.append(100.0 * (b[3] - a[3]) / (b[0] - a[0]))
            last_min = [c for tt, c in zip(cpu_t, cpu, strict=True) if tt >= t[-1] - 60]
            span = t[-1] - t[0]
            # A slope over less than a minute says nothing.
            rs, cs = ((slope_per_hour(t, rss), slope_per_hour(cpu_t, cpu)) if span >= 60
                      else (None, None))
            all_cpu = 100.0 * (cur[-1][3] - cur[0][3]) / span if span > 0 else float("nan")
            lines.append(
                f"  {role:<19}{rss[-1]:>8.0f}{f'({min(rss):.0f}..{max(rss):.0f})':>15}"
                f"{_num(rs, '+.0f'):>8}{_num(_mean(last_min), '.0f'):>9}"
                f"{all_cpu:>9.0f}{_num(cs, '+.1f'):>8}  {starts}")
        return lines

    def series_lines(self) -> list[str]:
        """RSS (MB) and CPU (% of a core over the minute) of each process at every minute."""
        t0 = self.stats.t0
        lines = ["  per minute, RSS MB / CPU %:"]
        for role, samples in [*((p.role, p.samples) for p in self.procs.values()),
                              ("soak (this)", self._own)]:
            cells = []
            for minute in itertools.count(1):
                at = t0 + 60.0 * minute
                if not samples or at > samples[-1][0] + 5.0:
                    break
                end = min(samples, key=lambda x: abs(x[0] - at))
                start = [x for x in samples if x[1] == end[1] and x[0] >= at - 60.0]
                cpu = (100.0 * (end[3] - start[0][3]) / (end[0] - start[0][0])
                       if start and end[0] > start[0][0] else float("nan"))
                cells.append(f"{end[2] / 2**20:.0f}/{cpu:.0f}" if end[2] else "-/-")
            if cells:
                lines.append(f"    {role:<19}" + " ".join(cells))
        return lines if len(lines) > 1 else []

    def report(self, final: bool = False) -> str:
        s = self.stats
        self.read_probe()
        pr = s.probe
        missions = pr.get("missions", {})
        ours = {m: missions.get(m, {}) for m in s.submitted}
        states = Counter(m.get("state") or "not yet seen" for m in ours.values())
        reasons = Counter(f"{m['state']}: {m.get('reason') or '-'}"[:90]
                          for m in ours.values() if m.get("state") in ("failed", "aborted"))
        runs = pr.get("recorder_runs", [])
        received = sum(int(r.get("writer.received", 0) or 0) for r in runs)
        written = sum(int(r.get("writer.written", 0) or 0) for r in runs)
        dups = sum(int(r.get("writer.duplicates_skipped", 0) or 0) for r in runs)
        retries = sum(int(r.get("writer.retries", 0) or 0) for r in runs)
        pending = runs[-1].get("writer.spool_pending_bytes", "?") if runs else "?"
        lat = sorted(s.api_latency_s)
        api_total = sum(s.api.values())
        api_err = api_total - s.api["ok"]
        try:
            rows: Any = self.rows()
        except Exception as exc:  # the report must not end the soak
            rows = f"? ({type(exc).__name__})"
        head = "FINAL" if final else f"minute {math.floor(s.elapsed() / 60)}"
        out = [f"---- {head} ({s.elapsed():.0f} s, {self.args.vehicles} vehicles, "
               f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})",
               *self.process_table(),
               f"  samples: probe counted {pr.get('published', 0):,} fixes; telemetry rows "
               f"{rows if isinstance(rows, str) else f'{rows:,}'}; recorder received "
               f"{received:,}, wrote {written:,} (runs {len(runs)}), duplicates_skipped "
               f"{dups}, db retries "
               f"{retries}, spool pending {pending} B",
               f"  missions: submitted {len(s.submitted)}, "
               + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
               + (f"; submit errors {dict(s.submit_errors)}" if s.submit_errors else ""),
               *(f"    {n} x {r}" for r, n in reasons.most_common(6)),
               f"  API: {api_total} GETs, {api_err} errors {_errs(s.api)} "
               f"({s.api_errors_in_restart} during web_bridge restarts), latency p50 "
               f"{_pct(lat, 0.5)} p99 {_pct(lat, 0.99)} ms; logins {self._tokens.logins}",
               f"  WebSocket: {s.ws_connects} connects, {s.ws_reconnects} reconnects, "
               f"{s.ws_messages:,} messages, closes and failed connects {dict(s.ws_closes)}",
               f"  faults: {len(s.faults)}" + "".join(f"\n    {f}" for f in s.faults[-5:]
                                                      if not final)]
        if final:
            out[-1] += "".join(f"\n    {f}" for f in s.faults)
            out[1:1] = self.series_lines()
            inj = [f"{i['cmd'][7:]} -> {i['answer']}" for i in pr.get("injections", [])
                   if not (i.get("answer") or "").startswith("True")]
            if inj:
                out.append(f"  injections refused: {inj}")
        return "\n".join(out)

    def sample_all(self) -> None:
        t = time.monotonic()
        for p in self.procs.values():
            p.sample(t)
        self._own.append((t, os.getpid(), rss_bytes(os.getpid()), cpu_seconds(os.getpid())))

    # ------------------------------------------------------------ the final count
    def final_count(self) -> list[str]:
        """Per vehicle and second: probe counts vs rows, outside the recorder's windows."""
        from sqlalchemy import text

        final = json.loads((self.tmp / "probe-final.json").read_text())
        buckets: dict[str, dict[str, int]] = final["buckets"]
        seen: dict[str, dict[str, float]] = final["recorder_seen"]
        with self._engine.connect() as conn:
            db = conn.execute(text(
                "select vehicle_id, floor(extract(epoch from time))::bigint, count(*) "
                "from telemetry where left(vehicle_id, length(:t)) = :t group by 1, 2"),
                {"t": self.tag}).all()
            dup = conn.execute(text(
                "select count(*) from (select 1 from telemetry where "
                "left(vehicle_id, length(:t)) = :t group by vehicle_id, time "
                "having count(*) > 1) d"), {"t": self.tag}).scalar_one()
        rows: dict[str, dict[int, int]] = defaultdict(dict)
        for vid, sec, n in db:
            rows[vid][int(sec)] = int(n)
        # Windows without a recorder, per vehicle: until its first subscription + 2 s, and
        # [kill - 1 s, the restarted recorder's subscription + 2 s].
        windows: dict[str, list[tuple[float, float]]] = {}
        for vid in buckets:
            firsts = sorted(seen.get(vid, {}).values())
            w = [(-math.inf, (firsts[0] if firsts else math.inf) + 2.0)]
            for k in self.stats.recorder_kills:
                later = [f for f in firsts if f > k]
                w.append((k - 1.0, (later[0] if later else math.inf) + 2.0))
            windows[vid] = w
        expected = lost = extra = in_windows = rows_in_windows = 0
        lost_by_vehicle: Counter[str] = Counter()
        for vid, per_sec in buckets.items():
            stored = rows.get(vid, {})
            for sec_s, n in per_sec.items():
                sec = int(sec_s)
                got = stored.get(sec, 0)
                if any(a <= sec + 1 and sec <= b for a, b in windows[vid]):
                    in_windows += n
                    rows_in_windows += got
                    continue
                expected += n
                if got < n:
                    lost += n - got
                    lost_by_vehicle[vid] += n - got
                else:
                    extra += got - n
            extra += sum(n for sec, n in stored.items() if str(sec) not in per_sec)
        total_rows = sum(sum(v.values()) for v in rows.values())
        never = [vid for vid, w in windows.items() if any(b == math.inf for _, b in w)]
        lines = [
            f"  samples (per vehicle and second of stamp): probe counted {final['published']:,}"
            f" fixes, telemetry has {total_rows:,} rows",
            f"    expected (recorder subscribed): {expected:,}; lost {lost:,} "
            f"({100.0 * lost / expected if expected else 0:.3f}%); rows the probe did not "
            f"see {extra:,}; duplicate (vehicle, time) rows {dup}",
            f"    before the recorder first subscribed and in the "
            f"{len(self.stats.recorder_kills)} kill window(s) (excluded): probe counted "
            f"{in_windows:,}, rows {rows_in_windows:,}"]
        if lost_by_vehicle:
            lines.append(f"    most lost: {lost_by_vehicle.most_common(5)}")
        if never:
            lines.append(f"    {len(never)} vehicles never seen resubscribed after a kill")
        # The probe is a best-effort reader as starved as the recorder on a loaded machine:
        # the simulator's own count is the reference that does not depend on a reader.
        sim_log = (self.tmp / "logs" / "fleet_sim.log").read_text(errors="replace")
        said = re.findall(r"published (\d+) position fixes from", sim_log)
        if said:
            published = sum(int(n) for n in said)
            lines.append(f"    fleet_sim says it published {published:,} fixes: "
                         f"{100.0 * total_rows / published:.1f} % of them are rows (the kill "
                         "windows and the time before the recorder subscribed included)")
        else:
            lines.append("    fleet_sim's count of fixes published: not in its log")
        return lines

    # ------------------------------------------------------------ run
    async def run(self) -> int:
        a = self.args
        self._own: list[tuple[float, int, int, float]] = []
        self._tasks: list[asyncio.Future[Any]] = []
        from sqlalchemy import create_engine

        from fleet_bringup.account import create_demo_login
        from web_bridge.security import Passwords

        print(f"soak: {a.vehicles} vehicles, {a.minutes:g} min, time factor {a.time_factor:g}, "
              f"ROS domain {a.domain}, tag {self.tag}, web_bridge {self.base}, discovery "
              f"{f'server {self.server.locator}' if self.server else 'simple (no server)'}, "
              f"logs {self.tmp / 'logs'}", flush=True)
        self.start_graph()
        self._engine = create_engine(self.db_url, pool_size=2, pool_pre_ping=True)
        t_start = time.monotonic()
        await self.wait_bridge()
        await self.wait_fleet(120.0 + a.vehicles)
        # Its own event loop: on a thread.
        self.login = await asyncio.to_thread(
            create_demo_login, self.db_url, None, username=f"{self.tag}ops",
            passwords=Passwords(1, 8192))
        self._tokens = Tokens(self.base, self.login.username, self.login.password)
        print(f"graph up in {time.monotonic() - t_start:.0f} s; soaking", flush=True)
        self.stats = s = Stats()
        stop = asyncio.Event()
        workers = [asyncio.ensure_future(mission_driver(
            self.base, self._tokens, s, vehicles=a.vehicles, origin=self.configs.fleet.origin,
            rate=a.mission_rate, stop=stop))]
        clients = max(1, math.ceil(a.api_rps / 2))
        workers += [asyncio.ensure_future(api_client(self.base, self._tokens, s,
                                                     a.api_rps / clients, stop))
                    for _ in range(clients)]
        workers += [asyncio.ensure_future(ws_client(self.base, self._tokens, s, stop))
                    for _ in range(a.ws_clients)]
        rng = random.Random(7)
        fault_every = a.fault_every or min(180.0, max(20.0, a.minutes * 60 / 10))
        next_fault, next_minute, n_fault = fault_every, 60.0, 0
        fault_task: asyncio.Future[None] | None = None

        async def run_fault(kind: str) -> None:
            try:
                what = await self.fault(kind, rng)
            except Exception as exc:  # said in the report; the soak goes on
                what = f"{kind} failed: {exc!r}"
            s.faults.append(f"{s.elapsed():6.0f} s  {what}")
            print(f"[{s.elapsed():.0f} s] fault: {what}", flush=True)

        end = a.minutes * 60
        completed = False
        try:
            while (el := s.elapsed()) < end:
                self.check_alive()
                self.sample_all()
                self.read_probe()
                # One fault at a time, on a task of its own: sampling and the minute reports
                # go on while a process restarts.
                if (el >= next_fault and n_fault < a.max_faults
                        and (fault_task is None or fault_task.done())):
                    fault_task = asyncio.ensure_future(run_fault(FAULTS[n_fault % len(FAULTS)]))
                    n_fault += 1
                    # A slow fault (a restart) does not make the next ones come at once.
                    next_fault = max(next_fault + fault_every, el + 5.0)
                if el >= next_minute:
                    next_minute += 60.0
                    print(self.report(), flush=True)
                await asyncio.sleep(min(1.0, max(0.1, min(next_fault, next_minute, end) - el)))
            completed = True
        finally:
            stop.set()
            if fault_task is not None and not fault_task.done():
                if completed:  # a restart under way ends first: the counts need it
                    await asyncio.wait([fault_task], timeout=180)
                else:  # Ctrl-C: finish() stops whatever it had started
                    fault_task.cancel()
            await asyncio.wait(workers, timeout=15)
            for t in self._tasks:
                t.cancel()
        self.sample_all()
        print(self.report(final=True), flush=True)
        return 0

    async def finish(self) -> None:
        """Stop the load, then the graph in an order that lets the counts close; count."""
        for role in ("web_bridge", "mission_planner", "fleet_manager"):
            if role in self.procs:
                await asyncio.to_thread(self.procs[role].stop, 20.0, signal.SIGINT)
        if "fleet_sim" in self.procs:
            await asyncio.to_thread(self.procs["fleet_sim"].stop, 20.0, signal.SIGINT)
        await asyncio.sleep(1.0)
        if "probe" in self.procs:
            await asyncio.to_thread(self.procs["probe"].stop, 20.0)
        if "telemetry_recorder" in self.procs:
            # Its last flush: the spool still holds what it could not write.
            await asyncio.to_thread(self.procs["telemetry_recorder"].stop, 60.0, signal.SIGINT)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self._engine.dispose()
        clean_up_graph_run(self.procs.values(),
                           "" if self.args.keep_rows else self.db_url, self.stats.submitted,
                           tag=self.tag, redis_prefix=self.redis_prefix, tmp=self.tmp,
                           keep_logs=self.args.keep_logs)


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None or math.isnan(x) else format(x, fmt)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _pct(xs: list[float], q: float) -> str:
    return f"{1000 * xs[min(len(xs) - 1, int(q * len(xs)))]:.0f}" if xs else "-"


def _errs(c: Counter[str]) -> str:
    bad = {k: v for k, v in c.items() if k != "ok"}
    return str(bad) if bad else ""


async def _amain(soak: Soak) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    code = 1
    try:
        code = await soak.run()
    except asyncio.CancelledError:
        print("\ninterrupted: stopping everything...", file=sys.stderr, flush=True)
        code = 130
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
    except Exception as exc:  # the database refused, ...: said in a line, then the cleanup
        print(f"error: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr,
              flush=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    with contextlib.suppress(Exception):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stop is under way
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if code == 130 and hasattr(soak, "_tokens"):
        with contextlib.suppress(Exception):  # what the soak saw until the interruption
            print(soak.report(final=True), flush=True)
    await soak.finish()
    if code in (0, 130) and hasattr(soak, "_tokens"):
        try:
            print("\n".join(soak.final_count()), flush=True)
        except Exception as exc:
            print(f"final count failed: {exc!r}", file=sys.stderr)
            code = code or 1
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, help="how long to soak (required)")
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--domain", type=int, default=150, help="ROS_DOMAIN_ID (default 150)")
    parser.add_argument("--time-factor", type=float, default=5.0,
                        help="simulated seconds per wall second (default 5)")
    parser.add_argument("--port", type=int, default=0, help="web_bridge port (default free)")
    parser.add_argument("--api-rps", type=float, default=4.0, help="REST GETs per second")
    parser.add_argument("--ws-clients", type=int, default=5)
    parser.add_argument("--mission-rate", type=float, default=2.0,
                        help="most mission submissions per second")
    parser.add_argument("--fault-every", type=float, default=0.0,
                        help="seconds between faults (default minutes*6, within 20..180)")
    parser.add_argument("--max-faults", type=int, default=1000)
    parser.add_argument("--link-loss-s", type=float, default=20.0)
    parser.add_argument("--gps-loss-s", type=float, default=15.0)
    parser.add_argument("--recorder-down-s", type=float, default=5.0)
    parser.add_argument("--discovery-server", action="store_true",
                        help="discover through a Fast DDS discovery server on 127.0.0.1")
    parser.add_argument("--keep-rows", action="store_true", help="do not delete the rows")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return probe_main(args)
    if args.minutes is None or not args.minutes > 0:
        parser.error("--minutes N (> 0) is required" if args.minutes is None
                     else f"--minutes must be > 0, got {args.minutes:g}")
    check_ranges(parser, vehicles=(args.vehicles, 1, 500), domain=(args.domain, 0, 232),
                 time_factor=(args.time_factor, 0.5, 20))
    if args.api_rps <= 0 or args.ws_clients < 0 or args.mission_rate <= 0:
        parser.error("--api-rps and --mission-rate must be > 0, --ws-clients >= 0")
    with held_domain(args.domain) as held:
        if not held:
            return 2
        soak = Soak(args)
        try:
            with discovery_server_env(args.discovery_server) as server:
                soak.server = server
                return asyncio.run(_amain(soak))
        finally:
            soak.cleanup()


if __name__ == "__main__":
    sys.exit(main())
