"""Launch fleet_manager, and the simulated fleet unless real vehicles are used."""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    """Describe fleet_manager (+ fleet_sim) with their parameters as launch arguments."""
    args = [
        DeclareLaunchArgument("sim", default_value="true",
                              description="start fleet_sim; false for real MAVROS vehicles"),
        DeclareLaunchArgument("fleet_config", default_value="",
                              description="fleet.yaml; empty uses the installed one"),
        DeclareLaunchArgument("sim_config", default_value="",
                              description="fleet_sim.yaml; empty uses the installed one"),
        DeclareLaunchArgument("vehicle_count", default_value="0",
                              description="simulated vehicles (1..500); 0 takes the file's"),
        DeclareLaunchArgument("time_factor", default_value="0.0",
                              description="simulated seconds per wall second; 0 takes the file's"),
    ]
    localhost = SetEnvironmentVariable(
        "ROS_AUTOMATIC_DISCOVERY_RANGE",
        EnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", default_value="LOCALHOST"))
    sim = Node(
        package="fleet_sim", executable="fleet_sim", name="fleet_sim", output="screen",
        condition=IfCondition(LaunchConfiguration("sim")),
        parameters=[{"config_file": LaunchConfiguration("sim_config"),
                     "vehicle_count": LaunchConfiguration("vehicle_count"),
                     "time_factor": LaunchConfiguration("time_factor")}],
    )
    manager = Node(
        package="fleet_manager", executable="fleet_manager", name="fleet_manager",
        output="screen", parameters=[{"config_file": LaunchConfiguration("fleet_config")}],
    )
    return LaunchDescription([*args, localhost, sim, manager])
