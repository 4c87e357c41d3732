"""Who flies what: pins, hand-backs, splits, legs, preemption, recurrences, wind, decisions."""

from __future__ import annotations

from dataclasses import replace
from typing import get_args

import pytest

from fleet_core.dispatch.dispatcher import (
    Assign,
    ChargeFirst,
    Decision,
    Fail,
    Preempt,
    Split,
    Start,
)
from fleet_core.dispatch.errors import DispatchError
from fleet_core.dispatch.state import MissionState
from fleet_core.execution.model import FlyMission, ReturnHome
from fleet_core.execution.runs import NEXT_LEG_PCT, Effect, PlanStarted
from fleet_core.execution.trips import TripState
from fleet_core.fleet.model import Liveness, OperatingStatus
from fleet_core.geo import haversine_m
from fleet_core.planning import MissionPlan, PlanningError, WaypointKind, split_survey

from .helpers import (
    STATION,
    Autopilot,
    Fleet,
    emergency_spec,
    fleet,
    of_type,
    patrol_spec,
    survey_spec,
    upload,
)

S = MissionState


# ---------------------------------------------------------------------------- pins
def test_a_mission_pinned_to_a_vehicle_goes_to_it_though_another_is_nearer() -> None:
    f = fleet({"uav0": (40.0, 0.0), "uav1": (-40.0, 0.0)})
    mid = f.submit(survey_spec(size=40.0, east=60.0), vehicle_id="uav1")
    effects = f.tick()
    assert [e.vehicle_id for e in of_type(effects, FlyMission)] == ["uav1"]
    record = f.executor.dispatcher.get(mid)
    assert (record.vehicle_id, record.pinned_vehicle_id) == ("uav1", "uav1")
    unpinned = f.submit(survey_spec(size=40.0, east=60.0))
    assert [e.vehicle_id for e in of_type(f.tick(), FlyMission)] == ["uav0"]
    assert f.executor.dispatcher.get(unpinned).vehicle_id == "uav0"


def test_a_mission_pinned_to_a_bad_vehicle_id_is_refused() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    _, refused = f.executor.submit("", survey_spec(), priority=5, vehicle_id="uav 1",
                                   created_by="test")
    assert "pinned vehicle id" in refused


# ---------------------------------------------------------------------------- hand-backs
def survey_under_way() -> tuple[Fleet, str, str, str]:
    """Two vehicles; a survey flown by one of them past its third item.

    Returns the fleet, the mission, the vehicle flying it and the other one.
    """
    f = fleet({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0)})
    mid = f.submit(survey_spec(size=80.0))
    [fly] = of_type(f.tick(), FlyMission)
    f.drive(fly.vehicle_id)
    Autopilot(f).fly(fly, last=3)
    other = {"uav0": "uav1", "uav1": "uav0"}[fly.vehicle_id]
    return f, mid, fly.vehicle_id, other


def resumes_at(f: Fleet, mid: str, plan: MissionPlan) -> int:
    """The reference waypoint a remainder plan's first work waypoint is (within a metre)."""
    reference = f.executor.missions[mid].reference
    assert reference is not None
    first = next(w for w in plan.waypoints if w.kind is not WaypointKind.TAKEOFF)
    [index] = [i for i, w in enumerate(reference.waypoints)
               if w.kind is first.kind and haversine_m(w.position, first.position) < 1.0]
    return index


def finished_by_the_other(f: Fleet, mid: str, gone: str, other: str, *, why: str,
                          effects: list[Effect]) -> None:
    """The mission went back to the queue and ``other`` flew the rest, not from scratch.

    ``effects`` are those of the tick that noticed ``gone`` could no longer fly.
    """
    record = f.executor.dispatcher.get(mid)
    reached = record.last_reached_index
    handed = [s for s in record.history if s.to_state is S.QUEUED and gone in s.reason]
    assert [s.reason for s in handed] == [f"vehicle {gone} {why}"]
    assert f.executor.run_of(gone) is None
    fly = upload(effects, other)
    [started] = of_type(effects, PlanStarted)
    assert started.vehicle_id == other
    assert record.resume_from_index == reached + 1
    run = f.executor.run_of(other)
    assert run is not None
    # The remainder plan takes off where ``other`` is, then picks up at the next waypoint.
    assert run.plan.waypoints[0].kind is WaypointKind.TAKEOFF
    assert resumes_at(f, mid, run.plan) == reached + 1
    assert run.to_reference[0] is None
    assert next(i for i in run.to_reference if i is not None) == reached + 1
    f.drive(other)
    assert f.state(mid) is S.ACTIVE
    current: list[int] = []
    Autopilot(f).fly(fly, on_reached=lambda _seq: current.append(
        f.executor.progress(mid, record).current))
    assert min(current) >= reached  # not flown from scratch
    assert f.state(mid) is S.COMPLETED


