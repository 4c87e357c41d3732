"""Flight detection (pure) and flight metrics computed in SQL from stored telemetry."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pyproj import Geod
from sqlalchemy import Connection, text

from fleet_core.mavlink import LandedState
from fleet_db.db import InvalidArgumentError
from fleet_db.flights import (
    FlightDetector,
    FlightWindow,
    compute_flight_metrics,
    detect_flights,
    recompute_flights,
)
from fleet_db.ingest import COLUMNS, ewkb_point
from fleet_db.partitions import ensure_partitions
from fleet_db.samples import TelemetrySample

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
GROUND, AIR, TAKEOFF, LANDING, UNDEF = (LandedState.ON_GROUND, LandedState.IN_AIR,
                                        LandedState.TAKEOFF, LandedState.LANDING,
                                        LandedState.UNDEFINED)


def at(s: float, *, armed: bool | None = True, landed: int | None = None,
       alt: float | None = None, vid: str = "uav0") -> TelemetrySample:
    return TelemetrySample(vid, T0 + timedelta(seconds=s), 47.0, 8.0, altitude_rel=alt,
                           armed=armed, landed_state=landed)


# -- detection (no database) ---------------------------------------------------------------

def test_a_flight_runs_from_the_first_airborne_sample_to_touchdown() -> None:
    det = FlightDetector()
    samples = [at(0, armed=False, landed=GROUND), at(1, landed=GROUND), at(2, landed=TAKEOFF),
               at(3, landed=AIR), at(20, landed=LANDING), at(25, landed=GROUND),
               at(26, armed=False, landed=GROUND)]
    assert det.feed_many(samples) == [FlightWindow("uav0", at(2).time, at(25).time, "landed")]
    assert det.open_flights() == {}


def test_armed_on_the_ground_is_not_a_flight() -> None:
    det = FlightDetector()
    assert det.feed_many(at(s, landed=GROUND, alt=0.2) for s in range(100)) == []
    assert det.open_flights() == {}


def test_without_landed_state_altitude_starts_the_flight_and_disarm_ends_it() -> None:
    det = FlightDetector(takeoff_alt_m=1.0)
    samples = [at(0, landed=UNDEF, alt=0.0), at(1, landed=UNDEF, alt=0.9),
               at(2, alt=1.5), at(20, alt=40.0), at(40, alt=0.3),
               at(41, armed=False, alt=0.1)]
    assert det.feed_many(samples) == [
        FlightWindow("uav0", at(2).time, at(41).time, "disarmed")]


def test_an_idle_gap_closes_the_flight_at_its_last_sample() -> None:
    det = FlightDetector(idle_gap_s=30.0)
    assert det.feed_many([at(0, landed=AIR), at(10, landed=AIR)]) == []
    assert det.check_idle(T0 + timedelta(seconds=39)) == []
    assert det.check_idle(T0 + timedelta(seconds=41)) == [
        FlightWindow("uav0", at(0).time, at(10).time, "idle_gap")]
    # A sample after a gap closes the old flight and may open a new one at once.
    det.feed_many([at(100, landed=AIR), at(110, landed=AIR)])
    assert det.feed(at(150, landed=AIR)) == [
        FlightWindow("uav0", at(100).time, at(110).time, "idle_gap")]
    assert det.open_flights() == {"uav0": at(150).time}


def test_vehicles_are_tracked_independently() -> None:
    det = FlightDetector()
    closed = det.feed_many([at(0, landed=AIR, vid="a"), at(1, landed=AIR, vid="b"),
                            at(5, landed=GROUND, vid="a"), at(9, landed=AIR, vid="b")])
    assert closed == [FlightWindow("a", at(0).time, at(5).time, "landed")]
    assert det.close_all() == [FlightWindow("b", at(1).time, at(9).time, "closed")]


def test_samples_out_of_order_are_ignored_and_counted() -> None:
    det = FlightDetector()
    det.feed_many([at(0, landed=AIR), at(10, landed=AIR)])
    assert det.feed(at(5, landed=GROUND)) == []
    assert det.out_of_order == 1
    assert det.open_flights() == {"uav0": at(0).time}


def test_a_lone_airborne_sample_is_no_flight() -> None:
    det = FlightDetector()
    assert det.feed(at(0, landed=AIR)) == []
    assert det.close_all() == []


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"idle_gap_s": 0.0}, "idle_gap_s 0.0"),
    ({"takeoff_alt_m": -1.0}, "takeoff_alt_m -1.0"),
], ids=["zero-gap", "negative-altitude"])
def test_bad_detector_settings_are_refused_by_name(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        FlightDetector(**kwargs)


# -- metrics (PostgreSQL + PostGIS) ----------------------------------------------------------

@pytest.fixture
def conn(db_conn: Connection) -> Connection:
    """The shared rolled-back connection (conftest): nothing stays in the database."""
    return db_conn


def store(conn: Connection, samples: list[TelemetrySample]) -> None:
    ensure_partitions(conn, samples[0].time, samples[-1].time)
    rows = [dict(zip(COLUMNS, (
        s.vehicle_id, s.time, ewkb_point(s.longitude, s.latitude), s.altitude_amsl,
        s.altitude_rel, s.heading_deg, s.ground_speed_mps, s.climb_rate_mps, s.battery_pct,
        s.voltage_v, s.current_a, s.mode, s.armed, s.landed_state, s.mission_id),
        strict=True)) for s in samples]
    values = ", ".join(
        "st_geomfromewkb(:position)" if c == "position" else f":{c}" for c in COLUMNS)
    conn.execute(text(f"insert into telemetry ({', '.join(COLUMNS)}) values ({values})"), rows)


GEOD = Geod(ellps="WGS84")


def straight_leg(vid: str, start: datetime, *, seconds: int = 100,
                 metres: float = 1000.0) -> list[TelemetrySample]:
    """1 Hz samples due north-east over ``metres`` at 20 V x 10 A, altitude rising then falling."""
    lon1, lat1 = 8.0, 47.0
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, 45.0, metres)
    out = []
    for i in range(seconds + 1):
        f = i / seconds
        out.append(TelemetrySample(
            vid, start + timedelta(seconds=i), lat1 + f * (lat2 - lat1),
            lon1 + f * (lon2 - lon1), altitude_rel=30.0 - abs(i - 40) * 0.25, voltage_v=20.0,
            current_a=10.0, armed=True, landed_state=AIR))
    return out


def test_metrics_of_a_known_straight_leg_match_independent_figures(conn: Connection) -> None:
    vid = f"flt-{uuid.uuid4().hex[:8]}"
    samples = straight_leg(vid, T0)
    store(conn, samples)
    m = compute_flight_metrics(conn, vid, samples[0].time, samples[-1].time)
    distance = sum(GEOD.inv(a.longitude, a.latitude, b.longitude, b.latitude)[2]
                   for a, b in itertools.pairwise(samples))
    assert distance == pytest.approx(1000.0, abs=0.05)
    assert m.samples == 101
    assert m.duration_s == pytest.approx(100.0)
    assert m.distance_m == pytest.approx(distance, abs=0.01)
    assert m.max_alt_rel_m == pytest.approx(30.0)
    assert m.energy_wh == pytest.approx(20.0 * 10.0 * 100.0 / 3600.0)  # 5.556 Wh
    assert m.energy_mah == pytest.approx(10.0 * 100.0 * 1000.0 / 3600.0)  # 277.8 mAh
    assert m.min_voltage_v == pytest.approx(20.0)
    assert m.max_current_a == pytest.approx(10.0)
    assert m.avg_speed_mps == pytest.approx(distance / 100.0, rel=1e-6)
    assert m.wh_per_km == pytest.approx((20000.0 / 3600.0) / (distance / 1000.0), rel=1e-6)
    row = conn.execute(text(
        "select st_npoints(path), st_astext(st_startpoint(path)), duration_s "
        "from flights where id = :id"), {"id": m.id}).one()
    assert row[0] == 101
    assert row[1] == "POINT(8 47)"
    assert row[2] == pytest.approx(100.0)


def test_energy_integrates_a_varying_load_by_trapezoids(conn: Connection) -> None:
    vid = f"flt-{uuid.uuid4().hex[:8]}"
    # Current ramps 0 → 20 A over 10 s at a constant 25 V: exactly 25 * 100 J and 100 A·s.
    samples = [TelemetrySample(vid, T0 + timedelta(seconds=i), 47.0, 8.0, voltage_v=25.0,
                               current_a=2.0 * i, armed=True, landed_state=AIR)
               for i in range(11)]
    store(conn, samples)
    m = compute_flight_metrics(conn, vid, samples[0].time, samples[-1].time)
    assert m.energy_wh == pytest.approx(2500.0 / 3600.0)
    assert m.energy_mah == pytest.approx(100.0 / 3.6)
    assert m.distance_m == 0.0
    assert m.wh_per_km is None
    assert m.max_current_a == pytest.approx(20.0)


def test_computing_a_flight_again_updates_its_one_row(conn: Connection) -> None:
    vid = f"flt-{uuid.uuid4().hex[:8]}"
    samples = straight_leg(vid, T0)
    store(conn, samples[:51])
    first = compute_flight_metrics(conn, vid, samples[0].time, samples[50].time)
    # Late samples (a spool replay) arrive; the flight is recomputed on demand.
    store(conn, samples[51:])
    conn.execute(text("update flights set ended_at = :e where id = :id"),
                 {"e": samples[-1].time, "id": first.id})
    again = recompute_flights(conn, vehicle_id=vid, since=T0 - timedelta(hours=1))
    assert [m.id for m in again] == [first.id]
    assert again[0].samples == 101
    assert again[0].distance_m == pytest.approx(2 * first.distance_m, rel=1e-3)
    count = conn.execute(text("select count(*) from flights where vehicle_id = :v"),
                         {"v": vid}).scalar_one()
    assert count == 1


def test_detection_over_stored_telemetry_finds_each_flight(conn: Connection) -> None:
    vid = f"flt-{uuid.uuid4().hex[:8]}"
    leg1 = straight_leg(vid, T0, seconds=60)
    leg2 = straight_leg(vid, T0 + timedelta(minutes=10), seconds=40, metres=500.0)
    ground = [TelemetrySample(vid, leg1[-1].time + timedelta(seconds=1), 47.0, 8.0,
                              armed=False, landed_state=GROUND)]
    store(conn, leg1 + ground + leg2)
    flights = detect_flights(conn, vid, T0 - timedelta(minutes=1), T0 + timedelta(hours=1))
    assert [(f.started_at, f.ended_at) for f in flights] == [
        (leg1[0].time, ground[0].time), (leg2[0].time, leg2[-1].time)]
    assert flights[1].distance_m == pytest.approx(500.0, abs=0.05)


def test_a_window_without_time_zone_is_refused(conn: Connection) -> None:
    with pytest.raises(InvalidArgumentError, match="started_at 2026-05-04T10:00:00 has no"):
        compute_flight_metrics(conn, "uav0", T0.replace(tzinfo=None), T0)
    with pytest.raises(InvalidArgumentError, match="is before started_at"):
        compute_flight_metrics(conn, "uav0", T0, T0 - timedelta(seconds=1))
