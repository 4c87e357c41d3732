"""The PostGIS schema as SQLAlchemy 2 typed mappings (the migrations are the source of truth).

Conventions: every time column is ``timestamptz``; geometries are WGS-84 (SRID 4326) with
longitude as x; enum-like columns are ``text`` with a CHECK constraint (adding a value is a
one-line migration, unlike a PostgreSQL enum type); every geometry column gets an explicit GiST
index here and in the migration, with GeoAlchemy2's automatic one turned off
(``spatial_index=False``) so that no index is ever created twice.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

# Stable constraint names, so that migrations can refer to them and downgrades can drop them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

VEHICLE_STATUSES = ("idle", "in_mission", "returning", "charging", "maintenance", "offline")
MISSION_TYPES = ("survey", "inspection", "patrol", "delivery", "emergency")
MISSION_STATUSES = (
    "planned", "queued", "assigned", "active", "paused", "completed", "aborted", "failed",
)
# Statuses after which a mission never changes again.
MISSION_FINAL_STATUSES = ("completed", "aborted", "failed")
WAYPOINT_KINDS = ("takeoff", "waypoint", "loiter", "land", "return_to_launch", "change_speed")
# Mirrors fleet_interfaces/msg/CoordinationEvent.msg TYPE_* and SEVERITY_* (lower case).
COORDINATION_EVENT_TYPES = (
    "collision_avoidance", "airspace_conflict", "low_battery", "link_lost", "charging_queue",
    "emergency_landing", "command_failed",
)
COORDINATION_SEVERITIES = ("info", "warning", "critical")
USER_ROLES = ("viewer", "operator", "admin")



def geometry(kind: str) -> Geometry:
    """Return a new WGS-84 geometry type without the automatic index (see the docstring).

    A new instance per column: GeoAlchemy2 copies the column's nullability into its type, so
    one shared instance would make every column NOT NULL.
    """
    return Geometry(kind, srid=4326, spatial_index=False)


TZ = DateTime(timezone=True)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """Return the SQL of a CHECK that ``column`` holds one of ``values``."""
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def gist(table: str, column: str) -> Index:
    """Return the GiST index of a geometry column."""
    return Index(f"ix_{table}_{column}_gist", column, postgresql_using="gist")


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Site(Base):
    """A place where vehicles are based, with its local time zone."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("fleet_is_time_zone(time_zone)", name="time_zone"),
        gist("sites", "location"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    location: Mapped[WKBElement] = mapped_column(geometry("POINT"))
    time_zone: Mapped[str] = mapped_column(Text, server_default="UTC")

    @validates("time_zone")
    def _check_time_zone(self, _key: str, value: str) -> str:
        # The database checks too (fleet_is_time_zone), but failing here names the value
        # before a flush.
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"time_zone {value!r} is not an IANA time zone name") from exc
        return value


