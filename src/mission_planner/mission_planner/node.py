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
import json
import math
from collections.abc import Sequence
from functools import partial
from typing import Any, assert_never

from rclpy.action.server import ActionServer, CancelResponse, GoalResponse, ServerGoalHandle
from rclpy.context import Context
from rclpy.node import Node
from rclpy.task import Future

from fleet_core.charging.model import Urgency
from fleet_core.dispatch.allocation import VehicleCandidate
from fleet_core.dispatch.errors import DispatchError
from fleet_core.dispatch.state import MissionState
from fleet_core.errors import ConfigError
from fleet_core.execution.model import (
    Continue,
    DriveResult,
    FleetVehicle,
    FlyMission,
    Hold,
    ReturnHome,
)
from fleet_core.execution.planning import FleetPlanning
from fleet_core.execution.runs import (
    Changed,
    Control,
    MissionEntry,
    MissionExecutor,
    PlanStarted,
)
from fleet_core.execution.trips import SessionChanged, Trip, TripEnded
from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.fleet.config import load_fleet_settings_file
from fleet_core.missions_config import load_planner_settings_file
from fleet_core.planning import PlanningError, RequestError, WindObservation
from fleet_core.planning.request import area_to_geojson
from fleet_interfaces.action import ExecuteMission, RequestCharge
from fleet_interfaces.msg import ChargingQueue as ChargingQueueMsg
from fleet_interfaces.msg import ChargingSession as ChargingSessionMsg
from fleet_interfaces.msg import FleetStatus, MissionEvent, MissionStatusArray, NoFlyZoneArray
from fleet_interfaces.msg import WindObservation as WindMsg
from fleet_interfaces.srv import (
    ListMissions,
    MissionControl,
    ModifyWaypoints,
    PlanMission,
    ScheduleRecurring,
    SetPriority,
    SetVehiclePin,
)
from fleet_ros.commands import CommandOutcome, CommandRunner
from fleet_ros.entry import installed_config, read_only, run_node
from fleet_ros.fleet_convert import zones_from_msg
from fleet_ros.qos import EVENTS_QOS, FLEET_QOS
from mission_planner import convert
from mission_planner.driver import VehicleDriver

GoalHandle = ServerGoalHandle[Any, Any, Any]
_URGENCY = {RequestCharge.Goal.URGENCY_NORMAL: Urgency.NORMAL,
            RequestCharge.Goal.URGENCY_CRITICAL: Urgency.CRITICAL,
            RequestCharge.Goal.URGENCY_EMERGENCY: Urgency.EMERGENCY}


def _spec(text: str) -> dict[str, Any]:
    """A request's spec_json as a JSON object (ValueError naming what is wrong)."""
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"spec_json is not JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise ValueError("spec_json must be a JSON object")
    return spec


