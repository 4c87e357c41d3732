"""The launch files under a ROS distro's launch packages: a bad argument or a node dying at
start stops the launch with an error naming it, fleet_manager lists exactly the simulated
vehicles, a terminal Ctrl-C stops every process cleanly, and the whole graph flies a
mission end to end under launch_testing (fleet_graph_launch.py).

No registry carries launch, launch_ros or launch_testing: without them these tests skip.
"""

from __future__ import annotations

import glob
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fleet_bringup.configs import write_graph_configs
from fleet_interfaces.msg import FleetStatus
from fleet_ros.graph import RosGraph
from fleet_ros.qos import FLEET_QOS
from tests.conftest import claimed_domain
from tests.fleet_bringup import conftest as _bringup_fixtures
from tests.fleet_ros.test_entry import WatchedProcess
from tests.ros_helpers import Collector
from tests.web_bridge import conftest as _bridge_fixtures
from tests.web_bridge.conftest import PASSWORD, TEST_URL, Accounts, _clean_redis

for _module in ("launch_ros", "launch_testing"):
    pytest.importorskip(_module, reason=f"{_module} is not installed: it comes with a ROS 2 "
                        "distro (no registry here carries it), so the launch files cannot run")

pytestmark = pytest.mark.ros

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch"
HERE = Path(__file__).resolve().parent

web_db = _bridge_fixtures.web_db  # the migrated test database, a fixture here too
tag = _bringup_fixtures.tag  # a prefix for the graph's ids, its rows deleted afterwards

# `ros2 launch <file> name:=value ...` without ros2cli, which no registry carries either.
RUN_LAUNCH = """
import sys
from launch import LaunchDescription, LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
args = sys.argv[2:]
service = LaunchService(argv=args, noninteractive='--noninteractive' in args)
service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
    PythonLaunchDescriptionSource(sys.argv[1]),
    launch_arguments=[tuple(a.split(':=', 1)) for a in args if ':=' in a])]))
sys.exit(service.run())
"""


def launch_command(file_name: str, *arguments: str) -> list[str]:
    return [sys.executable, "-c", RUN_LAUNCH, str(LAUNCH / file_name), *arguments]


def run_launch(file_name: str, *arguments: str, timeout: float = 60.0
               ) -> subprocess.CompletedProcess[str]:
    """Run a launch file to its end; return its exit code and output (launch's log and the
    nodes', in ``stdout``)."""
    with claimed_domain() as domain:
        return subprocess.run(
            launch_command(file_name, *arguments), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False, cwd=ROOT,
            env={**os.environ, "ROS_DOMAIN_ID": str(domain)})


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("argument", "message"), [
    ("vehicle_count:=-1",
     "launch argument vehicle_count:='-1' must be an integer 1..500, or 0 for the config "
     "file's count"),
    ("vehicle_count:=501", "launch argument vehicle_count:='501' must be an integer 1..500"),
    ("time_factor:=abc",
     "launch argument time_factor:='abc' must be a number 0.01..100, or 0 for the config "
     "file's"),
    ("sim:=maybe", "launch argument sim:='maybe' must be true or false"),
    ("log_level:=loud", "launch argument log_level:='loud' must be one of debug, info, warn"),
], ids=["negative-count", "too-many", "factor-not-a-number", "sim-not-a-flag", "log-level"])
def test_a_bad_argument_stops_the_launch_naming_it(argument: str, message: str) -> None:
    done = run_launch("fleet.launch.py", argument, "record:=false", "web:=false")
    assert done.returncode == 1, done.stdout
    assert message in done.stdout
    assert "process started" not in done.stdout


def test_web_bridge_without_a_secret_is_refused_before_anything_starts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEET_JWT_SECRET", raising=False)
    done = run_launch("fleet.launch.py", "record:=false")
    assert done.returncode == 1, done.stdout
    assert "web_bridge needs FLEET_JWT_SECRET" in done.stdout
    assert "process started" not in done.stdout


def test_a_node_that_dies_at_start_stops_the_launch_with_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "missions.yaml"
    bad.write_text("mission_planner: {colour: red}\n")
    done = run_launch("fleet.launch.py", f"missions_config:={bad}", "record:=false",
                      "web:=false")
    assert done.returncode == 1, done.stdout
    assert "unknown keys ['colour']" in done.stdout
    assert "mission_planner-3 ended with exit code 2 while the launch was running" \
        in done.stdout
    # The others were stopped, not left running.
    for name in ("fleet_sim-1", "fleet_manager-2"):
        assert f"[{name}]: process has finished cleanly" in done.stdout