def test_a_vehicle_lost_mid_mission_hands_the_rest_to_another_vehicle() -> None:
    f, mid, gone, other = survey_under_way()
    f.vehicle(gone).liveness = Liveness.LOST
    effects = f.tick()
    assert f"{gone} lost: mission {mid} goes back to the queue" in f.warnings
    assert ReturnHome(gone) not in effects  # nobody hears it
    finished_by_the_other(f, mid, gone, other, why="lost", effects=effects)


def test_the_rest_flown_by_another_vehicle_moves_the_missions_progress_on() -> None:
    f, mid, gone, other = survey_under_way()
    record = f.executor.dispatcher.get(mid)
    reached = record.last_reached_index
    f.vehicle(gone).liveness = Liveness.LOST
    fly = upload(f.tick(), other)
    f.drive(other)
    Autopilot(f).fly(fly, last=3)  # take-off, then two survey waypoints of the remainder
    # Were it handed back again now, it would resume here, not where ``gone`` stopped.
    assert record.last_reached_index > reached


def test_a_vehicle_gone_offline_mid_mission_counts_as_lost() -> None:
    f, mid, gone, other = survey_under_way()
    f.vehicle(gone).status = OperatingStatus.OFFLINE
    finished_by_the_other(f, mid, gone, other, why="lost", effects=f.tick())


def test_a_vehicle_put_in_maintenance_mid_mission_goes_home_and_another_finishes() -> None:
    f, mid, gone, other = survey_under_way()
    f.vehicle(gone).status = OperatingStatus.MAINTENANCE
    effects = f.tick()
    assert effects[0] == ReturnHome(gone)
    finished_by_the_other(f, mid, gone, other, why="maintenance", effects=effects)


def test_a_vehicle_at_critical_battery_gives_its_mission_back_without_being_sent_home() -> None:
    f, mid, gone, other = survey_under_way()
    f.vehicle(gone).battery_pct = 15.0  # fleet_manager sends it home itself
    effects = f.tick()
    assert ReturnHome(gone) not in effects
    finished_by_the_other(f, mid, gone, other, why="critical_battery", effects=effects)


# ---------------------------------------------------------------------------- big missions
def test_a_survey_too_big_for_one_battery_is_split_among_two_vehicles() -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0)}, capacity_wh=40.0)
    mid = f.submit(survey_spec(size=200.0, east=20.0))
    record = f.executor.dispatcher.get(mid)
    assert record.demand.energy_wh + record.demand.reserve_wh > 40.0  # queued whole
    effects = f.tick()
    assert "split into 2 parts" in record.history[-1].reason
    flights = of_type(effects, FlyMission)
    assert {e.vehicle_id for e in flights} == {"uav0", "uav1"}
    parts = {e.mission_id for e in of_type(effects, PlanStarted)}
    assert parts == set(record.children)
    whole = f.executor.missions[mid].request
    for part in parts:
        entry = f.executor.missions[part]
        assert entry.kind == "survey"
        assert entry.request.area != whole.area  # its share, not the whole area
    for fly in flights:
        f.drive(fly.vehicle_id)
    assert f.state(mid) is S.ACTIVE
    pilot = Autopilot(f)
    for fly in flights:
        pilot.fly(fly)
    assert f.state(mid) is S.COMPLETED
    assert record.history[-1].reason == "all parts completed"
    assert all(f.state(p) is S.COMPLETED for p in record.children)


