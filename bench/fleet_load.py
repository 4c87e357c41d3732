"""Fleet load: the whole graph at scale, measured against the goals of issue #13.

    python bench/fleet_load.py [--vehicles 1000] [--minutes 10] [--ws-clients 10]
                               [--missions 20] [--recorder-source fleet|mavros]
                               [--discovery-server] [--discovered] [--domain 151]

Processes, each its own session on ROS_DOMAIN_ID=--domain (claimed with the tests' lock file),
discovery on localhost only: telemetry_recorder (into the benchmarks' database fleet_bench,
``-p source:=--recorder-source``), fleet_manager (status 2 Hz), mission_planner, web_bridge
(REST + WebSocket, Redis keys under a prefix of this run), a probe (this script with
--probe) that listens to /fleet/status and /fleet/missions, and then fleet_sim: one process
per 500 vehicles (the simulator's limit), position 5 Hz, state/battery 1 Hz, the other
MAVROS topics at the simulator's own rates. Everything but the simulators is started and
listening first, so that the recorder hears the first fix and discovery is timed from the
start of the simulators. fleet.yaml lists every simulated vehicle, based at the first site
(fleet_manager then creates every vehicle's subscriptions and clients in its constructor,
before its first /fleet/status); with --discovered it lists none and fleet_manager finds
them by listing the graph's topics (as bench/fleet_manager_load.py does). With
--fm-shards N, fleet_manager runs split (fleet_core.fleet.shards): N ingest processes
(``fleet_ingest_k``, ``role:=ingest shard:=k/N``) subscribe to their share of the vehicles, and
the process named fleet_manager merges their /fleet/telemetry into the picture (``role:=merge``,
``vehicle_topics:=false``: no per-vehicle status/geopose publishers).

Measured (all printed, then a PASS/FAIL line per goal):
- discovery: start of the simulators -> every vehicle FRESH with a sample in /fleet/status
  (goal <= 60 s);
- over the window (--minutes, from discovery + 5 s): /fleet/status rate, mean and min over
  10 s windows (goal: steady at 2 Hz: min >= 1.8, mean >= 1.9); age of the newest sample
  in a status message on its arrival at the probe, p50/p95/max (goal p95 < 500 ms); the
  median per-vehicle sample age in the first vs the second half of the window (goal: not
  growing, second - first <= 100 ms);
- CPU % (of one core) and RSS of every process, their total against the machine's cores,
  load average;
- WebSocket: --ws-clients dashboards subscribed to every channel: messages per client,
  disconnects (any close or failed connect after the first connect);
- missions: --missions patrols submitted through ``POST /api/v1/missions`` over the first
  quarter of the window, followed on /fleet/missions; those still open at the end of the
  window get up to --mission-grace seconds more (goal: all completed);
- API errors (every REST call this script makes);
- exactly once: the simulators say at exit (SIGINT) how many fixes they published; after
  they stop, the rows of this run in telemetry are counted until stable, then again after
  the recorder's final flush: rows == published and no duplicate (vehicle, time);
- errors at exit: every process is stopped with SIGINT; its exit code and the lines of its
  output that look like an error (Traceback, error, terminate called, context is invalid,
  ...) are printed.

Every row written under this run's tag, the missions, the user, the Redis keys and the
temporary files are removed at the end. Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _benchdb
import yaml
from _common import (
    check_ranges,
    clean_up_graph_run,
    cpu_seconds,
    discovery_server_env,
    held_domain,
    rss_bytes,
)
from soak import TERMINAL, Proc, Tokens, dashboard_socket, free_port

# bench/web_bridge.py would shadow the web_bridge package (soak does the same).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

SIM_MAX = 500  # vehicles one fleet_sim hosts (fleet_core.sim.config.MAX_VEHICLES)
SHARD_SHIFT_DEG = 0.003  # each further simulator's grid ~330 m north of the previous one
PUBLISHED = re.compile(r"published (\d+) position fixes from (\d+) vehicles")
# Lines of a process's output that say something went wrong (case-insensitive).
ERROR_LINE = re.compile(r"traceback|\berror|terminate called|context is invalid|"
                        r"segmentation fault|core dumped|\baborted\b|exception|fatal",
                        re.IGNORECASE)
RATE_WINDOW_S = 10.0
GROWTH_LIMIT_S = 0.100


# =============================================================== the probe (a child process)
def probe_main(args: argparse.Namespace) -> int:
    """Listen to /fleet/status and /fleet/missions; write what was heard to probe.json
    every second (and at the end); ask the recorder for its ``source`` parameter."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rcl_interfaces.srv import GetParameters
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from fleet_interfaces.msg import FleetStatus, VehicleStatus
    from fleet_ros import fleet_topics

    out = Path(args.probe)
    ours = set(json.loads((out / "vehicles.json").read_text()))
    stop = threading.Event()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = rclpy.create_node("fleet_load_probe")
    lock = threading.Lock()
    # (arrival, vehicles listed, ours fresh with a sample, newest age, median age)
    status: list[tuple[float, int, int, float | None, float | None]] = []
    state: dict[str, Any] = {"full_at": None, "missions": {}, "recorder_source": None}

    def on_status(msg: FleetStatus) -> None:
        now = time.time()
        stamps = [v.stamp.sec + v.stamp.nanosec * 1e-9 for v in msg.vehicles
                  if v.vehicle_id in ours and v.stamp.sec > 0
                  and v.liveness == VehicleStatus.LIVENESS_FRESH]
        row = (now, len(msg.vehicles), len(stamps),
               now - max(stamps) if stamps else None,
               now - statistics.median(stamps) if stamps else None)
        with lock:
            status.append(row)
            if state["full_at"] is None and len(stamps) >= len(ours):
                state["full_at"] = now

    st = fleet_topics.FLEET_STATUS
    node.create_subscription(st.msg_type, st.name, on_status, st.qos)

    def on_missions(msg: Any) -> None:
        now = time.time()
        with lock:
            for m in msg.missions:
                rec = state["missions"].setdefault(str(m.mission_id), {})
                rec.update(state=str(m.state), reason=str(m.reason),
                           vehicle=str(m.vehicle_id) or rec.get("vehicle", ""))
                if m.state in TERMINAL:
                    rec.setdefault("ended", now)

    mt = fleet_topics.MISSIONS
    node.create_subscription(mt.msg_type, mt.name, on_missions, mt.qos)
    def on_diagnostics(msg: DiagnosticArray) -> None:
        # The recorder's latest counters (received, written, dropped.<topic>.<reason>, ...):
        # they say where fixes went missing.
        for s in msg.status:
            if "recorder" in s.name:
                with lock:
                    state["recorder"] = {kv.key: kv.value for kv in s.values}

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 50)
    params: Any = node.create_client(GetParameters, "/telemetry_recorder/get_parameters")
    pending: list[Any] = []

    def ask_recorder() -> None:
        if state["recorder_source"] is not None:
            return
        if pending and pending[0].done():
            values = pending.pop().result().values
            # An undeclared parameter comes back as PARAMETER_NOT_SET (type 0).
            state["recorder_source"] = (values[0].string_value if values and values[0].type
                                        else "(no such parameter)")
        elif not pending and params.service_is_ready():
            pending.append(params.call_async(GetParameters.Request(names=["source"])))

    node.create_timer(0.5, ask_recorder)

    def write() -> None:
        with lock:
            doc = {**state, "status": list(status),
                   "recorder_up": params.service_is_ready()}
        tmp = out / "probe.json.tmp"
        tmp.write_text(json.dumps(doc))
        tmp.replace(out / "probe.json")

    node.create_timer(1.0, write)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.2)
        write()
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