def test_sim_launch_alone_ends_with_an_error_when_fleet_sim_dies() -> None:
    done = run_launch("sim.launch.py", "config_file:=/nonexistent/fleet_sim.yaml")
    assert done.returncode == 1, done.stdout
    assert "cannot read fleet_sim config /nonexistent/fleet_sim.yaml" in done.stdout


@pytest.fixture
def launch_scratch() -> Iterator[set[str]]:
    """Yield the temporary files launches left so far; fail if a test leaves more."""
    def left() -> set[str]:
        scratch = Path(tempfile.gettempdir())
        return set(glob.glob(str(scratch / "launch_params_*"))
                   + glob.glob(str(scratch / "fleet-launch-*")))
    before = left()
    yield before
    assert left() <= before, f"left behind: {sorted(left() - before)}"


def stop_like_a_terminal(launch: WatchedProcess) -> int:
    """Ctrl-C: SIGINT to the launch's whole process group, as a terminal sends it (the nodes
    get it from the terminal and, --noninteractive, from launch too). Return the exit code;
    fail if a process of the group is left running."""
    os.killpg(launch.process.pid, signal.SIGINT)
    try:
        code = launch.wait(timeout=40.0)
    finally:
        left = subprocess.run(["ps", "-o", "pid=,args=", "-g", str(launch.process.pid)],
                              capture_output=True, text=True, check=False).stdout
        if left.strip():
            os.killpg(launch.process.pid, signal.SIGKILL)
    assert not left.strip(), f"left running: {left}"
    return code


def test_fleet_manager_lists_exactly_the_simulated_vehicles_and_ctrl_c_stops_all(
        graph: RosGraph, launch_scratch: set[str]) -> None:
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    launch = WatchedProcess(
        launch_command("fleet.launch.py", "vehicle_count:=2", "time_factor:=2",
                       "record:=false", "web:=false", "--noninteractive"),
        {**os.environ, "ROS_DOMAIN_ID": str(graph.domain_id)},  # type: ignore[attr-defined]
        cwd=ROOT, start_new_session=True)
    try:
        # Every node up (a signal in a node's imports is Python's, not run_node's).
        launch.wait_for_line("simulating 2 vehicles", "managing 2 configured vehicles",
                             "2 configured vehicles, 1 no-fly zones", timeout=40.0)
        graph.wait_for(lambda: (m := status.last()) is not None and len(m.vehicles) == 2,
                       20.0, "/fleet/status listing two vehicles")
    finally:
        code = stop_like_a_terminal(launch)
    assert {tuple(sorted(v.vehicle_id for v in m.vehicles)) for m in status.snapshot()} == {
        ("uav0", "uav1")}
    assert code == 0, launch.output
    assert launch.output.count("process has finished cleanly") == 3, launch.output
    assert "Traceback" not in launch.output


def test_the_graph_flies_a_mission_end_to_end_under_launch_testing(
        web_db: Engine, tag: str, tmp_path: Path) -> None:
    configs = write_graph_configs(tmp_path, 2, tag)
    user = Accounts(web_db, tag.rstrip("_"), [], []).user("operator", ("operator", None))
    redis_prefix = f"fleettest:{secrets.token_hex(4)}:"
    with claimed_domain() as domain:
        env = {**os.environ, "ROS_DOMAIN_ID": str(domain),
               "XDG_STATE_HOME": str(tmp_path / "state"),  # the recorder's own spool
               "FLEET_JWT_SECRET": secrets.token_hex(32), "FLEET_REDIS_PREFIX": redis_prefix,
               "FLEET_ARGON2_TIME_COST": "1", "FLEET_ARGON2_MEMORY_KIB": "64",
               "FLEET_TEST_USER": user, "FLEET_TEST_PASSWORD": PASSWORD}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "launch_testing.launch_test",
                 str(HERE / "fleet_graph_launch.py"),
                 f"fleet_config:={configs.fleet_file}", f"sim_config:={configs.fleet_sim_file}",
                 f"missions_config:={configs.missions_file}", "vehicle_count:=2",
                 "time_factor:=10", f"web_port:={free_port()}", f"database_url:={TEST_URL}",
                 "log_level:=warn"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240,
                check=False, cwd=ROOT, env=env)
        finally:
            _clean_redis({redis_prefix})
    assert done.returncode == 0, done.stdout[-8000:]
    # The graph at work, then after its shutdown: two tests each.
    assert done.stdout.count("Ran 2 tests") == 2, done.stdout[-8000:]


