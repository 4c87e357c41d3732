"""Missions in flight: from a dispatcher decision to a completed, handed-back or failed run.

``MissionExecutor`` owns the dispatcher, the charging trips and one ``Run`` per mission
being flown. Its inputs are observations (the fleet picture in ``planning.vehicles``, a
waypoint reached, a driver operation's outcome, an operator's control) and the clock; its
outputs are ``Effect`` values drained by the caller after each input: driver commands,
plans to announce, mission changes to announce, charging-session changes. Every rule of
flying a mission lives here, where a unit test reaches it without ROS.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, assert_never

from fleet_core.charging.errors import ChargingError
from fleet_core.charging.model import ChargeRequest, Urgency
from fleet_core.dispatch.allocation import VehicleCandidate
from fleet_core.dispatch.demand import Demand
from fleet_core.dispatch.dispatcher import (
    Assign,
    ChargeFirst,
    Decision,
    Dispatcher,
    Fail,
    Preempt,
    Split,
    Start,
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
from fleet_core.execution.model import (
    Continue,
    DriverCommand,
    DriveResult,
    FlyMission,
    Hold,
    Operation,
    ReturnHome,
)
from fleet_core.execution.planning import FleetPlanning, demand
from fleet_core.execution.trips import ChargingTrips, SessionChanged, TripEffect, TripEnded
from fleet_core.fleet.model import Liveness, OperatingStatus
from fleet_core.geo import GeoPoint, haversine_m
from fleet_core.mavlink import MavCmd, MavFrame, MissionItem
from fleet_core.planning import (
    MissionPlan,
    MissionRequest,
    PlanningError,
    RequestError,
    Waypoint,
    WaypointKind,
    mission_item_map,
    parse_request,
    plan_mission,
    plan_remainder,
    split_survey,
    to_mission_items,
    validate_waypoints,
)

GLITCH_M = 500.0  # a jump between two positions longer than this is a glitch, not flight
NEXT_LEG_PCT = 95.0  # landed at a charging stop, the next leg starts at this charge
CHARGE_FIRST_PCT = 90.0  # a vehicle reserved for a mission charges at least this far
SAME_PLACE_M = 0.01  # a remainder waypoint this close to a reference one is that one
_SPEED_FALLBACK_MPS = 8.0  # for an ETA of a mission no vehicle flies yet
# A vehicle that does not take a mission upload (no answer, or a refusal) is kept out of
# dispatch for a while and the mission goes to another. Chosen again at once as the best
# vehicle, it failed mission after mission: a 200-vehicle soak failed 160 of 223 missions on
# a few vehicles whose service replies were lost. The pause doubles with each failure in a
# row and ends at the vehicle's first successful start.
SET_ASIDE_S = 60.0
SET_ASIDE_MAX_S = 600.0
MAX_UPLOAD_FAILURES = 3  # vehicles that may fail to take one mission before it fails for good


class Control(Enum):
    """Operator controls of a mission (one MissionControl service each, by value)."""

    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"
    RETURN_HOME = "return_home"


@dataclass(slots=True)
class MissionEntry:
    """What the executor keeps per mission beside the dispatcher's record."""

    request: MissionRequest
    kind: str
    reference: MissionPlan | None = None  # the first vehicle's plan: indices count in it
    cancel_requested: bool = False
    reason: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    flown_m: float = 0.0
    part_requests: list[MissionRequest] = field(default_factory=list)


@dataclass(slots=True)
class Run:
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


@dataclass(frozen=True, slots=True)
class PlanStarted:
    """A vehicle is about to fly ``plan`` for a mission: announce path and estimates."""

    mission_id: str
    vehicle_id: str
    plan: MissionPlan


