"""Initial schema: fleet registry, missions, events, partitioned telemetry, rollups, web users.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:00:02 UTC

The ``postgis`` extension is a prerequisite created by the superuser
(scripts/provision-db.sh); this revision neither creates nor drops it. Geometry columns are
declared with ``spatial_index=False`` and get their GiST index from an explicit
``op.create_index`` so that the index exists exactly once. ``telemetry`` is natively
partitioned by day, which only plain DDL can express.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Daily partitions created with the table: yesterday .. today + 7 (UTC days). Later ones are
# created at run time by fleet_db.partitions.
_PARTITION_DAYS = range(-1, 8)
_MISSION_STATUSES = (
    "('planned', 'queued', 'assigned', 'active', 'paused', 'completed', 'aborted', 'failed')"
)


def _geometry(kind: str) -> Geometry:
    """Return a WGS-84 geometry type without GeoAlchemy2's automatic index."""
    return Geometry(geometry_type=kind, srid=4326, spatial_index=False)


def _create_time_zone_check() -> None:
    # IMMUTABLE is what a CHECK constraint needs; the set of zone names only changes with a
    # tzdata upgrade of the server, after which existing rows stay valid anyway.
    op.execute("""
        create function fleet_is_time_zone(name text) returns boolean
        language plpgsql immutable strict as $$
        begin
            perform now() at time zone name;
            return true;
        exception when invalid_parameter_value then
            return false;
        end $$
    """)


def _create_telemetry() -> None:
    # No foreign key to vehicles: the ingest path COPYs thousands of rows per second and must
    # store samples of vehicles not registered yet; see fleet_db.models.telemetry.
    op.execute("""
        create table telemetry (
            vehicle_id text not null,
            time timestamptz not null,
            position geometry(Point, 4326) not null,
            altitude_amsl double precision,
            altitude_rel double precision,
            heading_deg double precision,
            ground_speed_mps double precision,
            climb_rate_mps double precision,
            battery_pct double precision,
            voltage_v double precision,
            current_a double precision,
            mode text,
            armed boolean,
            landed_state smallint,
            mission_id text,
            constraint pk_telemetry primary key (vehicle_id, time)
        ) partition by range (time)
    """)
    op.execute("create index ix_telemetry_time_brin on telemetry using brin (time)")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for offset in _PARTITION_DAYS:
        day = today + timedelta(days=offset)
        op.execute(
            f"create table if not exists telemetry_p{day:%Y%m%d} partition of telemetry "
            f"for values from ('{day.isoformat()}') to ('{(day + timedelta(days=1)).isoformat()}')"
        )


