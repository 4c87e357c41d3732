"""The whole graph and the bridge in one process, for the dashboard's development, the
browser tests and the demo: fleet_sim (N simulated vehicles), fleet_manager, mission_planner,
telemetry_recorder and web_bridge serving the page on http://127.0.0.1:<port>/.

    python -m fleet_bringup.stack --vehicles 10 --port 8080

It reads the shipped configs (config/*.yaml); vehicles beyond the listed ones are generated
on a grid and found by fleet_manager's discovery. Settings of the bridge come from FLEET_*
as for ``python -m web_bridge``; ``FLEET_JWT_SECRET`` defaults here to a random secret per
run (tokens do not survive a restart of this development stack).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import uvicorn
from rclpy.parameter import Parameter

from fleet_db.db import FleetDbError
from fleet_manager.node import FleetManagerNode
from fleet_ros.graph import RosGraph
from fleet_sim.node import FleetSimNode
from mission_planner.node import MissionPlannerNode
from telemetry_recorder.node import TelemetryRecorderNode
from web_bridge.app import create_app
from web_bridge.settings import Settings, SettingsError, load_settings

log = logging.getLogger("fleet_bringup.stack")


@dataclass(frozen=True)
class StackOptions:
    """What the graph is made of."""

    vehicles: int = 10
    time_factor: float = 1.0
    recorder: bool = True


@contextlib.contextmanager
def fleet_graph(opts: StackOptions, domain_id: int | None = None) -> Iterator[RosGraph]:
    """Run fleet_sim, fleet_manager, mission_planner (and the recorder) until exit."""
    with RosGraph(domain_id) as graph:
        graph.add(FleetSimNode(context=graph.context, parameter_overrides=[
            Parameter("vehicle_count", value=opts.vehicles),
            Parameter("time_factor", value=float(opts.time_factor))]))
        graph.add(FleetManagerNode(context=graph.context))
        planner = MissionPlannerNode(context=graph.context)
        graph.add(planner)
        if opts.recorder:
            try:
                graph.add(TelemetryRecorderNode(context=graph.context))
            except FleetDbError as exc:
                log.warning("recorder not started (%s); history and replay will be empty", exc)
        yield graph


def main(argv: Sequence[str] | None = None) -> int:
    """Run the graph and the bridge until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="fleet_bringup.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=10, help="simulated vehicles (1..1000)")
    parser.add_argument("--time-factor", type=float, default=1.0,
                        help="simulated seconds per wall second (0.5..20)")
    parser.add_argument("--port", type=int, help="listen port (FLEET_PORT, default 8080)")
    parser.add_argument("--no-recorder", action="store_true", help="do not record to PostGIS")
    parser.add_argument("--log-level", default="warning",
                        choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    if not 1 <= args.vehicles <= 1000:
        parser.error(f"--vehicles must be 1..1000, got {args.vehicles}")
    if not 0.5 <= args.time_factor <= 20:
        parser.error(f"--time-factor must be 0.5..20, got {args.time_factor}")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    overrides: dict[str, object] = {} if args.port is None else {"port": args.port}
    if not os.environ.get("FLEET_JWT_SECRET"):
        overrides["jwt_secret"] = secrets.token_hex(32)
    try:
        settings: Settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    opts = StackOptions(args.vehicles, args.time_factor, not args.no_recorder)
    with fleet_graph(opts):
        config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port,
                                loop="uvloop", http="httptools", ws="websockets-sansio",
                                log_level=args.log_level, timeout_graceful_shutdown=5,
                                ws_max_size=1_048_576)
        print(f"dashboard: http://{settings.host}:{settings.port}/  "
              f"({args.vehicles} vehicles, time factor {args.time_factor:g})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