def test_a_patrol_longer_than_one_battery_is_flown_in_legs_charging_between_them() -> None:
    f = fleet({"uav0": (0.0, 0.0)}, capacity_wh=25.0, max_range_m=1500.0,
              stations=[STATION])
    mid = f.submit(patrol_spec([(0.0, 100.0), (400.0, 100.0)], repeat=2))
    fly = upload(f.tick(), "uav0")
    f.drive("uav0")
    reference = f.executor.missions[mid].reference
    assert reference is not None
    assert len(reference.legs) >= 2
    assert reference.distance_m > 1500.0
    v = f.vehicle("uav0")
    pilot = Autopilot(f)
    for leg in range(1, len(reference.legs)):
        pilot.fly(fly)
        run = f.executor.run_of("uav0")
        assert run is not None
        assert (run.leg, run.leg_done) == (leg - 1, True)  # landed at the station
        assert f.state(mid) is S.ACTIVE
        v.battery_pct = 10.0  # below critical while charging: no hand-back
        assert of_type(f.tick(), FlyMission) == []
        v.battery_pct = NEXT_LEG_PCT - 1.0
        assert of_type(f.tick(), FlyMission) == []
        v.battery_pct = NEXT_LEG_PCT
        fly = upload(f.tick(), "uav0")
        assert (run.leg, run.leg_done) == (leg, False)
    pilot.fly(fly)
    assert f.state(mid) is S.COMPLETED
    assert f.executor.reason(mid) == "all waypoints reached"
    assert f.executor.missions[mid].flown_m > 1500.0


def test_an_emergency_preempts_a_survey_which_resumes_afterwards_where_it_stopped() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    survey = f.submit(survey_spec(size=80.0), priority=3)
    fly = upload(f.tick(), "uav0")
    f.drive("uav0")
    Autopilot(f).fly(fly, last=3)
    record = f.executor.dispatcher.get(survey)
    reached = record.last_reached_index
    emergency = f.submit(emergency_spec(-30.0, 40.0), priority=10)
    effects = f.tick()
    assert f.state(survey) is S.QUEUED
    assert record.history[-1].reason == f"preempted by {emergency}"
    assert [e.mission_id for e in of_type(effects, PlanStarted)] == [emergency]
    assert f.executor.run_of("uav0").mission_id == emergency  # type: ignore[union-attr]
    f.drive("uav0")
    Autopilot(f).fly(upload(effects, "uav0"))
    assert f.state(emergency) is S.COMPLETED
    effects = f.tick()
    assert [e.mission_id for e in of_type(effects, PlanStarted)] == [survey]
    run = f.executor.run_of("uav0")
    assert run is not None
    assert resumes_at(f, survey, run.plan) == reached + 1
    f.drive("uav0")
    Autopilot(f).fly(upload(effects, "uav0"))
    assert f.state(survey) is S.COMPLETED


# ---------------------------------------------------------------------------- recurrences
def test_a_recurring_mission_spawns_one_mission_per_occurrence_until_canceled() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    spec = emergency_spec(20.0, 20.0, hover_s=1.0, altitude_m=15.0)
    tid, next_at = f.executor.add_recurring("check", spec, recurrence="every 3 seconds",
                                            priority=5, vehicle_id="uav0",
                                            created_by="test")
    assert tid == "check"
    assert f.clock() < next_at <= f.clock() + 3.0
    f.clock.t = next_at
    effects = f.tick()
    spawned = [m for m in f.executor.missions if m.startswith("check@")]
    assert len(spawned) == 1
    record = f.executor.dispatcher.get(spawned[0])
    assert (record.kind.value, record.created_by, record.pinned_vehicle_id) == (
        "emergency", "test", "uav0")
    assert f.state(spawned[0]) is S.ASSIGNED  # dispatched, not only listed
    assert upload(effects, "uav0")
    f.clock.advance(3.0)
    f.tick()
    assert len([m for m in f.executor.missions if m.startswith("check@")]) == 2
    ok, message = f.executor.cancel_recurring("check")
    assert ok
    assert "check will not recur" in message
    f.clock.advance(30.0)
    f.tick()
    assert len([m for m in f.executor.missions if m.startswith("check@")]) == 2
    with pytest.raises(DispatchError, match="check"):
        f.executor.cancel_recurring("check")


