"""The recorder's event store keeps rows in a journal until the database has them."""

from __future__ import annotations

import errno
import os
import select
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from fleet_db.db import make_engine
from fleet_db.event_store import EventStore
from fleet_db.journal import Journal, Row
from fleet_db.writes import CoordinationEventRecord, to_row
from tests.telemetry_recorder.test_node import engine, vid  # noqa: F401 - fixtures


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str, **_: Any) -> None:
        self.lines.append(message)

    def info(self, message: str, **_: Any) -> None:
        self.lines.append(message)


def _event(vehicle: str, n: int) -> CoordinationEventRecord:
    t = datetime(2026, 11, 20, 12, 0, n, tzinfo=UTC)
    return CoordinationEventRecord(
        key=f"{vehicle}-{n}", time=t, type="link_lost", severity="warning",
        vehicle_id=vehicle, other_vehicle_id=None, zone_id=None, opened_at=t,
        closed_at=None, message=None, details={"n": n})


def _row(vehicle: str, n: int) -> Row:
    """The journal's form of ``_event``."""
    return to_row(_event(vehicle, n))


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
    journal.append(_row("uav0", 1))
    end = journal.append(_row("uav0", 2))
    journal.close()
    with (tmp_path / "rows.jsonl").open("ab") as f:
        f.write(b'{"kind": "coordination_ev')  # a crash in the middle of a write
    pending = Journal(tmp_path).pending()
    assert [row.values["key"] for row, _ in pending] == ["uav0-1", "uav0-2"]
    assert pending[-1][1] == end
    assert pending[0][0].values["time"] == datetime(2026, 11, 20, 12, 0, 1, tzinfo=UTC)


class _Syncs:
    """The journal's sync seam: counts the calls, can hold them, or fail them."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, bool]] = []  # (a directory?, did rows.jsonl.tmp exist?)
        self.fail = False
        self.release = threading.Event()  # cleared by a test: the next sync waits for it
        self.release.set()
        self.entered = threading.Event()
        self.tmp: Path | None = None

    def __call__(self, fd: int) -> None:
        self.entered.set()
        assert self.release.wait(10.0), "a test never released a held sync"
        self.calls.append((stat.S_ISDIR(os.fstat(fd).st_mode),
                           self.tmp is not None and self.tmp.exists()))
        if self.fail:
            raise OSError(errno.EIO, "Input/output error")
        os.fdatasync(fd)


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


_CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path

    from fleet_db.journal import Journal
    from tests.telemetry_recorder.test_store import _row

    # A long interval: only the first append gets synced before the kill.
    journal = Journal(Path(sys.argv[1]), sync_interval_s=1.0)
    for n in range(200):
        end = journal.append(_row("uav0", n % 60))
    print(end, journal.stats()["journaled"], flush=True)
    sys.stdin.read()
""")


def test_rows_appended_survive_a_kill_right_after_append_returns(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(root), *(str(root / "src" / p) for p in ("telemetry_recorder", "fleet_db",
                                                      "fleet_core")),
         env.get("PYTHONPATH", "")])
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path)], cwd=root, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 60.0)
        assert ready, "the child never appended its rows"
        end, synced = (int(x) for x in child.stdout.readline().split())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10.0)
    assert child.returncode == -signal.SIGKILL
    assert synced < 200  # most rows were acknowledged before any sync covered them
    assert (tmp_path / "rows.jsonl").stat().st_size == end
    assert len(_lines(tmp_path / "rows.jsonl")) == 200
    journal = Journal(tmp_path)
    pending = journal.pending()
    journal.close()
    assert len(pending) == 200
    assert [row.values["key"] for row, _ in pending[:3]] == ["uav0-0", "uav0-1", "uav0-2"]
    assert pending[-1][1] == end


def test_an_append_is_journaled_only_once_a_sync_after_it_returned(tmp_path: Path) -> None:
    syncs = _Syncs()
    journal = Journal(tmp_path, sync=syncs, sync_interval_s=0.0)  # opening syncs once...
    assert syncs.calls == [(False, False), (True, False)]  # ...the file, the new dir entry
    syncs.release.clear()
    syncs.entered.clear()
    end = journal.append(_row("uav0", 1))
    assert syncs.entered.wait(5.0)  # the syncer is inside fdatasync, held there
    assert not journal.wait_durable(end, 0.2)
    assert journal.stats()["journaled"] == 0
    syncs.release.set()
    assert journal.wait_durable(end, 5.0)
    assert journal.stats()["journaled"] == 1
    journal.close()