# =============================================================== configuration
def write_configs(tmp: Path, vehicles: int, tag: str, args: argparse.Namespace
                  ) -> tuple[Any, list[tuple[Path, int, str]], list[str]]:
    """The graph's files for ``vehicles`` under ``tag``: the configs of the first simulator,
    more simulator files (500 vehicles each, their grid shifted north, no weather station or
    charging stations of their own), and fleet.yaml listing every vehicle at the first site
    (none with ``args.discovered``: fleet_manager finds them).
    Return (configs, [(sim file, vehicles, node name)], vehicle ids)."""
    from fleet_bringup.configs import write_graph_configs
    from fleet_core.sim.config import load_settings_file

    per_sim = args.vehicles_per_sim
    first = min(vehicles, per_sim)
    c = write_graph_configs(tmp, first, tag)
    sim_doc = yaml.safe_load(c.fleet_sim_file.read_text())
    sim_doc["fleet_sim"].update(position_rate_hz=5.0, state_rate_hz=1.0)
    c.fleet_sim_file.write_text(yaml.safe_dump(sim_doc, sort_keys=False))
    shards = [(c.fleet_sim_file, first, "fleet_sim")]
    ids = list(c.vehicle_ids)
    k = 0
    while len(ids) < vehicles:
        k += 1
        n = min(per_sim, vehicles - len(ids))
        doc = json.loads(json.dumps(sim_doc))  # a deep copy
        root = doc["fleet_sim"]
        root["vehicles"] = []
        root.pop("weather", None)
        root.pop("charging_stations", None)
        gen = root["generate"]
        gen["id_format"] = f"{tag}s{k}uav{{index}}"
        gen["origin"] = {**gen["origin"],
                         "latitude": float(gen["origin"]["latitude"]) + k * SHARD_SHIFT_DEG}
        path = tmp / f"fleet_sim_s{k}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        shard_ids = [v.vehicle_id for v in load_settings_file(path, vehicle_count=n).vehicles]
        shards.append((path, n, f"fleet_sim_s{k}"))
        ids += shard_ids
    fleet_doc = yaml.safe_load(c.fleet_file.read_text())
    fm = fleet_doc["fleet_manager"]
    fm["status_rate_hz"] = 2.0
    home = c.site_id
    fm["vehicles"] = [] if args.discovered else list(fm.get("vehicles") or []) + [
        {"id": vid, **({"home_site": home} if home else {})} for vid in ids[first:]]
    c.fleet_file.write_text(yaml.safe_dump(fleet_doc, sort_keys=False))
    return c, shards, ids


