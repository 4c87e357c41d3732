"""Launch the simulated fleet (needs the ROS 2 launch packages of a sourced distro)."""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    """Describe fleet_sim with its parameters as launch arguments."""
    args = [
        DeclareLaunchArgument("config_file", default_value="",
                              description="fleet_sim YAML; empty uses the installed "
                                          "config/fleet_sim.yaml"),
        DeclareLaunchArgument("vehicle_count", default_value="0",
                              description="vehicles to simulate (1..500); 0 takes the file's"),
        DeclareLaunchArgument("time_factor", default_value="0.0",
                              description="simulated seconds per wall second; 0 takes the file's"),
    ]
    # Keep DDS discovery on this machine unless the caller set a range explicitly.
    localhost = SetEnvironmentVariable(
        "ROS_AUTOMATIC_DISCOVERY_RANGE",
        EnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", default_value="LOCALHOST"))
    sim = Node(
        package="fleet_sim", executable="fleet_sim", name="fleet_sim", output="screen",
        parameters=[{
            "config_file": LaunchConfiguration("config_file"),
            "vehicle_count": LaunchConfiguration("vehicle_count"),
            "time_factor": LaunchConfiguration("time_factor"),
        }],
    )
    return LaunchDescription([*args, localhost, sim])
