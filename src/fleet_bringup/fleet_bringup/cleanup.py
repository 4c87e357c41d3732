"""Deletion of what a graph run under an id prefix (a "tag") wrote to the database.

The bring-up tests and the benches (bench/soak.py, bench/fleet_load.py) run whole graphs
against the shared database with every id they create prefixed by a tag of their own, and
delete every row under it afterwards with :func:`forget_tag`.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

# Rows keyed by a vehicle, deleted before the vehicles themselves.
TAGGED_VEHICLE_TABLES = ("telemetry", "telemetry_1min", "telemetry_rollup_dirty", "flights",
                         "charging_sessions", "coordination_events")


def forget_tag(engine: Engine, tag: str) -> None:
    """Delete every row whose id (vehicle, mission, site, zone, station, user) starts with
    ``tag``, children first: what a graph run with ``write_graph_configs(..., tag)`` wrote."""
    if not tag:
        # An empty prefix matches every row of every table below.
        raise ValueError("forget_tag needs a non-empty tag, got ''")
    tagged = "left({column}, length(:tag)) = :tag"
    with engine.begin() as conn:
        for table in TAGGED_VEHICLE_TABLES:
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
