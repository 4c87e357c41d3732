"""The recorder's writes: one typed record per kind of row, and the statements that store it.

Every write is idempotent: a record written twice (a journal replay, or two recorders side by
side) changes nothing the second time. A record travels through the row journal
(:mod:`fleet_db.journal`) as a :class:`~fleet_db.journal.Row` whose kind and values are the
record's :data:`KIND` and fields (:func:`to_row`, :func:`from_row`); rows a recorder journaled
before these types existed read back the same way.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, assert_never

from sqlalchemy import Connection, text

from fleet_core.planning.event_details import MissionEventDetails
from fleet_db.journal import Row


@dataclass(frozen=True, slots=True)
class SiteRecord:
    """A site from fleet.yaml: name, location, time zone."""

    KIND: ClassVar[str] = "site"
    id: str
    name: str
    lat: float
    lon: float
    time_zone: str


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    """A vehicle as fleet.yaml registers it: model, capabilities, home site."""

    KIND: ClassVar[str] = "registry"
    id: str
    model: str
    capabilities: Mapping[str, Any]
    site: str | None


@dataclass(frozen=True, slots=True)
class VehicleSeenRecord:
    """A vehicle in the fleet picture: status, last seen, and model, home, home site if known."""

    KIND: ClassVar[str] = "vehicle"
    id: str
    status: str  # one of models.VEHICLE_STATUSES
    last_seen_at: datetime
    # Absent from rows journaled by an older recorder.
    model: str | None = None
    site: str | None = None
    home_lat: float | None = None
    home_lon: float | None = None


@dataclass(frozen=True, slots=True)
class NoFlyZoneRecord:
    """A no-fly zone fleet_manager has in force."""

    KIND: ClassVar[str] = "no_fly_zone"
    id: str
    name: str
    geojson: str  # a GeoJSON Polygon, closed ring
    floor_m: float
    ceiling_m: float
    active_from: datetime | None
    active_until: datetime | None


@dataclass(frozen=True, slots=True)
class ZonesInForceRecord:
    """The ids of every zone in force at ``now``: any other zone ends now."""

    KIND: ClassVar[str] = "no_fly_zones"
    now: datetime
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CoordinationEventRecord:
    """A coordination event, opened or resolved (one row per key)."""

    KIND: ClassVar[str] = "coordination_event"
    key: str
    time: datetime
    type: str  # one of models.COORDINATION_EVENT_TYPES
    severity: str  # one of models.COORDINATION_SEVERITIES
    vehicle_id: str | None
    other_vehicle_id: str | None
    zone_id: str | None
    opened_at: datetime
    closed_at: datetime | None
    message: str | None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MissionStatusRecord:
    """A mission as the planner reports it: state, priority, vehicle, estimated distance."""

    KIND: ClassVar[str] = "mission"
    id: str
    parent_id: str | None
    type: str
    status: str
    priority: int
    vehicle_id: str | None
    created_by: str | None
    estimated_distance_m: float | None
    updated: datetime


@dataclass(frozen=True, slots=True)
class MissionEventRecord:
    """A mission event; a planned one carries path, area, estimates and waypoints."""

    KIND: ClassVar[str] = "mission_event"
    mission_id: str
    time: datetime
    from_state: str | None
    to_state: str
    reason: str | None
    actor: str | None
    vehicle_id: str | None
    details: MissionEventDetails = field(default_factory=MissionEventDetails)


@dataclass(frozen=True, slots=True)
class ChargingSessionRecord:
    """A charging session at its station, published when it starts and when it ends."""

    KIND: ClassVar[str] = "charging_session"
    vehicle_id: str
    station_id: str
    station_lat: float
    station_lon: float
    station_pads: int
    station_rate_w: float
    station_site: str | None
    pad: int
    requested_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    queue_wait_s: float
    start_pct: float
    end_pct: float
    energy_wh: float


Record = (SiteRecord | RegistryRecord | VehicleSeenRecord | NoFlyZoneRecord | ZonesInForceRecord
          | CoordinationEventRecord | MissionStatusRecord | MissionEventRecord
          | ChargingSessionRecord)
"""Everything the recorder stores besides telemetry and flights."""

_RECORD_TYPES: dict[str, type[Record]] = {t.KIND: t for t in (
    SiteRecord, RegistryRecord, VehicleSeenRecord, NoFlyZoneRecord, ZonesInForceRecord,
    CoordinationEventRecord, MissionStatusRecord, MissionEventRecord, ChargingSessionRecord)}


def to_row(record: Record) -> Row:
    """Return the journal's form of ``record``."""
    values = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    if isinstance(record, MissionEventRecord):
        values["details"] = record.details.to_dict()
    elif isinstance(record, ZonesInForceRecord):
        values["ids"] = list(record.ids)
    elif isinstance(record, RegistryRecord | CoordinationEventRecord):
        key = "capabilities" if isinstance(record, RegistryRecord) else "details"
        values[key] = dict(values[key])
    return Row(record.KIND, values)


