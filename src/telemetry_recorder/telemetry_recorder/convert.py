"""Fleet messages to database rows (the one place for these conversions)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from fleet_db.models import COORDINATION_EVENT_TYPES, COORDINATION_SEVERITIES
from fleet_interfaces.msg import (
    ChargingSession,
    CoordinationEvent,
    MissionEvent,
    MissionStatusArray,
)
from telemetry_recorder.store import Row

# CoordinationEvent TYPE_* and SEVERITY_* codes index the schema's lists (same order).
_EVENT_TYPES = COORDINATION_EVENT_TYPES
_SEVERITIES = COORDINATION_SEVERITIES


def stamp_to_datetime(stamp: Any) -> datetime:
    """Convert a builtin_interfaces/Time to an aware UTC datetime."""
    return datetime.fromtimestamp(int(stamp.sec) + int(stamp.nanosec) * 1e-9, tz=UTC)


def _optional_time(stamp: Any) -> datetime | None:
    return None if int(stamp.sec) == 0 and int(stamp.nanosec) == 0 else stamp_to_datetime(stamp)


def coordination_event_row(msg: CoordinationEvent) -> Row:
    """Row for coordination_events (one per event id; resolved updates it)."""
    if not msg.id:
        raise ValueError("coordination event without an id")
    if msg.type >= len(_EVENT_TYPES):
        raise ValueError(f"coordination event {msg.id!r}: unknown type {msg.type}")
    if msg.severity >= len(_SEVERITIES):
        raise ValueError(f"coordination event {msg.id!r}: unknown severity {msg.severity}")
    vehicles = [str(v) for v in msg.vehicle_ids]
    data = {str(kv.key): str(kv.value) for kv in msg.data}
    time = stamp_to_datetime(msg.stamp)
    resolved = msg.state == CoordinationEvent.STATE_RESOLVED
    return Row("coordination_event", {
        "key": str(msg.id), "time": time, "type": _EVENT_TYPES[msg.type],
        "severity": _SEVERITIES[msg.severity],
        "vehicle_id": vehicles[0] if vehicles else None,
        "other_vehicle_id": vehicles[1] if len(vehicles) > 1 else None,
        "zone_id": data.get("zone_id") or data.get("zone"),
        "opened_at": time, "closed_at": time if resolved else None,
        "message": str(msg.resolution) or None,
        "details": {"vehicle_ids": vehicles, **data},
    })


def mission_event_row(msg: MissionEvent) -> Row:
    """Row for mission_events (plus what the missions row needs if it is not there yet)."""
    if not msg.mission_id:
        raise ValueError("mission event without a mission id")
    try:
        details = json.loads(msg.details_json) if msg.details_json else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"mission event of {msg.mission_id!r}: details_json is not JSON "
                         f"({exc})") from None
    if not isinstance(details, dict):
        raise ValueError(f"mission event of {msg.mission_id!r}: details_json is not an object")
    return Row("mission_event", {
        "mission_id": str(msg.mission_id), "time": stamp_to_datetime(msg.stamp),
        "from_state": str(msg.from_state) or None, "to_state": str(msg.to_state),
        "reason": str(msg.reason) or None, "actor": str(msg.actor) or None,
        "vehicle_id": str(msg.vehicle_id) or None, "details": details,
    })


def mission_status_rows(msg: MissionStatusArray) -> list[Row]:
    """Rows keeping the missions table in step with the planner."""
    rows = []
    for m in msg.missions:
        if not m.mission_id:
            raise ValueError("mission status without a mission id")
        rows.append(Row("mission", {
            "id": str(m.mission_id), "parent_id": str(m.parent_id) or None,
            "type": str(m.type), "status": str(m.state), "priority": int(m.priority),
            "vehicle_id": str(m.vehicle_id) or None, "created_by": str(m.created_by) or None,
            "estimated_distance_m": float(m.distance_m) if math.isfinite(m.distance_m)
            else None,
            "updated": stamp_to_datetime(m.updated),
        }))
    return rows


def charging_session_row(msg: ChargingSession) -> Row:
    """Row for charging_sessions (and its station, registered if new)."""
    st = msg.station
    if not msg.vehicle_id or not st.id:
        raise ValueError("charging session without a vehicle or a station id")
    loc = st.location
    if not (math.isfinite(loc.latitude) and math.isfinite(loc.longitude)
            and -90 <= loc.latitude <= 90 and -180 <= loc.longitude <= 180):
        raise ValueError(f"charging station {st.id!r}: location ({loc.latitude}, "
                         f"{loc.longitude}) is not a WGS-84 position")
    return Row("charging_session", {
        "vehicle_id": str(msg.vehicle_id), "station_id": str(st.id),
        "station_lat": float(loc.latitude), "station_lon": float(loc.longitude),
        "station_pads": max(1, len(st.pads)), "station_rate_w": float(st.charge_rate_w) or 1.0,
        "station_site": str(st.site) or None,
        "pad": int(msg.pad), "requested_at": stamp_to_datetime(msg.requested_at),
        "started_at": _optional_time(msg.started_at), "ended_at": _optional_time(msg.ended_at),
        "queue_wait_s": float(msg.queue_wait_s), "start_pct": float(msg.start_pct),
        "end_pct": float(msg.end_pct), "energy_wh": float(msg.energy_wh),
    })
