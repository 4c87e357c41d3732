"""The merger turns a vehicle's MAVROS topics into one row per fix, without stale values."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta

import pytest

from fleet_db.merge import (
    BatteryReading,
    RejectedValueError,
    SampleMerger,
    battery_from_mavros,
    battery_to_mavros,
)

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_every_fix_emits_one_row_with_its_position_and_stamp() -> None:
    merger = SampleMerger()
    rows = [merger.on_fix("uav1", at(i), 47.0 + i * 1e-5, 8.5, 500.0) for i in range(3)]
    assert [r.time for r in rows if r is not None] == [at(0), at(1), at(2)]
    assert rows[2] is not None
    assert (rows[2].vehicle_id, rows[2].latitude, rows[2].longitude,
            rows[2].altitude_amsl) == ("uav1", 47.00002, 8.5, 500.0)


def test_a_fix_before_any_other_topic_has_every_other_value_unknown() -> None:
    row = SampleMerger().on_fix("uav1", at(0), 47.0, 8.5, 500.0)
    assert row is not None
    assert (row.altitude_rel, row.heading_deg, row.ground_speed_mps, row.climb_rate_mps,
            row.battery_pct, row.voltage_v, row.current_a, row.mode, row.armed,
            row.landed_state, row.mission_id) == (None,) * 11


def test_a_row_carries_the_latest_value_of_every_topic() -> None:
    merger = SampleMerger()
    merger.on_rel_alt("uav1", at(0), 10.0)
    merger.on_rel_alt("uav1", at(0.5), 12.5)
    merger.on_heading("uav1", at(0.5), 270.0)
    merger.on_velocity("uav1", at(0.5), 3.0, 4.0, -1.5)
    merger.on_battery("uav1", at(0.2), 81.0, 15.1, 9.5)
    merger.on_state("uav1", at(0.1), "AUTO.MISSION", True, True)
    merger.on_extended_state("uav1", at(0.1), 2)
    merger.set_mission("uav1", "m-7")
    row = merger.on_fix("uav1", at(1), 47.0, 8.5, 500.0)
    assert row is not None
    assert row.altitude_rel == 12.5
    assert row.heading_deg == 270.0
    assert row.ground_speed_mps == pytest.approx(5.0)
    assert row.climb_rate_mps == -1.5
    assert (row.battery_pct, row.voltage_v, row.current_a) == (81.0, 15.1, 9.5)
    assert (row.mode, row.armed, row.landed_state, row.mission_id) == (
        "AUTO.MISSION", True, 2, "m-7")


def test_values_of_one_vehicle_never_reach_another_vehicles_rows() -> None:
    merger = SampleMerger()
    merger.on_battery("uav1", at(0), 50.0)
    merger.set_mission("uav1", "m-1")
    row = merger.on_fix("uav2", at(1), 47.0, 8.5, 500.0)
    assert row is not None
    assert (row.battery_pct, row.mission_id) == (None, None)


def test_values_older_than_max_age_are_dropped_not_carried_forever() -> None:
    merger = SampleMerger(max_age=timedelta(seconds=5))
    merger.on_battery("uav1", at(0), 80.0, 15.0, 10.0)
    merger.on_rel_alt("uav1", at(0), 10.0)
    merger.on_rel_alt("uav1", at(4), 11.0)
    fresh = merger.on_fix("uav1", at(5), 47.0, 8.5, 500.0)
    stale = merger.on_fix("uav1", at(5.001), 47.0, 8.5, 500.0)
    assert fresh is not None
    assert stale is not None
    assert (fresh.battery_pct, fresh.altitude_rel) == (80.0, 11.0)  # exactly max_age is fresh
    assert (stale.battery_pct, stale.voltage_v, stale.current_a) == (None, None, None)
    assert stale.altitude_rel == 11.0


def test_the_mission_tag_is_never_stale_and_can_be_cleared() -> None:
    merger = SampleMerger(max_age=timedelta(seconds=1))
    merger.set_mission("uav1", "m-1")
    tagged = merger.on_fix("uav1", at(3600), 47.0, 8.5, 500.0)
    merger.set_mission("uav1", None)
    untagged = merger.on_fix("uav1", at(3601), 47.0, 8.5, 500.0)
    assert tagged is not None
    assert untagged is not None
    assert (tagged.mission_id, untagged.mission_id) == ("m-1", None)


def test_a_repeated_fix_stamp_emits_no_second_row() -> None:
    merger = SampleMerger()
    assert merger.on_fix("uav1", at(1), 47.0, 8.5, 500.0) is not None
    assert merger.on_fix("uav1", at(1), 47.0, 8.5, 500.0) is None


def test_nan_means_unknown_and_replaces_an_older_value() -> None:
    merger = SampleMerger()
    merger.on_heading("uav1", at(0), 90.0)
    merger.on_heading("uav1", at(0.5), math.nan)  # MAVROS: compass_hdg NaN if unknown
    merger.on_velocity("uav1", at(0.5), math.nan, 1.0, 2.0)
    row = merger.on_fix("uav1", at(1), 47.0, 8.5, math.nan)
    assert row is not None
    assert (row.heading_deg, row.ground_speed_mps, row.climb_rate_mps,
            row.altitude_amsl) == (None, None, 2.0, None)


def test_a_lost_link_makes_mode_and_armed_unknown() -> None:
    merger = SampleMerger()
    merger.on_state("uav1", at(0), "AUTO.LOITER", True, True)
    merger.on_state("uav1", at(0.5), "", False, False)
    row = merger.on_fix("uav1", at(1), 47.0, 8.5, 500.0)
    assert row is not None
    assert (row.mode, row.armed) == (None, None)


def test_an_empty_mode_while_connected_is_unknown_but_armed_is_kept() -> None:
    merger = SampleMerger()
    merger.on_state("uav1", at(0), "", False, True)
    row = merger.on_fix("uav1", at(1), 47.0, 8.5, 500.0)
    assert row is not None
    assert (row.mode, row.armed) == (None, False)


@pytest.mark.parametrize("landed_state", [0, 1, 2, 3, 4])
def test_every_mav_landed_state_is_carried(landed_state: int) -> None:
    merger = SampleMerger()
    merger.on_extended_state("uav1", at(0), landed_state)
    row = merger.on_fix("uav1", at(0.1), 47.0, 8.5, 500.0)
    assert row is not None
    assert row.landed_state == landed_state


def test_an_unknown_landed_state_is_rejected_naming_it() -> None:
    with pytest.raises(RejectedValueError, match="landed_state 9 of uav1"):
        SampleMerger().on_extended_state("uav1", at(0), 9)


def test_battery_state_percentage_is_converted_from_0_1_to_0_100() -> None:
    reading = battery_from_mavros(0.42, 15.3, -12.5)
    assert reading.percent == pytest.approx(42.0)
    assert reading.voltage_v == 15.3
    assert reading.current_a == 12.5  # sensor_msgs: negative while discharging


def test_battery_state_nan_fields_become_unknown() -> None:
    assert battery_from_mavros(math.nan, math.nan, math.nan) == BatteryReading(None, None, None)


def test_battery_conversion_round_trips() -> None:
    back = battery_from_mavros(*battery_to_mavros(BatteryReading(66.0, 14.8, 20.0)))
    assert back.percent == pytest.approx(66.0)
    assert (back.voltage_v, back.current_a) == (14.8, 20.0)


def test_a_battery_percent_outside_0_100_is_rejected_with_a_hint_at_the_0_1_scale() -> None:
    merger = SampleMerger()
    with pytest.raises(RejectedValueError, match=r"battery percent 120\.0 of uav1.*0\.\.100"):
        merger.on_battery("uav1", at(0), 120.0)


@pytest.mark.parametrize(
    ("latitude", "longitude", "match"),
    [(91.0, 8.5, "out of range"), (math.nan, 8.5, "not finite"), (47.0, 181.0, "out of range")],
    ids=["latitude-91", "latitude-nan", "longitude-181"])
def test_a_fix_with_an_impossible_position_is_rejected(latitude: float, longitude: float,
                                                       match: str) -> None:
    with pytest.raises(RejectedValueError, match=match):
        SampleMerger().on_fix("uav1", at(0), latitude, longitude, 500.0)


def test_a_fix_stamped_in_the_future_is_rejected() -> None:
    future = datetime.now(UTC) + timedelta(minutes=5)
    with pytest.raises(RejectedValueError, match="in the future"):
        SampleMerger().on_fix("uav1", future, 47.0, 8.5, 500.0)


def test_a_stamp_without_a_time_zone_is_rejected() -> None:
    with pytest.raises(RejectedValueError, match="has no time zone"):
        SampleMerger().on_rel_alt("uav1", datetime(2026, 5, 1, 12), 10.0)


def test_a_heading_outside_0_360_is_rejected() -> None:
    with pytest.raises(RejectedValueError, match=r"heading 400\.0"):
        SampleMerger().on_heading("uav1", at(0), 400.0)


def test_max_age_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_age must be positive"):
        SampleMerger(max_age=timedelta(0))


def test_concurrent_updates_and_fixes_lose_no_row() -> None:
    merger = SampleMerger()
    rows: list[object] = []

    def fixes(vehicle: str) -> None:
        for i in range(2000):
            rows.append(merger.on_fix(vehicle, at(i * 0.01), 47.0, 8.5, 500.0))

    def batteries(vehicle: str) -> None:
        for i in range(2000):
            merger.on_battery(vehicle, at(i * 0.01), 50.0, 15.0, 1.0)

    threads = [threading.Thread(target=f, args=(v,)) for v in ("uav1", "uav2")
               for f in (fixes, batteries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(rows) == 4000
    assert all(r is not None for r in rows)
    assert merger.vehicles() == ["uav1", "uav2"]
