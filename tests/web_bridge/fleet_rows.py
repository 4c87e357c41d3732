"""Fleet rows committed for one web test (vehicles, missions, telemetry, flights, events,
charging) under the test's unique tag, deleted after it.

The bridge reads through its own connections, so these rows are committed, not rolled back;
every id starts with the ``Accounts`` tag so that nothing else in fleet_test is touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import text

from fleet_db.partitions import ensure_partitions

from .conftest import Accounts


@dataclass
class FleetRows:
    """Make rows of the fleet tables; ``close()`` (or leaving the ``with``) deletes them."""

    accounts: Accounts
    vehicles: list[str] = field(default_factory=list)
    missions: list[str] = field(default_factory=list)
    stations: list[str] = field(default_factory=list)
    event_keys: list[str] = field(default_factory=list)

    @property
    def tag(self) -> str:
        """The test's unique prefix."""
        return self.accounts.tag

    def sql(self, statement: str, params: dict[str, Any] | list[dict[str, Any]] | None = None
            ) -> None:
        """Run one statement in its own committed transaction."""
        with self.accounts.engine.begin() as conn:
            conn.execute(text(statement), params or {})

    def vehicle(self, name: str, site: str | None, status: str = "idle") -> str:
        """Store vehicle ``<tag>_<name>`` at ``site``; return its id."""
        vid = f"{self.tag}_{name}"
        self.sql("insert into vehicles (id, serial, model, status, site_id) "
                 "values (:id, :id, 'x500', :status, :site)",
                 {"id": vid, "status": status, "site": site})
        self.vehicles.append(vid)
        return vid

    def mission(self, name: str, site: str | None, *, status: str, created: datetime,
                vehicle: str | None = None, started: datetime | None = None,
                ended: datetime | None = None, type_: str = "survey",
                path: list[tuple[float, float]] | None = None,
                estimates: tuple[float, float, float] | None = None) -> str:
        """Store mission ``<tag>_<name>``; ``path`` is (lat, lon) points; return its id."""
        mid = f"{self.tag}_{name}"
        wkt = (f"SRID=4326;LINESTRING({', '.join(f'{lon} {lat}' for lat, lon in path)})"
               if path else None)
        distance, duration, energy = estimates or (None, None, None)
        self.sql(
            "insert into missions (id, type, status, site_id, vehicle_id, created_at, "
            "started_at, ended_at, planned_path, estimated_distance_m, estimated_duration_s, "
            "estimated_energy_wh, created_by) values (:id, :type, :status, :site, :vehicle, "
            ":created, :started, :ended, cast(:path as geometry), :d, :t, :e, 'tester')",
            {"id": mid, "type": type_, "status": status, "site": site, "vehicle": vehicle,
             "created": created, "started": started, "ended": ended, "path": wkt,
             "d": distance, "t": duration, "e": energy})
        self.missions.append(mid)
        return mid

    def transition(self, mission: str, when: datetime, from_state: str | None,
                   to_state: str, reason: str = "") -> None:
        """Store a mission event."""
        self.sql("insert into mission_events (mission_id, time, from_state, to_state, reason, "
                 "actor, details) values (:m, :t, :f, :to, :r, 'tester', cast(:d as jsonb))",
                 {"m": mission, "t": when, "f": from_state, "to": to_state, "r": reason,
                  "d": json.dumps({"note": reason})})

    def samples(self, vehicle: str, rows: list[dict[str, Any]]) -> None:
        """Store telemetry rows (keys: time, lat, lon and any telemetry column)."""
        if not rows:
            return
        times = [r["time"] for r in rows]
        with self.accounts.engine.begin() as conn:
            ensure_partitions(conn, min(times), max(times) + timedelta(seconds=1))
        columns = ("altitude_rel", "battery_pct", "voltage_v", "current_a", "armed",
                   "landed_state", "mission_id", "mode")
        self.sql(
            "insert into telemetry (vehicle_id, time, position, altitude_rel, battery_pct, "
            "voltage_v, current_a, armed, landed_state, mission_id, mode) values (:v, :time, "
            "st_setsrid(st_makepoint(:lon, :lat), 4326), :altitude_rel, :battery_pct, "
            ":voltage_v, :current_a, :armed, :landed_state, :mission_id, :mode)",
            [{"v": vehicle, **dict.fromkeys(columns), **r} for r in rows])

    def flight(self, vehicle: str, started: datetime, ended: datetime, distance_m: float,
               energy_wh: float | None) -> None:
        """Store a flights row with the given figures."""
        self.sql("insert into flights (vehicle_id, started_at, ended_at, duration_s, "
                 "distance_m, energy_wh) values (:v, :s, :e, :d, :m, :w)",
                 {"v": vehicle, "s": started, "e": ended,
                  "d": (ended - started).total_seconds(), "m": distance_m, "w": energy_wh})

    def station(self, name: str, site: str | None) -> str:
        """Store charging station ``<tag>_<name>``; return its id."""
        sid = f"{self.tag}_{name}"
        self.sql("insert into charging_stations (id, site_id, location, pads, charge_rate_w) "
                 "values (:id, :site, st_setsrid(st_makepoint(0, 0), 4326), 2, 500)",
                 {"id": sid, "site": site})
        self.stations.append(sid)
        return sid

    def charging(self, station: str, vehicle: str, requested: datetime,
                 wait_s: float | None) -> None:
        """Store a charging session."""
        self.sql("insert into charging_sessions (station_id, vehicle_id, requested_at, "
                 "queue_wait_s) values (:s, :v, :r, :w)",
                 {"s": station, "v": vehicle, "r": requested, "w": wait_s})

    def event(self, name: str, vehicle: str | None, type_: str, severity: str, *,
              opened: datetime, closed: datetime | None = None,
              message: str | None = None) -> str:
        """Store a coordination event keyed ``<tag>_<name>``; return its key."""
        key = f"{self.tag}_{name}"
        self.sql("insert into coordination_events (key, time, type, severity, vehicle_id, "
                 "opened_at, closed_at, message) values (:k, :t, :type, :sev, :v, :o, :c, :m)",
                 {"k": key, "t": closed or opened, "type": type_, "sev": severity,
                  "v": vehicle, "o": opened, "c": closed, "m": message})
        self.event_keys.append(key)
        return key

    def close(self) -> None:
        """Delete every row made here."""
        with self.accounts.engine.begin() as conn:
            v, m = self.vehicles, self.missions
            conn.execute(text("delete from coordination_events where key = any(:k)"),
                         {"k": self.event_keys})
            conn.execute(text("delete from charging_sessions where vehicle_id = any(:v)"),
                         {"v": v})
            conn.execute(text("delete from charging_stations where id = any(:s)"),
                         {"s": self.stations})
            conn.execute(text("delete from flights where vehicle_id = any(:v)"), {"v": v})
            conn.execute(text("delete from telemetry where vehicle_id = any(:v)"), {"v": v})
            conn.execute(text("delete from missions where id = any(:m)"), {"m": m})
            conn.execute(text("delete from vehicles where id = any(:v)"), {"v": v})

    def __enter__(self) -> FleetRows:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# A quiet corner of the world, so that spatial queries meet only this test's rows.
