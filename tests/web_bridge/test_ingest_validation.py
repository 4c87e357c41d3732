"""Ingested samples are checked one by one: each problem names the field, the good ones pass."""

from __future__ import annotations

import math
from typing import Any

import pytest

from web_bridge.ingest import (
    MAX_AGE_S,
    MAX_FUTURE_S,
    SampleError,
    check_batch,
    parse_sample,
    parse_stamp,
)

NOW = 1_750_000_000.0


def sample(stamp: Any = NOW - 10, **changes: Any) -> dict[str, Any]:
    """Return a well-formed sample of uav9 with ``changes`` (None removes a field)."""
    s: dict[str, Any] = {"vehicle_id": "uav9", "stamp": stamp, "latitude": 47.398,
                         "longitude": 8.546, "altitude": 488.0, "armed": True,
                         "mode": "AUTO.MISSION", "relative_altitude": 30.0, "heading": 90.0,
                         "ground_speed": 5.0, "climb_rate": 0.5, "battery_percent": 80.0,
                         "voltage": 15.8, "current": 12.0, "landed_state": "in_air"}
    s.update(changes)
    return {k: v for k, v in s.items() if v is not None}


def test_a_well_formed_sample_is_parsed_with_its_units() -> None:
    s = parse_sample(sample(home={"latitude": 47.4, "longitude": 8.5, "altitude": 480.0},
                            charging=False, sensors_healthy=True, position_ok=True))
    assert (s.latitude, s.longitude, s.altitude) == (47.398, 8.546, 488.0)
    assert s.landed_state == "in_air"
    assert s.home is not None
    assert s.home.altitude == 480.0


@pytest.mark.parametrize(("value", "expected"), [
    (1_750_000_000, 1_750_000_000.0),
    (1_750_000_000.25, 1_750_000_000.25),
    ("2025-06-15T15:06:40Z", 1_750_000_000.0),
    ("2025-06-15T17:06:40.5+02:00", 1_750_000_000.5),
], ids=["posix-int", "posix-float", "iso-utc", "iso-offset"])
def test_stamps_are_posix_seconds_or_iso_8601_with_a_zone(value: Any, expected: float) -> None:
    assert parse_stamp(value) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "match"), [
    ("2025-06-15T15:06:40", "has no time zone"),
    ("yesterday", "not an ISO-8601 time"),
    (1_750_000_000_000, "looks like milliseconds"),
    (12.0, "not between 2000 and 2100"),
    (True, "neither POSIX seconds nor ISO-8601"),
    (math.nan, "not a number"),
], ids=["naive", "words", "milliseconds", "1970", "bool", "nan"])
def test_a_bad_stamp_says_what_is_wrong_with_it(value: Any, match: str) -> None:
    with pytest.raises(SampleError, match=match):
        parse_stamp(value)


@pytest.mark.parametrize(("changes", "problem"), [
    ({"latitude": 91.0}, "latitude 91.0: Input should be less than or equal to 90"),
    ({"longitude": -181}, "longitude -181: Input should be greater than or equal to -180"),
    ({"altitude": 50_000.0}, "altitude 50000.0"),
    ({"relative_altitude": -5000.0}, "relative_altitude -5000.0"),
    ({"heading": 361.0}, "heading 361.0: Input should be less than or equal to 360"),
    ({"ground_speed": -1.0}, "ground_speed -1.0: Input should be greater than or equal to 0"),
    ({"ground_speed": 340.0}, "ground_speed 340.0: Input should be less than or equal to 100"),
    ({"battery_percent": 101.0}, "battery_percent 101.0"),
    ({"voltage": -1.0}, "voltage -1.0"),
    ({"current": 1e6}, "current 1000000.0"),
    ({"armed": "yes"}, "armed 'yes': Input should be a valid boolean"),
    ({"mode": ""}, "mode '': String should match pattern"),
    ({"landed_state": "flying"}, "landed_state 'flying'"),
    ({"latitude": "47.4"}, "latitude '47.4': Input should be a valid number"),
    ({"latitude": math.inf}, "latitude inf: Input should be a finite number"),
    ({"mode": None}, "mode is required"),
    ({"stamp": None}, "stamp is required"),
    ({"vehicle_id": "9lives"}, "vehicle_id '9lives': String should match pattern"),
    ({"speed": 3.0}, "speed is not a known field"),
    ({"home": {"latitude": 47.0}}, "home.longitude is required; home.altitude is required"),
    ({"heading": None, "course": None}, "ground_speed needs a course or a heading"),
    ({"stamp": "2025-06-15T15:06:40"}, "stamp '2025-06-15T15:06:40' has no time zone"),
], ids=lambda v: str(v)[:40])
def test_a_bad_field_is_named_with_its_value_and_the_rule(changes: dict[str, Any],
                                                          problem: str) -> None:
    with pytest.raises(SampleError) as raised:
        parse_sample(sample(**changes))
    assert problem in str(raised.value)


