"""fleet_sim refuses a bad parameter naming the parameter (not its config file), with exit
code 2 as a process, and takes a number given as an integer or as text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rclpy.parameter import Parameter

from fleet_core.errors import ConfigError
from fleet_ros.graph import RosGraph
from fleet_sim.node import FleetSimNode
from tests.conftest import claimed_domain

pytestmark = pytest.mark.ros

HOME = {"latitude": 47.397742, "longitude": 8.545594, "altitude": 488.0}


@pytest.fixture
def sim_config(tmp_path: Path) -> Path:
    path = tmp_path / "fleet_sim.yaml"
    path.write_text(yaml.safe_dump({"fleet_sim": {
        "vehicles": [{"id": "uav0", "home": HOME}, {"id": "uav1", "home": HOME}],
        "generate": {"origin": HOME}}}))
    return path


def _node(graph: RosGraph, config: Path, **parameters: object) -> FleetSimNode:
    node = FleetSimNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=str(config)),
        *(Parameter(name, value=value) for name, value in parameters.items())])
    graph.add(node)
    return node


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("vehicle_count", -1, "an integer 1..500, or 0"),
    ("vehicle_count", 501, "an integer 1..500, or 0"),
    ("vehicle_count", 2.5, "an integer 1..500, or 0"),
    ("vehicle_count", "many", "an integer 1..500, or 0"),
    ("time_factor", "abc", r"0\.01\.\.100, or 0"),
    ("time_factor", -1.0, r"0\.01\.\.100, or 0"),
    ("time_factor", 500.0, r"0\.01\.\.100, or 0"),
    ("time_factor", float("nan"), r"0\.01\.\.100, or 0"),
    ("seed", "x", "an integer >= 0, or -1"),
    ("seed", -5, "an integer >= 0, or -1"),
])
def test_a_bad_parameter_is_refused_naming_it_and_its_range(
        graph: RosGraph, sim_config: Path, name: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError, match=rf"^parameter {name} must be {expected}") as err:
        _node(graph, sim_config, **{name: value})
    assert str(sim_config) not in str(err.value)


def test_a_time_factor_given_as_an_integer_or_as_text_is_taken(
        graph: RosGraph, sim_config: Path) -> None:
    assert _node(graph, sim_config, time_factor=2).settings.time_factor == 2.0
    assert _node(graph, sim_config, time_factor="2.5").settings.time_factor == 2.5


def test_a_vehicle_count_given_as_text_is_taken(graph: RosGraph, sim_config: Path) -> None:
    assert len(_node(graph, sim_config, vehicle_count="4").vehicles) == 4


@pytest.mark.parametrize(("argument", "named"), [
    ("time_factor:=abc", "parameter time_factor must be 0.01..100, or 0 to take the config "
                         "file's; got 'abc'"),
    ("vehicle_count:=501", "parameter vehicle_count must be an integer 1..500, or 0 to take "
                           "the config file's; got 501"),
])
def test_the_process_exits_with_code_2_and_one_line_naming_the_argument(
        sim_config: Path, argument: str, named: str) -> None:
    with claimed_domain() as domain:
        done = subprocess.run(
            [sys.executable, "-m", "fleet_sim", "--ros-args", "-p",
             f"config_file:={sim_config}", "-p", argument],
            env={**os.environ, "ROS_DOMAIN_ID": str(domain)}, capture_output=True, text=True,
            timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"error: {named}"
