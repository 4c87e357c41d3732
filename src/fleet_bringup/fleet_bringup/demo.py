"""``make demo``: the whole fleet in one process, with the dashboard, flying a scripted scenario.

Starts fleet_sim (10 simulated vehicles; VEHICLES or --vehicles to change), fleet_manager,
mission_planner, telemetry_recorder (into PostGIS) and web_bridge serving the dashboard,
creates a login for this run only, and plays a scenario through the fleet's own actions and
services: a survey whose vehicle's battery fails (it goes home, another finishes), a delivery
around a new no-fly zone followed by a charging cycle, and a survey preempted by an emergency.
Then the fleet stays up until Ctrl-C, which stops everything and removes the login.
With --discovery-server (env FLEET_DISCOVERY_SERVER=1) the graph finds itself through a Fast
DDS discovery server on 127.0.0.1 started for the run (docs/operations.md, "Discovery server").
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from fleet_bringup import preflight
from fleet_bringup.account import DemoLogin, create_demo_login, remove_demo_login
from fleet_bringup.discovery import DiscoveryServerError, env_flag
from fleet_bringup.scenario import (
    SCENARIO_VEHICLES,
    Narrator,
    Scenario,
    ScenarioError,
    ScenarioReport,
    StopRequestedError,
)
from fleet_bringup.stack import (
    BringupError,
    Stack,
    StackOptions,
    StopSignals,
    bridge_settings,
    running_stack,
)
from fleet_core.errors import FleetCoreError
from fleet_core.sim.config import MAX_VEHICLES
from fleet_db.db import FleetDbError, make_engine
from web_bridge.security import Passwords
from web_bridge.settings import Settings, SettingsError

log = logging.getLogger("fleet_bringup.demo")

DEFAULT_TIME_FACTOR = 5.0  # the scenario takes two to three minutes


@dataclass(frozen=True)
class DemoSession:
    """The running stack, the login made for it and the scenario ready to play."""

    stack: Stack
    login: DemoLogin
    scenario: Scenario
    vehicles: list[str]


def wait_for_site(url: str, site_id: str, stop: threading.Event, timeout: float = 30.0) -> None:
    """Wait until the recorder has written the fleet's site (the login's grant names it)."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with engine.connect() as conn:
                if conn.execute(text("select 1 from sites where id = :s"),
                                {"s": site_id}).first():
                    return
            if stop.wait(0.2):
                raise StopRequestedError
            if time.monotonic() > deadline:
                raise BringupError(f"the recorder did not write site {site_id!r} within "
                                   f"{timeout:g} s (is it recording?)")
    finally:
        engine.dispose()


@contextlib.contextmanager
def demo_session(opts: StackOptions, settings: Settings, *, stop: threading.Event,
                 say: Narrator, domain_id: int | None = None, username: str = "demo",
                 log_level: str = "warning") -> Iterator[DemoSession]:
    """Run the stack with a login made for it; remove the login and stop it all on exit."""
    with running_stack(opts, settings, domain_id=domain_id, log_level=log_level) as stack:
        configs = stack.fleet.configs
        scenario = Scenario(stack.fleet.graph, configs, time_factor=opts.time_factor, say=say,
                            stop=stop, tag=opts.tag)
        vehicles = scenario.wait_for_fleet()
        say(f"fleet ready: {len(vehicles)} vehicles ({vehicles[0]} .. {vehicles[-1]}) at "
            f"{configs.fleet.sites[0].name if configs.fleet.sites else 'no site'}")
        site = configs.site_id
        if site is not None:
            wait_for_site(settings.database_url, site, stop)
        login = create_demo_login(
            settings.database_url, site, username=username,
            passwords=Passwords(settings.argon2_time_cost, settings.argon2_memory_kib))
        try:
            yield DemoSession(stack, login, scenario, vehicles)
        finally:
            try:
                remove_demo_login(settings.database_url, login)
            except (OSError, FleetDbError, ValueError) as exc:
                log.warning("the demo login %s was not removed: %s", login.username, exc)