def test_every_bad_field_of_a_sample_is_named_at_once() -> None:
    with pytest.raises(SampleError, match=r"heading 400.0: .*; battery_percent -1.0: "):
        parse_sample(sample(heading=400.0, battery_percent=-1.0))


def test_a_landed_state_may_be_its_mavlink_number() -> None:
    assert parse_sample(sample(landed_state=1)).landed_state == "on_ground"


def test_the_good_samples_of_a_batch_are_kept_and_the_bad_ones_named_by_index() -> None:
    batch = [sample(NOW - 3), sample(NOW - 2, latitude=95.0), "not a sample",
             sample(NOW - 1), sample(NOW - 1), sample(NOW, vehicle_id="uav8")]
    checked = check_batch(batch, "uav9", None, NOW)
    assert [i for i, _ in checked.accepted] == [0, 3]
    problems = {r.index: r.problem for r in checked.rejected}
    assert sorted(problems) == [1, 2, 4, 5]
    assert problems[1].startswith("latitude 95.0")
    assert problems[2] == "sample is a JSON str, not an object"
    assert "is not after the previous accepted sample's" in problems[4]
    assert problems[5] == "vehicle_id 'uav8' is not this key's vehicle 'uav9'"


def test_a_stamp_must_follow_the_vehicles_last_accepted_one() -> None:
    checked = check_batch([sample(NOW - 5), sample(NOW - 4)], "uav9", NOW - 4.5, NOW)
    assert [i for i, _ in checked.accepted] == [1]
    assert "not after the previous accepted sample's" in checked.rejected[0].problem


def test_stamps_must_increase_after_a_rejected_sample_too() -> None:
    # The sample between is refused, so the third is compared with the first.
    checked = check_batch([sample(NOW - 5), sample(NOW - 3, heading=999.0),
                           sample(NOW - 4)], "uav9", None, NOW)
    assert [i for i, _ in checked.accepted] == [0, 2]


@pytest.mark.parametrize(("offset", "accepted"), [
    (MAX_FUTURE_S - 0.5, True), (MAX_FUTURE_S + 0.5, False),
    (-MAX_AGE_S + 60, True), (-MAX_AGE_S - 60, False),
], ids=["slightly-ahead", "too-far-ahead", "old", "too-old"])
def test_a_stamp_may_be_a_little_ahead_of_our_clock_but_not_far(offset: float,
                                                                 accepted: bool) -> None:
    checked = check_batch([sample(NOW + offset)], "uav9", None, NOW)
    assert bool(checked.accepted) is accepted
    if not accepted:
        assert ("in the future" in checked.rejected[0].problem
                or "old" in checked.rejected[0].problem)


def test_an_empty_batch_accepts_nothing_and_rejects_nothing() -> None:
    checked = check_batch([], "uav9", None, NOW)
    assert checked.accepted == []
    assert checked.rejected == []


def test_a_null_field_means_not_measured() -> None:
    s = {**sample(), "heading": None, "course": 180.0, "battery_percent": None}
    parsed = parse_sample(s)
    assert parsed.heading is None
    assert parsed.battery_percent is None
    with pytest.raises(SampleError, match=r"^mode is required$"):
        parse_sample({**sample(), "mode": None})