def test_a_burst_of_1000_appends_is_made_durable_by_a_few_syncs(tmp_path: Path) -> None:
    syncs = _Syncs()
    journal = Journal(tmp_path, sync=syncs, sync_interval_s=0.01)
    opened = len(syncs.calls)
    ends = [journal.append(_row("uav0", n % 60)) for n in range(1000)]
    assert journal.wait_durable(ends[-1], 5.0)
    time.sleep(0.05)  # nothing left to sync: no more calls come
    used = len(syncs.calls) - opened
    assert 1 <= used <= 10, f"{used} syncs for 1000 appends"
    assert journal.stats()["journaled"] == 1000
    journal.close()


def test_appends_made_while_a_sync_runs_share_the_next_one(tmp_path: Path) -> None:
    syncs = _Syncs()
    journal = Journal(tmp_path, sync=syncs, sync_interval_s=0.0)
    opened = len(syncs.calls)
    syncs.release.clear()
    syncs.entered.clear()
    journal.append(_row("uav0", 0))
    assert syncs.entered.wait(5.0)  # the first sync holds; 999 appends queue up behind it
    ends = [journal.append(_row("uav0", n % 60)) for n in range(1, 1000)]
    syncs.release.set()
    assert journal.wait_durable(ends[-1], 5.0)
    assert len(syncs.calls) - opened == 2
    journal.close()


def test_a_failed_sync_refuses_later_appends_and_acknowledges_nothing(tmp_path: Path) -> None:
    syncs = _Syncs()
    journal = Journal(tmp_path, sync=syncs)
    syncs.fail = True
    end = journal.append(_row("uav0", 1))
    assert not journal.wait_durable(end, 5.0)
    assert journal.stats()["journaled"] == 0
    assert "fdatasync failed" in journal.stats()["journal_error"]
    with pytest.raises(OSError, match="fdatasync failed"):
        journal.append(_row("uav0", 2))
    journal.close()


def test_compaction_keeps_the_uncommitted_rows_through_a_crash_at_any_step(
        tmp_path: Path) -> None:
    syncs = _Syncs()
    syncs.tmp = tmp_path / "rows.jsonl.tmp"
    journal = Journal(tmp_path, sync=syncs, compact_bytes=1)
    ends = [journal.append(_row("uav0", n)) for n in range(10)]
    assert journal.wait_durable(ends[-1], 5.0)
    before = len(syncs.calls)
    journal.commit(ends[6])
    # The tail went to a new file, synced before the rename, then the directory after it.
    assert syncs.calls[before:] == [(False, True), (True, False)]
    lines = _lines(tmp_path / "rows.jsonl")
    assert lines[0] == b'{"journal_base":%d}\n' % ends[6]
    assert len(lines) == 4
    kept = [(row.values["key"], end) for row, end in journal.pending()]
    assert kept == [(f"uav0-{n}", ends[n]) for n in (7, 8, 9)]
    more = journal.append(_row("uav0", 10))
    journal.close()

    # A crash right after the rename: the mark was never rewritten (here: it is stale).
    (tmp_path / "rows.committed").write_text("0")
    # A crash of a later compaction before its rename leaves its temporary file.
    (tmp_path / "rows.jsonl.tmp").write_bytes(b'{"journal_base":999}\n{"kind":')
    journal = Journal(tmp_path)
    assert [(row.values["key"], end) for row, end in journal.pending()] == [
        *kept, ("uav0-10", more)]
    assert not (tmp_path / "rows.jsonl.tmp").exists()
    journal.commit(more)
    journal.close()
    assert Journal(tmp_path).pending() == []


def test_the_store_counts_rows_journaled_once_synced(tmp_path: Path) -> None:
    away = make_engine("postgresql+psycopg://fleet@127.0.0.1:1/fleet_test", check=False,
                       connect_timeout_s=1)
    store = EventStore(away, retain_days=3650, maintenance_period_s=3600.0, logger=_Log(),
                       journal_dir=tmp_path / "rows")
    for n in range(3):
        store.put(_event("uav0", n))
    assert store.wait_journaled(5.0)
    m = store.metrics()
    assert (m["journal_appended"], m["journaled"], m["journal_error"]) == (3, 3, "")
    assert 1 <= m["journal_syncs"] <= 3
    store.close(timeout_s=0.2)
    away.dispose()


