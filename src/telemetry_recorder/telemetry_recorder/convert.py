"""Fleet messages to fleet_db's typed records (the one place for these conversions)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from fleet_core.fleet.config import Site
from fleet_core.fleet.model import VehicleSpec
from fleet_core.planning.event_details import MissionEventDetails
from fleet_db.models import COORDINATION_EVENT_TYPES, COORDINATION_SEVERITIES
from fleet_db.writes import (
    ChargingSessionRecord,
    CoordinationEventRecord,
    MissionEventRecord,
    MissionStatusRecord,
    NoFlyZoneRecord,
    RegistryRecord,
    SiteRecord,
    VehicleSeenRecord,
    ZonesInForceRecord,
)
from fleet_interfaces.msg import (
    ChargingSession,
    CoordinationEvent,
    MissionEvent,
    MissionStatusArray,
    NoFlyZoneArray,
    VehicleStatus,
)

# CoordinationEvent TYPE_* and SEVERITY_* codes index the schema's lists (same order).
_EVENT_TYPES = COORDINATION_EVENT_TYPES
_SEVERITIES = COORDINATION_SEVERITIES


def stamp_to_datetime(stamp: Any) -> datetime:
    """Convert a builtin_interfaces/Time to an aware UTC datetime."""
    return datetime.fromtimestamp(int(stamp.sec) + int(stamp.nanosec) * 1e-9, tz=UTC)


def _optional_time(stamp: Any) -> datetime | None:
    return None if int(stamp.sec) == 0 and int(stamp.nanosec) == 0 else stamp_to_datetime(stamp)


def coordination_event_record(msg: CoordinationEvent) -> CoordinationEventRecord:
    """The coordination_events record (one per event id; resolved updates it)."""
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
    return CoordinationEventRecord(
        key=str(msg.id), time=time, type=_EVENT_TYPES[msg.type],
        severity=_SEVERITIES[msg.severity],
        vehicle_id=vehicles[0] if vehicles else None,
        other_vehicle_id=vehicles[1] if len(vehicles) > 1 else None,
        zone_id=data.get("zone_id") or data.get("zone"),
        opened_at=time, closed_at=time if resolved else None,
        message=str(msg.resolution) or None,
        details={"vehicle_ids": vehicles, **data})


def mission_event_record(msg: MissionEvent) -> MissionEventRecord:
    """The mission_events record, with its details read by their one schema."""
    if not msg.mission_id:
        raise ValueError("mission event without a mission id")
    try:
        details = MissionEventDetails.from_json(msg.details_json)
    except ValueError as exc:
        raise ValueError(f"mission event of {msg.mission_id!r}: {exc}") from None
    return MissionEventRecord(
        mission_id=str(msg.mission_id), time=stamp_to_datetime(msg.stamp),
        from_state=str(msg.from_state) or None, to_state=str(msg.to_state),
        reason=str(msg.reason) or None, actor=str(msg.actor) or None,
        vehicle_id=str(msg.vehicle_id) or None, details=details)


def mission_status_records(msg: MissionStatusArray) -> list[MissionStatusRecord]:
    """Records keeping the missions table in step with the planner."""
    records = []
    for m in msg.missions:
        if not m.mission_id:
            raise ValueError("mission status without a mission id")
        records.append(MissionStatusRecord(
            id=str(m.mission_id), parent_id=str(m.parent_id) or None,
            type=str(m.type), status=str(m.state), priority=int(m.priority),
            vehicle_id=str(m.vehicle_id) or None, created_by=str(m.created_by) or None,
            estimated_distance_m=float(m.distance_m) if math.isfinite(m.distance_m)
            else None,
            updated=stamp_to_datetime(m.updated)))
    return records


def charging_session_record(msg: ChargingSession) -> ChargingSessionRecord:
    """The charging_sessions record (and its station, registered if new)."""
    st = msg.station
    if not msg.vehicle_id or not st.id:
        raise ValueError("charging session without a vehicle or a station id")
    loc = st.location
    if not (math.isfinite(loc.latitude) and math.isfinite(loc.longitude)
            and -90 <= loc.latitude <= 90 and -180 <= loc.longitude <= 180):
        raise ValueError(f"charging station {st.id!r}: location ({loc.latitude}, "
                         f"{loc.longitude}) is not a WGS-84 position")
    return ChargingSessionRecord(
        vehicle_id=str(msg.vehicle_id), station_id=str(st.id),
        station_lat=float(loc.latitude), station_lon=float(loc.longitude),
        station_pads=max(1, len(st.pads)), station_rate_w=float(st.charge_rate_w) or 1.0,
        station_site=str(st.site) or None,
        pad=int(msg.pad), requested_at=stamp_to_datetime(msg.requested_at),
        started_at=_optional_time(msg.started_at), ended_at=_optional_time(msg.ended_at),
        queue_wait_s=float(msg.queue_wait_s), start_pct=float(msg.start_pct),
        end_pct=float(msg.end_pct), energy_wh=float(msg.energy_wh))


def vehicle_record(v: VehicleStatus, status: str) -> VehicleSeenRecord:
    """The vehicles registry record: status, last seen, model, home and home site."""
    home = v.home
    has_home = (math.isfinite(home.latitude) and math.isfinite(home.longitude)
                and -90 <= home.latitude <= 90 and -180 <= home.longitude <= 180
                and (home.latitude or home.longitude))
    return VehicleSeenRecord(
        id=str(v.vehicle_id), status=status, last_seen_at=stamp_to_datetime(v.stamp),
        model=str(v.model) or None, site=str(v.home_site) or None,
        home_lat=float(home.latitude) if has_home else None,
        home_lon=float(home.longitude) if has_home else None)


def no_fly_zone_records(msg: NoFlyZoneArray, now: datetime
                        ) -> list[NoFlyZoneRecord | ZonesInForceRecord]:
    """Records making no_fly_zones the set in force: one upsert per zone, then the rest end."""
    records: list[NoFlyZoneRecord | ZonesInForceRecord] = []
    for z in msg.zones:
        if not z.id:
            raise ValueError("no-fly zone without an id")
        ring = [[float(p.longitude), float(p.latitude)] for p in z.polygon]
        if len(ring) < 3 or not all(math.isfinite(c) for pt in ring for c in pt):
            raise ValueError(f"no-fly zone {z.id!r}: polygon needs 3 finite vertices")
        floor, ceiling = float(z.altitude_floor), float(z.altitude_ceiling)
        if not (math.isfinite(floor) and math.isfinite(ceiling) and floor < ceiling):
            raise ValueError(f"no-fly zone {z.id!r}: floor {floor} is not below ceiling "
                             f"{ceiling}")
        records.append(NoFlyZoneRecord(
            id=str(z.id), name=str(z.name) or str(z.id),
            geojson=json.dumps({"type": "Polygon", "coordinates": [ring + ring[:1]]}),
            floor_m=floor, ceiling_m=ceiling,
            active_from=_optional_time(z.active_from),
            active_until=_optional_time(z.active_until)))
    records.append(ZonesInForceRecord(now=now, ids=tuple(str(z.id) for z in msg.zones)))
    return records


def site_record(site: Site) -> SiteRecord:
    """The sites record, from fleet.yaml."""
    return SiteRecord(id=site.site_id, name=site.name, lat=float(site.location.latitude),
                      lon=float(site.location.longitude), time_zone=site.time_zone)


def registry_record(spec: VehicleSpec) -> RegistryRecord:
    """The vehicles registry record from fleet.yaml: model, capabilities, home site."""
    caps: dict[str, float] = {
        "max_payload_kg": spec.max_payload_kg, "max_range_m": spec.max_range_m,
        "cruise_speed": spec.cruise_speed, "max_speed": spec.max_speed,
        "battery_capacity_wh": spec.battery_capacity_wh}
    if spec.max_wind_mps is not None:
        caps["max_wind_mps"] = spec.max_wind_mps
    return RegistryRecord(id=spec.vehicle_id, model=spec.model, capabilities=caps,
                          site=spec.home_site or None)
