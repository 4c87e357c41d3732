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
(a spool replay, a slow batch) by less than that window are picked up. Older late data needs
an explicit ``rebuild_rollups`` over its range.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

from fleet_db.db import InvalidArgumentError

WATERMARK_NAME = "telemetry_1min"
SEGMENT_MAX_GAP = timedelta(seconds=10)
# Each call re-reads this much raw telemetry: at 10 Hz x 28 vehicles, 10 minutes took 2 s on
# the benchmark database, so the default stays short. A spool replay of older samples knows
# its range and calls rebuild_rollups for it.
DEFAULT_TRAILING = timedelta(minutes=2)
DEFAULT_MAX_SPAN = timedelta(hours=6)
MINUTE = timedelta(minutes=1)

_AIRBORNE = ("case when landed_state in (2, 3, 4) then true when landed_state = 1 then false "
             "else coalesce(armed, false) end")

# :read_from/:read_to extend the window by the maximum gap on both sides so that every
# segment touching a minute of the window is seen whole.
_ROLLUP_SQL = f"""
with src as (
    select vehicle_id, time, position, battery_pct, altitude_rel,
           lag(time) over w as prev_time,
           lag(position) over w as prev_position,
           lag({_AIRBORNE}) over w as prev_airborne
    from telemetry
    where time >= :read_from and time < :read_to
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


def _check_aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{what} {value!r} is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(f"{what} {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def floor_minute(value: datetime) -> datetime:
    """Return ``value`` truncated to its UTC minute."""
    return _check_aware(value, "time").replace(second=0, microsecond=0)


def rebuild_rollups(conn: Connection, start: datetime, end: datetime) -> int:
    """Recompute the minutes from ``start`` to ``end`` (floored to minutes); return how many.

    Minutes without samples are left as they are (there is nothing to recompute from).
    """
    win_start, win_end = floor_minute(start), floor_minute(end)
    if win_end < win_start:
        raise InvalidArgumentError(f"end {end.isoformat()} is before start {start.isoformat()}")
    if win_end == win_start:
        return 0
    result = conn.execute(text(_ROLLUP_SQL), {
        "read_from": win_start - SEGMENT_MAX_GAP,
        "read_to": win_end + SEGMENT_MAX_GAP,
        "win_start": win_start,
        "win_end": win_end,
        "max_gap": SEGMENT_MAX_GAP,
    })
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
    conn.execute(text("select pg_advisory_xact_lock(hashtext('fleet_db.rollups'))"))
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