def test_the_parts_of_a_split_survey_point_at_it_even_when_they_come_first(
        engine: Engine, vid: str, tmp_path: Path) -> None:  # noqa: F811
    from fleet_interfaces.msg import MissionStatus, MissionStatusArray
    from telemetry_recorder.convert import mission_status_records

    parent = f"m-{vid}"
    t = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    msg = MissionStatusArray(missions=[
        MissionStatus(mission_id=f"{parent}/{i}", parent_id=parent, type="survey",
                      state="queued", priority=5, vehicle_id=vid, distance_m=100.0)
        for i in (1, 2)])
    msg.missions[0].updated.sec = int(t.timestamp())
    store = EventStore(engine, retain_days=3650, maintenance_period_s=3600.0, logger=_Log())
    try:
        for row in mission_status_records(msg):
            store.put(row)
        deadline = time.monotonic() + 10.0
        while store.metrics()["written"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        store.close(timeout_s=2.0)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("select id, parent_id from missions where id like :p "
                                     "order by id"), {"p": f"{parent}%"}).all()
        assert rows == [(parent, None), (f"{parent}/1", parent), (f"{parent}/2", parent)]
    finally:
        with engine.begin() as conn:
            conn.execute(text("delete from missions where parent_id = :p"), {"p": parent})
            conn.execute(text("delete from missions where id = :p"), {"p": parent})


def _waypoint_event(mission_id: str, second: int, actor: str, reason: str,
                    waypoints: list[list[Any]], *, vehicle: str) -> Any:
    import json as _json

    from fleet_interfaces.msg import MissionEvent

    msg = MissionEvent(mission_id=mission_id, from_state="active", to_state="active",
                       actor=actor, reason=reason, vehicle_id=vehicle,
                       details_json=_json.dumps({"type": "patrol", "waypoints": waypoints}))
    msg.stamp.sec = int(datetime(2026, 11, 20, 12, 0, second, tzinfo=UTC).timestamp())
    return msg


def test_modified_waypoints_supersede_the_plan_with_who_when_and_why_exactly_once(
        engine: Engine, vid: str) -> None:  # noqa: F811
    from telemetry_recorder.convert import mission_event_record

    mid = f"m-{vid}-wp"
    planned = _waypoint_event(mid, 1, "mission_planner", f"planned for {vid}", [
        [8.5, 47.4, 0.0, "takeoff", 0.0], [8.501, 47.4, 30.0, "transit", 0.0],
        [8.5, 47.4, 0.0, "land", 0.0]], vehicle=vid)
    modified = _waypoint_event(mid, 9, "operator:ann", "avoid the crane", [
        [8.502, 47.401, 40.0, "transit", 5.0], [8.5, 47.4, 40.0, "loiter", 30.0]], vehicle=vid)
    bad = _waypoint_event(mid, 12, "operator:bob", "typo", [[8.5, 95.0, 40.0, "transit", 0.0]],
                          vehicle=vid)
    store = EventStore(engine, retain_days=3650, maintenance_period_s=3600.0, logger=_Log())
    try:
        rows = [mission_event_record(m) for m in (planned, modified, planned, modified, bad)]
        assert rows[-1].details.waypoints_rejected is not None
        assert rows[-1].details.waypoints_rejected.startswith(
            "waypoint 0 has a bad position")
        for row in rows:  # the first two again: a journal replay or a second recorder
            store.put(row)
        deadline = time.monotonic() + 10.0
        while store.metrics()["written"] < len(rows) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        store.close(timeout_s=2.0)
    try:
        with engine.connect() as conn:
            current = conn.execute(text(
                "select seq, kind, hold_s, altitude_m, modified_by, modification_reason, "
                "round(ST_Y(position)::numeric, 3)::float8 from mission_waypoints "
                "where mission_id = :m and not superseded order by seq"), {"m": mid}).all()
            old = conn.execute(text(
                "select seq, kind, modified_by from mission_waypoints where mission_id = :m "
                "and superseded order by seq"), {"m": mid}).all()
        assert [tuple(r) for r in current] == [
            (0, "waypoint", 5.0, 40.0, "operator:ann", "avoid the crane", 47.401),
            (1, "loiter", 30.0, 40.0, "operator:ann", "avoid the crane", 47.4)]
        assert [tuple(r) for r in old] == [(0, "takeoff", "mission_planner"),
                                           (1, "waypoint", "mission_planner"),
                                           (2, "land", "mission_planner")]
    finally:
        with engine.begin() as conn:
            conn.execute(text("delete from missions where id = :m"), {"m": mid})
