"""The demo's scripted scenario, driven through the fleet's own ROS interfaces.

Three acts run side by side, each through the actions and services an operator (or the
dashboard, through web_bridge) would use, so the dashboard shows them as they happen:

1. a survey of the north field; 30% of the way through, a battery fault injected into its
   vehicle (fleet_sim ``inject_failure``) drops the charge to 12%: fleet_manager sends the
   vehicle home and the planner hands the rest of the survey to another vehicle;
2. a no-fly zone set across the depot → clinic route (fleet_manager ``set_no_fly_zones``), a
   delivery the planner routes around it, then a charging cycle of the delivery's vehicle
   (``request_charge``);
3. a survey of the meadow, preempted by an emergency there (priority at least the planner's
   ``emergency_priority``, pinned to the surveying vehicle); the survey resumes on another.

Progress is told in one line per step (``[01:42] survey-field-1a2b: active on uav3, 35%``).
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rclpy.client import Client

from fleet_bringup.configs import GraphConfigs
from fleet_core.dispatch.state import MissionState
from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.geo import GeoPoint, LocalFrame, haversine_m
from fleet_interfaces.action import ExecuteMission, RequestCharge
from fleet_interfaces.msg import (
    FleetStatus,
    MissionStatus,
    MissionStatusArray,
    NoFlyZoneArray,
    VehicleStatus,
)
from fleet_interfaces.srv import InjectFailure, PlanMission, SetNoFlyZones
from fleet_ros.fleet_convert import zone_msg, zones_from_msg
from fleet_ros.graph import RosGraph
from fleet_ros.qos import FLEET_QOS

T = TypeVar("T")

# Three missions fly at once, and two of them need a second vehicle to take over.
SCENARIO_VEHICLES = 5
LOW_BATTERY_AT_PCT = 30.0  # survey progress at which the battery fault is injected
PREEMPT_AT_PCT = 20.0  # survey progress at which the emergency comes in
PROGRESS_EVERY_S = 10.0  # wall seconds between progress lines of a flying mission
SURVEY_CAMERA = {"footprint_width_m": 40.0, "footprint_height_m": 30.0}
RETURNING_MODES = ("AUTO.RTL", "AUTO.LAND")


class StopRequestedError(Exception):
    """The demo was asked to stop while the scenario ran."""


class ScenarioError(Exception):
    """A step of the scenario did not happen as scripted; the message says which."""


@dataclass
class MissionRun:
    """One mission of the scenario: who flew it and how it ended."""

    role: str
    mission_id: str
    kind: str
    vehicles: list[str] = field(default_factory=list)  # every vehicle that flew it, in order
    state: MissionState | None = None
    reason: str = ""
    preempted: bool = False  # handed back once for an emergency


@dataclass
class ChargeRun:
    """The charging cycle: a vehicle sent to a pad and charged to a target."""

    vehicle_id: str
    target_pct: float
    success: bool | None = None
    reason: str = ""
    station_id: str = ""
    pad: int = -1
    start_pct: float = math.nan
    charged_pct: float = math.nan


@dataclass
class ScenarioReport:
    """What happened: the missions by role, the charge, the zone and what failed."""

    missions: dict[str, MissionRun] = field(default_factory=dict)
    charge: ChargeRun | None = None
    zone: NoFlyZone | None = None
    delivery_path: list[GeoPoint] = field(default_factory=list)
    low_battery_vehicle: str = ""
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether every step happened as scripted."""
        return not self.errors


class Narrator:
    """Prints ``[mm:ss] text`` lines, from any thread, timed from ``started``."""

    def __init__(self, write: Callable[[str], None] | None = None,
                 started: float | None = None) -> None:
        self.started = time.monotonic() if started is None else started
        self._write = write or (lambda line: print(line, flush=True))
        self._lock = threading.Lock()

    def clock(self) -> str:
        """The time since the start, as mm:ss."""
        s = int(time.monotonic() - self.started)
        return f"{s // 60:02d}:{s % 60:02d}"

    def __call__(self, text: str) -> None:
        with self._lock:
            self._write(f"[{self.clock()}] {text}")


