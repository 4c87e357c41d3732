"""The graph can find itself through a Fast DDS discovery server on loopback: the server
starts on 127.0.0.1 and stops, nodes become its clients through the environment (fleet_manager
a super client, as it must be to list the vehicles' topics), and bad settings are refused
naming them. The graph tests skip when fast-discovery-server is not installed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fleet_bringup.discovery import (
    DiscoveryServer,
    DiscoveryServerError,
    check_loopback,
    client_env,
    discovery_server,
    env_flag,
    environment,
    server_command,
    server_executable,
    write_server_profile,
)
from tests.conftest import claimed_domain

ROOT = Path(__file__).resolve().parents[2]
needs_server = pytest.mark.skipif(
    server_executable() is None,
    reason="fast-discovery-server is not installed (it comes with Fast DDS: make setup's ROS "
           "wheels or ros-<distro>-fastrtps)")
DISCOVERY_VARIABLES = ("ROS_DISCOVERY_SERVER", "ROS_SUPER_CLIENT")


# ---------------------------------------------------------------- settings, no process


def test_a_client_is_pointed_at_the_server_on_loopback() -> None:
    assert client_env(11811, super_client=False) == {
        "ROS_DISCOVERY_SERVER": "127.0.0.1:11811", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


def test_a_super_client_is_told_so() -> None:
    assert client_env(4000, super_client=True)["ROS_SUPER_CLIENT"] == "TRUE"


@pytest.mark.parametrize("host", ["203.0.113.5", "0.0.0.0", "example.com", ""])
def test_an_address_beyond_loopback_is_refused_naming_it(host: str) -> None:
    with pytest.raises(DiscoveryServerError, match=f"must be a loopback address such as "
                                                   f"127.0.0.1, got '{host}'"):
        check_loopback(host)


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_a_port_out_of_range_is_refused_naming_it(port: int) -> None:
    with pytest.raises(DiscoveryServerError, match=f"port must be 1..65535, got {port}"):
        client_env(port, super_client=False)


def test_the_server_command_listens_on_loopback_only(tmp_path: Path) -> None:
    profile = write_server_profile(tmp_path)
    assert server_command(Path("/x/fast-discovery-server"), 12000, profile) == [
        "/x/fast-discovery-server", "42", "-x", str(profile), "-l", "127.0.0.1", "-p", "12000"]
    assert '<interface name="127.0.0.1"/>' in profile.read_text()


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("TRUE", True), (" yes ", True), ("0", False), ("off", False), ("", False)])
def test_the_switch_reads_the_usual_spellings(value: str, expected: bool) -> None:
    assert env_flag("FLEET_DISCOVERY_SERVER", {"FLEET_DISCOVERY_SERVER": value}) is expected


def test_a_switch_that_is_neither_is_refused_naming_it() -> None:
    with pytest.raises(DiscoveryServerError,
                       match=r"FLEET_DISCOVERY_SERVER='maybe' must be true or false"):
        env_flag("FLEET_DISCOVERY_SERVER", {"FLEET_DISCOVERY_SERVER": "maybe"})


def test_the_environment_is_put_back_as_it_was() -> None:
    env = {"KEEP": "1", "ROS_SUPER_CLIENT": "FALSE"}
    with environment({"ROS_DISCOVERY_SERVER": "127.0.0.1:1", "ROS_SUPER_CLIENT": "TRUE"}, env):
        assert env == {"KEEP": "1", "ROS_SUPER_CLIENT": "TRUE",
                       "ROS_DISCOVERY_SERVER": "127.0.0.1:1"}
    assert env == {"KEEP": "1", "ROS_SUPER_CLIENT": "FALSE"}


def test_a_missing_server_executable_is_said_before_anything_starts(tmp_path: Path) -> None:
    missing = tmp_path / "fast-discovery-server"
    with pytest.raises(DiscoveryServerError, match=f"cannot run {missing}: No such file"):
        DiscoveryServer(executable=missing).start(timeout=2.0)


# ---------------------------------------------------------------- the server itself


@needs_server
def test_the_server_runs_on_a_free_loopback_port_and_stops() -> None:
    with DiscoveryServer() as server:
        pid = server.pid
        assert pid is not None
        assert Path(f"/proc/{pid}").exists()
        sockets = _udp_ports(pid)
        assert ("127.0.0.1", server.port) in sockets
        # Not one on 0.0.0.0 or another interface's address, as Fast DDS opens by default.
        assert {host for host, _ in sockets} == {"127.0.0.1"}, sockets
    assert not _alive(pid)


@needs_server
def test_a_second_server_on_a_taken_port_fails_naming_it() -> None:
    with DiscoveryServer() as first, \
            pytest.raises(DiscoveryServerError, match=f"on 127.0.0.1:{first.port} did not"):
        DiscoveryServer(first.port).start(timeout=5.0)


# ---------------------------------------------------------------- a graph through it


@pytest.fixture
def clean_discovery_env() -> Iterator[None]:
    """The test starts with no discovery server in its environment, and ends so."""
    before = {name: os.environ.pop(name, None) for name in DISCOVERY_VARIABLES}
    try:
        yield
    finally:
        for name, value in before.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


_LISTENER = """
import os
from fleet_interfaces.msg import FleetStatus
from fleet_ros.graph import RosGraph
from fleet_ros.qos import FLEET_QOS
from tests.ros_helpers import Collector
graph = RosGraph(domain_id=int(os.environ["ROS_DOMAIN_ID"]))
try:
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    def reporting():
        last = status.last()
        return {v.vehicle_id for v in last.vehicles if v.stamp.sec > 0} if last else set()
    graph.wait_for(lambda: len(reporting()) >= 3, 90.0, "three vehicles in /fleet/status")
    print(",".join(sorted(reporting())))
