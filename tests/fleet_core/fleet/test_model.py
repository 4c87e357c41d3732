"""A vehicle's status and liveness follow its telemetry; garbage telemetry is recognised."""

from __future__ import annotations

import math

import pytest

from fleet_core.fleet.model import (
    Liveness,
    LivenessThresholds,
    OperatingStatus,
    RejectReason,
    TelemetryLimits,
    VehicleSpec,
    VehicleState,
    check_battery,
    check_position,
    check_stamp,
)
from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.mavlink import LandedState

TH = LivenessThresholds(stale_after_s=3.0, lost_after_s=10.0)
HOME = GeoPoint(47.3977, 8.5456, 488.0)


def seen(at: float = 100.0, **kw: object) -> VehicleState:
    s = VehicleState(VehicleSpec("uav0", "/uav0/mavros", max_speed=15.0), connected=True, **kw)
    s.touch(at)
    return s


@pytest.mark.parametrize(("age", "expected"), [
    (0.0, Liveness.FRESH), (2.9, Liveness.FRESH), (3.0, Liveness.STALE),
    (9.9, Liveness.STALE), (10.0, Liveness.LOST)])
def test_liveness_follows_the_age_of_the_newest_sample(age: float, expected: Liveness) -> None:
    assert seen(100.0).liveness(100.0 + age, TH) is expected


def test_a_vehicle_whose_mavros_reports_disconnected_is_lost_at_once() -> None:
    s = seen(100.0)
    s.connected = False
    assert s.liveness(100.0, TH) is Liveness.LOST
    assert s.status(100.0, TH) is OperatingStatus.OFFLINE


def test_a_vehicle_never_heard_from_is_unknown() -> None:
    s = VehicleState(VehicleSpec("uav0", "/uav0/mavros"))
    assert s.status(0.0, TH) is OperatingStatus.UNKNOWN


@pytest.mark.parametrize(("kw", "expected"), [
    ({"landed_state": LandedState.ON_GROUND}, OperatingStatus.IDLE),
    ({"landed_state": LandedState.IN_AIR, "armed": True, "mode": "AUTO.MISSION"},
     OperatingStatus.IN_MISSION),
    ({"landed_state": LandedState.IN_AIR, "armed": True, "mode": "AUTO.RTL"},
     OperatingStatus.RETURNING),
    ({"landed_state": LandedState.ON_GROUND, "battery_charging": True}, OperatingStatus.CHARGING),
    ({"landed_state": LandedState.IN_AIR, "maintenance": True}, OperatingStatus.MAINTENANCE),
], ids=["idle", "in-mission", "returning", "charging", "maintenance-wins"])
def test_status_is_derived_from_the_state(kw: dict[str, object], expected: OperatingStatus) -> None:
    assert seen(**kw).status(100.0, TH) is expected


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="stale_after_s < lost_after_s"):
        LivenessThresholds(stale_after_s=5.0, lost_after_s=2.0)


class TestGarbage:
    limits = TelemetryLimits()

    @pytest.mark.parametrize(("point", "reason"), [
        (GeoPoint(math.nan, 8.5, 500), RejectReason.NOT_FINITE),
        (GeoPoint(47.0, math.inf, 500), RejectReason.NOT_FINITE),
        (GeoPoint(91.0, 8.5, 500), RejectReason.OUT_OF_RANGE),
        (GeoPoint(47.0, 8.5, 1e6), RejectReason.OUT_OF_RANGE),
    ], ids=["nan-lat", "inf-lon", "lat-91", "altitude-1000km"])
    def test_impossible_coordinates_are_rejected(self, point: GeoPoint,
                                                 reason: RejectReason) -> None:
        assert check_position(seen(), point, 100.0, self.limits) is reason

    def test_a_jump_faster_than_the_vehicle_can_fly_is_rejected(self) -> None:
        s = seen(position=HOME, position_time=100.0)
        far = LocalFrame.at(HOME).to_geo(500.0, 0.0, 0.0)
        assert check_position(s, far, 101.0, self.limits) is RejectReason.IMPOSSIBLE_JUMP
        # The same distance over a minute at 15 m/s is plausible.
        assert check_position(s, far, 160.0, self.limits) is None

    def test_a_stamp_far_in_the_future_is_rejected(self) -> None:
        assert check_stamp(200.0, 100.0, self.limits) is RejectReason.FUTURE_STAMP
        assert check_stamp(101.0, 100.0, self.limits) is None

    @pytest.mark.parametrize(("percent", "voltage", "ok"), [
        (55.0, 24.0, True), (math.nan, 24.0, True), (101.0, 24.0, False), (-3.0, 24.0, False),
        (50.0, math.inf, False), (50.0, -1.0, False)])
    def test_battery_outside_0_to_100_percent_is_rejected(self, percent: float, voltage: float,
                                                          ok: bool) -> None:
        assert (check_battery(percent, voltage) is None) is ok

    def test_rejects_are_counted_per_reason(self) -> None:
        s = seen()
        s.reject(RejectReason.NOT_FINITE)
        s.reject(RejectReason.NOT_FINITE)
        assert s.rejected == {RejectReason.NOT_FINITE: 2}


def test_gps_is_ok_only_while_fixes_keep_arriving_with_a_valid_position_estimate() -> None:
    v = seen(100.0, position=HOME, position_time=100.0)
    assert v.gps_ok(101.0, TH)
    assert not v.gps_ok(103.5, TH)  # the rest of the telemetry goes on, the fix stopped
    v.position_estimate_ok = False
    assert not v.gps_ok(101.0, TH)
    v.position_estimate_ok, v.gps_fix_ok = True, False
    assert not v.gps_ok(101.0, TH)


def test_telemetry_without_any_fix_is_no_gps_but_a_vehicle_not_heard_yet_is_not_blamed() -> None:
    assert not seen(100.0).gps_ok(100.5, TH)
    assert VehicleState(VehicleSpec("uav0", "/uav0/mavros")).gps_ok(100.0, TH)
