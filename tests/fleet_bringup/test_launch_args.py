"""The launch files' arguments are read as the types they stand for, errors name the argument,
node parameters become typed ``-p`` rules, and a node ending mid-launch ends the launch."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fleet_bringup.launch_args import (
    LaunchArgumentError,
    LaunchArguments,
    ProcessEndedError,
    end_launch_on_exit,
    param,
    python_log_level,
)


def args(**values: str) -> LaunchArguments:
    return LaunchArguments(values)


@pytest.mark.parametrize(("given", "expected"), [
    ("true", True), ("True", True), ("1", True), ("on", True),
    ("false", False), (" FALSE ", False), ("0", False), ("no", False),
])
def test_a_flag_reads_the_usual_spellings(given: str, expected: bool) -> None:
    assert args(sim=given).flag("sim") is expected


def test_a_flag_that_is_neither_is_refused_naming_the_argument() -> None:
    with pytest.raises(LaunchArgumentError,
                       match=r"launch argument sim:='maybe' must be true or false"):
        args(sim="maybe").flag("sim")


@pytest.mark.parametrize(("given", "expected"), [("0", 0), ("2", 2), ("500", 500)])
def test_a_vehicle_count_of_0_leaves_it_to_the_file(given: str, expected: int) -> None:
    assert args(vehicle_count=given).vehicle_count() == expected


@pytest.mark.parametrize("given", ["-1", "501", "two", "2.5", ""])
def test_a_vehicle_count_out_of_range_is_refused_naming_the_argument(given: str) -> None:
    with pytest.raises(LaunchArgumentError, match=(
            rf"launch argument vehicle_count:='{given}' must be an integer 1\.\.500, "
            r"or 0 for the config file's count")):
        args(vehicle_count=given).vehicle_count()


@pytest.mark.parametrize(("given", "expected"), [("0", 0.0), ("2", 2.0), ("0.5", 0.5),
                                                 ("100", 100.0)])
def test_a_time_factor_is_a_number_or_0_for_the_file(given: str, expected: float) -> None:
    assert args(time_factor=given).time_factor() == expected


@pytest.mark.parametrize("given", ["abc", "nan", "-1", "0.001", "101", "inf"])
def test_a_time_factor_out_of_range_is_refused_naming_the_argument(given: str) -> None:
    with pytest.raises(LaunchArgumentError,
                       match=rf"launch argument time_factor:='{given}' must be a number "
                             r"0\.01\.\.100, or 0 for the config file's"):
        args(time_factor=given).time_factor()


def test_a_port_outside_1_to_65535_is_refused() -> None:
    with pytest.raises(LaunchArgumentError, match=r"web_port:='0' must be an integer 1\.\.65535"):
        args(web_port="0").integer("web_port", 1, 65535)


@pytest.mark.parametrize(("given", "expected"), [
    ("", ""), ("/", ""), ("site_a", "/site_a"), ("/fleet/site_a/", "/fleet/site_a"),
])
def test_a_namespace_is_made_absolute(given: str, expected: str) -> None:
    assert args(namespace=given).namespace() == expected


@pytest.mark.parametrize("given", ["a-b", "1st", "a//b", "a b"])
def test_a_namespace_ros_refuses_is_refused_naming_the_argument(given: str) -> None:
    with pytest.raises(LaunchArgumentError, match=rf"launch argument namespace:='{given}'"):
        args(namespace=given).namespace()


def test_a_log_level_is_a_ros_severity_and_web_bridge_gets_the_nearest_python_one() -> None:
    assert args(log_level="WARN").log_level() == "warn"
    assert python_log_level("warn") == "warning"
    assert python_log_level("fatal") == "error"
    with pytest.raises(LaunchArgumentError, match="one of debug, info, warn, error, fatal"):
        args(log_level="loud").log_level()


@pytest.mark.parametrize(("value", "rule"), [
    (True, "flag:=true"),
    (3, "count:=3"),
    (2.0, "factor:=2.0"),  # a double stays a double: rclpy refuses 2 for one
    ("/tmp/fleet.yaml", "path:='/tmp/fleet.yaml'"),
    ("on", "path:='on'"),  # text, not YAML's true
    ("it's", "path:='it''s'"),
], ids=["bool", "int", "float", "path", "yaml-keyword", "quote"])
def test_a_parameter_becomes_a_typed_rule(value: bool | int | float | str, rule: str) -> None:
    name, _, _ = rule.partition(":=")
    assert param(name, value) == ["-p", rule]


def test_a_parameter_that_is_not_a_finite_number_is_refused() -> None:
    with pytest.raises(ValueError, match="parameter factor: inf is not a finite number"):
        param("factor", float("inf"))


@dataclass
class Exited:
    process_name: str
    returncode: int


@dataclass
class Launch:
    is_shutdown: bool


def test_a_process_ending_while_the_launch_runs_ends_the_launch_with_an_error() -> None:
    with pytest.raises(ProcessEndedError, match="fleet_sim-1 ended with exit code 2 while "
                                                "the launch was running"):
        end_launch_on_exit(Exited("fleet_sim-1", 2), Launch(is_shutdown=False))


def test_a_process_ending_with_0_while_the_launch_runs_ends_it_too() -> None:
    with pytest.raises(ProcessEndedError, match="web_bridge-5 ended with exit code 0"):
        end_launch_on_exit(Exited("web_bridge-5", 0), Launch(is_shutdown=False))


def test_processes_ending_during_the_shutdown_are_the_shutdown_itself() -> None:
    assert end_launch_on_exit(Exited("fleet_sim-1", -2), Launch(is_shutdown=True)) is None
