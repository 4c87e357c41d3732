"""mission_planner plans, dispatches and flies missions on fleet_sim, with fleet_manager."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from geographic_msgs.msg import GeoPoint as GeoPointMsg
from rclpy.parameter import Parameter

from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.geo import GeoPoint, LocalFrame, haversine_m
from fleet_interfaces.action import ExecuteMission, RequestCharge
from fleet_interfaces.msg import ChargingSession, FleetStatus, MissionEvent, MissionStatusArray
from fleet_interfaces.srv import (
    InjectFailure,
    MissionControl,
    ModifyWaypoints,
    PlanMission,
    ScheduleRecurring,
    SetVehiclePin,
    SetWind,
)
from fleet_manager.node import FleetManagerNode
from fleet_ros.graph import RosGraph
from fleet_ros.qos import EVENTS_QOS, FLEET_QOS
from fleet_sim.node import FleetSimNode
from mission_planner.node import MissionPlannerNode
from tests.ros_helpers import Collector

pytestmark = pytest.mark.ros

HOME = GeoPoint(47.397742, 8.545594, 488.0)
FRAME = LocalFrame.at(HOME)


def at(east: float, north: float) -> dict[str, float]:
    g = FRAME.to_geo(east, north, 0.0)
    return {"latitude": g.latitude, "longitude": g.longitude, "altitude": 488.0}


def write(tmp_path: Path, name: str, doc: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


STATION = {"id": "pad_a", "location": at(-40.0, 0.0), "charge_rate_w": 3000.0,
           "pad_radius_m": 2.0, "pads": [{"east": 0.0, "north": 0.0}]}


def start_graph(graph: RosGraph, tmp_path: Path, vehicles: list[dict[str, Any]], *,
                factor: float = 10.0, policy: str = "lowest_battery",
                weather: dict[str, Any] | None = None,
                capacity_wh: float | None = None, stations: bool = True,
                max_range_m: float = 8000.0) -> MissionPlannerNode:
    pads = [STATION] if stations else []
    sim = write(tmp_path, "sim.yaml", {"fleet_sim": {
        "seed": 1, "time_factor": factor, "link_timeout_s": 10.0, "vehicles": vehicles,
        "charging_stations": pads, **({"weather": weather} if weather else {}),
        **({"defaults": {"battery": {"capacity_wh": capacity_wh}}} if capacity_wh else {})}})
    # With a battery size given, the fleet registry lists the vehicles with it.
    registry = [{"id": v["id"], "capabilities": {"battery_capacity_wh": capacity_wh,
                                                  "max_range_m": max_range_m}}
                for v in vehicles] if capacity_wh else []
    fleet = write(tmp_path, "fleet.yaml", {"fleet_manager": {
        "origin": at(0, 0), "vehicles": registry, "status_rate_hz": 5.0, "check_rate_hz": 10.0,
        "command_timeout_s": 2.0, "discovery": {"enabled": True, "period_s": 0.5},
        "liveness": {"stale_after_s": 2.0, "lost_after_s": 6.0},
        "separation": {"enabled": False}}})
    missions = write(tmp_path, "missions.yaml", {"mission_planner": {
        "tick_rate_hz": 5.0, "charging_policy": policy, "command_timeout_s": 2.0,
        "charging_stations": pads}})
    graph.add(FleetSimNode(context=graph.context,
                           parameter_overrides=[Parameter("config_file", value=sim)]))
    graph.add(FleetManagerNode(context=graph.context,
                               parameter_overrides=[Parameter("config_file", value=fleet)]))
    planner = MissionPlannerNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=missions), Parameter("fleet_config_file", value=fleet)])
    graph.add(planner)
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    graph.wait_for(lambda: (s := status.last()) and len(s.vehicles) == len(vehicles) and all(
        v.status == 1 for v in s.vehicles), 20.0, "every vehicle idle in /fleet/status")
    graph.wait_for(lambda: len(planner.candidates()) == len(vehicles), 10.0,
                   "the planner sees every vehicle with a position and a battery level")
    return planner


def survey_spec(size: float = 60.0, east: float = 60.0) -> str:
    ring = [at(east, 0), at(east + size, 0), at(east + size, size), at(east, size)]
    coords = [[p["longitude"], p["latitude"]] for p in [*ring, ring[0]]]
    return json.dumps({"type": "survey", "altitude_m": 20.0, "speed_mps": 8.0,
                       "area": {"type": "Polygon", "coordinates": [coords]},
                       "pattern": "lawnmower",
                       "camera": {"footprint_width_m": 40.0, "footprint_height_m": 30.0},
                       "side_overlap_pct": 20.0, "front_overlap_pct": 20.0})


class GoalWatcher:
    """Sends one goal and keeps its feedback and result."""

    def __init__(self, graph: RosGraph, action: Any, name: str, goal: Any) -> None:
        self.feedback: list[Any] = []
        self.result: Any = None
        self.status: int | None = None
        self._done = threading.Event()
        self.client = graph.action_client(f"client_{id(self)}", action, name)
        assert self.client.wait_for_server(timeout_sec=10.0), f"{name} not available"
        sent = self.client.send_goal_async(goal, feedback_callback=self._feedback)
        self.handle = graph.wait_for(lambda: sent.done() and sent.result(), 10.0,
                                     "goal response")
        assert self.handle.accepted
        self.handle.get_result_async().add_done_callback(self._result)

    def _feedback(self, msg: Any) -> None:
        self.feedback.append(msg.feedback)

    def _result(self, future: Any) -> None:
        response = future.result()
        self.status, self.result = response.status, response.result
        self._done.set()

    def wait(self, timeout: float) -> Any:
        assert self._done.wait(timeout), f"no result within {timeout} s; " \
            f"last feedback {self.feedback[-1] if self.feedback else None}"
        return self.result


def mission(graph: RosGraph, spec: str, priority: int = 5, vehicle_id: str = "") -> GoalWatcher:
    return GoalWatcher(graph, ExecuteMission, "/mission_planner/execute_mission",
                       ExecuteMission.Goal(spec_json=spec, priority=priority,
                                           created_by="test", vehicle_id=vehicle_id))


def control(graph: RosGraph, name: str, mission_id: str) -> Any:
    client = graph.node(f"ctl_{name}_{mission_id.replace('-', '_')}").create_client(
        MissionControl, f"/mission_planner/{name}")
    return graph.call(client, MissionControl.Request(mission_id=mission_id, actor="test",
                                                     reason=f"test {name}"))


def test_a_survey_is_flown_to_completion_with_feedback_reaching_100(
        graph: RosGraph, tmp_path: Path) -> None:
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}], factor=10.0)
    events = Collector(graph, MissionEvent, "/fleet/mission_events", EVENTS_QOS)
    goal = mission(graph, survey_spec())
    result = goal.wait(120.0)
    assert (result.final_state, result.reason) == ("completed", "all waypoints reached")
    progress = [f.progress_pct for f in goal.feedback]
    assert progress
    assert progress == sorted(progress)
    assert max(progress) == pytest.approx(100.0)
    assert result.flown_distance_m > 150.0  # survey lines of 60 m, plus transits
    mine = [e for e in events.snapshot() if e.mission_id == result.mission_id]
    states = [e.to_state for e in mine if e.from_state != e.to_state]
    assert states == ["queued", "assigned", "active", "completed"]
    planned = [json.loads(e.details_json) for e in mine if e.reason == "planned for uav0"]
    assert len(planned) == 1
    assert len(planned[0]["plan"]["path"]) >= 4


def test_a_garbage_mission_is_refused_with_the_reason(graph: RosGraph, tmp_path: Path) -> None:
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}])
    bad = mission(graph, json.dumps({"type": "survey", "altitude_m": float("nan")}))
    assert bad.wait(10.0).final_state == "failed"
    assert "altitude_m" in bad.result.reason
    not_json = mission(graph, "{not json")
    assert "not JSON" in not_json.wait(10.0).reason
    planner = graph.node("preview").create_client(PlanMission, "/mission_planner/plan")
    preview = graph.call(planner, PlanMission.Request(spec_json=survey_spec()))
    assert preview.ok
    assert preview.coverage_pct >= 99.0
    assert len(preview.waypoints) >= 6


def start_windy_graph(graph: RosGraph, tmp_path: Path) -> MissionPlannerNode:
    """One vehicle and a weather station reporting a light wind every 0.2 s."""
    planner = start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}],
                          weather={"speed_mps": 3.0, "direction_deg": 270.0, "gust_mps": 0.0,
                                   "period_s": 0.2})
    graph.wait_for(lambda: planner.current_wind() is not None, 10.0, "a wind report")
    return planner


def test_missions_are_refused_while_the_reported_wind_is_above_the_limit(
        graph: RosGraph, tmp_path: Path) -> None:
    planner = start_windy_graph(graph, tmp_path)
    set_wind = graph.node("weather_op").create_client(SetWind, "/fleet_sim/set_wind")
    refused = graph.call(set_wind, SetWind.Request(speed_mps=float("nan")))
    assert not refused.success
    assert "speed_mps" in refused.message
    assert graph.call(set_wind, SetWind.Request(speed_mps=20.0, direction_deg=270.0)).success
    graph.wait_for(lambda: (w := planner.current_wind()) and w.speed_mps > 19.0, 10.0,
                   "the storm reported")
    preview = graph.node("preview").create_client(PlanMission, "/mission_planner/plan")
    stormy = graph.call(preview, PlanMission.Request(spec_json=survey_spec()))
    assert not stormy.ok
    assert "wind 20.0 m/s exceeds" in stormy.reason
    goal = mission(graph, survey_spec())
    assert "wind" in goal.wait(20.0).reason
    assert graph.call(set_wind, SetWind.Request(speed_mps=2.0, direction_deg=90.0)).success
    graph.wait_for(lambda: (w := planner.current_wind()) and w.speed_mps < 3.0, 10.0,
                   "the calm reported")
    assert graph.call(preview, PlanMission.Request(spec_json=survey_spec())).ok


def test_pause_holds_the_vehicle_and_resume_finishes_the_mission(
        graph: RosGraph, tmp_path: Path) -> None:
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}], factor=5.0)
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    goal = mission(graph, survey_spec(size=80.0))
    graph.wait_for(lambda: goal.feedback and goal.feedback[-1].state == "active"
                   and goal.feedback[-1].current_waypoint >= 2, 60.0, "mission under way")
    mid = goal.feedback[-1].mission_id
    assert control(graph, "pause", mid).ok
    graph.wait_for(lambda: goal.feedback[-1].state == "paused", 5.0, "paused")
    graph.wait_for(lambda: (s := status.last()) and s.vehicles[0].autopilot_mode ==
                   "AUTO.LOITER", 5.0, "AUTO.LOITER")
    held = goal.feedback[-1].current_waypoint
    threading.Event().wait(2.0)
    assert goal.feedback[-1].current_waypoint == held  # nothing reached while paused
    assert control(graph, "resume", mid).ok
    assert goal.wait(120.0).final_state == "completed"


def test_abort_sends_the_vehicle_home(graph: RosGraph, tmp_path: Path) -> None:
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}], factor=10.0)
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    goal = mission(graph, survey_spec(size=80.0, east=120.0))
    graph.wait_for(lambda: goal.feedback and goal.feedback[-1].current_waypoint >= 2, 60.0,
                   "mission under way")
    assert control(graph, "abort", goal.feedback[-1].mission_id).ok
    assert goal.wait(10.0).final_state == "aborted"
    landed = graph.wait_for(lambda: (s := status.last()) and not s.vehicles[0].armed and
                            s.vehicles[0].landed_state == 1 and s.vehicles[0], 90.0,
                            "landed and disarmed")
    p = landed.position
    assert haversine_m(GeoPoint(p.latitude, p.longitude), HOME) < 3.0


def test_canceling_the_goal_aborts_the_mission(graph: RosGraph, tmp_path: Path) -> None:
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}], factor=10.0)
    goal = mission(graph, survey_spec(size=80.0, east=120.0))
    graph.wait_for(lambda: goal.feedback and goal.feedback[-1].state == "active", 60.0,
                   "mission active")
    goal.handle.cancel_goal_async()
    result = goal.wait(10.0)
    assert result.final_state == "aborted"
    assert result.reason == "goal canceled"


def test_a_mission_goes_on_when_its_action_client_disappears(
        graph: RosGraph, tmp_path: Path) -> None:
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}], factor=10.0)
    events = Collector(graph, MissionEvent, "/fleet/mission_events", EVENTS_QOS)
    goal = mission(graph, survey_spec())
    graph.wait_for(lambda: goal.feedback and goal.feedback[-1].state == "active", 60.0,
                   "mission active")
    mission_id = goal.feedback[-1].mission_id
    # The operator's console crashes: its node leaves the graph without canceling anything.
    client_node = goal.client._node  # the node the client lives on
    graph.executor.remove_node(client_node)
    goal.client.destroy()
    client_node.destroy_node()
    done = graph.wait_for(lambda: [e for e in events.snapshot() if e.mission_id == mission_id
                                   and e.to_state in ("completed", "aborted", "failed")],
                          120.0, "the mission to end")
    assert [e.to_state for e in done] == ["completed"]
    assert goal.result is None  # nobody was left to hear the result


def test_a_mission_pinned_to_a_vehicle_is_flown_by_it_though_another_is_nearer(
        graph: RosGraph, tmp_path: Path) -> None:
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(40, 0)},
                                  {"id": "uav1", "home": at(-40, 0)}], factor=10.0)
    missions = Collector(graph, MissionStatusArray, "/fleet/missions", FLEET_QOS)
    bad = mission(graph, survey_spec(), vehicle_id="uav 1")
    assert "pinned vehicle id" in bad.wait(10.0).reason
    goal = mission(graph, survey_spec(size=40.0, east=60.0), vehicle_id="uav1")
    active = graph.wait_for(lambda: goal.feedback and goal.feedback[-1].state == "active"
                            and goal.feedback[-1], 60.0, "mission active")
    assert active.vehicle_id == "uav1"  # uav0 starts 80 m nearer the area
    pins = graph.wait_for(lambda: (m := missions.last()) and [
        s.pinned_vehicle_id for s in m.missions if s.mission_id == active.mission_id], 10.0,
        "the mission on /fleet/missions")
    assert pins == ["uav1"]
    pin = graph.node("pinner").create_client(SetVehiclePin, "/mission_planner/set_vehicle_pin")
    moved = graph.call(pin, SetVehiclePin.Request(mission_id=active.mission_id,
                                                  vehicle_id="uav0", actor="test"))
    assert not moved.ok
    assert "only while it is planned or queued" in moved.message
    result = goal.wait(120.0)
    assert result.final_state == "completed"
    assert {f.vehicle_id for f in goal.feedback if f.vehicle_id} == {"uav1"}


def survey_under_way(graph: RosGraph, tmp_path: Path) -> tuple[GoalWatcher, Collector, Any]:
    """Two vehicles; a survey flown by one of them, past its third waypoint.

    Returns the goal, the mission events and the feedback that showed it under way.
    """
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)},
                                  {"id": "uav1", "home": at(0, 10)}], factor=5.0)
    events = Collector(graph, MissionEvent, "/fleet/mission_events", EVENTS_QOS)
    goal = mission(graph, survey_spec(size=80.0))
    first = graph.wait_for(lambda: goal.feedback and goal.feedback[-1].current_waypoint >= 3
                           and goal.feedback[-1].vehicle_id and goal.feedback[-1], 90.0,
                           "mission under way")
    return goal, events, first


def finished_by_the_other(goal: GoalWatcher, events: Collector, first: Any, why: str) -> str:
    """Check the survey went back to the queue and the other vehicle finished the rest."""
    gone = first.vehicle_id
    result = goal.wait(180.0)
    assert result.final_state == "completed"
    other = {"uav0": "uav1", "uav1": "uav0"}[gone]
    handed = [e for e in events.snapshot() if e.to_state == "queued" and gone in e.reason]
    assert handed, f"the mission went back to the queue when the vehicle {why}"
    assigned = [e.vehicle_id for e in events.snapshot() if e.to_state == "active"]
    assert assigned[-1] == other
    resumed = [f for f in goal.feedback if f.vehicle_id == other]
    assert resumed[0].current_waypoint >= first.current_waypoint  # not flown from scratch
    return other


def test_a_vehicle_lost_mid_mission_hands_the_rest_to_another_vehicle(
        graph: RosGraph, tmp_path: Path) -> None:
    goal, events, first = survey_under_way(graph, tmp_path)
    inject = graph.node("inj").create_client(InjectFailure, "/fleet_sim/inject_failure")
    graph.call(inject, InjectFailure.Request(vehicle_id=first.vehicle_id, active=True,
                                             failure=InjectFailure.Request.FAILURE_LINK_LOSS))
    finished_by_the_other(goal, events, first, "was lost")


def test_three_vehicles_contending_for_one_pad_are_served_lowest_battery_first(
        graph: RosGraph, tmp_path: Path) -> None:
    batteries = {"uav0": 70.0, "uav1": 50.0, "uav2": 60.0, "blocker": 80.0}
    start_graph(graph, tmp_path, [
        {"id": vid, "home": at(0, 10 * i), "battery": {"initial_percent": pct}}
        for i, (vid, pct) in enumerate(batteries.items())], factor=20.0)
    sessions = Collector(graph, ChargingSession, "/fleet/charging_sessions", EVENTS_QOS)

    def charge(vid: str) -> GoalWatcher:
        return GoalWatcher(graph, RequestCharge, "/mission_planner/request_charge",
                           RequestCharge.Goal(vehicle_id=vid, target_pct=batteries[vid] + 8.0))

    # The blocker takes the only pad first; the other three queue behind it.
    blocker = charge("blocker")
    graph.wait_for(lambda: blocker.feedback and blocker.feedback[-1].pad == 0, 10.0,
                   "the blocker has the pad")
    goals = {vid: charge(vid) for vid in ("uav0", "uav1", "uav2")}
    results = {vid: g.wait(240.0) for vid, g in goals.items()}
    assert blocker.wait(10.0).success
    assert all(r.success for r in results.values()), results
    # Each session is published when charging starts and again when it ends.
    started = [s.vehicle_id for s in sessions.snapshot() if s.ended_at.sec == 0]
    ended = [s.vehicle_id for s in sessions.snapshot() if s.ended_at.sec != 0]
    assert started == ended == ["blocker", "uav1", "uav2", "uav0"]
    for vid, r in results.items():
        assert r.charged_pct >= batteries[vid] + 8.0 - 0.5
        assert r.station_id == "pad_a"
        assert r.energy_wh > 0
    assert results["uav0"].queue_wait_s > results["uav2"].queue_wait_s > \
        results["uav1"].queue_wait_s
    queued = [f.queue_position for f in goals["uav0"].feedback if f.state == "queued"]
    assert queued
    assert max(queued) == 3


def test_a_survey_too_big_for_one_battery_is_shared_between_two_vehicles(
        graph: RosGraph, tmp_path: Path) -> None:
    # No charging station: one vehicle alone could not fly it at all.
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)},
                                  {"id": "uav1", "home": at(0, 10)}],
                factor=10.0, capacity_wh=40.0, stations=False)
    events = Collector(graph, MissionEvent, "/fleet/mission_events", EVENTS_QOS)
    goal = mission(graph, survey_spec(size=200.0, east=20.0))
    result = goal.wait(240.0)
    assert (result.final_state, result.reason) == ("completed", "all parts completed")
    mine = events.snapshot()
    split = [e for e in mine if e.mission_id == result.mission_id and "split into" in e.reason]
    assert split, "the survey was split"
    parts = {e.mission_id for e in mine if e.mission_id.startswith(result.mission_id + "/")}
    assert len(parts) >= 2
    flown_by = {e.vehicle_id for e in mine if e.mission_id in parts and e.to_state == "active"}
    assert flown_by == {"uav0", "uav1"}
    ends = [e.to_state for e in mine if e.mission_id in parts and e.to_state == "completed"]
    assert len(ends) == len(parts)


def test_a_patrol_longer_than_one_battery_stops_to_charge_and_completes(
        graph: RosGraph, tmp_path: Path) -> None:
    # In all it flies further than one battery reaches (1.5 km); each leg does not.
    planner = start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}],
                          factor=10.0, capacity_wh=25.0, max_range_m=1500.0)
    a, b = at(0, 100), at(400, 100)
    spec = json.dumps({"type": "patrol", "altitude_m": 20.0, "speed_mps": 8.0, "repeat": 2,
                       "route": [{"latitude": a["latitude"], "longitude": a["longitude"]},
                                 {"latitude": b["latitude"], "longitude": b["longitude"]}]})
    goal = mission(graph, spec)
    result = goal.wait(150.0)
    assert (result.final_state, result.reason) == ("completed", "all waypoints reached")
    plan = planner.missions[result.mission_id].reference
    assert plan is not None
    assert len(plan.legs) >= 2
    assert plan.distance_m > 1500.0
    assert result.flown_distance_m > 1500.0


def test_an_emergency_preempts_a_survey_which_resumes_afterwards(
        graph: RosGraph, tmp_path: Path) -> None:
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}], factor=10.0)
    events = Collector(graph, MissionEvent, "/fleet/mission_events", EVENTS_QOS)
    survey = mission(graph, survey_spec(size=80.0), priority=3)
    graph.wait_for(lambda: survey.feedback and survey.feedback[-1].current_waypoint >= 2, 60.0,
                   "survey under way")
    target = at(-30.0, 40.0)
    emergency = mission(graph, json.dumps({
        "type": "emergency", "altitude_m": 20.0, "hover_s": 3.0,
        "target": {"latitude": target["latitude"], "longitude": target["longitude"]}}),
        priority=10)
    assert emergency.wait(90.0).final_state == "completed"
    survey_id = survey.feedback[-1].mission_id
    preempted = [e for e in events.snapshot() if e.mission_id == survey_id and
                 e.to_state == "queued" and "preempted" in e.reason]
    assert preempted, "the survey went back to the queue for the emergency"
    assert survey.wait(150.0).final_state == "completed"


def test_a_recurring_mission_spawns_one_mission_per_occurrence_until_canceled(
        graph: RosGraph, tmp_path: Path) -> None:
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}], factor=10.0)
    missions = Collector(graph, MissionStatusArray, "/fleet/missions", FLEET_QOS)
    node = graph.node("scheduler")
    target = at(20.0, 20.0)
    spec = json.dumps({"type": "emergency", "altitude_m": 15.0, "hover_s": 1.0, "target": {
        "latitude": target["latitude"], "longitude": target["longitude"]}})
    schedule = node.create_client(ScheduleRecurring, "/mission_planner/schedule_recurring")
    bad = graph.call(schedule, ScheduleRecurring.Request(
        template_id="check", spec_json=spec, priority=5, recurrence="every 0 minutes"))
    assert not bad.ok
    assert "interval must be > 0" in bad.message
    bad_pin = graph.call(schedule, ScheduleRecurring.Request(
        template_id="check", spec_json=spec, priority=5, recurrence="every 3 seconds",
        vehicle_id="uav 0"))
    assert not bad_pin.ok
    assert "pinned vehicle id" in bad_pin.message
    ok = graph.call(schedule, ScheduleRecurring.Request(
        template_id="check", spec_json=spec, priority=5, recurrence="every 3 seconds",
        created_by="test", vehicle_id="uav0"))
    assert ok.ok, ok.message

    def spawned() -> list[Any]:
        last = missions.last()
        return [m for m in last.missions if m.mission_id.startswith("check@")] if last else []

    graph.wait_for(lambda: len(spawned()) >= 2, 20.0, "two occurrences")
    assert all(m.type == "emergency" and m.created_by == "test" for m in spawned())
    assert {m.pinned_vehicle_id for m in spawned()} == {"uav0"}
    assert any(m.state != "queued" for m in spawned())  # dispatched, not only listed
    cancel = node.create_client(MissionControl, "/mission_planner/cancel_recurring")
    assert graph.call(cancel, MissionControl.Request(mission_id="check", actor="test")).ok
    count = len(spawned())
    threading.Event().wait(4.0)
    assert len(spawned()) <= count + 1  # at most one was already due when it was canceled


def test_the_remaining_waypoints_of_a_mission_can_be_replaced_but_not_into_a_zone(
        graph: RosGraph, tmp_path: Path) -> None:
    planner = start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}], factor=5.0)
    planner.zones = [NoFlyZone("school", "school", tuple(
        GeoPoint(p["latitude"], p["longitude"]) for p in
        (at(-100, 100), at(-60, 100), at(-60, 140), at(-100, 140))))]
    events = Collector(graph, MissionEvent, "/fleet/mission_events", EVENTS_QOS)
    goal = mission(graph, survey_spec(size=80.0))
    graph.wait_for(lambda: goal.feedback and goal.feedback[-1].state == "active" and
                   goal.feedback[-1].current_waypoint >= 1, 60.0, "mission under way")
    mid = goal.feedback[-1].mission_id
    modify = graph.node("modifier").create_client(ModifyWaypoints,
                                                  "/mission_planner/modify_waypoints")

    def point(east: float, north: float) -> GeoPointMsg:
        p = at(east, north)
        return GeoPointMsg(latitude=p["latitude"], longitude=p["longitude"], altitude=20.0)

    into_zone = graph.call(modify, ModifyWaypoints.Request(
        mission_id=mid, waypoints=[point(-80, 120)], actor="ops", reason="look at the school"))
    assert not into_zone.ok
    assert "school" in into_zone.message
    no_reason = graph.call(modify, ModifyWaypoints.Request(
        mission_id=mid, waypoints=[point(30, 30)], actor="ops"))
    assert not no_reason.ok
    ok = graph.call(modify, ModifyWaypoints.Request(
        mission_id=mid, waypoints=[point(30, 30), point(30, 60)], hold_s=[0.0, 1.0],
        actor="ops", reason="smoke reported north"))
    assert ok.ok, ok.message
    change = graph.wait_for(lambda: events.find(
        lambda e: e.mission_id == mid and e.actor == "ops"), 5.0, "the modification event")
    assert "smoke reported north" in change.reason
    result = goal.wait(90.0)
    assert result.final_state == "completed"
    assert goal.feedback[-1].waypoint_count == 2  # progress now counts the new waypoints


def test_a_zone_set_at_run_time_through_fleet_manager_is_avoided_by_the_planner(
        graph: RosGraph, tmp_path: Path) -> None:
    from geographic_msgs.msg import GeoPoint as GeoPointMsg

    from fleet_interfaces.msg import NoFlyZone
    from fleet_interfaces.srv import SetNoFlyZones

    planner = start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}])
    spec = json.dumps({"type": "emergency", "altitude_m": 30.0, "target": at(300, 0),
                       "hover_s": 5.0})
    preview = graph.node("preview").create_client(PlanMission, "/mission_planner/plan")
    straight = graph.call(preview, PlanMission.Request(spec_json=spec))
    assert straight.ok, straight.reason
    # A zone across the straight line: the next plan goes around it ...
    zone = NoFlyZone(id="fire", name="fire", altitude_floor=0.0, altitude_ceiling=200.0,
                     polygon=[GeoPointMsg(latitude=p["latitude"], longitude=p["longitude"])
                              for p in (at(120, -60), at(180, -60), at(180, 60), at(120, 60))])
    authority = graph.node("authority").create_client(SetNoFlyZones,
                                                      "/fleet_manager/set_no_fly_zones")
    assert graph.call(authority, SetNoFlyZones.Request(zones=[zone])).success
    graph.wait_for(lambda: [z.zone_id for z in planner.zones] == ["fire"], 5.0,
                   "the planner to take the zone")
    around = graph.call(preview, PlanMission.Request(spec_json=spec))
    assert around.ok, around.reason
    assert around.distance_m > straight.distance_m + 20.0
    # ... and a target inside it cannot be planned at all.
    inside = graph.call(preview, PlanMission.Request(spec_json=json.dumps(
        {"type": "emergency", "altitude_m": 30.0, "target": at(150, 0), "hover_s": 5.0})))
    assert not inside.ok
    assert "fire" in inside.reason


def test_queued_missions_are_listed_reprioritised_and_bad_requests_are_refused(
        graph: RosGraph, tmp_path: Path) -> None:
    from fleet_interfaces.srv import ListMissions, SetPriority

    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}])
    later = json.loads(survey_spec())
    later["not_before"] = time.time() + 3600.0  # stays planned: nothing flies in this test
    goal = mission(graph, json.dumps(later), priority=3)
    node = graph.node("operator")
    lister = node.create_client(ListMissions, "/mission_planner/list_missions")
    listed = graph.wait_for(lambda: graph.call(lister, ListMissions.Request(state="planned"))
                            .missions, 10.0, "the planned mission listed")
    [m] = listed
    assert (m.priority, m.type, m.created_by) == (3, "survey", "test")
    mid = m.mission_id
    assert graph.call(lister, ListMissions.Request(state="active")).missions == []
    priority = node.create_client(SetPriority, "/mission_planner/set_priority")
    raised = graph.call(priority, SetPriority.Request(mission_id=mid, priority=8, actor="op"))
    assert raised.ok, raised.message
    assert graph.call(lister, ListMissions.Request()).missions[0].priority == 8
    too_high = graph.call(priority, SetPriority.Request(mission_id=mid, priority=11, actor="op"))
    assert not too_high.ok
    assert "11" in too_high.message
    unknown = graph.call(priority, SetPriority.Request(mission_id="m-nope", priority=5))
    assert not unknown.ok
    assert "m-nope" in unknown.message
    pause = control(graph, "pause", mid)
    assert not pause.ok
    assert "planned" in pause.message  # only an active mission can be paused
    assert "m-nope" in control(graph, "resume", "m-nope").message
    bad_state = graph.call(lister, ListMissions.Request(state="flying"))
    assert (bad_state.ok, bad_state.missions) == (False, [])
    assert bad_state.message.startswith("unknown state 'flying'; one of planned, queued")
    assert control(graph, "abort", mid).ok
    result = goal.wait(10.0)
    assert result.final_state == "aborted"


def test_a_vehicle_put_in_maintenance_mid_mission_goes_home_and_another_finishes(
        graph: RosGraph, tmp_path: Path) -> None:
    from fleet_interfaces.srv import SetMaintenance

    goal, events, first = survey_under_way(graph, tmp_path)
    grounded = first.vehicle_id
    maintenance = graph.node("mechanic").create_client(SetMaintenance,
                                                       "/fleet_manager/set_maintenance")
    assert graph.call(maintenance, SetMaintenance.Request(
        vehicle_id=grounded, enabled=True, reason="camera gimbal noise")).success
    finished_by_the_other(goal, events, first, "went to maintenance")
    state = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    graph.wait_for(lambda: (s := state.last()) and any(
        v.vehicle_id == grounded and not v.armed for v in s.vehicles), 60.0,
        "the grounded vehicle home and disarmed")


def test_a_storm_after_queueing_keeps_the_mission_waiting_until_the_wind_drops(
        graph: RosGraph, tmp_path: Path) -> None:
    from fleet_interfaces.srv import ListMissions

    start_windy_graph(graph, tmp_path)
    spec = json.loads(survey_spec())
    spec["not_before"] = time.time() + 2.0  # accepted in calm air, due once the storm is in
    goal = mission(graph, json.dumps(spec))
    set_wind = graph.node("weather_op").create_client(SetWind, "/fleet_sim/set_wind")
    assert graph.call(set_wind, SetWind.Request(speed_mps=20.0, direction_deg=270.0)).success
    lister = graph.node("operator").create_client(ListMissions, "/mission_planner/list_missions")
    waiting = graph.wait_for(lambda: [
        m for m in graph.call(lister, ListMissions.Request(state="queued")).missions
        if "grounded by wind" in m.reason], 15.0, "the mission waiting out the storm")
    assert waiting[0].reason == "no free vehicle; 1 grounded by wind 20.0 m/s"
    assert goal.result is None  # not failed
    assert graph.call(set_wind, SetWind.Request(speed_mps=2.0, direction_deg=90.0)).success
    result = goal.wait(120.0)
    assert (result.final_state, result.reason) == ("completed", "all waypoints reached")