@pytest.mark.parametrize(("recurrence", "vehicle_id", "named"), [
    ("every 0 minutes", None, "interval must be > 0"),
    ("every 3 seconds", "uav 0", "pinned vehicle id"),
])
def test_a_bad_recurring_mission_is_refused_naming_the_problem(
        recurrence: str, vehicle_id: str | None, named: str) -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    with pytest.raises((DispatchError, ValueError), match=named):
        f.executor.add_recurring("check", emergency_spec(20.0, 20.0), recurrence=recurrence,
                                 priority=5, vehicle_id=vehicle_id, created_by="test")
    assert f.executor.templates == {}


@pytest.mark.parametrize("tid", ["check", "a/b", "a@b"])
def test_a_recurring_template_id_used_or_with_a_separator_is_refused(tid: str) -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    f.executor.add_recurring("check", emergency_spec(20.0, 20.0), recurrence="every 1 hours",
                             priority=5, vehicle_id=None, created_by="test")
    with pytest.raises(ValueError, match=tid):
        f.executor.add_recurring(tid, emergency_spec(20.0, 20.0), recurrence="every 1 hours",
                                 priority=5, vehicle_id=None, created_by="test")


# ---------------------------------------------------------------------------- wind
def test_missions_are_refused_while_the_reported_wind_is_above_the_limit() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    assert f.planning.observe_wind(20.0, 270.0, f.clock()) == ""
    with pytest.raises(PlanningError, match=r"wind 20\.0 m/s exceeds"):
        f.executor.preview(survey_spec(), None)
    _, refused = f.executor.submit("", survey_spec(), priority=5, vehicle_id=None,
                                   created_by="test")
    assert "wind 20.0 m/s exceeds" in refused
    f.planning.observe_wind(2.0, 90.0, f.clock())
    assert f.executor.preview(survey_spec(), None).waypoints


def test_a_storm_after_queueing_keeps_the_mission_waiting_until_the_wind_drops() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    f.planning.observe_wind(3.0, 270.0, f.clock())
    mid = f.submit(survey_spec(not_before=f.clock() + 2.0))  # accepted in calm air
    f.planning.observe_wind(20.0, 270.0, f.clock())
    f.clock.advance(3.0)
    assert f.tick() == []
    assert f.state(mid) is S.QUEUED
    assert f.executor.reason(mid) == "no free vehicle; 1 grounded by wind 20.0 m/s"
    f.planning.observe_wind(2.0, 90.0, f.clock())
    fly = upload(f.tick(), "uav0")
    f.drive("uav0")
    Autopilot(f).fly(fly)
    assert f.state(mid) is S.COMPLETED
    assert f.executor.reason(mid) == "all waypoints reached"


def test_a_wind_report_older_than_wind_max_age_is_ignored() -> None:
    f = fleet({"uav0": (0.0, 0.0)}, planner={"wind_max_age_s": 60.0})
    f.planning.observe_wind(20.0, 270.0, f.clock())
    f.clock.advance(61.0)
    assert f.planning.current_wind(f.clock()) is None
    assert f.planning.grounded_by_wind(f.clock()) == {}
    f.submit(survey_spec())
    assert upload(f.tick(), "uav0")


def test_a_vehicle_with_its_own_wind_limit_flies_in_wind_that_grounds_the_others() -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0)})
    v = f.vehicle("uav1")
    v.spec = f.planning.specs["uav1"] = replace(v.spec, max_wind_mps=25.0)
    f.planning.observe_wind(20.0, 270.0, f.clock())
    assert f.planning.grounded_by_wind(f.clock()) == {"uav0": "by wind 20.0 m/s"}
    f.submit(survey_spec(), vehicle_id="uav1")
    assert upload(f.tick(), "uav1")


# ---------------------------------------------------------------------------- decisions
def test_apply_knows_every_kind_of_decision() -> None:
    # A new kind of decision needs a test below and a case in MissionExecutor.apply.
    assert set(get_args(Decision)) == {Assign, Preempt, ChargeFirst, Split, Fail, Start}


def test_apply_assign_plans_the_mission_for_the_vehicle_and_uploads_it() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    f.executor.apply(Assign(mid, "uav0", 0, 1.0))
    fly, started = f.executor.drain()
    assert isinstance(fly, FlyMission)
    assert fly.vehicle_id == "uav0"
    reference = f.executor.missions[mid].reference
    assert reference is not None
    assert started == PlanStarted(mid, "uav0", reference)


