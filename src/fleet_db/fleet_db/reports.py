"""Report figures of one mission, of a site and of the organisation, computed in SQL.

Every figure is one aggregate over stored rows, so it equals what anyone's SQL over the same
rows says. All queries run on the caller's connection: under the web bridge's row-level
security (``fleet_web``) the tables that carry a site show only the caller's sites, and every
figure below is over what the connection can see.

Summary figures of a period [t0, t1) (half-open) and a set of sites:

- ``vehicles``: vehicles assigned to the sites now (``vehicles.site_id``).
- ``missions_by_state``: missions of the sites *created* in the period, counted by their
  current status; every status is listed, zeros included.
- ``finished``, ``completed``, ``success_rate``: missions of the sites that *ended* in the
  period (``ended_at`` in [t0, t1)) in a final status (completed, aborted, failed);
  success rate = completed / finished, None when nothing finished.
- ``flight_hours``: airborne time of the sites' vehicles inside the period: every
  ``flights`` row of those vehicles that overlaps [t0, t1), clipped to it, summed, in hours.
- ``utilisation``: flight_hours / (vehicles × period length in hours), 0..1; None when the
  sites have no vehicle.
- ``flights``, ``distance_km``: flights of the sites' vehicles that *started* in the period,
  and the sum of their ``distance_m`` / 1000.
- ``energy_wh``, ``energy_per_km_wh``: over the flights started in the period whose
  ``energy_wh`` is known: the sum of their energy, and that sum divided by the sum of their
  distance in km (None when that distance is 0 or no flight has an energy).
- ``charging_sessions``, ``charging_wait_mean_s``, ``charging_wait_p95_s``,
  ``charging_wait_max_s``: charging sessions at the sites' stations (``charging_stations.
  site_id``) *requested* in the period; the waits are over the sessions with a recorded
  ``queue_wait_s`` (p95 is the continuous percentile), None when there is none.

A vehicle's flights count for the site it belongs to now: the schema keeps no history of a
vehicle's site.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from fleet_db.db import InvalidArgumentError, NotFoundError, aware_utc
from fleet_db.models import MISSION_FINAL_STATUSES, MISSION_STATUSES

MAX_PERIOD = timedelta(days=3660)
MAX_PATH_POINTS = 20_000


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures of a set of sites (or the organisation) over [t0, t1); each figure is
    defined in the docstring of ``fleet_db.reports``."""

    site_id: str | None  # None: every site visible (the organisation's total)
    t0: datetime
    t1: datetime
    vehicles: int
    missions_by_state: dict[str, int]
    finished: int
    completed: int
    success_rate: float | None
    flight_hours: float
    utilisation: float | None
    flights: int
    distance_km: float
    energy_wh: float | None
    energy_per_km_wh: float | None
    charging_sessions: int
    charging_wait_mean_s: float | None
    charging_wait_p95_s: float | None
    charging_wait_max_s: float | None


@dataclass(frozen=True, slots=True)
class PathPoint:
    """A point of a mission's path (time None for the planned path)."""

    latitude: float
    longitude: float
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReportEvent:
    """A mission transition or a coordination event of the mission's vehicle and window."""

    time: datetime
    kind: str  # "mission" | "coordination"
    name: str  # "active", "completed"... or the coordination type
    text: str  # reason / resolution, with the actor or the severity
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MissionFigures:
    """What one mission planned and what its vehicle flew.

    The flown figures are over the telemetry of the mission's vehicle from ``started_at``
    to ``ended_at`` (or now while it runs), both included — the mission's bag slice:
    distance = sum of the geodesic distances between consecutive samples; energy = the
    trapezoid integral of voltage × current over the intervals where both ends are known;
    battery used = first known battery % − last known; duration = end − start.
    """

    mission_id: str
    type: str
    status: str
    priority: int
    site_id: str | None
    vehicle_id: str | None
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    planned_distance_m: float | None
    planned_duration_s: float | None
    planned_energy_wh: float | None
    duration_s: float | None
    samples: int
    flown_distance_m: float
    max_alt_rel_m: float | None
    battery_start_pct: float | None
    battery_end_pct: float | None
    battery_used_pct: float | None
    energy_wh: float | None
    avg_speed_mps: float | None


