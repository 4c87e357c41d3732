"""mission_planner: plans missions, dispatches them by priority, flies them over MAVROS.

A thin adapter around fleet_core: ``planning`` makes the plans, ``dispatch`` decides who flies
what, ``charging`` orders the pads. The node keeps one ``_Run`` per mission being flown and
one ``_Charge`` per vehicle going to a pad; a timer ticks the dispatcher and the charging
queue, and every decision becomes MAVROS calls through a VehicleDriver (non-blocking, with
deadlines). Action goals wait on rclpy futures, so no callback ever blocks the executor.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rclpy.action.server import ActionServer, CancelResponse, GoalResponse, ServerGoalHandle
from rclpy.context import Context
from rclpy.node import Node
from rclpy.task import Future

from fleet_core.charging.errors import ChargingError
from fleet_core.charging.model import ChargeRequest, ChargingSession, Urgency
from fleet_core.charging.queue import ChargingQueue
from fleet_core.dispatch.allocation import VehicleCandidate
from fleet_core.dispatch.demand import Demand
from fleet_core.dispatch.dispatcher import (
    Assign,
    ChargeFirst,
    Dispatcher,
    Fail,
    Preempt,
    Split,
    Unavailability,
)
from fleet_core.dispatch.errors import DispatchError
from fleet_core.dispatch.recurrence import Recurrence, RecurringTemplate
from fleet_core.dispatch.state import (
    MissionKind,
    MissionRecord,
    MissionState,
    Modification,
    check_vehicle_pin,
)
from fleet_core.errors import ConfigError
from fleet_core.fleet.config import FleetSettings, load_fleet_settings_file
from fleet_core.fleet.model import Liveness, VehicleSpec, VehicleStatus
from fleet_core.geo import GeoPoint, haversine_m
from fleet_core.mavlink import LandedState, MavCmd, MavFrame, MissionItem
from fleet_core.missions_config import PlannerSettings, load_planner_settings_file
from fleet_core.planning import (
    MissionPlan,
    MissionRequest,
    MissionType,
    PlanningContext,
    PlanningError,
    RequestError,
    WaypointKind,
    WindObservation,
    mission_item_map,
    parse_request,
    plan_mission,
    plan_remainder,
    split_survey,
    to_mission_items,
    validate_waypoints,
)
from fleet_core.planning.request import area_to_geojson
from fleet_interfaces.action import ExecuteMission, RequestCharge
from fleet_interfaces.msg import ChargingQueue as ChargingQueueMsg
from fleet_interfaces.msg import (
    ChargingQueueEntry,
    FleetStatus,
    MissionEvent,
    MissionStatusArray,
    NoFlyZoneArray,
)
from fleet_interfaces.msg import ChargingSession as ChargingSessionMsg
from fleet_interfaces.msg import (
    ChargingStation as ChargingStationMsg,
)
from fleet_interfaces.msg import (
    WindObservation as WindMsg,
)
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
from mission_planner.convert import (
    STATUS_BY_CODE,
    event_msg,
    geo_msg,
    plan_dict,
    status_msg,
    to_time,
    waypoint_rows,
    waypoints_from_msgs,
)
from mission_planner.driver import DriveResult, VehicleDriver

GoalHandle = ServerGoalHandle[Any, Any, Any]

_TAKEOFF_M = 15.0  # altitude of the hop to a charging pad


@dataclass(slots=True)
class _Vehicle:
    """The planner's view of one vehicle, from /fleet/status."""

    spec: VehicleSpec
    status: VehicleStatus = VehicleStatus.UNKNOWN
    liveness: Liveness = Liveness.LOST
    position: GeoPoint | None = None
    home: GeoPoint | None = None
    battery_pct: float = math.nan
    armed: bool = False
    landed: bool = True
    mode: str = ""


@dataclass(slots=True)
class _Mission:
    """What the node keeps per mission beside the dispatcher's record."""

    request: MissionRequest
    kind: str
    reference: MissionPlan | None = None  # the first vehicle's plan: indices count in it
    goal: GoalHandle | None = None
    done: Future[Any] | None = None
    cancel_requested: bool = False
    reason: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    flown_m: float = 0.0
    part_requests: list[MissionRequest] = field(default_factory=list)


@dataclass(slots=True)
class _Run:
    """One mission being flown by one vehicle."""

    mission_id: str
    vehicle_id: str
    plan: MissionPlan
    to_reference: list[int | None]  # run waypoint index -> reference plan index
    leg: int = 0
    item_map: list[int] = field(default_factory=list)  # mission item -> run waypoint index
    reached: int = -1  # run waypoint index
    started: bool = False
    leg_done: bool = False  # landed at a charging stop, waiting for the battery
    last_position: GeoPoint | None = None


