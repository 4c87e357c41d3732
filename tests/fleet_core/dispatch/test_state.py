"""The mission lifecycle allows exactly the moves a real system needs, and records them."""

from __future__ import annotations

import pytest

from fleet_core.dispatch.errors import DispatchError, IllegalTransitionError
from fleet_core.dispatch.state import TRANSITIONS, MissionKind, MissionRecord, MissionState

from .helpers import demand, mission

S = MissionState


@pytest.mark.parametrize(("start", "end"), [
    (S.PLANNED, S.QUEUED), (S.QUEUED, S.ASSIGNED), (S.ASSIGNED, S.ACTIVE),
    (S.ACTIVE, S.PAUSED), (S.PAUSED, S.ACTIVE), (S.ACTIVE, S.COMPLETED),
    (S.ACTIVE, S.ABORTED), (S.ACTIVE, S.FAILED), (S.PAUSED, S.FAILED),
    (S.ASSIGNED, S.QUEUED), (S.ACTIVE, S.QUEUED), (S.PAUSED, S.QUEUED),
    (S.QUEUED, S.ABORTED), (S.ASSIGNED, S.ABORTED), (S.ASSIGNED, S.FAILED),
], ids=lambda s: s.value)
def test_the_lifecycle_allows_the_moves_of_a_real_system(start: MissionState,
                                                          end: MissionState) -> None:
    assert end in TRANSITIONS[start]


@pytest.mark.parametrize(("start", "end"), [
    (S.PLANNED, S.ACTIVE), (S.QUEUED, S.ACTIVE), (S.QUEUED, S.COMPLETED),
    (S.ASSIGNED, S.COMPLETED), (S.ASSIGNED, S.PAUSED), (S.COMPLETED, S.QUEUED),
    (S.ABORTED, S.ACTIVE), (S.FAILED, S.QUEUED), (S.PAUSED, S.COMPLETED),
], ids=lambda s: s.value)
def test_an_illegal_transition_is_rejected_naming_both_states(start: MissionState,
                                                              end: MissionState) -> None:
    record = mission("m1")
    record.state = start
    with pytest.raises(IllegalTransitionError, match=f"'m1' cannot go from {start.value} "
                                                     f"to {end.value}"):
        record.transition(end, 1.0, "test", "tester")
    assert record.state is start
    assert record.history == []


def test_terminal_states_lead_nowhere() -> None:
    assert all(not TRANSITIONS[s] for s in S if s.terminal)
    assert {s for s in S if s.terminal} == {S.COMPLETED, S.ABORTED, S.FAILED}


def test_a_transition_is_recorded_with_time_reason_actor_and_vehicle() -> None:
    record = mission("m1")
    record.transition(S.QUEUED, 1.0, "submitted", "alice")
    record.vehicle_id = "uav3"
    step = record.transition(S.ASSIGNED, 2.0, "cost 12", "dispatcher")
    assert record.state is S.ASSIGNED
    assert record.history[-1] is step
    assert (step.time, step.from_state, step.to_state, step.reason, step.actor,
            step.vehicle_id) == (2.0, S.QUEUED, S.ASSIGNED, "cost 12", "dispatcher", "uav3")


def test_pausing_stamps_paused_since_and_resuming_clears_it() -> None:
    record = mission("m1")
    record.state = S.ACTIVE
    record.transition(S.PAUSED, 5.0, "hold", "op")
    assert record.paused_since == 5.0
    record.transition(S.ACTIVE, 9.0, "resume", "op")
    assert record.paused_since is None


@pytest.mark.parametrize("priority", [0, 11, -3, 5.0, True, "7"], ids=repr)
def test_a_priority_outside_one_to_ten_is_rejected(priority: object) -> None:
    with pytest.raises(DispatchError, match=r"priority must be an integer 1\.\.10"):
        MissionRecord("m1", priority, MissionKind.SURVEY, demand())  # type: ignore[arg-type]


def test_a_deadline_before_the_schedule_is_rejected() -> None:
    with pytest.raises(DispatchError, match="not_after 10 is not after scheduled_at 20"):
        mission("m1", scheduled_at=20, not_after=10)


def test_a_modification_is_logged_with_who_when_why() -> None:
    record = mission("m1")
    change = record.modify(3.0, "bob", "customer asked", "priority 5 -> 7")
    assert record.modifications == [change]
    assert (change.actor, change.time, change.reason, change.summary) == (
        "bob", 3.0, "customer asked", "priority 5 -> 7")


def test_a_demand_with_negative_energy_is_rejected() -> None:
    with pytest.raises(DispatchError, match="energy_wh must be finite and >= 0, got -1"):
        demand(energy_wh=-1.0)