def short_patrol(origin: Any, rng: random.Random) -> dict[str, Any]:
    """A patrol over two points within 250 m south-west of the site (away from its no-fly
    zone): a few minutes of flight at time factor 1."""
    from fleet_core.geo import LocalFrame

    frame = LocalFrame.at(origin)

    def point() -> dict[str, float]:
        p = frame.to_geo(rng.uniform(-250.0, 0.0), rng.uniform(-250.0, 0.0), 0.0)
        return {"latitude": p.latitude, "longitude": p.longitude}

    return {"type": "patrol", "name": "fleet_load", "altitude_m": float(rng.choice((30, 40, 50))),
            "speed_mps": 8.0, "route": [point(), point()], "repeat": 1}


# =============================================================== load generators
@dataclass
class WsClient:
    messages: int = 0
    connects: int = 0
    closes: Counter[str] = field(default_factory=Counter)


async def ws_dashboard(base: str, tokens: Tokens, me: WsClient, api: Counter[str],
                       stop: asyncio.Event) -> None:
    """A dashboard: subscribed to every channel, counting what arrives; reconnects."""
    import httpx
    import websockets

    url = base.replace("http://", "ws://") + "/api/v1/ws"
    async with httpx.AsyncClient(timeout=10.0) as client:
        while not stop.is_set():
            try:
                token = await tokens.get(client)
                async with dashboard_socket(url, token) as ws:
                    me.connects += 1
                    authed = time.time()
                    while not stop.is_set():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(ws.recv(), 1.0)
                            me.messages += 1
                        if time.time() - authed > 300:  # well before the token expires
                            await ws.send(json.dumps({"type": "auth",
                                                      "token": await tokens.get(client)}))
                            authed = time.time()
            except websockets.ConnectionClosed as exc:
                me.closes[f"closed {exc.rcvd.code if exc.rcvd else '(no close frame)'}"] += 1
            except httpx.HTTPError as exc:
                api[f"login {type(exc).__name__}"] += 1
                me.closes["login failed"] += 1
            except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                me.closes[type(exc).__name__] += 1
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)


async def submit_missions(base: str, tokens: Tokens, origin: Any, *, count: int,
                          over_s: float, submitted: dict[str, float], errors: Counter[str],
                          api: Counter[str], stop: asyncio.Event) -> None:
    """Submit ``count`` patrols evenly over ``over_s`` seconds (a failed one is retried once
    at the next slot, then counted as an error)."""
    import httpx

    rng = random.Random(13)
    gap = over_s / max(1, count)
    async with httpx.AsyncClient(timeout=20.0) as client:
        for _ in range(count):
            if stop.is_set():
                return
            for _attempt in range(2):
                try:
                    token = await tokens.get(client)
                    r = await client.post(f"{base}/api/v1/missions",
                                          json={"spec": short_patrol(origin, rng),
                                                "priority": 5},
                                          headers={"Authorization": f"Bearer {token}"})
                except httpx.HTTPError as exc:
                    api[f"POST missions {type(exc).__name__}"] += 1
                    errors[type(exc).__name__] += 1
                    continue
                api["ok" if r.status_code == 201 else f"POST missions {r.status_code}"] += 1
                if r.status_code == 201:
                    submitted[r.json()["mission_id"]] = time.time()
                    break
                detail = ""
                with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                    detail = str(r.json().get("detail", ""))[:90]
                errors[f"{r.status_code} {detail}".strip()] += 1
                if r.status_code == 401:
                    await tokens.get(client, force=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), gap)


