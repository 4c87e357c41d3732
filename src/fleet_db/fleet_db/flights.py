"""Flights: detection from the sample stream (pure logic) and their metrics (SQL on telemetry).

A flight starts at take-off: the first sample that is armed and either in the air by
MAV_LANDED_STATE (IN_AIR, TAKEOFF, LANDING) or more than ``takeoff_alt_m`` above home (for
autopilots that report UNDEFINED). It ends at the first sample on the ground (ON_GROUND) or
disarmed, or — when samples stop — at the last sample, once nothing has come for
``idle_gap_s``. Metrics are computed from the rows stored in ``telemetry`` over the flight's
window, so they are the same whether computed live, after a replay, or on demand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from fleet_core.mavlink import LandedState
from fleet_db.db import InvalidArgumentError, aware_utc
from fleet_db.samples import TelemetrySample

_AIRBORNE = (LandedState.IN_AIR, LandedState.TAKEOFF, LandedState.LANDING)


@dataclass(frozen=True, slots=True)
class FlightWindow:
    """A detected flight: take-off to landing of one vehicle."""

    vehicle_id: str
    started_at: datetime
    ended_at: datetime
    end_reason: str  # "landed", "disarmed", "idle_gap" or "closed"


@dataclass(slots=True)
class _Open:
    started_at: datetime
    last_time: datetime


class FlightDetector:
    """Turns each vehicle's samples (in time order) into flight windows. No I/O."""

    def __init__(self, idle_gap_s: float = 30.0, takeoff_alt_m: float = 1.0) -> None:
        if not 0.0 < idle_gap_s <= 86400.0:
            raise InvalidArgumentError(f"idle_gap_s {idle_gap_s} is outside (0, 86400]")
        if not 0.0 <= takeoff_alt_m <= 1000.0:
            raise InvalidArgumentError(f"takeoff_alt_m {takeoff_alt_m} is outside 0..1000")
        self.idle_gap = timedelta(seconds=idle_gap_s)
        self.takeoff_alt_m = takeoff_alt_m
        self._open: dict[str, _Open] = {}
        self._last: dict[str, datetime] = {}
        self.out_of_order = 0  # samples older than the vehicle's newest one, ignored

    def airborne(self, sample: TelemetrySample) -> bool:
        """Tell whether ``sample`` shows the vehicle flying."""
        if sample.armed is not True:
            return False
        if sample.landed_state in _AIRBORNE:
            return True
        if sample.landed_state == LandedState.ON_GROUND:
            return False
        return sample.altitude_rel is not None and sample.altitude_rel > self.takeoff_alt_m

    def feed(self, sample: TelemetrySample) -> list[FlightWindow]:
        """Take one sample; return the flights it closes (at most two: idle gap + landing)."""
        vid = sample.vehicle_id
        last = self._last.get(vid)
        if last is not None and sample.time <= last:
            self.out_of_order += 1
            return []
        self._last[vid] = sample.time
        closed: list[FlightWindow] = []
        flight = self._open.get(vid)
        if flight is not None and sample.time - flight.last_time > self.idle_gap:
            closed.extend(self._close(vid, flight.last_time, "idle_gap"))
            flight = None
        if flight is None:
            if self.airborne(sample):
                self._open[vid] = _Open(sample.time, sample.time)
            return closed
        flight.last_time = sample.time
        if sample.armed is False:
            closed.extend(self._close(vid, sample.time, "disarmed"))
        elif sample.landed_state == LandedState.ON_GROUND:
            closed.extend(self._close(vid, sample.time, "landed"))
        return closed

    def feed_many(self, samples: Iterable[TelemetrySample]) -> list[FlightWindow]:
        """Feed samples in order; return every flight they close."""
        closed: list[FlightWindow] = []
        for sample in samples:
            closed.extend(self.feed(sample))
        return closed

    def check_idle(self, now: datetime) -> list[FlightWindow]:
        """Close the flights whose vehicle has sent nothing for more than the idle gap."""
        closed: list[FlightWindow] = []
        for vid, flight in list(self._open.items()):
            if now - flight.last_time > self.idle_gap:
                closed.extend(self._close(vid, flight.last_time, "idle_gap"))
        return closed

    def close_all(self) -> list[FlightWindow]:
        """Close every open flight at its last sample (shutdown)."""
        closed: list[FlightWindow] = []
        for vid, flight in list(self._open.items()):
            closed.extend(self._close(vid, flight.last_time, "closed"))
        return closed

    def open_flights(self) -> dict[str, datetime]:
        """Return the start time of each vehicle's open flight."""
        return {vid: f.started_at for vid, f in self._open.items()}

    def _close(self, vid: str, ended_at: datetime, reason: str) -> list[FlightWindow]:
        flight = self._open.pop(vid)
        if ended_at <= flight.started_at:
            return []  # a single airborne sample: nothing to measure
        return [FlightWindow(vid, flight.started_at, ended_at, reason)]


@dataclass(frozen=True, slots=True)
class FlightMetrics:
    """One row of ``flights`` as computed from the telemetry."""

    id: int
    vehicle_id: str
    started_at: datetime
    ended_at: datetime
    samples: int
    duration_s: float
    distance_m: float
    max_alt_rel_m: float | None
    energy_wh: float | None
    energy_mah: float | None
    min_voltage_v: float | None
    max_current_a: float | None
    avg_speed_mps: float | None
    wh_per_km: float | None


