"""Per-vehicle per-minute rollups of the raw telemetry into ``telemetry_1min``.

Raw telemetry is dropped after its retention; the rollups are kept indefinitely, so they are
the long-term record of where each vehicle flew and how far.

Definitions (the tests check them exactly):

- a *segment* joins two consecutive samples of a vehicle; a segment longer than
  ``SEGMENT_MAX_GAP`` is a data gap (link loss) and counts for nothing;
- a segment's distance is the geodesic distance on the WGS-84 spheroid (ST_Distance on
  geography) and its time in air is its duration when the *earlier* sample was airborne: the
  state held during the segment;
- a sample is airborne when its ``landed_state`` says in air, taking off or landing (2, 3,
  4); on ground (1) is not airborne; when the landed state is unknown (NULL or 0) ``armed``
  decides;
- a segment that crosses a minute boundary is split there in proportion to time, so the sum
  of a vehicle's minutes equals its total distance and time in air;
- samples, mean position, min/max battery and max relative altitude are over the samples
  stamped within the minute.

``update_rollups`` is incremental: it rolls up complete minutes after a watermark stored in
``rollup_watermarks`` and recomputes a trailing window each time, so samples that arrive late
(a slow batch) by less than that window are picked up. Rows older than that (a spool replayed
after a database outage, a bag import) are marked by whoever writes them, in the same
transaction: ``telemetry_rollup_dirty`` holds the minutes to recompute, of one vehicle or of
every vehicle (``vehicle_id`` NULL: the telemetry writer knows the time span of a batch, not
which vehicles it holds without decoding it). ``rollup_dirty`` recomputes marked minutes and
deletes their marks; marks are claimed with ``FOR UPDATE SKIP LOCKED``, so two recorders never
work on the same one, and recomputing a minute twice gives the same row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

from fleet_db.db import InvalidArgumentError, aware_utc

WATERMARK_NAME = "telemetry_1min"
SEGMENT_MAX_GAP = timedelta(seconds=10)
# Each call re-reads this much raw telemetry: at 10 Hz x 28 vehicles, 10 minutes took 2 s on
# the benchmark database, so the default stays short. A spool replay of older samples knows
# its range and calls rebuild_rollups for it.
DEFAULT_TRAILING = timedelta(minutes=2)
DEFAULT_MAX_SPAN = timedelta(hours=6)
MINUTE = timedelta(minutes=1)
# Rows stamped more than this before the writer's clock are marked dirty. Half the trailing
# window: the other half absorbs a rollup run that comes late and clocks a little apart.
LATE_AFTER = DEFAULT_TRAILING / 2
# One rollup_dirty call recomputes at most this much time (per window of marked minutes).
DEFAULT_DIRTY_SPAN = timedelta(hours=1)
# A vehicle's late rows further apart than this get marks of their own.
DIRTY_RUN_GAP = timedelta(minutes=10)
_LOCK = "select pg_advisory_xact_lock(hashtext('fleet_db.rollups'))"

_AIRBORNE = ("case when landed_state in (2, 3, 4) then true when landed_state = 1 then false "
             "else coalesce(armed, false) end")

# :read_from/:read_to extend the window by the maximum gap on both sides so that every
# segment touching a minute of the window is seen whole.
_ROLLUP_TEMPLATE = f"""
with src as (
    select vehicle_id, time, position, battery_pct, altitude_rel,
           lag(time) over w as prev_time,
           lag(position) over w as prev_position,
           lag({_AIRBORNE}) over w as prev_airborne
    from telemetry
    where time >= :read_from and time < :read_to {{vehicle_filter}}
    window w as (partition by vehicle_id order by time)
),
segments as (
    select vehicle_id, minute, prev_airborne,
           st_distance(prev_position::geography, position::geography) as distance_m,
           extract(epoch from time - prev_time)::float8 as seconds,
           extract(epoch from time - greatest(prev_time, minute))::float8
               / extract(epoch from time - prev_time)::float8 as share
    from (select *, date_trunc('minute', time, 'UTC') as minute from src) s
    where prev_time is not null and time - prev_time <= :max_gap
),
movement as (
    select vehicle_id, minute, sum(distance_m) as distance_m, sum(air_s) as air_s
    from (
        select vehicle_id, minute, distance_m * share as distance_m,
               case when prev_airborne then seconds * share else 0 end as air_s
        from segments
        union all
        select vehicle_id, minute - interval '1 minute', distance_m * (1 - share),
               case when prev_airborne then seconds * (1 - share) else 0 end
        from segments
        where share < 1
    ) portions
    group by vehicle_id, minute
),
stats as (
    select vehicle_id, date_trunc('minute', time, 'UTC') as minute, count(*) as samples,
           avg(st_x(position)) as lon, avg(st_y(position)) as lat,
           min(battery_pct) as battery_min, max(battery_pct) as battery_max,
           max(altitude_rel) as max_alt
    from src
    where time >= :win_start and time < :win_end
    group by 1, 2
)
insert into telemetry_1min as r (vehicle_id, minute, samples, position, battery_min_pct,
                                 battery_max_pct, distance_m, time_in_air_s, max_alt_rel_m,
                                 computed_at)
