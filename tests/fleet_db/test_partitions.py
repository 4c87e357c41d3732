"""Daily telemetry partitions: on-demand creation, racing creators, retention."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, text

from fleet_db import partitions
from fleet_db.db import InvalidArgumentError
from fleet_db.partitions import (
    drop_expired_partitions,
    ensure_partitions,
    ensure_partitions_ahead,
    list_partitions,
    partition_day,
    partition_name,
)


def _insert(conn: Connection, when: datetime, vehicle: str = "p-test") -> None:
    conn.execute(text(
        "insert into telemetry (vehicle_id, time, position) "
        "values (:v, :t, st_setsrid(st_makepoint(8, 47), 4326))"), {"v": vehicle, "t": when})


def test_partition_names_follow_the_utc_day() -> None:
    assert partition_name(date(2031, 2, 3)) == "telemetry_p20310203"
    assert partition_day("telemetry_p20310203") == date(2031, 2, 3)
    assert partition_day("telemetry_default") is None


def test_ensure_partitions_creates_each_missing_day_once(db_conn: Connection) -> None:
    start = datetime(2090, 5, 30, 22, 0, tzinfo=UTC)
    end = datetime(2090, 6, 1, 1, 0, tzinfo=UTC)
    created = ensure_partitions(db_conn, start, end)
    assert created == ["telemetry_p20900530", "telemetry_p20900531", "telemetry_p20900601"]
    assert ensure_partitions(db_conn, start, end) == []
    # The day boundaries are UTC midnights: the last microsecond of a day and the first of
    # the next land in different partitions.
    _insert(db_conn, datetime(2090, 5, 30, 23, 59, 59, 999999, tzinfo=UTC))
    _insert(db_conn, datetime(2090, 5, 31, 0, 0, tzinfo=UTC))
    rows = db_conn.execute(text(
        "select tableoid::regclass::text from telemetry where vehicle_id = 'p-test' "
        "order by time")).scalars().all()
    assert rows == ["telemetry_p20900530", "telemetry_p20900531"]


def test_ensure_partitions_uses_the_utc_day_of_an_offset_time(db_conn: Connection) -> None:
    zurich_morning = datetime.fromisoformat("2090-07-02T01:30:00+02:00")  # 1 July, 23:30 UTC
    assert ensure_partitions(db_conn, zurich_morning, zurich_morning) == ["telemetry_p20900701"]


def test_a_rolled_back_partition_is_not_remembered(db_engine: Engine) -> None:
    day = datetime(2091, 1, 1, 12, tzinfo=UTC)
    with db_engine.connect() as conn:
        assert ensure_partitions(conn, day, day) == ["telemetry_p20910101"]
        conn.rollback()
        # Created again: the cache did not keep the name of a partition that never committed.
        assert ensure_partitions(conn, day, day) == ["telemetry_p20910101"]
        _insert(conn, day)
        conn.rollback()


def test_ensure_partitions_rejects_bad_ranges_naming_them(db_conn: Connection) -> None:
    aware = datetime(2090, 1, 2, tzinfo=UTC)
    with pytest.raises(InvalidArgumentError, match="2090-01-01T00:00:00 has no time zone"):
        ensure_partitions(db_conn, datetime(2090, 1, 1), aware)
    with pytest.raises(InvalidArgumentError, match=r"end 2090-01-01.* is before start"):
        ensure_partitions(db_conn, aware, datetime(2090, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidArgumentError, match="spans 1097 days"):
        ensure_partitions(db_conn, aware, aware + timedelta(days=1096))


def test_ensure_partitions_ahead_covers_today_and_the_next_days(db_conn: Connection) -> None:
    now = datetime(2092, 3, 10, 15, tzinfo=UTC)
    created = ensure_partitions_ahead(db_conn, now, days_ahead=2)
    assert created == ["telemetry_p20920310", "telemetry_p20920311", "telemetry_p20920312"]
    with pytest.raises(InvalidArgumentError, match="days_ahead -1"):
        ensure_partitions_ahead(db_conn, now, days_ahead=-1)


@pytest.fixture
def race_days(db_engine: Engine) -> Iterator[list[str]]:
    """Yield the names of three far-future days, dropped (committed) after the test."""
    names = ["telemetry_p21010101", "telemetry_p21010102", "telemetry_p21010103"]
    yield names
    with db_engine.begin() as conn:
        for name in names:
            conn.execute(text(f"drop table if exists {name}"))
    partitions.forget_cache()


def test_racing_creators_each_create_a_day_at_most_once(db_engine: Engine,
                                                        race_days: list[str]) -> None:
    start = datetime(2101, 1, 1, 6, tzinfo=UTC)
    end = datetime(2101, 1, 3, 6, tzinfo=UTC)
    barrier = threading.Barrier(2)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def create(worker: int) -> None:
        try:
            with db_engine.connect() as conn:
                barrier.wait(timeout=10)
                results[worker] = ensure_partitions(conn, start, end)
                conn.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sorted(results[0] + results[1]) == race_days
    with db_engine.connect() as conn:
        assert [n for n in list_partitions(conn) if n.startswith("telemetry_p2101")] == race_days
        # Both creators' caches now hold the days: no more queries, nothing created.
        assert ensure_partitions(conn, start, end) == []


def test_retention_drops_whole_days_older_than_the_cutoff(db_conn: Connection) -> None:
    now = datetime(2020, 3, 31, 12, tzinfo=UTC)
    ensure_partitions(db_conn, datetime(2020, 2, 25, tzinfo=UTC), now + timedelta(days=2))
    _insert(db_conn, datetime(2020, 2, 28, 12, tzinfo=UTC), "old")
    _insert(db_conn, datetime(2020, 3, 1, 23, tzinfo=UTC), "kept")
    dropped = drop_expired_partitions(db_conn, now, retain_days=30)
    # Cutoff 1 March 12:00: 29 February ends at 1 March 00:00 and goes; 1 March stays.
    mine = [n for n in dropped if n.startswith("telemetry_p2020")]
    assert mine == ["telemetry_p20200225", "telemetry_p20200226", "telemetry_p20200227",
                    "telemetry_p20200228", "telemetry_p20200229"]
    remaining = list_partitions(db_conn)
    assert "telemetry_p20200301" in remaining
    assert "telemetry_p20200331" in remaining
    assert not set(mine) & set(remaining)
    vehicles = db_conn.execute(text(
        "select vehicle_id from telemetry where vehicle_id in ('old', 'kept')")).scalars().all()
    assert vehicles == ["kept"]
    # Dropped days can be recreated: the cache forgot them.
    assert ensure_partitions(db_conn, datetime(2020, 2, 28, tzinfo=UTC),
                             datetime(2020, 2, 28, tzinfo=UTC)) == ["telemetry_p20200228"]


def test_retention_never_drops_the_partition_holding_now(db_conn: Connection) -> None:
    now = datetime(2020, 6, 10, 0, 30, tzinfo=UTC)
    ensure_partitions(db_conn, datetime(2020, 6, 7, tzinfo=UTC), now)
    dropped = drop_expired_partitions(db_conn, now, retain_days=1)
    mine = [n for n in dropped if n.startswith("telemetry_p202006")]
    # 8 June ends before the cutoff (9 June 00:30); 9 June ends after it; 10 June is today.
    assert mine == ["telemetry_p20200607", "telemetry_p20200608"]
    assert {"telemetry_p20200609", "telemetry_p20200610"} <= set(list_partitions(db_conn))


@pytest.mark.parametrize("retain_days", [0, -3])
def test_retention_refuses_to_keep_less_than_a_day(db_conn: Connection,
                                                   retain_days: int) -> None:
    with pytest.raises(InvalidArgumentError, match=f"retain_days {retain_days} must be"):
        drop_expired_partitions(db_conn, datetime(2020, 1, 1, tzinfo=UTC), retain_days)
