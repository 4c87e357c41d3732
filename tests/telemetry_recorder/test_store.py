"""The recorder's event store keeps rows in a journal until the database has them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from fleet_db.db import make_engine
from telemetry_recorder.store import EventStore, Journal, Row
from tests.telemetry_recorder.test_node import engine, vid  # noqa: F401 - fixtures


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str, **_: Any) -> None:
        self.lines.append(message)

    def info(self, message: str, **_: Any) -> None:
        self.lines.append(message)


def _event(vehicle: str, n: int) -> Row:
    t = datetime(2026, 11, 20, 12, 0, n, tzinfo=UTC)
    return Row("coordination_event", {
        "key": f"{vehicle}-{n}", "time": t, "type": "link_lost", "severity": "warning",
        "vehicle_id": vehicle, "other_vehicle_id": None, "zone_id": None, "opened_at": t,
        "closed_at": None, "message": None, "details": {"n": n}})


def test_rows_put_while_the_database_is_away_are_written_after_a_restart(
        engine: Engine, vid: str, tmp_path: Path) -> None:  # noqa: F811
    away = make_engine("postgresql+psycopg://fleet@127.0.0.1:1/fleet_test", check=False,
                       connect_timeout_s=1)
    log = _Log()
    store = EventStore(away, retain_days=3650, maintenance_period_s=3600.0, logger=log,
                       journal_dir=tmp_path / "rows")
    for n in range(5):
        store.put(_event(vid, n))
    time.sleep(0.5)
    assert store.metrics()["written"] == 0
    store.close(timeout_s=0.5)  # gives up: the rows stay in the journal
    away.dispose()

    store = EventStore(engine, retain_days=3650, maintenance_period_s=3600.0, logger=log,
                       journal_dir=tmp_path / "rows")
    assert any("replaying 5 journaled rows" in line for line in log.lines)
    deadline = time.monotonic() + 10.0
    while store.metrics()["written"] < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    store.close(timeout_s=2.0)
    with engine.connect() as conn:
        keys = conn.execute(text("select key, details from coordination_events where "
                                 "vehicle_id = :v order by key"), {"v": vid}).all()
    assert [k for k, _ in keys] == [f"{vid}-{n}" for n in range(5)]
    assert [d["n"] for _, d in keys] == list(range(5))
    assert Journal(tmp_path / "rows").pending() == []  # all committed


def test_a_torn_last_journal_line_is_ignored_and_times_survive(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(_event("uav0", 1))
    end = journal.append(_event("uav0", 2))
    journal.close()
    with (tmp_path / "rows.jsonl").open("ab") as f:
        f.write(b'{"kind": "coordination_ev')  # a crash in the middle of a write
    pending = Journal(tmp_path).pending()
    assert [row.values["key"] for row, _ in pending] == ["uav0-1", "uav0-2"]
    assert pending[-1][1] == end
    assert pending[0][0].values["time"] == datetime(2026, 11, 20, 12, 0, 1, tzinfo=UTC)
