"""The schema: migrations up and down, models matching migrations, constraints, indexes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from fleet_db.migrations import include_object
from fleet_db.models import Base, Site
from fleet_db.partitions import ensure_partitions

from .conftest import migrate, scratch_database

TABLES = {
    "sites", "vehicles", "charging_stations", "charging_sessions", "no_fly_zones", "missions",
    "mission_waypoints", "mission_events", "coordination_events", "telemetry",
    "telemetry_1min", "rollup_watermarks", "telemetry_rollup_dirty", "flights", "users",
    "roles", "api_keys", "audit_log", "refresh_tokens",
}


def _tables(conn: Connection) -> set[str]:
    rows = conn.execute(text(
        "select tablename from pg_tables where schemaname = 'public' "
        "and tablename not like 'telemetry_p%'"))
    return {r[0] for r in rows} - {"spatial_ref_sys", "alembic_version"}


def _views(conn: Connection) -> set[str]:
    rows = conn.execute(text("select viewname from pg_views where schemaname = 'public'"))
    return {r[0] for r in rows} - {"geometry_columns", "geography_columns"}


VIEWS = {"vehicle_latest", "fleet_availability", "active_missions"}


def _partitions(conn: Connection) -> set[str]:
    rows = conn.execute(text("select tablename from pg_tables where tablename like 'telemetry_p%'"))
    return {r[0] for r in rows}


@pytest.fixture
def scratch_url(db_url: str) -> Iterator[str]:
    """Yield the URL of a brand-new database with PostGIS, dropped afterwards."""
    with scratch_database(db_url, f"fleet_migrations_{os.getpid()}") as url:
        yield url


def test_migrations_upgrade_downgrade_and_upgrade_again(scratch_url: str) -> None:
    engine = create_engine(scratch_url)
    try:
        migrate(scratch_url)
        with engine.connect() as conn:
            assert _tables(conn) == TABLES
            assert _views(conn) == VIEWS
            today = datetime.now(UTC).date()
            assert f"telemetry_p{today:%Y%m%d}" in _partitions(conn)
            assert len(_partitions(conn)) == 9  # yesterday .. today + 7
        migrate(scratch_url, "base", down=True)
        with engine.connect() as conn:
            assert _tables(conn) == set()
            assert _views(conn) == set()
            assert _partitions(conn) == set()
            assert conn.execute(text(
                "select count(*) from pg_proc where proname = 'fleet_is_time_zone'"
            )).scalar_one() == 0
            # PostGIS belongs to the superuser's provisioning, not to the migrations.
            assert conn.execute(text(
                "select count(*) from pg_extension where extname = 'postgis'")).scalar_one() == 1
        migrate(scratch_url)
        with engine.connect() as conn:
            assert _tables(conn) == TABLES
            assert len(_partitions(conn)) == 9
    finally:
        engine.dispose()


def test_migration_0004_adds_the_rollup_dirty_marks_and_takes_them_away(
        scratch_url: str) -> None:
    engine = create_engine(scratch_url)
    try:
        migrate(scratch_url, "0003")
        with engine.connect() as conn:
            assert _tables(conn) == TABLES - {"telemetry_rollup_dirty", "refresh_tokens"}
        migrate(scratch_url, "0004")
        with engine.begin() as conn:
            assert _tables(conn) == TABLES - {"refresh_tokens"}
            conn.execute(text("insert into telemetry_rollup_dirty (vehicle_id, from_minute, "
                              "to_minute) values (null, '2026-01-01Z', '2026-01-01 00:01Z')"))
            with pytest.raises(IntegrityError, match="minutes_ordered"), conn.begin_nested():
                conn.execute(text("insert into telemetry_rollup_dirty (from_minute, to_minute) "
                                  "values ('2026-01-01Z', '2026-01-01Z')"))
        migrate(scratch_url, "0003", down=True)
        with engine.connect() as conn:
            assert _tables(conn) == TABLES - {"telemetry_rollup_dirty", "refresh_tokens"}
            assert conn.execute(text("select version_num from alembic_version")).scalar_one() \
                == "0003"
    finally:
        engine.dispose()


def test_models_match_the_migrations(db_conn: Connection) -> None:
    context = MigrationContext.configure(db_conn, opts={
        "include_object": include_object, "compare_type": True})
    assert compare_metadata(context, Base.metadata) == []


def test_every_geometry_column_has_exactly_one_gist_index(db_conn: Connection) -> None:
    columns = db_conn.execute(text(
        "select f_table_name, f_geometry_column from geometry_columns "
        "where f_table_schema = 'public' and f_table_name not like 'telemetry%' "
        "and f_table_name in (select tablename from pg_tables)")).all()
    assert len(columns) == 8
    for table, column in columns:
        n = db_conn.execute(text(
            "select count(*) from pg_index i join pg_class c on c.oid = i.indexrelid "
            "join pg_am am on am.oid = c.relam "
            "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
            "where i.indrelid = cast(:t as regclass) and a.attname = :c and am.amname = 'gist'"),
            {"t": table, "c": column}).scalar_one()
        assert n == 1, f"{table}.{column} has {n} GiST indexes"


def test_telemetry_is_partitioned_by_day_with_the_sample_columns(db_conn: Connection) -> None:
    strategy = db_conn.execute(text(
        "select partstrat from pg_partitioned_table "
        "where partrelid = 'telemetry'::regclass")).scalar_one()
    assert strategy == "r"
    columns = [r[0] for r in db_conn.execute(text(
        "select attname from pg_attribute where attrelid = 'telemetry'::regclass "
        "and attnum > 0 and not attisdropped order by attnum"))]
    assert columns == [
        "vehicle_id", "time", "position", "altitude_amsl", "altitude_rel", "heading_deg",
        "ground_speed_mps", "climb_rate_mps", "battery_pct", "voltage_v", "current_a", "mode",
        "armed", "landed_state", "mission_id"]
    foreign_keys = db_conn.execute(text(
        "select count(*) from pg_constraint where conrelid = 'telemetry'::regclass "
        "and contype = 'f'")).scalar_one()
    assert foreign_keys == 0


def test_telemetry_accepts_a_vehicle_that_is_not_registered(db_conn: Connection) -> None:
    now = datetime.now(UTC)
    ensure_partitions(db_conn, now, now)
    db_conn.execute(text(
        "insert into telemetry (vehicle_id, time, position) "
        "values ('never-registered', :t, st_setsrid(st_makepoint(8, 47), 4326))"), {"t": now})
    assert db_conn.execute(text(
        "select count(*) from telemetry where vehicle_id = 'never-registered'")).scalar_one() == 1


def test_telemetry_outside_every_partition_is_refused(db_conn: Connection) -> None:
    with pytest.raises(DBAPIError, match="no partition of relation"), db_conn.begin_nested():
        db_conn.execute(text(
            "insert into telemetry (vehicle_id, time, position) values "
            "('v', '1970-01-02T00:00:00Z', st_setsrid(st_makepoint(8, 47), 4326))"))


SITE = "insert into sites (id, name, location) values ('s', 's', 'SRID=4326;POINT(8 47)')"
VEHICLE = "insert into vehicles (id, serial, model) values ('v', 'sn', 'x')"
MISSION = "insert into missions (id, type) values ('m', 'survey')"

BAD_ROWS = [
    pytest.param(
        [], "insert into vehicles (id, serial, model, status) values ('v', 'sn', 'x', 'flying')",
        "ck_vehicles_status", id="vehicle-status"),
    pytest.param([], "insert into missions (id, type) values ('m', 'rescue')",
                 "ck_missions_type", id="mission-type"),
    pytest.param([], "insert into missions (id, type, status) values ('m', 'survey', 'done')",
                 "ck_missions_status", id="mission-status"),
    pytest.param([], "insert into missions (id, type, priority) values ('m', 'survey', 11)",
                 "ck_missions_priority", id="mission-priority"),
    pytest.param([], "insert into missions (id, type, area) values "
                 "('m', 'survey', 'SRID=4326;LINESTRING(8 47, 8.1 47)')",
                 "ck_missions_area_polygonal", id="mission-area-not-polygon"),
    pytest.param([MISSION], "insert into mission_events (mission_id, to_state) "
                 "values ('m', 'exploded')", "ck_mission_events_to_state",
                 id="mission-event-state"),
    pytest.param([MISSION], "insert into mission_waypoints (mission_id, seq, position, "
                 "altitude_m, kind) values ('m', 0, 'SRID=4326;POINT(8 47)', 10, 'teleport')",
                 "ck_mission_waypoints_kind", id="waypoint-kind"),
    pytest.param([], "insert into coordination_events (key, time, type, severity, opened_at) "
                 "values ('k', now(), 'alien', 'info', now())",
                 "ck_coordination_events_type", id="event-type"),
    pytest.param([], "insert into coordination_events (key, time, type, severity, opened_at) "
                 "values ('k', now(), 'low_battery', 'apocalyptic', now())",
                 "ck_coordination_events_severity", id="event-severity"),
    pytest.param([], "insert into no_fly_zones (id, name, geom, floor_m, ceiling_m) values "
                 "('z', 'z', 'SRID=4326;POLYGON((8 47, 8.1 47, 8.1 47.1, 8 47))', 120, 100)",
                 "ck_no_fly_zones_floor_below_ceiling", id="zone-floor-above-ceiling"),
    pytest.param([SITE], "insert into charging_stations (id, site_id, location, pads, "
                 "charge_rate_w) values ('c', 's', 'SRID=4326;POINT(8 47)', 0, 500)",
                 "ck_charging_stations_pads", id="station-no-pads"),
    pytest.param([SITE], "insert into charging_stations (id, site_id, location, pads, "
                 "charge_rate_w) values ('c', 's', 'SRID=4326;POINT(8 47)', 2, 0)",
                 "ck_charging_stations_charge_rate_w", id="station-no-power"),
    pytest.param([], "insert into sites (id, name, location, time_zone) values "
                 "('s', 's', 'SRID=4326;POINT(8 47)', 'Mars/Olympus_Mons')",
                 "ck_sites_time_zone", id="site-time-zone"),
]


@pytest.mark.parametrize(("setup", "statement", "constraint"), BAD_ROWS)
def test_check_constraints_reject_bad_values(db_conn: Connection, setup: list[str],
                                             statement: str, constraint: str) -> None:
    for sql in setup:
        db_conn.execute(text(sql))
    with pytest.raises(IntegrityError, match=constraint), db_conn.begin_nested():
        db_conn.execute(text(statement))


def test_role_check_rejects_an_unknown_role(db_conn: Connection) -> None:
    user_id = db_conn.execute(text(
        "insert into users (username) values ('ann') returning id")).scalar_one()
    with pytest.raises(IntegrityError, match="ck_roles_role"), db_conn.begin_nested():
        db_conn.execute(text("insert into roles (user_id, role) values (:u, 'overlord')"),
                        {"u": user_id})
    db_conn.execute(text("insert into roles (user_id, role) values (:u, 'admin')"),
                    {"u": user_id})
    # One all-sites grant per role: NULL site ids count as equal.
    with pytest.raises(IntegrityError, match="uq_roles"), db_conn.begin_nested():
        db_conn.execute(text("insert into roles (user_id, role) values (:u, 'admin')"),
                        {"u": user_id})


def test_site_accepts_an_iana_time_zone(db_session: Session) -> None:
    db_session.add(Site(id="zurich", name="Zurich", location="SRID=4326;POINT(8.5 47.4)",
                        time_zone="Europe/Zurich"))
    db_session.flush()
    assert db_session.get(Site, "zurich") is not None


def test_site_model_rejects_an_unknown_time_zone_naming_it() -> None:
    with pytest.raises(ValueError, match="'Europe/Atlantis' is not an IANA time zone"):
        Site(id="x", name="x", location="SRID=4326;POINT(0 0)", time_zone="Europe/Atlantis")


def test_only_current_waypoints_must_have_unique_sequence_numbers(db_conn: Connection) -> None:
    db_conn.execute(text(MISSION))
    insert = text(
        "insert into mission_waypoints (mission_id, seq, position, altitude_m, superseded, "
        "modified_by, modification_reason) values ('m', 0, 'SRID=4326;POINT(8 47)', 30, :s, "
        ":by, :why)")
    db_conn.execute(insert, {"s": True, "by": None, "why": None})
    db_conn.execute(insert, {"s": False, "by": "operator", "why": "moved around a crane"})
    with pytest.raises(IntegrityError, match="uq_mission_waypoints_current_seq"), \
            db_conn.begin_nested():
        db_conn.execute(insert, {"s": False, "by": None, "why": None})


def _rls(conn: Connection) -> set[str]:
    rows = conn.execute(text("select relname from pg_class where relrowsecurity "
                             "and relnamespace = 'public'::regnamespace"))
    return {r[0] for r in rows}


def test_migration_0005_adds_web_accounts_and_row_level_security_and_takes_them_away(
        scratch_url: str) -> None:
    engine = create_engine(scratch_url)
    try:
        migrate(scratch_url, "0005")
        with engine.connect() as conn:
            assert "refresh_tokens" in _tables(conn)
            assert _rls(conn) == {"sites", "vehicles", "missions", "charging_stations"}
        migrate(scratch_url, "0004", down=True)
        with engine.connect() as conn:
            assert "refresh_tokens" not in _tables(conn)
            assert _rls(conn) == set()
            assert conn.execute(text(
                "select count(*) from pg_proc where proname = 'fleet_site_visible'"
            )).scalar_one() == 0
    finally:
        engine.dispose()
