"""Launch N PX4 SITL vehicles in Gazebo, one MAVROS per vehicle under /uav<i>/mavros, and
the fleet graph on top (fleet.launch.py with sim:=false). docs/px4_gazebo.md says what it
needs and how to run it.

    ros2 launch fleet_bringup px4_gazebo.launch.py vehicle_count:=3 px4_dir:=$HOME/PX4-Autopilot

Vehicle i is PX4 instance i (`px4 -i <i>`, MAV_SYS_ID i+1) with its MAVLink API link on UDP
14580+i, which sends to 14540+i, where its MAVROS listens: fcu_url
udp://:<14540+i>@127.0.0.1:<14580+i>, tgt_system i+1. PX4 gives every instance from 10 on
the same remote port 14549, hence 10 vehicles at most. Gazebo is started here (not by the
first PX4), so that the launch stops it with the rest.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from launch import LaunchContext, LaunchDescription, LaunchDescriptionEntity
from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    IncludeLaunchDescription,
    OpaqueFunction,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch_ros.actions import Node

from fleet_bringup.launch_args import (
    LaunchArgumentError,
    LaunchArguments,
    end_launch_on_exit,
    param,
)

HERE = Path(__file__).parent
MAX_INSTANCES = 10
SITL = Path("build") / "px4_sitl_default"

ARGUMENTS = {
    "vehicle_count": ("2", f"PX4 SITL vehicles, 1..{MAX_INSTANCES}: uav0..uav<N-1>, each with "
                           "its MAVROS under /uav<i>/mavros"),
    "px4_dir": (os.environ.get("PX4_AUTOPILOT_DIR", str(Path.home() / "PX4-Autopilot")),
                "PX4-Autopilot checkout built with `make px4_sitl` ($PX4_AUTOPILOT_DIR)"),
    "model": ("gz_x500", "PX4_SIM_MODEL of every vehicle (a gz_* model of PX4)"),
    "airframe": ("4001", "PX4_SYS_AUTOSTART of every vehicle (4001: the x500 quadrotor)"),
    "world": ("default", "Gazebo world in <px4_dir>/Tools/simulation/gz/worlds (without .sdf)"),
    "headless": ("false", "run Gazebo without its window"),
    "spacing_m": ("3", "distance between vehicles on the ground, metres along y"),
    "mavros_namespace": ("/uav{i}/mavros", "namespace of vehicle i's MAVROS, {i} its number: "
                                          "MAVROS 2.x up to 2.14 puts its topics right "
                                          "there; a MAVROS that adds /mavros itself needs "
                                          "/uav{i}"),
    "log_level": ("info", "severity of every node's log: debug, info, warn, error or fatal"),
}


def _px4_tree(args: LaunchArguments) -> tuple[Path, Path, Path]:
    """Return the PX4 binary, the gz_env.sh its build wrote and the world file; refuse an
    unbuilt tree or an unknown world."""
    root = Path(args.text("px4_dir")).expanduser()
    binary, gz_env = root / SITL / "bin" / "px4", root / SITL / "rootfs" / "gz_env.sh"
    if not binary.is_file() or not gz_env.is_file():
        raise LaunchArgumentError("px4_dir", str(root), "a PX4-Autopilot checkout built with "
                                  f"`make px4_sitl` (no {binary.relative_to(root)} or "
                                  f"{gz_env.relative_to(root)})")
    worlds = root / "Tools" / "simulation" / "gz" / "worlds"
    world = worlds / f"{args.text('world')}.sdf"
    if not world.is_file():
        raise LaunchArgumentError("world", args.text("world"), f"a world of {worlds}, such "
                                  "as default")
    if shutil.which("gz") is None:
        raise RuntimeError("Gazebo's `gz` is not on PATH: install Gazebo Harmonic (gz-harmonic)")
    return binary, gz_env, world


def _in_gz_env(gz_env: Path, *command: str) -> list[str]:
    """Run ``command`` with the variables PX4's build wrote for Gazebo (model and world paths,
    PX4's Gazebo plugins)."""
    return ["bash", "-c", 'source "$0" && exec "$@"', str(gz_env), *command]


def describe_vehicles(context: LaunchContext) -> list[LaunchDescriptionEntity]:
    """Return Gazebo, the PX4 instances, their MAVROS and the fleet graph."""
    args = LaunchArguments(context.launch_configurations)
    count = args.integer("vehicle_count", 1, MAX_INSTANCES)
    try:
        spacing = float(args.text("spacing_m"))
    except ValueError:
        raise LaunchArgumentError("spacing_m", args.text("spacing_m"), "a number of metres"
                                  ) from None
    binary, gz_env, world = _px4_tree(args)
    namespace = args.text("mavros_namespace")
    if "{i}" not in namespace or not namespace.startswith("/"):
        raise LaunchArgumentError("mavros_namespace", namespace, "an absolute namespace "
                                  "holding {i}, such as /uav{i}/mavros")
    try:
        mavros_share = Path(get_package_share_directory("mavros"))
    except PackageNotFoundError:
        raise RuntimeError("MAVROS is not installed: apt install ros-$ROS_DISTRO-mavros "
                           "ros-$ROS_DISTRO-mavros-extras, then its GeographicLib datasets "
                           "(docs/px4_gazebo.md)") from None
    entities: list[LaunchDescriptionEntity] = [ExecuteProcess(
        name="gz_server", output="screen", on_exit=end_launch_on_exit,
        cmd=_in_gz_env(gz_env, "gz", "sim", "--verbose=1", "-r", "-s", str(world)))]
    if not args.flag("headless"):
        # Not required: closing the window leaves the simulation running.
        entities.append(ExecuteProcess(name="gz_gui", output="log",
                                       cmd=_in_gz_env(gz_env, "gz", "sim", "-g")))
    for i in range(count):
        entities.append(ExecuteProcess(
            name=f"px4_{i}", output="screen", on_exit=end_launch_on_exit,
            cmd=_in_gz_env(gz_env, str(binary), "-i", str(i), "-d"),
            additional_env={
                "PX4_SIM_MODEL": args.text("model"), "PX4_SYS_AUTOSTART": args.text("airframe"),
                "PX4_GZ_WORLD": world.stem, "PX4_GZ_MODEL_POSE": f"0,{spacing * i:g}",
                # Gazebo is the launch's: every instance waits for the world and spawns into it.
                "PX4_GZ_STANDALONE": "1"}))
        # No node name: mavros_node holds three nodes (mavros_node, mavros_router, mavros),
        # and a __node remapping would rename them all.
        entities.append(Node(
            package="mavros", executable="mavros_node", namespace=namespace.format(i=i),
            output="screen", on_exit=end_launch_on_exit,
            ros_arguments=[
                "--params-file", str(mavros_share / "launch" / "px4_pluginlists.yaml"),
                "--params-file", str(mavros_share / "launch" / "px4_config.yaml"),
                *param("fcu_url", f"udp://:{14540 + i}@127.0.0.1:{14580 + i}"),
                *param("gcs_url", ""), *param("tgt_system", i + 1),
                *param("tgt_component", 1), "--log-level", args.log_level()]))
    entities.append(IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(HERE / "fleet.launch.py")),
        launch_arguments={"sim": "false", "vehicle_count": str(count)}.items()))
    return entities


def generate_launch_description() -> LaunchDescription:
    """Describe the PX4 vehicles; fleet.launch.py's arguments (web, record, ...) apply too."""
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=about)
          for name, (default, about) in ARGUMENTS.items()),
        OpaqueFunction(function=describe_vehicles),
    ])
