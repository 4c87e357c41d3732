"""Conversions between planner domain types and fleet_interfaces messages (one place)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from geographic_msgs.msg import GeoPoint as GeoPointMsg

from fleet_core.charging.model import ChargingStation, PadSession, Urgency
from fleet_core.dispatch.state import MissionRecord, MissionState, MissionTransition, Modification
from fleet_core.execution.model import FleetVehicle
from fleet_core.execution.runs import MissionEntry, MissionExecutor, PlanStarted, Progress
from fleet_core.execution.trips import QueueRow, Trip, TripProgress
from fleet_core.fleet.model import Liveness, OperatingStatus
from fleet_core.geo import GeoPoint
from fleet_core.jsontext import json_object
from fleet_core.mavlink import LandedState
from fleet_core.missions_config import PlannerSettings
from fleet_core.planning import MissionPlan, Waypoint, WaypointKind
from fleet_core.planning.event_details import (
    MissionEventDetails,
    event_waypoints,
    planned_details,
)
from fleet_core.planning.items import photo_lines
from fleet_interfaces.action import ExecuteMission, RequestCharge
from fleet_interfaces.msg import ChargingQueueEntry, ChargingSession, MissionEvent, MissionStatus
from fleet_interfaces.msg import ChargingStation as ChargingStationMsg


def to_time(t: float) -> Any:
    """POSIX seconds to builtin_interfaces/Time."""
    from builtin_interfaces.msg import Time  # noqa: PLC0415 - keeps the import list short

    sec = math.floor(t)
    return Time(sec=int(sec), nanosec=int((t - sec) * 1e9))


def geo_msg(p: GeoPoint) -> GeoPointMsg:
    """GeoPoint to geographic_msgs/GeoPoint (float fields: never ints)."""
    return GeoPointMsg(latitude=float(p.latitude), longitude=float(p.longitude),
                       altitude=float(p.altitude))


def waypoints_from_msgs(points: Any, holds: Any) -> list[Waypoint]:
    """ModifyWaypoints request points to plan waypoints (altitude relative to home)."""
    holds = list(holds)
    if holds and len(holds) != len(points):
        raise ValueError(f"hold_s has {len(holds)} values for {len(points)} waypoints")
    out = []
    for i, p in enumerate(points):
        point = GeoPoint(float(p.latitude), float(p.longitude), float(p.altitude))
        if not point.is_valid() or not math.isfinite(point.altitude):
            raise ValueError(f"waypoint {i} ({p.latitude}, {p.longitude}, {p.altitude}) is "
                             "not a valid position")
        if not 2.0 <= point.altitude <= 500.0:
            raise ValueError(f"waypoint {i} altitude {p.altitude} m is outside 2..500 m "
                             "above home")
        hold = float(holds[i]) if holds else 0.0
        if not (math.isfinite(hold) and 0.0 <= hold <= 3600.0):
            raise ValueError(f"waypoint {i} hold {hold} s is outside 0..3600")
        out.append(Waypoint(point, WaypointKind.TRANSIT, hold_s=hold))
    return out


def plan_dict(plan: MissionPlan) -> dict[str, Any]:
    """The whole plan as JSON-able data (PlanMission.plan_json)."""
    return {
        "distance_m": plan.distance_m, "duration_s": plan.duration_s,
        "energy_wh": plan.energy_wh, "reserve_wh": plan.reserve_wh,
        "coverage_pct": plan.coverage_pct, "line_spacing_m": plan.line_spacing_m,
        "trigger_distance_m": plan.trigger_distance_m, "start_time": plan.start_time,
        "return_index": plan.return_index, "warnings": list(plan.warnings),
        "photo_count": plan.photo_count,
        "photo_lines": [[first, last] for first, last in photo_lines(plan.waypoints)],
        "waypoints": [{"latitude": w.position.latitude, "longitude": w.position.longitude,
                       "altitude": w.position.altitude, "kind": w.kind.value,
                       "hold_s": w.hold_s, "speed_mps": w.speed_mps,
                       "payload_kg": w.payload_kg, "photo": w.photo} for w in plan.waypoints],
        "legs": [{"start_index": leg.start_index, "end_index": leg.end_index,
                  "distance_m": leg.distance_m, "duration_s": leg.duration_s,
                  "energy_wh": leg.energy_wh, "charge_station": leg.charge_station}
                 for leg in plan.legs],
    }


def status_msg(record: MissionRecord, *, kind: str, progress_pct: float, current: int,
               count: int, distance_m: float, remaining_m: float, eta_s: float,
               reason: str, now: float) -> MissionStatus:
    """MissionRecord plus execution figures to fleet_interfaces/MissionStatus."""
    return MissionStatus(
        mission_id=record.mission_id, parent_id=record.parent_id or "", type=kind,
        state=record.state.value, priority=int(record.priority),
        vehicle_id=record.vehicle_id or "",
        pinned_vehicle_id=record.pinned_vehicle_id or "", progress_pct=float(progress_pct),
        current_waypoint=int(current), waypoint_count=int(count),
        distance_m=float(distance_m), distance_remaining_m=float(remaining_m),
        eta_s=float(eta_s), created_by=record.created_by, reason=reason,
        updated=to_time(now))


def event_msg(event: MissionTransition | Modification, *, vehicle_id: str,
              details_json: str, state: MissionState | None = None) -> MissionEvent:
    """A dispatcher transition or modification to fleet_interfaces/MissionEvent."""
    if isinstance(event, MissionTransition):
        return MissionEvent(stamp=to_time(event.time), mission_id=event.mission_id,
                            from_state=event.from_state.value, to_state=event.to_state.value,
                            reason=event.reason, actor=event.actor,
                            vehicle_id=event.vehicle_id or vehicle_id,
                            details_json=details_json)
    current = state.value if state is not None else ""
    return MissionEvent(stamp=to_time(event.time), mission_id=event.mission_id,
                        from_state=current, to_state=current,
                        reason=f"{event.summary}: {event.reason}" if event.reason
                        else event.summary, actor=event.actor, vehicle_id=vehicle_id,
                        details_json=details_json)


STATUS_BY_CODE = {code: OperatingStatus(code) for code in range(len(OperatingStatus))}


def update_vehicle(v: FleetVehicle, m: Any) -> None:
    """Take one fleet_interfaces/VehicleStatus of /fleet/status into the planner's view.

    An invalid position or home keeps the last valid one (a (0, 0) home is "not yet set").
    """
    v.status = STATUS_BY_CODE.get(int(m.status), OperatingStatus.UNKNOWN)
    v.liveness = Liveness(min(int(m.liveness), 2))
    pos = GeoPoint(float(m.position.latitude), float(m.position.longitude),
                   float(m.position.altitude))
    v.position = pos if pos.is_valid() else v.position
    home = GeoPoint(float(m.home.latitude), float(m.home.longitude), float(m.home.altitude))
    v.home = home if home.is_valid() and (home.latitude or home.longitude) else v.home
    v.battery_pct = float(m.battery_percent)
    v.armed = bool(m.armed)
    v.landed = int(m.landed_state) in (LandedState.ON_GROUND, LandedState.UNDEFINED)
    v.mode = str(m.autopilot_mode)


def station_msg(settings: PlannerSettings, station: ChargingStation) -> ChargingStationMsg:
    """A configured station and its pads to fleet_interfaces/ChargingStation."""
    pads = [p for p in settings.pads if p.station_id == station.station_id]
    return ChargingStationMsg(
        id=station.station_id, name=station.station_id, site=station.site or "",
        location=geo_msg(station.position), pads=[geo_msg(p.position) for p in pads],
        charge_rate_w=float(station.charge_rate_w),
        pad_radius_m=float(pads[0].radius_m) if pads else 0.0)


def session_msg(settings: PlannerSettings, s: PadSession) -> ChargingSession:
    """A charging session (in progress or ended) to fleet_interfaces/ChargingSession."""
    station = next(x for x in settings.stations if x.station_id == s.station_id)
    msg = ChargingSession(
        vehicle_id=s.vehicle_id, pad=int(s.pad), station=station_msg(settings, station),
        requested_at=to_time(s.requested_at), started_at=to_time(s.started_at or 0.0),
        ended_at=to_time(s.ended_at or 0.0), queue_wait_s=float(s.queue_wait_s),
        start_pct=float(s.start_pct), end_pct=float(s.end_pct),
        energy_wh=float(s.energy_wh), completed=bool(s.completed))
    msg.station.pad_radius_m = float(settings.pad(s.station_id, s.pad).radius_m)
    return msg


def queue_entry_msg(row: QueueRow) -> ChargingQueueEntry:
    """One vehicle of the charging queue to fleet_interfaces/ChargingQueueEntry."""
    return ChargingQueueEntry(
        vehicle_id=row.vehicle_id, state=row.state.value, station_id=row.station_id,
        pad=int(row.pad), battery_pct=float(row.battery_pct), target_pct=float(row.target_pct),
        queue_position=int(row.queue_position), estimated_wait_s=float(row.estimated_wait_s),
        time_to_full_s=float(row.time_to_full_s))


def trip_feedback(p: TripProgress) -> Any:
    """A charging trip's progress to RequestCharge feedback."""
    fb = RequestCharge.Feedback()
    fb.state, fb.station_id, fb.pad = p.state.value, p.station_id, int(p.pad)
    fb.battery_pct, fb.queue_position = float(p.battery_pct), int(p.queue_position)
    fb.estimated_wait_s, fb.time_to_full_s = float(p.estimated_wait_s), float(p.time_to_full_s)
    return fb


