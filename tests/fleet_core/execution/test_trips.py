"""Charging trips: queued for a pad, flown to it, charged, sent home or on to a mission."""

from __future__ import annotations

import math

import pytest

from fleet_core.charging.model import Urgency
from fleet_core.dispatch.state import MissionState
from fleet_core.execution.model import FlyMission, Operation
from fleet_core.execution.runs import CHARGE_FIRST_PCT, PlanStarted
from fleet_core.execution.trips import (
    HOP_ALTITUDE_M,
    SessionChanged,
    TripEnded,
    TripState,
    hop,
)
from fleet_core.geo import GeoPoint, haversine_m
from fleet_core.mavlink import MavCmd

from .helpers import PAD, STATION, Autopilot, Fleet, at, fleet, of_type, survey_spec, upload

S = MissionState


def charging(vehicles: dict[str, tuple[float, float]], **kw: object) -> Fleet:
    """A fleet with the one-pad station 40 m west of HOME."""
    return fleet(vehicles, stations=[STATION], **kw)  # type: ignore[arg-type]


def land_on_the_pad(f: Fleet, vehicle_id: str) -> None:
    """The vehicle flew its hop: it sits disarmed on the pad."""
    v = f.vehicle(vehicle_id)
    v.position, v.landed, v.armed = PAD, True, False


def test_a_requested_vehicle_hops_to_the_pad_charges_and_hops_home() -> None:
    f = charging({"uav0": (0.0, 0.0)}, battery_pct=50.0)
    assert f.executor.request_charge("uav0", 80.0, Urgency.NORMAL) == ""
    trip = f.executor.trips.trips["uav0"]
    assert f.trip_state("uav0") is TripState.QUEUED
    assert "uav0" in f.executor.trips.busy_vehicles()
    fly = upload(f.tick(), "uav0")
    assert (trip.state, trip.station_id, trip.pad) == (TripState.FLYING_TO_PAD, "pad_a", 0)
    assert fly == FlyMission("uav0", hop(at(0.0), PAD))
    assert f.tick() == []  # still flying
    land_on_the_pad(f, "uav0")
    [started] = f.tick()
    assert isinstance(started, SessionChanged)
    assert f.trip_state("uav0") is TripState.CHARGING
    assert (started.session.ended_at, started.session.start_pct) == (None, 50.0)
    f.vehicle("uav0").battery_pct = 79.0
    f.clock.advance(60.0)
    assert f.tick() == []
    f.vehicle("uav0").battery_pct = 80.0
    f.clock.advance(10.0)
    ended, over, home = f.tick()
    assert isinstance(ended, SessionChanged)
    assert ended.session.ended_at == f.clock()
    assert ended.session.completed
    assert ended.session.energy_wh == pytest.approx(0.3 * 222.0)
    assert isinstance(over, TripEnded)
    assert (over.trip.reason, over.warning) == ("charged", "")
    assert over.trip.session == ended.session
    assert home == FlyMission("uav0", hop(PAD, at(0.0)))
    assert f.executor.trips.trips == {}
    assert f.executor.trips.busy_vehicles() == frozenset()


def test_a_hop_takes_off_flies_over_the_target_and_lands_on_it() -> None:
    here, there = at(0.0), PAD
    takeoff, over, land = hop(here, there)
    assert [i.command for i in (takeoff, over, land)] == [
        MavCmd.NAV_TAKEOFF, MavCmd.NAV_WAYPOINT, MavCmd.NAV_LAND]
    assert (takeoff.x_lat, takeoff.y_long, takeoff.is_current) == (
        here.latitude, here.longitude, True)
    assert (over.x_lat, over.y_long, over.z_alt) == (
        there.latitude, there.longitude, HOP_ALTITUDE_M)
    assert (land.x_lat, land.y_long, land.z_alt) == (there.latitude, there.longitude, 0.0)


def test_a_vehicle_already_on_the_pad_starts_charging_without_a_hop() -> None:
    f = charging({"uav0": (-40.0, 0.0)}, battery_pct=50.0)
    f.executor.request_charge("uav0", 80.0, Urgency.NORMAL)
    [started] = f.tick()
    assert isinstance(started, SessionChanged)
    assert f.trip_state("uav0") is TripState.CHARGING


def test_a_vehicle_charged_at_home_is_not_flown_home() -> None:
    f = charging({"uav0": (-40.0, 0.0)}, battery_pct=50.0)
    f.executor.request_charge("uav0", 60.0, Urgency.NORMAL)
    f.tick()
    f.vehicle("uav0").battery_pct = 60.0
    effects = f.tick()
    assert [type(e) for e in effects] == [SessionChanged, TripEnded]