@dataclass(frozen=True, slots=True)
class Changed:
    """An operator changed a mission; ``waypoints`` are the mission from now on, if new."""

    record: MissionRecord
    change: Modification
    waypoints: tuple[Waypoint, ...] | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a mission is: percent of waypoints, the current one, metres and time left."""

    pct: float
    current: int
    count: int
    remaining_m: float
    eta_s: float


Effect = DriverCommand | PlanStarted | Changed | TripEffect


def waypoint_items(waypoints: tuple[Waypoint, ...]) -> tuple[MissionItem, ...]:
    """Mission items for operator waypoints: fly each (holding as asked), then RTL."""
    frame = int(MavFrame.GLOBAL_REL_ALT)
    items = [MissionItem(frame, int(MavCmd.NAV_WAYPOINT), i == 0, True, w.hold_s, 0.0, 0.0,
                         math.nan, w.position.latitude, w.position.longitude,
                         w.position.altitude)
             for i, w in enumerate(waypoints)]
    items.append(MissionItem(frame, int(MavCmd.NAV_RETURN_TO_LAUNCH), False, True, 0.0, 0.0,
                             0.0, 0.0, 0.0, 0.0, 0.0))
    return tuple(items)


def _same_place(a: GeoPoint, b: GeoPoint) -> bool:
    # plan_remainder re-projects every position: the same waypoint comes back equal to a few
    # micrometres, not to the last bit of the float.
    return abs(a.altitude - b.altitude) <= SAME_PLACE_M and haversine_m(a, b) <= SAME_PLACE_M


def map_remainder(reference: MissionPlan, start: int, plan: MissionPlan) -> list[int | None]:
    """Map the waypoints of a remainder plan back to the reference plan's indices."""
    out: list[int | None] = []
    k = start
    for w in plan.waypoints:
        j = k
        while j < len(reference.waypoints) and \
                not _same_place(reference.waypoints[j].position, w.position):
            j += 1
        if j < len(reference.waypoints) and w.kind is not WaypointKind.TAKEOFF:
            out.append(j)
            k = j + 1
        else:
            out.append(None)
    return out


