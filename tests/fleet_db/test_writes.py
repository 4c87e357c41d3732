"""The recorder's typed records travel through the row journal and come back equal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleet_core.planning.event_details import EventWaypoint, MissionEventDetails, PlannedRoute
from fleet_db.journal import Journal, Row
from fleet_db.writes import (
    ChargingSessionRecord,
    CoordinationEventRecord,
    MissionEventRecord,
    MissionStatusRecord,
    NoFlyZoneRecord,
    Record,
    RegistryRecord,
    SiteRecord,
    VehicleSeenRecord,
    ZonesInForceRecord,
    from_row,
    to_row,
)

T = datetime(2026, 11, 20, 12, 0, 1, tzinfo=UTC)

RECORDS: list[Record] = [
    SiteRecord("base", "Base", 47.4, 8.5, "Europe/Zurich"),
    RegistryRecord("uav0", "multirotor", {"max_payload_kg": 2.5}, "base"),
    VehicleSeenRecord("uav0", "idle", T, "multirotor", "base", 47.4, 8.5),
    NoFlyZoneRecord("z1", "stadium", '{"type": "Polygon", "coordinates": []}', 0.0, 120.0,
                    T, None),
    ZonesInForceRecord(T, ("z1", "z2")),
    CoordinationEventRecord("uav0-1", T, "link_lost", "warning", "uav0", None, None, T, None,
                            None, {"n": 1}),
    MissionStatusRecord("m1", None, "survey", "active", 5, "uav0", "ann", 250.0, T),
    MissionEventRecord("m1", T, "assigned", "active", "planned for uav0", "mission_planner",
                       "uav0", MissionEventDetails(
                           mission_type="survey", priority=5,
                           route=PlannedRoute(((8.5, 47.4), (8.6, 47.5)), 10.0, 20.0, 1.5),
                           waypoints=(EventWaypoint(8.5, 47.4, 0.0, "takeoff"),))),
    ChargingSessionRecord("uav0", "pad1", 47.4, 8.5, 2, 3000.0, None, 1, T, T, None, 4.0,
                          30.0, 30.0, 0.0),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.KIND)
def test_every_record_comes_back_from_the_journal_equal(record: Record, tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(to_row(record))
    [(row, _)] = journal.pending()
    journal.close()
    assert from_row(row) == record


def test_a_vehicle_row_journaled_by_an_older_recorder_reads_with_no_model_or_home() -> None:
    old = Row("vehicle", {"id": "uav0", "status": "idle", "last_seen_at": T})
    assert from_row(old) == VehicleSeenRecord("uav0", "idle", T)


def test_a_planned_event_journaled_with_the_table_kinds_reads_back() -> None:
    old = Row("mission_event", {
        "mission_id": "m1", "time": T, "from_state": None, "to_state": "active",
        "reason": None, "actor": None, "vehicle_id": None,
        "details": {"type": "patrol", "waypoints": [[8.5, 47.4, 30.0, "waypoint", 0.0]]}})
    record = from_row(old)
    assert isinstance(record, MissionEventRecord)
    assert record.details.waypoints == (EventWaypoint(8.5, 47.4, 30.0, "waypoint", 0.0),)


def test_a_row_of_an_unknown_kind_or_missing_a_field_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="unknown kind 'teleport'"):
        from_row(Row("teleport", {}))
    with pytest.raises(ValueError, match="journal row 'site'"):
        from_row(Row("site", {"id": "base"}))