def test_three_vehicles_contending_for_one_pad_are_served_lowest_battery_first() -> None:
    batteries = {"uav0": 70.0, "uav1": 50.0, "uav2": 60.0, "blocker": 80.0}
    f = charging({vid: (0.0, 10.0 * i) for i, vid in enumerate(batteries)})
    for vid, pct in batteries.items():
        f.vehicle(vid).battery_pct = pct
    sessions: list[SessionChanged] = []
    ended: dict[str, TripEnded] = {}

    def tick() -> None:
        """Tick; the vehicles land on the pad as soon as sent and charge by the next tick."""
        f.clock.advance(5.0)
        effects = f.tick()
        for fly in of_type(effects, FlyMission):
            if fly.items[-1].x_lat == PAD.latitude:  # the hop to the pad, not home
                land_on_the_pad(f, fly.vehicle_id)
        sessions.extend(of_type(effects, SessionChanged))
        ended.update({e.trip.vehicle_id: e for e in of_type(effects, TripEnded)})
        for s in of_type(effects, SessionChanged):
            if s.session.ended_at is None:
                f.vehicle(s.trip.vehicle_id).battery_pct = s.trip.target_pct

    # The blocker takes the only pad first; the other three queue behind it.
    assert f.executor.request_charge("blocker", 88.0, Urgency.NORMAL) == ""
    tick()
    for vid in ("uav0", "uav1", "uav2"):
        assert f.executor.request_charge(vid, batteries[vid] + 8.0, Urgency.NORMAL) == ""
    positions = {vid: f.executor.trips.progress(vid, f.clock()) for vid in batteries}
    assert {vid: p.queue_position for vid, p in positions.items() if p} == {
        "blocker": 0, "uav1": 1, "uav2": 2, "uav0": 3}
    for _ in range(20):
        tick()
    started = [s.trip.vehicle_id for s in sessions if s.session.ended_at is None]
    finished = [s.trip.vehicle_id for s in sessions if s.session.ended_at is not None]
    assert started == finished == ["blocker", "uav1", "uav2", "uav0"]
    for vid, e in ended.items():
        assert e.trip.session is not None
        assert e.trip.session.completed, vid
        assert e.trip.session.end_pct >= batteries[vid] + 8.0
        assert e.trip.station_id == "pad_a"
    waits = {vid: e.trip.session.queue_wait_s for vid, e in ended.items()
             if e.trip.session is not None}
    assert waits["uav0"] > waits["uav2"] > waits["uav1"]


def test_the_queue_rows_list_the_waiting_in_order_then_the_rest() -> None:
    f = charging({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0), "uav2": (0.0, 20.0)},
                 battery_pct=60.0)
    f.vehicle("uav1").battery_pct = 40.0
    for vid in ("uav0", "uav1", "uav2"):
        f.executor.request_charge(vid, 90.0, Urgency.NORMAL)
    f.tick()  # uav1, the lowest, gets the pad
    rows = f.executor.trips.rows(f.clock())
    assert [(r.vehicle_id, r.state, r.queue_position) for r in rows] == [
        ("uav0", TripState.QUEUED, 1), ("uav2", TripState.QUEUED, 2),
        ("uav1", TripState.FLYING_TO_PAD, 0)]
    assert rows[0].estimated_wait_s > 0.0
    assert rows[2].pad == 0
    assert math.isfinite(rows[2].time_to_full_s)
    p = f.executor.trips.progress("uav2", f.clock())
    assert p is not None
    assert (p.state, p.queue_position, p.battery_pct) == (TripState.QUEUED, 2, 60.0)
    assert f.executor.trips.progress("uav9", f.clock()) is None


def test_the_queue_is_shown_again_on_a_change_and_every_second_while_busy() -> None:
    f = charging({"uav0": (0.0, 0.0)}, battery_pct=50.0)
    trips = f.executor.trips
    assert trips.rows_to_show(f.clock()) == []
    assert trips.rows_to_show(f.clock() + 5.0) is None  # empty and unchanged
    f.executor.request_charge("uav0", 80.0, Urgency.NORMAL)
    assert [r.vehicle_id for r in trips.rows_to_show(f.clock()) or []] == ["uav0"]
    assert trips.rows_to_show(f.clock() + 0.5) is None
    assert trips.rows_to_show(f.clock() + 1.0) is not None  # the waits count down


@pytest.mark.parametrize(("vehicle", "why"), [
    ("uav9", "vehicle 'uav9' is not in the fleet picture"),
    ("blind", "vehicle 'blind' has reported no position or battery level yet"),
    ("uav0", "vehicle 'uav0' already has a charging request"),
])
def test_a_charge_request_the_fleet_picture_cannot_serve_is_refused(vehicle: str,
                                                                    why: str) -> None:
    f = charging({"uav0": (0.0, 0.0)}, battery_pct=50.0)
    f.planning.vehicle("blind")
    f.executor.request_charge("uav0", 80.0, Urgency.NORMAL)
    assert f.executor.request_charge(vehicle, 80.0, Urgency.NORMAL) == why


def test_a_charge_request_without_a_station_is_refused() -> None:
    f = fleet({"uav0": (0.0, 0.0)}, battery_pct=50.0)
    assert f.executor.request_charge("uav0", 80.0, Urgency.NORMAL) == \
        "vehicle 'uav0': no charging station is configured"
    assert f.executor.trips.trips == {}


