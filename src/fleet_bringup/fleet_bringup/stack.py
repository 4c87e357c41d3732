"""The whole graph and the bridge in one process, for the dashboard's development, the
browser tests and the demo: fleet_sim (N simulated vehicles), fleet_manager, mission_planner,
telemetry_recorder and web_bridge serving the page on http://127.0.0.1:<port>/.

    python -m fleet_bringup.stack --vehicles 10 --port 8080

It reads the shipped configs (config/*.yaml), made to agree with the number of simulated
vehicles (fleet_bringup.configs). Settings of the bridge come from FLEET_* as for
``python -m web_bridge``; ``FLEET_JWT_SECRET`` defaults here to a random secret per run
(tokens do not survive a restart of this development stack) and ``FLEET_COOKIE_SECURE`` to
false (the page is served over plain http). With ``--discovery-server`` (or
FLEET_DISCOVERY_SERVER=1) the graph finds itself through a Fast DDS discovery server on
127.0.0.1 started for it (fleet_bringup.discovery). Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from rclpy.impl.logging_severity import LoggingSeverity
from rclpy.logging import get_logger_level, set_logger_level
from rclpy.parameter import Parameter

from fleet_bringup.configs import GraphConfigs, write_graph_configs
from fleet_bringup.discovery import DiscoveryServerError, discovery_server, env_flag
from fleet_core.errors import FleetCoreError
from fleet_core.sim.config import MAX_VEHICLES
from fleet_db.db import FleetDbError
from fleet_manager.node import FleetManagerNode
from fleet_ros.graph import RosGraph
from fleet_sim.node import FleetSimNode
from mission_planner.node import MissionPlannerNode
from telemetry_recorder.node import TelemetryRecorderNode
from web_bridge.app import create_app
from web_bridge.settings import Settings, SettingsError, load_settings

log = logging.getLogger("fleet_bringup.stack")

ROS_LOG_LEVELS = {"debug": LoggingSeverity.DEBUG, "info": LoggingSeverity.INFO,
                  "warn": LoggingSeverity.WARN, "error": LoggingSeverity.ERROR}
# The loggers of the nodes this process runs, the bridge's own among them.
NODE_LOGGERS = ("fleet_sim", "fleet_manager", "mission_planner", "telemetry_recorder",
                "web_bridge")


class BringupError(Exception):
    """The graph or the bridge cannot start; the message says what to do about it."""


@dataclass(frozen=True)
class StackOptions:
    """What the graph is made of."""

    vehicles: int = 10
    time_factor: float = 1.0
    recorder: bool = True
    tag: str = ""  # prefixes every id written to the database (fleet_bringup.configs)
    database_url: str = ""  # the recorder's; empty: $FLEET_DATABASE_URL or the local one
    spool_dir: str = ""  # the recorder's spool; empty: its default
    ros_log_level: str = "info"  # of the nodes' own log lines
    discovery_server: bool = False  # discover through a Fast DDS discovery server on loopback

    def __post_init__(self) -> None:
        if not 1 <= self.vehicles <= MAX_VEHICLES:
            raise ValueError(f"vehicles must be 1..{MAX_VEHICLES}, got {self.vehicles}")
        if not 0.5 <= self.time_factor <= 20:
            raise ValueError(f"time factor must be 0.5..20, got {self.time_factor:g}")
        if self.ros_log_level not in ROS_LOG_LEVELS:
            raise ValueError(f"ROS log level must be one of {', '.join(ROS_LOG_LEVELS)}, "
                             f"got {self.ros_log_level!r}")


@dataclass(frozen=True)
class FleetGraph:
    """The running graph and the configuration it runs with."""

    graph: RosGraph
    configs: GraphConfigs
    recording: bool  # the recorder writes to PostGIS
    discovery_server: str = ""  # ROS_DISCOVERY_SERVER of the graph; "" for simple discovery


@contextlib.contextmanager
def fleet_graph(opts: StackOptions, domain_id: int | None = None) -> Iterator[FleetGraph]:
    """Run fleet_sim, fleet_manager, mission_planner (and the recorder) until exit."""
    with _node_log_level(ROS_LOG_LEVELS[opts.ros_log_level]), \
            tempfile.TemporaryDirectory(prefix="fleet-graph-") as tmp, \
            _discovery(opts.discovery_server) as locator:
        configs = write_graph_configs(Path(tmp), opts.vehicles, opts.tag)
        fleet_file = Parameter("fleet_config_file", value=str(configs.fleet_file))
        with RosGraph(domain_id) as graph:
            graph.add(FleetSimNode(context=graph.context, parameter_overrides=[
                Parameter("config_file", value=str(configs.fleet_sim_file)),
                Parameter("vehicle_count", value=opts.vehicles),
                Parameter("time_factor", value=float(opts.time_factor))]))
            graph.add(FleetManagerNode(context=graph.context, parameter_overrides=[
                Parameter("config_file", value=str(configs.fleet_file))]))
            graph.add(MissionPlannerNode(context=graph.context, parameter_overrides=[
                Parameter("config_file", value=str(configs.missions_file)), fleet_file]))
            recording = False
            if opts.recorder:
                try:
                    graph.add(TelemetryRecorderNode(context=graph.context, parameter_overrides=[
                        Parameter("database_url", value=opts.database_url),
                        Parameter("spool_dir", value=opts.spool_dir), fleet_file]))
                    recording = True
                except FleetDbError as exc:
                    log.warning("recorder not started (%s); history and replay will be empty",
                                exc)
            yield FleetGraph(graph, configs, recording, locator)


@contextlib.contextmanager
def _discovery(wanted: bool) -> Iterator[str]:
    """With ``wanted``, a discovery server for the graph's Context (made after this): yield
    its locator; else "" (simple discovery)."""
    if not wanted:
        yield ""
        return
    with contextlib.ExitStack() as stack:
        try:
            # Every node of the graph shares this process's one participant, fleet_manager's
            # among them, which lists the graph's topics to find vehicles: a super client.
            server = stack.enter_context(discovery_server(super_client=True))
        except DiscoveryServerError as exc:
            raise BringupError(str(exc)) from None
        log.info("discovery through the Fast DDS discovery server at %s", server.locator)
        yield server.locator


@contextlib.contextmanager
def _node_log_level(level: LoggingSeverity) -> Iterator[None]:
    """Set the nodes' log level (process-wide in rclpy) for a while, then put it back."""
    before = {name: get_logger_level(name) for name in NODE_LOGGERS}
    for name in NODE_LOGGERS:
        set_logger_level(name, level)
    try:
        yield
    finally:
        for name, old in before.items():
            set_logger_level(name, old)


