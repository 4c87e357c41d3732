"""Launch the fleet graph: fleet_manager, mission_planner, telemetry_recorder and web_bridge,
each optional, on simulated vehicles (sim.launch.py: fleet_sim) unless sim:=false.

    ros2 launch fleet_bringup fleet.launch.py vehicle_count:=10      # installed package
    ros2 launch launch/fleet.launch.py sim:=false                    # real MAVROS vehicles
    ros2 launch launch/fleet.launch.py --show-args                   # every argument

Without a config file given, and with sim:=true or a vehicle_count, fleet_manager,
mission_planner and the recorder read files written for this run from the shipped ones, in
which fleet_manager lists exactly those vehicles (the shipped fleet.yaml lists three: with
vehicle_count:=2 the third showed LOST); they are deleted when the launch ends. web_bridge
reads FLEET_* variables and needs FLEET_JWT_SECRET. A process of the graph that ends while
the launch runs ends the launch with exit code 1.

With discovery_server:=true the launch starts a Fast DDS discovery server on
127.0.0.1:<discovery_server_port> and every process it starts is its client
(ROS_DISCOVERY_SERVER); fleet_manager and rviz2, which list the graph's topics, are super
clients (ROS_SUPER_CLIENT=TRUE). A ros2 CLI that should see this graph needs both variables:

    ROS_DISCOVERY_SERVER=127.0.0.1:11811 ROS_SUPER_CLIENT=TRUE ros2 topic list --no-daemon
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from launch import LaunchContext, LaunchDescription, LaunchDescriptionEntity
from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    IncludeLaunchDescription,
    OpaqueFunction,
    SetEnvironmentVariable,
)
from launch.event_handlers import OnShutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.logging import get_logger
from launch.substitutions import EnvironmentVariable
from launch_ros.actions import Node
from launch_ros.substitutions import ExecutableInPackage

from fleet_bringup.configs import shipped_config, write_graph_configs
from fleet_bringup.discovery import (
    DEFAULT_PORT,
    SERVER_EXECUTABLE,
    client_env,
    server_command,
    server_executable,
    server_library_env,
    write_server_profile,
)
from fleet_bringup.launch_args import (
    LaunchArguments,
    end_launch_on_exit,
    param,
    python_log_level,
)
from fleet_core.fleet.config import load_fleet_settings_file
from fleet_core.sim.config import MAX_VEHICLES, TIME_FACTORS, load_settings_file

HERE = Path(__file__).parent
# config/ beside launch/: the repository's, or share/fleet_bringup/config once installed.
RVIZ_CONFIG = HERE.parent / "config" / "fleet.rviz"

ARGUMENTS = {
    "sim": ("true", "simulate the vehicles with fleet_sim (sim.launch.py); false for real "
                    "vehicles, each behind its own MAVROS"),
    "vehicle_count": ("0", f"the vehicles, 1..{MAX_VEHICLES}: with sim:=true how many "
                           "fleet_sim simulates, with sim:=false uav0..uav<N-1> behind "
                           "/uav<i>/mavros (as px4_gazebo.launch.py starts them); 0 takes the "
                           "config files'"),
    "time_factor": ("0", f"simulated seconds per wall second, {TIME_FACTORS[0]:g}.."
                         f"{TIME_FACTORS[1]:g} (sim:=true); 0 takes sim_config's"),
    "fleet_config": ("", "fleet.yaml: the vehicles fleet_manager manages (id, MAVROS prefix, "
                         "model, home site), sites, no-fly zones; empty: one listing exactly "
                         "the vehicle_count vehicles (sim:=true: the simulated ones), else the "
                         "installed one"),
    "sim_config": ("", "fleet_sim.yaml (vehicles, homes, pads); empty uses the installed one"),
    "missions_config": ("", "missions.yaml (planner settings, charging stations); empty "
                            "uses the installed one"),
    "manager": ("true", "start fleet_manager (the fleet picture, coordination, no-fly zones)"),
    "manager_shards": ("0", "0..32: with N > 0, fleet_manager runs as N ingest shards "
                            "(fleet_ingest_k, each the MAVROS topics of a share of the vehicles) "
                            "and a merge (fleet_manager: the picture, checks, commands)"),
    "planner": ("true", "start mission_planner (missions, allocation, charging)"),
    "record": ("true", "start telemetry_recorder (history in PostgreSQL/PostGIS)"),
    "web": ("true", "start web_bridge (REST, WebSocket, the dashboard); needs "
                    "FLEET_JWT_SECRET in the environment"),
    "database_url": ("", "PostgreSQL URL of the recorder and web_bridge, handed over as "
                         "FLEET_DATABASE_URL; empty: $FLEET_DATABASE_URL or the local fleet "
                         "database"),
    "redis_url": ("", "Redis URL of web_bridge, handed over as FLEET_REDIS_URL; empty: "
                      "$FLEET_REDIS_URL or redis://127.0.0.1:6379/0"),
    "web_host": ("127.0.0.1", "address web_bridge listens on"),
    "web_port": ("8080", "port web_bridge listens on; the dashboard is http://<host>:<port>/"),
    "namespace": ("", "ROS namespace of the nodes (their names and services ~/...; web_bridge "
                      "follows); the fleet topics /fleet/... and the MAVROS prefixes stay "
                      "absolute"),
    "log_level": ("info", "severity of every node's log: debug, info, warn, error or fatal"),
    "discovery_server": ("false", "discover through a Fast DDS discovery server started on "
                                  "127.0.0.1:<discovery_server_port> (every node its client, "
                                  "fleet_manager and rviz2 super clients) instead of simple "
                                  "discovery"),
    "discovery_server_port": (str(DEFAULT_PORT), "UDP port of that discovery server, 1..65535"),
    "rviz": ("false", "start rviz2 with rviz_config (the fleet markers on /fleet/markers)"),
    "rviz_config": (str(RVIZ_CONFIG), "rviz2 display configuration"),
}


def _config_files(args: LaunchArguments, sim: bool, vehicles: int,
                  context: LaunchContext) -> tuple[str, str, str]:
    """Return the fleet, missions and fleet_sim files the nodes read ("" for a node's own).

    None given, and sim:=true or a vehicle_count: files written for this run in which
    fleet_manager lists exactly those vehicles, each based at the fleet's first site.
    """
    fleet, missions, sim_file = (args.text(n) for n in
                                 ("fleet_config", "missions_config", "sim_config"))
    if not (fleet or missions or sim_file) and (sim or vehicles):
        run_dir = Path(tempfile.mkdtemp(prefix="fleet-launch-"))
        context.register_event_handler(OnShutdown(
            on_shutdown=lambda _event, _context: shutil.rmtree(run_dir, ignore_errors=True)))
        count = vehicles or len(load_settings_file(
            shipped_config("fleet_sim", "fleet_sim.yaml")).vehicles)
        written = write_graph_configs(run_dir, count)
        return str(written.fleet_file), str(written.missions_file), str(written.fleet_sim_file)
    if sim and args.flag("manager"):
        _warn_of_unsimulated(fleet, sim_file, vehicles)
    return fleet, missions, sim_file


def _warn_of_unsimulated(fleet: str, sim_file: str, vehicles: int) -> None:
    """Say which configured vehicles the simulation does not host, and why they show LOST."""
    simulated = {v.vehicle_id for v in load_settings_file(
        sim_file or shipped_config("fleet_sim", "fleet_sim.yaml"),
        vehicle_count=vehicles or None).vehicles}
    configured = [v.vehicle_id for v in load_fleet_settings_file(
        fleet or shipped_config("fleet_manager", "fleet.yaml")).vehicles]
    missing = [v for v in configured if v not in simulated]
    if missing:
        get_logger("fleet.launch").warning(
            f"fleet_config lists {', '.join(missing)}, which the simulation does not host "
            f"(sim_config, vehicle_count:={vehicles}): /fleet/status shows "
            f"{'it' if len(missing) == 1 else 'them'} LOST until connected")


def _discovery(args: LaunchArguments,
               context: LaunchContext) -> tuple[list[LaunchDescriptionEntity], dict[Any, Any]]:
    """With discovery_server:=true: the server and the variables that make the processes
    started after them its clients, and the variables of a super client; else nothing."""
    if not args.flag("discovery_server"):
        return [], {}
    port = args.integer("discovery_server_port", 1, 65535)
    executable = server_executable()
    if executable is None:
        raise RuntimeError(f"discovery_server:=true needs {SERVER_EXECUTABLE} (it comes with "
                           "Fast DDS); launch without it")
    profile_dir = Path(tempfile.mkdtemp(prefix="fleet-discovery-"))
    context.register_event_handler(OnShutdown(
        on_shutdown=lambda _event, _context: shutil.rmtree(profile_dir, ignore_errors=True)))
    server = ExecuteProcess(name="discovery_server", output="screen",
                            cmd=server_command(executable, port,
                                               write_server_profile(profile_dir)),
                            additional_env=server_library_env(executable),
                            on_exit=end_launch_on_exit)
    # Set before the nodes (and the included sim.launch.py) start: Fast DDS reads them when
    # a node's participant is created.
    client = [SetEnvironmentVariable(name, value)
              for name, value in client_env(port, super_client=False).items()]
    return [server, *client], {"ROS_SUPER_CLIENT": "TRUE"}


def describe_graph(context: LaunchContext) -> list[LaunchDescriptionEntity]:
    """Return the processes the launch arguments ask for."""
    args = LaunchArguments(context.launch_configurations)
    entities, super_client = _discovery(args, context)
    sim = args.flag("sim")
    vehicles, factor = args.vehicle_count(), args.time_factor()
    ns, level = args.namespace(), args.log_level()
    fleet, missions, sim_file = _config_files(args, sim, vehicles, context)
    # URLs through the environment, not the command line: they may hold a password.
    db_env: dict[Any, Any] = {"FLEET_DATABASE_URL": args.text("database_url")} if args.text(
        "database_url") else {}

    def node(package: str, *rules: str, env: dict[Any, Any] | None = None,
             sigterm_timeout: str = "5", name: str = "") -> Node:
        # Parameters as -p rules: a parameter dictionary leaves a /tmp/launch_params_* file.
        return Node(package=package, executable=package, name=name or package,
                    namespace=ns or None,
                    output="screen", ros_arguments=[*rules, "--log-level", level],
                    on_exit=end_launch_on_exit, additional_env=env,
                    sigterm_timeout=sigterm_timeout)

    if sim:
        entities.append(IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(HERE / "sim.launch.py")),
            launch_arguments={"config_file": sim_file, "vehicle_count": str(vehicles),
                              "time_factor": repr(factor), "namespace": ns,
                              "log_level": level}.items()))
    fleet_rule = param("fleet_config_file", fleet) if fleet else []
    if args.flag("manager"):
        # It finds vehicles by listing the graph's topics: a super client of a server.
        fm_rules = param("config_file", fleet) if fleet else []
        shards = args.integer("manager_shards", 0, 32)
        # Split (docs/architecture.md): ingest shards take the MAVROS topics of their share
        # of the vehicles; the process named fleet_manager merges them into the picture.
        entities.extend(node("fleet_manager", *fm_rules, *param("role", "ingest"),
                             *param("shard", f"{k}/{shards}"), env=super_client or None,
                             name=f"fleet_ingest_{k}") for k in range(shards))
        entities.append(node("fleet_manager", *fm_rules,
                             *(param("role", "merge") if shards else []),
                             env=super_client or None))
    if args.flag("planner"):
        entities.append(node("mission_planner", *fleet_rule,
                             *(param("config_file", missions) if missions else [])))
    if args.flag("record"):
        # The final flush may take longer than launch's 5 s before it escalates to SIGTERM.
        entities.append(node("telemetry_recorder", *fleet_rule, env=db_env,
                             sigterm_timeout="15"))
    if args.flag("web"):
        port = args.integer("web_port", 1, 65535)
        if not os.environ.get("FLEET_JWT_SECRET"):
            # web_bridge has no default secret and would die at start: say it before
            # anything starts.
            raise RuntimeError("web_bridge needs FLEET_JWT_SECRET (export FLEET_JWT_SECRET="
                               "$(openssl rand -hex 32)), or launch with web:=false")
        entities.append(ExecuteProcess(
            name="web_bridge", output="screen", on_exit=end_launch_on_exit,
            cmd=[ExecutableInPackage("web_bridge", "web_bridge"),
                 "--host", args.text("web_host"), "--port", str(port),
                 "--log-level", python_log_level(level)],
            additional_env={**db_env,
                            **({"FLEET_REDIS_URL": args.text("redis_url")}
                               if args.text("redis_url") else {}),
                            "FLEET_FLEET_MANAGER_NS": f"{ns}/fleet_manager",
                            "FLEET_MISSION_PLANNER_NS": f"{ns}/mission_planner"}))
    if args.flag("rviz"):
        # Not required: closing its window is not a failure of the graph.
        entities.append(Node(package="rviz2", executable="rviz2", output="screen",
                             arguments=["-d", args.text("rviz_config")],
                             additional_env=super_client or None))
    return entities


def generate_launch_description() -> LaunchDescription:
    """Describe the graph with every setting as a launch argument."""
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=about)
          for name, (default, about) in ARGUMENTS.items()),
        # Keep DDS discovery on this machine unless the caller chose a range.
        SetEnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", EnvironmentVariable(
            "ROS_AUTOMATIC_DISCOVERY_RANGE", default_value="LOCALHOST")),
        OpaqueFunction(function=describe_graph),
    ])