def mission_feedback(mid: str, record: MissionRecord, p: Progress) -> Any:
    """A mission's progress to ExecuteMission feedback."""
    fb = ExecuteMission.Feedback()
    fb.mission_id, fb.state = mid, record.state.value
    fb.progress_pct, fb.current_waypoint, fb.waypoint_count = float(p.pct), p.current, p.count
    fb.distance_remaining_m, fb.eta_s = float(p.remaining_m), float(p.eta_s)
    fb.vehicle_id = record.vehicle_id or ""
    return fb


def statuses(execution: MissionExecutor, now: float) -> list[MissionStatus]:
    """One MissionStatus per listed mission (all open ones, the last finished ones)."""
    out = []
    for mid in execution.listed():
        m, record = execution.missions[mid], execution.dispatcher.get(mid)
        p = execution.progress(mid, record)
        out.append(status_msg(
            record, kind=m.kind, progress_pct=p.pct, current=p.current, count=p.count,
            distance_m=m.reference.distance_m if m.reference else record.demand.distance_m,
            remaining_m=p.remaining_m, eta_s=p.eta_s, reason=execution.reason(mid), now=now))
    return out


def mission_result(mid: str, entry: MissionEntry, record: MissionRecord, now: float) -> Any:
    """How a mission ended, as ExecuteMission result."""
    result = ExecuteMission.Result()
    result.mission_id = mid
    result.final_state = record.state.value  # completed | aborted | failed
    result.reason = entry.reason
    result.flown_distance_m = float(entry.flown_m)
    result.duration_s = float((entry.ended_at or now) - (entry.started_at or now))
    return result


