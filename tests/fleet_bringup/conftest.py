"""Fixtures of the bring-up tests: a tag of their own for every id the graph writes to the
shared test database, and the deletion of every row made under it afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.web_bridge import conftest as _bridge_fixtures

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"

web_db = _bridge_fixtures.web_db  # the migrated test database, a fixture here too
start_bridge = _bridge_fixtures.start_bridge  # a bridge without the graph

# Rows keyed by a vehicle, deleted before the vehicles themselves.
VEHICLE_TABLES = ("telemetry", "telemetry_1min", "telemetry_rollup_dirty", "flights",
                  "charging_sessions", "coordination_events")


def forget(engine: Engine, tag: str) -> None:
    """Delete every row whose id (vehicle, mission, site, zone, station, user) starts with
    ``tag``, children first."""
    tagged = "left({column}, length(:tag)) = :tag"
    with engine.begin() as conn:
        for table in VEHICLE_TABLES:
            conn.execute(text(f"delete from {table} where {tagged.format(column='vehicle_id')}"),
                         {"tag": tag})
        conn.execute(text(f"delete from coordination_events where "
                          f"{tagged.format(column='zone_id')}"), {"tag": tag})
        # Missions of the tagged vehicles or sites, parts of a split before their parent.
        missions = (f"({tagged.format(column='id')} or {tagged.format(column='vehicle_id')} "
                    f"or {tagged.format(column='site_id')})")
        conn.execute(text(f"delete from missions where parent_id is not null and {missions}"),
                     {"tag": tag})
        conn.execute(text(f"delete from missions where {missions}"), {"tag": tag})
        for table, column in (("charging_stations", "id"), ("vehicles", "id"),
                              ("no_fly_zones", "id"), ("audit_log", "username"),
                              ("users", "username"), ("sites", "id")):
            conn.execute(text(f"delete from {table} where {tagged.format(column=column)}"),
                         {"tag": tag})


@pytest.fixture
def tag(web_db: Engine) -> Iterator[str]:
    """A prefix for every id a test's graph writes; its rows are deleted after the test."""
    value = f"t{secrets.token_hex(3)}_"
    try:
        yield value
    finally:
        forget(web_db, value)