class BridgeServer:
    """web_bridge (the API and the dashboard) served by uvicorn on a thread of its own.

    The socket is bound at once, so a port in use fails before anything else starts. Signals
    stay with the main thread: uvicorn takes them only when it runs there.
    """

    def __init__(self, settings: Settings, log_level: str = "warning") -> None:
        self.settings = settings
        try:
            self._sock = socket.create_server((settings.host, settings.port))
        except OSError as exc:
            raise BringupError(
                f"cannot listen on {settings.host}:{settings.port}: {exc.strerror} (another "
                "demo or web_bridge running? choose another port with --port or FLEET_PORT)"
            ) from None
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{settings.host}:{self.port}/"
        config = uvicorn.Config(create_app(settings), loop="uvloop", http="httptools",
                                ws="websockets-sansio", log_level=log_level, lifespan="on",
                                timeout_graceful_shutdown=5, ws_max_size=1_048_576,
                                ws_per_message_deflate=settings.ws_compression)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]},
                                        name=f"web-bridge-{self.port}", daemon=True)

    @property
    def alive(self) -> bool:
        """Whether the server thread still runs."""
        return self._thread.is_alive()

    def start(self, timeout: float = 30.0) -> None:
        """Serve; raise BringupError when the bridge has not started within ``timeout``."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise BringupError("web_bridge stopped while starting (its log says why)")
            if time.monotonic() > deadline:
                raise BringupError(f"web_bridge did not start within {timeout:g} s")
            time.sleep(0.02)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop serving (open connections get ``timeout_graceful_shutdown``) and wait; a
        second call does nothing."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()


@dataclass(frozen=True)
class Stack:
    """The graph and the bridge, running."""

    fleet: FleetGraph
    bridge: BridgeServer


@contextlib.contextmanager
def running_stack(opts: StackOptions, settings: Settings, *, domain_id: int | None = None,
                  log_level: str = "warning") -> Iterator[Stack]:
    """Run the graph and the bridge; on exit stop the bridge first, then the graph (whose
    recorder writes its last rows as it closes)."""
    bridge = BridgeServer(settings, log_level)
    try:
        with fleet_graph(opts, domain_id) as fleet:
            bridge.start()
            try:
                yield Stack(fleet, bridge)
            finally:
                bridge.stop()
    finally:
        bridge.stop()  # when the graph failed to start: the socket is still bound


def bridge_settings(**overrides: Any) -> Settings:
    """The bridge's settings from FLEET_* and ``overrides``; without FLEET_JWT_SECRET a random
    secret, and without FLEET_COOKIE_SECURE insecure cookies (the page is plain http)."""
    values = dict(overrides)
    if not os.environ.get("FLEET_JWT_SECRET"):
        values.setdefault("jwt_secret", secrets.token_hex(32))
    if not os.environ.get("FLEET_COOKIE_SECURE"):
        values.setdefault("cookie_secure", False)
    return load_settings(**values)


class StopSignals:
    """SIGINT and SIGTERM, turned into a request to stop that the main thread acts on.

    A KeyboardInterrupt raised wherever the main thread happens to be (in a node's destroy,
    in the recorder's last flush) is how tracebacks and half-done shutdowns come at exit.
    Here the first signal sets ``requested``; the ones after it (a second Ctrl-C, or launch's
    SIGINT after the terminal's) only say that the stop is under way.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, first: str = "stopping...", again: str = "still stopping...", *,
                 ignore_after: bool = False) -> None:
        self.requested = threading.Event()
        self._first = first
        self._again = again
        # A process that ends right after the stop ignores the signals left: Python's own
        # handler would raise KeyboardInterrupt in its last lines or at exit.
        self._ignore_after = ignore_after
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        # os.write, not print: the handler may interrupt a print of the main thread, and a
        # buffered stream refuses to be re-entered.
        text = self._again if self.requested.is_set() else self._first
        self.requested.set()
        with contextlib.suppress(OSError):
            os.write(sys.stderr.fileno(), f"\n{text}\n".encode())

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until a stop is requested (or ``timeout`` passes); return whether it was."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # Short waits: the handler runs in the main thread between them.
        while not self.requested.wait(0.2):
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return True

    def __enter__(self) -> StopSignals:
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_IGN if self._ignore_after else handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the graph and the bridge until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="fleet_bringup.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=10,
                        help=f"simulated vehicles (1..{MAX_VEHICLES})")
    parser.add_argument("--time-factor", type=float, default=1.0,
                        help="simulated seconds per wall second (0.5..20)")
    parser.add_argument("--port", type=int, help="listen port (FLEET_PORT, default 8080)")
    parser.add_argument("--no-recorder", action="store_true", help="do not record to PostGIS")
    parser.add_argument("--discovery-server", action="store_true",
                        default=None, help="discover through a Fast DDS discovery server on "
                        "127.0.0.1 (env FLEET_DISCOVERY_SERVER=1)")
    parser.add_argument("--log-level", default="warning",
                        choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    if not 1 <= args.vehicles <= MAX_VEHICLES:
        parser.error(f"--vehicles must be 1..{MAX_VEHICLES}, got {args.vehicles}")
    if not 0.5 <= args.time_factor <= 20:
        parser.error(f"--time-factor must be 0.5..20, got {args.time_factor}")
    try:
        with_server = bool(args.discovery_server) or env_flag("FLEET_DISCOVERY_SERVER")
    except DiscoveryServerError as exc:
        parser.error(str(exc))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    opts = StackOptions(args.vehicles, args.time_factor, not args.no_recorder,
                        ros_log_level="warn" if args.log_level == "warning" else args.log_level,
                        discovery_server=with_server)
    with StopSignals(ignore_after=True) as stop:
        try:
            settings = bridge_settings(**({} if args.port is None else {"port": args.port}))
            with running_stack(opts, settings, log_level=args.log_level) as stack:
                print(f"dashboard: {stack.bridge.url}  ({args.vehicles} vehicles, time factor "
                      f"{args.time_factor:g}"
                      + (f", discovery server {stack.fleet.discovery_server}"
                         if stack.fleet.discovery_server else "")
                      + "); Ctrl-C stops", flush=True)
                stop.wait()
        except (SettingsError, BringupError, FleetCoreError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
