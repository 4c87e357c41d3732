"""Daily partitions of ``telemetry``: create ahead, create on demand, drop after retention.

Partitions are named ``telemetry_pYYYYMMDD`` and cover one UTC day, [00:00, next 00:00).

``ensure_partitions`` sits on the ingest path before every batch, so a per-process cache of
partitions known to exist makes the common case free. Only *committed* partitions enter the
cache: a partition created inside a transaction is remembered when that transaction commits
(and forgotten if it rolls back), so a rolled-back batch never leaves the cache claiming a
partition that is not there.
"""

from __future__ import annotations

import re
import threading
import weakref
from datetime import UTC, date, datetime, time, timedelta

from psycopg import errors as pg_errors
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError

from fleet_db.db import InvalidArgumentError, aware_utc

PARENT = "telemetry"
_NAME = re.compile(r"^telemetry_p(\d{8})$")
# More days than this in one call is a broken clock or a unit error, not a batch of samples.
MAX_DAYS_PER_CALL = 400

_lock = threading.Lock()
# (database identity, partition name) of partitions known to exist and be committed.
_known: set[tuple[str, str]] = set()
# Partitions this process created in a transaction that has not ended yet, per connection.
_pending: weakref.WeakKeyDictionary[Connection, set[str]] = weakref.WeakKeyDictionary()


def partition_name(day: date) -> str:
    """Return the name of the partition holding ``day`` (a UTC date)."""
    return f"{PARENT}_p{day:%Y%m%d}"


