"""Launch the fleet graph: fleet_manager, mission_planner, telemetry_recorder, and the
simulated fleet unless real vehicles are used."""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def _typed(argument: str, value_type: type) -> ParameterValue:
    """Give a launch argument to a node as ``value_type``.

    Untyped, launch_ros reads the argument's text as YAML, so ``time_factor:=2`` arrives as an
    integer, rclpy refuses it for the declared double and the node dies at start; a path or
    URL such as ``on`` or ``123`` would stop being a string the same way.
    """
    return ParameterValue(LaunchConfiguration(argument), value_type=value_type)


def generate_launch_description() -> LaunchDescription:
    """Describe fleet_sim (unless sim:=false), fleet_manager, mission_planner and
    telemetry_recorder (unless record:=false) with their parameters as launch arguments."""
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
        DeclareLaunchArgument("missions_config", default_value="",
                              description="missions.yaml; empty uses the installed one"),
        DeclareLaunchArgument("record", default_value="true",
                              description="start telemetry_recorder (needs PostgreSQL)"),
        DeclareLaunchArgument("database_url", default_value="",
                              description="recorder database; empty: $FLEET_DATABASE_URL or "
                              "the local fleet database"),
    ]
    localhost = SetEnvironmentVariable(
        "ROS_AUTOMATIC_DISCOVERY_RANGE",
        EnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", default_value="LOCALHOST"))
    sim = Node(
        package="fleet_sim", executable="fleet_sim", name="fleet_sim", output="screen",
        condition=IfCondition(LaunchConfiguration("sim")),
        parameters=[{"config_file": _typed("sim_config", str),
                     "vehicle_count": _typed("vehicle_count", int),
                     "time_factor": _typed("time_factor", float)}],
    )
    manager = Node(
        package="fleet_manager", executable="fleet_manager", name="fleet_manager",
        output="screen", parameters=[{"config_file": _typed("fleet_config", str)}],
    )
    planner = Node(
        package="mission_planner", executable="mission_planner", name="mission_planner",
        output="screen", parameters=[{"config_file": _typed("missions_config", str),
                                      "fleet_config_file": _typed("fleet_config", str)}],
    )
    recorder = Node(
        package="telemetry_recorder", executable="telemetry_recorder",
        name="telemetry_recorder", output="screen",
        condition=IfCondition(LaunchConfiguration("record")),
        parameters=[{"database_url": _typed("database_url", str),
                     "fleet_config_file": _typed("fleet_config", str)}],
    )
    return LaunchDescription([*args, localhost, sim, manager, planner, recorder])
