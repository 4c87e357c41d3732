"""scripts/backup.sh and scripts/restore.sh: a fleet database backed up and restored into an
empty one holds the same rows, partitions, policies and answers, and the scripts refuse
what they cannot do with a message that names it."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from fleet_db.partitions import ensure_partitions

from .conftest import REPO_ROOT, migrate, scratch_database

BACKUP = REPO_ROOT / "scripts" / "backup.sh"
RESTORE = REPO_ROOT / "scripts" / "restore.sh"
DAYS = (-3, -1, 0)  # telemetry days; -3 is older than the migration's first partition
SAMPLES_PER_DAY = 30


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False)


def _fill(conn: Connection, noon: datetime) -> None:
    """A site, two vehicles, a no-fly zone, a mission crossing it, and telemetry on 3 days."""
    conn.execute(text(
        "insert into sites (id, name, location, time_zone) values "
        "('bk_site', 'Backup depot', st_setsrid(st_makepoint(8.54, 47.39), 4326), "
        "'Europe/Zurich')"))
    conn.execute(text(
        "insert into vehicles (id, serial, model, site_id, status, home) values "
        "('bk_uav0', 'BK-0', 'x500', 'bk_site', 'idle', "
        " st_setsrid(st_makepoint(8.54, 47.39), 4326)),"
        "('bk_uav1', 'BK-1', 'x500', 'bk_site', 'charging', null)"))
    conn.execute(text(
        "insert into no_fly_zones (id, name, geom) values ('bk_zone', 'Backup zone', "
        "st_geomfromtext('POLYGON((8.545 47.395, 8.550 47.395, 8.550 47.400, "
        "8.545 47.400, 8.545 47.395))', 4326))"))
    conn.execute(text(
        "insert into missions (id, type, status, vehicle_id, site_id, planned_path, area) values "
        "('bk_m1', 'survey', 'completed', 'bk_uav0', 'bk_site', "
        "st_geomfromtext('LINESTRING(8.540 47.390, 8.548 47.398, 8.560 47.410)', 4326), "
        "st_geomfromtext('POLYGON((8.54 47.39, 8.56 47.39, 8.56 47.41, 8.54 47.39))', 4326)),"
        "('bk_m2', 'delivery', 'planned', null, 'bk_site', "
        "st_geomfromtext('LINESTRING(8.530 47.380, 8.535 47.385)', 4326), null)"))
    conn.execute(text(
        "insert into mission_waypoints (mission_id, seq, position, altitude_m, kind) "
        "select 'bk_m1', s, st_setsrid(st_makepoint(8.54 + s * 0.004, 47.39 + s * 0.004), 4326), "
        "30, case when s = 0 then 'takeoff' else 'waypoint' end from generate_series(0, 4) s"))
    conn.execute(text(
        "insert into mission_events (mission_id, from_state, to_state, reason) values "
        "('bk_m1', 'planned', 'active', 'dispatched'), ('bk_m1', 'active', 'completed', null)"))
    ensure_partitions(conn, noon + timedelta(days=min(DAYS)), noon)
    for day in DAYS:
        start = noon + timedelta(days=day)
        for vehicle, offset in (("bk_uav0", 0.0), ("bk_uav1", 0.0005)):
            # A straight leg from south-west to north-east, through the zone.
            conn.execute(text(
                "insert into telemetry (vehicle_id, time, position, altitude_rel, battery_pct) "
                "select :v, :t + make_interval(secs => i), "
                "st_setsrid(st_makepoint(8.540 + :o + i * 0.0005, 47.390 + i * 0.0005), 4326), "
                "20 + i, 100 - i from generate_series(0, :n - 1) i"),
                {"v": vehicle, "t": start, "o": offset, "n": SAMPLES_PER_DAY})


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text(
                "select tablename from pg_tables where schemaname = 'public' "
                "order by tablename")).scalars().all()
            return {t: conn.execute(text(f'select count(*) from "{t}"')).scalar_one()
                    for t in tables}
    finally:
        engine.dispose()


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


# Per vehicle: samples inside the no-fly zone, the flown track's length on the ellipsoid, and
# the missions whose planned path crosses the zone (PostGIS over telemetry and missions).
ZONE_QUERY = """
    select t.vehicle_id,
           count(*) filter (where st_contains(z.geom, t.position)) as inside,
           round(st_length(st_makeline(t.position order by t.time)::geography)::numeric, 3),
           (select string_agg(m.id, ',' order by m.id) from missions m
             where st_intersects(m.planned_path, z.geom)) as crossing
    from telemetry t cross join no_fly_zones z
    where z.id = 'bk_zone'
    group by t.vehicle_id, z.geom order by t.vehicle_id
