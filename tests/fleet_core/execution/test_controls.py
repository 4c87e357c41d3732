"""Operator controls of a mission: pause, resume, abort, send home, modify, re-prioritise."""

from __future__ import annotations

import pytest

from fleet_core.dispatch.errors import DispatchError
from fleet_core.dispatch.state import MissionState
from fleet_core.execution.model import Continue, FlyMission, Hold, ReturnHome
from fleet_core.execution.runs import Changed, Control, waypoint_items
from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.geo import GeoPoint
from fleet_core.planning import PlanningError, Waypoint, WaypointKind

from .helpers import Autopilot, Fleet, at, fleet, survey_spec, upload

S = MissionState


def under_way(reached: int = 2) -> tuple[Fleet, str, FlyMission]:
    """One vehicle flying a survey, past item ``reached`` of its upload."""
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec(size=80.0))
    fly = upload(f.tick(), "uav0")
    f.drive("uav0")
    Autopilot(f).fly(fly, last=reached)
    return f, mid, fly


def waypoint(east: float, north: float, hold_s: float = 0.0) -> Waypoint:
    """A waypoint as an operator gives it: 20 m above home, TRANSIT."""
    p = at(east, north)
    return Waypoint(GeoPoint(p.latitude, p.longitude, 20.0), WaypointKind.TRANSIT, hold_s)


def test_pause_holds_the_vehicle_and_resume_continues_to_completion() -> None:
    f, mid, fly = under_way()
    ok, message = f.executor.control(Control.PAUSE, mid, "ops", "bird strike check")
    assert (ok, message) == (True, "pause: done")
    assert f.executor.drain() == [Hold("uav0")]
    record = f.executor.dispatcher.get(mid)
    assert f.state(mid) is S.PAUSED
    assert record.history[-1].reason == "bird strike check"
    ok, _ = f.executor.control(Control.RESUME, mid, "ops", "clear")
    assert ok
    assert f.executor.drain() == [Continue("uav0")]
    assert f.state(mid) is S.ACTIVE
    Autopilot(f).fly(fly, first=3)
    assert f.state(mid) is S.COMPLETED


def test_a_waypoint_reached_while_paused_still_counts() -> None:
    f, mid, fly = under_way(reached=2)
    f.executor.control(Control.PAUSE, mid, "ops", "hold")
    before = f.executor.dispatcher.get(mid).last_reached_index
    Autopilot(f).fly(fly, first=3, last=4)  # the camera item after item 2, the next waypoint
    assert f.executor.dispatcher.get(mid).last_reached_index > before
    assert f.state(mid) is S.PAUSED


def test_only_an_active_mission_can_be_paused_and_only_a_paused_one_resumed() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    later = f.submit(survey_spec(not_before=f.clock() + 3600.0))
    ok, message = f.executor.control(Control.PAUSE, later, "ops", "x")
    assert not ok
    assert "planned" in message
    f2, mid, _ = under_way()
    ok, message = f2.executor.control(Control.RESUME, mid, "ops", "x")
    assert not ok
    assert message == f"mission {mid} is active, not paused"
    assert f.executor.drain() == f2.executor.drain() == []


@pytest.mark.parametrize("control", [Control.PAUSE, Control.RESUME, Control.RETURN_HOME])
def test_a_control_of_an_unknown_mission_is_refused_naming_it(control: Control) -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    ok, message = f.executor.control(control, "m-nope", "ops", "x")
    assert not ok
    assert "m-nope" in message


def test_abort_sends_the_vehicle_home_and_ends_the_mission() -> None:
    f, mid, _ = under_way()
    ok, message = f.executor.control(Control.ABORT, mid, "ops", "smoke")
    assert (ok, message) == (True, "aborted; uav0 returning home")
    assert f.executor.drain() == [ReturnHome("uav0")]
    assert f.state(mid) is S.ABORTED
    assert f.executor.run_of("uav0") is None
    f.executor.settle()
    assert f.executor.reason(mid) == "smoke"


def test_aborting_a_waiting_mission_sends_no_vehicle_anywhere() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec(not_before=f.clock() + 3600.0))
    assert f.executor.abort(mid, "ops", "not needed") == (True, "aborted")
    assert f.executor.drain() == []
    assert f.state(mid) is S.ABORTED


def test_aborting_an_unknown_or_finished_mission_is_refused() -> None:
    f, mid, _ = under_way()
    f.executor.abort(mid, "ops", "first")
    f.executor.drain()
    for target in (mid, "m-nope"):
        ok, message = f.executor.abort(target, "ops", "again")
        assert not ok
        assert message == f"mission {target!r} is unknown or finished"
    assert f.executor.drain() == []


def test_canceling_the_goal_aborts_the_mission_with_goal_canceled() -> None:
    f, mid, _ = under_way()
    f.executor.missions[mid].cancel_requested = True
    assert f.executor.abort(mid, "action client", "goal canceled")[0]
    f.executor.settle()
    assert f.state(mid) is S.ABORTED
    assert f.executor.reason(mid) == "goal canceled"