def fake_px4_machine(root: Path) -> dict[str, str]:
    """Stand-ins for a PX4 build, Gazebo's gz and MAVROS that say how they were started and
    run until SIGINT; return the environment that finds them."""
    sitl = root / "px4" / "build" / "px4_sitl_default"
    worlds = root / "px4" / "Tools" / "simulation" / "gz" / "worlds"
    mavros = root / "ros"
    for folder in (sitl / "bin", sitl / "rootfs", worlds, root / "bin", mavros / "lib" / "mavros",
                   mavros / "share" / "mavros" / "launch",
                   mavros / "share" / "ament_index" / "resource_index" / "packages"):
        folder.mkdir(parents=True)
    (worlds / "default.sdf").touch()
    (mavros / "share" / "ament_index" / "resource_index" / "packages" / "mavros").touch()
    for name in ("px4_pluginlists.yaml", "px4_config.yaml"):
        (mavros / "share" / "mavros" / "launch" / name).write_text(
            "/**:\n  ros__parameters: {}\n")
    (sitl / "rootfs" / "gz_env.sh").write_text(f"export PX4_GZ_WORLDS={worlds}\n")
    run_until_sigint = "trap 'exit 0' INT TERM\nwhile true; do sleep 0.1; done\n"
    for path, says in (
            (sitl / "bin" / "px4", 'px4 $* model=$PX4_SIM_MODEL airframe=$PX4_SYS_AUTOSTART '
                                   'world=$PX4_GZ_WORLD pose=$PX4_GZ_MODEL_POSE '
                                   'standalone=$PX4_GZ_STANDALONE'),
            (root / "bin" / "gz", "gz $* worlds=$PX4_GZ_WORLDS"),
            (mavros / "lib" / "mavros" / "mavros_node", "mavros $*")):
        path.write_text(f'#!/bin/bash\necho "started: {says}"\n{run_until_sigint}')
        path.chmod(0o755)
    return {"PATH": f"{root / 'bin'}:{os.environ['PATH']}",
            "AMENT_PREFIX_PATH": f"{mavros}:{os.environ.get('AMENT_PREFIX_PATH', '')}"}


def test_px4_gazebo_starts_gazebo_then_one_px4_and_one_mavros_per_vehicle(
        tmp_path: Path) -> None:
    env = fake_px4_machine(tmp_path)
    with claimed_domain() as domain:
        launch = WatchedProcess(
            launch_command("px4_gazebo.launch.py", "vehicle_count:=3",
                           f"px4_dir:={tmp_path / 'px4'}", "headless:=true", "record:=false",
                           "web:=false"),
            {**os.environ, **env, "ROS_DOMAIN_ID": str(domain)}, cwd=ROOT,
            start_new_session=True)
        try:
            launch.wait_for_line("managing 3 configured vehicles",
                                 "3 configured vehicles, 1 no-fly zones", timeout=40.0)
        finally:
            code = stop_like_a_terminal(launch)
    output = launch.output
    assert code == 0, output
    worlds = tmp_path / "px4" / "Tools" / "simulation" / "gz" / "worlds"
    assert f"started: gz sim --verbose=1 -r -s {worlds}/default.sdf worlds={worlds}" in output
    for i in range(3):
        assert (f"started: px4 -i {i} -d model=gz_x500 airframe=4001 world=default "
                f"pose=0,{3 * i} standalone=1") in output
        mavros = next(line for line in output.splitlines()
                      if f"__ns:=/uav{i}/mavros" in line and "started: mavros" in line)
        assert f"-p fcu_url:='udp://:{14540 + i}@127.0.0.1:{14580 + i}'" in mavros
        assert f"-p tgt_system:={i + 1} " in mavros
        assert "__node:=" not in mavros  # it would rename all three of mavros_node's nodes
    # gz, 3 PX4, 3 MAVROS, fleet_manager, mission_planner
    assert output.count("process has finished cleanly") == 9, output