@dataclass(frozen=True, slots=True)
class MissionReport:
    """A mission's figures, its flown and planned paths, and its events in time order."""

    figures: MissionFigures
    flown_path: list[PathPoint] = field(default_factory=list)
    planned_path: list[PathPoint] = field(default_factory=list)
    events: list[ReportEvent] = field(default_factory=list)


def check_period(t0: datetime, t1: datetime) -> tuple[datetime, datetime]:
    """Return the period in UTC; raise InvalidArgumentError naming the bad bound."""
    a, b = aware_utc(t0, "t0"), aware_utc(t1, "t1")
    if b <= a:
        raise InvalidArgumentError(f"t1 {t1.isoformat()} is not after t0 {t0.isoformat()}")
    if b - a > MAX_PERIOD:
        raise InvalidArgumentError(
            f"period {t0.isoformat()} .. {t1.isoformat()} is longer than {MAX_PERIOD.days} days")
    return a, b


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# ``:everything`` true: no site filter (what the connection sees); else the listed sites.
_SUMMARY_SQL = """
with vs as (
    select id from vehicles
    where cast(:everything as boolean) or site_id = any(cast(:sites as text[]))
), ms as (
    select status, created_at, ended_at from missions
    where cast(:everything as boolean) or site_id = any(cast(:sites as text[]))
), fl as (
    select f.* from flights f join vs on vs.id = f.vehicle_id
    where f.started_at < :t1 and f.ended_at > :t0
), ch as (
    select cs.queue_wait_s from charging_sessions cs
    join charging_stations st on st.id = cs.station_id
    where cs.requested_at >= :t0 and cs.requested_at < :t1
      and (cast(:everything as boolean) or st.site_id = any(cast(:sites as text[])))
)
select
    (select count(*) from vs) as vehicles,
    (select coalesce(jsonb_object_agg(status, n), '{}') from (
        select status, count(*) as n from ms
        where created_at >= :t0 and created_at < :t1 group by status) by_state) as by_state,
    (select count(*) from ms where status = any(cast(:final as text[]))
        and ended_at >= :t0 and ended_at < :t1) as finished,
    (select count(*) from ms where status = 'completed'
        and ended_at >= :t0 and ended_at < :t1) as completed,
    (select coalesce(sum(extract(epoch from least(ended_at, :t1) - greatest(started_at, :t0))),
                     0) from fl) as flight_s,
    (select count(*) from fl where started_at >= :t0) as flights,
    (select coalesce(sum(distance_m), 0) from fl where started_at >= :t0) as distance_m,
    (select sum(energy_wh) from fl where started_at >= :t0 and energy_wh is not null)
        as energy_wh,
    (select sum(distance_m) from fl where started_at >= :t0 and energy_wh is not null)
        as energy_distance_m,
    (select count(*) from ch) as charging_sessions,
    (select avg(queue_wait_s) from ch) as wait_mean,
    (select percentile_cont(0.95) within group (order by queue_wait_s) from ch
        where queue_wait_s is not null) as wait_p95,
    (select max(queue_wait_s) from ch) as wait_max
"""


