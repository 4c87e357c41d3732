"""A mission from submission to completion: planned, uploaded, started, flown, settled."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest

from fleet_core.dispatch.state import MissionState
from fleet_core.execution.model import FlyMission, Operation, ReturnHome
from fleet_core.execution.runs import (
    GLITCH_M,
    SET_ASIDE_S,
    Control,
    PlanStarted,
    Progress,
    map_remainder,
    waypoint_items,
)
from fleet_core.geo import haversine_m
from fleet_core.mavlink import MavCmd
from fleet_core.planning import Waypoint, WaypointKind, plan_remainder

from .helpers import Autopilot, at, emergency_spec, fleet, of_type, survey_spec, upload

S = MissionState


def test_a_survey_is_planned_uploaded_and_started_by_the_drive_result() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    assert f.executor.record(mid) is not None
    effects = f.tick()
    fly = upload(effects, "uav0")
    [started] = of_type(effects, PlanStarted)
    assert (started.mission_id, started.vehicle_id) == (mid, "uav0")
    assert len(started.plan.waypoints) >= 4
    assert fly.items[0].command == MavCmd.NAV_TAKEOFF
    assert f.state(mid) is S.ASSIGNED
    f.drive("uav0")
    assert f.state(mid) is S.ACTIVE
    run = f.executor.run_of("uav0")
    assert run is not None
    assert run.started


def test_a_survey_flown_through_its_last_item_completes_with_progress_reaching_100() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    fly = upload(f.tick(), "uav0")
    f.drive("uav0")
    progress: list[float] = []

    def watch(_seq: int) -> None:
        progress.append(f.executor.progress(mid, f.executor.dispatcher.get(mid)).pct)

    Autopilot(f).fly(fly, on_reached=watch)
    record = f.executor.dispatcher.get(mid)
    assert f.state(mid) is S.COMPLETED
    assert f.executor.reason(mid) == "all waypoints reached"
    assert progress == sorted(progress)
    assert progress[-1] == pytest.approx(100.0)
    assert [s.to_state for s in record.history] == [S.QUEUED, S.ASSIGNED, S.ACTIVE,
                                                    S.COMPLETED]
    assert f.executor.missions[mid].flown_m > 150.0  # survey lines of 60 m, plus transits
    assert f.executor.run_of("uav0") is None
    assert f.executor.settle() == [mid]
    assert f.executor.missions[mid].ended_at == f.clock()
    assert f.executor.settle() == []  # closed once


def test_progress_counts_the_distance_left_from_the_vehicle_and_an_eta_at_the_speed() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    fly = upload(f.tick(), "uav0")
    f.drive("uav0")
    before = f.executor.progress(mid, f.executor.dispatcher.get(mid))
    Autopilot(f).fly(fly, last=3)
    after = f.executor.progress(mid, f.executor.dispatcher.get(mid))
    reference = f.executor.missions[mid].reference
    assert reference is not None
    assert before.count == after.count == len(reference.waypoints)
    assert (before.pct, before.current) == (0.0, -1)
    assert 0.0 < after.pct < 100.0
    assert 0.0 < after.remaining_m < before.remaining_m
    assert after.eta_s == pytest.approx(after.remaining_m / 8.0)  # the request's speed


def test_flown_distance_accumulates_but_a_jump_longer_than_a_glitch_is_not_counted() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    f.tick()
    f.drive("uav0")
    v = f.vehicle("uav0")
    v.position = at(30.0)
    f.tick()
    assert f.executor.missions[mid].flown_m == pytest.approx(30.0, abs=0.5)
    v.position = at(30.0 + GLITCH_M + 100.0)
    f.tick()
    assert f.executor.missions[mid].flown_m == pytest.approx(30.0, abs=0.5)
    v.position = at(30.0 + GLITCH_M + 140.0)
    f.tick()
    assert f.executor.missions[mid].flown_m == pytest.approx(70.0, abs=0.5)


def test_a_reached_report_for_an_unknown_vehicle_or_item_is_ignored() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    fly = upload(f.tick(), "uav0")
    f.drive("uav0")
    f.executor.reached("uav9", 0)
    f.executor.reached("uav0", len(fly.items))
    f.executor.reached("uav0", -1)
    assert f.executor.dispatcher.get(mid).last_reached_index == -1
    assert f.state(mid) is S.ACTIVE


@pytest.mark.parametrize("spec", [
    {"type": "survey", "altitude_m": math.nan},
    {"type": "survey", "altitude_m": 20.0},
    {"type": "hover"},
    {"altitude_m": 20.0},
])
def test_a_garbage_mission_is_refused_with_the_reason(spec: dict[str, object]) -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid, refused = f.executor.submit("", spec, priority=5, vehicle_id=None, created_by="test")
    assert refused
    assert mid not in f.executor.missions
    assert f.executor.record(mid) is None


def test_a_refusal_names_the_bad_field() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    _, refused = f.executor.submit("", {"type": "survey", "altitude_m": math.nan},
                                   priority=5, vehicle_id=None, created_by="test")
    assert "altitude_m" in refused
    _, refused = f.executor.submit("", survey_spec(), priority=11, vehicle_id=None,
                                   created_by="test")
    assert "11" in refused


def test_a_mission_id_already_used_or_with_a_slash_is_refused() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    f.submit(survey_spec(), mission_id="m-1")
    for mid in ("m-1", "a/b"):
        _, refused = f.executor.submit(mid, survey_spec(), priority=5, vehicle_id=None,
                                       created_by="test")
        assert mid in refused


def test_an_empty_mission_id_gets_a_fresh_one() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    first, second = f.submit(survey_spec()), f.submit(survey_spec())
    assert first != second
    assert first.startswith("m-")


def test_a_preview_plans_without_flying_and_refuses_an_unknown_vehicle() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    plan = f.executor.preview(survey_spec(), None)
    assert plan.coverage_pct is not None
    assert plan.coverage_pct >= 99.0
    assert len(plan.waypoints) >= 6
    assert f.executor.missions == {}
    assert f.tick() == []
    with pytest.raises(ValueError, match="uav9"):
        f.executor.preview(survey_spec(), "uav9")


def test_a_start_refused_by_the_vehicle_fails_the_mission_with_the_step() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    f.tick()
    f.drive("uav0", ok=False, detail="arming: denied")
    assert f.state(mid) is S.FAILED
    assert f.executor.reason(mid) == "uav0 refused the mission: arming: denied"
    assert f.executor.run_of("uav0") is None


NO_ANSWER = "mission/push: no answer within 3 s"


def assigned_vehicle(effects: list[object]) -> str:
    [fly] = of_type(effects, FlyMission)
    return fly.vehicle_id


def test_a_mission_whose_upload_was_not_taken_goes_to_another_vehicle() -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (-30.0, 0.0)})
    mid = f.submit(survey_spec())
    assert assigned_vehicle(f.tick()) == "uav0"  # the nearer
    f.drive("uav0", ok=False, detail=NO_ANSWER, untouched=True)
    assert f.state(mid) is S.QUEUED
    assert f.executor.run_of("uav0") is None
    assert assigned_vehicle(f.tick()) == "uav1"
    f.drive("uav1")
    assert f.state(mid) is S.ACTIVE
    history = f.executor.dispatcher.get(mid).history
    assert "uav0 refused the mission: mission/push: no answer" in history[-3].reason
    assert "goes to another vehicle" in history[-3].reason


def test_a_vehicle_that_did_not_take_an_upload_is_left_out_of_dispatch_for_a_while() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    first = f.submit(survey_spec())
    f.tick()
    f.drive("uav0", ok=False, detail=NO_ANSWER, untouched=True)
    assert f.state(first) is S.QUEUED
    assert of_type(f.tick(), FlyMission) == []
    assert "grounded after failing to take a mission upload" in f.executor.reason(first)
    f.clock.advance(SET_ASIDE_S + 1.0)
    assert assigned_vehicle(f.tick()) == "uav0"


def test_the_pause_doubles_with_each_failure_in_a_row_and_a_start_ends_it() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    f.tick()
    f.drive("uav0", ok=False, detail=NO_ANSWER, untouched=True)
    assert f.executor.set_aside_until("uav0") == f.clock() + SET_ASIDE_S
    f.clock.advance(SET_ASIDE_S)
    assert assigned_vehicle(f.tick()) == "uav0"
    f.drive("uav0", ok=False, detail=NO_ANSWER, untouched=True)
    assert f.executor.set_aside_until("uav0") == f.clock() + 2 * SET_ASIDE_S
    f.clock.advance(2 * SET_ASIDE_S - 1.0)
    assert of_type(f.tick(), FlyMission) == []
    f.clock.advance(1.0)
    assert assigned_vehicle(f.tick()) == "uav0"
    f.drive("uav0")
    assert f.state(mid) is S.ACTIVE
    assert f.executor.set_aside_until("uav0") is None


def test_a_mission_fails_once_three_vehicles_failed_to_take_it_naming_them() -> None:
    f = fleet({f"uav{i}": (-10.0 * i, 0.0) for i in range(4)})
    mid = f.submit(survey_spec())
    for vid in ("uav0", "uav1", "uav2"):
        assert assigned_vehicle(f.tick()) == vid
        f.drive(vid, ok=False, detail=NO_ANSWER, untouched=True)
    assert f.state(mid) is S.FAILED
    assert f.executor.reason(mid) == (
        f"uav2 refused the mission: {NO_ANSWER} (3 vehicles failed to take it: uav0, uav1, "
        "uav2)")
    assert of_type(f.tick(), FlyMission) == []


def test_a_pinned_mission_whose_upload_was_not_taken_fails_instead_of_moving() -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (-30.0, 0.0)})
    mid = f.submit(survey_spec(), vehicle_id="uav0")
    f.tick()
    f.drive("uav0", ok=False, detail=NO_ANSWER, untouched=True)
    assert f.state(mid) is S.FAILED
    assert f.executor.reason(mid) == f"uav0 refused the mission: {NO_ANSWER}"


def test_a_start_that_failed_after_its_upload_is_not_handed_to_another_vehicle() -> None:
    # The vehicle may hold the mission and be in AUTO.MISSION: a second one must not fly it.
    f = fleet({"uav0": (0.0, 0.0), "uav1": (-30.0, 0.0)})
    mid = f.submit(survey_spec())
    f.tick()
    f.drive("uav0", ok=False, detail="cmd/arming: no answer within 3 s")
    assert f.state(mid) is S.FAILED
    assert of_type(f.tick(), FlyMission) == []


def test_new_waypoints_a_flying_vehicle_did_not_take_fail_the_mission_not_move_it() -> None:
    # The vehicle still flies its old waypoints: another must not be sent to fly the mission.
    f = fleet({"uav0": (0.0, 0.0), "uav1": (-30.0, 0.0)})
    mid = f.submit(survey_spec())
    fly = upload(f.tick(), "uav0")
    f.drive("uav0")
    Autopilot(f).fly(fly, last=2)
    reference = f.executor.missions[mid].reference
    assert reference is not None
    ok, said = f.executor.modify(mid, reference.waypoints[3:], "test", "shorter")
    assert ok, said
    f.executor.drain()
    f.drive("uav0", ok=False, detail=NO_ANSWER, untouched=True)
    assert f.state(mid) is S.FAILED
    assert of_type(f.tick(), FlyMission) == []


def test_a_failed_operation_other_than_a_start_is_only_warned_about() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    f.tick()
    f.drive("uav0")
    assert f.drive("uav0", Operation.PAUSE, ok=False, detail="set_mode: timeout") == []
    assert f.warnings == ["uav0 pause: set_mode: timeout"]
    assert f.state(mid) is S.ACTIVE


def test_a_dispatcher_failure_of_a_flying_mission_sends_its_vehicle_home() -> None:
    f = fleet({"uav0": (0.0, 0.0)}, planner={"paused_timeout_s": 10.0})
    mid = f.submit(survey_spec())
    f.tick()
    f.drive("uav0")
    f.executor.dispatcher.mark_paused(mid, "paused")
    f.clock.advance(11.0)
    effects = f.tick()
    assert ReturnHome("uav0") in effects
    assert f.state(mid) is S.FAILED
    assert "paused" in f.executor.reason(mid)
    assert f.executor.run_of("uav0") is None


def test_finished_missions_are_listed_up_to_finished_kept() -> None:
    f = fleet({"uav0": (0.0, 0.0)}, planner={"finished_kept": 1})
    ids = [f.submit(survey_spec(), mission_id=f"m-{i}") for i in range(3)]
    waiting = f.submit(survey_spec(not_before=f.clock() + 3600.0), mission_id="m-later")
    for mid in ids:
        f.executor.abort(mid, "test", "not needed")
    f.executor.settle()
    assert f.executor.listed() == ["m-2", waiting]


def test_a_settled_mission_without_a_reason_takes_that_of_its_last_transition() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    f.executor.dispatcher.cancel(mid, "ops", "weather turned")
    assert f.executor.settle() == [mid]
    assert f.executor.reason(mid) == "weather turned"


def test_waypoint_items_fly_each_waypoint_with_its_hold_then_return_to_launch() -> None:
    waypoints = (Waypoint(at(30.0, 30.0), WaypointKind.TRANSIT),
                 Waypoint(at(30.0, 60.0), WaypointKind.TRANSIT, hold_s=4.0))
    items = waypoint_items(waypoints)
    assert [i.command for i in items] == [MavCmd.NAV_WAYPOINT, MavCmd.NAV_WAYPOINT,
                                          MavCmd.NAV_RETURN_TO_LAUNCH]
    assert [i.is_current for i in items] == [True, False, False]
    assert [i.param1 for i in items[:2]] == [0.0, 4.0]
    assert (items[1].x_lat, items[1].y_long) == (waypoints[1].position.latitude,
                                                 waypoints[1].position.longitude)


def test_map_remainder_maps_a_remainder_plans_waypoints_back_to_the_reference() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    reference = f.executor.preview(survey_spec(), "uav0")
    # A remainder from waypoint 3: a take-off elsewhere, then the reference from 3 on.
    rest = reference.waypoints[3:]
    takeoff = Waypoint(at(0.0, 10.0), WaypointKind.TAKEOFF)
    plan = replace(reference, waypoints=(takeoff, *rest))
    assert map_remainder(reference, 3, plan) == [None, *range(3, len(reference.waypoints))]


def test_map_remainder_maps_a_replanned_remainder_back_to_the_reference() -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0)})
    reference = f.executor.preview(survey_spec(size=80.0), "uav0")
    assert [w.kind for w in reference.waypoints[3:7]] == [WaypointKind.SURVEY] * 4
    v = f.vehicle("uav1")
    assert v.position is not None
    ctx = f.planning.context(v.position, "uav1", f.clock(), v.home)
    plan = plan_remainder(reference, 3, ctx)
    # Taking off where uav1 is, then the survey waypoints 3..6 of the reference: planned
    # again, they come back equal to micrometres, not to the last bit.
    assert map_remainder(reference, 3, plan)[:5] == [None, 3, 4, 5, 6]


def test_the_dispatch_snapshot_leaves_out_vehicles_without_a_position_or_battery() -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0), "uav2": (0.0, 20.0)})
    f.vehicle("uav1").position = None
    f.vehicle("uav2").battery_pct = math.nan
    assert [c.vehicle_id for c in f.executor.candidates()] == ["uav0"]
    assert f.warnings == []


def test_a_vehicle_with_garbage_in_the_fleet_picture_is_left_out_and_warned_about_once(
        ) -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0)})
    f.vehicle("uav1").battery_pct = 150.0
    for _ in range(3):
        assert [c.vehicle_id for c in f.executor.candidates()] == ["uav0"]
    [warning] = f.warnings
    assert warning.startswith("uav1 left out of dispatch: ")
    assert "150" in warning
    f.vehicle("uav1").battery_pct = 90.0
    assert len(f.executor.candidates()) == 2
    f.vehicle("uav1").battery_pct = 150.0
    f.executor.candidates()
    assert len(f.warnings) == 2  # a new episode is told again


def test_the_progress_of_a_mission_back_in_the_queue_counts_the_rest_of_its_plan() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec())
    fly = upload(f.tick(), "uav0")
    f.drive("uav0")
    Autopilot(f).fly(fly, last=3)
    record = f.executor.dispatcher.get(mid)
    f.executor.control(Control.RETURN_HOME, mid, "ops", "check")
    progress = f.executor.progress(mid, record)
    reference = f.executor.missions[mid].reference
    assert reference is not None
    rest = [w.position for w in reference.waypoints[record.last_reached_index:]]
    assert progress.remaining_m == pytest.approx(
        sum(haversine_m(a, b) for a, b in itertools.pairwise(rest)))
    assert progress.current == record.last_reached_index
    assert progress.eta_s == pytest.approx(progress.remaining_m / 8.0)


def test_a_mission_not_yet_planned_for_a_vehicle_has_no_progress() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(emergency_spec(50.0, 50.0))
    record = f.executor.dispatcher.get(mid)
    assert f.executor.progress(mid, record) == Progress(0.0, -1, 0, 0.0, 0.0)