def recorded(url: str, since: datetime, vehicles: Sequence[str]) -> str:
    """One line of what the recorder stored in PostGIS for these vehicles since ``since``."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            args = {"t": since, "v": list(vehicles)}
            rows = conn.execute(text(
                "select (select count(*) from telemetry where time >= :t and vehicle_id = any(:v)),"
                " (select count(*) from flights where started_at >= :t and vehicle_id = any(:v)),"
                " (select count(*) from missions where created_at >= :t and vehicle_id = any(:v)),"
                " (select count(*) from charging_sessions where requested_at >= :t"
                "  and vehicle_id = any(:v))"), args).one()
    finally:
        engine.dispose()
    telemetry, flights, missions, sessions = rows
    return (f"recorded in PostGIS: {telemetry:,} telemetry rows, {flights} flights, "
            f"{missions} missions, {sessions} charging sessions")


def summary(report: ScenarioReport) -> str:
    """What the scenario did, in one line."""
    parts = [f"{run.mission_id} {run.state.value if run.state else '?'} "
             f"({' -> '.join(run.vehicles) or '-'})" for run in report.missions.values()]
    if report.charge is not None:
        c = report.charge
        parts.append(f"{c.vehicle_id} charged {c.start_pct:.0f}% -> {c.charged_pct:.0f}%")
    return "; ".join(parts)


def _play(session: DemoSession, say: Narrator, url: str, since: datetime) -> None:
    """Play the scenario (on its own thread) and tell how it ended."""
    try:
        report = session.scenario.run()
    except StopRequestedError:
        return
    except Exception as exc:  # a bug: said in one line, the fleet and dashboard stay up
        log.debug("the scenario raised", exc_info=True)
        say(f"the scenario stopped: {exc!r}")
        return
    minutes, seconds = divmod(int(report.elapsed_s), 60)
    if report.ok:
        say(f"scenario complete in {minutes}:{seconds:02d}: {summary(report)}")
    else:
        say(f"scenario finished in {minutes}:{seconds:02d} with problems: "
            f"{'; '.join(report.errors)}")
    with contextlib.suppress(FleetDbError, OSError):
        time.sleep(2.0)  # the recorder's last batches
        say(recorded(url, since, session.vehicles))
    say("the fleet stays up: explore the dashboard; Ctrl-C stops the demo")


def _env_number(name: str, default: float) -> str:
    return os.environ.get(name) or f"{default:g}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo until Ctrl-C; return the exit code."""
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=_env_number("VEHICLES", 10),
                        help=f"simulated vehicles, {SCENARIO_VEHICLES}..{MAX_VEHICLES} (1.. "
                             "without the scenario; env VEHICLES, default 10)")
    parser.add_argument("--time-factor", type=float,
                        default=_env_number("TIME_FACTOR", DEFAULT_TIME_FACTOR),
                        help="simulated seconds per wall second, 0.5..20 (env TIME_FACTOR, "
                             f"default {DEFAULT_TIME_FACTOR:g})")
    parser.add_argument("--port", type=int,
                        help="dashboard port (env FLEET_PORT, default 8080; 0: any free one)")
    parser.add_argument("--no-scenario", action="store_true",
                        help="only the fleet and the dashboard, no scripted missions")
    parser.add_argument("--log-level", default="warning",
                        choices=["debug", "info", "warning", "error"],
                        help="of the nodes and the bridge (default warning)")
    parser.add_argument("--discovery-server", action="store_true", default=None,
                        help="discover through a Fast DDS discovery server on 127.0.0.1 "
                             "started for this run (env FLEET_DISCOVERY_SERVER=1)")
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)  # tests: ids of their own
    args = parser.parse_args(argv)
    try:
        with_server = bool(args.discovery_server) or env_flag("FLEET_DISCOVERY_SERVER")
    except DiscoveryServerError as exc:
        parser.error(str(exc))
    least = 1 if args.no_scenario else SCENARIO_VEHICLES
    if not least <= args.vehicles <= MAX_VEHICLES:
        parser.error(f"--vehicles (VEHICLES) must be {least}..{MAX_VEHICLES}"
                     f"{'' if args.no_scenario else ' for the scenario'}, got {args.vehicles}")
    if not 0.5 <= args.time_factor <= 20:
        parser.error(f"--time-factor (TIME_FACTOR) must be 0.5..20, got {args.time_factor:g}")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = bridge_settings(**({} if args.port is None else {"port": args.port}))
        opts = StackOptions(args.vehicles, args.time_factor, tag=args.tag,
                            database_url=settings.database_url,
                            ros_log_level="warn" if args.log_level == "warning"
                            else args.log_level, discovery_server=with_server)
    except (SettingsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    missing = preflight.missing(settings.database_url, settings.redis_url, settings.web_dir)
    if missing:
        print("the demo cannot start:", file=sys.stderr)
        for m in missing:
            print(f"  - {m}", file=sys.stderr)
        return 1
    say = Narrator()
    since = datetime.now(UTC)
    print(f"fleet demo: {args.vehicles} simulated vehicles, time x{args.time_factor:g}"
          f"{', discovery server on 127.0.0.1' if with_server else ''}; "
          "starting the graph and the dashboard...", flush=True)
    with StopSignals("stopping the demo: scenario, dashboard, fleet, recorder...",
                     "still stopping (the recorder writes its last rows)...",
                     ignore_after=True) as stop:
        try:
            with demo_session(opts, settings, stop=stop.requested, say=say,
                              log_level=args.log_level) as session:
                login = session.login
                print(f"\n  dashboard  {session.stack.bridge.url}\n"
                      f"  login      {login.username} / {login.password}   (operator at "
                      f"{login.site_id or 'every site'}; made for this run, removed at exit)\n"
                      f"  stop       Ctrl-C\n", flush=True)
                player = threading.Thread(target=_play, args=(session, say,
                                                              settings.database_url, since),
                                          name="demo-scenario", daemon=True)
                if not args.no_scenario:
                    player.start()
                stop.wait()
                if player.is_alive():
                    player.join(15.0)  # it sees the stop at its next wait
        except StopRequestedError:
            pass  # Ctrl-C before the fleet was up
        except (BringupError, ScenarioError, FleetDbError, FleetCoreError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print("demo stopped: graph, dashboard and recorder closed, demo login removed.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