class Vehicle(Base):
    """A vehicle of the fleet; ``id`` is the fleet's vehicle id (the MAVROS prefix name)."""

    __tablename__ = "vehicles"
    __table_args__ = (
        CheckConstraint(one_of("status", VEHICLE_STATUSES), name="status"),
        gist("vehicles", "home"),
        Index("ix_vehicles_site_id_status", "site_id", "status"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    serial: Mapped[str] = mapped_column(Text, unique=True)
    model: Mapped[str] = mapped_column(Text)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    home: Mapped[WKBElement | None] = mapped_column(geometry("POINT"))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    status: Mapped[str] = mapped_column(Text, server_default="offline")
    firmware: Mapped[str | None] = mapped_column(Text)
    last_seen_at: Mapped[datetime | None] = mapped_column(TZ)


class ChargingStation(Base):
    """A charging station with ``pads`` landing pads."""

    __tablename__ = "charging_stations"
    __table_args__ = (
        CheckConstraint("pads > 0", name="pads"),
        CheckConstraint("charge_rate_w > 0", name="charge_rate_w"),
        gist("charging_stations", "location"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    location: Mapped[WKBElement] = mapped_column(geometry("POINT"))
    pads: Mapped[int] = mapped_column(Integer)
    charge_rate_w: Mapped[float] = mapped_column(Double)


class ChargingSession(Base):
    """One vehicle's visit to a station: queued, charged, left."""

    __tablename__ = "charging_sessions"
    __table_args__ = (
        UniqueConstraint("vehicle_id", "requested_at"),
        CheckConstraint("pad >= 0", name="pad"),
        CheckConstraint("queue_wait_s >= 0", name="queue_wait_s"),
        CheckConstraint("start_pct between 0 and 100", name="start_pct"),
        CheckConstraint("end_pct between 0 and 100", name="end_pct"),
        CheckConstraint("ended_at >= started_at", name="ended_after_start"),
        Index("ix_charging_sessions_station_id_requested_at", "station_id", "requested_at"),
        Index("ix_charging_sessions_vehicle_id_requested_at", "vehicle_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("charging_stations.id"))
    pad: Mapped[int | None] = mapped_column(Integer)
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicles.id"))
    requested_at: Mapped[datetime] = mapped_column(TZ)
    started_at: Mapped[datetime | None] = mapped_column(TZ)
    ended_at: Mapped[datetime | None] = mapped_column(TZ)
    queue_wait_s: Mapped[float | None] = mapped_column(Double)
    start_pct: Mapped[float | None] = mapped_column(Double)
    end_pct: Mapped[float | None] = mapped_column(Double)
    energy_wh: Mapped[float | None] = mapped_column(Double)


class NoFlyZone(Base):
    """A no-fly zone: polygon, altitude band (metres AMSL), active window."""

    __tablename__ = "no_fly_zones"
    __table_args__ = (
        CheckConstraint("floor_m < ceiling_m", name="floor_below_ceiling"),
        CheckConstraint("active_until is null or active_from is null "
                        "or active_from < active_until", name="active_window"),
        gist("no_fly_zones", "geom"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(geometry("POLYGON"))
    floor_m: Mapped[float] = mapped_column(Double, server_default=text("0"))
    ceiling_m: Mapped[float] = mapped_column(Double, server_default=text("100000"))
    active_from: Mapped[datetime | None] = mapped_column(TZ)  # null: since always
    active_until: Mapped[datetime | None] = mapped_column(TZ)  # null: until further notice
    authority: Mapped[str | None] = mapped_column(Text)


class Mission(Base):
    """A mission; split missions point at the mission they were split from."""

    __tablename__ = "missions"
    __table_args__ = (
        CheckConstraint(one_of("type", MISSION_TYPES), name="type"),
        CheckConstraint(one_of("status", MISSION_STATUSES), name="status"),
        CheckConstraint("priority between 1 and 10", name="priority"),
        CheckConstraint("area is null or ST_GeometryType(area) in "
                        "('ST_Polygon', 'ST_MultiPolygon')", name="area_polygonal"),
        gist("missions", "area"),
        gist("missions", "planned_path"),
        Index("ix_missions_status", "status"),
        Index("ix_missions_site_id_ended_at", "site_id", "ended_at"),
        Index("ix_missions_vehicle_id", "vehicle_id"),
        Index("ix_missions_parent_id", "parent_id"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    type: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=text("5"))
    pattern: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    area: Mapped[WKBElement | None] = mapped_column(geometry("GEOMETRY"))
    planned_path: Mapped[WKBElement | None] = mapped_column(geometry("LINESTRING"))
    estimated_distance_m: Mapped[float | None] = mapped_column(Double)
    estimated_duration_s: Mapped[float | None] = mapped_column(Double)
    estimated_energy_wh: Mapped[float | None] = mapped_column(Double)
    status: Mapped[str] = mapped_column(Text, server_default="planned")
    vehicle_id: Mapped[str | None] = mapped_column(ForeignKey("vehicles.id"))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    scheduled_at: Mapped[datetime | None] = mapped_column(TZ)
    started_at: Mapped[datetime | None] = mapped_column(TZ)
    ended_at: Mapped[datetime | None] = mapped_column(TZ)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("missions.id"))


class MissionWaypoint(Base):
    """A waypoint of a mission; a modified waypoint supersedes the old row instead of erasing it."""

    __tablename__ = "mission_waypoints"
    __table_args__ = (
        CheckConstraint(one_of("kind", WAYPOINT_KINDS), name="kind"),
        CheckConstraint("seq >= 0", name="seq"),
        CheckConstraint("hold_s >= 0", name="hold_s"),
        # One current waypoint per position in the sequence; superseded rows are history.
        Index("uq_mission_waypoints_current_seq", "mission_id", "seq", unique=True,
              postgresql_where=text("not superseded")),
        gist("mission_waypoints", "position"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    mission_id: Mapped[str] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    position: Mapped[WKBElement] = mapped_column(geometry("POINT"))
    altitude_m: Mapped[float] = mapped_column(Double)  # above the home position (relative)
    kind: Mapped[str] = mapped_column(Text, server_default="waypoint")
    hold_s: Mapped[float] = mapped_column(Double, server_default=text("0"))
    modified_by: Mapped[str | None] = mapped_column(Text)
    modified_at: Mapped[datetime | None] = mapped_column(TZ)
    modification_reason: Mapped[str | None] = mapped_column(Text)
    superseded: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class MissionEvent(Base):
    """A mission state transition: who moved it from which state to which, and why."""

    __tablename__ = "mission_events"
    __table_args__ = (
        UniqueConstraint("mission_id", "time", "to_state"),
        CheckConstraint(f"from_state is null or {one_of('from_state', MISSION_STATUSES)}",
                        name="from_state"),
        CheckConstraint(one_of("to_state", MISSION_STATUSES), name="to_state"),
        Index("ix_mission_events_mission_id_time", "mission_id", "time"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    mission_id: Mapped[str] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    time: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    from_state: Mapped[str | None] = mapped_column(Text)
    to_state: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))


class CoordinationEvent(Base):
    """A coordination problem (fleet_interfaces/CoordinationEvent), one row per event ``key``.

    ``key`` is the message's stable id; the row is opened once and closed once, and a
    re-issue with a higher severity updates ``severity`` in place.
    """

    __tablename__ = "coordination_events"
    __table_args__ = (
        CheckConstraint(one_of("type", COORDINATION_EVENT_TYPES), name="type"),
        CheckConstraint(one_of("severity", COORDINATION_SEVERITIES), name="severity"),
        CheckConstraint("closed_at is null or closed_at >= opened_at", name="closed_after_open"),
        Index("ix_coordination_events_time", "time"),
        Index("ix_coordination_events_vehicle_id_time", "vehicle_id", "time"),
        Index("ix_coordination_events_open", "opened_at",
              postgresql_where=text("closed_at is null")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(Text, unique=True)
    time: Mapped[datetime] = mapped_column(TZ)  # stamp of the latest message about the event
    type: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text)
    vehicle_id: Mapped[str | None] = mapped_column(Text)
    other_vehicle_id: Mapped[str | None] = mapped_column(Text)
    zone_id: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(TZ)
    closed_at: Mapped[datetime | None] = mapped_column(TZ)
    message: Mapped[str | None] = mapped_column(Text)  # the resolution text once closed
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))


# Raw telemetry: one row per TelemetrySample, partitioned by day (telemetry_pYYYYMMDD, see
# partitions.py). Deliberately no foreign key to vehicles: every COPY batch would pay a lookup
# per row, a sample of a not-yet-registered vehicle must still be stored, and FKs from a
# partitioned table make dropping old partitions take locks on vehicles.
telemetry = Table(
    "telemetry",
    Base.metadata,
    Column("vehicle_id", Text, nullable=False),
    Column("time", TZ, nullable=False),
    Column("position", geometry("POINT"), nullable=False),
    Column("altitude_amsl", Double),
    Column("altitude_rel", Double),
    Column("heading_deg", Double),
    Column("ground_speed_mps", Double),
    Column("climb_rate_mps", Double),
    Column("battery_pct", Double),
    Column("voltage_v", Double),
    Column("current_a", Double),
    Column("mode", Text),
    Column("armed", Boolean),
    Column("landed_state", SmallInteger),
    Column("mission_id", Text),
    PrimaryKeyConstraint("vehicle_id", "time", name="pk_telemetry"),
    # BRIN: rows arrive in time order, so a few pages of summary serve the cross-vehicle
    # time-range scans (rollups, vehicles_inside) at almost no ingest cost.
    Index("ix_telemetry_time_brin", "time", postgresql_using="brin"),
    postgresql_partition_by="RANGE (time)",
)

# Per vehicle per minute, kept indefinitely (rollups.py). ``position`` is the mean position.
telemetry_1min = Table(
    "telemetry_1min",
    Base.metadata,
    Column("vehicle_id", Text, nullable=False),
    Column("minute", TZ, nullable=False),
    Column("samples", Integer, nullable=False),
    Column("position", geometry("POINT"), nullable=False),
    Column("battery_min_pct", Double),
    Column("battery_max_pct", Double),
    Column("distance_m", Double, nullable=False),
    Column("time_in_air_s", Double, nullable=False),
    Column("max_alt_rel_m", Double),
    Column("computed_at", TZ, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("vehicle_id", "minute", name="pk_telemetry_1min"),
    Index("ix_telemetry_1min_minute", "minute"),
)

# Minutes of telemetry_1min to recompute [from_minute, to_minute) because rows arrived after
# the rollups had passed them (rollups.py); ``vehicle_id`` NULL: of every vehicle.
telemetry_rollup_dirty = Table(
    "telemetry_rollup_dirty",
    Base.metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("vehicle_id", Text),
    Column("from_minute", TZ, nullable=False),
    Column("to_minute", TZ, nullable=False),
    Column("marked_at", TZ, nullable=False, server_default=func.now()),
    CheckConstraint("to_minute > from_minute", name="minutes_ordered"),
)

# Rollup progress: everything before ``watermark`` has been rolled up once.
rollup_watermarks = Table(
    "rollup_watermarks",
    Base.metadata,
    Column("name", Text, primary_key=True),
    Column("watermark", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
)


class Flight(Base):
    """One flight (takeoff to landing) detected in the telemetry."""

    __tablename__ = "flights"
    __table_args__ = (
        UniqueConstraint("vehicle_id", "started_at"),
        CheckConstraint("ended_at >= started_at", name="ended_after_start"),
        Index("ix_flights_started_at", "started_at"),
        gist("flights", "path"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(Text)  # no FK, like telemetry
    started_at: Mapped[datetime] = mapped_column(TZ)
    ended_at: Mapped[datetime] = mapped_column(TZ)
    duration_s: Mapped[float] = mapped_column(Double)
    distance_m: Mapped[float] = mapped_column(Double)
    max_alt_rel_m: Mapped[float | None] = mapped_column(Double)
    energy_wh: Mapped[float | None] = mapped_column(Double)
    energy_mah: Mapped[float | None] = mapped_column(Double)
    min_voltage_v: Mapped[float | None] = mapped_column(Double)
    max_current_a: Mapped[float | None] = mapped_column(Double)
    avg_speed_mps: Mapped[float | None] = mapped_column(Double)
    wh_per_km: Mapped[float | None] = mapped_column(Double)
    path: Mapped[WKBElement | None] = mapped_column(geometry("LINESTRING"))
    computed_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class User(Base):
    """A person using the web bridge."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)  # null: API keys only
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class Role(Base):
    """A user's role at one site, or at every site when ``site_id`` is null."""

    __tablename__ = "roles"
    __table_args__ = (
        CheckConstraint(one_of("role", USER_ROLES), name="role"),
        # NULLS NOT DISTINCT: one all-sites grant per role, not one per insert.
        UniqueConstraint("user_id", "site_id", "role", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(Text)


class ApiKey(Base):
    """An API key; only its hash is stored, ``prefix`` identifies it in listings and logs."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_prefix", "prefix", unique=True),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(TZ)
    revoked_at: Mapped[datetime | None] = mapped_column(TZ)
    last_used_at: Mapped[datetime | None] = mapped_column(TZ)
    # A vehicle's ingest key is scoped to its site and to that one vehicle.
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    vehicle_id: Mapped[str | None] = mapped_column(Text)


class RefreshToken(Base):
    """A web session's refresh token, stored hashed; each use rotates it within its family.

    A token presented after it was used (``used_at`` set) is a replay: the whole family is
    revoked, logging out both the thief and the victim (OAuth 2.0 security BCP, 4.14).
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    issued_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(TZ)
    used_at: Mapped[datetime | None] = mapped_column(TZ)
    revoked_at: Mapped[datetime | None] = mapped_column(TZ)
    remote_addr: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Who did what to which object through the web bridge; append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_time_brin", "time", postgresql_using="brin"),
        Index("ix_audit_log_user_id_time", "user_id", "time"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    time: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(Text)
    target_type: Mapped[str | None] = mapped_column(Text)
    target_id: Mapped[str | None] = mapped_column(Text)
    site_id: Mapped[str | None] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    username: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)  # allowed | refused | failed
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