def from_row(row: Row) -> Record:
    """Return the record a journal row holds; ValueError (or KeyError) for a row it cannot be."""
    cls = _RECORD_TYPES.get(row.kind)
    if cls is None:
        raise ValueError(f"journal row of unknown kind {row.kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in row.values.items() if k in names}
    if cls is MissionEventRecord:
        values["details"] = MissionEventDetails.from_dict(values.get("details") or {})
    elif cls is ZonesInForceRecord:
        values["ids"] = tuple(values["ids"])
    try:
        return cls(**values)
    except TypeError as exc:  # a field missing
        raise ValueError(f"journal row {row.kind!r}: {exc}") from None


_ENSURE_VEHICLE = text(
    "insert into vehicles (id, serial, model, status) values (:vid, :vid, 'unknown', 'offline') "
    "on conflict (id) do nothing")

_STATEMENTS: dict[str, list[Any]] = {
    # The registry follows fleet_manager's: model, home, and the home site when that site is
    # registered (sites carry a location and time zone nobody in the graph knows).
    "vehicle": [text(
        "insert into vehicles (id, serial, model, status, last_seen_at, home, site_id) "
        "values (:id, :id, coalesce(cast(:model as text), 'unknown'), :status, :last_seen_at, "
        "case when cast(:home_lat as double precision) is not null then "
        "ST_SetSRID(ST_MakePoint(:home_lon, :home_lat), 4326) end, "
        "(select id from sites where id = cast(:site as text))) "
        "on conflict (id) do update set status = excluded.status, "
        "model = case when cast(:model as text) is null then vehicles.model "
        "else excluded.model end, "
        "home = coalesce(excluded.home, vehicles.home), "
        "site_id = coalesce(excluded.site_id, vehicles.site_id), "
        "last_seen_at = greatest(vehicles.last_seen_at, excluded.last_seen_at)")],
    "site": [text(
        "insert into sites (id, name, location, time_zone) values (:id, :name, "
        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :time_zone) on conflict (id) do update "
        "set name = excluded.name, location = excluded.location, "
        "time_zone = excluded.time_zone")],
    "registry": [text(
        "insert into vehicles (id, serial, model, capabilities, site_id) values (:id, :id, "
        ":model, cast(:capabilities as jsonb), (select id from sites where id = "
        "cast(:site as text))) on conflict (id) do update set model = excluded.model, "
        "capabilities = excluded.capabilities, "
        "site_id = coalesce(excluded.site_id, vehicles.site_id)")],
    # The zones fleet_manager has in force. A zone dropped from the set ends now (its row
    # stays, so history such as "missions that crossed an active zone" keeps it).
    "no_fly_zones": [
        text("update no_fly_zones set active_until = :now where (active_until is null or "
             "active_until > :now) and (active_from is null or active_from < :now) "
             "and not (id = any(cast(:ids as text[])))"),
        text("delete from no_fly_zones where active_from >= :now "
             "and not (id = any(cast(:ids as text[])))"),
    ],
    "no_fly_zone": [text(
        "insert into no_fly_zones (id, name, geom, floor_m, ceiling_m, active_from, "
        "active_until, authority) values (:id, :name, ST_SetSRID(ST_GeomFromGeoJSON("
        ":geojson), 4326), :floor_m, :ceiling_m, :active_from, :active_until, 'fleet_manager') "
        "on conflict (id) do update set name = excluded.name, geom = excluded.geom, "
        "floor_m = excluded.floor_m, ceiling_m = excluded.ceiling_m, "
        "active_from = excluded.active_from, active_until = excluded.active_until, "
        "authority = excluded.authority")],
    "coordination_event": [text(
        "insert into coordination_events (key, time, type, severity, vehicle_id, "
        "other_vehicle_id, zone_id, opened_at, closed_at, message, details) "
        "values (:key, :time, :type, :severity, :vehicle_id, :other_vehicle_id, :zone_id, "
        ":opened_at, :closed_at, :message, cast(:details as jsonb)) "
        "on conflict (key) do update set time = greatest(coordination_events.time, "
        "excluded.time), severity = excluded.severity, "
        "closed_at = coalesce(coordination_events.closed_at, excluded.closed_at), "
        "message = coalesce(excluded.message, coordination_events.message), "
        "details = coordination_events.details || excluded.details")],
    "mission": [
        text("insert into vehicles (id, serial, model, status) select :vehicle_id, "
             ":vehicle_id, 'unknown', 'offline' where cast(:vehicle_id as text) is not null "
             "on conflict (id) do nothing"),
        # The parts of a split survey point at it; its row may not be stored yet.
        text("insert into missions (id, type, status) select :parent_id, :type, 'queued' "
             "where cast(:parent_id as text) is not null on conflict (id) do nothing"),
        # A mission belongs to the site of the vehicle that flies it.
        text("insert into missions (id, parent_id, type, status, priority, vehicle_id, "
             "site_id, created_by, estimated_distance_m, started_at, ended_at) values (:id, "
             ":parent_id, :type, :status, :priority, :vehicle_id, (select site_id from "
             "vehicles where id = cast(:vehicle_id as text)), :created_by, "
             ":estimated_distance_m, case when :status = 'active' then :updated end, "
             "case when :status in ('completed', 'aborted', 'failed') then :updated end) "
             "on conflict (id) do update set parent_id = coalesce(missions.parent_id, "
             "excluded.parent_id), site_id = coalesce(missions.site_id, excluded.site_id), "
             "created_by = coalesce(missions.created_by, excluded.created_by), "
             "status = case when missions.status in "
             "('completed', 'aborted', 'failed') then missions.status else excluded.status "
             "end, priority = excluded.priority, vehicle_id = coalesce(excluded.vehicle_id, "
             "missions.vehicle_id), estimated_distance_m = coalesce("
             "excluded.estimated_distance_m, missions.estimated_distance_m), "
             "started_at = coalesce(missions.started_at, excluded.started_at), "
             "ended_at = coalesce(missions.ended_at, excluded.ended_at)"),
    ],
    "mission_event": [
        text("insert into missions (id, type, status) values (:mission_id, "
             "coalesce(cast(:type as text), 'survey'), :to_state) on conflict (id) do nothing"),
        text("insert into mission_events (mission_id, time, from_state, to_state, reason, "
             "actor, details) values (:mission_id, :time, :from_state, :to_state, :reason, "
             ":actor, cast(:details as jsonb)) "
             "on conflict (mission_id, time, to_state) do nothing"),
        # A "planned" event carries the path and estimates the vehicle is about to fly.
        text("update missions set "
             "planned_path = coalesce(ST_SetSRID(ST_GeomFromGeoJSON(cast(:path as text)), "
             "4326), planned_path), "
             "area = coalesce(ST_SetSRID(ST_GeomFromGeoJSON(cast(:area as text)), 4326), area), "
             "estimated_distance_m = coalesce(:est_distance, estimated_distance_m), "
             "estimated_duration_s = coalesce(:est_duration, estimated_duration_s), "
             "estimated_energy_wh = coalesce(:est_energy, estimated_energy_wh) "
             "where id = :mission_id and cast(:path as text) is not null"),
        # A plan for a vehicle, or waypoints replaced by an operator: the new waypoints
        # become the current ones and the old rows stay, superseded, with who, when and why.
        # Keyed by the event's time, so a replay or a second recorder changes nothing; the
        # lock makes two recorders take turns instead of racing for the current rows.
        text("select pg_advisory_xact_lock(hashtext(cast(:mission_id as text))) "
             "where cast(:waypoints as text) is not null"),
        text("update mission_waypoints set superseded = true where mission_id = :mission_id "
             "and not superseded and cast(:waypoints as text) is not null and not exists ("
             "select 1 from mission_waypoints where mission_id = :mission_id "
             "and modified_at = :time)"),
        text("insert into mission_waypoints (mission_id, seq, position, altitude_m, kind, "
             "hold_s, modified_by, modified_at, modification_reason) "
             "select :mission_id, w.n - 1, ST_SetSRID(ST_MakePoint((w.v->>0)::float8, "
             "(w.v->>1)::float8), 4326), (w.v->>2)::float8, w.v->>3, (w.v->>4)::float8, "
             ":actor, :time, :reason "
             "from jsonb_array_elements(cast(:waypoints as jsonb)) with ordinality as w(v, n) "
             "where not exists (select 1 from mission_waypoints where mission_id = :mission_id "
             "and modified_at = :time)"),
    ],
    "charging_session": [
        _ENSURE_VEHICLE,
        text("insert into charging_stations (id, location, pads, charge_rate_w) values "
             "(:station_id, ST_SetSRID(ST_MakePoint(:station_lon, :station_lat), 4326), "
             ":station_pads, :station_rate_w) on conflict (id) do nothing"),
        text("insert into charging_sessions (station_id, pad, vehicle_id, requested_at, "
             "started_at, ended_at, queue_wait_s, start_pct, end_pct, energy_wh) values "
             "(:station_id, :pad, :vehicle_id, :requested_at, :started_at, :ended_at, "
             ":queue_wait_s, :start_pct, :end_pct, :energy_wh) "
             # Published when charging starts and again when it ends: the end completes the
             # row, and a late or replayed start never undoes it.
             "on conflict (vehicle_id, requested_at) do update set "
             "ended_at = coalesce(charging_sessions.ended_at, excluded.ended_at), "
             "end_pct = case when charging_sessions.ended_at is null then excluded.end_pct "
             "else charging_sessions.end_pct end, "
             "energy_wh = case when charging_sessions.ended_at is null then excluded.energy_wh "
             "else charging_sessions.energy_wh end"),
    ],
}



