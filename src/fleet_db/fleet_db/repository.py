"""Read queries of the fleet database, returning frozen domain values (fleet_db.domain).

A ``FleetRepository`` wraps one Connection; the caller owns the connection and its
transaction (``with engine.connect() as conn: FleetRepository(conn).history(...)``).
Time ranges are half-open, [t0, t1), and every time argument must be timezone-aware.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely import wkt as shapely_wkt
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Result, Row, and_, func, or_, select, text

from fleet_core.geo import GeoPoint
from fleet_db.db import InvalidArgumentError, NotFoundError, aware_utc
from fleet_db.domain import (
    MinuteRollup,
    MissionTimelineEntry,
    NearestVehicle,
    SiteAvailability,
    SiteSuccess,
    VehiclePresence,
    ZoneCrossing,
)
from fleet_db.models import (
    MISSION_FINAL_STATUSES,
    VEHICLE_STATUSES,
    Mission,
    MissionEvent,
    NoFlyZone,
    Site,
    Vehicle,
    telemetry_1min,
)
from fleet_db.samples import TelemetrySample

MAX_HISTORY_POINTS = 100_000
OPEN_MISSION_STATUSES = ("planned", "queued", "assigned", "active", "paused")

# The telemetry columns in TelemetrySample order, with the position split into lat/lon.
_SAMPLE_COLUMNS = (
    "vehicle_id, time, st_y(position) as latitude, st_x(position) as longitude, "
    "altitude_amsl, altitude_rel, heading_deg, ground_speed_mps, climb_rate_mps, battery_pct, "
    "voltage_v, current_a, mode, armed, landed_state, mission_id"
)


def _sample(row: Row[Any] | Any) -> TelemetrySample:
    return TelemetrySample(
        vehicle_id=row.vehicle_id, time=row.time.astimezone(UTC), latitude=row.latitude,
        longitude=row.longitude, altitude_amsl=row.altitude_amsl, altitude_rel=row.altitude_rel,
        heading_deg=row.heading_deg, ground_speed_mps=row.ground_speed_mps,
        climb_rate_mps=row.climb_rate_mps, battery_pct=row.battery_pct, voltage_v=row.voltage_v,
        current_a=row.current_a, mode=row.mode, armed=row.armed, landed_state=row.landed_state,
        mission_id=row.mission_id)


def _samples(result: Result[Any]) -> list[TelemetrySample]:
    """Convert rows selected with exactly ``_SAMPLE_COLUMNS``, in bulk.

    Positional construction from one fetchall: history() converts up to 100,000 rows and
    per-row attribute lookups were a third of its time.
    """
    rows: Sequence[Any] = result.all()
    return [TelemetrySample(r[0], r[1].astimezone(UTC), *r[2:]) for r in rows]



def _range(t0: datetime, t1: datetime) -> tuple[datetime, datetime]:
    a, b = aware_utc(t0, "t0"), aware_utc(t1, "t1")
    if b <= a:
        raise InvalidArgumentError(f"t1 {t1.isoformat()} is not after t0 {t0.isoformat()}")
    return a, b


def _polygon_wkt(area: BaseGeometry | str) -> str:
    geom = shapely_wkt.loads(area) if isinstance(area, str) else area
    if not isinstance(geom, Polygon | MultiPolygon):
        raise InvalidArgumentError(f"area {geom.wkt[:80]} is not a polygon or multipolygon")
    if geom.is_empty or not geom.is_valid:
        raise InvalidArgumentError(f"area {geom.wkt[:80]} is empty or not a valid polygon")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidArgumentError(
            f"area bounds {geom.bounds} are not longitude/latitude degrees (x = longitude)")
    return str(geom.wkt)


class FleetRepository:
    """The read queries of the fleet stack over one connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def latest_sample_per_vehicle(self, vehicle_ids: Sequence[str] | None = None, *,
                                  since: datetime | None = None) -> list[TelemetrySample]:
        """Return the newest sample of each vehicle, ordered by vehicle id.

        ``vehicle_ids`` defaults to every vehicle of the ``vehicles`` table; vehicles without
        a sample (after ``since``, when given) are left out. Each vehicle costs one backward
        probe of the primary key, newest partition first.
        """
        if isinstance(vehicle_ids, str):
            raise InvalidArgumentError(f"vehicle_ids {vehicle_ids!r} must be a sequence of ids")
        if vehicle_ids is None:
            ids = list(self._conn.execute(select(Vehicle.id).order_by(Vehicle.id)).scalars())
        else:
            ids = sorted(set(vehicle_ids))
        params: dict[str, Any] = {"ids": ids}
        since_clause = ""
        if since is not None:
            params["since"] = aware_utc(since, "since")
            since_clause = "and t.time >= :since"
        rows = self._conn.execute(text(f"""
            select s.* from unnest(cast(:ids as text[])) as v(id)
            cross join lateral (
                select {_SAMPLE_COLUMNS} from telemetry t
                where t.vehicle_id = v.id {since_clause}
                order by t.time desc limit 1
            ) s
            order by s.vehicle_id"""), params)
        return _samples(rows)

    def history(self, vehicle_id: str, t0: datetime, t1: datetime,
                max_points: int = 1000) -> list[TelemetrySample]:
        """Return the samples of ``vehicle_id`` in [t0, t1), at most ``max_points`` of them.

        When there are more, the range is cut into ``max_points`` equal time buckets and the
        first sample of each non-empty bucket is returned. Each bucket is one index probe
        of the primary key, so the cost depends on ``max_points``, not on the sample rate.
        """
        a, b = _range(t0, t1)
        if not vehicle_id:
            raise InvalidArgumentError("vehicle_id is empty")
        if not isinstance(max_points, int) or not 1 <= max_points <= MAX_HISTORY_POINTS:
            raise InvalidArgumentError(
                f"max_points {max_points!r} is outside 1..{MAX_HISTORY_POINTS}")
        params: dict[str, Any] = {"v": vehicle_id, "t0": a, "t1": b}
        # Counting at most max_points + 1 index entries tells which query to run without
        # reading (or converting) rows that would be thrown away.
        n = self._conn.execute(text("""
            select count(*) from (
                select 1 from telemetry where vehicle_id = :v and time >= :t0 and time < :t1
                limit :limit) head"""), {**params, "limit": max_points + 1}).scalar_one()
        if n <= max_points:
            rows = self._conn.execute(text(f"""
                select {_SAMPLE_COLUMNS} from telemetry
                where vehicle_id = :v and time >= :t0 and time < :t1
                order by time"""), params)
            return _samples(rows)
        # The constant outer bounds let the planner prune partitions at plan time; the
        # per-bucket bounds drive the index probe.
        width = (b - a) / max_points
        rows = self._conn.execute(text(f"""
            select s.* from generate_series(0, :n - 1) as k(i)
            cross join lateral (
                select {_SAMPLE_COLUMNS} from telemetry
                where vehicle_id = :v and time >= :t0 and time < :t1
                  and time >= :t0 + k.i * cast(:width as interval)
                  and time < :t0 + (k.i + 1) * cast(:width as interval)
                order by time limit 1
            ) s
            order by s.time"""), {**params, "n": max_points, "width": width})
        return _samples(rows)

    def nearest_available_vehicle(self, point: GeoPoint, min_battery_pct: float,
                                  site: str | None = None, *, now: datetime | None = None,
                                  max_age: timedelta = timedelta(seconds=10),
                                  ) -> NearestVehicle | None:
        """Return the idle vehicle nearest to ``point`` with a fresh sample and enough battery.

        Fresh: the vehicle's latest sample is at most ``max_age`` older than ``now`` (default:
        the database clock). Distance is geodesic between ``point`` and that sample.
        """
        if not (math.isfinite(point.latitude) and math.isfinite(point.longitude)
                and -90 <= point.latitude <= 90 and -180 <= point.longitude <= 180):
            raise InvalidArgumentError(f"point ({point.latitude}, {point.longitude}) is invalid")
        if not (math.isfinite(min_battery_pct) and 0 <= min_battery_pct <= 100):
            raise InvalidArgumentError(f"min_battery_pct {min_battery_pct} is outside 0..100")
        if max_age <= timedelta(0):
            raise InvalidArgumentError(f"max_age {max_age} must be positive")
        params: dict[str, Any] = {
            "lat": point.latitude, "lon": point.longitude, "min_battery": min_battery_pct,
            "max_age": max_age, "site": site,
            "now": aware_utc(now, "now") if now is not None else None,
        }
        row = self._conn.execute(text(f"""
            with clock as (select coalesce(cast(:now as timestamptz), now()) as now)
            select v.site_id, s.*,
                   st_distance(s.geog, st_setsrid(st_makepoint(:lon, :lat), 4326)::geography)
                       as distance_m
            from vehicles v cross join clock
            cross join lateral (
                select {_SAMPLE_COLUMNS}, t.position::geography as geog from telemetry t
                where t.vehicle_id = v.id and t.time <= clock.now
                  and t.time >= clock.now - cast(:max_age as interval)
                order by t.time desc limit 1
            ) s
            where v.status = 'idle' and s.battery_pct >= :min_battery
              and (cast(:site as text) is null or v.site_id = :site)
            order by distance_m, v.id
            limit 1"""), params).one_or_none()
        if row is None:
            return None
        return NearestVehicle(vehicle_id=row.vehicle_id, site_id=row.site_id,
                              distance_m=float(row.distance_m), sample=_sample(row))

    def vehicles_inside(self, area: BaseGeometry | str, t0: datetime,
                        t1: datetime) -> list[VehiclePresence]:
        """Return the vehicles with a sample inside ``area`` (lon/lat, boundary included)."""
        a, b = _range(t0, t1)
        rows = self._conn.execute(text("""
            select vehicle_id, min(time) as first_time, max(time) as last_time, count(*) as n
            from telemetry
            where time >= :t0 and time < :t1
              and st_intersects(position, st_geomfromtext(:area, 4326))
            group by vehicle_id
            order by vehicle_id"""), {"t0": a, "t1": b, "area": _polygon_wkt(area)})
        return [VehiclePresence(vehicle_id=r.vehicle_id, first_time=r.first_time.astimezone(UTC),
                                last_time=r.last_time.astimezone(UTC), samples=int(r.n))
                for r in rows]

    def missions_crossing_active_zones(self, now: datetime) -> list[ZoneCrossing]:
        """Return the unfinished missions whose planned path crosses a zone active at ``now``.

        The check is horizontal: the planned path has no altitude, so a zone's altitude band
        is not considered.
        """
        at = aware_utc(now, "now")
        query = (
            select(Mission.id, Mission.status, NoFlyZone.id.label("zone_id"))
            .join(NoFlyZone, func.ST_Intersects(Mission.planned_path, NoFlyZone.geom))
            .where(Mission.status.in_(OPEN_MISSION_STATUSES),
                   or_(NoFlyZone.active_from.is_(None), NoFlyZone.active_from <= at),
                   or_(NoFlyZone.active_until.is_(None), NoFlyZone.active_until > at))
            .order_by(Mission.id, NoFlyZone.id)
        )
        return [ZoneCrossing(mission_id=r.id, mission_status=r.status, zone_id=r.zone_id)
                for r in self._conn.execute(query)]

    def availability_per_site(self) -> list[SiteAvailability]:
        """Return per site the number of vehicles in each status, sites by id, unassigned last.

        Sites without vehicles are listed with zeros; vehicles without a site form the
        ``site_id=None`` entry (present only when there are such vehicles).
        """
        site_ids = list(self._conn.execute(select(Site.id).order_by(Site.id)).scalars())
        counts: dict[str | None, dict[str, int]] = {
            s: dict.fromkeys(VEHICLE_STATUSES, 0) for s in site_ids}
        query = select(Vehicle.site_id, Vehicle.status, func.count()).group_by(
            Vehicle.site_id, Vehicle.status)
        for site_id, status, n in self._conn.execute(query):
            counts.setdefault(site_id, dict.fromkeys(VEHICLE_STATUSES, 0))[status] = int(n)
        ordered = [*site_ids, *([None] if None in counts else [])]
        return [SiteAvailability(site_id=s, counts=counts[s]) for s in ordered]

    def mission_timeline(self, mission_id: str) -> list[MissionTimelineEntry]:
        """Return the state transitions of ``mission_id`` in order; raise if it is unknown."""
        exists = self._conn.execute(
            select(Mission.id).where(Mission.id == mission_id)).scalar_one_or_none()
        if exists is None:
            raise NotFoundError(f"mission {mission_id!r} does not exist")
        query = (select(MissionEvent.time, MissionEvent.from_state, MissionEvent.to_state,
                        MissionEvent.reason, MissionEvent.actor, MissionEvent.details)
                 .where(MissionEvent.mission_id == mission_id)
                 .order_by(MissionEvent.time, MissionEvent.id))
        return [MissionTimelineEntry(time=r.time.astimezone(UTC), from_state=r.from_state,
                                     to_state=r.to_state, reason=r.reason, actor=r.actor,
                                     details=r.details or {})
                for r in self._conn.execute(query)]

    def success_rate_per_site(self, t0: datetime, t1: datetime) -> list[SiteSuccess]:
        """Return per site the missions that finished in [t0, t1): completed vs finished.

        A mission finished when it reached completed, aborted or failed; ``ended_at`` dates
        it. The average duration is over the completed missions that have a start time.
        """
        a, b = _range(t0, t1)
        completed = Mission.status == "completed"
        duration = func.extract("epoch", Mission.ended_at - Mission.started_at)
        query = (
            select(Mission.site_id,
                   func.count().label("finished"),
                   func.count().filter(completed).label("completed"),
                   func.avg(duration).filter(and_(completed, Mission.started_at.is_not(None)))
                   .label("avg_duration_s"))
            .where(Mission.status.in_(MISSION_FINAL_STATUSES),
                   Mission.ended_at >= a, Mission.ended_at < b)
            .group_by(Mission.site_id)
            .order_by(Mission.site_id.asc().nulls_last())
        )
        return [SiteSuccess(site_id=r.site_id, finished=int(r.finished),
                            completed=int(r.completed),
                            avg_duration_s=None if r.avg_duration_s is None
                            else float(r.avg_duration_s))
                for r in self._conn.execute(query)]

    def minute_rollups(self, vehicle_id: str, t0: datetime,
                       t1: datetime) -> list[MinuteRollup]:
        """Return the per-minute rollups of ``vehicle_id`` with minutes in [t0, t1)."""
        a, b = _range(t0, t1)
        r1 = telemetry_1min.c
        query = (
            select(r1.vehicle_id, r1.minute, r1.samples,
                   func.ST_Y(r1.position).label("lat"), func.ST_X(r1.position).label("lon"),
                   r1.battery_min_pct, r1.battery_max_pct, r1.distance_m, r1.time_in_air_s,
                   r1.max_alt_rel_m)
            .where(r1.vehicle_id == vehicle_id, r1.minute >= a, r1.minute < b)
            .order_by(r1.minute)
        )
        return [MinuteRollup(vehicle_id=r.vehicle_id, minute=r.minute.astimezone(UTC),
                             samples=int(r.samples), latitude=float(r.lat),
                             longitude=float(r.lon), battery_min_pct=r.battery_min_pct,
                             battery_max_pct=r.battery_max_pct, distance_m=float(r.distance_m),
                             time_in_air_s=float(r.time_in_air_s),
                             max_alt_rel_m=r.max_alt_rel_m)
                for r in self._conn.execute(query)]

