"""A mission pinned to a vehicle goes to that one only: it waits for it, charges it, keeps it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import pytest

from fleet_core.dispatch.allocation import VehicleCandidate
from fleet_core.dispatch.demand import Demand
from fleet_core.dispatch.dispatcher import (
    Assign,
    ChargeFirst,
    Decision,
    Dispatcher,
    DispatcherConfig,
    Fail,
    Preempt,
    Unavailability,
)
from fleet_core.dispatch.errors import DispatchError
from fleet_core.dispatch.state import MissionKind, MissionRecord, MissionState, Modification
from fleet_core.fleet.model import OperatingStatus

from .helpers import demand, mission, vehicle

S = MissionState


def pinned(mission_id: str, vehicle_id: str | None, priority: int = 5, *,
           kind: MissionKind = MissionKind.SURVEY, need: Demand | None = None) -> MissionRecord:
    return replace(mission(mission_id, priority, kind=kind, need=need),
                   pinned_vehicle_id=vehicle_id)


def assigned(decisions: Sequence[Decision]) -> dict[str, str]:
    return {d.mission_id: d.vehicle_id for d in decisions if isinstance(d, Assign)}


def flying(vehicle_id: str, east: float) -> VehicleCandidate:
    return vehicle(vehicle_id, east, status=OperatingStatus.IN_MISSION)


def never_split(record: MissionRecord, k: int) -> list[Demand]:
    raise AssertionError(f"a pinned mission was split: {record.mission_id} in {k}")


def test_a_pinned_mission_goes_to_its_vehicle_even_when_another_is_cheaper() -> None:
    d = Dispatcher()
    d.submit(pinned("m", "far"), now=0.0)
    fleet = [vehicle("near", 100), vehicle("far", 3000)]
    [decision] = d.tick(1.0, fleet)
    assert isinstance(decision, Assign)
    assert (decision.mission_id, decision.vehicle_id) == ("m", "far")
    assert d.get("m").vehicle_id == "far"
    assert d.get("m").history[-1].reason == f"pinned, cost {decision.cost:.1f}"


def test_an_unpinned_mission_still_takes_the_cheapest_vehicle_left() -> None:
    d = Dispatcher()
    d.submit(pinned("p", "near", 3), now=0.0)
    d.submit(mission("u", 6), now=0.0)
    d.submit(mission("w", 2), now=0.0)
    fleet = [vehicle("near", 100), vehicle("mid", 1000), vehicle("far", 3000)]
    # "u" comes first by priority and takes the nearest; "p" waits for it; "w" gets "mid".
    assert assigned(d.tick(1.0, fleet)) == {"u": "near", "w": "mid"}
    assert d.waiting_reasons == {"p": "pinned to near, which is busy with mission u"}
    assert d.get("p").state is S.QUEUED


def test_a_pinned_mission_waits_while_its_vehicle_is_busy_and_gets_it_when_it_frees() -> None:
    d = Dispatcher()
    d.submit(mission("first"), now=0.0)
    assert assigned(d.tick(1.0, [vehicle("v1", 0)])) == {"first": "v1"}
    d.mark_active("first", now=2.0)
    d.submit(pinned("m", "v1"), now=3.0)
    fleet = [flying("v1", 0), vehicle("v2", 50)]
    assert d.tick(4.0, fleet) == []
    assert d.waiting_reasons == {"m": "pinned to v1, which is busy with mission first"}
    assert d.get("m").state is S.QUEUED
    d.mark_completed("first", now=5.0)
    assert assigned(d.tick(6.0, [vehicle("v1", 0), vehicle("v2", 50)])) == {"m": "v1"}


def test_two_missions_pinned_to_one_vehicle_take_it_in_priority_order() -> None:
    d = Dispatcher()
    d.submit(pinned("low", "v1", 3), now=0.0)
    d.submit(pinned("high", "v1", 7), now=1.0)
    fleet = [vehicle("v1", 0), vehicle("v2", 0)]
    assert assigned(d.tick(2.0, fleet)) == {"high": "v1"}
    assert d.waiting_reasons == {"low": "pinned to v1, which is busy with mission high"}


@pytest.mark.parametrize(("candidate", "busy", "need", "why"), [
    (vehicle("v1", 0, status=OperatingStatus.MAINTENANCE), (), None, "is in maintenance"),
    (vehicle("v1", 0, fresh=False), (), None, "is lost (no fresh telemetry)"),
    (vehicle("v1", 0, status=OperatingStatus.CHARGING), (), None, "is charging"),
    (vehicle("v1", 0, status=OperatingStatus.RETURNING), (), None, "is returning home"),
    (vehicle("v1", 0), ("v1",), None, "is at or queued for a charging pad"),
    (vehicle("v1", 0, payload_kg=1.0), (), demand(payload_kg=2.5),
     "carries at most 1 kg, the mission needs 2.5 kg"),
    (vehicle("v1", 0), (), demand(model="fixedwing"),
     "is a multirotor, the mission needs a fixedwing"),
    (vehicle("v1", 9_900), (), demand(energy_wh=40.0, reserve_wh=10.0),
     "is 9.9 km from the start: too far even fully charged"),
], ids=["maintenance", "lost", "charging", "returning", "on-a-pad", "payload", "model",
        "too-far"])
def test_a_pinned_mission_waits_for_a_vehicle_that_cannot_take_it_now(
        candidate: VehicleCandidate, busy: tuple[str, ...], need: Demand | None,
        why: str) -> None:
    d = Dispatcher()
    d.submit(pinned("m", "v1", need=need), now=0.0)
    fleet = [candidate, vehicle("v2", 10, payload_kg=5.0, model="fixedwing")]
    assert d.tick(1.0, fleet, busy=busy) == []
    assert d.waiting_reasons == {"m": f"pinned to v1, which {why}"}
    assert d.get("m").state is S.QUEUED
    assert d.reservation("m") is None


def test_a_mission_pinned_to_an_unknown_vehicle_fails_after_the_grace_naming_it() -> None:
    d = Dispatcher(DispatcherConfig(pin_grace_s=30.0))
    d.submit(pinned("m", "uav9"), now=0.0)
    fleet = [vehicle("v1", 0)]
    assert d.tick(1.0, fleet) == []
    assert d.waiting_reasons == {
        "m": "pinned to uav9, which is not in the fleet picture (the mission fails after "
             "30 s without it)"}
    assert d.tick(31.0, fleet) == []
    [fail] = d.tick(32.0, fleet)
    assert fail == Fail("m", None, "pinned vehicle uav9 has not been in the fleet for 31 s "
                                   "(grace 30 s)")
    assert d.get("m").state is S.FAILED
    assert d.queued() == []


def test_a_pinned_vehicle_that_shows_up_within_the_grace_resets_it() -> None:
    d = Dispatcher(DispatcherConfig(pin_grace_s=30.0))
    d.submit(pinned("m", "uav9"), now=0.0)
    d.submit(mission("blocker", 8), now=0.0)
    assert d.tick(1.0, []) == []
    # uav9 appears but is taken by a higher-priority mission, then drops out of the picture.
    assert assigned(d.tick(20.0, [vehicle("uav9", 0)])) == {"blocker": "uav9"}
    d.cancel("blocker", "ops", "test", now=21.0)
    assert d.tick(40.0, []) == []
    assert d.tick(70.0, []) == []
    assert [type(x) for x in d.tick(71.0, [])] == [Fail]


def test_a_mission_whose_energy_never_fits_its_pinned_vehicle_fails_naming_it() -> None:
    d = Dispatcher()
    d.submit(pinned("m", "small", need=demand(energy_wh=95.0, reserve_wh=10.0)), now=0.0)
    fleet = [vehicle("small", 0, capacity_wh=100.0), vehicle("big", 0, capacity_wh=400.0,
                                                            energy_wh=400.0)]
    [fail] = d.tick(1.0, fleet)
    assert fail == Fail("m", None, "pinned vehicle small can never fly it: the mission needs "
                                   "105.0 Wh with its reserve, the battery holds 100.0 Wh "
                                   "when full")
    assert d.get("m").state is S.FAILED


def test_a_mission_longer_than_its_pinned_vehicle_reaches_fails_naming_it() -> None:
    d = Dispatcher()
    d.submit(pinned("m", "short", need=demand(distance_m=12_000.0)), now=0.0)
    [fail] = d.tick(1.0, [vehicle("short", 0, max_range_m=10_000.0)])
    assert isinstance(fail, Fail)
    assert fail.reason == ("pinned vehicle short can never fly it: the mission is 12.00 km "
                           "long, the vehicle reaches 10.00 km when full")


def test_a_pinned_vehicle_short_of_energy_charges_first_for_its_mission() -> None:
    d = Dispatcher()
    # 60 Wh + 10 Wh reserve; "low" has 30 Wh at 0 m, "full" could fly it at once.
    d.submit(pinned("m", "low", need=demand(energy_wh=60.0)), now=0.0)
    [charge] = d.tick(1.0, [vehicle("low", 0, energy_wh=30.0), vehicle("full", 100)])
    assert charge == ChargeFirst("low", "m", 70.0)
    assert d.reservation("m") == "low"
    assert d.waiting_reasons == {"m": "pinned to low, which is charging for this mission first"}
    # On the pad: still waiting, and "full" is not given the mission.
    assert d.tick(2.0, [vehicle("low", 0, energy_wh=30.0, status=OperatingStatus.CHARGING),
                        vehicle("full", 100)], busy={"low"}) == []
    assert d.waiting_reasons == {"m": "pinned to low, which is charging for this mission first"}
    assert assigned(d.tick(3.0, [vehicle("low", 0, energy_wh=95.0),
                                 vehicle("full", 100)])) == {"m": "low"}
    assert d.reservation("m") is None


def test_a_pinned_vehicle_back_from_the_pad_still_short_charges_again() -> None:
    d = Dispatcher()
    d.submit(pinned("m", "low", need=demand(energy_wh=60.0)), now=0.0)
    d.tick(1.0, [vehicle("low", 0, energy_wh=30.0)])
    [charge] = d.tick(2.0, [vehicle("low", 0, energy_wh=50.0)])
    assert charge == ChargeFirst("low", "m", 70.0)


def test_a_pinned_survey_waits_for_its_vehicle_to_charge_rather_than_go_to_another() -> None:
    d = Dispatcher(splitter=never_split)
    big = demand(energy_wh=80.0, distance_m=8_000.0, splittable=True)
    d.submit(pinned("survey", "v1", need=big), now=0.0)
    fleet = [vehicle("v1", 0, energy_wh=50.0), *(vehicle(f"w{i}", 10.0 * i) for i in range(5))]
    assert d.tick(1.0, fleet) == [ChargeFirst("v1", "survey", 90.0)]
    assert d.get("survey").children == ()


def test_a_pinned_survey_too_big_for_its_vehicle_even_full_fails_unsplit() -> None:
    d = Dispatcher(splitter=never_split)
    huge = demand(energy_wh=250.0, distance_m=9_000.0, splittable=True)
    d.submit(pinned("survey", "v1", need=huge), now=0.0)
    fleet = [vehicle("v1", 0), *(vehicle(f"w{i}", 10.0 * i) for i in range(5))]
    [fail] = d.tick(1.0, fleet)
    assert isinstance(fail, Fail)
    assert fail.reason.startswith("pinned vehicle v1 can never fly it: the mission needs 260.0 Wh")
    assert d.get("survey").children == ()
    assert [m for m in d.missions if "/" in m] == []


@pytest.mark.parametrize("why", list(Unavailability), ids=lambda w: w.value)
def test_a_handed_back_pinned_mission_stays_pinned_and_waits_for_its_vehicle(
        why: Unavailability) -> None:
    d = Dispatcher()
    d.submit(pinned("m", "v1"), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    d.mark_active("m", now=2.0)
    d.mark_reached("m", 4)
    [step] = d.vehicle_unavailable("v1", why, now=3.0)
    assert step.reason == f"vehicle v1 {why.value}; stays pinned to v1, waiting for it"
    record = d.get("m")
    assert (record.state, record.vehicle_id, record.pinned_vehicle_id) == (S.QUEUED, None, "v1")
    assert d.tick(4.0, [vehicle("v1", 0, fresh=False), vehicle("v2", 50)]) == []
    assert d.waiting_reasons == {"m": "pinned to v1, which is lost (no fresh telemetry)"}
    decisions = d.tick(5.0, [vehicle("v1", 0), vehicle("v2", 50)])
    assert [(x.mission_id, x.vehicle_id, x.resume_from_index) for x in decisions
            if isinstance(x, Assign)] == [("m", "v1", 5)]


def test_a_pinned_mission_sent_home_says_it_waits_for_its_vehicle() -> None:
    d = Dispatcher()
    d.submit(pinned("m", "v1"), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    step = d.hand_back("m", "v1 needs charging", actor="charging", now=2.0)
    assert step.reason == "v1 needs charging; stays pinned to v1, waiting for it"


def test_clearing_the_pin_of_a_handed_back_mission_lets_any_vehicle_take_it() -> None:
    d = Dispatcher()
    d.submit(pinned("m", "v1"), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    d.vehicle_unavailable("v1", Unavailability.MAINTENANCE, now=2.0)
    fleet = [vehicle("v1", 0, status=OperatingStatus.MAINTENANCE), vehicle("v2", 50)]
    assert d.tick(3.0, fleet) == []
    change = d.set_pin("m", None, "ops", reason="v1 stays in the workshop", now=4.0)
    assert change.summary == "vehicle pin v1 -> none"
    assert assigned(d.tick(5.0, fleet)) == {"m": "v2"}


def test_a_pin_can_be_set_and_changed_while_waiting_with_an_event_each() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    d.drain_events()
    d.set_pin("m", "v2", "ops", reason="camera on v2", now=1.0)
    d.set_pin("m", "v3", "ops", reason="v2 grounded", now=2.0)
    events = d.drain_events()
    assert [(e.summary, e.actor, e.reason) for e in events if isinstance(e, Modification)] == [
        ("vehicle pin none -> v2", "ops", "camera on v2"),
        ("vehicle pin v2 -> v3", "ops", "v2 grounded")]
    assert len(events) == 2
    fleet = [vehicle("v1", 0), vehicle("v2", 100), vehicle("v3", 200)]
    assert assigned(d.tick(3.0, fleet)) == {"m": "v3"}


def test_a_planned_mission_can_be_pinned_before_its_time() -> None:
    d = Dispatcher()
    d.submit(mission("later", scheduled_at=100.0), now=0.0)
    d.set_pin("later", "v2", "ops", now=1.0)
    assert assigned(d.tick(100.0, [vehicle("v1", 0), vehicle("v2", 500)])) == {"later": "v2"}


def test_re_pinning_releases_a_charge_reserved_on_the_old_vehicle() -> None:
    d = Dispatcher()
    d.submit(pinned("m", "low", need=demand(energy_wh=60.0)), now=0.0)
    d.tick(1.0, [vehicle("low", 0, energy_wh=30.0), vehicle("full", 100)])
    assert d.reservation("m") == "low"
    d.set_pin("m", "full", "ops", now=2.0)
    assert d.reservation("m") is None
    assert d.vehicles_in_use() == {}
    fleet = [vehicle("low", 0, energy_wh=30.0), vehicle("full", 100)]
    assert assigned(d.tick(3.0, fleet, busy={"low"})) == {"m": "full"}


def test_a_pin_cannot_change_once_the_mission_has_its_vehicle() -> None:
    d = Dispatcher()
    d.submit(pinned("m", "v1"), now=0.0)
    d.tick(1.0, [vehicle("v1", 0)])
    with pytest.raises(DispatchError, match="'m' is assigned: its vehicle pin can change only "
                                            "while it is planned or queued"):
        d.set_pin("m", "v2", "ops", now=2.0)
    d.mark_active("m", now=3.0)
    with pytest.raises(DispatchError, match="'m' is active"):
        d.set_pin("m", None, "ops", now=4.0)
    d.mark_completed("m", now=5.0)
    with pytest.raises(DispatchError, match="'m' is completed"):
        d.set_pin("m", None, "ops", now=6.0)
    assert d.get("m").pinned_vehicle_id == "v1"


BAD_PINS = ["", " uav3", "uav 3", "3uav", "uav3\n", "../uav3", "uav-3", "u" * 65, 3]


@pytest.mark.parametrize("bad", BAD_PINS, ids=repr)
def test_a_bad_pin_is_rejected_naming_it(bad: object) -> None:
    with pytest.raises(DispatchError, match=f"pinned vehicle id must be None or match .* "
                                            f"\\(like uav3\\), got {re.escape(repr(bad))}$"):
        pinned("m", bad)  # type: ignore[arg-type]
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    with pytest.raises(DispatchError, match="pinned vehicle id must be None or match"):
        d.set_pin("m", bad, "ops", now=1.0)  # type: ignore[arg-type]
    assert d.get("m").pinned_vehicle_id is None
    assert d.get("m").modifications == []


def test_a_good_pin_is_kept_verbatim() -> None:
    assert pinned("m", "UAV_3b").pinned_vehicle_id == "UAV_3b"
    assert pinned("m", None).pinned_vehicle_id is None


def test_a_negative_pin_grace_is_rejected() -> None:
    with pytest.raises(DispatchError, match=r"pin_grace_s must be finite and >= 0, got -1\.0"):
        DispatcherConfig(pin_grace_s=-1.0)


def test_a_pinned_emergency_preempts_a_lower_priority_mission_on_its_vehicle() -> None:
    d = Dispatcher()
    d.submit(mission("low", 2), now=0.0)
    d.submit(mission("lower", 1), now=0.0)
    d.tick(1.0, [vehicle("v1", 0), vehicle("v2", 3000)])
    assert (d.get("low").vehicle_id, d.get("lower").vehicle_id) == ("v1", "v2")
    for m in ("low", "lower"):
        d.mark_active(m, now=2.0)
    d.mark_reached("low", 2)
    d.submit(pinned("sos", "v1", 10, kind=MissionKind.EMERGENCY), now=3.0)
    # Unpinned, it would take v2 (the lowest priority); pinned, it takes v1 only.
    assert d.tick(4.0, [flying("v1", 0), flying("v2", 3000)]) == [Preempt("low", "v1", "sos", 3)]
    assert d.get("sos").vehicle_id == "v1"
    assert d.get("low").history[-1].reason == "preempted by sos"


def test_a_pinned_emergency_never_preempts_another_vehicle() -> None:
    d = Dispatcher()
    d.submit(mission("rescue", 10), now=0.0)
    d.submit(mission("low", 1), now=0.0)
    d.tick(1.0, [vehicle("v1", 0), vehicle("v2", 100)])
    assert (d.get("rescue").vehicle_id, d.get("low").vehicle_id) == ("v1", "v2")
    d.submit(pinned("sos", "v1", 10, kind=MissionKind.EMERGENCY), now=2.0)
    assert d.tick(3.0, [flying("v1", 0), flying("v2", 100)]) == []
    assert d.waiting_reasons == {"sos": "pinned to v1, which is busy with mission rescue"}
    assert d.get("low").state is S.ASSIGNED


def test_a_preempted_pinned_mission_waits_for_its_own_vehicle() -> None:
    d = Dispatcher()
    d.submit(pinned("low", "v1", 2), now=0.0)
    d.tick(1.0, [vehicle("v1", 0), vehicle("v2", 50)])
    d.mark_active("low", now=2.0)
    d.submit(mission("sos", 10, kind=MissionKind.EMERGENCY, need=demand(10.0)), now=3.0)
    assert d.tick(4.0, [flying("v1", 0), flying("v2", 50)]) == [Preempt("low", "v1", "sos", 0)]
    assert d.get("low").history[-1].reason == "preempted by sos; stays pinned to v1, waiting " \
                                              "for it"
    assert d.tick(5.0, [flying("v1", 0), vehicle("v3", 10)]) == []
    assert d.waiting_reasons == {"low": "pinned to v1, which is busy with mission sos"}