# Planner waypoint kinds as mission_waypoints' (MAVLink-like) kinds; the table's own map to
# themselves, so a row journaled with them reads the same.
_WAYPOINT_KINDS = {"takeoff": "takeoff", "land": "land", "charge": "land", "loiter": "loiter"}


def _mission_event_parameters(r: MissionEventRecord) -> dict[str, Any]:
    d = r.details
    route = d.route
    path = [list(p) for p in route.path] if route is not None and len(route.path) >= 2 \
        else None
    waypoints = [[w.longitude, w.latitude, w.altitude_m, _WAYPOINT_KINDS.get(w.kind, "waypoint"),
                  w.hold_s] for w in d.waypoints] if d.waypoints else None
    # Path, area and waypoints go to their columns and tables; the event keeps the rest.
    stored = dataclasses.replace(d, area=None, route=None, waypoints=None) \
        if path is not None or waypoints is not None else d
    return {
        "mission_id": r.mission_id, "time": r.time, "from_state": r.from_state,
        "to_state": r.to_state, "reason": r.reason, "actor": r.actor,
        "vehicle_id": r.vehicle_id, "type": d.mission_type,
        "path": json.dumps({"type": "LineString", "coordinates": path}) if path else None,
        "area": json.dumps(d.area) if d.area is not None else None,
        "est_distance": route.distance_m if route is not None else None,
        "est_duration": route.duration_s if route is not None else None,
        "est_energy": route.energy_wh if route is not None else None,
        "waypoints": json.dumps(waypoints) if waypoints else None,
        "details": json.dumps(stored.to_dict(), default=str),
    }


def _parameters(record: Record) -> dict[str, Any]:
    values = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    match record:
        case MissionEventRecord():
            return _mission_event_parameters(record)
        case CoordinationEventRecord():
            values["details"] = json.dumps(dict(record.details), default=str)
        case RegistryRecord():
            values["capabilities"] = json.dumps(dict(record.capabilities))
        case ZonesInForceRecord():
            values["ids"] = list(record.ids)
        case ChargingSessionRecord():
            values["vid"] = record.vehicle_id
        case (SiteRecord() | VehicleSeenRecord() | NoFlyZoneRecord()
              | MissionStatusRecord()):
            pass
        case _:
            assert_never(record)
    return values


def write_record(conn: Connection, record: Record) -> None:
    """Store ``record`` on ``conn`` (in the caller's transaction); idempotent."""
    params = _parameters(record)
    for statement in _STATEMENTS[record.KIND]:
        conn.execute(statement, params)
