"""The dispatcher: preemption and resumption, hand-backs, splits, timeouts, recurrences."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from fleet_core.dispatch.demand import Demand
from fleet_core.dispatch.dispatcher import (
    Assign,
    Decision,
    Dispatcher,
    DispatcherConfig,
    Fail,
    Preempt,
    Split,
    Start,
    Unavailability,
)
from fleet_core.dispatch.errors import DispatchError, IllegalTransitionError
from fleet_core.dispatch.recurrence import Recurrence, RecurringTemplate
from fleet_core.dispatch.state import MissionKind, MissionRecord, MissionState
from fleet_core.fleet.model import OperatingStatus

from .helpers import at, demand, mission, vehicle

S = MissionState


def assigned(decisions: Sequence[Decision]) -> dict[str, str]:
    return {d.mission_id: d.vehicle_id for d in decisions if isinstance(d, Assign)}


def flying(vehicle_id: str, east: float, **kwargs: float) -> object:
    return vehicle(vehicle_id, east, status=OperatingStatus.IN_MISSION, **kwargs)


def test_an_emergency_preempts_the_lowest_priority_mission_which_resumes_later() -> None:
    d = Dispatcher()
    d.submit(mission("survey", 3), now=0.0)
    d.submit(mission("patrol", 6), now=0.0)
    fleet = [vehicle("v1", 100), vehicle("v2", 200)]
    assert assigned(d.tick(1.0, fleet)) == {"patrol": "v1", "survey": "v2"}
    for m in ("survey", "patrol"):
        d.mark_active(m, now=2.0)
    d.mark_reached("survey", 0)
    d.mark_reached("survey", 3)
    d.submit(mission("fire", 10, kind=MissionKind.EMERGENCY), now=3.0)
    busy_fleet = [flying("v1", 100), flying("v2", 200)]
    [decision] = d.tick(4.0, busy_fleet)
    assert decision == Preempt("survey", "v2", "fire", 4)
    assert d.get("fire").state is S.ASSIGNED
    assert d.get("fire").vehicle_id == "v2"
    victim = d.get("survey")
    assert (victim.state, victim.vehicle_id, victim.resume_from_index) == (S.QUEUED, None, 4)
    assert victim.history[-1].reason == "preempted by fire"
    assert victim.history[-1].vehicle_id == "v2"
    # A vehicle frees up later: the survey resumes from waypoint 4 on it.
    decisions = d.tick(10.0, [flying("v1", 100), flying("v2", 200), vehicle("v3", 50)])
    assert decisions == [Assign("survey", "v3", 4, decisions[0].cost)]  # type: ignore[union-attr]


def test_a_priority_at_the_emergency_threshold_preempts_too() -> None:
    d = Dispatcher(DispatcherConfig(emergency_priority=8))
    d.submit(mission("low", 2), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    d.mark_active("low", now=1.5)
    d.submit(mission("urgent", 8), now=2.0)
    assert d.tick(3.0, [flying("v1", 0)]) == [Preempt("low", "v1", "urgent", 0)]


def test_an_emergency_never_preempts_equal_or_higher_priority() -> None:
    d = Dispatcher()
    d.submit(mission("rescue", 10, kind=MissionKind.EMERGENCY), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    d.submit(mission("fire", 10, kind=MissionKind.EMERGENCY), now=2.0)
    assert d.tick(3.0, [vehicle("v1", 0, status=OperatingStatus.IN_MISSION)]) == []
    assert d.get("rescue").vehicle_id == "v1"


def test_an_ordinary_mission_never_preempts() -> None:
    d = Dispatcher()
    d.submit(mission("low", 1), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    d.submit(mission("high", 8), now=2.0)
    assert d.tick(3.0, [flying("v1", 0)]) == []


def test_a_lost_vehicle_hands_its_mission_to_another_from_the_next_waypoint() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    d.mark_active("m", now=2.0)
    d.mark_reached("m", 2)
    [step] = d.vehicle_unavailable("v1", Unavailability.LOST, now=5.0)
    assert (step.from_state, step.to_state, step.reason) == (S.ACTIVE, S.QUEUED, "vehicle v1 lost")
    record = d.get("m")
    assert (record.vehicle_id, record.resume_from_index) == (None, 3)
    decisions = d.tick(6.0, [vehicle("v2", 400)])
    assert [(x.mission_id, x.vehicle_id, x.resume_from_index) for x in decisions
            if isinstance(x, Assign)] == [("m", "v2", 3)]


def test_a_vehicle_that_reports_critical_battery_while_paused_gives_the_mission_back() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    d.mark_active("m", now=2.0)
    d.mark_paused("m", "separation hold", now=3.0)
    d.vehicle_unavailable("v1", Unavailability.CRITICAL_BATTERY, now=4.0)
    assert d.get("m").state is S.QUEUED
    assert d.get("m").paused_since is None


def fake_splitter(calls: list[int]) -> object:
    def split(record: MissionRecord, k: int) -> list[Demand]:
        calls.append(k)
        part = record.demand.energy_wh / k
        return [demand(i * 500.0, energy_wh=part, distance_m=record.demand.distance_m / k)
                for i in range(k)]
    return split


def test_an_oversized_survey_is_split_and_the_parts_flown_by_several_vehicles() -> None:
    calls: list[int] = []
    d = Dispatcher(splitter=fake_splitter(calls))  # type: ignore[arg-type]
    big = demand(energy_wh=250.0, distance_m=20_000.0, splittable=True)
    d.submit(mission("big", 4, need=big), now=0.0)
    fleet = [vehicle(f"v{i}", 100.0 * i) for i in range(6)]
    decisions = d.tick(1.0, fleet)
    # Usable 90 Wh at 70 % fill: 63 Wh a part -> 4 parts for 250 Wh (and 20 km / 7 km -> 3).
    assert calls == [4]
    assert decisions[0] == Split("big", ("big/1", "big/2", "big/3", "big/4"))
    parts = assigned(decisions)
    assert sorted(parts) == ["big/1", "big/2", "big/3", "big/4"]
    assert len(set(parts.values())) == 4
    parent = d.get("big")
    assert parent.state is S.ASSIGNED
    assert parent.children == ("big/1", "big/2", "big/3", "big/4")
    assert all(d.get(c).parent_id == "big" for c in parent.children)
    for c in parent.children:
        d.mark_active(c, now=2.0)
    assert parent.state is S.ACTIVE
    for c in parent.children[:-1]:
        d.mark_completed(c, now=3.0)
    assert parent.state is S.ACTIVE
    steps = d.mark_completed("big/4", now=4.0)
    assert [(s.mission_id, s.to_state) for s in steps] == [("big/4", S.COMPLETED),
                                                            ("big", S.COMPLETED)]


def test_a_survey_that_one_vehicle_can_fly_is_not_split() -> None:
    calls: list[int] = []
    d = Dispatcher(splitter=fake_splitter(calls))  # type: ignore[arg-type]
    d.submit(mission("small", need=demand(energy_wh=20.0, splittable=True)), now=0.0)
    assert assigned(d.tick(1.0, [vehicle("v1", 0)])) == {"small": "v1"}
    assert calls == []


def test_a_splitter_that_cannot_split_fails_the_mission_with_its_reason() -> None:
    def refuse(record: MissionRecord, k: int) -> list[Demand]:
        raise ValueError("area too thin")
    d = Dispatcher(splitter=refuse)
    d.submit(mission("big", need=demand(energy_wh=500.0, splittable=True)), now=0.0)
    [fail] = d.tick(1.0, [vehicle("v1", 0)])
    assert isinstance(fail, Fail)
    assert "area too thin" in fail.reason
    assert d.get("big").state is S.FAILED


def test_raising_priority_after_assignment_lets_the_mission_keep_its_vehicle() -> None:
    d = Dispatcher()
    d.submit(mission("a", 3), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    change = d.set_priority("a", 7, "ops", reason="customer waiting", now=2.0)
    assert change.summary == "priority 3 -> 7"
    assert d.get("a").priority == 7
    assert d.get("a").vehicle_id == "v1"
    assert d.get("a").modifications == [change]


def test_lowering_a_flying_mission_below_an_emergency_makes_it_the_victim() -> None:
    d = Dispatcher()
    d.submit(mission("a", 9), now=0.0)
    d.submit(mission("b", 7), now=0.0)
    d.tick(1.0, [vehicle("v1", 0), vehicle("v2", 50)])
    d.submit(mission("sos", 8, kind=MissionKind.EMERGENCY), now=2.0)
    fleet = [flying("v1", 0), flying("v2", 50)]
    assert d.tick(3.0, fleet) == [Preempt("b", "v2", "sos", 0)]
    d.set_priority("a", 2, "ops", now=4.0)
    d.submit(mission("sos2", 8, kind=MissionKind.EMERGENCY), now=4.0)
    assert d.tick(5.0, fleet) == [Preempt("a", "v1", "sos2", 0)]


def test_raising_a_queued_mission_re_sorts_the_queue() -> None:
    d = Dispatcher()
    d.submit(mission("a", 5), now=0.0)
    d.submit(mission("b", 5), now=0.0)
    d.set_priority("b", 6, "ops", now=1.0)
    assert [r.mission_id for r in d.queued()] == ["b", "a"]
    assert assigned(d.tick(2.0, [vehicle("v1", 0)])) == {"b": "v1"}


def test_a_mission_paused_longer_than_the_timeout_fails() -> None:
    d = Dispatcher(DispatcherConfig(paused_timeout_s=60.0))
    d.submit(mission("m"), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    d.mark_active("m", now=2.0)
    d.mark_paused("m", "operator hold", now=10.0)
    fleet = [flying("v1", 0)]
    assert d.tick(70.0, fleet) == []
    [fail] = d.tick(71.0, fleet)
    assert fail == Fail("m", "v1", "paused for 61 s, longer than 60 s")
    assert d.get("m").state is S.FAILED


def test_a_mission_not_started_by_its_deadline_fails() -> None:
    d = Dispatcher()
    d.submit(mission("m", not_after=100.0), now=0.0)
    assert d.tick(50.0, []) == []
    [fail] = d.tick(101.0, [])
    assert isinstance(fail, Fail)
    assert fail.reason == "not started by its deadline 100"
    assert d.get("m").state is S.FAILED
    assert d.queued() == []


def test_a_scheduled_mission_starts_when_its_time_comes() -> None:
    d = Dispatcher()
    assert d.submit(mission("later", scheduled_at=100.0), now=0.0) is None
    assert d.get("later").state is S.PLANNED
    assert d.tick(99.0, [vehicle("v1", 0)]) == []
    decisions = d.tick(100.0, [vehicle("v1", 0)])
    assert decisions[0] == Start("later")
    assert assigned(decisions) == {"later": "v1"}


def test_cancel_aborts_a_queued_or_assigned_mission_and_frees_its_vehicle() -> None:
    d = Dispatcher()
    d.submit(mission("a"), now=0.0)
    d.submit(mission("b", 4), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    [step] = d.cancel("a", "ops", "not needed", now=2.0)
    assert (step.from_state, step.to_state, step.actor) == (S.ASSIGNED, S.ABORTED, "ops")
    assert assigned(d.tick(3.0, [vehicle("v1", 0)])) == {"b": "v1"}
    [step] = d.cancel("b", "ops", "weather", now=4.0)
    with pytest.raises(DispatchError, match="'b' is already aborted"):
        d.cancel("b", "ops", "again", now=5.0)


def test_reports_out_of_order_are_illegal_transitions() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    with pytest.raises(IllegalTransitionError, match="from queued to completed"):
        d.mark_completed("m", now=1.0)
    with pytest.raises(IllegalTransitionError, match="from queued to active"):
        d.mark_active("m", now=1.0)


def test_an_upload_failure_fails_the_assigned_mission() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    [step] = d.mark_failed("m", "mission upload refused", now=2.0)
    assert (step.from_state, step.to_state) == (S.ASSIGNED, S.FAILED)


def test_every_transition_reaches_the_event_outbox_once() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    d.mark_active("m", now=2.0)
    d.set_priority("m", 6, "ops", now=2.5)
    d.mark_completed("m", now=3.0)
    events = d.drain_events()
    assert [getattr(e, "to_state", "mod") for e in events] == [
        S.QUEUED, S.ASSIGNED, S.ACTIVE, "mod", S.COMPLETED]
    assert d.drain_events() == []


def test_submitting_garbage_is_rejected_with_the_bad_value() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    with pytest.raises(DispatchError, match="'m' already exists"):
        d.submit(mission("m"), now=0.0)
    with pytest.raises(DispatchError, match=r"not_after 5.0 has already passed \(now 10.0\)"):
        d.submit(mission("late", not_after=5.0), now=10.0)
    with pytest.raises(DispatchError, match="unknown mission 'nope'"):
        d.cancel("nope", "ops", "x")
    with pytest.raises(DispatchError, match="waypoint index must be an integer >= 0, got -1"):
        d.mark_reached("m", -1)


def test_a_recurring_template_spawns_one_mission_per_occurrence() -> None:
    d = Dispatcher()
    start = datetime(2026, 3, 1, 6, 0, tzinfo=UTC).timestamp()
    template = RecurringTemplate("patrol", Recurrence.from_cron("0 */6 * * *"), 4,
                                 MissionKind.PATROL, demand(), window_s=600.0)
    first = d.add_recurring(template, now=start)
    assert first == start + 6 * 3600
    assert d.tick(first - 1, [vehicle("v1", 0)]) == []
    decisions = d.tick(first, [vehicle("v1", 0)])
    assert assigned(decisions) == {"patrol@20260301T120000Z": "v1"}
    spawned = d.get("patrol@20260301T120000Z")
    assert (spawned.scheduled_at, spawned.not_after) == (first, first + 600)
    # Twelve hours without a tick: only the latest occurrence (18:00 is skipped) spawns.
    d.tick(first + 12 * 3600 + 5, [])
    assert "patrol@20260302T000000Z" in d.missions
    assert "patrol@20260301T180000Z" not in d.missions


def test_an_interval_template_spawns_every_period() -> None:
    d = Dispatcher()
    template = RecurringTemplate("scan", Recurrence.every(15, "minutes"), 3,
                                 MissionKind.INSPECTION, demand())
    first = d.add_recurring(template, now=100.0)
    assert first == 900.0
    d.tick(900.0, [])
    d.tick(1800.0, [])
    assert sorted(m for m in d.missions if m.startswith("scan@")) == [
        "scan@19700101T001500Z", "scan@19700101T003000Z"]


def test_a_pinned_template_spawns_missions_pinned_to_its_vehicle() -> None:
    d = Dispatcher()
    template = RecurringTemplate("fence", Recurrence.every(10, "minutes"), 3,
                                 MissionKind.PATROL, demand(), pinned_vehicle_id="v2")
    first = d.add_recurring(template, now=0.0)
    # v1 is nearer, but every occurrence belongs to v2.
    decisions = d.tick(first, [vehicle("v1", 0), vehicle("v2", 0, north=3_000)])
    assert assigned(decisions) == {"fence@19700101T001000Z": "v2"}
    assert d.get("fence@19700101T001000Z").pinned_vehicle_id == "v2"
    with pytest.raises(DispatchError, match="pinned vehicle id"):
        RecurringTemplate("bad", Recurrence.every(10, "minutes"), 3, MissionKind.PATROL,
                          demand(), pinned_vehicle_id="v 2")


def test_site_positions_far_apart_do_not_break_the_distance_cost() -> None:
    d = Dispatcher()
    d.submit(mission("m", need=demand(energy_wh=1.0)), now=0.0)
    fleet = [vehicle("v1", 0, north=9_000), vehicle("v2", 0, north=-2_000)]
    assert assigned(d.tick(1.0, fleet)) == {"m": "v2"}
    assert at(0, 0).is_valid()


def test_a_finished_mission_can_be_forgotten_but_a_live_one_cannot() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    with pytest.raises(DispatchError, match="'m' is not over"):
        d.forget("m")
    d.cancel("m", "ops", "test", now=1.0)
    assert d.forget("m").state is S.ABORTED
    assert "m" not in d.missions


def test_a_submitted_id_may_not_look_like_a_part() -> None:
    with pytest.raises(DispatchError, match="may not contain '/'"):
        Dispatcher().submit(mission("a/1"), now=0.0)


def test_of_two_equally_close_vehicles_the_fuller_one_is_chosen() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    fleet = [vehicle("half", 300, energy_wh=50.0), vehicle("full", 0, north=300,
                                                           energy_wh=100.0)]
    assert assigned(d.tick(1.0, fleet)) == {"m": "full"}


def test_an_emergency_takes_the_nearest_vehicle_of_the_lowest_priority_missions() -> None:
    d = Dispatcher()
    for mission_id, priority in [("low1", 2), ("low2", 2), ("p5", 5)]:
        d.submit(mission(mission_id, priority), now=0.0)
    d.tick(1.0, [vehicle("v1", 100), vehicle("v2", 3000), vehicle("v3", 200)])
    holders = {m: d.get(m).vehicle_id for m in ("low1", "low2", "p5")}
    assert holders == {"p5": "v1", "low1": "v3", "low2": "v2"}
    d.submit(mission("sos", 10, kind=MissionKind.EMERGENCY, need=demand(2900.0)), now=2.0)
    fleet = [flying("v1", 100), flying("v2", 3000), flying("v3", 200)]
    # v1 (priority 5) is not a victim while priority-2 missions fly; of those, v2 is nearest.
    assert d.tick(3.0, fleet) == [Preempt("low2", "v2", "sos", 0)]


def test_a_reservation_is_dropped_when_its_vehicle_goes_to_maintenance() -> None:
    d = Dispatcher()
    d.submit(mission("m", need=demand(energy_wh=60.0)), now=0.0)
    [charge] = d.tick(1.0, [vehicle("v1", 0, energy_wh=30.0)])
    assert d.reservation("m") == "v1"
    assert d.tick(2.0, [vehicle("v1", 0, status=OperatingStatus.MAINTENANCE),
                        vehicle("v2", 50, energy_wh=20.0)]) == [
        type(charge)("v2", "m", pytest.approx(70.5, abs=0.1))]
    assert d.reservation("m") == "v2"


def test_an_oversized_survey_waits_unsplit_while_the_snapshot_is_empty() -> None:
    calls: list[int] = []
    d = Dispatcher(splitter=fake_splitter(calls))  # type: ignore[arg-type]
    d.submit(mission("big", need=demand(energy_wh=500.0, splittable=True)), now=0.0)
    assert d.tick(1.0, []) == []
    assert calls == []
    assert d.waiting_reasons == {"big": "no free vehicle"}


def test_a_mission_no_vehicle_could_ever_fly_waits_with_the_reason_then_fails() -> None:
    d = Dispatcher(DispatcherConfig(unservable_grace_s=60.0))
    d.submit(mission("heavy", need=demand(payload_kg=5.0)), now=0.0)
    fleet = [vehicle("v1", 0, payload_kg=1.0), vehicle("v2", 50, payload_kg=2.5)]
    assert d.tick(1.0, fleet) == []
    assert d.waiting_reasons["heavy"] == (
        "no vehicle of the 2 in the fleet carries 5 kg (fails after 60 s)")
    assert d.get("heavy").state is S.QUEUED
    [fail] = d.tick(61.0, fleet)
    assert isinstance(fail, Fail)
    assert fail.reason == "no vehicle of the 2 in the fleet carries 5 kg for 60 s"
    assert d.get("heavy").state is S.FAILED


def test_a_mission_beyond_every_battery_names_the_largest_one() -> None:
    d = Dispatcher(DispatcherConfig(unservable_grace_s=0.0))
    d.submit(mission("far", need=demand(energy_wh=150.0)), now=0.0)
    fleet = [vehicle("small", 0, capacity_wh=100.0, energy_wh=100.0),
             vehicle("big", 0, capacity_wh=120.0, energy_wh=120.0)]
    [fail] = d.tick(1.0, fleet)
    assert isinstance(fail, Fail)
    assert "big's: the mission needs 160.0 Wh with its reserve, the battery holds 120.0 Wh" \
        in fail.reason


def test_a_vehicle_that_could_fly_it_arriving_in_time_saves_the_mission() -> None:
    d = Dispatcher(DispatcherConfig(unservable_grace_s=60.0))
    d.submit(mission("heavy", need=demand(payload_kg=2.0)), now=0.0)
    assert d.tick(1.0, [vehicle("light", 0, payload_kg=1.0)]) == []
    decisions = d.tick(30.0, [vehicle("light", 0, payload_kg=1.0),
                              vehicle("lifter", 10, payload_kg=2.5)])
    assert assigned(decisions) == {"heavy": "lifter"}


def test_an_empty_fleet_never_fails_a_mission_for_want_of_vehicles() -> None:
    d = Dispatcher(DispatcherConfig(unservable_grace_s=0.0))
    d.submit(mission("any"), now=0.0)
    assert d.tick(1000.0, []) == []
    assert d.get("any").state is S.QUEUED


def test_a_negative_unservable_grace_is_rejected() -> None:
    with pytest.raises(DispatchError, match=r"unservable_grace_s must be finite and >= 0"):
        DispatcherConfig(unservable_grace_s=-1.0)


def test_an_emergency_takes_the_vehicle_of_a_paused_mission_which_is_queued_again() -> None:
    d = Dispatcher()
    d.submit(mission("inspection", 4), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    d.mark_active("inspection", now=1.5)
    d.mark_reached("inspection", 2)
    d.mark_paused("inspection", "operator looks at a crack", now=2.0)
    d.submit(mission("fire", 10, kind=MissionKind.EMERGENCY), now=3.0)
    assert d.tick(4.0, [flying("v1", 0)]) == [Preempt("inspection", "v1", "fire", 3)]
    victim = d.get("inspection")
    assert (victim.state, victim.vehicle_id, victim.paused_since) == (S.QUEUED, None, None)
    # Queued, it can no longer time out as a paused mission.
    assert d.tick(4.0 + d.config.paused_timeout_s + 1, [flying("v1", 0)]) == []
    assert victim.state is S.QUEUED


def test_grounded_vehicles_take_no_work_and_the_waiting_mission_says_why() -> None:
    d = Dispatcher()
    d.submit(mission("survey"), now=0.0)
    fleet = [vehicle("v1", 0), vehicle("v2", 50)]
    storm = {"v1": "by wind 20.0 m/s", "v2": "by wind 20.0 m/s"}
    assert d.tick(1.0, fleet, grounded=storm) == []
    assert d.waiting_reasons["survey"] == "no free vehicle; 2 grounded by wind 20.0 m/s"
    assert d.get("survey").state is S.QUEUED
    assert assigned(d.tick(2.0, fleet, grounded={"v2": "by wind 20.0 m/s"})) == {"survey": "v1"}
