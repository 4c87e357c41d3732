"""Launch the simulated fleet (needs the ROS 2 launch packages of a sourced distro)."""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def _typed(argument: str, value_type: type) -> ParameterValue:
    """Give a launch argument to the node as ``value_type``.

    Untyped, launch_ros reads the argument's text as YAML, so ``time_factor:=2`` arrives as an
    integer, rclpy refuses it for the declared double and the node dies at start.
    """
    return ParameterValue(LaunchConfiguration(argument), value_type=value_type)


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
            "config_file": _typed("config_file", str),
            "vehicle_count": _typed("vehicle_count", int),
            "time_factor": _typed("time_factor", float),
        }],
    )
    return LaunchDescription([*args, localhost, sim])