def test_return_home_sends_the_vehicle_home_and_gives_the_mission_back_to_the_queue() -> None:
    f, mid, _ = under_way()
    ok, _ = f.executor.control(Control.RETURN_HOME, mid, "ops", "gimbal noise")
    assert ok
    assert f.executor.drain() == [ReturnHome("uav0")]
    record = f.executor.dispatcher.get(mid)
    assert f.state(mid) is S.QUEUED
    assert record.history[-1].reason == "uav0 sent home: gimbal noise"
    assert record.resume_from_index == record.last_reached_index + 1 > 0
    assert f.executor.run_of("uav0") is None


def test_return_home_of_a_mission_without_a_vehicle_is_refused() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec(not_before=f.clock() + 3600.0))
    ok, message = f.executor.control(Control.RETURN_HOME, mid, "ops", "x")
    assert not ok
    assert message == f"mission {mid} is planned: no vehicle to send home"


@pytest.mark.parametrize("control", list(Control))
def test_every_control_is_carried_out_on_a_mission_in_the_state_it_needs(
        control: Control) -> None:
    f, mid, _ = under_way()
    if control is Control.RESUME:
        f.executor.control(Control.PAUSE, mid, "ops", "first")
        f.executor.drain()
    ok, message = f.executor.control(control, mid, "ops", "x")
    assert ok, message
    [command] = f.executor.drain()
    assert isinstance(command, (Hold, Continue, ReturnHome))
    assert command.vehicle_id == "uav0"


def test_the_controls_are_the_four_services_by_value() -> None:
    assert [c.value for c in Control] == ["pause", "resume", "abort", "return_home"]


def school() -> NoFlyZone:
    return NoFlyZone("school", "school", tuple(at(e, n) for e, n in
                                                ((-100, 100), (-60, 100), (-60, 140),
                                                 (-100, 140))))


def test_the_remaining_waypoints_are_replaced_and_progress_counts_the_new_ones() -> None:
    f, mid, _ = under_way(reached=1)
    f.planning.zones = [school()]
    new = (waypoint(30.0, 30.0), waypoint(30.0, 60.0, hold_s=1.0))
    ok, message = f.executor.modify(mid, new, "ops", "smoke reported north")
    assert (ok, message) == (True, "2 waypoints uploaded to uav0")
    fly, changed = f.executor.drain()
    assert fly == FlyMission("uav0", waypoint_items(new))
    assert isinstance(changed, Changed)
    assert changed.waypoints == new
    assert (changed.change.actor, changed.change.reason) == ("ops", "smoke reported north")
    assert changed.change.summary == "2 remaining waypoints replaced"
    record = f.executor.dispatcher.get(mid)
    assert record.last_reached_index == -1
    Autopilot(f).fly(fly)
    assert f.state(mid) is S.COMPLETED
    progress = f.executor.progress(mid, record)
    assert (progress.count, progress.pct) == (2, 100.0)


def test_waypoints_into_a_zone_are_refused_naming_it() -> None:
    f, mid, _ = under_way(reached=1)
    f.planning.zones = [school()]
    with pytest.raises(PlanningError, match="school"):
        f.executor.modify(mid, (waypoint(-80.0, 120.0),), "ops", "look at the school")
    assert f.executor.drain() == []
    assert f.executor.dispatcher.get(mid).modifications == []


def test_a_modification_needs_a_reason_and_a_mission_being_flown() -> None:
    f, mid, _ = under_way(reached=1)
    assert f.executor.modify(mid, (waypoint(30.0, 30.0),), "ops", "") == (
        False, "a reason is required to modify a mission")
    assert f.executor.modify("m-nope", (waypoint(30.0, 30.0),), "ops", "why") == (
        False, "mission 'm-nope' is not being flown")
    assert f.executor.drain() == []


def test_a_priority_change_is_announced_and_a_bad_one_refused() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    mid = f.submit(survey_spec(not_before=f.clock() + 3600.0), priority=3)
    d = f.executor.dispatcher
    done = f.executor.change(mid, lambda: d.set_priority(mid, 8, "op", now=f.clock()))
    assert done == (True, "priority 3 -> 8")
    [changed] = f.executor.drain()
    assert isinstance(changed, Changed)
    assert (changed.record.priority, changed.waypoints) == (8, None)
    with pytest.raises(DispatchError, match="11"):
        f.executor.change(mid, lambda: d.set_priority(mid, 11, "op", now=f.clock()))
    with pytest.raises(DispatchError, match="m-nope"):
        f.executor.change("m-nope", lambda: d.set_priority("m-nope", 5, "op"))
    assert f.executor.drain() == []


def test_the_pin_of_a_flying_mission_cannot_change() -> None:
    f, mid, _ = under_way()
    d = f.executor.dispatcher
    with pytest.raises(DispatchError, match="only while it is planned or queued"):
        f.executor.change(mid, lambda: d.set_pin(mid, "uav1", "op", now=f.clock()))
