"""mission_planner: plans missions, dispatches them by priority, flies them over MAVROS.

A thin adapter around ``fleet_core.execution.MissionExecutor``, which holds every rule of
planning, dispatching, flying and charging. This node declares the parameters, turns
messages, services and action goals into executor calls, and carries out what the executor
returns (driver commands through a VehicleDriver per vehicle, non-blocking, with deadlines;
announcements as messages). Action goals wait on rclpy futures, so no callback ever blocks
the executor of the node.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, assert_never

from rclpy.action.server import ActionServer, CancelResponse, GoalResponse, ServerGoalHandle
from rclpy.context import Context
from rclpy.node import Node
from rclpy.task import Future

from fleet_core.dispatch.allocation import VehicleCandidate
from fleet_core.dispatch.errors import DispatchError
from fleet_core.dispatch.state import MissionState
from fleet_core.execution import model, runs, trips
from fleet_core.execution.planning import FleetPlanning
from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.fleet.config import load_fleet_settings_file
from fleet_core.missions_config import load_planner_settings_file
from fleet_core.planning import PlanningError, RequestError, WindReport
from fleet_interfaces import msg as fm
from fleet_interfaces import srv
from fleet_interfaces.action import ExecuteMission, RequestCharge
from fleet_ros.commands import CommandOutcome, CommandRunner
from fleet_ros.entry import run_node
from fleet_ros.fleet_convert import zones_from_msg
from fleet_ros.parameters import config_file_parameter
from fleet_ros.qos import EVENTS_QOS, FLEET_QOS
from mission_planner import convert
from mission_planner.driver import VehicleDriver

GoalHandle = ServerGoalHandle[Any, Any, Any]
class MissionPlannerNode(Node):
    """Plans, dispatches and flies missions; runs the charging queue."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: Sequence[Any] | None = None) -> None:
        super().__init__("mission_planner", context=context,
                         parameter_overrides=list(parameter_overrides or []))
        path = config_file_parameter(self, "mission_planner", "missions.yaml",
                                     "missions.yaml: dispatch, charging stations, places")
        fleet_path = config_file_parameter(self, "fleet_manager", "fleet.yaml",
                                           "fleet.yaml: vehicles, no-fly zones",
                                           name="fleet_config_file")
        self.planning = FleetPlanning.from_settings(load_planner_settings_file(path),
                                                    load_fleet_settings_file(fleet_path))
        self.settings = s = self.planning.settings
        self.fleet_settings = self.planning.fleet_settings
        self.execution = runs.MissionExecutor(self.planning, self.now,
                                         warn=self.get_logger().warning)
        self.drivers: dict[str, VehicleDriver] = {}
        self.goals: dict[str, tuple[GoalHandle | None, Future[Any]]] = {}  # mission id ->
        self.charge_goals: dict[str, tuple[GoalHandle, Future[Any]]] = {}  # vehicle id ->
        self.commands = CommandRunner(self, timeout_s=s.command_timeout_s,
                                      retries=s.command_retries, on_done=self.command_done)
        self.missions_pub = self.create_publisher(fm.MissionStatusArray, "/fleet/missions",
                                                  FLEET_QOS)
        self.events_pub = self.create_publisher(fm.MissionEvent, "/fleet/mission_events",
                                                EVENTS_QOS)
        self.sessions_pub = self.create_publisher(fm.ChargingSession,
                                                  "/fleet/charging_sessions", EVENTS_QOS)
        self.queue_pub = self.create_publisher(fm.ChargingQueue, "/fleet/charging_queue",
                                               FLEET_QOS)
        self.create_subscription(fm.FleetStatus, "/fleet/status", self.on_fleet_status, FLEET_QOS)
        self.create_subscription(fm.WindObservation, "/fleet/weather/wind", self.on_wind, 10)
        self.create_subscription(fm.NoFlyZoneArray, "/fleet/no_fly_zones", self.on_zones, FLEET_QOS)
        self.execute_server = ActionServer(
            self, ExecuteMission, "~/execute_mission", execute_callback=self.execute_mission,
            goal_callback=lambda _goal: GoalResponse.ACCEPT,
            cancel_callback=self.cancel_mission)
        self.charge_server = ActionServer(
            self, RequestCharge, "~/request_charge", execute_callback=self.execute_charge,
            goal_callback=lambda _goal: GoalResponse.ACCEPT,
            cancel_callback=self.cancel_charge)
        self.create_service(srv.PlanMission, "~/plan", self.on_plan)
        for control in runs.Control:
            self.create_service(srv.MissionControl, f"~/{control.value}",
                                partial(self.on_control, control))
        self.create_service(srv.ModifyWaypoints, "~/modify_waypoints", self.on_modify)
        self.create_service(srv.SetPriority, "~/set_priority", self.on_priority)
        self.create_service(srv.SetVehiclePin, "~/set_vehicle_pin", self.on_pin)
        self.create_service(srv.ListMissions, "~/list_missions", self.on_list)
        self.create_service(srv.ScheduleRecurring, "~/schedule_recurring", self.on_recurring)
        self.create_service(srv.MissionControl, "~/cancel_recurring", self.on_cancel_recurring)
        self.create_timer(1.0 / s.tick_rate_hz, self.tick)
        self.get_logger().info(
            f"{len(self.planning.specs)} configured vehicles, {len(self.zones)} no-fly zones, "
            f"{len(s.stations)} charging stations ({s.charging_policy.value})")

    # ------------------------------------------------------------------ views
    def now(self) -> float:
        """Return the node clock in POSIX seconds."""
        return float(self.get_clock().now().nanoseconds) * 1e-9

    @property
    def vehicles(self) -> dict[str, model.FleetVehicle]:
        """The fleet picture as the planner sees it."""
        return self.planning.vehicles

    @property
    def missions(self) -> dict[str, runs.MissionEntry]:
        """Every mission the planner knows, by id."""
        return self.execution.missions

    @property
    def zones(self) -> list[NoFlyZone]:
        """The no-fly zones plans avoid."""
        return self.planning.zones

    @zones.setter
    def zones(self, zones: list[NoFlyZone]) -> None:
        self.planning.zones = zones

    def candidates(self) -> list[VehicleCandidate]:
        """The fleet snapshot the dispatcher allocates from."""
        return self.execution.candidates()

    def current_wind(self) -> WindReport | None:
        """The last wind report, unless it is too old to trust."""
        return self.planning.current_wind(self.now())

    # ------------------------------------------------------------------ topics
    def on_fleet_status(self, msg: fm.FleetStatus) -> None:
        for m in msg.vehicles:
            if str(m.vehicle_id):
                convert.update_vehicle(self.planning.vehicle(
                    str(m.vehicle_id), model=str(m.model), home_site=str(m.home_site)), m)

    def on_zones(self, msg: fm.NoFlyZoneArray) -> None:
        """Plan around the zones fleet_manager has in force (its set_no_fly_zones service)."""
        try:
            news = self.planning.take_zones(zones_from_msg(msg))
        except (ValueError, TypeError) as exc:
            self.get_logger().warning(f"ignored /fleet/no_fly_zones, keeping the "
                                      f"{len(self.zones)} zones in force: {exc}")
            return
        if news:
            self.get_logger().info(news)

    def on_wind(self, msg: fm.WindObservation) -> None:
        why = self.planning.observe_wind(float(msg.speed_mps), float(msg.direction_deg),
                                         self.now())
        if why:
            self.get_logger().warning(why, throttle_duration_sec=5.0)

    # ------------------------------------------------------------------ driving
    def driver(self, vehicle_id: str) -> VehicleDriver:
        """Return (creating on first use) the MAVROS driver of a vehicle."""
        d = self.drivers.get(vehicle_id)
        if d is None:
            d = self.drivers[vehicle_id] = VehicleDriver(
                self, self.commands, vehicle_id, self.planning.spec(vehicle_id).mavros_prefix,
                on_result=self.on_drive_result, on_reached=self.on_reached,
                upload_timeout_s=self.planning.settings.upload_timeout_s)
        return d

    def command_done(self, outcome: CommandOutcome) -> None:
        d = self.drivers.get(outcome.vehicle_id)
        if d is not None:
            d.command_done(outcome)

    def on_drive_result(self, result: model.DriveResult) -> None:
        self.execution.drive_result(result)
        self.carry_out()

    def on_reached(self, vehicle_id: str, seq: int) -> None:
        self.execution.reached(vehicle_id, seq)
        self.carry_out()

    def tick(self) -> None:
        self.execution.tick()
        self.carry_out()
        self.publish_status()
        self.publish_charging_queue(self.now())
        # After the queue: a requester told its place finds itself in the published queue.
        for vid, (goal, _done) in self.charge_goals.items():
            progress = self.execution.trips.progress(vid, self.now())
            if progress is not None and goal.is_active:
                goal.publish_feedback(convert.trip_feedback(progress))

    def carry_out(self) -> None:
        """Do what the executor decided: drive vehicles, announce plans, changes, sessions."""
        for effect in self.execution.drain():
            match effect:
                case model.FlyMission() | model.Hold() | model.Continue() | model.ReturnHome():
                    self.driver(effect.vehicle_id).perform(effect)
                case runs.PlanStarted():
                    self.publish_plan(effect)
                case runs.Changed():
                    self.publish_change(effect)
                case trips.SessionChanged():
                    self.publish_session(effect.trip, effect)
                case trips.TripEnded():
                    self.end_charge_goal(effect)
                case _:
                    assert_never(effect)
        self.publish_events()

    # ------------------------------------------------------------------ ExecuteMission
    async def execute_mission(self, goal_handle: GoalHandle) -> Any:
        g = goal_handle.request
        try:
            spec = convert.spec_object(g.spec_json)
        except ValueError as exc:
            mid, refused = str(g.mission_id).strip() or self.execution.new_mission_id(), \
                str(exc)
        else:
            mid, refused = self.execution.submit(
                str(g.mission_id), spec, priority=int(g.priority),
                vehicle_id=str(g.vehicle_id).strip() or None, created_by=str(g.created_by))
        if refused:
            self.get_logger().warning(f"mission {mid} refused: {refused}")
            goal_handle.abort()
            return ExecuteMission.Result(mission_id=mid, final_state="failed", reason=refused)
        done: Future[Any] = Future()
        self.goals[mid] = (goal_handle, done)
        self.publish_events()
        await done
        self.goals.pop(mid, None)
        m, record = self.execution.missions[mid], self.execution.dispatcher.get(mid)
        result = convert.mission_result(mid, m, record, self.now())
        if record.state is MissionState.COMPLETED:
            goal_handle.succeed()
        elif m.cancel_requested and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return result

    def cancel_mission(self, goal_handle: GoalHandle) -> CancelResponse:
        mid = next((k for k, (g, _) in self.goals.items() if g is goal_handle), None)
        if mid is None:
            return CancelResponse.REJECT
        self.execution.missions[mid].cancel_requested = True
        ok, message = self.execution.abort(mid, "action client", "goal canceled")
        self.carry_out()
        if not ok:
            self.get_logger().warning(f"cancel of {mid}: {message}")
        return CancelResponse.ACCEPT if ok else CancelResponse.REJECT

    # ------------------------------------------------------------------ services
    def _reply(self, response: Any, call: Callable[[], tuple[bool, str]]) -> Any:
        """Answer ok and message from an executor call (its errors name the problem)."""
        try:
            response.ok, response.message = call()
        except (RequestError, PlanningError, DispatchError, ValueError) as exc:
            response.ok, response.message = False, str(exc)
        self.carry_out()
        return response

    def on_control(self, control: runs.Control, request: Any, response: Any) -> Any:
        return self._reply(response, lambda: self.execution.control(
            control, str(request.mission_id), str(request.actor) or "operator",
            str(request.reason) or control.value))

    def on_modify(self, request: Any, response: Any) -> Any:
        return self._reply(response, lambda: self.execution.modify(
            str(request.mission_id),
            tuple(convert.waypoints_from_msgs(request.waypoints, request.hold_s)),
            str(request.actor) or "operator", str(request.reason)))

    def on_priority(self, request: Any, response: Any) -> Any:
        mid = str(request.mission_id)
        return self._reply(response, lambda: self.execution.change(
            mid, lambda: self.execution.dispatcher.set_priority(
                mid, int(request.priority), str(request.actor) or "operator", now=self.now())))

    def on_pin(self, request: Any, response: Any) -> Any:
        mid = str(request.mission_id)
        return self._reply(response, lambda: self.execution.change(
            mid, lambda: self.execution.dispatcher.set_pin(
                mid, str(request.vehicle_id).strip() or None, str(request.actor) or "operator",
                reason=str(request.reason), now=self.now())))

    def on_list(self, request: Any, response: Any) -> Any:
        wanted = str(request.state)
        states = [s.value for s in MissionState]
        if wanted and wanted not in states:
            response.ok = False
            response.message = f"unknown state {wanted!r}; one of {', '.join(states)} or empty"
            return response
        response.missions = [s for s in convert.statuses(self.execution, self.now())
                             if not wanted or s.state == wanted]
        response.ok, response.message = True, f"{len(response.missions)} missions"
        return response

    def on_plan(self, request: Any, response: Any) -> Any:
        try:
            plan = self.execution.preview(convert.spec_object(request.spec_json),
                                          str(request.vehicle_id) or None)
        except (RequestError, PlanningError, ValueError) as exc:
            response.ok, response.reason = False, str(exc)
            return response
        return convert.plan_response(plan, response)

    def on_recurring(self, request: Any, response: Any) -> Any:
        def schedule() -> tuple[bool, str]:
            response.template_id, response.next_at = self.execution.add_recurring(
                str(request.template_id), convert.spec_object(request.spec_json),
                recurrence=str(request.recurrence), priority=int(request.priority),
                vehicle_id=str(request.vehicle_id).strip() or None,
                created_by=str(request.created_by))
            return True, f"{response.template_id}: first occurrence at {response.next_at:.0f}"
        return self._reply(response, schedule)

    def on_cancel_recurring(self, request: Any, response: Any) -> Any:
        return self._reply(response, lambda: self.execution.cancel_recurring(
            str(request.mission_id)))

    # ------------------------------------------------------------------ RequestCharge
    async def execute_charge(self, goal_handle: GoalHandle) -> Any:
        vid = str(goal_handle.request.vehicle_id)
        try:
            reason = self.execution.request_charge(vid, *convert.charge_goal(goal_handle.request))
        except ValueError as exc:
            reason = str(exc)
        if reason:
            goal_handle.abort()
            return RequestCharge.Result(success=False, reason=reason)
        done: Future[Any] = Future()
        self.charge_goals[vid] = (goal_handle, done)
        await done
        trip = done.result()
        assert isinstance(trip, trips.Trip)
        result = convert.charge_result(trip, self.now())
        if result.success:
            goal_handle.succeed()
        elif goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return result

    def cancel_charge(self, goal_handle: GoalHandle) -> CancelResponse:
        vid = next((k for k, (g, _) in self.charge_goals.items() if g is goal_handle), None)
        if vid is None:
            return CancelResponse.REJECT
        self.execution.finish_charge(vid, success=False, reason="canceled")
        self.carry_out()
        return CancelResponse.ACCEPT

    def end_charge_goal(self, ended: trips.TripEnded) -> None:
        if ended.warning:
            self.get_logger().warning(ended.warning)
        _goal, done = self.charge_goals.pop(ended.trip.vehicle_id, (None, None))
        if done is not None and not done.done():
            done.set_result(ended.trip)

    # ------------------------------------------------------------------ outputs
    def publish_plan(self, started: runs.PlanStarted) -> None:
        """Announce the plan a vehicle is about to fly (a recorder stores path and estimates)."""
        mid = started.mission_id
        self.events_pub.publish(convert.plan_event(
            started, self.execution.missions[mid], self.execution.dispatcher.get(mid),
            self.now()))

    def publish_change(self, changed: runs.Changed) -> None:
        record = changed.record
        details = convert.change_details(self.execution.missions[record.mission_id].kind,
                                         changed.waypoints)
        self.events_pub.publish(convert.event_msg(
            changed.change, vehicle_id=record.vehicle_id or "", state=record.state,
            details_json=details))

    def publish_events(self) -> None:
        """Publish every transition the dispatcher made; settle finished goals."""
        dispatcher = self.execution.dispatcher
        for event in dispatcher.drain_events():
            record = dispatcher.get(event.mission_id)
            m = self.execution.missions.get(event.mission_id)
            self.events_pub.publish(convert.event_msg(
                event, vehicle_id=record.vehicle_id or "", state=record.state,
                details_json=convert.transition_details(m.kind if m else record.kind.value,
                                                        record.priority)))
        self.execution.settle()
        for mid, (goal, done) in self.goals.items():
            record = dispatcher.get(mid)
            if goal is not None and goal.is_active and not done.done():
                goal.publish_feedback(convert.mission_feedback(
                    mid, record, self.execution.progress(mid, record)))
            if record.state.terminal and not done.done():
                done.set_result(record.state)

    def publish_session(self, trip: trips.Trip, changed: trips.SessionChanged) -> None:
        s = changed.session
        self.sessions_pub.publish(convert.session_msg(self.settings, s))
        where = f"charging session {trip.vehicle_id} at {s.station_id}/{s.pad}"
        self.get_logger().info(
            f"{where}: started at {s.start_pct:.0f}%" if s.ended_at is None else
            f"{where}: {s.start_pct:.0f}% -> {s.end_pct:.0f}%, waited {s.queue_wait_s:.0f} s")

    def publish_charging_queue(self, now: float) -> None:
        """Publish the stations and the queue when operators should see it again."""
        try:
            rows = self.execution.trips.rows_to_show(now)
        except ValueError as exc:  # an output must never stop the tick
            self.get_logger().error(f"charging queue not published: {exc}",
                                    throttle_duration_sec=10.0)
            return
        if rows is not None:
            self.queue_pub.publish(fm.ChargingQueue(
                stamp=convert.to_time(now), entries=[convert.queue_entry_msg(q) for q in rows],
                stations=[convert.station_msg(self.settings, st)
                          for st in self.settings.stations]))

    def publish_status(self) -> None:
        msg = fm.MissionStatusArray(missions=convert.statuses(self.execution, self.now()))
        msg.header.stamp = self.get_clock().now().to_msg()
        self.missions_pub.publish(msg)

    def destroy_node(self) -> None:
        """Answer the goals still waiting and stop the action servers before the node goes."""
        for mid, (_goal, done) in self.goals.items():
            if not done.done():
                entry = self.execution.missions[mid]
                entry.reason = entry.reason or "mission planner shut down"
                done.set_result(None)
        for server in (self.execute_server, self.charge_server):
            # rclpy 9.1: destroy() trips over a result future it already dropped.
            with contextlib.suppress(ValueError):
                server.destroy()
        super().destroy_node()


def main(args: Sequence[str] | None = None) -> int:
    """Run the mission planner until shutdown."""
    # The classic executor: action goals here are coroutines awaiting futures.
    return run_node(MissionPlannerNode, args, executor_kind="single")