@dataclass(slots=True)
class _Charge:
    """A vehicle's trip to a charging pad."""

    vehicle_id: str
    target_pct: float
    goal: GoalHandle | None
    done: Future[Any] | None
    for_mission: str | None = None
    state: str = "queued"  # queued | flying_to_pad | charging
    station_id: str = ""
    pad: int = -1
    session: ChargingSession | None = None
    reason: str = ""


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
        self.settings: PlannerSettings = load_planner_settings_file(path)
        self.fleet_settings: FleetSettings = load_fleet_settings_file(fleet_path)
        s = self.settings
        self.specs = {v.vehicle_id: v for v in self.fleet_settings.vehicles}
        self.zones = list(self.fleet_settings.no_fly_zones)
        self.vehicles: dict[str, _Vehicle] = {}
        self.missions: dict[str, _Mission] = {}
        self.runs: dict[str, _Run] = {}  # mission id -> run
        self.charges: dict[str, _Charge] = {}  # vehicle id -> charge
        self.drivers: dict[str, VehicleDriver] = {}
        self.wind: WindObservation | None = None
        self.templates: dict[str, MissionRequest] = {}  # recurring template id -> request
        self.dispatcher = Dispatcher(s.dispatcher, splitter=self._split,
                                     clock=self.now)
        self.charging = ChargingQueue(list(s.stations), s.charging_policy,
                                      critical_pct=s.critical_percent)
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
        self.create_service(PlanMission, "~/plan", self.plan_callback)
        for name in ("pause", "resume", "abort", "return_home"):
            self.create_service(MissionControl, f"~/{name}", self._control_service(name))
        self.create_service(ModifyWaypoints, "~/modify_waypoints", self.modify_callback)
        self.create_service(SetPriority, "~/set_priority", self.priority_callback)
        self.create_service(SetVehiclePin, "~/set_vehicle_pin", self.pin_callback)
        self.create_service(ListMissions, "~/list_missions", self.list_callback)
        self.create_service(ScheduleRecurring, "~/schedule_recurring", self.recurring_callback)
        self.create_service(MissionControl, "~/cancel_recurring",
                            self.cancel_recurring_callback)
        self.create_timer(1.0 / s.tick_rate_hz, self.tick)
        self.get_logger().info(
            f"{len(self.specs)} configured vehicles, {len(self.zones)} no-fly zones, "
            f"{len(s.stations)} charging stations ({s.charging_policy.value})")

    # ------------------------------------------------------------------ inputs
    def now(self) -> float:
        """Return the node clock in POSIX seconds."""
        return float(self.get_clock().now().nanoseconds) * 1e-9

    def spec(self, vehicle_id: str) -> VehicleSpec:
        """Return a vehicle's registry entry (a default one for a discovered vehicle)."""
        spec = self.specs.get(vehicle_id)
        if spec is None:
            spec = self.specs[vehicle_id] = VehicleSpec(vehicle_id, f"/{vehicle_id}/mavros")
        return spec

    def on_fleet_status(self, msg: FleetStatus) -> None:
        for m in msg.vehicles:
            vid = str(m.vehicle_id)
            if not vid:
                continue
            v = self.vehicles.get(vid)
            if v is None:
                if vid not in self.specs and m.model:  # discovered: fleet_manager's registry
                    self.specs[vid] = VehicleSpec(vid, f"/{vid}/mavros", model=str(m.model),
                                                  home_site=str(m.home_site))
                v = self.vehicles[vid] = _Vehicle(self.spec(vid))
            v.status = STATUS_BY_CODE.get(int(m.status), VehicleStatus.UNKNOWN)
            v.liveness = Liveness(min(int(m.liveness), 2))
            pos = GeoPoint(float(m.position.latitude), float(m.position.longitude),
                           float(m.position.altitude))
            v.position = pos if pos.is_valid() else v.position
            home = GeoPoint(float(m.home.latitude), float(m.home.longitude),
                            float(m.home.altitude))
            v.home = home if home.is_valid() and (home.latitude or home.longitude) else v.home
            v.battery_pct = float(m.battery_percent)
            v.armed = bool(m.armed)
            v.landed = int(m.landed_state) in (LandedState.ON_GROUND, LandedState.UNDEFINED)
            v.mode = str(m.autopilot_mode)

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
        speed, direction = float(msg.speed_mps), float(msg.direction_deg)
        if not (math.isfinite(speed) and speed >= 0 and math.isfinite(direction)):
            self.get_logger().warning(f"ignored wind observation: speed {speed}, direction "
                                      f"{direction}", throttle_duration_sec=5.0)
            return
        self.wind = WindObservation(speed, direction % 360.0, self.now())

    def current_wind(self) -> WindObservation | None:
        """The last wind report, unless the station has been quiet too long to trust it."""
        w = self.wind
        if w is None or self.now() - w.observed_at > self.settings.wind_max_age_s:
            return None
        return w

    def driver(self, vehicle_id: str) -> VehicleDriver:
        """Return (creating on first use) the MAVROS driver of a vehicle."""
        d = self.drivers.get(vehicle_id)
        if d is None:
            d = self.drivers[vehicle_id] = VehicleDriver(
                self, self.commands, vehicle_id, self.spec(vehicle_id).mavros_prefix,
                on_result=self.drive_result, on_reached=self.on_reached)
        return d

    def command_done(self, outcome: CommandOutcome) -> None:
        d = self.drivers.get(outcome.vehicle_id)
        if d is not None:
            d.command_done(outcome)

    # ------------------------------------------------------------------ planning
    def planning_context(self, start: GeoPoint, vehicle_id: str | None,
                home: GeoPoint | None = None, energy_wh: float | None = None, *,
                energy_limit: bool = True, payload_kg: float = 0.0) -> PlanningContext:
        """Build the planning context for a vehicle (or a typical one) at ``start``."""
        spec = self.spec(vehicle_id) if vehicle_id else self.typical_spec(payload_kg)
        s = self.settings
        return PlanningContext(
            start=start, vehicle=spec, home=home, available_energy_wh=energy_wh,
            no_fly_zones=self.zones, now=self.now(), wind=self.current_wind(), library=s.library,
            charging_stations=[(st.station_id, st.position) for st in s.stations],
            reserve_pct=s.reserve_percent, max_wind_mps=s.max_wind_mps,
            zone_margin_m=s.zone_margin_m, energy_limit=energy_limit)

    def typical_spec(self, payload_kg: float = 0.0) -> VehicleSpec:
        """The registry entry planned for when no vehicle is named: the first one (configured
        first, then discovered) that can carry ``payload_kg``, else the first.

        A delivery only some of the fleet can lift must not be refused because the first
        vehicle is a light one; the dispatcher then gives it to a vehicle that carries it.
        """
        fallback = VehicleSpec("typical", "/typical/mavros")
        for spec in self.specs.values():
            if spec.max_payload_kg >= payload_kg:
                return spec
        return next(iter(self.specs.values()), fallback)

    def preview(self, request: MissionRequest, vehicle_id: str | None = None, *,
                energy_limit: bool = True) -> MissionPlan:
        """Plan from a vehicle's position, or from the fleet origin for a typical vehicle."""
        v = self.vehicles.get(vehicle_id or "")
        start = v.position if v is not None and v.position is not None else \
            self.fleet_settings.origin
        home = v.home if v else None
        return plan_mission(request, self.planning_context(start, vehicle_id, home,
                                                           energy_limit=energy_limit,
                                                           payload_kg=request.payload_kg))

    @staticmethod
    def demand(plan: MissionPlan, request: MissionRequest, *, whole: bool = False) -> Demand:
        """What allocation needs from a plan: where the work starts and what it costs.

        A plan with charging stops needs, per charge, its biggest leg; with ``whole`` it
        counts all of its energy instead, so that the dispatcher, finding no vehicle that
        carries that much, splits the survey among vehicles.
        """
        work = [w for w in plan.waypoints
                if w.kind not in (WaypointKind.TAKEOFF, WaypointKind.TRANSIT)]
        first = work[0].position if work else plan.waypoints[-1].position
        per_leg = bool(plan.legs) and not whole
        # Range, like energy, is needed per charge: a plan with charging stops may fly
        # further in all than one battery reaches.
        energy = max(leg.energy_wh for leg in plan.legs) if per_leg else plan.energy_wh
        distance = max(leg.distance_m for leg in plan.legs) if per_leg else plan.distance_m
        return Demand(start=first, end=plan.waypoints[-1].position,
                      distance_m=distance, duration_s=plan.duration_s,
                      energy_wh=energy, reserve_wh=plan.reserve_wh,
                      payload_kg=request.payload_kg,
                      splittable=request.mission_type is MissionType.SURVEY)

    def queue_plan(self, request: MissionRequest, pinned: str | None
                   ) -> tuple[MissionPlan, bool]:
        """The plan a mission is queued with, and whether it is to be shared out.

        With ``large_surveys: split`` and two or more vehicles, an unpinned survey is planned
        whole, on one imaginary battery; when that is more than a battery holds, it is queued
        with all of its energy, so that the dispatcher splits it into parts that each fit one
        charge (with or without charging stations). Otherwise a vehicle flies it alone,
        stopping at stations when it must.
        """
        if (pinned is None and self.settings.large_surveys == "split"
                and request.mission_type is MissionType.SURVEY and len(self.candidates()) >= 2):
            whole = self.preview(request, energy_limit=False)
            over = (whole.energy_wh + whole.reserve_wh
                    > self.typical_spec(request.payload_kg).battery_capacity_wh)
            return whole, over
        # A pinned mission is planned for its own vehicle when the fleet knows it yet.
        return self.preview(request, pinned if pinned in self.vehicles else None), False

    def _split(self, record: MissionRecord, parts: int) -> list[Demand]:
        m = self.missions[record.mission_id]
        try:
            requests = split_survey(m.request, parts)
            demands = [self.demand(self.preview(r), r) for r in requests]
        except (PlanningError, RequestError) as exc:
            raise ValueError(str(exc)) from None
        m.part_requests = requests
        return demands

    # ------------------------------------------------------------------ ExecuteMission
    def new_mission_id(self, prefix: str = "m") -> str:
        """Return an id unused here and, being random, by any earlier run in the database."""
        while True:
            mid = f"{prefix}-{uuid.uuid4().hex[:12]}"
            if mid not in self.missions and mid not in self.templates:
                return mid

    def submit(self, goal: Any, goal_handle: GoalHandle | None) -> tuple[str, str]:
        """Validate, plan and queue a mission; return (mission id, "" or why it was refused)."""
        mid = str(goal.mission_id).strip() or self.new_mission_id()
        if mid in self.missions or "/" in mid:
            return mid, f"mission id {mid!r} is already used or contains '/'"
        try:
            spec = json.loads(goal.spec_json)
            if not isinstance(spec, dict):
                return mid, "spec_json must be a JSON object"
            request = parse_request(spec)
            pinned = check_vehicle_pin(str(goal.vehicle_id).strip() or None)
            plan, whole = self.queue_plan(request, pinned)
            record = MissionRecord(
                mid, int(goal.priority), MissionKind(request.mission_type.value),
                self.demand(plan, request, whole=whole),
                scheduled_at=request.scheduled_start or request.not_before,
                not_after=request.not_after, created_by=str(goal.created_by),
                pinned_vehicle_id=pinned)
        except json.JSONDecodeError as exc:
            return mid, f"spec_json is not JSON: {exc}"
        except (RequestError, PlanningError, DispatchError, ValueError) as exc:
            return mid, str(exc)
        m = _Mission(request, request.mission_type.value, goal=goal_handle)
        self.missions[mid] = m
        self.dispatcher.submit(record, now=self.now())
        self.publish_events()
        return mid, ""

    async def execute_mission(self, goal_handle: GoalHandle) -> Any:
        result = ExecuteMission.Result()
        mid, refused = self.submit(goal_handle.request, goal_handle)
        result.mission_id = mid
        if refused:
            self.get_logger().warning(f"mission {mid} refused: {refused}")
            result.final_state, result.reason = "failed", refused
            goal_handle.abort()
            return result
        m = self.missions[mid]
        m.done = Future()
        await m.done
        record = self.dispatcher.get(mid)
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
        mid = next((k for k, m in self.missions.items() if m.goal is goal_handle), None)
        if mid is None:
            return CancelResponse.REJECT
        self.missions[mid].cancel_requested = True
        ok, message = self.abort(mid, "action client", "goal canceled")
        if not ok:
            self.get_logger().warning(f"cancel of {mid}: {message}")
        return CancelResponse.ACCEPT if ok else CancelResponse.REJECT

    # ------------------------------------------------------------------ controls
    def abort(self, mid: str, actor: str, reason: str) -> tuple[bool, str]:
        """Abort a mission: the vehicle returns home."""
        record = self._record(mid)
        if record is None or record.state.terminal:
            return False, f"mission {mid!r} is unknown or finished"
        vehicle = record.vehicle_id
        self.missions[mid].reason = reason
        self.dispatcher.cancel(mid, actor, reason, now=self.now())
        if vehicle:
            self.driver(vehicle).return_home()
        self.end_run(mid)
        self.publish_events()
        return True, f"aborted; {vehicle or 'no vehicle'} returning home" if vehicle \
            else "aborted"

    def _control_service(self, name: str) -> Any:
        def callback(request: Any, response: Any) -> Any:
            return self.control_callback(name, request, response)
        return callback

    def control_callback(self, name: str, request: Any, response: Any) -> Any:
        mid, actor = str(request.mission_id), str(request.actor) or "operator"
        reason = str(request.reason) or name
        try:
            ok, message = self.control(name, mid, actor, reason)
        except (DispatchError, ValueError) as exc:
            ok, message = False, str(exc)
        response.ok, response.message = ok, message
        return response

    def control(self, name: str, mid: str, actor: str, reason: str) -> tuple[bool, str]:
        """Pause, resume, abort or send home one mission."""
        if name == "abort":
            return self.abort(mid, actor, reason)
        record = self._record(mid)
        if record is None:
            return False, f"unknown mission {mid!r}"
        run = self.runs.get(mid)
        if name == "pause":
            if record.state is not MissionState.ACTIVE or run is None:
                return False, f"mission {mid} is {record.state.value}, not active"
            self.driver(run.vehicle_id).pause()
            self.dispatcher.mark_paused(mid, reason, actor=actor, now=self.now())
        elif name == "resume":
            if record.state is not MissionState.PAUSED or run is None:
                return False, f"mission {mid} is {record.state.value}, not paused"
            self.driver(run.vehicle_id).resume()
            self.dispatcher.mark_resumed(mid, actor=actor, now=self.now())
        elif name == "return_home":
            if run is None or not record.state.holds_vehicle:
                return False, f"mission {mid} is {record.state.value}: no vehicle to send home"
            self.driver(run.vehicle_id).return_home()
            self.end_run(mid)
            self.dispatcher.hand_back(mid, f"{run.vehicle_id} sent home: {reason}",
                                      actor=actor, now=self.now())
        else:
            return False, f"unknown control {name!r}"
        self.publish_events()
        return True, f"{name}: done"

    def modify_callback(self, request: ModifyWaypoints.Request,
                        response: ModifyWaypoints.Response) -> ModifyWaypoints.Response:
        mid = str(request.mission_id)
        actor, reason = str(request.actor) or "operator", str(request.reason)
        try:
            response.ok, response.message = self.modify(mid, request, actor, reason)
        except (PlanningError, DispatchError, ValueError) as exc:
            response.ok, response.message = False, str(exc)
        return response

    def modify(self, mid: str, request: Any, actor: str, reason: str) -> tuple[bool, str]:
        """Replace the remaining waypoints of an active or paused mission."""
        if not reason:
            return False, "a reason is required to modify a mission"
        record = self._record(mid)
        run = self.runs.get(mid)
        if record is None or run is None or record.state not in (MissionState.ACTIVE,
                                                                 MissionState.PAUSED):
            return False, f"mission {mid!r} is not being flown"
        waypoints = waypoints_from_msgs(request.waypoints, request.hold_s)
        v = self.vehicles.get(run.vehicle_id)
        here = v.position if v and v.position else run.plan.waypoints[0].position
        spec = self.spec(run.vehicle_id)
        left = spec.battery_capacity_wh * v.battery_pct / 100.0 \
            if v is not None and math.isfinite(v.battery_pct) else None
        validate_waypoints(waypoints, self.planning_context(
            here, run.vehicle_id, v.home if v is not None else None, left))
        items = [MissionItem(int(MavFrame.GLOBAL_REL_ALT), int(MavCmd.NAV_WAYPOINT),
                             i == 0, True, w.hold_s, 0.0, 0.0, math.nan, w.position.latitude,
                             w.position.longitude, w.position.altitude)
                 for i, w in enumerate(waypoints)]
        items.append(MissionItem(int(MavFrame.GLOBAL_REL_ALT),
                                 int(MavCmd.NAV_RETURN_TO_LAUNCH), False, True, 0.0, 0.0,
                                 0.0, 0.0, 0.0, 0.0, 0.0))
        # The new waypoints replace the rest of the mission: progress now counts in them.
        new_plan = replace(run.plan, waypoints=tuple(waypoints), legs=(), return_index=None)
        # From here on the new waypoints are the mission: progress, and a hand-back's
        # remainder, count in them.
        self.missions[mid].reference = new_plan
        record.last_reached_index = -1
        self.runs[mid] = _Run(mid, run.vehicle_id, new_plan, list(range(len(waypoints))),
                              item_map=[*range(len(waypoints)), len(waypoints) - 1],
                              started=True, last_position=run.last_position)
        self.driver(run.vehicle_id).start(items, 0)
        change = record.modify(self.now(), actor, reason,
                               f"{len(waypoints)} remaining waypoints replaced")
        self._publish_modification(record, change, waypoints=waypoint_rows(waypoints))
        return True, f"{len(waypoints)} waypoints uploaded to {run.vehicle_id}"

    def priority_callback(self, request: SetPriority.Request,
                          response: SetPriority.Response) -> SetPriority.Response:
        mid = str(request.mission_id)
        return self._modify(mid, response, lambda: self.dispatcher.set_priority(
            mid, int(request.priority), str(request.actor) or "operator", now=self.now()))

    def pin_callback(self, request: SetVehiclePin.Request,
                     response: SetVehiclePin.Response) -> SetVehiclePin.Response:
        mid = str(request.mission_id)
        return self._modify(mid, response, lambda: self.dispatcher.set_pin(
            mid, str(request.vehicle_id).strip() or None, str(request.actor) or "operator",
            reason=str(request.reason), now=self.now()))

    def _modify(self, mid: str, response: Any, change: Callable[[], Modification]) -> Any:
        """Apply a dispatcher change, publish it and answer ok/message (errors named)."""
        try:
            done = change()
            self._publish_modification(self.dispatcher.get(mid), done)
            response.ok, response.message = True, done.summary
        except (DispatchError, ValueError) as exc:
            response.ok, response.message = False, str(exc)
        return response

    def list_callback(self, request: ListMissions.Request,
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

    def plan_callback(self, request: PlanMission.Request,
                      response: PlanMission.Response) -> PlanMission.Response:
        try:
            spec = json.loads(request.spec_json)
            if not isinstance(spec, dict):
                raise ValueError("spec_json must be a JSON object")
            vid = str(request.vehicle_id) or None
            if vid is not None and vid not in self.specs:
                raise ValueError(f"unknown vehicle {vid!r}")
            plan = self.preview(parse_request(spec), vid)
        except json.JSONDecodeError as exc:
            response.ok, response.reason = False, f"spec_json is not JSON: {exc}"
            return response
        except (RequestError, PlanningError, ValueError) as exc:
            response.ok, response.reason = False, str(exc)
            return response
        response.ok = True
        response.distance_m, response.duration_s = plan.distance_m, plan.duration_s
        response.energy_wh, response.reserve_wh = plan.energy_wh, plan.reserve_wh
        response.coverage_pct = float(plan.coverage_pct) if plan.coverage_pct is not None \
            else math.nan
        response.waypoints = [geo_msg(w.position) for w in plan.waypoints]
        response.plan_json = json.dumps(plan_dict(plan))
        return response

    def recurring_callback(self, request: ScheduleRecurring.Request,
                           response: ScheduleRecurring.Response) -> ScheduleRecurring.Response:
        tid = str(request.template_id).strip() or self.new_mission_id("r")
        try:
            if tid in self.templates or "/" in tid or "@" in tid:
                raise ValueError(f"template id {tid!r} is already used or contains / or @")
            spec = json.loads(request.spec_json)
            if not isinstance(spec, dict):
                raise ValueError("spec_json must be a JSON object")
            mission_request = parse_request(spec)
            pinned = check_vehicle_pin(str(request.vehicle_id).strip() or None)
            plan = self.preview(mission_request, pinned if pinned in self.vehicles else None)
            template = RecurringTemplate(
                tid, Recurrence.parse(str(request.recurrence)), int(request.priority),
                MissionKind(mission_request.mission_type.value),
                self.demand(plan, mission_request), created_by=str(request.created_by),
                pinned_vehicle_id=pinned)
            response.next_at = float(self.dispatcher.add_recurring(template, now=self.now()))
            self.templates[tid] = mission_request
        except json.JSONDecodeError as exc:
            response.ok, response.message = False, f"spec_json is not JSON: {exc}"
            return response
        except (RequestError, PlanningError, DispatchError, ValueError) as exc:
            response.ok, response.message = False, str(exc)
            return response
        response.ok, response.template_id = True, tid
        response.message = f"{tid}: first occurrence at {response.next_at:.0f}"
        return response

    def cancel_recurring_callback(self, request: MissionControl.Request,
                                  response: MissionControl.Response) -> MissionControl.Response:
        tid = str(request.mission_id)
        try:
            self.dispatcher.remove_recurring(tid)
        except DispatchError as exc:
            response.ok, response.message = False, str(exc)
            return response
        self.templates.pop(tid, None)
        response.ok, response.message = True, f"{tid} will not recur (missions already " \
            "spawned are not touched)"
        return response

    def adopt_spawned(self) -> None:
        """Give every mission a recurring template spawned its request."""
        for mid in self.dispatcher.missions:
            if mid not in self.missions and "@" in mid:
                request = self.templates.get(mid.split("@", 1)[0])
                if request is not None:
                    self.missions[mid] = _Mission(request, request.mission_type.value)

    # ------------------------------------------------------------------ the tick
    def candidates(self) -> list[VehicleCandidate]:
        """The fleet snapshot the dispatcher allocates from."""
        out = []
        for vid, v in self.vehicles.items():
            if v.position is None or not math.isfinite(v.battery_pct):
                continue
            try:
                out.append(VehicleCandidate(
                    vid, v.position, v.battery_pct,
                    v.spec.battery_capacity_wh * max(0.0, v.battery_pct) / 100.0, v.spec,
                    v.status, v.liveness is Liveness.FRESH))
            except DispatchError as exc:  # fleet_manager filters garbage; belt and braces
                self.get_logger().warning(f"{vid} left out of dispatch: {exc}",
                                          throttle_duration_sec=10.0)
        return out

    def tick(self) -> None:
        now = self.now()
        self.check_vehicles()
        decisions = self.dispatcher.tick(now, self.candidates(),
                                         busy=self.charging.busy_vehicles(),
                                         grounded=self.grounded_by_wind())
        self.adopt_spawned()
        for decision in decisions:
            try:
                self.apply(decision)
            except (PlanningError, DispatchError, ValueError, ChargingError) as exc:
                self.get_logger().error(f"{decision}: {exc}")
        self.tick_charging(now)
        self.track_runs()
        self.publish_events()
        self.publish_status()
        self.publish_charging_queue(now)

    def grounded_by_wind(self) -> dict[str, str]:
        """The vehicles the reported wind is above the limit of, and why: no new work until
        it drops.

        A storm that arrives after a mission was queued keeps the mission waiting (with the
        reason) instead of failing it when it is planned for a vehicle.
        """
        wind = self.current_wind()
        if wind is None:
            return {}
        default = self.settings.max_wind_mps
        why = f"by wind {wind.speed_mps:.1f} m/s"
        return {vid: why for vid, v in self.vehicles.items()
                if wind.speed_mps > (default if v.spec.max_wind_mps is None
                                     else v.spec.max_wind_mps)}

    def check_vehicles(self) -> None:
        """Hand back the missions of vehicles that went lost, critical or into maintenance."""
        for run in list(self.runs.values()):
            v = self.vehicles.get(run.vehicle_id)
            if v is None:
                continue
            why = None
            if v.liveness is Liveness.LOST or v.status is VehicleStatus.OFFLINE:
                why = Unavailability.LOST
            elif v.status is VehicleStatus.MAINTENANCE:
                why = Unavailability.MAINTENANCE
                self.driver(run.vehicle_id).return_home()
            elif math.isfinite(v.battery_pct) and v.battery_pct <= \
                    self.fleet_settings.battery.critical_percent and not run.leg_done:
                why = Unavailability.CRITICAL_BATTERY  # fleet_manager already sent it home
            if why is not None:
                self.get_logger().warning(f"{run.vehicle_id} {why.value}: mission "
                                          f"{run.mission_id} goes back to the queue")
                self.end_run(run.mission_id)
                self.dispatcher.vehicle_unavailable(run.vehicle_id, why, now=self.now())

    def apply(self, decision: Any) -> None:
        """Carry out one dispatcher decision."""
        if isinstance(decision, Assign):
            self.start_run(decision.mission_id, decision.vehicle_id, decision.resume_from_index)
        elif isinstance(decision, Preempt):
            self.end_run(decision.victim_id)  # the new upload replaces its mission
            record = self.dispatcher.get(decision.by_mission_id)
            self.start_run(decision.by_mission_id, decision.vehicle_id,
                           record.resume_from_index)
        elif isinstance(decision, ChargeFirst):
            if decision.vehicle_id not in self.charges:
                self.request_charge(decision.vehicle_id, max(decision.target_pct, 90.0),
                                    Urgency.NORMAL, for_mission=decision.mission_id)
        elif isinstance(decision, Split):
            parent = self.missions[decision.mission_id]
            for part_id, request in zip(decision.parts, parent.part_requests, strict=True):
                self.missions[part_id] = _Mission(request, parent.kind)
        elif isinstance(decision, Fail):
            self.missions[decision.mission_id].reason = decision.reason
            if decision.vehicle_id and decision.mission_id in self.runs:
                self.driver(decision.vehicle_id).return_home()
            self.end_run(decision.mission_id)

    def start_run(self, mid: str, vehicle_id: str, resume_from: int) -> None:
        """Plan a mission (or its remainder) for a vehicle and start flying it."""
        m = self.missions[mid]
        v = self.vehicles[vehicle_id]
        assert v.position is not None
        ctx = self.planning_context(v.position, vehicle_id, v.home,
                           v.spec.battery_capacity_wh * v.battery_pct / 100.0)
        try:
            if m.reference is None or resume_from <= 0:
                plan = plan_mission(m.request, ctx)
                m.reference = m.reference or plan
                to_ref: list[int | None] = list(range(len(plan.waypoints)))
            else:
                start = min(resume_from, len(m.reference.waypoints) - 1)
                plan = plan_remainder(m.reference, start, ctx)
                to_ref = _map_remainder(m.reference, start, plan)
            run = _Run(mid, vehicle_id, plan, to_ref, last_position=v.position)
            self.upload_leg(run, 0)
        except (PlanningError, ValueError) as exc:
            m.reason = f"cannot plan for {vehicle_id}: {exc}"
            self.dispatcher.mark_failed(mid, m.reason, now=self.now())
            return
        self.runs[mid] = run
        m.started_at = m.started_at or self.now()
        self.publish_plan(mid, vehicle_id, plan)

    def publish_plan(self, mid: str, vehicle_id: str, plan: MissionPlan) -> None:
        """Publish the plan a vehicle is about to fly (a recorder stores path and estimates)."""
        record = self.dispatcher.get(mid)
        m = self.missions[mid]
        details = {
            "type": m.kind, "priority": record.priority,
            "area": area_to_geojson(m.request.area) if m.request.area is not None else None,
            "plan": {"path": [[w.position.longitude, w.position.latitude]
                              for w in plan.waypoints],
                     "distance_m": plan.distance_m, "duration_s": plan.duration_s,
                     "energy_wh": plan.energy_wh},
            "waypoints": waypoint_rows(plan.waypoints)}
        self.events_pub.publish(MissionEvent(
            stamp=to_time(self.now()), mission_id=mid, from_state=record.state.value,
            to_state=record.state.value, reason=f"planned for {vehicle_id}",
            actor="mission_planner", vehicle_id=vehicle_id, details_json=json.dumps(details)))

    def upload_leg(self, run: _Run, leg: int) -> None:
        """Upload one leg of a run's plan and start it."""
        legs = len(run.plan.legs)
        items = to_mission_items(run.plan, leg=leg if legs > 1 else None)
        run.item_map = mission_item_map(run.plan, leg=leg if legs > 1 else None)
        run.leg, run.leg_done = leg, False
        self.driver(run.vehicle_id).start(items, 0)

    def end_run(self, mid: str) -> None:
        """Forget the run of a mission (its vehicle is free once the dispatcher says so)."""
        self.runs.pop(mid, None)

    def drive_result(self, result: DriveResult) -> None:
        """A MAVROS operation on a vehicle finished."""
        run = next((r for r in self.runs.values() if r.vehicle_id == result.vehicle_id), None)
        charge = self.charges.get(result.vehicle_id)
        if run is not None and result.operation == "start":
            record = self.dispatcher.get(run.mission_id)
            if not result.ok:
                reason = f"{result.vehicle_id} refused the mission: {result.detail}"
                self.missions[run.mission_id].reason = reason
                self.end_run(run.mission_id)
                if record.state.holds_vehicle:
                    self.dispatcher.mark_failed(run.mission_id, reason, now=self.now())
            elif record.state is MissionState.ASSIGNED:
                self.dispatcher.mark_active(run.mission_id, now=self.now())
            run.started = True
        elif charge is not None and result.operation == "start" and not result.ok:
            charge.reason = f"flight to the pad refused: {result.detail}"
            self.finish_charge(result.vehicle_id, success=False)
        elif not result.ok:
            self.get_logger().error(f"{result.vehicle_id} {result.operation}: {result.detail}")
        self.publish_events()

    def on_reached(self, vehicle_id: str, seq: int) -> None:
        run = next((r for r in self.runs.values() if r.vehicle_id == vehicle_id), None)
        if run is None or not 0 <= seq < len(run.item_map):
            return
        run.reached = max(run.reached, run.item_map[seq])
        ref = run.to_reference[run.reached] if run.reached < len(run.to_reference) else None
        record = self.dispatcher.get(run.mission_id)
        if ref is not None and record.state in (MissionState.ACTIVE, MissionState.PAUSED):
            self.dispatcher.mark_reached(run.mission_id, ref)
        if seq == len(run.item_map) - 1:
            if run.leg + 1 < len(run.plan.legs):
                run.leg_done = True  # landing at a charging stop; next leg when charged
            elif record.state in (MissionState.ACTIVE, MissionState.PAUSED):
                self.missions[run.mission_id].reason = "all waypoints reached"
                self.dispatcher.mark_completed(run.mission_id, now=self.now())
                self.end_run(run.mission_id)
                self.publish_events()

    def track_runs(self) -> None:
        """Accumulate flown distance; continue multi-leg plans once charged."""
        for run in list(self.runs.values()):
            v = self.vehicles.get(run.vehicle_id)
            if v is None or v.position is None:
                continue
            if run.last_position is not None:
                step = haversine_m(run.last_position, v.position)
                if step < 500.0:  # a jump is a glitch, not flight
                    self.missions[run.mission_id].flown_m += step
            run.last_position = v.position
            if run.leg_done and v.landed and not v.armed and v.battery_pct >= 95.0:
                self.upload_leg(run, run.leg + 1)

    # ------------------------------------------------------------------ charging
    def request_charge(self, vehicle_id: str, target: float, urgency: Urgency, *,
                       goal: GoalHandle | None = None, done: Future[Any] | None = None,
                       for_mission: str | None = None) -> str:
        """Queue a vehicle for a pad; return "" or why not."""
        v = self.vehicles.get(vehicle_id)
        if v is None:
            return f"vehicle {vehicle_id!r} is not in the fleet picture"
        if v.position is None or not math.isfinite(v.battery_pct):
            return f"vehicle {vehicle_id!r} has reported no position or battery level yet"
        if vehicle_id in self.charges:
            return f"vehicle {vehicle_id!r} already has a charging request"
        in_use = self.dispatcher.vehicles_in_use()
        if vehicle_id in in_use and for_mission is None:
            mission = in_use[vehicle_id]
            if urgency is Urgency.NORMAL:
                return f"vehicle {vehicle_id!r} is flying mission {mission}"
            self.end_run(mission)
            self.dispatcher.hand_back(mission, f"{vehicle_id} needs charging",
                                      actor="charging", now=self.now())
        req = ChargeRequest(vehicle_id, target, urgency, v.battery_pct,
                            v.spec.battery_capacity_wh, v.position,
                            v.spec.max_range_m * v.battery_pct / 100.0, self.now())
        try:
            self.charging.request(req, self.now())
        except ChargingError as exc:
            return str(exc)
        self.charges[vehicle_id] = _Charge(vehicle_id, target, goal, done,
                                           for_mission=for_mission)
        return ""

    async def execute_charge(self, goal_handle: GoalHandle) -> Any:
        g = goal_handle.request
        result = RequestCharge.Result()
        vid = str(g.vehicle_id)
        target = float(g.target_pct)
        reason = ""
        if not (math.isfinite(target) and 0.0 < target <= 100.0):
            reason = f"target_pct {g.target_pct} is outside (0, 100]"
        elif int(g.urgency) > RequestCharge.Goal.URGENCY_EMERGENCY:
            reason = f"unknown urgency {g.urgency}"
        done: Future[Any] = Future()
        if not reason:
            urgency = {0: Urgency.NORMAL, 1: Urgency.CRITICAL, 2: Urgency.EMERGENCY}[
                int(g.urgency)]
            reason = self.request_charge(vid, target, urgency, goal=goal_handle, done=done)
        if reason:
            result.success, result.reason = False, reason
            goal_handle.abort()
            return result
        await done
        charge = done.result()
        assert isinstance(charge, _Charge)
        s = charge.session
        result.success = s is not None and s.completed
        result.reason = charge.reason
        result.station_id, result.pad = charge.station_id, int(charge.pad)
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
        vid = next((k for k, c in self.charges.items() if c.goal is goal_handle), None)
        if vid is None:
            return CancelResponse.REJECT
        self.charges[vid].reason = "canceled"
        self.finish_charge(vid, success=False)
        return CancelResponse.ACCEPT

    def tick_charging(self, now: float) -> None:
        """Assign pads, fly vehicles to them, watch them charge, release them."""
        for a in self.charging.tick(now):
            c = self.charges.get(a.vehicle_id)
            if c is None:
                continue
            c.station_id, c.pad = a.station_id, a.pad
            self.fly_to_pad(c)
        for vid, c in list(self.charges.items()):
            v = self.vehicles.get(vid)
            if v is None:
                continue
            if c.state == "flying_to_pad" and v.landed and not v.armed and \
                    v.position is not None and self._on_pad(c, v.position):
                c.state = "charging"
                self.charging.charging_started(vid, v.battery_pct, now)
                # Sessions are published as they happen: this one now, again when it ends.
                self.publish_session(self.charging.session(vid), c)
            elif c.state == "charging" and math.isfinite(v.battery_pct) and \
                    self.charging.progress(vid, v.battery_pct, now):
                self.finish_charge(vid, success=True)
                continue
            if c.goal is not None:
                self.charge_feedback(c, v, now)

    def _on_pad(self, c: _Charge, position: GeoPoint) -> bool:
        pad = self.settings.pad(c.station_id, c.pad)
        return haversine_m(pad.position, position) <= pad.radius_m

    def fly_to_pad(self, c: _Charge) -> None:
        """Take off, fly over the pad and land on it (or start charging if already there)."""
        c.state = "flying_to_pad"
        v = self.vehicles[c.vehicle_id]
        if v.position is not None and v.landed and self._on_pad(c, v.position):
            return  # already on the pad: charging starts at the next tick
        pad = self.settings.pad(c.station_id, c.pad).position
        items = self._hop(v.position or pad, pad)
        self.driver(c.vehicle_id).start(items, 0)

    def charge_feedback(self, c: _Charge, v: _Vehicle, now: float) -> None:
        fb = RequestCharge.Feedback()
        fb.state, fb.station_id, fb.pad = c.state, c.station_id, int(c.pad)
        fb.battery_pct = float(v.battery_pct)
        waiting = self.charging.waiting()
        fb.queue_position = waiting.index(c.vehicle_id) + 1 if c.vehicle_id in waiting else 0
        for e in self.charging.estimates(now):
            if e.vehicle_id == c.vehicle_id:
                fb.estimated_wait_s, fb.time_to_full_s = float(e.wait_s), float(e.time_to_full_s)
        assert c.goal is not None
        c.goal.publish_feedback(fb)

    def finish_charge(self, vehicle_id: str, *, success: bool) -> None:
        """End a charge: release the pad, record the session, answer the goal."""
        c = self.charges.pop(vehicle_id, None)
        if c is None:
            return
        v = self.vehicles.get(vehicle_id)
        pct = v.battery_pct if v is not None and math.isfinite(v.battery_pct) else 0.0
        now = self.now()
        if c.state == "charging":
            c.session = self.charging.release(vehicle_id, pct, now)
            c.reason = c.reason or ("charged" if success else "interrupted")
            self.publish_session(c.session, c)
        else:
            try:
                self.charging.cancel(vehicle_id)
            except ChargingError as exc:
                self.get_logger().warning(f"charge of {vehicle_id}: {exc}")
        if c.done is not None and not c.done.done():
            c.done.set_result(c)
        if success and c.for_mission is None:
            self.fly_home(vehicle_id)  # free the pad; a mission would start from it

    def fly_home(self, vehicle_id: str) -> None:
        """Take off from where the vehicle is (a pad), fly home and land."""
        v = self.vehicles.get(vehicle_id)
        if v is None or v.position is None or v.home is None or \
                haversine_m(v.position, v.home) < 2.0:
            return
        self.driver(vehicle_id).start(self._hop(v.position, v.home), 0)

    @staticmethod
    def _hop(here: GeoPoint, there: GeoPoint) -> list[MissionItem]:
        """Mission items for a short hop: take off, fly over ``there``, land on it."""
        frame = int(MavFrame.GLOBAL_REL_ALT)
        return [
            MissionItem(frame, int(MavCmd.NAV_TAKEOFF), True, True, 0.0, 0.0, 0.0, math.nan,
                        here.latitude, here.longitude, _TAKEOFF_M),
            MissionItem(frame, int(MavCmd.NAV_WAYPOINT), False, True, 0.0, 0.0, 0.0,
                        math.nan, there.latitude, there.longitude, _TAKEOFF_M),
            MissionItem(frame, int(MavCmd.NAV_LAND), False, True, 0.0, 0.0, 0.0, math.nan,
                        there.latitude, there.longitude, 0.0),
        ]

    def publish_session(self, s: ChargingSession, c: _Charge) -> None:
        st = next(x for x in self.settings.stations if x.station_id == s.station_id)
        pads = [p.position for p in self.settings.pads if p.station_id == s.station_id]
        msg = ChargingSessionMsg(
            vehicle_id=s.vehicle_id, pad=int(s.pad),
            station=ChargingStationMsg(id=st.station_id, name=st.station_id,
                                       site=st.site or "", location=geo_msg(st.position),
                                       pads=[geo_msg(p) for p in pads],
                                       charge_rate_w=float(st.charge_rate_w),
                                       pad_radius_m=float(self.settings.pad(
                                           s.station_id, s.pad).radius_m)),
            requested_at=to_time(s.requested_at), started_at=to_time(s.started_at or 0.0),
            ended_at=to_time(s.ended_at or 0.0), queue_wait_s=float(s.queue_wait_s),
            start_pct=float(s.start_pct), end_pct=float(s.end_pct),
            energy_wh=float(s.energy_wh), completed=bool(s.completed))
        self.sessions_pub.publish(msg)
        if s.ended_at is None:
            self.get_logger().info(f"charging session {c.vehicle_id} at {s.station_id}/{s.pad}: "
                                   f"started at {s.start_pct:.0f}%")
            return
        self.get_logger().info(
            f"charging session {c.vehicle_id} at {s.station_id}/{s.pad}: "
            f"{s.start_pct:.0f}% -> {s.end_pct:.0f}%, waited {s.queue_wait_s:.0f} s")

    # ------------------------------------------------------------------ outputs
    def _record(self, mid: str) -> MissionRecord | None:
        try:
            return self.dispatcher.get(mid)
        except DispatchError:
            return None

    def _publish_modification(self, record: MissionRecord, change: Modification, *,
                              waypoints: list[list[Any]] | None = None) -> None:
        details: dict[str, Any] = {"type": self.missions[record.mission_id].kind}
        if waypoints is not None:
            details["waypoints"] = waypoints  # the mission from now on (a recorder keeps them)
        self.events_pub.publish(event_msg(
            change, vehicle_id=record.vehicle_id or "", state=record.state,
            details_json=json.dumps(details)))

    def publish_events(self) -> None:
        """Publish every transition the dispatcher made; settle finished goals."""
        for event in self.dispatcher.drain_events():
            record = self.dispatcher.get(event.mission_id)
            m = self.missions.get(event.mission_id)
            kind = m.kind if m else record.kind.value
            self.events_pub.publish(event_msg(
                event, vehicle_id=record.vehicle_id or "", state=record.state,
                details_json=json.dumps({"type": kind, "priority": record.priority})))
        for mid, m in self.missions.items():
            record = self.dispatcher.get(mid)
            if record.state.terminal:
                if m.ended_at is None:
                    m.ended_at = self.now()
                    self.end_run(mid)
                    if not m.reason:
                        m.reason = record.history[-1].reason if record.history else ""
                if m.done is not None and not m.done.done():
                    if m.goal is not None and m.goal.is_active:
                        m.goal.publish_feedback(self.feedback(mid, record))  # the final one
                    m.done.set_result(record.state)
            elif m.goal is not None and m.goal.is_active:
                m.goal.publish_feedback(self.feedback(mid, record))

    def progress(self, mid: str, record: MissionRecord) -> tuple[float, int, int, float, float]:
        """Return (progress %, current waypoint, count, remaining m, ETA s) of a mission."""
        m = self.missions[mid]
        ref = m.reference
        count = len(ref.waypoints) if ref is not None else 0
        if record.state is MissionState.COMPLETED:
            return 100.0, count - 1, count, 0.0, 0.0
        reached = record.last_reached_index
        run = self.runs.get(mid)
        remaining = 0.0
        if run is not None:
            v = self.vehicles.get(run.vehicle_id)
            rest = [w.position for w in run.plan.waypoints[run.reached + 1:]]
            here = v.position if v is not None and v.position is not None else None
            points = ([here] if here else []) + rest
            remaining = sum(haversine_m(a, b) for a, b in itertools.pairwise(points))
        elif ref is not None:
            rest = [w.position for w in ref.waypoints[max(0, reached):]]
            remaining = sum(haversine_m(a, b) for a, b in itertools.pairwise(rest))
        speed = m.request.speed_mps or (self.spec(run.vehicle_id).cruise_speed if run
                                        else 8.0)
        pct = 100.0 * (reached + 1) / count if count else 0.0
        return pct, reached, count, remaining, remaining / max(speed, 0.1)

    def feedback(self, mid: str, record: MissionRecord) -> Any:
        fb = ExecuteMission.Feedback()
        pct, current, count, remaining, eta = self.progress(mid, record)
        fb.mission_id, fb.state = mid, record.state.value
        fb.progress_pct, fb.current_waypoint, fb.waypoint_count = float(pct), current, count
        fb.distance_remaining_m, fb.eta_s = float(remaining), float(eta)
        fb.vehicle_id = record.vehicle_id or ""
        return fb

    def statuses(self) -> list[Any]:
        """One MissionStatus per mission (all open ones, the last finished ones)."""
        out = []
        finished = [mid for mid, m in self.missions.items() if m.ended_at is not None]
        keep = set(finished[-self.settings.finished_kept:]) if self.settings.finished_kept \
            else set()
        now = self.now()
        for mid, m in self.missions.items():
            if m.ended_at is not None and mid not in keep:
                continue
            record = self.dispatcher.get(mid)
            pct, current, count, remaining, eta = self.progress(mid, record)
            reason = m.reason or self.dispatcher.waiting_reasons.get(mid, "")
            out.append(status_msg(
                record, kind=m.kind, progress_pct=pct, current=current, count=count,
                distance_m=m.reference.distance_m if m.reference else
                record.demand.distance_m, remaining_m=remaining, eta_s=eta, reason=reason,
                now=now))
        return out

    def charging_entries(self, now: float) -> list[ChargingQueueEntry]:
        """Every vehicle of the charging queue with its place, pad and waits."""
        estimates = {e.vehicle_id: e for e in self.charging.estimates(now)}
        rates = {st.station_id: st for st in self.charging.stations}
        queued, others = [], []
        for vid, c in self.charges.items():
            v = self.vehicles.get(vid)
            pct = v.battery_pct if v is not None else math.nan
            entry = ChargingQueueEntry(vehicle_id=vid, state=c.state, station_id=c.station_id,
                                       pad=int(c.pad), battery_pct=float(pct),
                                       target_pct=float(c.target_pct), time_to_full_s=math.nan)
            e = estimates.get(vid)
            if e is not None:
                entry.state, entry.queue_position, entry.station_id = "queued", e.position, \
                    e.station_id
                entry.pad, entry.estimated_wait_s = -1, float(e.wait_s)
                entry.time_to_full_s = float(e.time_to_full_s)
                queued.append(entry)
                continue
            station = rates.get(c.station_id)
            if station is not None and math.isfinite(pct):
                entry.time_to_full_s = station.charge_time_s(
                    pct, c.target_pct, self.spec(vid).battery_capacity_wh)
            others.append(entry)
        queued.sort(key=lambda q: q.queue_position)
        return queued + sorted(others, key=lambda q: q.vehicle_id)

    def publish_charging_queue(self, now: float) -> None:
        """Publish the stations and the queue on a change, and every second while busy."""
        try:
            entries = self.charging_entries(now)
        except (ChargingError, ValueError) as exc:  # an output must never stop the tick
            self.get_logger().error(f"charging queue not published: {exc}",
                                    throttle_duration_sec=10.0)
            return
        shape = tuple((q.vehicle_id, q.state, q.queue_position, q.station_id, q.pad)
                      for q in entries)
        if self._queue_sent is not None:
            last, at = self._queue_sent
            if last == shape and (not entries or now - at < 1.0):
                return
        self._queue_sent = (shape, now)
        stations = []
        for st in self.settings.stations:
            pads = [p for p in self.settings.pads if p.station_id == st.station_id]
            stations.append(ChargingStationMsg(
                id=st.station_id, name=st.station_id, site=st.site or "",
                location=geo_msg(st.position), pads=[geo_msg(p.position) for p in pads],
                charge_rate_w=float(st.charge_rate_w),
                pad_radius_m=float(pads[0].radius_m) if pads else 0.0))
        self.queue_pub.publish(ChargingQueueMsg(stamp=to_time(now), stations=stations,
                                                entries=entries))

    def publish_status(self) -> None:
        msg = MissionStatusArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.missions = self.statuses()
        self.missions_pub.publish(msg)

    def destroy_node(self) -> None:
        """Stop the action servers before the node goes."""
        for m in getattr(self, "missions", {}).values():
            if m.done is not None and not m.done.done():
                m.reason = m.reason or "mission planner shut down"
                m.done.set_result(None)
        for server in (getattr(self, "execute_server", None),
                       getattr(self, "charge_server", None)):
            if server is None:
                continue  # the constructor failed before the servers existed
            # rclpy 9.1: destroy() trips over a result future it already dropped.
            with contextlib.suppress(ValueError):
                server.destroy()
        super().destroy_node()


def _map_remainder(reference: MissionPlan, start: int, plan: MissionPlan) -> list[int | None]:
    """Map the waypoints of a remainder plan back to the reference plan's indices."""
    out: list[int | None] = []
    k = start
    for w in plan.waypoints:
        j = k
        while j < len(reference.waypoints) and reference.waypoints[j].position != w.position:
            j += 1
        if j < len(reference.waypoints) and w.kind is not WaypointKind.TAKEOFF:
            out.append(j)
            k = j + 1
        else:
            out.append(None)
    return out


def main(args: Sequence[str] | None = None) -> int:
    """Run the mission planner until shutdown."""
    # The classic executor: action goals here are coroutines awaiting futures.
    return run_node(MissionPlannerNode, args, executor_kind="single")