def upgrade() -> None:
    """Apply this revision."""
    _create_time_zone_check()
    op.create_table(
        "coordination_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("vehicle_id", sa.Text(), nullable=True),
        sa.Column("other_vehicle_id", sa.Text(), nullable=True),
        sa.Column("zone_id", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "severity in ('info', 'warning', 'critical')",
            name=op.f("ck_coordination_events_severity"),
        ),
        sa.CheckConstraint(
            "type in ('collision_avoidance', 'airspace_conflict', 'low_battery', 'link_lost',"
            " 'charging_queue', 'emergency_landing', 'command_failed')",
            name=op.f("ck_coordination_events_type"),
        ),
        sa.CheckConstraint(
            "closed_at is null or closed_at >= opened_at",
            name=op.f("ck_coordination_events_closed_after_open"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_events")),
        sa.UniqueConstraint("key", name=op.f("uq_coordination_events_key")),
    )
    op.create_index(
        "ix_coordination_events_open",
        "coordination_events",
        ["opened_at"],
        unique=False,
        postgresql_where=sa.text("closed_at is null"),
    )
    op.create_index("ix_coordination_events_time", "coordination_events", ["time"], unique=False)
    op.create_index(
        "ix_coordination_events_vehicle_id_time",
        "coordination_events",
        ["vehicle_id", "time"],
        unique=False,
    )
    op.create_table(
        "flights",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("vehicle_id", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Double(), nullable=False),
        sa.Column("distance_m", sa.Double(), nullable=False),
        sa.Column("max_alt_rel_m", sa.Double(), nullable=True),
        sa.Column("energy_wh", sa.Double(), nullable=True),
        sa.Column("energy_mah", sa.Double(), nullable=True),
        sa.Column("min_voltage_v", sa.Double(), nullable=True),
        sa.Column("max_current_a", sa.Double(), nullable=True),
        sa.Column("avg_speed_mps", sa.Double(), nullable=True),
        sa.Column("wh_per_km", sa.Double(), nullable=True),
        sa.Column("path", _geometry("LINESTRING"), nullable=True),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("ended_at >= started_at", name=op.f("ck_flights_ended_after_start")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flights")),
        sa.UniqueConstraint(
            "vehicle_id", "started_at", name=op.f("uq_flights_vehicle_id_started_at")
        ),
    )
    op.create_index(
        "ix_flights_path_gist", "flights", ["path"], unique=False, postgresql_using="gist"
    )
    op.create_index("ix_flights_started_at", "flights", ["started_at"], unique=False)
    op.create_table(
        "no_fly_zones",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("geom", _geometry("POLYGON"), nullable=False),
        sa.Column("floor_m", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("ceiling_m", sa.Double(), server_default=sa.text("100000"), nullable=False),
        sa.Column("active_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("authority", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "active_until is null or active_from is null or active_from < active_until",
            name=op.f("ck_no_fly_zones_active_window"),
        ),
        sa.CheckConstraint("floor_m < ceiling_m", name=op.f("ck_no_fly_zones_floor_below_ceiling")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_no_fly_zones")),
    )
    op.create_index(
        "ix_no_fly_zones_geom_gist", "no_fly_zones", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_table(
        "rollup_watermarks",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollup_watermarks")),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("location", _geometry("POINT"), nullable=False),
        sa.Column("time_zone", sa.Text(), server_default="UTC", nullable=False),
        sa.CheckConstraint("fleet_is_time_zone(time_zone)", name=op.f("ck_sites_time_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_index(
        "ix_sites_location_gist", "sites", ["location"], unique=False, postgresql_using="gist"
    )
    _create_telemetry()
    op.create_table(
        "telemetry_1min",
        sa.Column("vehicle_id", sa.Text(), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("position", _geometry("POINT"), nullable=False),
        sa.Column("battery_min_pct", sa.Double(), nullable=True),
        sa.Column("battery_max_pct", sa.Double(), nullable=True),
        sa.Column("distance_m", sa.Double(), nullable=False),
        sa.Column("time_in_air_s", sa.Double(), nullable=False),
        sa.Column("max_alt_rel_m", sa.Double(), nullable=True),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("vehicle_id", "minute", name="pk_telemetry_1min"),
    )
    op.create_index("ix_telemetry_1min_minute", "telemetry_1min", ["minute"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "charging_stations",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("site_id", sa.Text(), nullable=True),
        sa.Column("location", _geometry("POINT"), nullable=False),
        sa.Column("pads", sa.Integer(), nullable=False),
        sa.Column("charge_rate_w", sa.Double(), nullable=False),
        sa.CheckConstraint("charge_rate_w > 0", name=op.f("ck_charging_stations_charge_rate_w")),
        sa.CheckConstraint("pads > 0", name=op.f("ck_charging_stations_pads")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_charging_stations_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_stations")),
    )
    op.create_index(
        "ix_charging_stations_location_gist",
        "charging_stations",
        ["location"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_table(
        "roles",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.CheckConstraint("role in ('viewer', 'operator', 'admin')", name=op.f("ck_roles_role")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_roles_site_id_sites"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint(
            "user_id",
            "site_id",
            "role",
            name=op.f("uq_roles_user_id_site_id_role"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_table(
        "vehicles",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("serial", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column(
            "capabilities",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("home", _geometry("POINT"), nullable=True),
        sa.Column("site_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="offline", nullable=False),
        sa.Column("firmware", sa.Text(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status in ('idle', 'in_mission', 'returning', 'charging', 'maintenance', 'offline')",
            name=op.f("ck_vehicles_status"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_vehicles_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicles")),
        sa.UniqueConstraint("serial", name=op.f("uq_vehicles_serial")),
    )
    op.create_index(
        "ix_vehicles_home_gist", "vehicles", ["home"], unique=False, postgresql_using="gist"
    )
    op.create_index("ix_vehicles_site_id_status", "vehicles", ["site_id", "status"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "time", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("api_key_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target_type", sa.Text(), nullable=True),
        sa.Column("target_id", sa.Text(), nullable=True),
        sa.Column("site_id", sa.Text(), nullable=True),
        sa.Column("remote_addr", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_audit_log_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        "ix_audit_log_time_brin", "audit_log", ["time"], unique=False, postgresql_using="brin"
    )
    op.create_index("ix_audit_log_user_id_time", "audit_log", ["user_id", "time"], unique=False)
    op.create_table(
        "charging_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("pad", sa.Integer(), nullable=True),
        sa.Column("vehicle_id", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue_wait_s", sa.Double(), nullable=True),
        sa.Column("start_pct", sa.Double(), nullable=True),
        sa.Column("end_pct", sa.Double(), nullable=True),
        sa.Column("energy_wh", sa.Double(), nullable=True),
        sa.CheckConstraint("end_pct between 0 and 100", name=op.f("ck_charging_sessions_end_pct")),
        sa.CheckConstraint(
            "ended_at >= started_at", name=op.f("ck_charging_sessions_ended_after_start")
        ),
        sa.CheckConstraint("pad >= 0", name=op.f("ck_charging_sessions_pad")),
        sa.CheckConstraint("queue_wait_s >= 0", name=op.f("ck_charging_sessions_queue_wait_s")),
        sa.CheckConstraint(
            "start_pct between 0 and 100", name=op.f("ck_charging_sessions_start_pct")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["charging_stations.id"],
            name=op.f("fk_charging_sessions_station_id_charging_stations"),
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_charging_sessions_vehicle_id_vehicles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_sessions")),
    )
    op.create_index(
        "ix_charging_sessions_station_id_requested_at",
        "charging_sessions",
        ["station_id", "requested_at"],
        unique=False,
    )
    op.create_index(
        "ix_charging_sessions_vehicle_id_requested_at",
        "charging_sessions",
        ["vehicle_id", "requested_at"],
        unique=False,
    )
    op.create_table(
        "missions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default=sa.text("5"), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=True),
        sa.Column(
            "parameters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("area", _geometry("GEOMETRY"), nullable=True),
        sa.Column("planned_path", _geometry("LINESTRING"), nullable=True),
        sa.Column("estimated_distance_m", sa.Double(), nullable=True),
        sa.Column("estimated_duration_s", sa.Double(), nullable=True),
        sa.Column("estimated_energy_wh", sa.Double(), nullable=True),
        sa.Column("status", sa.Text(), server_default="planned", nullable=False),
        sa.Column("vehicle_id", sa.Text(), nullable=True),
        sa.Column("site_id", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "area is null or ST_GeometryType(area) in ('ST_Polygon', 'ST_MultiPolygon')",
            name=op.f("ck_missions_area_polygonal"),
        ),
        sa.CheckConstraint(
            f"status in {_MISSION_STATUSES}",
            name=op.f("ck_missions_status"),
        ),
        sa.CheckConstraint(
            "type in ('survey', 'inspection', 'patrol', 'delivery', 'emergency')",
            name=op.f("ck_missions_type"),
        ),
        sa.CheckConstraint("priority between 1 and 10", name=op.f("ck_missions_priority")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["missions.id"], name=op.f("fk_missions_parent_id_missions")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_missions_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_missions_vehicle_id_vehicles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missions")),
    )
    op.create_index(
        "ix_missions_area_gist", "missions", ["area"], unique=False, postgresql_using="gist"
    )
    op.create_index("ix_missions_parent_id", "missions", ["parent_id"], unique=False)
    op.create_index(
        "ix_missions_planned_path_gist",
        "missions",
        ["planned_path"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        "ix_missions_site_id_ended_at", "missions", ["site_id", "ended_at"], unique=False
    )
    op.create_index("ix_missions_status", "missions", ["status"], unique=False)
    op.create_index("ix_missions_vehicle_id", "missions", ["vehicle_id"], unique=False)
    op.create_table(
        "mission_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("mission_id", sa.Text(), nullable=False),
        sa.Column(
            "time", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("from_state", sa.Text(), nullable=True),
        sa.Column("to_state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.CheckConstraint(
            f"from_state is null or from_state in {_MISSION_STATUSES}",
            name=op.f("ck_mission_events_from_state"),
        ),
        sa.CheckConstraint(
            f"to_state in {_MISSION_STATUSES}",
            name=op.f("ck_mission_events_to_state"),
        ),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_events_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_events")),
    )
    op.create_index(
        "ix_mission_events_mission_id_time", "mission_events", ["mission_id", "time"], unique=False
    )
    op.create_table(
        "mission_waypoints",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("mission_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("position", _geometry("POINT"), nullable=False),
        sa.Column("altitude_m", sa.Double(), nullable=False),
        sa.Column("kind", sa.Text(), server_default="waypoint", nullable=False),
        sa.Column("hold_s", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("modified_by", sa.Text(), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modification_reason", sa.Text(), nullable=True),
        sa.Column("superseded", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint(
            "kind in ('takeoff', 'waypoint', 'loiter', 'land', 'return_to_launch', 'change_speed')",
            name=op.f("ck_mission_waypoints_kind"),
        ),
        sa.CheckConstraint("hold_s >= 0", name=op.f("ck_mission_waypoints_hold_s")),
        sa.CheckConstraint("seq >= 0", name=op.f("ck_mission_waypoints_seq")),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_waypoints_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_waypoints")),
    )
    op.create_index(
        "ix_mission_waypoints_position_gist",
        "mission_waypoints",
        ["position"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        "uq_mission_waypoints_current_seq",
        "mission_waypoints",
        ["mission_id", "seq"],
        unique=True,
        postgresql_where=sa.text("not superseded"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(
        "uq_mission_waypoints_current_seq",
        table_name="mission_waypoints",
        postgresql_where=sa.text("not superseded"),
    )
    op.drop_index(
        "ix_mission_waypoints_position_gist",
        table_name="mission_waypoints",
        postgresql_using="gist",
    )
    op.drop_table("mission_waypoints")
    op.drop_index("ix_mission_events_mission_id_time", table_name="mission_events")
    op.drop_table("mission_events")
    op.drop_index("ix_missions_vehicle_id", table_name="missions")
    op.drop_index("ix_missions_status", table_name="missions")
    op.drop_index("ix_missions_site_id_ended_at", table_name="missions")
    op.drop_index("ix_missions_planned_path_gist", table_name="missions", postgresql_using="gist")
    op.drop_index("ix_missions_parent_id", table_name="missions")
    op.drop_index("ix_missions_area_gist", table_name="missions", postgresql_using="gist")
    op.drop_table("missions")
    op.drop_index("ix_charging_sessions_vehicle_id_requested_at", table_name="charging_sessions")
    op.drop_index("ix_charging_sessions_station_id_requested_at", table_name="charging_sessions")
    op.drop_table("charging_sessions")
    op.drop_index("ix_audit_log_user_id_time", table_name="audit_log")
    op.drop_index("ix_audit_log_time_brin", table_name="audit_log", postgresql_using="brin")
    op.drop_table("audit_log")
    op.drop_index("ix_vehicles_site_id_status", table_name="vehicles")
    op.drop_index("ix_vehicles_home_gist", table_name="vehicles", postgresql_using="gist")
    op.drop_table("vehicles")
    op.drop_table("roles")
    op.drop_index(
        "ix_charging_stations_location_gist",
        table_name="charging_stations",
        postgresql_using="gist",
    )
    op.drop_table("charging_stations")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_index("ix_telemetry_1min_minute", table_name="telemetry_1min")
    op.drop_table("telemetry_1min")
    # Dropping the parent drops every partition with it.
    op.execute("drop table telemetry")
    op.drop_index("ix_sites_location_gist", table_name="sites", postgresql_using="gist")
    op.drop_table("sites")
    op.drop_table("rollup_watermarks")
    op.drop_index("ix_no_fly_zones_geom_gist", table_name="no_fly_zones", postgresql_using="gist")
    op.drop_table("no_fly_zones")
    op.drop_index("ix_flights_started_at", table_name="flights")
    op.drop_index("ix_flights_path_gist", table_name="flights", postgresql_using="gist")
    op.drop_table("flights")
    op.drop_index("ix_coordination_events_vehicle_id_time", table_name="coordination_events")
    op.drop_index("ix_coordination_events_time", table_name="coordination_events")
    op.drop_index(
        "ix_coordination_events_open",
        table_name="coordination_events",
        postgresql_where=sa.text("closed_at is null"),
    )
    op.drop_table("coordination_events")
    op.execute("drop function fleet_is_time_zone(text)")