# =============================================================== the run
class FleetLoad:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tag = f"fl{secrets.token_hex(2)}_"
        self.tmp = Path(tempfile.mkdtemp(prefix="fleet-load-"))
        self.procs: dict[str, Proc] = {}
        self.sims: list[str] = []
        self.port = args.port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.redis_prefix = f"fleetload:{self.tag}"
        self.db_url = _benchdb.URL
        self.api: Counter[str] = Counter()
        self.submitted: dict[str, float] = {}
        self.submit_errors: Counter[str] = Counter()
        self.ws: list[WsClient] = []
        self.probe: dict[str, Any] = {}
        self.sim_start = 0.0  # wall time
        self.window: tuple[float, float] | None = None  # wall times
        self.cpu_marks: dict[str, tuple[float, float]] = {}  # role -> cpu s at window start
        self.rss_max: Counter[str] = Counter()
        self.exit_codes: dict[str, int | None] = {}
        self.lines: list[str] = []
        self.verdicts: list[tuple[str, bool, str]] = []
        self.started = False
        self._engine: Any = None
        self.login: Any = None
        self.origin: Any = None

    def say(self, line: str = "") -> None:
        print(line, flush=True)

    # ------------------------------------------------------------ start
    def start_graph(self, server: Any) -> None:
        a = self.args
        _benchdb.provision()
        c, shards, ids = write_configs(self.tmp, a.vehicles, self.tag, a)
        self.origin = c.fleet.origin
        self.ids = ids
        (self.tmp / "vehicles.json").write_text(json.dumps(ids))
        (self.tmp / "spool").mkdir()
        logs = self.tmp / "logs"
        logs.mkdir()
        env = {**os.environ, "ROS_DOMAIN_ID": str(a.domain),
               "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "PYTHONUNBUFFERED": "1",
               "FLEET_DATABASE_URL": self.db_url}
        fm_env = {**env, **server.client_env(super_client=True)} if server else env
        py = sys.executable
        ros = ["--ros-args", "--log-level", "warn"]
        fleet = f"fleet_config_file:={c.fleet_file}"
        specs: dict[str, tuple[list[str], dict[str, str]]] = {
            "probe": ([py, str(Path(__file__).resolve()), "--probe", str(self.tmp)], env),
            "telemetry_recorder": ([py, "-m", "telemetry_recorder", *ros, "-p", fleet,
                                    "-p", f"spool_dir:={self.tmp / 'spool'}",
                                    "-p", f"source:={a.recorder_source}"], env),
            "fleet_manager": ([py, "-m", "fleet_manager", *ros,
                               "-p", f"config_file:={c.fleet_file}",
                               *(["-p", "role:=merge", "-p", "vehicle_topics:=false"]
                                 if a.fm_shards else [])], fm_env),
            **{f"fleet_ingest_{k}": ([py, "-m", "fleet_manager", *ros,
                                      "-r", f"__node:=fleet_ingest_{k}",
                                      "-p", f"config_file:={c.fleet_file}",
                                      "-p", "role:=ingest", "-p", f"shard:={k}/{a.fm_shards}"],
                                     fm_env)
               for k in range(a.fm_shards)},
            "mission_planner": ([py, "-m", "mission_planner", *ros,
                                 "-p", f"config_file:={c.missions_file}", "-p", fleet], env),
            "web_bridge": ([py, "-m", "web_bridge", "--host", "127.0.0.1", "--port",
                            str(self.port), "--log-level", "warning"],
                           {**env, "FLEET_JWT_SECRET": secrets.token_hex(32),
                            "FLEET_COOKIE_SECURE": "false",
                            "FLEET_REDIS_PREFIX": self.redis_prefix,
                            "FLEET_RATE_LIMIT_PER_MINUTE": "1000000",
                            "FLEET_LOGIN_RATE_LIMIT_PER_MINUTE": "1000"}),
        }
        for path, n, name in shards:
            # INFO: the count of published fixes is logged at exit.
            specs[name] = ([py, "-m", "fleet_sim", "--ros-args", "--log-level", "info",
                            *(["-r", f"__node:={name}"] if name != "fleet_sim" else []),
                            "-p", f"config_file:={path}", "-p", f"vehicle_count:={n}",
                            "-p", f"time_factor:={a.time_factor!r}"], env)
            self.sims.append(name)
        for role, (argv, e) in specs.items():
            self.procs[role] = Proc(role, argv, e, logs / f"{role}.log")
        for role in specs:
            if role not in self.sims:
                self.procs[role].start()
        self.started = True

    def check_alive(self) -> None:
        for p in self.procs.values():
            if p.popen is not None and not p.alive():
                raise RuntimeError(f"{p.role} exited with code {p.popen.returncode}; its log "
                                   f"({p.log}) ends:\n{p.tail()}")

    def read_probe(self) -> dict[str, Any]:
        with contextlib.suppress(OSError, ValueError):
            self.probe = json.loads((self.tmp / "probe.json").read_text())
        return self.probe

    def sample(self) -> None:
        t = time.monotonic()
        for p in self.procs.values():
            p.sample(t)
            if p.samples and p.samples[-1][0] == t:
                self.rss_max[p.role] = max(self.rss_max[p.role], p.samples[-1][2])
        self.rss_max["fleet_load (this)"] = max(self.rss_max["fleet_load (this)"],
                                                rss_bytes(os.getpid()))

    async def wait_ready(self, timeout: float = 120.0) -> None:
        """Until web_bridge answers and the recorder's parameters can be read."""
        import httpx

        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=3.0) as client:
            while True:
                self.check_alive()
                up = False
                with contextlib.suppress(httpx.HTTPError, OSError):
                    up = (await client.get(f"{self.base}/health")).status_code < 600
                if up and self.read_probe().get("recorder_source") is not None:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"web_bridge or the recorder not up within {timeout:g} s"
                                       f" (web_bridge answering: {up})")
                await asyncio.sleep(0.5)

    # ------------------------------------------------------------ run
    async def run(self) -> int:
        a = self.args
        from sqlalchemy import create_engine

        from fleet_bringup.account import create_demo_login
        from web_bridge.security import Passwords

        self.say(f"fleet load: {a.vehicles} vehicles ({math.ceil(a.vehicles / a.vehicles_per_sim)} "
                 f"simulator(s)), window {a.minutes:g} min, {a.ws_clients} WebSocket clients, "
                 f"{a.missions} missions, recorder source {a.recorder_source}, time factor "
                 f"{a.time_factor:g}, vehicles {'discovered' if a.discovered else 'listed'} "
                 f"in fleet.yaml, fleet_manager "
                 f"{f'{a.fm_shards} ingest shards + merge' if a.fm_shards else 'whole'}, "
                 f"ROS domain {a.domain}, tag {self.tag}, logs "
                 f"{self.tmp / 'logs'}")
        with discovery_server_env(a.discovery_server) as server:
            self.say("  discovery: " + (f"discovery server {server.locator}" if server
                                        else "simple (no server)"))
            self.start_graph(server)
            self._engine = create_engine(self.db_url, pool_size=2, pool_pre_ping=True)
            await self.wait_ready()
            self.login = await asyncio.to_thread(
                create_demo_login, self.db_url, None, username=f"{self.tag}ops",
                passwords=Passwords(1, 8192))
            tokens = Tokens(self.base, self.login.username, self.login.password)
            source = self.probe.get("recorder_source")
            self.say(f"  recorder parameter source = {source}"
                     + ("" if source == a.recorder_source else
                        f" (asked for {a.recorder_source!r}: this recorder ignores it)"))
            self.sim_start = time.time()
            for name in self.sims:
                self.procs[name].start()
            load_at_start = os.getloadavg()
            stop = asyncio.Event()
            self.ws = [WsClient() for _ in range(a.ws_clients)]
            workers: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(ws_dashboard(self.base, tokens, c, self.api, stop))
                for c in self.ws]
            try:
                await self.measure(tokens, stop, workers, load_at_start)
            finally:
                stop.set()
                await asyncio.wait(workers, timeout=15)
            await self.stop_graph()
        self.exactly_once_and_exit()
        return 0 if all(ok for _, ok, _ in self.verdicts) else 1

    async def measure(self, tokens: Tokens, stop: asyncio.Event,
                      workers: list[asyncio.Future[Any]], load_at_start: tuple[float, ...]
                      ) -> None:
        a = self.args
        deadline = time.monotonic() + a.discovery_timeout
        while self.read_probe().get("full_at") is None:
            self.check_alive()
            self.sample()
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        load_disc = os.getloadavg()
        if self.probe.get("full_at") is None:
            # Measured all the same: what the graph does with the fleet it has is the figure
            # a run at the edge needs (every goal below then says how far off it is).
            rows = self.probe.get("status") or []
            seen = max((r[2] for r in rows), default=0)
            self.say(f"  discovery: NOT complete after {a.discovery_timeout:g} s: at most "
                     f"{seen}/{a.vehicles} vehicles fresh in one /fleet/status (load average "
                     f"{load_at_start[0]:.2f} at the simulators' start, {load_disc[0]:.2f} "
                     f"now); measuring the window anyway")
            self.verdicts.append(("discovery <= 60 s", False,
                                  f"{seen}/{a.vehicles} after {a.discovery_timeout:g} s"))
        else:
            discovery = self.probe["full_at"] - self.sim_start
            self.say(f"  discovery: all {a.vehicles} vehicles fresh in /fleet/status "
                     f"{discovery:.1f} s after the simulators started (load average "
                     f"{load_at_start[0]:.2f} at their start, {load_disc[0]:.2f} then)")
            self.verdicts.append(("discovery <= 60 s", discovery <= 60.0,
                                  f"{discovery:.1f} s"))
        await asyncio.sleep(5.0)
        span = a.minutes * 60.0
        w0 = time.time()
        self.sample()
        self.cpu_marks = {p.role: (time.monotonic(), cpu_seconds(p.pid))
                          for p in self.procs.values() if p.alive()}
        self.cpu_marks["fleet_load (this)"] = (time.monotonic(), cpu_seconds(os.getpid()))
        ws_before = [c.messages for c in self.ws]
        workers.append(asyncio.ensure_future(submit_missions(
            self.base, tokens, self.origin, count=a.missions, over_s=span / 4,
            submitted=self.submitted, errors=self.submit_errors, api=self.api, stop=stop)))
        next_report = 60.0
        while (el := time.time() - w0) < span:
            self.check_alive()
            self.sample()
            if el >= next_report:
                next_report += 60.0
                self.say(f"  [{el:.0f} s] {self.progress()}")
            await asyncio.sleep(1.0)
        w1 = time.time()
        self.window = (w0, w1)
        cpu_end = {p.role: (time.monotonic(), cpu_seconds(p.pid))
                   for p in self.procs.values() if p.alive()}
        cpu_end["fleet_load (this)"] = (time.monotonic(), cpu_seconds(os.getpid()))
        load_end = os.getloadavg()
        probe = self.read_probe()
        ws_window = [c.messages - b for c, b in zip(self.ws, ws_before, strict=True)]
        self.report_window(probe, cpu_end, load_end, ws_window)
        # Missions still open get a grace period (the window is over: no figure above moves).
        grace_end = time.monotonic() + a.mission_grace
        while time.monotonic() < grace_end and self.open_missions():
            self.check_alive()
            await asyncio.sleep(2.0)
        self.report_missions(w1)

    def progress(self) -> str:
        p = self.read_probe()
        missions = p.get("missions", {})
        states = Counter(missions.get(m, {}).get("state") or "unseen" for m in self.submitted)
        return (f"status messages {len(p.get('status') or [])}, missions "
                f"{dict(states)}, WS messages {sum(c.messages for c in self.ws):,}, load "
                f"{os.getloadavg()[0]:.2f}")

    def open_missions(self) -> list[str]:
        missions = self.read_probe().get("missions", {})
        return [m for m in self.submitted if missions.get(m, {}).get("state") not in TERMINAL]

    def report_window(self, probe: dict[str, Any], cpu_end: dict[str, tuple[float, float]],
                      load: tuple[float, ...], ws_window: list[int]) -> None:
        a = self.args
        assert self.window is not None
        w0, w1 = self.window
        rows = [r for r in probe.get("status") or [] if w0 <= r[0] < w1]
        span = w1 - w0
        say = self.say
        say(f"---- window {span:.0f} s, {a.vehicles} vehicles")
        # /fleet/status rate over 10 s windows
        n_win = max(1, int(span // RATE_WINDOW_S))
        per = [0] * n_win
        for r in rows:
            i = int((r[0] - w0) // RATE_WINDOW_S)
            if i < n_win:
                per[i] += 1
        rates = [c / RATE_WINDOW_S for c in per]
        mean_rate = len(rows) / span
        say(f"  /fleet/status rate: mean {mean_rate:.2f} Hz, min over {RATE_WINDOW_S:g} s "
            f"windows {min(rates):.2f} Hz, max {max(rates):.2f} Hz (target 2)")
        self.verdicts.append(("/fleet/status steady at 2 Hz (mean >= 1.9, min 10 s >= 1.8)",
                              mean_rate >= 1.9 and min(rates) >= 1.8,
                              f"mean {mean_rate:.2f}, min {min(rates):.2f} Hz"))
        short = [r for r in rows if r[2] < a.vehicles]
        if short:
            say(f"  {len(short)} status messages had fewer than {a.vehicles} vehicles fresh "
                f"(fewest {min(r[2] for r in short)})")
        newest = sorted(r[3] for r in rows if r[3] is not None)
        if newest:
            p95 = newest[min(len(newest) - 1, int(0.95 * len(newest)))]
            say(f"  newest sample age on arrival: p50 {1000 * statistics.median(newest):.0f} "
                f"ms, p95 {1000 * p95:.0f} ms, max {1000 * newest[-1]:.0f} ms (target p95 < "
                f"500)")
            self.verdicts.append(("newest sample on arrival p95 < 500 ms", p95 < 0.5,
                                  f"{1000 * p95:.0f} ms"))
        else:
            self.verdicts.append(("newest sample on arrival p95 < 500 ms", False,
                                  "no status message in the window"))
        med = [(r[0], r[4]) for r in rows if r[4] is not None]
        first = [m for t, m in med if t < w0 + span / 2]
        second = [m for t, m in med if t >= w0 + span / 2]
        if first and second:
            f, s = statistics.median(first), statistics.median(second)
            say(f"  median per-vehicle sample age: first half {1000 * f:.0f} ms, second half "
                f"{1000 * s:.0f} ms, growth {1000 * (s - f):+.0f} ms")
            self.verdicts.append(("per-vehicle sample age not growing (<= +100 ms)",
                                  s - f <= GROWTH_LIMIT_S, f"{1000 * (s - f):+.0f} ms"))
        else:
            self.verdicts.append(("per-vehicle sample age not growing (<= +100 ms)", False,
                                  "too few status messages"))
        # processes
        say(f"  {'process':<22}{'CPU % (one core)':>17}{'RSS MB':>9}{'RSS max':>9}")
        total = 0.0
        for role, (t0, c0) in self.cpu_marks.items():
            if role not in cpu_end:
                continue
            t1, c1 = cpu_end[role]
            cpu = 100.0 * (c1 - c0) / (t1 - t0) if t1 > t0 else float("nan")
            total += cpu
            proc = self.procs.get(role)
            rss = (proc.samples[-1][2] if proc and proc.samples
                   else rss_bytes(os.getpid()))
            say(f"  {role:<22}{cpu:>17.0f}{rss / 2**20:>9.0f}"
                f"{self.rss_max[role] / 2**20:>9.0f}")
        cores = os.cpu_count() or 1
        say(f"  total CPU {total:.0f}% = {total / cores:.0f}% of the {cores} cores; load "
            f"average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end (the machine is "
            f"shared: others' load counts too)")
        disconnects = [sum(c.closes.values()) for c in self.ws]
        say(f"  WebSocket: {len(self.ws)} clients, messages in the window per client "
            f"{ws_window} (total {sum(c.messages for c in self.ws):,} since connect); "
            f"connects {[c.connects for c in self.ws]}; disconnects/failed connects "
            f"{sum(disconnects)}" + "".join(f"\n    client {i}: {dict(c.closes)}"
                                           for i, c in enumerate(self.ws) if c.closes))

    def report_missions(self, w1: float) -> None:
        a = self.args
        missions = self.read_probe().get("missions", {})
        ours = {m: missions.get(m, {}) for m in self.submitted}
        states = Counter(m.get("state") or "not seen on /fleet/missions" for m in ours.values())
        late = sum(1 for m in ours.values() if m.get("state") == "completed"
                   and m.get("ended", 0) > w1)
        completed = states.get("completed", 0)
        failed = sum(v for k, v in states.items() if k in ("failed", "aborted"))
        self.say(f"  missions: {len(self.submitted)}/{a.missions} dispatched, completed "
                 f"{completed} ({late} of them in the {a.mission_grace:g} s after the window),"
                 f" failed/aborted {failed}, states {dict(states)}")
        reasons = Counter(f"{m['state']}: {m.get('reason') or '-'}"[:110]
                          for m in ours.values() if m.get("state") in ("failed", "aborted"))
        for r, n in reasons.most_common():
            self.say(f"    {n} x {r}")
        if self.submit_errors:
            self.say(f"    submission errors: {dict(self.submit_errors)}")
        self.verdicts.append((f"{a.missions} missions dispatched and completed",
                              completed == a.missions,
                              f"{completed} completed, {failed} failed, "
                              f"{len(self.submitted)} dispatched"))
        errs = {k: v for k, v in self.api.items() if k != "ok"}
        self.say(f"  API: {sum(self.api.values())} calls counted, errors {errs or 'none'} "
                 f"(token logins {self.login and 'ok'})")
        self.verdicts.append(("no API errors", not errs, str(errs or "none")))

    # ------------------------------------------------------------ stop and count
    def rows(self) -> tuple[int, int]:
        from sqlalchemy import text

        with self._engine.connect() as conn:
            n = conn.execute(text("select count(*) from telemetry where "
                                  "left(vehicle_id, length(:t)) = :t"),
                             {"t": self.tag}).scalar_one()
            dup = conn.execute(text(
                "select count(*) from (select 1 from telemetry where "
                "left(vehicle_id, length(:t)) = :t group by vehicle_id, time "
                "having count(*) > 1) d"), {"t": self.tag}).scalar_one()
        return int(n), int(dup)

    async def stop_graph(self) -> None:
        """Simulators first (no fix after that), then the load's consumers; the recorder's
        rows counted until stable while fleet_manager (its source in 'fleet' mode) still
        runs; then fleet_manager, the recorder (its final flush) and the probe."""
        async def stop(role: str, timeout: float = 30.0) -> None:
            p = self.procs.get(role)
            if p is not None and p.popen is not None:
                self.exit_codes[role] = await asyncio.to_thread(p.stop, timeout, signal.SIGINT)

        for name in self.sims:
            await stop(name)
        await asyncio.sleep(1.0)
        for role in ("web_bridge", "mission_planner"):
            await stop(role)
        self.rows_settled: tuple[int, int] | None = None
        if self._engine is not None and "telemetry_recorder" in self.procs:
            last, since, deadline = -1, time.monotonic(), time.monotonic() + 90.0
            while time.monotonic() < deadline:
                with contextlib.suppress(Exception):
                    n = self.rows()[0]
                    if n != last:
                        last, since = n, time.monotonic()
                    elif time.monotonic() - since >= 5.0:
                        break
                await asyncio.sleep(0.5)
            self.rows_settled = (last, int(time.monotonic() - since))
        await stop("fleet_manager")
        for k in range(self.args.fm_shards):
            await stop(f"fleet_ingest_{k}")
        await stop("telemetry_recorder", 90.0)
        await stop("probe")

    def exactly_once_and_exit(self) -> None:
        say = self.say
        self.read_probe()
        published = vehicles = 0
        missing = []
        for name in self.sims:
            found = PUBLISHED.findall(self.procs[name].log.read_text(errors="replace"))
            if found:
                published += int(found[-1][0])
                vehicles += int(found[-1][1])
            else:
                missing.append(name)
        n, dup = self.rows()
        settled = self.rows_settled
        say(f"  exactly once: the simulators published {published:,} fixes from {vehicles} "
            f"vehicles; telemetry has {n:,} rows of this run"
            + (f" ({settled[0]:,} with the recorder running, stable {settled[1]} s)"
               if settled else "")
            + f"; duplicate (vehicle, time) rows {dup}; difference {n - published:+,}")
        if missing:
            say(f"    no 'published N position fixes' line in the log of {missing}")
        counters = self.probe.get("recorder") or {}
        keep = ("received", "written", "dropped", "rejected", "duplicates", "startup")
        shown = {k: v for k, v in counters.items() if any(w in k for w in keep)}
        say(f"    the recorder's last diagnostics: {shown or 'none heard'}")
        self.verdicts.append(("every fix in telemetry exactly once",
                              not missing and n == published and dup == 0,
                              f"{n:,} rows / {published:,} fixes, {dup} duplicates"))
        say("  errors at exit (SIGINT to each, in turn):")
        clean = True
        for role, p in self.procs.items():
            code = self.exit_codes.get(role, p.popen.returncode if p.popen else None)
            text = p.log.read_text(errors="replace") if p.log.exists() else ""
            bad = [ln.strip() for ln in text.splitlines() if ERROR_LINE.search(ln)]
            ok = code == 0 and not bad
            clean &= ok
            say(f"    {role:<20} exit {code}{'' if bad else ', no error lines'}")
            for ln in bad[:8]:
                say(f"      | {ln[:200]}")
            if len(bad) > 8:
                say(f"      | ... {len(bad) - 8} more")
        self.verdicts.append(("clean stop: exit 0, no error lines", clean, ""))
        say("---- goals")
        for name, passed, detail in self.verdicts:
            say(f"  {'PASS' if passed else 'FAIL'}  {name}" + (f": {detail}" if detail else ""))

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self._engine.dispose()
        clean_up_graph_run(self.procs.values(),
                           self.db_url if self.started and not self.args.keep_rows else "",
                           self.submitted, tag=self.tag, redis_prefix=self.redis_prefix,
                           tmp=self.tmp, keep_logs=self.args.keep_logs)


async def _amain(run: FleetLoad) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await run.run()
    except asyncio.CancelledError:
        print("\ninterrupted: stopping everything...", file=sys.stderr, flush=True)
        return 130
    except Exception as exc:  # said in a line (the logs are kept), then the cleanup
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        run.args.keep_logs = True
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--vehicles-per-sim", type=int, default=100, help=(
        "vehicles one fleet_sim process hosts (1..500): creating a DDS entity costs more the "
        "more a process already has (200 services: 0.5 s as the first, 8.8 s as the fifth "
        "200 in one process, measured), so many small simulators start far sooner"))
    parser.add_argument("--fm-shards", type=int, default=0, help=(
        "run fleet_manager as this many ingest shards and a merge (default 0: one process)"))
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="measurement window after discovery (default 10)")
    parser.add_argument("--ws-clients", type=int, default=10)
    parser.add_argument("--missions", type=int, default=20)
    parser.add_argument("--recorder-source", choices=("fleet", "mavros"), default="fleet",
                        help="telemetry_recorder's source parameter (default fleet)")
    parser.add_argument("--discovery-server", action="store_true",
                        help="discover through a Fast DDS discovery server on 127.0.0.1")
    parser.add_argument("--discovered", action="store_true",
                        help="fleet.yaml lists no vehicle: fleet_manager discovers them all "
                             "(by default it lists every simulated vehicle at the first site)")
    parser.add_argument("--domain", type=int, default=151, help="ROS_DOMAIN_ID (default 151)")
    parser.add_argument("--time-factor", type=float, default=1.0,
                        help="simulated seconds per wall second (default 1)")
    parser.add_argument("--discovery-timeout", type=float, default=300.0,
                        help="give up when the fleet is not discovered within this (s)")
    parser.add_argument("--mission-grace", type=float, default=300.0,
                        help="seconds after the window for missions still flying")
    parser.add_argument("--port", type=int, default=0, help="web_bridge port (default free)")
    parser.add_argument("--keep-rows", action="store_true", help="do not delete the rows")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return probe_main(args)
    if not 1 <= args.vehicles <= 4 * SIM_MAX:
        parser.error(f"--vehicles must be 1..{4 * SIM_MAX}, got {args.vehicles}")
    if not 1 <= args.vehicles_per_sim <= SIM_MAX:
        parser.error(f"--vehicles-per-sim must be 1..{SIM_MAX}, got {args.vehicles_per_sim}")
    if not args.minutes > 0 or not args.discovery_timeout > 0 or args.mission_grace < 0:
        parser.error(f"--minutes and --discovery-timeout must be > 0 and --mission-grace >= 0,"
                     f" got {args.minutes:g}, {args.discovery_timeout:g} and "
                     f"{args.mission_grace:g}")
    if args.ws_clients < 0 or args.missions < 0:
        parser.error(f"--ws-clients and --missions must be >= 0, got {args.ws_clients} and "
                     f"{args.missions}")
    check_ranges(parser, fm_shards=(args.fm_shards, 0, 32), domain=(args.domain, 0, 232),
                 time_factor=(args.time_factor, 0.5, 20), port=(args.port, 0, 65535))
    with held_domain(args.domain) as held:
        if not held:
            return 2
        from fleet_bringup.discovery import DiscoveryServerError

        run = FleetLoad(args)
        try:
            return asyncio.run(_amain(run))
        except DiscoveryServerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            run.cleanup()


if __name__ == "__main__":
    sys.exit(main())