def test_a_normal_charge_request_leaves_a_flying_vehicle_to_its_mission() -> None:
    f = charging({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    f.tick()
    assert f.executor.request_charge("uav0", 90.0, Urgency.NORMAL) == \
        f"vehicle 'uav0' is flying mission {mid}"
    assert f.state(mid) is S.ASSIGNED


def test_a_critical_charge_request_takes_a_flying_vehicle_off_its_mission() -> None:
    f = charging({"uav0": (0.0, 0.0)}, battery_pct=50.0)
    mid = f.submit(survey_spec())
    f.tick()
    f.drive("uav0")
    assert f.executor.request_charge("uav0", 90.0, Urgency.CRITICAL) == ""
    record = f.executor.dispatcher.get(mid)
    assert f.state(mid) is S.QUEUED
    assert record.history[-1].reason == "uav0 needs charging"
    assert f.executor.run_of("uav0") is None
    effects = f.tick()
    assert upload(effects, "uav0").items[-1].x_lat == PAD.latitude  # to the pad
    assert of_type(effects, PlanStarted) == []  # busy at the pad: the mission waits


def test_a_refused_hop_to_the_pad_ends_the_trip_with_the_reason() -> None:
    f = charging({"uav0": (0.0, 0.0)}, battery_pct=50.0)
    f.executor.request_charge("uav0", 80.0, Urgency.NORMAL)
    f.tick()
    [over] = f.drive("uav0", ok=False, detail="arming: denied")
    assert isinstance(over, TripEnded)
    assert over.trip.reason == "flight to the pad refused: arming: denied"
    assert over.trip.session is None
    assert f.executor.trips.trips == {}
    assert f.executor.trips.busy_vehicles() == frozenset()
    assert f.executor.trips.queue.free_pads() == 1


def test_a_hop_that_went_well_changes_nothing() -> None:
    f = charging({"uav0": (0.0, 0.0)}, battery_pct=50.0)
    f.executor.request_charge("uav0", 80.0, Urgency.NORMAL)
    f.tick()
    assert f.drive("uav0") == []
    assert f.drive("uav0", Operation.RETURN_HOME, ok=False, detail="timeout") == []
    assert f.trip_state("uav0") is TripState.FLYING_TO_PAD
    assert f.warnings == ["uav0 return_home: timeout"]


def test_a_canceled_wait_leaves_the_queue_with_no_session() -> None:
    f = charging({"uav0": (0.0, 0.0)}, battery_pct=50.0)
    f.executor.request_charge("uav0", 80.0, Urgency.NORMAL)
    f.executor.finish_charge("uav0", success=False, reason="canceled")
    [over] = f.executor.drain()
    assert isinstance(over, TripEnded)
    assert (over.trip.reason, over.trip.session, over.warning) == ("canceled", None, "")
    assert f.executor.trips.busy_vehicles() == frozenset()
    f.executor.finish_charge("uav0", success=False, reason="again")
    assert f.executor.drain() == []


def test_a_charge_canceled_on_the_pad_closes_an_incomplete_session_and_stays() -> None:
    f = charging({"uav0": (-40.0, 0.0)}, battery_pct=50.0)
    f.executor.request_charge("uav0", 80.0, Urgency.NORMAL)
    f.tick()
    f.vehicle("uav0").battery_pct = 60.0
    f.executor.finish_charge("uav0", success=False, reason="canceled")
    ended, over = f.executor.drain()
    assert isinstance(ended, SessionChanged)
    assert (ended.session.completed, ended.session.end_pct) == (False, 60.0)
    assert isinstance(over, TripEnded)
    assert over.trip.reason == "canceled"


def test_a_mission_needing_more_than_the_battery_holds_charges_the_vehicle_first() -> None:
    f = charging({"uav0": (0.0, 0.0)}, battery_pct=25.0)
    mid = f.submit(survey_spec(size=200.0, east=20.0))
    effects = f.tick()
    assert f.executor.reason(mid) == "waiting for uav0 to charge"
    trip = f.executor.trips.trips["uav0"]
    assert trip.for_mission == mid
    assert trip.target_pct >= CHARGE_FIRST_PCT
    Autopilot(f).fly(upload(effects, "uav0"))  # the hop to the pad
    f.vehicle("uav0").battery_pct = trip.target_pct
    ended = f.tick()
    assert [type(e) for e in ended] == [SessionChanged, TripEnded]  # no hop home
    # The next tick gives the charged vehicle its mission, from the pad.
    effects = f.tick()
    assert [e.mission_id for e in of_type(effects, PlanStarted)] == [mid]
    assert upload(effects, "uav0").items[0].command == MavCmd.NAV_TAKEOFF
    start = upload(effects, "uav0").items[0]
    assert haversine_m(GeoPoint(start.x_lat, start.y_long), PAD) < 0.5
