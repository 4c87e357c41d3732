"""Fleet messages → plain JSON-able dicts: the one conversion layer between ROS and the API.

Runs on the ROS spin thread (so the event loop never pays for it). NaN, which JSON cannot
carry, becomes None. Times are POSIX seconds (float).
"""

from __future__ import annotations

import math
from typing import Any

from fleet_core.planning.event_details import MissionEventDetails
from fleet_interfaces.msg import (
    ChargingQueue,
    ChargingSession,
    ChargingStation,
    CoordinationEvent,
    MissionEvent,
    MissionStatus,
    NoFlyZone,
    VehicleStatus,
)
from fleet_ros.fleet_convert import from_time

VEHICLE_STATUS = ("unknown", "idle", "in_mission", "returning", "charging", "maintenance",
                  "offline")
LIVENESS = ("fresh", "stale", "lost")
LANDED = ("undefined", "on_ground", "in_air", "takeoff", "landing")
EVENT_TYPES = ("collision_avoidance", "airspace_conflict", "low_battery", "link_lost",
               "charging_queue", "emergency_landing", "command_failed")
SEVERITIES = ("info", "warning", "critical")


def num(value: float) -> float | None:
    """Return ``value`` as a float, or None when it is NaN or infinite."""
    v = float(value)
    return v if math.isfinite(v) else None


def _name(names: tuple[str, ...], index: int) -> str:
    return names[index] if 0 <= index < len(names) else f"unknown({index})"


def point(p: Any) -> dict[str, float | None] | None:
    """Return a geographic_msgs/GeoPoint as {latitude, longitude, altitude}, None if unknown."""
    if not (math.isfinite(p.latitude) and math.isfinite(p.longitude)):
        return None
    return {"latitude": float(p.latitude), "longitude": float(p.longitude),
            "altitude": num(p.altitude)}


def stamp(t: Any) -> float | None:
    """Return a builtin_interfaces/Time as POSIX seconds, None for zero."""
    s = from_time(t)
    return s if s > 0 else None


def vehicle(m: VehicleStatus) -> dict[str, Any]:
    """Convert one fleet_interfaces/VehicleStatus."""
    h = m.health
    return {
        "vehicle_id": m.vehicle_id, "stamp": stamp(m.stamp),
        "status": _name(VEHICLE_STATUS, m.status), "liveness": _name(LIVENESS, m.liveness),
        "mode": m.autopilot_mode, "armed": bool(m.armed),
        "landed_state": _name(LANDED, m.landed_state),
        "battery_pct": num(m.battery_percent), "voltage_v": num(m.battery_voltage),
        "current_a": num(m.battery_current), "position": point(m.position),
        "relative_altitude_m": num(m.relative_altitude), "heading_deg": num(m.heading),
        "ground_speed_mps": num(m.ground_speed), "home": point(m.home),
        "mission_id": m.current_mission_id or None,
        "last_reached_item": int(m.last_reached_item), "model": m.model,
        "site_id": m.home_site or None,
        "health": {"gps_ok": h.gps_ok, "estimator_ok": h.estimator_ok,
                   "sensors_ok": h.sensors_ok, "battery_ok": h.battery_ok,
                   "motors_ok": h.motors_ok, "link_ok": h.link_ok,
                   "warnings": list(h.warnings)},
    }


def mission(m: MissionStatus) -> dict[str, Any]:
    """Convert one fleet_interfaces/MissionStatus."""
    return {
        "mission_id": m.mission_id, "parent_id": m.parent_id or None, "type": m.type,
        "state": m.state, "priority": int(m.priority), "vehicle_id": m.vehicle_id or None,
        "pinned_vehicle_id": m.pinned_vehicle_id or None,
        "progress_pct": num(m.progress_pct), "current_waypoint": int(m.current_waypoint),
        "waypoint_count": int(m.waypoint_count), "distance_m": num(m.distance_m),
        "distance_remaining_m": num(m.distance_remaining_m), "eta_s": num(m.eta_s),
        "created_by": m.created_by, "reason": m.reason, "updated": stamp(m.updated),
    }


