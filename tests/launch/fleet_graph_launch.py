"""A launch test (launch_testing) of the whole graph started by launch/fleet.launch.py:
simulated vehicles in /fleet/status, a mission created over REST flown to completion, its
rows in PostGIS, the same mission over REST and the WebSocket, and every process ending
cleanly at shutdown.

Not a pytest module: tests/launch/test_fleet_launch.py runs it with
``python -m launch_testing.launch_test`` from the repository root, giving fleet.launch.py's
arguments (configs, vehicle_count, web_port, database_url) as ``name:=value`` and the
operator's login as FLEET_TEST_USER / FLEET_TEST_PASSWORD.
"""

from __future__ import annotations

import os
import sys
import unittest
from pathlib import Path
from typing import Any

import httpx
import launch_testing
import launch_testing.actions
import launch_testing.asserts
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
# The launch_test script loads this file by path; the helpers it shares with the other tests
# are in the tests package at the repository root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fleet_core.fleet.config import load_fleet_settings_file  # noqa: E402
from fleet_interfaces.msg import FleetStatus  # noqa: E402
from fleet_ros.graph import RosGraph  # noqa: E402
from fleet_ros.qos import FLEET_QOS  # noqa: E402
from tests.ros_helpers import Collector  # noqa: E402
from tests.web_bridge.test_missions import MissionWatcher, mission_in, survey, until  # noqa: E402

FLEET_LAUNCH = ROOT / "launch" / "fleet.launch.py"


def generate_test_description() -> tuple[LaunchDescription, dict[str, Any]]:
    """Start the graph from fleet.launch.py with the arguments given to launch_test."""
    return LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(FLEET_LAUNCH))),
        launch_testing.actions.ReadyToTest(),
    ]), {}


class RemoteBridge:
    """The web_bridge the launch started, as the bridge test helpers address one."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client of the bridge (with a bearer token when given)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def token(self) -> str:
        """Log the test's operator in; return the access token."""
        def answered() -> str | None:
            try:
                with self.client() as c:
                    r = c.post("/api/v1/auth/login", data={
                        "username": os.environ["FLEET_TEST_USER"],
                        "password": os.environ["FLEET_TEST_PASSWORD"]})
            except httpx.TransportError:
                return None  # still starting
            assert r.status_code == 200, r.text
            return str(r.json()["access_token"])
        return until(answered, 30.0, "web_bridge answering a login")


class TestTheGraph(unittest.TestCase):
    """The graph at work, while the launch runs."""

    test_args: dict[str, str]  # fleet.launch.py's arguments as given to launch_test
    graph: RosGraph
    status: Collector

    @classmethod
    def setUpClass(cls) -> None:
        cls.graph = RosGraph(domain_id=int(os.environ.get("ROS_DOMAIN_ID", "0")))
        cls.status = Collector(cls.graph, FleetStatus, "/fleet/status", FLEET_QOS)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.graph.close()

    def vehicle_ids(self) -> set[str]:
        return {v.vehicle_id for v in load_fleet_settings_file(
            self.test_args["fleet_config"]).vehicles}

    def test_fleet_status_lists_every_simulated_vehicle(self) -> None:
        expected = self.vehicle_ids()

        def listed() -> set[str]:
            last = self.status.last()
            return {v.vehicle_id for v in last.vehicles} if last is not None else set()
        self.graph.wait_for(lambda: listed() == expected, 30.0,
                            f"/fleet/status listing {sorted(expected)}")

    def test_a_mission_flies_to_completion_over_rest_the_websocket_and_postgis(self) -> None:
        bridge = RemoteBridge(int(self.test_args["web_port"]))
        token = bridge.token()
        vehicles = self.vehicle_ids()
        with bridge.client(token) as c:
            until(lambda: vehicles <= {v["vehicle_id"] for v in
                                       c.get("/api/v1/vehicles").json()["items"]},
                  30.0, f"the bridge showing {sorted(vehicles)}")
            created = c.post("/api/v1/missions", json={"spec": survey(), "priority": 5})
            assert created.status_code == 201, created.text
            mid = created.json()["mission_id"]
            watcher = MissionWatcher(bridge, token, mid)  # type: ignore[arg-type]
            try:
                done = until(lambda: mission_in(c, mid, "completed", "failed", "aborted"),
                             120.0, f"mission {mid} finished")
            finally:
                seen = watcher.stop()
        assert done["state"] == "completed", done
        assert done["vehicle_id"] in vehicles
        states = [m["state"] for m in seen]
        assert "active" in states, states
        assert states[-1] == "completed", states

        engine = create_engine(self.test_args["database_url"])
        try:
            def stored() -> tuple[str, int] | None:
                with engine.connect() as conn:
                    row = conn.execute(text(
                        "select m.vehicle_id, "
                        "(select count(*) from telemetry t where t.mission_id = m.id) "
                        "from missions m where m.id = :m and m.status = 'completed' and exists "
                        "(select from mission_events e where e.mission_id = m.id "
                        " and e.to_state = 'completed')"), {"m": mid}).one_or_none()
                return (str(row[0]), int(row[1])) if row else None
            vehicle, telemetry_rows = until(stored, 30.0, f"mission {mid} stored as completed")
        finally:
            engine.dispose()
        assert vehicle == done["vehicle_id"]
        assert telemetry_rows > 0


@launch_testing.post_shutdown_test()
class TestTheShutdown(unittest.TestCase):
    """Every process of the graph, after the launch stopped it."""

    def test_every_process_exits_with_code_0(self, proc_info: Any) -> None:
        launch_testing.asserts.assertExitCodes(proc_info)

    def test_no_process_prints_a_traceback(self, proc_output: Any) -> None:
        for name in proc_output.process_names():
            output = b"".join(event.text for event in proc_output[name]).decode(errors="replace")
            assert "Traceback" not in output, f"{name}:\n{output[-3000:]}"