# Distance: spheroidal ST_Distance between consecutive samples. Energy: trapezoids of
# voltage*current (W) and current (A) over each interval where both ends are known.
_METRICS_SQL = """
with s as (
    select time, position, altitude_rel, voltage_v, current_a,
           lag(time) over w as p_time, lag(position) over w as p_position,
           lag(voltage_v) over w as p_voltage, lag(current_a) over w as p_current
    from telemetry
    where vehicle_id = :vid and time >= :started and time <= :ended
    window w as (order by time)
), m as (
    select count(*) as n,
           coalesce(sum(st_distance(p_position::geography, position::geography)), 0) as dist,
           max(altitude_rel) as max_alt,
           sum(extract(epoch from time - p_time) * (p_voltage * p_current + voltage_v * current_a)
               / 2) / 3600.0 as wh,
           sum(extract(epoch from time - p_time) * (p_current + current_a) / 2) / 3.6 as mah,
           min(voltage_v) as min_v, max(current_a) as max_a,
           case when count(*) >= 2 then st_makeline(position order by time) end as path
    from s
)
insert into flights as f (vehicle_id, started_at, ended_at, duration_s, distance_m,
                          max_alt_rel_m, energy_wh, energy_mah, min_voltage_v, max_current_a,
                          avg_speed_mps, wh_per_km, path, computed_at)
select :vid, :started, :ended, extract(epoch from cast(:ended as timestamptz)
                                        - cast(:started as timestamptz)),
       dist, max_alt, wh, mah, min_v, max_a,
       case when :ended > :started then dist / extract(epoch from cast(:ended as timestamptz)
                                                       - cast(:started as timestamptz)) end,
       case when dist > 0 then wh / (dist / 1000.0) end,
       path, now()
from m
on conflict (vehicle_id, started_at) do update set
    ended_at = excluded.ended_at, duration_s = excluded.duration_s,
    distance_m = excluded.distance_m, max_alt_rel_m = excluded.max_alt_rel_m,
    energy_wh = excluded.energy_wh, energy_mah = excluded.energy_mah,
    min_voltage_v = excluded.min_voltage_v, max_current_a = excluded.max_current_a,
    avg_speed_mps = excluded.avg_speed_mps, wh_per_km = excluded.wh_per_km,
    path = excluded.path, computed_at = excluded.computed_at
returning f.id, f.duration_s, f.distance_m, f.max_alt_rel_m, f.energy_wh, f.energy_mah,
          f.min_voltage_v, f.max_current_a, f.avg_speed_mps, f.wh_per_km,
          (select n from m)
"""


def _check_window(vehicle_id: str, started_at: datetime, ended_at: datetime) -> None:
    if not vehicle_id:
        raise InvalidArgumentError("vehicle_id is empty")
    for name, value in (("started_at", started_at), ("ended_at", ended_at)):
        aware_utc(value, name)
    if ended_at < started_at:
        raise InvalidArgumentError(
            f"ended_at {ended_at.isoformat()} is before started_at {started_at.isoformat()}")


def compute_flight_metrics(conn: Connection, vehicle_id: str, started_at: datetime,
                           ended_at: datetime) -> FlightMetrics:
    """Compute a flight's metrics from the stored telemetry and upsert its ``flights`` row.

    Runs in the caller's transaction (the caller commits).
    """
    _check_window(vehicle_id, started_at, ended_at)
    row: Any = conn.execute(text(_METRICS_SQL), {
        "vid": vehicle_id, "started": started_at, "ended": ended_at}).one()
    return FlightMetrics(
        id=row[0], vehicle_id=vehicle_id, started_at=started_at, ended_at=ended_at,
        samples=row[10], duration_s=row[1], distance_m=row[2], max_alt_rel_m=row[3],
        energy_wh=row[4], energy_mah=row[5], min_voltage_v=row[6], max_current_a=row[7],
        avg_speed_mps=row[8], wh_per_km=row[9])


def recompute_flights(conn: Connection, vehicle_id: str | None = None,
                      since: datetime | None = None) -> list[FlightMetrics]:
    """Recompute the metrics of stored flights (of one vehicle, started at or after ``since``).

    For late samples (a spool replay after an outage) or a changed formula. Runs in the
    caller's transaction.
    """
    if since is not None:
        aware_utc(since, "since")
    rows = conn.execute(text(
        "select vehicle_id, started_at, ended_at from flights "
        "where (cast(:vid as text) is null or vehicle_id = :vid) "
        "and (cast(:since as timestamptz) is null or started_at >= :since) "
        "order by vehicle_id, started_at"), {"vid": vehicle_id, "since": since}).all()
    return [compute_flight_metrics(conn, r[0], r[1], r[2]) for r in rows]


def detect_flights(conn: Connection, vehicle_id: str, since: datetime, until: datetime,
                   detector: FlightDetector | None = None) -> list[FlightMetrics]:
    """Run flight detection over the stored telemetry of one vehicle and upsert each flight.

    A flight still open at ``until`` is closed there (its row is updated by a later call that
    sees its landing, since the start time is the same).
    """
    _check_window(vehicle_id, since, until)
    det = detector if detector is not None else FlightDetector()
    result = conn.execute(text(
        "select time, armed, landed_state, altitude_rel from telemetry "
        "where vehicle_id = :vid and time >= :since and time <= :until order by time"),
        {"vid": vehicle_id, "since": since, "until": until})
    windows: list[FlightWindow] = []
    for time_, armed, landed, alt in result:
        windows.extend(det.feed(TelemetrySample(
            vehicle_id, time_, 0.0, 0.0, altitude_rel=alt, armed=armed, landed_state=landed)))
    windows.extend(w for w in det.close_all() if w.vehicle_id == vehicle_id)
    return [compute_flight_metrics(conn, w.vehicle_id, w.started_at, w.ended_at)
            for w in windows]
