"""The queue serves priority first, then scheduled time, then submission order."""

from __future__ import annotations

import pytest

from fleet_core.dispatch.errors import DispatchError
from fleet_core.dispatch.queue import MissionQueue

from .helpers import mission


def test_higher_priority_comes_first() -> None:
    q = MissionQueue()
    for mission_id, priority in [("low", 2), ("high", 9), ("mid", 5)]:
        q.push(mission(mission_id, priority), now=0.0)
    assert [r.mission_id for r in q.ordered()] == ["high", "mid", "low"]


def test_equal_priority_is_served_by_scheduled_time() -> None:
    q = MissionQueue()
    q.push(mission("later", scheduled_at=50.0), now=0.0)
    q.push(mission("sooner", scheduled_at=20.0), now=0.0)
    assert [r.mission_id for r in q.ordered()] == ["sooner", "later"]


def test_equal_priority_and_time_is_served_in_submission_order() -> None:
    q = MissionQueue()
    for mission_id in ["c", "a", "b"]:
        q.push(mission(mission_id), now=10.0)
    assert [r.mission_id for r in q.ordered()] == ["c", "a", "b"]


def test_missions_scheduled_in_the_future_wait() -> None:
    q = MissionQueue()
    q.push(mission("now"), now=0.0)
    q.push(mission("future", 10, scheduled_at=100.0), now=0.0)
    assert [r.mission_id for r in q.due(50.0)] == ["now"]
    assert [r.mission_id for r in q.due(100.0)] == ["future", "now"]


def test_a_priority_change_re_sorts_the_queue() -> None:
    q = MissionQueue()
    a, b = mission("a", 5), mission("b", 5)
    q.push(a, now=0.0)
    q.push(b, now=0.0)
    b.priority = 6
    assert [r.mission_id for r in q.ordered()] == ["b", "a"]


def test_a_mission_pushed_back_keeps_its_first_slot() -> None:
    q = MissionQueue()
    first, second = mission("first"), mission("second")
    q.push(first, now=0.0)
    q.remove("first")
    q.push(second, now=5.0)
    q.push(first, now=10.0)
    assert [r.mission_id for r in q.ordered()] == ["first", "second"]


def test_queueing_twice_or_removing_a_stranger_is_an_error() -> None:
    q = MissionQueue()
    q.push(mission("a"), now=0.0)
    with pytest.raises(DispatchError, match="'a' is already queued"):
        q.push(mission("a"), now=0.0)
    with pytest.raises(DispatchError, match="'zz' is not queued"):
        q.remove("zz")