def test_apply_assign_fails_a_mission_that_cannot_be_planned_for_the_vehicle() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    f.tick()
    f.executor.runs.clear()
    f.vehicle("uav0").battery_pct = 1.0
    f.executor.apply(Assign(mid, "uav0", 0, 1.0))
    assert f.executor.drain() == []
    assert f.state(mid) is S.FAILED
    assert f.executor.reason(mid).startswith("cannot plan for uav0: ")


def test_apply_assign_refuses_a_vehicle_without_a_position() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    f.vehicle("uav0").position = None
    with pytest.raises(ValueError, match="uav0 has no position"):
        f.executor.apply(Assign(mid, "uav0", 0, 1.0))


def test_apply_preempt_drops_the_victims_run_and_flies_the_other_mission() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    victim = f.submit(survey_spec(), priority=3)
    f.tick()
    urgent = f.submit(emergency_spec(-30.0, 40.0), priority=10)
    f.executor.apply(Preempt(victim, "uav0", urgent, 0))
    assert victim not in f.executor.runs
    assert f.executor.run_of("uav0").mission_id == urgent  # type: ignore[union-attr]
    assert [type(e) for e in f.executor.drain()] == [FlyMission, PlanStarted]


def test_apply_charge_first_sends_the_reserved_vehicle_to_charge_at_least_to_90() -> None:
    f = fleet({"uav0": (0.0, 0.0)}, battery_pct=50.0, stations=[STATION])
    mid = f.submit(survey_spec())
    f.executor.apply(ChargeFirst("uav0", mid, 60.0))
    trip = f.executor.trips.trips["uav0"]
    assert (trip.for_mission, trip.target_pct, trip.state) == (mid, 90.0, TripState.QUEUED)
    f.executor.apply(ChargeFirst("uav0", mid, 99.0))  # already going: not asked twice
    assert f.executor.trips.trips["uav0"] is trip


def test_apply_split_gives_each_part_its_share_of_the_survey() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec(size=200.0, east=20.0))
    parent = f.executor.missions[mid]
    parent.part_requests = split_survey(parent.request, 2)
    f.executor.apply(Split(mid, (f"{mid}/1", f"{mid}/2")))
    parts = [f.executor.missions[f"{mid}/{i}"] for i in (1, 2)]
    assert [p.request for p in parts] == parent.part_requests
    assert [p.kind for p in parts] == ["survey", "survey"]
    assert f.executor.drain() == []


def test_apply_fail_records_the_reason_and_sends_a_flying_vehicle_home() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    flying = f.submit(survey_spec())
    f.tick()
    waiting = f.submit(survey_spec())
    f.executor.apply(Fail(flying, "uav0", "pause timed out"))
    f.executor.apply(Fail(waiting, None, "deadline passed"))
    assert f.executor.drain() == [ReturnHome("uav0")]
    assert f.executor.runs == {}
    assert (f.executor.reason(flying), f.executor.reason(waiting)) == (
        "pause timed out", "deadline passed")


def test_apply_start_does_nothing_the_next_tick_assigns_the_mission() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec(not_before=f.clock() + 3600.0))
    f.executor.apply(Start(mid))
    assert f.executor.drain() == []
    assert f.executor.runs == {}
    assert f.state(mid) is S.PLANNED


def test_a_decision_that_cannot_be_carried_out_is_warned_about_and_the_tick_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0)})
    f.submit(survey_spec(), mission_id="m-1")
    f.submit(survey_spec(), mission_id="m-2")
    start_run = f.executor.start_run

    def failing_for_m1(mid: str, vehicle_id: str, resume_from: int) -> None:
        if mid == "m-1":
            raise ValueError(f"{vehicle_id} has no position to plan {mid} from")
        start_run(mid, vehicle_id, resume_from)

    monkeypatch.setattr(f.executor, "start_run", failing_for_m1)
    effects = f.tick()
    [warning] = f.warnings
    assert warning.startswith("Assign(mission_id='m-1'")
    assert "has no position to plan m-1 from" in warning
    assert [e.mission_id for e in of_type(effects, PlanStarted)] == ["m-2"]