select s.vehicle_id, s.minute, s.samples, st_setsrid(st_makepoint(s.lon, s.lat), 4326),
       s.battery_min, s.battery_max, coalesce(m.distance_m, 0), coalesce(m.air_s, 0),
       s.max_alt, now()
from stats s left join movement m using (vehicle_id, minute)
on conflict (vehicle_id, minute) do update set
    samples = excluded.samples, position = excluded.position,
    battery_min_pct = excluded.battery_min_pct, battery_max_pct = excluded.battery_max_pct,
    distance_m = excluded.distance_m, time_in_air_s = excluded.time_in_air_s,
    max_alt_rel_m = excluded.max_alt_rel_m, computed_at = excluded.computed_at
"""
_ROLLUP_SQL = _ROLLUP_TEMPLATE.replace("{vehicle_filter}", "")
_ROLLUP_VEHICLES_SQL = _ROLLUP_TEMPLATE.replace("{vehicle_filter}",
                                                "and vehicle_id = any(:vehicle_ids)")


def _interval(value: timedelta) -> str:
    return f"interval '{value.total_seconds():g} seconds'"


def mark_rows_sql(source: str, *, late_only: bool) -> str:
    """Return an INSERT marking dirty the minutes the rows of ``source`` can change.

    ``source`` is a relation (a table, or a CTE of the statement the INSERT joins) with
    ``vehicle_id`` and ``time``; each vehicle gets one mark per run of rows (a gap above
    ``DIRTY_RUN_GAP`` starts a new one). ``late_only``: only rows stamped before the
    parameter ``:late_before``.
    """
    where = "where time < :late_before" if late_only else ""
    gap = _interval(SEGMENT_MAX_GAP)
    return f"""
        insert into telemetry_rollup_dirty (vehicle_id, from_minute, to_minute)
        select vehicle_id, date_trunc('minute', min(time) - {gap}, 'UTC'),
               date_trunc('minute', max(time) + {gap}, 'UTC') + interval '1 minute'
        from (select vehicle_id, time,
                     count(*) filter (where split) over (partition by vehicle_id order by time)
                         as run
              from (select vehicle_id, time,
                           time - lag(time) over (partition by vehicle_id order by time)
                               > {_interval(DIRTY_RUN_GAP)} as split
                    from {source} {where}) gaps) runs
        group by vehicle_id, run
    """



def floor_minute(value: datetime) -> datetime:
    """Return ``value`` truncated to its UTC minute."""
    return aware_utc(value, "time").replace(second=0, microsecond=0)


def dirty_window(first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """Return the minutes [from, to) whose rollups rows stamped ``first``..``last`` can change.

    A row also changes the segments to its neighbours, up to ``SEGMENT_MAX_GAP`` away.
    """
    if last < first:
        raise InvalidArgumentError(f"last {last.isoformat()} is before first {first.isoformat()}")
    return floor_minute(first - SEGMENT_MAX_GAP), floor_minute(last + SEGMENT_MAX_GAP) + MINUTE


def mark_dirty(conn: Connection, first: datetime, last: datetime,
               vehicle_id: str | None = None) -> None:
    """Mark the minutes of rows stamped ``first``..``last`` for ``rollup_dirty``.

    ``vehicle_id`` None: of every vehicle. Call it in the transaction that writes the rows,
    so that the mark is seen together with them, never before.
    """
    start, end = dirty_window(first, last)
    conn.execute(text("insert into telemetry_rollup_dirty (vehicle_id, from_minute, to_minute) "
                      "values (:v, :a, :b)"), {"v": vehicle_id, "a": start, "b": end})


def rebuild_rollups(conn: Connection, start: datetime, end: datetime,
                    vehicle_ids: Sequence[str] | None = None) -> int:
    """Recompute the minutes from ``start`` to ``end`` (floored to minutes); return how many.

    ``vehicle_ids``: only theirs (default: every vehicle's). Minutes without samples are left
    as they are (there is nothing to recompute from).
    """
    win_start, win_end = floor_minute(start), floor_minute(end)
    if win_end < win_start:
        raise InvalidArgumentError(f"end {end.isoformat()} is before start {start.isoformat()}")
    if win_end == win_start or (vehicle_ids is not None and not vehicle_ids):
        return 0
    params: dict[str, object] = {
        "read_from": win_start - SEGMENT_MAX_GAP,
        "read_to": win_end + SEGMENT_MAX_GAP,
        "win_start": win_start,
        "win_end": win_end,
        "max_gap": SEGMENT_MAX_GAP,
    }
    if vehicle_ids is None:
        result = conn.execute(text(_ROLLUP_SQL), params)
    else:
        result = conn.execute(text(_ROLLUP_VEHICLES_SQL),
                              {**params, "vehicle_ids": list(vehicle_ids)})
    return int(result.rowcount)


def get_watermark(conn: Connection) -> datetime | None:
    """Return the end of what has been rolled up so far, or None before the first run."""
    value = conn.execute(text("select watermark from rollup_watermarks where name = :name"),
                         {"name": WATERMARK_NAME}).scalar_one_or_none()
    return None if value is None else value.astimezone(UTC)


def _set_watermark(conn: Connection, value: datetime) -> None:
    conn.execute(text(
        "insert into rollup_watermarks (name, watermark, updated_at) values (:n, :w, now()) "
        "on conflict (name) do update set watermark = excluded.watermark, updated_at = now()"),
        {"n": WATERMARK_NAME, "w": value})


def update_rollups(conn: Connection, now: datetime, *, trailing: timedelta = DEFAULT_TRAILING,
                   max_span: timedelta = DEFAULT_MAX_SPAN) -> int:
    """Roll up the complete minutes after the watermark; return the number of minutes written.

    Recomputes ``trailing`` before the watermark as well (late samples), and advances at
    most ``max_span`` per call so one call stays short; call again until it returns 0 new
    progress (``get_watermark`` reaches the current minute). A minute is complete when it
    has ended by ``now``.
    """
    end = floor_minute(now)
    if trailing < timedelta(0) or max_span < MINUTE:
        raise InvalidArgumentError(
            f"trailing {trailing} must be >= 0 and max_span {max_span} >= 1 minute")
    # Serialise concurrent callers (two recorder processes): the second waits, then sees
    # the first one's watermark. The lock ends with the transaction.
    conn.execute(text(_LOCK))
    watermark = get_watermark(conn)
    if watermark is None:
        first = conn.execute(text("select min(time) from telemetry")).scalar_one_or_none()
        if first is None:
            return 0
        watermark = floor_minute(first)
        start = watermark
    else:
        start = watermark - trailing
    stop = min(end, watermark + max_span)
    if stop <= start:
        return 0
    written = rebuild_rollups(conn, start, stop)
    if stop > watermark:
        _set_watermark(conn, stop)
    return written


def rollup_dirty(conn: Connection, *, max_span: timedelta = DEFAULT_DIRTY_SPAN,
                 limit: int = 1000) -> int:
    """Recompute the minutes marked in ``telemetry_rollup_dirty``; return the rows written.

    Takes up to ``limit`` marks no other transaction holds, merges overlapping ones of the
    same vehicle (or of every vehicle), recomputes at most ``max_span`` of each merged window
    and deletes the marks it covered, or moves a mark's start past what was done. Run it in
    one transaction: the marks come back if it fails. Call it again while marks are left
    (``count_dirty``).
    """
    if max_span < MINUTE or limit < 1:
        raise InvalidArgumentError(
            f"max_span {max_span} must be >= 1 minute and limit {limit} >= 1")
    # Serialise with update_rollups and other callers: two transactions writing the same
    # telemetry_1min rows in different orders could deadlock.
    conn.execute(text(_LOCK))
    marks = conn.execute(text(
        "select id, vehicle_id, from_minute, to_minute from telemetry_rollup_dirty "
        "order by id limit :limit for update skip locked"), {"limit": limit}).all()
    if not marks:
        return 0
    # Merge each scope's marks (None: every vehicle) into disjoint windows.
    by_scope: dict[str | None, list[tuple[datetime, datetime]]] = defaultdict(list)
    for _id, vehicle, start, end in marks:
        by_scope[vehicle].append((start.astimezone(UTC), end.astimezone(UTC)))
    merged: dict[str | None, list[list[datetime]]] = {}
    for scope, spans in by_scope.items():
        windows: list[list[datetime]] = []
        for start, end in sorted(spans):
            if windows and start <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], end)
            else:
                windows.append([start, end])
        merged[scope] = windows
    # Each window is done up to its start + max_span; vehicles with the same window share
    # one statement.
    done: dict[tuple[str | None, datetime], datetime] = {}
    statements: dict[tuple[datetime, datetime], list[str]] = defaultdict(list)
    written = 0
    for scope, windows in merged.items():
        for start, end in windows:
            cut = min(end, start + max_span)
            done[scope, start] = cut
            if scope is None:
                written += rebuild_rollups(conn, start, cut)
            else:
                statements[start, cut].append(scope)
    for (start, cut), vehicles in statements.items():
        written += rebuild_rollups(conn, start, cut, sorted(vehicles))
    finished: list[int] = []
    for mark_id, vehicle, start, end in marks:
        window_start = next(w[0] for w in merged[vehicle] if w[0] <= start < w[1])
        cut = done[vehicle, window_start]
        if cut >= end:
            finished.append(mark_id)
        elif cut > start:
            conn.execute(text("update telemetry_rollup_dirty set from_minute = :cut "
                              "where id = :id"), {"cut": cut, "id": mark_id})
    if finished:
        conn.execute(text("delete from telemetry_rollup_dirty where id = any(:ids)"),
                     {"ids": finished})
    return written


def count_dirty(conn: Connection) -> int:
    """Return how many marks wait for ``rollup_dirty``."""
    return int(conn.execute(text("select count(*) from telemetry_rollup_dirty")).scalar_one())