LAT, LON = 61.05, -149.80


@dataclass
class Scenario:
    """Two sites and what happened there in a two-hour period [t0, t1)."""

    site_a: str
    site_b: str
    va1: str
    va2: str
    vb1: str
    flown: str  # va1's completed survey, with telemetry
    unflown: str  # a queued mission with a planned path only
    other_site_mission: str
    t0: datetime
    t1: datetime
    path: list[tuple[float, float]]


def scenario(rows: FleetRows) -> Scenario:
    """Store the scenario the telemetry, event and report tests share."""
    from datetime import UTC

    acc = rows.accounts
    site_a, site_b = acc.site("a", LAT, LON), acc.site("b", LAT + 0.05, LON)
    va1, va2 = rows.vehicle("va1", site_a), rows.vehicle("va2", site_a)
    vb1 = rows.vehicle("vb1", site_b)
    t0 = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    t1 = t0 + timedelta(hours=2)
    m = timedelta(minutes=1)
    path = [(LAT + 0.0005 * i, LON + 0.0008 * (i % 3)) for i in range(7)]
    flown = rows.mission("survey1", site_a, status="completed", vehicle=va1,
                         created=t0 + 5 * m, started=t0 + 10 * m, ended=t0 + 40 * m,
                         path=path, estimates=(1234.5, 1800.0, 42.0))
    rows.mission("delivery1", site_a, status="aborted", vehicle=va2, type_="delivery",
                 created=t0 + 15 * m, started=t0 + 20 * m, ended=t0 + 30 * m)
    rows.mission("patrol1", site_a, status="failed", type_="patrol", created=t0 + 50 * m,
                 ended=t0 + 55 * m)
    unflown = rows.mission("survey2", site_a, status="queued", created=t0 + 60 * m,
                           path=[(LAT + 0.001, LON - 0.002), (LAT + 0.003, LON - 0.001),
                                 (LAT + 0.002, LON + 0.001)])
    rows.mission("before", site_a, status="completed", vehicle=va2, created=t0 - 30 * m,
                 started=t0 - 25 * m, ended=t0 + 10 * m)
    rows.mission("after", site_a, status="completed", vehicle=va2, created=t0 + 100 * m,
                  started=t0 + 110 * m, ended=t0 + 150 * m)
    other = rows.mission("b1", site_b, status="completed", vehicle=vb1, created=t0 + 5 * m,
                         started=t0 + 6 * m, ended=t0 + 36 * m)
    for mission, steps in ((flown, ("planned", "queued", "assigned", "active", "completed")),
                           (other, ("planned", "queued", "active", "completed"))):
        previous = None
        for i, state in enumerate(steps):
            rows.transition(mission, t0 + (5 + 2 * i) * m + (30 * m if state == "completed"
                                                             else 0 * m),
                            previous, state, f"step {i}")
            previous = state
    # va1 flies the survey: a sample every 10 s from start to end, along the planned path.
    samples = []
    n = 181
    for i in range(n):
        f = i / (n - 1) * (len(path) - 1)
        k = min(int(f), len(path) - 2)
        (la0, lo0), (la1, lo1) = path[k], path[k + 1]
        w = f - k
        samples.append({"time": t0 + 10 * m + timedelta(seconds=10 * i),
                        "lat": la0 + (la1 - la0) * w, "lon": lo0 + (lo1 - lo0) * w,
                        "altitude_rel": 30.0 + (i % 7), "battery_pct": 95.0 - 0.2 * i,
                        "voltage_v": 16.4 - 0.004 * i, "current_a": 12.0 + (i % 5) * 0.5,
                        "armed": True, "landed_state": 2, "mission_id": flown})
    rows.samples(va1, samples)
    rows.samples(vb1, [{"time": t0 + 6 * m + timedelta(seconds=10 * i), "lat": LAT + 0.05,
                        "lon": LON + 0.0001 * i, "battery_pct": 90.0, "voltage_v": 16.0,
                        "current_a": 10.0} for i in range(30)])
    rows.flight(va1, t0 + 10 * m, t0 + 40 * m, 1100.0, 38.5)
    rows.flight(va2, t0 - 20 * m, t0 + 25 * m, 2500.0, 80.0)  # clipped by t0
    rows.flight(va1, t0 + 110 * m, t0 + 140 * m, 900.0, None)  # clipped by t1, no energy
    rows.flight(vb1, t0 + 6 * m, t0 + 36 * m, 1500.0, 50.0)
    station_a, station_b = rows.station("pad_a", site_a), rows.station("pad_b", site_b)
    rows.charging(station_a, va1, t0 + 5 * m, 30.0)
    rows.charging(station_a, va2, t0 + 20 * m, 90.0)
    rows.charging(station_a, va1, t0 + 70 * m, None)
    rows.charging(station_a, va2, t0 - 10 * m, 500.0)  # before the period
    rows.charging(station_b, vb1, t0 + 8 * m, 10.0)
    rows.event("lowbat", va1, "low_battery", "warning", opened=t0 + 30 * m,
               closed=t0 + 35 * m, message="recovered")
    rows.event("link", va1, "link_lost", "critical", opened=t0 + 38 * m)
    rows.event("sep", va2, "collision_avoidance", "info", opened=t0 + 20 * m,
               closed=t0 + 21 * m, message="clear")
    rows.event("b_link", vb1, "link_lost", "warning", opened=t0 + 12 * m)
    return Scenario(site_a, site_b, va1, va2, vb1, flown, unflown, other, t0, t1, path)
