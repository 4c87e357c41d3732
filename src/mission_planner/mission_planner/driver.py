"""Driving one vehicle through MAVROS: upload and start, pause, resume, return home.

Each operation is a short sequence of MAVROS service calls run through the node's
CommandRunner (deadline and bounded retries per call, nothing blocks the executor). A new
operation supersedes the one in progress: the outcome of a call from an older sequence is
ignored, so an abort issued during an upload is not undone by the upload's last step.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from mavros_msgs.msg import State, WaypointReached
from mavros_msgs.srv import CommandBool, SetMode, WaypointPush, WaypointSetCurrent
from rclpy.client import Client
from rclpy.node import Node

from fleet_core.execution import model
from fleet_core.execution.model import DriveResult, Operation
from fleet_core.mavlink import MissionItem, Px4Mode
from fleet_core.mavros_topics import MavrosTopic
from fleet_ros.commands import CommandOutcome, CommandRunner
from fleet_ros.mavros_convert import items_to_waypoints
from fleet_ros.mavros_io import subscribe

_generation = itertools.count(1)


@dataclass(frozen=True, slots=True)
class _Step:
    name: str
    client: Client[Any, Any]
    request: Any
    accept: Callable[[Any], bool]
    # Whether the vehicle's state (mavros/state) shows the step done. A step that failed
    # with its effect shown is done: under load a reply is lost or late (a 200-vehicle soak
    # failed missions at "cmd/arming: no answer" with the vehicle armed), not the command.
    shown: Callable[[], bool] | None = None
    timeout_s: float | None = None  # the runner's when None


@dataclass(frozen=True, slots=True)
class _Tag:
    """Which operation (generation) and step a CommandRunner call belongs to."""

    generation: int
    step: str


class VehicleDriver:
    """MAVROS clients and the mission/reached subscription of one vehicle."""

    def __init__(self, node: Node, commands: CommandRunner, vehicle_id: str, prefix: str, *,
                 on_result: Callable[[DriveResult], None],
                 on_reached: Callable[[str, int], None],
                 upload_timeout_s: float | None = None) -> None:
        self.vehicle_id = vehicle_id
        self._upload_timeout_s = upload_timeout_s
        self._node = node
        self._commands = commands
        self._on_result = on_result
        self._on_reached = on_reached
        self._push: Client[Any, Any] = node.create_client(WaypointPush, f"{prefix}/mission/push")
        self._set_mode: Client[Any, Any] = node.create_client(SetMode, f"{prefix}/set_mode")
        self._arming: Client[Any, Any] = node.create_client(CommandBool, f"{prefix}/cmd/arming")
        self._set_current: Client[Any, Any] = node.create_client(
            WaypointSetCurrent, f"{prefix}/mission/set_current")
        self._subscriptions = subscribe(node, prefix, {
            MavrosTopic.REACHED: self._on_reached_msg, MavrosTopic.STATE: self._on_state_msg})
        self.armed = False
        self.mode = ""
        self._operation = Operation.START
        self._generation = 0
        self._steps: list[_Step] = []
        self._steps_done = 0  # of the operation in progress
        # mission/reached is latched: the last message of an earlier mission arrives at once.
        # Only a reached stamped after the upload belongs to the mission being flown.
        self._uploaded_at_ns = 0

    # --------------------------------------------------------------- operations
    def perform(self, command: model.DriverCommand) -> None:
        """Carry out one of the executor's driver commands."""
        match command:
            case model.FlyMission():
                self.start(command.items, command.start_index)
            case model.Hold():
                self.pause()
            case model.Continue():
                self.resume()
            case model.ReturnHome():
                self.return_home()
            case _:
                assert_never(command)

    def start(self, items: Sequence[MissionItem], start_index: int = 0) -> None:
        """Upload a mission, make ``start_index`` current, switch to AUTO.MISSION and arm."""
        if not items:
            raise ValueError(f"{self.vehicle_id}: cannot start an empty mission")
        if not 0 <= start_index < len(items):
            raise ValueError(f"{self.vehicle_id}: start index {start_index} outside the "
                             f"{len(items)}-item mission")
        self._uploaded_at_ns = self._node.get_clock().now().nanoseconds
        steps = [_Step("mission/push", self._push, WaypointPush.Request(
            start_index=0, waypoints=items_to_waypoints(items, start_index)),
            lambda r: bool(r.success), timeout_s=self._upload_timeout_s)]
        if start_index:
            steps.append(self._current_step(start_index))
        steps.append(self._mode_step(Px4Mode.MISSION))
        steps.append(_Step("cmd/arming", self._arming, CommandBool.Request(value=True),
                           lambda r: bool(r.success), shown=lambda: self.armed))
        self._run(Operation.START, steps)

    def pause(self) -> None:
        """Hold position (AUTO.LOITER)."""
        self._run(Operation.PAUSE, [self._mode_step(Px4Mode.LOITER)])

    def resume(self, index: int | None = None) -> None:
        """Continue the uploaded mission, from ``index`` when given."""
        steps = [self._current_step(index)] if index is not None else []
        self._run(Operation.RESUME, [*steps, self._mode_step(Px4Mode.MISSION)])

    def return_home(self) -> None:
        """Return to launch and land (AUTO.RTL)."""
        self._run(Operation.RETURN_HOME, [self._mode_step(Px4Mode.RTL)])

    def land(self) -> None:
        """Land where the vehicle is (AUTO.LAND)."""
        self._run(Operation.LAND, [self._mode_step(Px4Mode.LAND)])

    @property
    def busy(self) -> bool:
        """Tell whether an operation is still running."""
        return bool(self._steps)

    def destroy(self) -> None:
        """Drop the clients and subscriptions; outcomes still in flight are ignored."""
        self._generation = 0
        self._steps = []
        for client in (self._push, self._set_mode, self._arming, self._set_current):
            self._node.destroy_client(client)
        for sub in self._subscriptions.values():
            self._node.destroy_subscription(sub)

    # --------------------------------------------------------------- machinery
    def _mode_step(self, mode: Px4Mode) -> _Step:
        return _Step(f"set_mode {mode.value}", self._set_mode,
                     SetMode.Request(custom_mode=mode.value), lambda r: bool(r.mode_sent),
                     shown=lambda: self.mode == mode.value)

    def _current_step(self, index: int) -> _Step:
        return _Step(f"mission/set_current {index}", self._set_current,
                     WaypointSetCurrent.Request(wp_seq=index), lambda r: bool(r.success))

    def _run(self, operation: Operation, steps: list[_Step]) -> None:
        self._generation = next(_generation)
        self._operation = operation
        self._steps = steps
        self._steps_done = 0
        self._send_next()

    def _send_next(self) -> None:
        step = self._steps[0]
        self._commands.send(step.client, step.request, vehicle_id=self.vehicle_id,
                            what=step.name, accept=step.accept,
                            tag=_Tag(self._generation, step.name), timeout_s=step.timeout_s)

    def command_done(self, outcome: CommandOutcome) -> bool:
        """Take a CommandRunner outcome; return False when it is not this driver's."""
        tag = outcome.tag
        if outcome.vehicle_id != self.vehicle_id or not isinstance(tag, _Tag):
            return False
        if tag.generation != self._generation or not self._steps:
            return True  # superseded by a newer operation
        step = self._steps[0]
        if not outcome.ok and step.shown is not None and step.shown():
            self._node.get_logger().info(
                f"{self.vehicle_id} {step.name}: {outcome.detail}, but the vehicle's state "
                "shows it done: going on")
        elif not outcome.ok:
            self._steps = []
            self._on_result(DriveResult(self.vehicle_id, self._operation, False,
                                        f"{tag.step}: {outcome.detail}",
                                        untouched=self._steps_done == 0))
            return True
        self._steps.pop(0)
        self._steps_done += 1
        if self._steps:
            self._send_next()
        else:
            self._on_result(DriveResult(self.vehicle_id, self._operation, True, "done"))
        return True

    def _on_reached_msg(self, msg: WaypointReached) -> None:
        stamp_ns = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
        if self._uploaded_at_ns and stamp_ns >= self._uploaded_at_ns:
            self._on_reached(self.vehicle_id, int(msg.wp_seq))

    def _on_state_msg(self, msg: State) -> None:
        self.armed = bool(msg.armed)
        self.mode = str(msg.mode)
