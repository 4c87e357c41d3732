"""The vehicle driver: a step whose reply never came is done when the vehicle's state shows it.

No vehicle serves the MAVROS services here, so every call ends "not available"; what the
test changes is what the vehicle's mavros/state says meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from mavros_msgs.msg import State
from rclpy.node import Node

from fleet_core.execution.model import DriveResult, Operation
from fleet_core.mavlink import MavCmd, MavFrame, MissionItem, Px4Mode
from fleet_core.mavros_topics import MavrosTopic
from fleet_ros.commands import CommandOutcome, CommandRunner
from fleet_ros.graph import RosGraph
from fleet_ros.mavros_io import advertise
from mission_planner.driver import VehicleDriver

pytestmark = pytest.mark.ros

PREFIX = "/uav0/mavros"


@dataclass
class Rig:
    graph: RosGraph
    node: Node
    driver: VehicleDriver
    results: list[DriveResult]
    vehicle: Node

    def on_ros_thread(self, action: Callable[[], None]) -> None:
        """Run ``action`` once on the executor, where the driver's callbacks run."""
        def once() -> None:
            timer.cancel()
            action()
        timer = self.node.create_timer(0.01, once)

    def show_state(self, *, mode: str, armed: bool) -> None:
        """Publish the vehicle's mavros/state until the driver has taken it."""
        pub = advertise(self.vehicle, PREFIX, [MavrosTopic.STATE])[MavrosTopic.STATE]

        def taken() -> bool:
            pub.publish(State(connected=True, mode=mode, armed=armed))
            return self.driver.mode == mode and self.driver.armed == armed
        self.graph.wait_for(taken, 10.0, f"the driver to see mode {mode}, armed {armed}",
                            period=0.1)

    def result(self) -> DriveResult:
        self.graph.wait_for(lambda: self.results, 10.0, "the driver's result")
        [result] = self.results
        return result


@pytest.fixture
def rig(graph: RosGraph) -> Rig:
    node = graph.node("planner")
    results: list[DriveResult] = []
    drivers: list[VehicleDriver] = []

    def done(outcome: CommandOutcome) -> None:
        for d in drivers:
            d.command_done(outcome)

    commands = CommandRunner(node, timeout_s=0.2, retries=0, on_done=done)
    driver = VehicleDriver(node, commands, "uav0", PREFIX, on_result=results.append,
                           on_reached=lambda _v, _s: None)
    drivers.append(driver)
    return Rig(graph, node, driver, results, graph.node("vehicle"))


def test_a_mode_change_without_a_reply_is_done_when_the_state_shows_the_mode(rig: Rig) -> None:
    rig.show_state(mode=Px4Mode.LOITER.value, armed=True)
    rig.on_ros_thread(rig.driver.pause)
    assert rig.result() == DriveResult("uav0", Operation.PAUSE, True, "done")


def test_a_mode_change_without_a_reply_fails_when_the_state_shows_another_mode(
        rig: Rig) -> None:
    rig.show_state(mode=Px4Mode.MISSION.value, armed=True)
    rig.on_ros_thread(rig.driver.pause)
    result = rig.result()
    assert not result.ok
    assert result.detail == (f"set_mode {Px4Mode.LOITER.value}: service "
                             f"{PREFIX}/set_mode not available")
    assert result.untouched


def test_an_upload_without_a_reply_fails_untouched_whatever_the_state(rig: Rig) -> None:
    rig.show_state(mode=Px4Mode.MISSION.value, armed=True)
    item = MissionItem(int(MavFrame.GLOBAL_RELATIVE_ALT_INT), int(MavCmd.NAV_WAYPOINT), False, True,
                       0.0, 0.0, 0.0, 0.0, 47.4, 8.5, 20.0)
    rig.on_ros_thread(lambda: rig.driver.start([item]))
    result = rig.result()
    assert (result.ok, result.untouched) == (False, True)
    assert result.detail.startswith("mission/push: service")