def summary(conn: Connection, t0: datetime, t1: datetime,
            site_ids: Sequence[str] | None = None) -> Summary:
    """Return the figures of ``site_ids`` (None: everything visible) over [t0, t1).

    A single site's summary carries its id; any other set is reported with ``site_id`` None.
    """
    a, b = check_period(t0, t1)
    if isinstance(site_ids, str):
        raise InvalidArgumentError(f"site_ids {site_ids!r} must be a sequence of site ids")
    row: Any = conn.execute(text(_SUMMARY_SQL), {
        "t0": a, "t1": b, "everything": site_ids is None, "sites": list(site_ids or ()),
        "final": list(MISSION_FINAL_STATUSES)}).one()
    by_state = {s: int(row.by_state.get(s, 0)) for s in MISSION_STATUSES}
    vehicles, finished, completed = int(row.vehicles), int(row.finished), int(row.completed)
    flight_h = float(row.flight_s) / 3600.0
    period_h = (b - a).total_seconds() / 3600.0
    energy_km = _float(row.energy_distance_m)
    return Summary(
        site_id=site_ids[0] if site_ids is not None and len(site_ids) == 1 else None,
        t0=a, t1=b, vehicles=vehicles, missions_by_state=by_state, finished=finished,
        completed=completed, success_rate=completed / finished if finished else None,
        flight_hours=flight_h,
        utilisation=flight_h / (vehicles * period_h) if vehicles else None,
        flights=int(row.flights), distance_km=float(row.distance_m) / 1000.0,
        energy_wh=_float(row.energy_wh),
        energy_per_km_wh=(float(row.energy_wh) / (energy_km / 1000.0)
                          if row.energy_wh is not None and energy_km else None),
        charging_sessions=int(row.charging_sessions),
        charging_wait_mean_s=_float(row.wait_mean), charging_wait_p95_s=_float(row.wait_p95),
        charging_wait_max_s=_float(row.wait_max))


def visible_sites(conn: Connection) -> list[str]:
    """Return the ids of the sites the connection can see, in order."""
    return list(conn.execute(text("select id from sites order by id")).scalars())


_MISSION_SQL = """
select id, type, status, priority, site_id, vehicle_id, created_by, created_at, started_at,
       ended_at, estimated_distance_m, estimated_duration_s, estimated_energy_wh,
       coalesce(ended_at, now()) as window_end
from missions where id = :id
"""

_FLOWN_SQL = """
with s as (
    select time, position, altitude_rel, battery_pct, voltage_v, current_a,
           lag(time) over w as p_time, lag(position) over w as p_position,
           lag(voltage_v) over w as p_voltage, lag(current_a) over w as p_current
    from telemetry
    where vehicle_id = :vid and time >= :a and time <= :b
    window w as (order by time)
)
select count(*) as n,
       coalesce(sum(st_distance(p_position::geography, position::geography)), 0) as dist,
       max(altitude_rel) as max_alt,
       sum(extract(epoch from time - p_time) * (p_voltage * p_current + voltage_v * current_a)
           / 2) / 3600.0 as wh,
       (array_agg(battery_pct order by time) filter (where battery_pct is not null))[1]
           as battery_first,
       (array_agg(battery_pct order by time desc) filter (where battery_pct is not null))[1]
           as battery_last
from s
"""

# Every k-th sample (k chosen so at most :max remain) plus the last one.
_PATH_SQL = """
select lat, lon, time from (
    select st_y(position) as lat, st_x(position) as lon, time,
           row_number() over (order by time) - 1 as i, count(*) over () as n
    from telemetry where vehicle_id = :vid and time >= :a and time <= :b
) s
where i % greatest(1, ceil(n / cast(:max as float8)))::bigint = 0 or i = n - 1
order by time
"""

_PLANNED_SQL = """
select st_y(d.geom) as lat, st_x(d.geom) as lon
from missions m cross join lateral st_dumppoints(m.planned_path) d
where m.id = :id order by d.path
"""

_EVENTS_SQL = """
select time, 'mission' as kind, to_state as name,
       concat_ws(' — ', nullif(reason, ''), 'by ' || nullif(actor, '')) as text,
       null::timestamptz as closed_at, id
from mission_events where mission_id = :id
union all
select opened_at, 'coordination', type, concat_ws(' — ', severity, nullif(message, '')),
       closed_at, id
from coordination_events
where cast(:vid as text) is not null and (vehicle_id = :vid or other_vehicle_id = :vid)
  and opened_at <= :b and (closed_at is null or closed_at >= :a)
order by 1, 2, 6
"""


