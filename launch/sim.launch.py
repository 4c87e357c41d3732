"""Launch fleet_sim: simulated PX4 vehicles, each behind a MAVROS-compatible /<id>/mavros.

    ros2 launch fleet_bringup sim.launch.py vehicle_count:=50 time_factor:=2
    ros2 launch launch/sim.launch.py --show-args

fleet.launch.py includes this file for sim:=true (with its discovery_server:=true, fleet_sim
is a client of that server: it inherits ROS_DISCOVERY_SERVER). fleet_sim ending while the
launch runs (a bad argument, a bad config file) ends the launch with exit code 1.
"""

from __future__ import annotations

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable
from launch_ros.actions import Node

from fleet_bringup.launch_args import LaunchArguments, end_launch_on_exit, param
from fleet_core.sim.config import MAX_VEHICLES, TIME_FACTORS

ARGUMENTS = {
    "config_file": ("", "fleet_sim.yaml (vehicles, homes, pads, limits); empty uses the "
                        "installed config/fleet_sim.yaml"),
    "vehicle_count": ("0", f"vehicles to simulate, 1..{MAX_VEHICLES}: the file's listed "
                           "vehicles first, then generated ones on a grid; 0 takes the "
                           "file's count"),
    "time_factor": ("0", f"simulated seconds per wall second, {TIME_FACTORS[0]:g}.."
                         f"{TIME_FACTORS[1]:g}; 0 takes the file's"),
    "namespace": ("", "ROS namespace of the node (its name and services ~/...); the MAVROS "
                      "topics /<id>/mavros/... stay absolute"),
    "log_level": ("info", "severity of the node's log: debug, info, warn, error or fatal"),
}


def describe_sim(context: LaunchContext) -> list[Node]:
    """Return fleet_sim with the launch arguments as its parameters."""
    args = LaunchArguments(context.launch_configurations)
    rules = [*param("vehicle_count", args.vehicle_count()),
             *param("time_factor", args.time_factor())]
    if args.text("config_file"):
        rules += param("config_file", args.text("config_file"))
    return [Node(package="fleet_sim", executable="fleet_sim", name="fleet_sim",
                 namespace=args.namespace() or None, output="screen",
                 ros_arguments=[*rules, "--log-level", args.log_level()],
                 on_exit=end_launch_on_exit)]


def generate_launch_description() -> LaunchDescription:
    """Describe fleet_sim with its parameters as launch arguments."""
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=about)
          for name, (default, about) in ARGUMENTS.items()),
        # Keep DDS discovery on this machine unless the caller chose a range.
        SetEnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", EnvironmentVariable(
            "ROS_AUTOMATIC_DISCOVERY_RANGE", default_value="LOCALHOST")),
        OpaqueFunction(function=describe_sim),
    ])