class MissionPlannerNode(Node):
    """Plans, dispatches and flies missions; runs the charging queue."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: Sequence[Any] | None = None) -> None:
        super().__init__("mission_planner", context=context,
                         parameter_overrides=list(parameter_overrides or []))
        self.declare_parameter("config_file", "", read_only(
            "missions.yaml; empty uses the installed config/missions.yaml"))
        self.declare_parameter("fleet_config_file", "", read_only(
            "fleet.yaml (vehicles, no-fly zones); empty uses fleet_manager's installed one"))
        path = self.get_parameter("config_file").value or installed_config(
            "mission_planner", "missions.yaml")
        fleet_path = self.get_parameter("fleet_config_file").value or installed_config(
            "fleet_manager", "fleet.yaml")
        if not path or not fleet_path:
            raise ConfigError("config_file or fleet_config_file is empty and no installed "
                              "default was found")
        self.planning = FleetPlanning.from_settings(load_planner_settings_file(path),
                                                    load_fleet_settings_file(fleet_path))
        self.settings = s = self.planning.settings
        self.fleet_settings = self.planning.fleet_settings
        self.execution = MissionExecutor(self.planning, self.now,
                                         warn=self.get_logger().warning)
        self.drivers: dict[str, VehicleDriver] = {}
        self.goals: dict[str, tuple[GoalHandle | None, Future[Any]]] = {}  # mission id ->
        self.charge_goals: dict[str, tuple[GoalHandle, Future[Any]]] = {}  # vehicle id ->
        self.commands = CommandRunner(self, timeout_s=s.command_timeout_s,
                                      retries=s.command_retries, on_done=self.command_done)
        self.missions_pub = self.create_publisher(MissionStatusArray, "/fleet/missions",
                                                  FLEET_QOS)
        self.events_pub = self.create_publisher(MissionEvent, "/fleet/mission_events",
                                                EVENTS_QOS)
        self.sessions_pub = self.create_publisher(ChargingSessionMsg,
                                                  "/fleet/charging_sessions", EVENTS_QOS)
        self.queue_pub = self.create_publisher(ChargingQueueMsg, "/fleet/charging_queue",
                                               FLEET_QOS)
        self._queue_sent: tuple[Any, float] | None = None  # (what, when) last published
        self.create_subscription(FleetStatus, "/fleet/status", self.on_fleet_status, FLEET_QOS)
        self.create_subscription(WindMsg, "/fleet/weather/wind", self.on_wind, 10)
        self.create_subscription(NoFlyZoneArray, "/fleet/no_fly_zones", self.on_zones, FLEET_QOS)
        self.execute_server = ActionServer(
            self, ExecuteMission, "~/execute_mission", execute_callback=self.execute_mission,
            goal_callback=lambda _goal: GoalResponse.ACCEPT,
            cancel_callback=self.cancel_mission)
        self.charge_server = ActionServer(
            self, RequestCharge, "~/request_charge", execute_callback=self.execute_charge,
            goal_callback=lambda _goal: GoalResponse.ACCEPT,
            cancel_callback=self.cancel_charge)
        self.create_service(PlanMission, "~/plan", self.on_plan)
        for control in Control:
            self.create_service(MissionControl, f"~/{control.value}",
                                partial(self.on_control, control))
        self.create_service(ModifyWaypoints, "~/modify_waypoints", self.on_modify)
        self.create_service(SetPriority, "~/set_priority", self.on_priority)
        self.create_service(SetVehiclePin, "~/set_vehicle_pin", self.on_pin)
        self.create_service(ListMissions, "~/list_missions", self.on_list)
        self.create_service(ScheduleRecurring, "~/schedule_recurring", self.on_recurring)
        self.create_service(MissionControl, "~/cancel_recurring", self.on_cancel_recurring)
        self.create_timer(1.0 / s.tick_rate_hz, self.tick)
        self.get_logger().info(
            f"{len(self.planning.specs)} configured vehicles, {len(self.zones)} no-fly zones, "
            f"{len(s.stations)} charging stations ({s.charging_policy.value})")

    # ------------------------------------------------------------------ views
    def now(self) -> float:
        """Return the node clock in POSIX seconds."""
        return float(self.get_clock().now().nanoseconds) * 1e-9

    @property
    def vehicles(self) -> dict[str, FleetVehicle]:
        """The fleet picture as the planner sees it."""
        return self.planning.vehicles

    @property
    def missions(self) -> dict[str, MissionEntry]:
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

    def current_wind(self) -> WindObservation | None:
        """The last wind report, unless it is too old to trust."""
        return self.planning.current_wind(self.now())

    # ------------------------------------------------------------------ topics
    def on_fleet_status(self, msg: FleetStatus) -> None:
        for m in msg.vehicles:
            if str(m.vehicle_id):
                convert.update_vehicle(self.planning.vehicle(
                    str(m.vehicle_id), model=str(m.model), home_site=str(m.home_site)), m)

    def on_zones(self, msg: NoFlyZoneArray) -> None:
        """Plan around the zones fleet_manager has in force (its set_no_fly_zones service)."""
        try:
            zones = zones_from_msg(msg)
            for z in zones:
                z.validate()
        except (ValueError, TypeError) as exc:
            self.get_logger().warning(f"ignored /fleet/no_fly_zones, keeping the "
                                      f"{len(self.zones)} zones in force: {exc}")
            return
        if zones != self.zones:
            self.get_logger().info(f"{len(zones)} no-fly zones in force "
                                   f"({', '.join(z.zone_id for z in zones) or 'none'})")
        self.zones = zones

    def on_wind(self, msg: WindMsg) -> None:
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
                on_result=self.on_drive_result, on_reached=self.on_reached)
        return d

    def command_done(self, outcome: CommandOutcome) -> None:
        d = self.drivers.get(outcome.vehicle_id)
        if d is not None:
            d.command_done(outcome)

    def on_drive_result(self, result: DriveResult) -> None:
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

    def carry_out(self) -> None:
        """Do what the executor decided: drive vehicles, announce plans, changes, sessions."""
        for effect in self.execution.drain():
            match effect:
                case FlyMission() | Hold() | Continue() | ReturnHome():
                    self.driver(effect.vehicle_id).perform(effect)
                case PlanStarted():
                    self.publish_plan(effect)
                case Changed():
                    waypoints = convert.waypoint_rows(effect.waypoints) \
                        if effect.waypoints is not None else None
                    self.publish_change(effect, waypoints)
                case SessionChanged():
                    self.publish_session(effect.trip, effect)
                case TripEnded():
                    self.end_charge_goal(effect)
                case _:
                    assert_never(effect)
        self.publish_events()
        for vid, (goal, _done) in self.charge_goals.items():
            progress = self.execution.trips.progress(vid, self.now())
            if progress is not None and goal.is_active:
                goal.publish_feedback(convert.trip_feedback(progress))

    # ------------------------------------------------------------------ ExecuteMission
    async def execute_mission(self, goal_handle: GoalHandle) -> Any:
        g = goal_handle.request
        result = ExecuteMission.Result()
        try:
            spec = _spec(g.spec_json)
        except ValueError as exc:
            mid, refused = str(g.mission_id).strip() or self.execution.new_mission_id(), \
                str(exc)
        else:
            mid, refused = self.execution.submit(
                str(g.mission_id), spec, priority=int(g.priority),
                vehicle_id=str(g.vehicle_id).strip() or None, created_by=str(g.created_by))
        result.mission_id = mid
        if refused:
            self.get_logger().warning(f"mission {mid} refused: {refused}")
            result.final_state, result.reason = "failed", refused
            goal_handle.abort()
            return result
        done: Future[Any] = Future()
        self.goals[mid] = (goal_handle, done)
        self.publish_events()
        await done
        self.goals.pop(mid, None)
        m, record = self.execution.missions[mid], self.execution.dispatcher.get(mid)
        result.final_state = record.state.value  # completed | aborted | failed
        result.reason = m.reason
        result.flown_distance_m = float(m.flown_m)
        result.duration_s = float((m.ended_at or self.now()) - (m.started_at or self.now()))
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
    def on_control(self, control: Control, request: MissionControl.Request,
                   response: MissionControl.Response) -> MissionControl.Response:
        mid, actor = str(request.mission_id), str(request.actor) or "operator"
        try:
            response.ok, response.message = self.execution.control(
                control, mid, actor, str(request.reason) or control.value)
        except (DispatchError, ValueError) as exc:
            response.ok, response.message = False, str(exc)
        self.carry_out()
        return response

    def on_modify(self, request: ModifyWaypoints.Request,
                  response: ModifyWaypoints.Response) -> ModifyWaypoints.Response:
        try:
            waypoints = tuple(convert.waypoints_from_msgs(request.waypoints, request.hold_s))
            response.ok, response.message = self.execution.modify(
                str(request.mission_id), waypoints, str(request.actor) or "operator",
                str(request.reason))
        except (PlanningError, DispatchError, ValueError) as exc:
            response.ok, response.message = False, str(exc)
        self.carry_out()
        return response

    def on_priority(self, request: SetPriority.Request,
                    response: SetPriority.Response) -> SetPriority.Response:
        mid = str(request.mission_id)
        return self._change(mid, response, lambda: self.execution.dispatcher.set_priority(
            mid, int(request.priority), str(request.actor) or "operator", now=self.now()))

    def on_pin(self, request: SetVehiclePin.Request,
               response: SetVehiclePin.Response) -> SetVehiclePin.Response:
        mid = str(request.mission_id)
        return self._change(mid, response, lambda: self.execution.dispatcher.set_pin(
            mid, str(request.vehicle_id).strip() or None, str(request.actor) or "operator",
            reason=str(request.reason), now=self.now()))

    def _change(self, mid: str, response: Any, change: Any) -> Any:
        try:
            response.ok, response.message = True, self.execution.change(mid, change)
        except (DispatchError, ValueError) as exc:
            response.ok, response.message = False, str(exc)
        self.carry_out()
        return response

    def on_list(self, request: ListMissions.Request,
                response: ListMissions.Response) -> ListMissions.Response:
        wanted = str(request.state)
        states = [s.value for s in MissionState]
        if wanted and wanted not in states:
            response.ok = False
            response.message = f"unknown state {wanted!r}; one of {', '.join(states)} or empty"
            return response
        response.missions = [s for s in self.statuses() if not wanted or s.state == wanted]
        response.ok = True
        response.message = f"{len(response.missions)} missions"
        return response

    def on_plan(self, request: PlanMission.Request,
                response: PlanMission.Response) -> PlanMission.Response:
        try:
            plan = self.execution.preview(_spec(request.spec_json),
                                          str(request.vehicle_id) or None)
        except (RequestError, PlanningError, ValueError) as exc:
            response.ok, response.reason = False, str(exc)
            return response
        response.ok = True
        response.distance_m, response.duration_s = plan.distance_m, plan.duration_s
        response.energy_wh, response.reserve_wh = plan.energy_wh, plan.reserve_wh
        response.coverage_pct = float(plan.coverage_pct) if plan.coverage_pct is not None \
            else math.nan
        response.waypoints = [convert.geo_msg(w.position) for w in plan.waypoints]
        response.plan_json = json.dumps(convert.plan_dict(plan))
        return response

    def on_recurring(self, request: ScheduleRecurring.Request,
                     response: ScheduleRecurring.Response) -> ScheduleRecurring.Response:
        try:
            tid, next_at = self.execution.add_recurring(
                str(request.template_id), _spec(request.spec_json),
                recurrence=str(request.recurrence), priority=int(request.priority),
                vehicle_id=str(request.vehicle_id).strip() or None,
                created_by=str(request.created_by))
        except (RequestError, PlanningError, DispatchError, ValueError) as exc:
            response.ok, response.message = False, str(exc)
            return response
        response.ok, response.template_id, response.next_at = True, tid, next_at
        response.message = f"{tid}: first occurrence at {next_at:.0f}"
        return response

    def on_cancel_recurring(self, request: MissionControl.Request,
                            response: MissionControl.Response) -> MissionControl.Response:
        tid = str(request.mission_id)
        try:
            self.execution.cancel_recurring(tid)
        except DispatchError as exc:
            response.ok, response.message = False, str(exc)
            return response
        response.ok, response.message = True, f"{tid} will not recur (missions already " \
            "spawned are not touched)"
        return response

    # ------------------------------------------------------------------ RequestCharge
    async def execute_charge(self, goal_handle: GoalHandle) -> Any:
        g = goal_handle.request
        result = RequestCharge.Result()
        vid, target = str(g.vehicle_id), float(g.target_pct)
        reason = ""
        if not (math.isfinite(target) and 0.0 < target <= 100.0):
            reason = f"target_pct {g.target_pct} is outside (0, 100]"
        elif int(g.urgency) not in _URGENCY:
            reason = f"unknown urgency {g.urgency}"
        else:
            reason = self.execution.request_charge(vid, target, _URGENCY[int(g.urgency)])
        if reason:
            result.success, result.reason = False, reason
            goal_handle.abort()
            return result
        done: Future[Any] = Future()
        self.charge_goals[vid] = (goal_handle, done)
        await done
        trip = done.result()
        assert isinstance(trip, Trip)
        s = trip.session
        result.success = s is not None and s.completed
        result.reason = trip.reason
        result.station_id, result.pad = trip.station_id, int(trip.pad)
        if s is not None:
            result.start_pct, result.charged_pct = float(s.start_pct), float(s.end_pct)
            result.queue_wait_s = float(s.queue_wait_s)
            result.duration_s = float((s.ended_at or self.now()) - (s.started_at or
                                                                    s.requested_at))
            result.energy_wh = float(s.energy_wh)
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

    def end_charge_goal(self, ended: TripEnded) -> None:
        if ended.warning:
            self.get_logger().warning(ended.warning)
        _goal, done = self.charge_goals.pop(ended.trip.vehicle_id, (None, None))
        if done is not None and not done.done():
            done.set_result(ended.trip)

    # ------------------------------------------------------------------ outputs
    def publish_plan(self, started: PlanStarted) -> None:
        """Announce the plan a vehicle is about to fly (a recorder stores path and estimates)."""
        mid, plan = started.mission_id, started.plan
        record, m = self.execution.dispatcher.get(mid), self.execution.missions[mid]
        details = {
            "type": m.kind, "priority": record.priority,
            "area": area_to_geojson(m.request.area) if m.request.area is not None else None,
            "plan": {"path": [[w.position.longitude, w.position.latitude]
                              for w in plan.waypoints],
                     "distance_m": plan.distance_m, "duration_s": plan.duration_s,
                     "energy_wh": plan.energy_wh},
            "waypoints": convert.waypoint_rows(plan.waypoints)}
        self.events_pub.publish(MissionEvent(
            stamp=convert.to_time(self.now()), mission_id=mid, from_state=record.state.value,
            to_state=record.state.value, reason=f"planned for {started.vehicle_id}",
            actor="mission_planner", vehicle_id=started.vehicle_id,
            details_json=json.dumps(details)))

    def publish_change(self, changed: Changed, waypoints: list[list[Any]] | None) -> None:
        record = changed.record
        details: dict[str, Any] = {"type": self.execution.missions[record.mission_id].kind}
        if waypoints is not None:
            details["waypoints"] = waypoints  # the mission from now on (a recorder keeps them)
        self.events_pub.publish(convert.event_msg(
            changed.change, vehicle_id=record.vehicle_id or "", state=record.state,
            details_json=json.dumps(details)))

    def publish_events(self) -> None:
        """Publish every transition the dispatcher made; settle finished goals."""
        dispatcher = self.execution.dispatcher
        for event in dispatcher.drain_events():
            record = dispatcher.get(event.mission_id)
            m = self.execution.missions.get(event.mission_id)
            self.events_pub.publish(convert.event_msg(
                event, vehicle_id=record.vehicle_id or "", state=record.state,
                details_json=json.dumps({"type": m.kind if m else record.kind.value,
                                         "priority": record.priority})))
        self.execution.settle()
        for mid, (goal, done) in self.goals.items():
            record = dispatcher.get(mid)
            if goal is not None and goal.is_active and not done.done():
                goal.publish_feedback(convert.mission_feedback(
                    mid, record, self.execution.progress(mid, record)))
            if record.state.terminal and not done.done():
                done.set_result(record.state)

    def statuses(self) -> list[Any]:
        """One MissionStatus per mission (all open ones, the last finished ones)."""
        out, now = [], self.now()
        for mid in self.execution.listed():
            m, record = self.execution.missions[mid], self.execution.dispatcher.get(mid)
            p = self.execution.progress(mid, record)
            out.append(convert.status_msg(
                record, kind=m.kind, progress_pct=p.pct, current=p.current, count=p.count,
                distance_m=m.reference.distance_m if m.reference else
                record.demand.distance_m, remaining_m=p.remaining_m, eta_s=p.eta_s,
                reason=self.execution.reason(mid), now=now))
        return out

    def publish_session(self, trip: Trip, changed: SessionChanged) -> None:
        s = changed.session
        self.sessions_pub.publish(convert.session_msg(self.settings, s))
        where = f"charging session {trip.vehicle_id} at {s.station_id}/{s.pad}"
        self.get_logger().info(
            f"{where}: started at {s.start_pct:.0f}%" if s.ended_at is None else
            f"{where}: {s.start_pct:.0f}% -> {s.end_pct:.0f}%, waited {s.queue_wait_s:.0f} s")

    def publish_charging_queue(self, now: float) -> None:
        """Publish the stations and the queue on a change, and every second while busy."""
        try:
            rows = self.execution.trips.rows(now)
        except ValueError as exc:  # an output must never stop the tick
            self.get_logger().error(f"charging queue not published: {exc}",
                                    throttle_duration_sec=10.0)
            return
        shape = tuple((q.vehicle_id, q.state, q.queue_position, q.station_id, q.pad)
                      for q in rows)
        if self._queue_sent is not None:
            last, at = self._queue_sent
            if last == shape and (not rows or now - at < 1.0):
                return
        self._queue_sent = (shape, now)
        self.queue_pub.publish(ChargingQueueMsg(
            stamp=convert.to_time(now),
            stations=[convert.station_msg(self.settings, st) for st in self.settings.stations],
            entries=[convert.queue_entry_msg(q) for q in rows]))

    def publish_status(self) -> None:
        msg = MissionStatusArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.missions = self.statuses()
        self.missions_pub.publish(msg)

    def destroy_node(self) -> None:
        """Answer the goals still waiting and stop the action servers before the node goes."""
        for mid, (_goal, done) in getattr(self, "goals", {}).items():
            if not done.done():
                entry = self.execution.missions[mid]
                entry.reason = entry.reason or "mission planner shut down"
                done.set_result(None)
        for server in (getattr(self, "execute_server", None),
                       getattr(self, "charge_server", None)):
            if server is None:
                continue  # the constructor failed before the servers existed
            # rclpy 9.1: destroy() trips over a result future it already dropped.
            with contextlib.suppress(ValueError):
                server.destroy()
        super().destroy_node()


def main(args: Sequence[str] | None = None) -> int:
    """Run the mission planner until shutdown."""
    # The classic executor: action goals here are coroutines awaiting futures.
    return run_node(MissionPlannerNode, args, executor_kind="single")
