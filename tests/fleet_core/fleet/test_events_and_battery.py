"""Events open once and resolve once; the battery policy warns, returns or lands."""

from __future__ import annotations

import math

import pytest

from fleet_core.fleet.battery import BatteryAction, BatteryPolicy
from fleet_core.fleet.events import EventBook, EventSeverity, EventType


def test_an_open_problem_is_reported_once_and_resolved_once() -> None:
    book = EventBook()
    key = ("link", "uav0")
    first = book.open(key, type_=EventType.LINK_LOST, vehicle_ids=("uav0",),
                      severity=EventSeverity.WARNING, now=1.0)
    assert first is not None
    assert book.open(key, type_=EventType.LINK_LOST, vehicle_ids=("uav0",),
                     severity=EventSeverity.WARNING, now=2.0) is None
    done = book.resolve(key, 3.0, "link restored")
    assert done is not None
    assert (done.event_id, done.resolved, done.resolution) == (first.event_id, True,
                                                                "link restored")
    assert book.resolve(key, 4.0, "again") is None


def test_a_rising_severity_reissues_the_same_event() -> None:
    book = EventBook()
    a = book.open(("bat", "uav0"), type_=EventType.LOW_BATTERY, vehicle_ids=("uav0",),
                  severity=EventSeverity.WARNING, now=1.0)
    b = book.open(("bat", "uav0"), type_=EventType.LOW_BATTERY, vehicle_ids=("uav0",),
                  severity=EventSeverity.CRITICAL, now=2.0)
    assert a is not None
    assert b is not None
    assert (b.event_id, b.severity) == (a.event_id, EventSeverity.CRITICAL)


POLICY = BatteryPolicy(warning_percent=30, critical_percent=20, reserve_percent=5)


@pytest.mark.parametrize(("percent", "airborne", "distance", "action"), [
    (80.0, True, 100.0, BatteryAction.NONE),
    (math.nan, True, 100.0, BatteryAction.NONE),
    (25.0, True, 100.0, BatteryAction.WARN),
    (15.0, False, 100.0, BatteryAction.WARN),
    (15.0, True, 500.0, BatteryAction.RETURN),
    (15.0, True, 2000.0, BatteryAction.LAND),
], ids=["full", "unknown", "warning", "critical-on-ground", "critical-home-in-reach",
        "critical-home-out-of-reach"])
def test_battery_policy(percent: float, airborne: bool, distance: float,
                        action: BatteryAction) -> None:
    # 10 km full range: 10 % usable above the reserve reaches 1 km.
    assert POLICY.decide(percent, airborne, distance, 10_000.0) is action


def test_battery_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="reserve < critical < warning"):
        BatteryPolicy(warning_percent=10, critical_percent=20)