def coordination_event(m: CoordinationEvent) -> dict[str, Any]:
    """Convert one fleet_interfaces/CoordinationEvent."""
    return {
        "kind": "coordination", "event_id": m.id, "type": _name(EVENT_TYPES, m.type),
        "stamp": stamp(m.stamp), "vehicle_ids": list(m.vehicle_ids),
        "severity": _name(SEVERITIES, m.severity),
        "state": "resolved" if m.state == CoordinationEvent.STATE_RESOLVED else "open",
        "resolution": m.resolution, "data": {kv.key: kv.value for kv in m.data},
    }


def mission_event(m: MissionEvent) -> dict[str, Any]:
    """Convert one fleet_interfaces/MissionEvent (details_json read with its schema; text
    that does not fit it is passed on as ``raw``)."""
    try:
        details = MissionEventDetails.from_json(m.details_json).to_dict()
    except ValueError:
        details = {"raw": m.details_json}
    # A survey's waypoints can be thousands: the live stream carries only their number.
    waypoints = details.get("waypoints")
    if isinstance(waypoints, list) and len(waypoints) > 200:
        details["waypoints"] = f"{len(waypoints)} points (see /api/v1/missions/{m.mission_id})"
    return {
        "kind": "mission", "mission_id": m.mission_id, "stamp": stamp(m.stamp),
        "from_state": m.from_state or None, "to_state": m.to_state, "reason": m.reason,
        "actor": m.actor, "vehicle_id": m.vehicle_id or None, "details": details,
    }


def zone(m: NoFlyZone) -> dict[str, Any]:
    """Convert one fleet_interfaces/NoFlyZone to a GeoJSON Feature."""
    ring = [[float(p.longitude), float(p.latitude)] for p in m.polygon]
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    return {
        "type": "Feature", "id": m.id,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"id": m.id, "name": m.name, "floor_m": num(m.altitude_floor),
                       "ceiling_m": num(m.altitude_ceiling),
                       "active_from": stamp(m.active_from),
                       "active_until": stamp(m.active_until)},
    }


def charging_session(m: ChargingSession) -> dict[str, Any]:
    """Convert one fleet_interfaces/ChargingSession."""
    return {
        "vehicle_id": m.vehicle_id, "station_id": m.station.id, "pad": int(m.pad),
        "requested_at": stamp(m.requested_at), "started_at": stamp(m.started_at),
        "ended_at": stamp(m.ended_at), "queue_wait_s": num(m.queue_wait_s),
        "start_pct": num(m.start_pct), "end_pct": num(m.end_pct),
        "energy_wh": num(m.energy_wh), "completed": bool(m.completed),
    }


def charging_station(m: ChargingStation) -> dict[str, Any]:
    """Convert one fleet_interfaces/ChargingStation."""
    return {
        "station_id": m.id, "name": m.name or m.id, "site_id": m.site or None,
        "location": point(m.location), "pads": [point(p) for p in m.pads],
        "charge_rate_w": num(m.charge_rate_w), "pad_radius_m": num(m.pad_radius_m),
    }


def charging_queue(m: ChargingQueue) -> dict[str, Any]:
    """Convert one fleet_interfaces/ChargingQueue (stations and the queue with its waits)."""
    return {
        "stamp": stamp(m.stamp),
        "stations": [charging_station(s) for s in m.stations],
        "entries": [{
            "vehicle_id": e.vehicle_id, "state": e.state,
            "queue_position": int(e.queue_position), "station_id": e.station_id or None,
            "pad": int(e.pad) if e.pad >= 0 else None, "battery_pct": num(e.battery_pct),
            "target_pct": num(e.target_pct), "estimated_wait_s": num(e.estimated_wait_s),
            "time_to_full_s": num(e.time_to_full_s)} for e in m.entries],
    }
