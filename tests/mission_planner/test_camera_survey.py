"""A survey flown through mission_planner on fleet_sim takes the photos its plan counts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from mavros_msgs.msg import WaypointList

from fleet_core.mavlink import MavCmd
from fleet_interfaces.msg import MissionEvent
from fleet_ros.graph import RosGraph
from fleet_ros.qos import EVENTS_QOS, LATCHED_QOS
from tests.mission_planner.test_node import at, mission, start_graph
from tests.ros_helpers import Collector

pytestmark = pytest.mark.ros


def camera_survey_spec() -> str:
    # Three east-west lines of 90 m (the area is 90 m wide; 32 m apart) at a 24 m photo
    # spacing: 3.75 spacings a line, far from a whole number, so a waypoint reached up to
    # NAV_ACC_RAD (2 m) early or late cannot add or cost a photo. The first line starts
    # 40 m from home: a camera left on during the transit would take photos there.
    ring = [at(40, 20), at(130, 20), at(130, 110), at(40, 110)]
    coords = [[p["longitude"], p["latitude"]] for p in [*ring, ring[0]]]
    return json.dumps({"type": "survey", "altitude_m": 20.0, "speed_mps": 8.0,
                       "sweep_deg": 90.0, "pattern": "lawnmower",
                       "area": {"type": "Polygon", "coordinates": [coords]},
                       "camera": {"footprint_width_m": 40.0, "footprint_height_m": 30.0},
                       "side_overlap_pct": 20.0, "front_overlap_pct": 20.0})


def camera_status(msg: DiagnosticArray, vehicle_id: str) -> dict[str, str] | None:
    for status in msg.status:
        if status.name == f"fleet_sim: {vehicle_id} camera":
            return {kv.key: kv.value for kv in status.values}
    return None


def test_the_simulator_takes_the_photos_the_survey_plan_counts(
        graph: RosGraph, tmp_path: Path) -> None:
    start_graph(graph, tmp_path, [{"id": "uav0", "home": at(0, 0)}], factor=10.0)
    events = Collector(graph, MissionEvent, "/fleet/mission_events", EVENTS_QOS)
    diagnostics = Collector(graph, DiagnosticArray, "/diagnostics", 10)
    waypoints = Collector(graph, WaypointList, "/uav0/mavros/mission/waypoints", LATCHED_QOS)
    result = mission(graph, camera_survey_spec()).wait(180.0)
    assert (result.final_state, result.reason) == ("completed", "all waypoints reached")

    planned = [json.loads(e.details_json)["plan"] for e in events.snapshot()
               if e.mission_id == result.mission_id and e.reason == "planned for uav0"]
    assert len(planned) == 1
    plan: dict[str, Any] = planned[0]
    assert plan["trigger_distance_m"] == pytest.approx(24.0)
    assert len(plan["photo_lines"]) == 3
    assert plan["photo_count"] == 3 * (1 + 3)

    # The uploaded mission switches the camera on at each line's start and off at its end.
    uploaded = waypoints.find(lambda m: any(w.command == MavCmd.DO_SET_CAM_TRIGG_DIST
                                            for w in m.waypoints))
    assert uploaded is not None
    triggers = [w.param1 for w in uploaded.waypoints
                if w.command == MavCmd.DO_SET_CAM_TRIGG_DIST]
    assert triggers == [pytest.approx(24.0), 0.0] * 3

    # The simulator counted one photo per spacing flown on the lines, none in transit.
    # (fleet_manager publishes /diagnostics too: fleet_sim's first one after the landing.)
    landed = time.time()

    def final_count() -> dict[str, str] | None:
        return next((s for m in diagnostics.snapshot()
                     if m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 > landed
                     and (s := camera_status(m, "uav0"))), None)

    status = graph.wait_for(final_count, 10.0, "fleet_sim's camera diagnostics for uav0")
    assert status["trigger_distance_m"] == "0"
    assert int(status["photos"]) == plan["photo_count"]