def mission_report(conn: Connection, mission_id: str,
                   max_path_points: int = 2000) -> MissionReport:
    """Return the report of ``mission_id``; raise NotFoundError when it is not visible."""
    if not 2 <= max_path_points <= MAX_PATH_POINTS:
        raise InvalidArgumentError(
            f"max_path_points {max_path_points} is outside 2..{MAX_PATH_POINTS}")
    m: Any = conn.execute(text(_MISSION_SQL), {"id": mission_id}).first()
    if m is None:
        raise NotFoundError(f"mission {mission_id!r} does not exist")
    started = m.started_at.astimezone(UTC) if m.started_at is not None else None
    window_end = m.window_end.astimezone(UTC)
    flown: Any = None
    path: list[PathPoint] = []
    if m.vehicle_id is not None and started is not None:
        window = {"vid": m.vehicle_id, "a": started, "b": window_end}
        flown = conn.execute(text(_FLOWN_SQL), window).one()
        path = [PathPoint(float(r.lat), float(r.lon), r.time.astimezone(UTC))
                for r in conn.execute(text(_PATH_SQL), {**window, "max": max_path_points})]
    planned = [PathPoint(float(r.lat), float(r.lon))
               for r in conn.execute(text(_PLANNED_SQL), {"id": mission_id})]
    events = [ReportEvent(r.time.astimezone(UTC), r.kind, r.name, r.text or "",
                          r.closed_at.astimezone(UTC) if r.closed_at else None)
              for r in conn.execute(text(_EVENTS_SQL), {
                  "id": mission_id, "vid": m.vehicle_id if started else None,
                  "a": started or window_end, "b": window_end})]
    duration = (window_end - started).total_seconds() if started is not None else None
    distance = float(flown.dist) if flown is not None else 0.0
    first = _float(flown.battery_first) if flown is not None else None
    last = _float(flown.battery_last) if flown is not None else None
    figures = MissionFigures(
        mission_id=m.id, type=m.type, status=m.status, priority=int(m.priority),
        site_id=m.site_id, vehicle_id=m.vehicle_id, created_by=m.created_by,
        created_at=m.created_at.astimezone(UTC), started_at=started,
        ended_at=m.ended_at.astimezone(UTC) if m.ended_at is not None else None,
        planned_distance_m=_float(m.estimated_distance_m),
        planned_duration_s=_float(m.estimated_duration_s),
        planned_energy_wh=_float(m.estimated_energy_wh), duration_s=duration,
        samples=int(flown.n) if flown is not None else 0, flown_distance_m=distance,
        max_alt_rel_m=_float(flown.max_alt) if flown is not None else None,
        battery_start_pct=first, battery_end_pct=last,
        battery_used_pct=first - last if first is not None and last is not None else None,
        energy_wh=_float(flown.wh) if flown is not None else None,
        avg_speed_mps=distance / duration if duration else None)
    return MissionReport(figures, path, planned, events)


def vehicle_sites(conn: Connection) -> dict[str, str | None]:
    """Return the site of every vehicle the connection can see, by vehicle id."""
    return {r.id: r.site_id for r in conn.execute(text("select id, site_id from vehicles"))}


def slice_rows(conn: Connection, vehicle_ids: Sequence[str] | None, t0: datetime,
               t1: datetime, limit: int) -> int:
    """Return how many telemetry rows a bag slice holds (t0 <= time <= t1), up to ``limit``.

    Counting stops at ``limit``: the caller only needs to know whether a slice is too big.
    """
    a, b = aware_utc(t0, "t0"), aware_utc(t1, "t1")
    vehicle_filter = ("and vehicle_id = any(cast(:ids as text[]))"
                      if vehicle_ids is not None else "")
    return int(conn.execute(text(f"""
        select count(*) from (
            select 1 from telemetry where time >= :t0 and time <= :t1 {vehicle_filter}
            limit :limit) head"""), {
        "t0": a, "t1": b, "ids": list(vehicle_ids or ()), "limit": limit}).scalar_one())