class FleetWatch:
    """The newest /fleet/status, /fleet/missions and /fleet/no_fly_zones, to wait on."""

    def __init__(self, graph: RosGraph) -> None:
        self._vehicles: dict[str, VehicleStatus] = {}
        self._missions: dict[str, MissionStatus] = {}
        self._zones: NoFlyZoneArray | None = None
        node = graph.node("demo_watch")
        node.create_subscription(FleetStatus, "/fleet/status", self._on_status, FLEET_QOS)
        node.create_subscription(MissionStatusArray, "/fleet/missions", self._on_missions,
                                 FLEET_QOS)
        node.create_subscription(NoFlyZoneArray, "/fleet/no_fly_zones", self._on_zones,
                                 FLEET_QOS)

    def _on_status(self, msg: FleetStatus) -> None:
        self._vehicles = {str(v.vehicle_id): v for v in msg.vehicles}

    def _on_missions(self, msg: MissionStatusArray) -> None:
        self._missions = {str(m.mission_id): m for m in msg.missions}

    def _on_zones(self, msg: NoFlyZoneArray) -> None:
        self._zones = msg

    def vehicle(self, vehicle_id: str) -> VehicleStatus | None:
        """The newest status of a vehicle."""
        return self._vehicles.get(vehicle_id)

    def mission(self, mission_id: str) -> MissionStatus | None:
        """The newest status of a mission the planner lists."""
        return self._missions.get(mission_id)

    def zones(self) -> list[NoFlyZone] | None:
        """The zones in force (None until fleet_manager has said)."""
        return None if self._zones is None else zones_from_msg(self._zones)

    def ready(self) -> list[str]:
        """The vehicles that report fresh telemetry with a position and a battery level."""
        return sorted(vid for vid, v in self._vehicles.items()
                      if v.liveness == VehicleStatus.LIVENESS_FRESH
                      and math.isfinite(v.battery_percent) and v.position.latitude != 0.0)


def state_of(m: MissionStatus | None) -> MissionState | None:
    """The state of a listed mission (None when not listed or unknown)."""
    try:
        return MissionState(str(m.state)) if m is not None else None
    except ValueError:
        return None


def _point(p: Any) -> GeoPoint:
    """A geographic_msgs/GeoPoint as a GeoPoint."""
    return GeoPoint(float(p.latitude), float(p.longitude), float(p.altitude))


def polygon(frame: LocalFrame, corners: list[tuple[float, float]]) -> dict[str, Any]:
    """A GeoJSON polygon from (east, north) corners in metres."""
    ring = [frame.to_geo(e, n, 0.0) for e, n in [*corners, corners[0]]]
    return {"type": "Polygon", "coordinates": [[[p.longitude, p.latitude] for p in ring]]}


def rectangle(east: float, north: float, width: float, height: float
              ) -> list[tuple[float, float]]:
    """The corners of an axis-aligned rectangle, south-west first, counter-clockwise."""
    return [(east, north), (east + width, north), (east + width, north + height),
            (east, north + height)]