finally:
    graph.close()
"""


@needs_server
@pytest.mark.usefixtures("clean_discovery_env")
def test_fleet_manager_discovers_simulated_vehicles_through_the_server(tmp_path: Path) -> None:
    # fleet_manager lists no vehicle: it finds the three only by the graph's topics.
    fleet_doc = yaml.safe_load((ROOT / "config" / "fleet.yaml").read_text())
    fleet_doc["fleet_manager"]["vehicles"] = []
    fleet_doc["fleet_manager"]["status_rate_hz"] = 4.0
    fleet_doc["fleet_manager"]["charging_stations"] = str(ROOT / "config" / fleet_doc[
        "fleet_manager"]["charging_stations"])  # beside the shipped file, not this copy
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(fleet_doc))
    with claimed_domain() as domain, discovery_server(super_client=False) as server:
        env = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
        procs = [
            subprocess.Popen([sys.executable, "-m", "fleet_sim", "--ros-args",
                              "-p", "vehicle_count:=3", "--log-level", "warn"], env=env),
            subprocess.Popen([sys.executable, "-m", "fleet_manager", "--ros-args",
                              "-p", f"config_file:={tmp_path / 'fleet.yaml'}",
                              "--log-level", "warn"],
                             env={**env, **server.client_env(super_client=True)}),
        ]
        # The listener is a child process, a plain client: Fast DDS reads the variables once
        # per process, and a participant made here would stay a client of the stopped server.
        try:
            done = subprocess.run([sys.executable, "-c", _LISTENER], check=False,
                                  capture_output=True, text=True, timeout=150, cwd=ROOT,
                                  env={**env, **server.client_env(super_client=False)})
            assert all(p.poll() is None for p in procs), "a node ended"
            assert done.returncode == 0, done.stderr[-3000:]
            assert done.stdout.split()[-1] == "uav0,uav1,uav2"
        finally:
            _stop(procs)
    assert all(name not in os.environ for name in DISCOVERY_VARIABLES)


_IN_PROCESS_GRAPH = """
import os
from fleet_bringup.stack import StackOptions, fleet_graph
from fleet_manager.node import FleetManagerNode
opts = StackOptions(vehicles=3, recorder=False, discovery_server=True)
with fleet_graph(opts, int(os.environ["ROS_DOMAIN_ID"])) as fleet:
    host, port = fleet.discovery_server.split(":")
    assert host == "127.0.0.1" and int(port) > 0, fleet.discovery_server
    assert os.environ["ROS_DISCOVERY_SERVER"] == fleet.discovery_server
    manager = next(n for n in fleet.graph.nodes if isinstance(n, FleetManagerNode))
    fleet.graph.wait_for(
        lambda: len([s for s in manager.fleet.values() if s.position is not None]) >= 3,
        90.0, "fleet_manager to hear from the three vehicles")
assert "ROS_DISCOVERY_SERVER" not in os.environ
print("graph ok")
"""


@needs_server
@pytest.mark.usefixtures("clean_discovery_env")
def test_the_in_process_graph_runs_through_its_own_server() -> None:
    # In a child process: Fast DDS reads ROS_DISCOVERY_SERVER once per process, so a graph
    # made here would leave every later participant of the test process a client of a server
    # that is gone (the web_bridge tests then never discovered their graph).
    with claimed_domain() as domain:
        done = subprocess.run([sys.executable, "-c", _IN_PROCESS_GRAPH], check=False,
                              capture_output=True,
                              text=True, timeout=150,
                              env={**os.environ, "ROS_DOMAIN_ID": str(domain)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "graph ok" in done.stdout


@pytest.mark.parametrize("module", ["fleet_bringup.demo", "fleet_bringup.stack"])
def test_a_bad_switch_stops_the_demo_and_the_stack_before_anything_starts(
        module: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    monkeypatch.setenv("FLEET_DISCOVERY_SERVER", "maybe")
    with pytest.raises(SystemExit) as stopped:
        importlib.import_module(module).main(["--vehicles", "3"])
    assert stopped.value.code == 2
    assert "FLEET_DISCOVERY_SERVER='maybe' must be true or false" in capsys.readouterr().err


# ---------------------------------------------------------------- helpers


def _udp_ports(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every IPv4 UDP socket of process ``pid``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for line in Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] in inodes:
            address, port = fields[1].split(":")
            octets = bytes.fromhex(address)[::-1]
            found.add((".".join(str(b) for b in octets), int(port, 16)))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
