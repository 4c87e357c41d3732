"""The whole graph in one process: simulated fleet, fleet manager, mission planner, recorder.

Previews and flies a survey and a delivery with the shipped configs, sends the survey's
vehicle to a charging pad, and prints what the recorder stored in PostGIS (telemetry rows,
flights and their metrics, mission events). Runs faster than real time and ends by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

from rclpy.parameter import Parameter
from sqlalchemy import text

from fleet_core.geo import LocalFrame
from fleet_db.db import FleetDbError, make_engine
from fleet_interfaces.action import ExecuteMission, RequestCharge
from fleet_interfaces.msg import FleetStatus
from fleet_interfaces.srv import PlanMission
from fleet_manager.node import FleetManagerNode
from fleet_ros.graph import RosGraph
from fleet_ros.qos import FLEET_QOS
from fleet_sim.node import FleetSimNode
from mission_planner.node import MissionPlannerNode


class _Goal:
    """One action goal: prints its feedback now and then, keeps its result."""

    def __init__(self, graph: RosGraph, action: Any, name: str, goal: Any, label: str) -> None:
        self.label = label
        self.result: Any = None
        self.done = threading.Event()
        self._last_print = 0.0
        client = graph.action_client(f"demo_{label}", action, name)
        if not client.wait_for_server(timeout_sec=10.0):
            raise RuntimeError(f"{name} is not available")
        sent = client.send_goal_async(goal, feedback_callback=self._feedback)
        graph.wait_for(sent.done, 10.0, f"{label} sent")
        handle = sent.result()
        if handle is None or not handle.accepted:
            raise RuntimeError(f"{name} refused the {label} goal")
        handle.get_result_async().add_done_callback(self._result)

    def _feedback(self, msg: Any) -> None:
        fb = msg.feedback
        now = time.monotonic()
        if now - self._last_print < 2.0:
            return
        self._last_print = now
        if hasattr(fb, "progress_pct"):
            print(f"  [{self.label}] {fb.state:<8} {fb.vehicle_id or '-':<5} "
                  f"{fb.progress_pct:5.1f}%  waypoint {fb.current_waypoint + 1}/"
                  f"{fb.waypoint_count}  {fb.distance_remaining_m:6.0f} m to go")
        else:
            print(f"  [{self.label}] {fb.state:<13} battery {fb.battery_pct:5.1f}%  "
                  f"queue {fb.queue_position}  pad {fb.station_id}/{fb.pad}")

    def _result(self, future: Any) -> None:
        self.result = future.result().result
        self.done.set()


def _area(frame: LocalFrame, east: float, north: float, size: float) -> dict[str, Any]:
    ring = [(east, north), (east + size, north), (east + size, north + size),
            (east, north + size), (east, north)]
    coords = [[(g := frame.to_geo(e, n, 0.0)).longitude, g.latitude] for e, n in ring]
    return {"type": "Polygon", "coordinates": [coords]}


def _report_database(since: float) -> None:
    try:
        engine = make_engine()
    except FleetDbError as exc:
        print(f"(no database report: {exc})")
        return
    with engine.connect() as conn:
        rows = conn.execute(text(
            "select vehicle_id, count(*), count(mission_id) from telemetry where time >= "
            "to_timestamp(:t) group by vehicle_id order by vehicle_id"), {"t": since}).all()
        flights = conn.execute(text(
            "select vehicle_id, duration_s, distance_m, max_alt_rel_m, energy_wh, wh_per_km "
            "from flights where started_at >= to_timestamp(:t) order by started_at"),
            {"t": since}).all()
        events = conn.execute(text(
            "select count(*) from mission_events where time >= to_timestamp(:t)"),
            {"t": since}).scalar()
    engine.dispose()
    print("recorded in PostGIS:")
    for vid, n, with_mission in rows:
        print(f"  telemetry {vid}: {n} rows ({with_mission} tagged with a mission)")
    for vid, duration, distance, alt, wh, whkm in flights:
        print(f"  flight {vid}: {duration:.0f} s, {distance:.0f} m, max {alt or 0:.0f} m, "
              f"{wh or 0:.1f} Wh ({whkm or 0:.1f} Wh/km)")
    print(f"  mission events: {events}")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--time-factor", type=float, default=5.0,
                        help="simulated seconds per wall second (default 5)")
    parser.add_argument("--timeout", type=float, default=240.0,
                        help="give up after this many wall seconds (default 240)")
    parser.add_argument("--no-recorder", action="store_true",
                        help="do not record into PostgreSQL")
    args = parser.parse_args(argv)
    if not 0.5 <= args.time_factor <= 20:
        parser.error(f"--time-factor must be 0.5..20, got {args.time_factor}")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    started = time.time()
    with RosGraph() as graph:
        graph.add(FleetSimNode(context=graph.context, parameter_overrides=[
            Parameter("time_factor", value=float(args.time_factor))]))
        graph.add(FleetManagerNode(context=graph.context))
        planner = MissionPlannerNode(context=graph.context)
        graph.add(planner)
        if not args.no_recorder:
            from telemetry_recorder.node import TelemetryRecorderNode  # noqa: PLC0415

            try:
                graph.add(TelemetryRecorderNode(context=graph.context))
            except FleetDbError as exc:
                print(f"recorder not started ({exc}); continuing without it")
                args.no_recorder = True
        status: list[FleetStatus] = []
        graph.node("demo_status").create_subscription(
            FleetStatus, "/fleet/status", status.append, FLEET_QOS)
        graph.wait_for(lambda: len(planner.candidates()) >= 3, 30.0, "three idle vehicles")
        print(f"fleet: {', '.join(sorted(planner.vehicles))}; time factor {args.time_factor:g}")

        frame = LocalFrame.at(planner.fleet_settings.origin)
        survey = {"type": "survey", "name": "field", "altitude_m": 30.0, "speed_mps": 8.0,
                  "area": _area(frame, 60.0, -40.0, 120.0), "pattern": "lawnmower",
                  "camera": {"hfov_deg": 70.0, "vfov_deg": 55.0},
                  "side_overlap_pct": 60.0, "front_overlap_pct": 70.0}
        preview = graph.call(graph.node("demo_plan").create_client(
            PlanMission, "/mission_planner/plan"), PlanMission.Request(
            spec_json=json.dumps(survey)))
        print(f"preview: survey {preview.distance_m:.0f} m, {preview.duration_s:.0f} s, "
              f"{preview.energy_wh:.1f} Wh (+{preview.reserve_wh:.1f} Wh reserve), coverage "
              f"{preview.coverage_pct:.1f}%, {len(preview.waypoints)} waypoints")
        delivery = {"type": "delivery", "altitude_m": 40.0, "pickup": "@depot",
                    "dropoff": "@clinic", "payload_kg": 0.5}
        goals = [
            _Goal(graph, ExecuteMission, "/mission_planner/execute_mission",
                  ExecuteMission.Goal(spec_json=json.dumps(survey), priority=5,
                                      created_by="demo"), "survey"),
            _Goal(graph, ExecuteMission, "/mission_planner/execute_mission",
                  ExecuteMission.Goal(spec_json=json.dumps(delivery), priority=7,
                                      created_by="demo"), "delivery"),
        ]
        deadline = time.monotonic() + args.timeout
        for g in goals:
            if not g.done.wait(max(1.0, deadline - time.monotonic())):
                print(f"{g.label}: not finished in time")
                return 1
            r = g.result
            print(f"{g.label}: {r.final_state} ({r.reason}); flew {r.flown_distance_m:.0f} m "
                  f"in {r.duration_s:.0f} s")
        vid = next((v for v, x in planner.vehicles.items()
                    if x.battery_pct < 99.0 and x.landed), None)
        if vid is not None:
            graph.wait_for(lambda: planner.vehicles[vid].status.name == "IDLE",
                           max(1.0, deadline - time.monotonic()), f"{vid} idle")
            target = min(100.0, planner.vehicles[vid].battery_pct + 5.0)
            print(f"{vid}: charge to {target:.0f}%")
            charge = _Goal(graph, RequestCharge, "/mission_planner/request_charge",
                           RequestCharge.Goal(vehicle_id=vid, target_pct=target), "charge")
            if charge.done.wait(max(1.0, deadline - time.monotonic())):
                r = charge.result
                print(f"charge: {'done' if r.success else 'failed'} ({r.reason}); "
                      f"{r.start_pct:.0f}% -> {r.charged_pct:.0f}% at {r.station_id}/{r.pad}, "
                      f"waited {r.queue_wait_s:.0f} s")
        time.sleep(2.0)  # the recorder's last batches
    if not args.no_recorder:
        _report_database(started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