class Scenario:
    """The scripted scenario over one running graph (see the module's description)."""

    def __init__(self, graph: RosGraph, configs: GraphConfigs, *, time_factor: float,
                 say: Callable[[str], None], stop: threading.Event, tag: str = "") -> None:
        self.graph = graph
        self.configs = configs
        self.time_factor = time_factor
        self.say = say
        self.stop = stop
        self.tag = tag
        self.watch = FleetWatch(graph)
        self.frame = LocalFrame.at(configs.fleet.origin)
        self.report = ScenarioReport()
        self._missions = graph.action_client("demo_missions", ExecuteMission,
                                             "/mission_planner/execute_mission")
        self._charging = graph.action_client("demo_charging", RequestCharge,
                                             "/mission_planner/request_charge")
        node = graph.node("demo_scenario")
        self._plan: Client[Any, Any] = node.create_client(PlanMission, "/mission_planner/plan")
        self._set_zones: Client[Any, Any] = node.create_client(
            SetNoFlyZones, "/fleet_manager/set_no_fly_zones")
        self._inject: Client[Any, Any] = node.create_client(InjectFailure,
                                                            "/fleet_sim/inject_failure")
        self._lock = threading.Lock()
        self._acts_over = threading.Event()

    # ------------------------------------------------------------------ waiting
    def patience(self, simulated_s: float) -> float:
        """Wall seconds to allow for ``simulated_s`` seconds of flight, with a margin."""
        return simulated_s / self.time_factor + 30.0

    def until(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        """Poll ``predicate`` until it is truthy; raise StopRequestedError or ScenarioError naming
        ``what`` past ``timeout`` wall seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if self.stop.is_set():
                raise StopRequestedError
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise ScenarioError(f"no {what} within {timeout:.0f} s")
            time.sleep(0.1)

    def wait_for_fleet(self, timeout: float = 60.0) -> list[str]:
        """Wait until every simulated vehicle reports; return their ids."""
        expected = set(self.configs.vehicle_ids)
        self.until(lambda: expected <= set(self.watch.ready()), timeout,
                   f"report from all {len(expected)} vehicles in /fleet/status")
        return sorted(expected, key=self.configs.vehicle_ids.index)

    # ------------------------------------------------------------------ the acts
    def run(self) -> ScenarioReport:
        """Play the three acts side by side; return what happened (raise StopRequestedError
        when told to stop)."""
        started = time.monotonic()
        acts = [("low-battery return", self.survey_with_low_battery, 0.0),
                ("delivery and charge", self.delivery_around_zone_then_charge, 3.0),
                ("emergency", self.emergency_preempting_survey, 6.0)]
        follower = threading.Thread(target=self._follow, name="demo-follow", daemon=True)
        follower.start()
        threads = [threading.Thread(target=self._act, args=(name, act, delay),
                                    name=f"demo-{name}", daemon=True)
                   for name, act, delay in acts]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
        self._acts_over.set()
        follower.join(2.0)
        self.report.elapsed_s = time.monotonic() - started
        if self.stop.is_set():
            raise StopRequestedError
        return self.report

    def _act(self, name: str, act: Callable[[], None], delay: float) -> None:
        try:
            if self.stop.wait(delay):
                return
            act()
        except StopRequestedError:
            return
        except Exception as exc:  # reported, not raised: the other acts go on
            with self._lock:
                self.report.errors.append(f"{name}: {exc}")
            self.say(f"{name} did not go as scripted: {exc}")

    def survey_with_low_battery(self) -> None:
        """Act 1: a survey; its vehicle's battery fails; it goes home, another takes over."""
        # Below the autopilot's return altitude (30 m): the vehicle taking over flies to the
        # resume point 10 m under the one going home, so neither has to hold for the other.
        run = self.submit("survey", "survey-field", {
            "type": "survey", "name": "north field", "altitude_m": 20.0, "speed_mps": 8.0,
            "area": polygon(self.frame, rectangle(-260.0, 60.0, 200.0, 140.0)),
            "pattern": "lawnmower", "camera": SURVEY_CAMERA}, priority=5)
        vid = self.until(lambda: self._flying_past(run, LOW_BATTERY_AT_PCT),
                         self.patience(900), f"{run.mission_id} {LOW_BATTERY_AT_PCT:.0f}% done")
        self.report.low_battery_vehicle = vid
        self.say(f"low battery: a battery fault injected into {vid} "
                 "(fleet_sim inject_failure) drops its charge to 12%")
        self.inject_battery_fault(vid, active=True)
        v = self.until(lambda: self._sent_home(vid), self.patience(60),
                       f"return of {vid} ordered by fleet_manager")
        # Cleared at once: the charge stays low, but the pack no longer drains five times
        # faster, so the vehicle makes it home rather than landing where it is.
        self.inject_battery_fault(vid, active=False)
        self.say(f"fleet_manager sent {vid} home ({v.autopilot_mode}, battery "
                 f"{v.battery_percent:.0f}%); the planner hands {run.mission_id} to another "
                 "vehicle")
        self._await_resume(run, vid)
        landed = self.until(lambda: self._landed(vid), self.patience(300), f"{vid} landing")
        away = haversine_m(_point(landed.position), _point(landed.home))
        where = "at home" if away < 10.0 else f"{away:.0f} m from home"
        self.say(f"{vid} landed {where} with {landed.battery_percent:.0f}% battery: grounded "
                 "until charged")
        self.await_end(run, self.patience(1500))

    def delivery_around_zone_then_charge(self) -> None:
        """Act 2: a no-fly zone across the route, a delivery around it, then a charge."""
        depot = self.place("depot", 0.0, 0.0)
        clinic = self.place("clinic", 400.0, 390.0)
        zone = self.set_zone_across(depot, clinic)
        self.report.zone = zone
        spec = {"type": "delivery", "name": "clinic", "altitude_m": 40.0,
                "pickup": self.position(depot), "dropoff": self.position(clinic),
                "payload_kg": 0.5}
        plan = self.preview(spec)
        self.report.delivery_path = [GeoPoint(p.latitude, p.longitude, 0.0)
                                     for p in plan.waypoints]
        self.say(f"delivery depot -> clinic planned around the zones: {plan.distance_m:.0f} m, "
                 f"{plan.duration_s / 60:.1f} min flying (the straight route is "
                 f"{haversine_m(depot, clinic):.0f} m one way)")
        run = self.submit("delivery", "delivery-clinic", spec, priority=6)
        self.await_end(run, self.patience(1200))
        vid = run.vehicles[-1]
        v = self.until(lambda: self._idle_on_ground(vid), self.patience(120),
                       f"{vid} idle on the ground after the delivery")
        target = min(100.0, max(95.0, math.floor(v.battery_percent) + 5.0))
        self.say(f"charging cycle: {vid} at {v.battery_percent:.0f}% asks for a pad "
                 f"(request_charge to {target:.0f}%)")
        self.charge(vid, target)

    def emergency_preempting_survey(self) -> None:
        """Act 3: a survey, preempted by an emergency; it resumes on another vehicle."""
        meadow = self.place("meadow", 170.0, -105.0)
        e, n, _ = self.frame.to_enu(meadow)
        run = self.submit("preempted_survey", "survey-meadow", {
            "type": "survey", "name": "meadow", "altitude_m": 35.0, "speed_mps": 8.0,
            "area": polygon(self.frame, rectangle(e - 90.0, n - 70.0, 180.0, 140.0)),
            "pattern": "lawnmower", "camera": SURVEY_CAMERA}, priority=4)
        vid = self.until(lambda: self._flying_past(run, PREEMPT_AT_PCT),
                         self.patience(900), f"{run.mission_id} {PREEMPT_AT_PCT:.0f}% done")
        level = max(self.configs.planner.dispatcher.emergency_priority, 9)
        emergency = self.submit("emergency", "emergency-meadow", {
            "type": "emergency", "name": "walker hurt in the meadow", "altitude_m": 25.0,
            "target": self.position(meadow), "hover_s": 60.0}, priority=level, vehicle_id=vid)
        self.say(f"emergency in the meadow: priority {level} (emergency_priority "
                 f"{self.configs.planner.dispatcher.emergency_priority}), pinned to {vid}, "
                 f"which is surveying it")
        self.until(lambda: self._flying_on(emergency, vid), self.patience(120),
                   f"{emergency.mission_id} taking {vid}")
        run.preempted = True
        self.say(f"{emergency.mission_id} preempted {run.mission_id} on {vid}")
        self._await_resume(run, vid)
        self.await_end(emergency, self.patience(900))
        self.await_end(run, self.patience(1500))

    # ------------------------------------------------------------------ steps
    def place(self, name: str, east: float, north: float) -> GeoPoint:
        """A named place of missions.yaml, else the point (east, north) of the origin."""
        found = self.configs.planner.library.get(name)
        return found.position if found is not None else self.frame.to_geo(east, north, 0.0)

    @staticmethod
    def position(p: GeoPoint) -> dict[str, float]:
        """A mission request's position."""
        return {"latitude": p.latitude, "longitude": p.longitude}

    def submit(self, role: str, name: str, spec: dict[str, Any], *, priority: int,
               vehicle_id: str = "") -> MissionRun:
        """Send an ExecuteMission goal; return its run once the planner accepted it."""
        run = MissionRun(role, f"{self.tag}{name}-{secrets.token_hex(2)}", str(spec["type"]))
        goal = ExecuteMission.Goal(mission_id=run.mission_id, spec_json=json.dumps(spec),
                                   priority=priority, created_by="demo", vehicle_id=vehicle_id)
        self._send(self._missions, goal, f"mission {run.mission_id}")
        with self._lock:
            self.report.missions[role] = run
        self.say(f"{run.mission_id}: {run.kind} sent (execute_mission, priority {priority}"
                 f"{', pinned to ' + vehicle_id if vehicle_id else ''})")
        return run

    def _send(self, client: Any, goal: Any, what: str,
              feedback: Callable[[Any], None] | None = None) -> Any:
        if not client.wait_for_server(timeout_sec=10.0):
            raise ScenarioError(f"the action {client._action_name} is not available")
        sent = client.send_goal_async(goal, feedback_callback=feedback)
        handle = self.until(lambda: sent.done() and sent.result(), 10.0,
                            f"answer to the goal of {what}")
        if not handle.accepted:
            raise ScenarioError(f"the goal of {what} was refused")
        return handle

    def preview(self, spec: dict[str, Any]) -> Any:
        """The planner's plan of a mission (plan service), without flying it."""
        r = self.graph.call(self._plan, PlanMission.Request(spec_json=json.dumps(spec)), 10.0)
        if not r.ok:
            raise ScenarioError(f"the planner cannot plan the {spec['type']}: {r.reason}")
        return r

    def set_zone_across(self, a: GeoPoint, b: GeoPoint) -> NoFlyZone:
        """Add a no-fly zone across the straight route from ``a`` to ``b`` to those in force."""
        zones = self.until(self.watch.zones, 10.0, "/fleet/no_fly_zones")
        (ae, an, _), (be, bn, _) = self.frame.to_enu(a), self.frame.to_enu(b)
        length = math.hypot(be - ae, bn - an)
        ue, un = (be - ae) / length, (bn - an) / length  # along the route
        ce, cn = ae + 0.3 * (be - ae), an + 0.3 * (bn - an)  # a third of the way
        half_along, half_across = 25.0, 90.0
        corners = [(ce + sa * half_along * ue - sc * half_across * un,
                    cn + sa * half_along * un + sc * half_across * ue)
                   for sa, sc in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        zone = NoFlyZone(f"{self.tag}crane", "Crane on the building site",
                         tuple(self.frame.to_geo(e, n, 0.0) for e, n in corners),
                         floor_m=0.0, ceiling_m=120.0)
        kept = [z for z in zones if z.zone_id != zone.zone_id]
        r = self.graph.call(self._set_zones, SetNoFlyZones.Request(
            zones=[zone_msg(z) for z in [*kept, zone]]), 10.0)
        if not r.success:
            raise ScenarioError(f"fleet_manager refused the zone: {r.message}")
        self.until(lambda: any(z.zone_id == zone.zone_id for z in self.watch.zones() or []),
                   10.0, f"zone {zone.zone_id} in /fleet/no_fly_zones")
        self.say(f"no-fly zone {zone.zone_id!r} set across the depot -> clinic route "
                 f"(set_no_fly_zones; {len(kept) + 1} zones in force)")
        return zone

    def inject_battery_fault(self, vehicle_id: str, *, active: bool) -> None:
        """Inject (or clear) fleet_sim's battery fault on a vehicle."""
        r = self.graph.call(self._inject, InjectFailure.Request(
            vehicle_id=vehicle_id, failure=InjectFailure.Request.FAILURE_BATTERY_FAULT,
            active=active), 10.0)
        if not r.success:
            raise ScenarioError(f"fleet_sim refused the battery fault on {vehicle_id}: "
                                f"{r.message}")

    def charge(self, vehicle_id: str, target_pct: float) -> None:
        """Send a vehicle to charge (request_charge) and wait for the result."""
        run = ChargeRun(vehicle_id, target_pct)
        self.report.charge = run
        seen: list[str] = []

        def feedback(msg: Any) -> None:
            fb = msg.feedback
            if not seen or seen[-1] != fb.state:
                seen.append(str(fb.state))
                where = f" at {fb.station_id}/{fb.pad}" if fb.pad >= 0 else ""
                self.say(f"charging {vehicle_id}: {fb.state}{where}, battery "
                         f"{fb.battery_pct:.0f}%")

        handle = self._send(self._charging, RequestCharge.Goal(
            vehicle_id=vehicle_id, target_pct=float(target_pct),
            urgency=RequestCharge.Goal.URGENCY_NORMAL), f"charge of {vehicle_id}", feedback)
        result_future = handle.get_result_async()
        result = self.until(lambda: result_future.done() and result_future.result(),
                            self.patience(1800), f"end of the charge of {vehicle_id}").result
        run.success, run.reason = bool(result.success), str(result.reason)
        run.station_id, run.pad = str(result.station_id), int(result.pad)
        run.start_pct, run.charged_pct = float(result.start_pct), float(result.charged_pct)
        if not run.success:
            raise ScenarioError(f"the charge of {vehicle_id} failed: {run.reason}")
        self.say(f"charging {vehicle_id}: done, {run.start_pct:.0f}% -> {run.charged_pct:.0f}% "
                 f"at {run.station_id}/{run.pad}")

    def await_end(self, run: MissionRun, timeout: float) -> None:
        """Wait until a mission is over; raise ScenarioError unless it completed."""
        self.until(lambda: run.state is not None and run.state.terminal, timeout,
                   f"end of {run.mission_id}")
        if run.state is not MissionState.COMPLETED:
            raise ScenarioError(f"{run.mission_id} ended {run.state.value if run.state else '?'}"
                                f": {run.reason}")

    def _await_resume(self, run: MissionRun, left: str) -> None:
        new = self.until(lambda: self._flying_elsewhere(run, left), self.patience(300),
                         f"{run.mission_id} flown by another vehicle than {left}")
        m = self.watch.mission(run.mission_id)
        at = f" from waypoint {m.current_waypoint + 1}/{m.waypoint_count}" if m else ""
        self.say(f"{run.mission_id} resumed on {new}{at}")

    # ------------------------------------------------------------------ observations
    def _flying_past(self, run: MissionRun, pct: float) -> str | None:
        m = self.watch.mission(run.mission_id)
        if state_of(m) is MissionState.ACTIVE and m is not None and m.progress_pct >= pct \
                and m.vehicle_id:
            return str(m.vehicle_id)
        return None

    def _flying_on(self, run: MissionRun, vehicle_id: str) -> bool:
        m = self.watch.mission(run.mission_id)
        return state_of(m) is MissionState.ACTIVE and m is not None \
            and m.vehicle_id == vehicle_id

    def _flying_elsewhere(self, run: MissionRun, vehicle_id: str) -> str | None:
        m = self.watch.mission(run.mission_id)
        if state_of(m) is MissionState.ACTIVE and m is not None and m.vehicle_id \
                and m.vehicle_id != vehicle_id:
            return str(m.vehicle_id)
        return None

    def _sent_home(self, vehicle_id: str) -> VehicleStatus | None:
        v = self.watch.vehicle(vehicle_id)
        if v is not None and (v.status == VehicleStatus.STATUS_RETURNING
                              or v.autopilot_mode in RETURNING_MODES):
            return v
        return None

    def _landed(self, vehicle_id: str) -> VehicleStatus | None:
        v = self.watch.vehicle(vehicle_id)
        if v is not None and v.landed_state == VehicleStatus.LANDED_ON_GROUND and not v.armed:
            return v
        return None

    def _idle_on_ground(self, vehicle_id: str) -> VehicleStatus | None:
        v = self._landed(vehicle_id)
        return v if v is not None and v.status == VehicleStatus.STATUS_IDLE else None

    # ------------------------------------------------------------------ the narration
    def _follow(self) -> None:
        """Tell each mission's changes of state and vehicle, and its progress now and then."""
        told: dict[str, tuple[MissionState | None, str]] = {}
        last_progress = time.monotonic()
        while not self._acts_over.is_set() and not self.stop.is_set():
            with self._lock:
                runs = list(self.report.missions.values())
            for run in runs:
                m = self.watch.mission(run.mission_id)
                state = state_of(m)
                if m is None or state is None:
                    continue
                vid = str(m.vehicle_id)
                if state in (MissionState.ASSIGNED, MissionState.ACTIVE) and vid and \
                        (not run.vehicles or run.vehicles[-1] != vid):
                    run.vehicles.append(vid)
                if told.get(run.mission_id) != (state, vid):
                    told[run.mission_id] = (state, vid)
                    run.reason = str(m.reason)
                    run.state = state
                    self.say(self._line(run, m, state))
            if time.monotonic() - last_progress >= PROGRESS_EVERY_S:
                last_progress = time.monotonic()
                for run in runs:
                    m = self.watch.mission(run.mission_id)
                    if state_of(m) is MissionState.ACTIVE and m is not None:
                        self.say(self._line(run, m, MissionState.ACTIVE))
            time.sleep(0.2)

    @staticmethod
    def _line(run: MissionRun, m: MissionStatus, state: MissionState) -> str:
        head = f"{run.mission_id}: {state.value}"
        if state is MissionState.ACTIVE:
            return (f"{head} on {m.vehicle_id}, {m.progress_pct:.0f}% (waypoint "
                    f"{max(0, m.current_waypoint + 1)}/{m.waypoint_count}, "
                    f"{m.distance_remaining_m:.0f} m to go)")
        if state in (MissionState.ASSIGNED, MissionState.PAUSED):
            return f"{head} to {m.vehicle_id}" if state is MissionState.ASSIGNED \
                else f"{head} on {m.vehicle_id}"
        if state is MissionState.COMPLETED:
            return f"{head} (flown by {', '.join(run.vehicles) or '?'})"
        return f"{head}: {m.reason}" if m.reason else head