def charge_result(trip: Trip, now: float) -> Any:
    """How a charging trip ended, as RequestCharge result."""
    result = RequestCharge.Result()
    s = trip.session
    result.success = s is not None and s.completed
    result.reason = trip.reason
    result.station_id, result.pad = trip.station_id, int(trip.pad)
    if s is not None:
        result.start_pct, result.charged_pct = float(s.start_pct), float(s.end_pct)
        result.queue_wait_s = float(s.queue_wait_s)
        result.duration_s = float((s.ended_at or now) - (s.started_at or s.requested_at))
        result.energy_wh = float(s.energy_wh)
    return result


def plan_response(plan: MissionPlan, response: Any) -> Any:
    """A previewed plan into a PlanMission response."""
    response.ok = True
    response.distance_m, response.duration_s = plan.distance_m, plan.duration_s
    response.energy_wh, response.reserve_wh = plan.energy_wh, plan.reserve_wh
    response.coverage_pct = float(plan.coverage_pct) if plan.coverage_pct is not None \
        else math.nan
    response.waypoints = [geo_msg(w.position) for w in plan.waypoints]
    response.plan_json = json.dumps(plan_dict(plan))
    return response


def spec_object(text: str) -> dict[str, Any]:
    """A request's spec_json as a JSON object (ValueError naming what is wrong)."""
    return json_object(text, "spec_json")


_URGENCY = {RequestCharge.Goal.URGENCY_NORMAL: Urgency.NORMAL,
            RequestCharge.Goal.URGENCY_CRITICAL: Urgency.CRITICAL,
            RequestCharge.Goal.URGENCY_EMERGENCY: Urgency.EMERGENCY}


def charge_goal(goal: Any) -> tuple[float, Urgency]:
    """A RequestCharge goal's target and urgency (ValueError naming a bad one)."""
    target = float(goal.target_pct)
    if not (math.isfinite(target) and 0.0 < target <= 100.0):
        raise ValueError(f"target_pct {goal.target_pct} is outside (0, 100]")
    if int(goal.urgency) not in _URGENCY:
        raise ValueError(f"unknown urgency {goal.urgency}")
    return target, _URGENCY[int(goal.urgency)]


def change_details(kind: str, waypoints: Sequence[Waypoint] | None) -> str:
    """The details_json of an operator's change; new waypoints are the mission from now on
    (a recorder keeps them)."""
    return MissionEventDetails(
        mission_type=kind,
        waypoints=event_waypoints(waypoints) if waypoints is not None else None).to_json()


def transition_details(kind: str, priority: int) -> str:
    """The details_json of a mission's transition: its type and priority."""
    return MissionEventDetails(mission_type=kind, priority=priority).to_json()


def plan_event(started: PlanStarted, entry: MissionEntry, record: MissionRecord,
               now: float) -> MissionEvent:
    """The "planned for <vehicle>" event: the plan a vehicle is about to fly."""
    return MissionEvent(
        stamp=to_time(now), mission_id=started.mission_id, from_state=record.state.value,
        to_state=record.state.value, reason=f"planned for {started.vehicle_id}",
        actor="mission_planner", vehicle_id=started.vehicle_id,
        details_json=planned_details(mission_type=entry.kind, priority=record.priority,
                                     area=entry.request.area, plan=started.plan).to_json())