class MissionExecutor:
    """Plans, dispatches and flies missions; sends vehicles to charge."""

    def __init__(self, planning: FleetPlanning, clock: Callable[[], float], *,
                 warn: Callable[[str], object] = lambda _message: None) -> None:
        self.planning = planning
        self.dispatcher = Dispatcher(planning.settings.dispatcher, splitter=self._split,
                                     clock=clock)
        self.trips = ChargingTrips(planning.settings, planning.vehicles)
        self.missions: dict[str, MissionEntry] = {}
        self.runs: dict[str, Run] = {}  # mission id -> run
        self.templates: dict[str, MissionRequest] = {}  # recurring template id -> request
        self.now = clock
        self._warn = warn
        self._left_out: dict[str, str] = {}  # vehicle id -> why dispatch cannot use it
        # vehicle id -> (set aside until, failures in a row) for not taking an upload
        self._set_aside: dict[str, tuple[float, int]] = {}
        self._upload_failures: dict[str, list[str]] = {}  # mission id -> vehicles that failed
        self._out: list[Effect] = []

    def drain(self) -> list[Effect]:
        """Return, and forget, what is to be done since the last drain."""
        out, self._out = self._out, []
        return out

    def record(self, mid: str) -> MissionRecord | None:
        """The dispatcher's record of a mission, None for an unknown one."""
        try:
            return self.dispatcher.get(mid)
        except DispatchError:
            return None

    def run_of(self, vehicle_id: str) -> Run | None:
        """The run a vehicle is flying, if any."""
        return next((r for r in self.runs.values() if r.vehicle_id == vehicle_id), None)

    def new_mission_id(self, prefix: str = "m") -> str:
        """Return an id unused here and, being random, by any earlier run in the database."""
        while True:
            mid = f"{prefix}-{uuid.uuid4().hex[:12]}"
            if mid not in self.missions and mid not in self.templates:
                return mid

    # ------------------------------------------------------------------ requests
    def submit(self, mission_id: str, spec: Mapping[str, Any], *, priority: int,
               vehicle_id: str | None, created_by: str) -> tuple[str, str]:
        """Validate, plan and queue a mission; return (mission id, "" or why it was refused)."""
        mid = mission_id.strip() or self.new_mission_id()
        if mid in self.missions or "/" in mid:
            return mid, f"mission id {mid!r} is already used or contains '/'"
        try:
            request = parse_request(dict(spec))
            pinned = check_vehicle_pin(vehicle_id)
            plan, whole = self.planning.queue_plan(request, pinned, len(self.candidates()),
                                                   self.now())
            record = MissionRecord(
                mid, priority, MissionKind(request.mission_type.value),
                demand(plan, request, whole=whole),
                scheduled_at=request.scheduled_start or request.not_before,
                not_after=request.not_after, created_by=created_by,
                pinned_vehicle_id=pinned)
        except (RequestError, PlanningError, DispatchError, ValueError) as exc:
            return mid, str(exc)
        self.missions[mid] = MissionEntry(request, request.mission_type.value)
        self.dispatcher.submit(record, now=self.now())
        return mid, ""

    def preview(self, spec: Mapping[str, Any], vehicle_id: str | None) -> MissionPlan:
        """Plan without flying (raises RequestError, PlanningError or ValueError)."""
        if vehicle_id is not None and vehicle_id not in self.planning.specs:
            raise ValueError(f"unknown vehicle {vehicle_id!r}")
        return self.planning.preview(parse_request(dict(spec)), vehicle_id, self.now())

    def add_recurring(self, template_id: str, spec: Mapping[str, Any], *, recurrence: str,
                      priority: int, vehicle_id: str | None, created_by: str
                      ) -> tuple[str, float]:
        """Schedule a recurring mission; return its template id and first occurrence.

        Raises RequestError, PlanningError, DispatchError or ValueError naming the problem.
        """
        tid = template_id.strip() or self.new_mission_id("r")
        if tid in self.templates or "/" in tid or "@" in tid:
            raise ValueError(f"template id {tid!r} is already used or contains / or @")
        request = parse_request(dict(spec))
        pinned = check_vehicle_pin(vehicle_id)
        plan = self.planning.preview(request, pinned if pinned in self.planning.vehicles
                                     else None, self.now())
        template = RecurringTemplate(
            tid, Recurrence.parse(recurrence), priority,
            MissionKind(request.mission_type.value), demand(plan, request),
            created_by=created_by, pinned_vehicle_id=pinned)
        next_at = float(self.dispatcher.add_recurring(template, now=self.now()))
        self.templates[tid] = request
        return tid, next_at

    def cancel_recurring(self, template_id: str) -> tuple[bool, str]:
        """Stop a recurring mission (raises DispatchError for an unknown one)."""
        self.dispatcher.remove_recurring(template_id)
        self.templates.pop(template_id, None)
        return True, f"{template_id} will not recur (missions already spawned are not touched)"

    def _split(self, record: MissionRecord, parts: int) -> list[Demand]:
        m = self.missions[record.mission_id]
        try:
            requests = split_survey(m.request, parts)
            demands = [demand(self.planning.preview(r, None, self.now()), r)
                       for r in requests]
        except (PlanningError, RequestError) as exc:
            raise ValueError(str(exc)) from None
        m.part_requests = requests
        return demands

    # ------------------------------------------------------------------ controls
    def abort(self, mid: str, actor: str, reason: str) -> tuple[bool, str]:
        """Abort a mission: the vehicle returns home."""
        record = self.record(mid)
        if record is None or record.state.terminal:
            return False, f"mission {mid!r} is unknown or finished"
        vehicle = record.vehicle_id
        self.missions[mid].reason = reason
        self.dispatcher.cancel(mid, actor, reason, now=self.now())
        if vehicle:
            self._out.append(ReturnHome(vehicle))
        self.runs.pop(mid, None)
        return True, f"aborted; {vehicle} returning home" if vehicle else "aborted"

    def control(self, control: Control, mid: str, actor: str, reason: str) -> tuple[bool, str]:
        """Pause, resume, abort or send home one mission (raises DispatchError)."""
        if control is Control.ABORT:
            return self.abort(mid, actor, reason)
        record = self.record(mid)
        if record is None:
            return False, f"unknown mission {mid!r}"
        run = self.runs.get(mid)
        match control:
            case Control.PAUSE:
                if record.state is not MissionState.ACTIVE or run is None:
                    return False, f"mission {mid} is {record.state.value}, not active"
                self._out.append(Hold(run.vehicle_id))
                self.dispatcher.mark_paused(mid, reason, actor=actor, now=self.now())
            case Control.RESUME:
                if record.state is not MissionState.PAUSED or run is None:
                    return False, f"mission {mid} is {record.state.value}, not paused"
                self._out.append(Continue(run.vehicle_id))
                self.dispatcher.mark_resumed(mid, actor=actor, now=self.now())
            case Control.RETURN_HOME:
                if run is None or not record.state.holds_vehicle:
                    return False, (f"mission {mid} is {record.state.value}: no vehicle to "
                                   "send home")
                self._out.append(ReturnHome(run.vehicle_id))
                self.runs.pop(mid, None)
                self.dispatcher.hand_back(mid, f"{run.vehicle_id} sent home: {reason}",
                                          actor=actor, now=self.now())
            case _:
                assert_never(control)
        return True, f"{control.value}: done"

    def modify(self, mid: str, waypoints: tuple[Waypoint, ...], actor: str,
               reason: str) -> tuple[bool, str]:
        """Replace the remaining waypoints of an active or paused mission.

        Raises PlanningError when the new waypoints enter a zone or cannot be flown on the
        battery left.
        """
        if not reason:
            return False, "a reason is required to modify a mission"
        record = self.record(mid)
        run = self.runs.get(mid)
        if record is None or run is None or record.state not in (MissionState.ACTIVE,
                                                                 MissionState.PAUSED):
            return False, f"mission {mid!r} is not being flown"
        v = self.planning.vehicles.get(run.vehicle_id)
        here = v.position if v and v.position else run.plan.waypoints[0].position
        left = v.energy_wh if v is not None and math.isfinite(v.battery_pct) else None
        validate_waypoints(waypoints, self.planning.context(
            here, run.vehicle_id, self.now(), v.home if v is not None else None, left))
        # The new waypoints replace the rest of the mission: from here on progress, and a
        # hand-back's remainder, count in them.
        new_plan = replace(run.plan, waypoints=waypoints, legs=(), return_index=None)
        self.missions[mid].reference = new_plan
        record.last_reached_index = -1
        self.runs[mid] = Run(mid, run.vehicle_id, new_plan, list(range(len(waypoints))),
                             item_map=[*range(len(waypoints)), len(waypoints) - 1],
                             started=True, last_position=run.last_position)
        self._out.append(FlyMission(run.vehicle_id, waypoint_items(waypoints)))
        change = record.modify(self.now(), actor, reason,
                               f"{len(waypoints)} remaining waypoints replaced")
        self._out.append(Changed(record, change, waypoints))
        return True, f"{len(waypoints)} waypoints uploaded to {run.vehicle_id}"

    def change(self, mid: str, change: Callable[[], Modification]) -> tuple[bool, str]:
        """Apply a dispatcher change (priority, pin) and announce it; say what it did."""
        done = change()
        self._out.append(Changed(self.dispatcher.get(mid), done))
        return True, done.summary

    # ------------------------------------------------------------------ the tick
    def candidates(self) -> list[VehicleCandidate]:
        """The fleet snapshot the dispatcher allocates from."""
        out = []
        for vid, v in self.planning.vehicles.items():
            if v.position is None or not math.isfinite(v.battery_pct):
                continue
            try:
                out.append(VehicleCandidate(
                    vid, v.position, v.battery_pct, v.energy_wh, v.spec, v.status,
                    v.liveness is Liveness.FRESH))
                self._left_out.pop(vid, None)
            except DispatchError as exc:  # fleet_manager filters garbage; belt and braces
                if self._left_out.get(vid) != str(exc):  # once per reason, not every tick
                    self._left_out[vid] = str(exc)
                    self._warn(f"{vid} left out of dispatch: {exc}")
        return out

    def tick(self) -> None:
        """Hand back, dispatch, charge and follow the runs (effects to be drained)."""
        now = self.now()
        self.check_vehicles()
        grounded = self.planning.grounded_by_wind(now)
        for vid, (until, _) in self._set_aside.items():
            if now < until:
                grounded.setdefault(vid, "after failing to take a mission upload")
        decisions = self.dispatcher.tick(now, self.candidates(),
                                         busy=self.trips.busy_vehicles(), grounded=grounded)
        self._adopt_spawned()
        for decision in decisions:
            try:
                self.apply(decision)
            except (PlanningError, DispatchError, ValueError, ChargingError) as exc:
                self._warn(f"{decision}: {exc}")
        self._out.extend(self.trips.tick(now))
        self.track_runs()

    def _adopt_spawned(self) -> None:
        """Give every mission a recurring template spawned its request."""
        for mid in self.dispatcher.missions:
            if mid not in self.missions and "@" in mid:
                request = self.templates.get(mid.split("@", 1)[0])
                if request is not None:
                    self.missions[mid] = MissionEntry(request, request.mission_type.value)

    def check_vehicles(self) -> None:
        """Hand back the missions of vehicles that went lost, critical or into maintenance."""
        critical = self.planning.fleet_settings.battery.critical_percent
        for run in list(self.runs.values()):
            v = self.planning.vehicles.get(run.vehicle_id)
            if v is None:
                continue
            why = None
            if v.liveness is Liveness.LOST or v.status is OperatingStatus.OFFLINE:
                why = Unavailability.LOST
            elif v.status is OperatingStatus.MAINTENANCE:
                why = Unavailability.MAINTENANCE
                self._out.append(ReturnHome(run.vehicle_id))
            elif math.isfinite(v.battery_pct) and v.battery_pct <= critical \
                    and not run.leg_done:
                why = Unavailability.CRITICAL_BATTERY  # fleet_manager already sent it home
            if why is not None:
                self._warn(f"{run.vehicle_id} {why.value}: mission {run.mission_id} goes back "
                           "to the queue")
                self.runs.pop(run.mission_id, None)
                self.dispatcher.vehicle_unavailable(run.vehicle_id, why, now=self.now())

    def apply(self, decision: Decision) -> None:
        """Carry out one dispatcher decision."""
        match decision:
            case Assign():
                self.start_run(decision.mission_id, decision.vehicle_id,
                               decision.resume_from_index)
            case Preempt():
                self.runs.pop(decision.victim_id, None)  # the new upload replaces it
                record = self.dispatcher.get(decision.by_mission_id)
                self.start_run(decision.by_mission_id, decision.vehicle_id,
                               record.resume_from_index)
            case ChargeFirst():
                if decision.vehicle_id not in self.trips.trips:
                    # A refusal (no station, already queued) is not logged: the dispatcher
                    # decides again on the next tick and the mission shows why it waits.
                    self.request_charge(decision.vehicle_id,
                                        max(decision.target_pct, CHARGE_FIRST_PCT),
                                        Urgency.NORMAL, for_mission=decision.mission_id)
            case Split():
                parent = self.missions[decision.mission_id]
                for part_id, request in zip(decision.parts, parent.part_requests,
                                            strict=True):
                    self.missions[part_id] = MissionEntry(request, parent.kind)
            case Fail():
                self.missions[decision.mission_id].reason = decision.reason
                if decision.vehicle_id and decision.mission_id in self.runs:
                    self._out.append(ReturnHome(decision.vehicle_id))
                self.runs.pop(decision.mission_id, None)
            case Start():
                pass  # a scheduled mission joined the queue: the next tick may assign it
            case _:
                assert_never(decision)

    def start_run(self, mid: str, vehicle_id: str, resume_from: int) -> None:
        """Plan a mission (or its remainder) for a vehicle and start flying it."""
        m = self.missions[mid]
        v = self.planning.vehicles[vehicle_id]
        if v.position is None:
            raise ValueError(f"{vehicle_id} has no position to plan {mid} from")
        ctx = self.planning.context(v.position, vehicle_id, self.now(), v.home,
                                    v.spec.battery_capacity_wh * v.battery_pct / 100.0)
        try:
            if m.reference is None or resume_from <= 0:
                plan = plan_mission(m.request, ctx)
                m.reference = m.reference or plan
                to_ref: list[int | None] = list(range(len(plan.waypoints)))
            else:
                start = min(resume_from, len(m.reference.waypoints) - 1)
                plan = plan_remainder(m.reference, start, ctx)
                to_ref = map_remainder(m.reference, start, plan)
            run = Run(mid, vehicle_id, plan, to_ref, last_position=v.position)
            self._upload_leg(run, 0)
        except (PlanningError, ValueError) as exc:
            m.reason = f"cannot plan for {vehicle_id}: {exc}"
            self.dispatcher.mark_failed(mid, m.reason, now=self.now())
            return
        self.runs[mid] = run
        m.started_at = m.started_at or self.now()
        self._out.append(PlanStarted(mid, vehicle_id, plan))

    def _upload_leg(self, run: Run, leg: int) -> None:
        """Upload one leg of a run's plan and start it."""
        legs = len(run.plan.legs)
        items = to_mission_items(run.plan, leg=leg if legs > 1 else None)
        if not items:
            raise ValueError(f"{run.vehicle_id}: leg {leg} of {run.mission_id} is empty")
        run.item_map = mission_item_map(run.plan, leg=leg if legs > 1 else None)
        run.leg, run.leg_done = leg, False
        self._out.append(FlyMission(run.vehicle_id, tuple(items)))

    def track_runs(self) -> None:
        """Accumulate flown distance; continue multi-leg plans once charged."""
        for run in list(self.runs.values()):
            v = self.planning.vehicles.get(run.vehicle_id)
            if v is None or v.position is None:
                continue
            if run.last_position is not None:
                step = haversine_m(run.last_position, v.position)
                if step < GLITCH_M:
                    self.missions[run.mission_id].flown_m += step
            run.last_position = v.position
            if run.leg_done and v.landed and not v.armed and v.battery_pct >= NEXT_LEG_PCT:
                self._upload_leg(run, run.leg + 1)

    # ------------------------------------------------------------------ observations
    def drive_result(self, result: DriveResult) -> None:
        """A driver operation on a vehicle finished."""
        run = self.run_of(result.vehicle_id)
        trip = self.trips.trips.get(result.vehicle_id)
        if run is not None and result.operation is Operation.START:
            record = self.dispatcher.get(run.mission_id)
            if not result.ok:
                self._start_failed(run, record, result)
            else:
                self._set_aside.pop(result.vehicle_id, None)
                if record.state is MissionState.ASSIGNED:
                    self.dispatcher.mark_active(run.mission_id, now=self.now())
            run.started = True
        elif trip is not None and result.operation is Operation.START and not result.ok:
            trip.reason = f"flight to the pad refused: {result.detail}"
            self._out.extend(self.trips.finish(result.vehicle_id, self.now(), success=False))
        elif not result.ok:
            self._warn(f"{result.vehicle_id} {result.operation.value}: {result.detail}")

    def set_aside_until(self, vehicle_id: str) -> float | None:
        """When a vehicle that failed to take an upload may be dispatched again (None: now)."""
        entry = self._set_aside.get(vehicle_id)
        return None if entry is None else entry[0]

    def _start_failed(self, run: Run, record: MissionRecord, result: DriveResult) -> None:
        """The vehicle did not take its mission: hand it to another, or fail it.

        Handed back only when the vehicle did none of the start (its upload failed), the
        mission was not flying yet and no operator pinned it to the vehicle, at most
        MAX_UPLOAD_FAILURES times per mission.
        """
        mid, vid = run.mission_id, result.vehicle_id
        reason = f"{vid} refused the mission: {result.detail}"
        self.runs.pop(mid, None)
        if not record.state.holds_vehicle:
            self.missions[mid].reason = reason
            return
        failed = self._upload_failures.setdefault(mid, [])
        if result.untouched:
            failed.append(vid)
            _, strikes = self._set_aside.get(vid, (0.0, 0))
            pause = min(SET_ASIDE_MAX_S, SET_ASIDE_S * 2.0 ** strikes)
            self._set_aside[vid] = (self.now() + pause, strikes + 1)
            self._warn(f"{reason}; {vid} is left out of dispatch for {pause:g} s")
            # Only a mission not yet flown: an upload that failed on an active one (new
            # waypoints, the next leg) leaves the vehicle with the old mission, maybe flying.
            if (record.state is MissionState.ASSIGNED and record.pinned_vehicle_id is None
                    and len(failed) < MAX_UPLOAD_FAILURES):
                self.dispatcher.hand_back(mid, f"{reason}; it goes to another vehicle",
                                          actor="executor", now=self.now())
                return
        if len(failed) > 1:
            reason += f" ({len(failed)} vehicles failed to take it: {', '.join(failed)})"
        self.missions[mid].reason = reason
        self.dispatcher.mark_failed(mid, reason, now=self.now())

    def reached(self, vehicle_id: str, seq: int) -> None:
        """A vehicle reached mission item ``seq`` of the leg it flies."""
        run = self.run_of(vehicle_id)
        if run is None or not 0 <= seq < len(run.item_map):
            return
        run.reached = max(run.reached, run.item_map[seq])
        ref = run.to_reference[run.reached] if run.reached < len(run.to_reference) else None
        record = self.dispatcher.get(run.mission_id)
        flying = record.state in (MissionState.ACTIVE, MissionState.PAUSED)
        if ref is not None and flying:
            self.dispatcher.mark_reached(run.mission_id, ref)
        if seq == len(run.item_map) - 1:
            if run.leg + 1 < len(run.plan.legs):
                run.leg_done = True  # landing at a charging stop; next leg when charged
            elif flying:
                self.missions[run.mission_id].reason = "all waypoints reached"
                self.dispatcher.mark_completed(run.mission_id, now=self.now())
                self.runs.pop(run.mission_id, None)

    def settle(self) -> list[str]:
        """Close the missions that reached a terminal state; return them (newly closed)."""
        closed = []
        for mid, m in self.missions.items():
            record = self.dispatcher.get(mid)
            if record.state.terminal and m.ended_at is None:
                m.ended_at = self.now()
                self.runs.pop(mid, None)
                self._upload_failures.pop(mid, None)
                if not m.reason:
                    m.reason = record.history[-1].reason if record.history else ""
                closed.append(mid)
        return closed

    # ------------------------------------------------------------------ charging
    def request_charge(self, vehicle_id: str, target: float, urgency: Urgency, *,
                       for_mission: str | None = None) -> str:
        """Queue a vehicle for a pad; return "" or why not.

        A critical or emergency request takes a flying vehicle off its mission (handed back
        to the queue); a normal one is refused for it.
        """
        v = self.planning.vehicles.get(vehicle_id)
        if v is None:
            return f"vehicle {vehicle_id!r} is not in the fleet picture"
        if v.position is None or not math.isfinite(v.battery_pct):
            return f"vehicle {vehicle_id!r} has reported no position or battery level yet"
        if vehicle_id in self.trips.trips:
            return f"vehicle {vehicle_id!r} already has a charging request"
        in_use = self.dispatcher.vehicles_in_use()
        if vehicle_id in in_use and for_mission is None:
            mission = in_use[vehicle_id]
            if urgency is Urgency.NORMAL:
                return f"vehicle {vehicle_id!r} is flying mission {mission}"
            self.runs.pop(mission, None)
            self.dispatcher.hand_back(mission, f"{vehicle_id} needs charging",
                                      actor="charging", now=self.now())
        req = ChargeRequest(vehicle_id, target, urgency, v.battery_pct,
                            v.spec.battery_capacity_wh, v.position,
                            v.spec.max_range_m * v.battery_pct / 100.0, self.now())
        return self.trips.request(req, target, self.now(), for_mission=for_mission)

    def finish_charge(self, vehicle_id: str, *, success: bool, reason: str = "") -> None:
        """End a vehicle's charging trip (``reason`` says why, when it is cut short)."""
        trip = self.trips.trips.get(vehicle_id)
        if trip is not None and reason:
            trip.reason = reason
        self._out.extend(self.trips.finish(vehicle_id, self.now(), success=success))

    # ------------------------------------------------------------------ outputs
    def progress(self, mid: str, record: MissionRecord) -> Progress:
        """How far a mission is (the vehicle's live position counts while it flies)."""
        m = self.missions[mid]
        ref = m.reference
        count = len(ref.waypoints) if ref is not None else 0
        if record.state is MissionState.COMPLETED:
            return Progress(100.0, count - 1, count, 0.0, 0.0)
        reached = record.last_reached_index
        run = self.runs.get(mid)
        remaining = 0.0
        if run is not None:
            v = self.planning.vehicles.get(run.vehicle_id)
            rest = [w.position for w in run.plan.waypoints[run.reached + 1:]]
            here = v.position if v is not None and v.position is not None else None
            points = ([here] if here else []) + rest
            remaining = sum(haversine_m(a, b) for a, b in itertools.pairwise(points))
        elif ref is not None:
            rest = [w.position for w in ref.waypoints[max(0, reached):]]
            remaining = sum(haversine_m(a, b) for a, b in itertools.pairwise(rest))
        speed = m.request.speed_mps or (self.planning.spec(run.vehicle_id).cruise_speed
                                        if run else _SPEED_FALLBACK_MPS)
        pct = 100.0 * (reached + 1) / count if count else 0.0
        return Progress(pct, reached, count, remaining, remaining / max(speed, 0.1))

    def listed(self) -> list[str]:
        """The missions to list: every open one and the last ``finished_kept`` finished."""
        kept = self.planning.settings.finished_kept
        finished = [mid for mid, m in self.missions.items() if m.ended_at is not None]
        keep = set(finished[-kept:]) if kept else set()
        return [mid for mid, m in self.missions.items() if m.ended_at is None or mid in keep]

    def reason(self, mid: str) -> str:
        """Why a mission is where it is: its own reason, or why it still waits."""
        return self.missions[mid].reason or self.dispatcher.waiting_reasons.get(mid, "")


__all__ = ["Changed", "Control", "Effect", "MissionEntry", "MissionExecutor", "PlanStarted",
           "Progress", "Run", "SessionChanged", "TripEnded", "map_remainder",
           "waypoint_items"]