def partition_day(name: str) -> date | None:
    """Return the day of a partition name, or None when ``name`` is not a daily partition."""
    match = _NAME.match(name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date()


def _utc_day(value: datetime, what: str) -> date:
    return aware_utc(value, what).date()


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _database_key(conn: Connection) -> str:
    # The cache must not confuse two databases used by one process (tests, the benchmark).
    url = conn.engine.url
    return f"{url.host}:{url.port}/{url.database}"


def _is_autocommit(conn: Connection) -> bool:
    return conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def _remember_on_end(conn: Connection, key: str) -> None:
    """Move this connection's pending names into the cache on commit, drop them on rollback."""

    def on_commit(c: Connection) -> None:
        names = _pending.pop(c, set())
        with _lock:
            _known.update((key, n) for n in names)

    def on_rollback(c: Connection) -> None:
        _pending.pop(c, None)

    event.listen(conn, "commit", on_commit, once=True)
    event.listen(conn, "rollback", on_rollback, once=True)


def _existing(conn: Connection, names: list[str]) -> set[str]:
    rows = conn.execute(
        text("select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
             "where i.inhparent = cast(:parent as regclass) and c.relname = any(:names)"),
        {"parent": PARENT, "names": names},
    )
    return {r[0] for r in rows}


def _create(conn: Connection, day: date) -> bool:
    """Create the partition of ``day``; return False when another session won the race."""
    name = partition_name(day)
    lower, upper = _day_start(day), _day_start(day + timedelta(days=1))
    # A savepoint, so that losing the race does not abort the caller's transaction. No
    # IF NOT EXISTS: it would turn "someone else created it" into a silent success and the
    # caller could not tell which partitions it created.
    savepoint = conn.begin_nested()
    try:
        conn.execute(text(
            f"create table {name} partition of {PARENT} "
            f"for values from ('{lower.isoformat()}') to ('{upper.isoformat()}')"))
    except DBAPIError as exc:
        savepoint.rollback()
        # Two sessions creating the same partition: the loser sees the catalog row of the
        # winner (unique_violation on pg_type/pg_class) or the table (duplicate_table).
        if isinstance(exc.orig, pg_errors.UniqueViolation | pg_errors.DuplicateTable):
            return False
        raise
    savepoint.commit()
    return True


def ensure_partitions(conn: Connection, start: datetime, end: datetime) -> list[str]:
    """Make sure a partition exists for every UTC day from ``start`` to ``end`` (inclusive).

    Returns the names this call created (empty when all existed). Safe when several
    processes race for the same day. Cheap when nothing is missing: no query at all.
    """
    first, last = _utc_day(start, "start"), _utc_day(end, "end")
    if last < first:
        raise InvalidArgumentError(
            f"end {end.isoformat()} is before start {start.isoformat()}")
    n_days = (last - first).days + 1
    if n_days > MAX_DAYS_PER_CALL:
        raise InvalidArgumentError(
            f"{start.isoformat()} .. {end.isoformat()} spans {n_days} days; "
            f"at most {MAX_DAYS_PER_CALL} per call")
    key = _database_key(conn)
    days = [first + timedelta(days=i) for i in range(n_days)]
    pending = _pending.get(conn, set())
    missing = [d for d in days
               if (key, partition_name(d)) not in _known and partition_name(d) not in pending]
    if not missing:
        return []
    names = [partition_name(d) for d in missing]
    existing = _existing(conn, names)
    autocommit = _is_autocommit(conn)
    # Partitions found in the catalog and not created by this connection's open transaction
    # were committed by someone: cache them now.
    with _lock:
        _known.update((key, n) for n in existing)
    created: list[str] = []
    for day in missing:
        name = partition_name(day)
        if name in existing:
            continue
        if _create(conn, day):
            created.append(name)
        else:
            with _lock:
                _known.add((key, name))
    if created:
        if autocommit:
            with _lock:
                _known.update((key, n) for n in created)
        else:
            if conn not in _pending:
                _pending[conn] = set()
                _remember_on_end(conn, key)
            _pending[conn].update(created)
    return created


def ensure_partitions_ahead(conn: Connection, now: datetime, days_ahead: int = 7) -> list[str]:
    """Create the partitions of today .. today + ``days_ahead`` (UTC); return those created."""
    if not 0 <= days_ahead <= MAX_DAYS_PER_CALL - 1:
        raise InvalidArgumentError(
            f"days_ahead {days_ahead} is outside 0..{MAX_DAYS_PER_CALL - 1}")
    return ensure_partitions(conn, now, now + timedelta(days=days_ahead))


def list_partitions(conn: Connection) -> list[str]:
    """Return the names of all partitions of ``telemetry``, oldest day first."""
    rows = conn.execute(text(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = cast(:parent as regclass) order by c.relname"), {"parent": PARENT})
    return [r[0] for r in rows]


def drop_expired_partitions(conn: Connection, now: datetime, retain_days: int = 30) -> list[str]:
    """Detach and drop the daily partitions entirely older than ``now - retain_days``.

    A partition is dropped only when its whole day ends at or before the cutoff, so at least
    ``retain_days`` of history survive; the partition holding ``now`` is never dropped.
    Returns the dropped names, oldest first. Partitions not named like daily ones are left
    alone.
    """
    if not isinstance(retain_days, int) or retain_days < 1:
        raise InvalidArgumentError(f"retain_days {retain_days!r} must be an integer >= 1")
    today = _utc_day(now, "now")
    cutoff = now.astimezone(UTC) - timedelta(days=retain_days)
    key = _database_key(conn)
    dropped: list[str] = []
    for name in list_partitions(conn):
        day = partition_day(name)
        if day is None or day >= today:
            continue
        if _day_start(day + timedelta(days=1)) > cutoff:
            continue
        # Detach first: the drop then touches only the detached table, and a reader of the
        # parent never sees a half-dropped partition.
        conn.execute(text(f"alter table {PARENT} detach partition {name}"))
        conn.execute(text(f"drop table {name}"))
        with _lock:
            _known.discard((key, name))
        _pending.get(conn, set()).discard(name)
        dropped.append(name)
    return dropped


def forget_cache() -> None:
    """Forget every partition this process believes exists (after a restore, in tests)."""
    with _lock:
        _known.clear()