"""


@pytest.fixture(scope="module")
def source_url(db_url: str) -> Iterator[str]:
    """A migrated scratch database with a known set of rows."""
    with scratch_database(db_url, f"fleet_backup_src_{os.getpid()}") as url:
        migrate(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            # Noon: each day's samples stay inside that day's partition.
            _fill(conn, datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0))
        engine.dispose()
        yield url


@pytest.fixture(scope="module")
def archive(source_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive scripts/backup.sh wrote of the source database."""
    path = tmp_path_factory.mktemp("backup") / "fleet.dump"
    result = _run(BACKUP, "-o", path, source_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(path)
    return path


@pytest.fixture(scope="module")
def restored_url(db_url: str, archive: Path) -> Iterator[str]:
    """A new, empty database that scripts/restore.sh filled from the archive."""
    with scratch_database(db_url, f"fleet_backup_dst_{os.getpid()}") as url:
        result = _run(RESTORE, archive, url)
        assert result.returncode == 0, result.stderr
        yield url


def test_the_archive_holds_every_telemetry_partition_and_a_checksum(
        source_url: str, archive: Path) -> None:
    listing = subprocess.run(["pg_restore", "--list", str(archive)], capture_output=True,
                             text=True, check=True).stdout
    partitions = {row[0] for row in _query(source_url, (
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = 'telemetry'::regclass"))}
    assert len(partitions) >= len(DAYS)
    for name in partitions:
        assert f" TABLE DATA public {name} " in listing
    check = subprocess.run(["sha256sum", "--check", f"{archive.name}.sha256"],
                           cwd=archive.parent, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_table_has_the_same_rows_after_the_restore(
        source_url: str, restored_url: str) -> None:
    before = _counts(source_url)
    assert before["telemetry"] == len(DAYS) * 2 * SAMPLES_PER_DAY
    assert sum(n > 0 for name, n in before.items() if name.startswith("telemetry_p")) == len(DAYS)
    assert _counts(restored_url) == before


def test_a_postgis_query_over_telemetry_and_missions_answers_the_same(
        source_url: str, restored_url: str) -> None:
    answer = _query(source_url, ZONE_QUERY)
    assert [row[0] for row in answer] == ["bk_uav0", "bk_uav1"]
    assert all(int(str(row[1])) > 0 for row in answer)  # the legs cross the zone
    assert answer[0][3] == "bk_m1"
    assert _query(restored_url, ZONE_QUERY) == answer


def test_the_restore_keeps_the_migration_policies_and_grants(
        source_url: str, restored_url: str) -> None:
    for sql in ("select version_num from alembic_version",
                "select tablename, policyname, roles::text, qual from pg_policies "
                "order by tablename, policyname",
                "select table_name, privilege_type from information_schema.role_table_grants "
                "where grantee = 'fleet_web' order by 1, 2",
                "select tableowner, count(*) from pg_tables where schemaname = 'public' "
                "group by 1"):
        assert _query(restored_url, sql) == _query(source_url, sql), sql


def test_new_rows_in_the_restored_database_follow_the_restored_identities(
        restored_url: str) -> None:
    engine = create_engine(restored_url)
    try:
        with engine.begin() as conn:
            highest = conn.execute(text("select max(id) from mission_events")).scalar_one()
            new = conn.execute(text(
                "insert into mission_events (mission_id, to_state) values ('bk_m1', 'aborted') "
                "returning id")).scalar_one()
            conn.execute(text("delete from mission_events where id = :id"), {"id": new})
    finally:
        engine.dispose()
    assert new > highest


def test_restore_refuses_a_database_that_is_not_empty(
        archive: Path, restored_url: str) -> None:
    before = _counts(restored_url)
    result = _run(RESTORE, archive, restored_url)
    assert result.returncode == 1
    assert "is not empty" in result.stderr
    assert "public.alembic_version" in result.stderr
    assert _counts(restored_url) == before


def test_restore_refuses_a_file_that_is_not_an_archive(tmp_path: Path, db_url: str) -> None:
    bogus = tmp_path / "notes.dump"
    bogus.write_text("not a dump\n")
    result = _run(RESTORE, bogus, db_url)
    assert result.returncode == 1
    assert f"'{bogus}' is not a pg_dump custom-format archive" in result.stderr


def test_restore_refuses_an_archive_that_does_not_match_its_checksum(
        archive: Path, tmp_path: Path, db_url: str) -> None:
    damaged = tmp_path / archive.name
    damaged.write_bytes(archive.read_bytes())
    (tmp_path / f"{archive.name}.sha256").write_text(f"{'0' * 64}  {archive.name}\n")
    result = _run(RESTORE, damaged, db_url)
    assert result.returncode == 1
    assert "does not match its checksum" in result.stderr


def test_a_database_that_cannot_be_reached_is_named_without_its_password() -> None:
    result = _run(BACKUP, "-o", "/nonexistent/x.dump",
                  "postgresql+psycopg://fleet:hunter2-secret@127.0.0.1:1/fleet")
    assert result.returncode == 1
    assert "cannot connect to fleet@127.0.0.1:1/fleet" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_backup_keeps_the_days_asked_for_and_never_overwrites(
        source_url: str, tmp_path: Path) -> None:
    name = make_url(source_url).database
    old = tmp_path / f"{name}_20200101T000000Z.dump"
    old.write_bytes(b"old")
    (tmp_path / f"{old.name}.sha256").write_text("old\n")
    forty_days_ago = time.time() - 40 * 86_400
    os.utime(old, (forty_days_ago, forty_days_ago))
    other = tmp_path / "somebody_else.dump"  # not this database's: never pruned
    other.write_bytes(b"x")
    os.utime(other, (forty_days_ago, forty_days_ago))

    result = _run(BACKUP, "-d", tmp_path, "--keep-days", "30", source_url)

    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.strip())
    assert written.parent == tmp_path
    assert written.name.startswith(f"{name}_")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [written.name, f"{written.name}.sha256", other.name])
    again = _run(BACKUP, "-o", written, source_url)
    assert again.returncode == 1
    assert "exists already" in again.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--keep-days", "0"], "--keep-days must be a whole number of days >= 1, not '0'"),
    (["mysql://root@127.0.0.1/fleet"], "'mysql://…' is not a PostgreSQL URL"),
    (["--frobnicate"], "unknown option '--frobnicate'"),
])
def test_backup_names_the_bad_argument(args: list[str], message: str) -> None:
    result = _run(BACKUP, *args)
    assert result.returncode == 1
    assert message in result.stderr
