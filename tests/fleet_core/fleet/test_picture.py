"""The reported picture: statuses counted, republished when one changes, health reports
for /diagnostics, and trails that grow only when a vehicle moves."""

from __future__ import annotations

import math

from fleet_core.fleet.model import (
    LivenessThresholds,
    OperatingStatus,
    RejectReason,
    VehicleSpec,
    VehicleState,
)
from fleet_core.fleet.picture import (
    DiagnosticLevel,
    StatusWatch,
    Trails,
    VehicleView,
    counts_by_status,
    fleet_report,
    vehicle_report,
)
from fleet_core.geo import GeoPoint, LocalFrame

TH = LivenessThresholds(stale_after_s=3.0, lost_after_s=10.0)
FRAME = LocalFrame.at(GeoPoint(47.3977, 8.5456, 488.0))


def heard(vid: str, at: float = 100.0) -> VehicleState:
    v = VehicleState(VehicleSpec(vid, f"/{vid}/mavros"), connected=True, mode="AUTO.LOITER",
                     battery_percent=87.25)
    v.touch(at)
    v.position, v.position_time = FRAME.to_geo(0.0, 0.0, 0.0), at
    return v


def test_vehicles_are_counted_by_status() -> None:
    idle, serviced = heard("a"), heard("b")
    serviced.maintenance = True
    views = [VehicleView.at(v, 100.0, TH) for v in (idle, serviced, heard("c"))]
    counts = counts_by_status(views)
    assert len(counts) == len(OperatingStatus)
    assert (counts[OperatingStatus.IDLE], counts[OperatingStatus.MAINTENANCE]) == (2, 1)


def test_a_changed_status_is_noticed_until_it_is_published() -> None:
    fleet = {"a": heard("a")}
    watch = StatusWatch()
    assert watch.changed(fleet, 100.0, TH)  # never published
    watch.published([VehicleView.at(fleet["a"], 100.0, TH)])
    assert not watch.changed(fleet, 101.0, TH)
    assert watch.changed(fleet, 111.0, TH)  # lost: offline


def test_a_healthy_fresh_vehicle_reports_ok_with_its_figures() -> None:
    v = heard("uav0")
    v.reject(RejectReason.NOT_FINITE)
    report = vehicle_report(VehicleView.at(v, 100.0, TH))
    assert (report.level, report.name, report.hardware_id, report.message) == (
        DiagnosticLevel.OK, "fleet_manager: uav0", "uav0", "idle, fresh")
    assert dict(report.values) == {"mode": "AUTO.LOITER", "battery_percent": "87.2",
                                   "gps_ok": "True", "estimator_ok": "True",
                                   "sensors_ok": "True", "rejected_samples": "1"}


def test_a_stale_or_unhealthy_vehicle_is_a_warning_and_a_lost_one_is_stale() -> None:
    v = heard("uav0")
    assert vehicle_report(VehicleView.at(v, 104.0, TH)).level is DiagnosticLevel.WARN
    assert vehicle_report(VehicleView.at(v, 111.0, TH)).level is DiagnosticLevel.STALE
    v.motors_ok = False
    assert vehicle_report(VehicleView.at(v, 100.0, TH)).level is DiagnosticLevel.WARN


def test_the_fleet_report_sums_the_ignored_samples() -> None:
    a, b = heard("a"), heard("b")
    a.reject(RejectReason.OUT_OF_RANGE)
    b.reject(RejectReason.FUTURE_STAMP)
    b.reject(RejectReason.FUTURE_STAMP)
    report = fleet_report({"a": a, "b": b}, commands_in_flight=3, no_fly_zones=1)
    assert (report.level, report.name, report.message) == (DiagnosticLevel.OK,
                                                           "fleet_manager", "2 vehicles")
    assert dict(report.values) == {"vehicles": "2", "rejected_samples": "3",
                                   "commands_in_flight": "3", "no_fly_zones": "1"}


def test_a_trail_grows_only_when_the_vehicle_moved_and_keeps_its_newest_points() -> None:
    trails = Trails(FRAME, length=3)
    v = heard("uav0")
    for east in (0.0, 0.2, 1.0, 2.0, 3.0):
        v.position = FRAME.to_geo(east, 0.0, 10.0)
        trails.record(v)
    points = list(trails.points["uav0"])
    assert [round(p[0], 3) for p in points] == [1.0, 2.0, 3.0]
    assert math.isclose(points[0][2], 10.0, abs_tol=1e-6)
    trails.forget("uav0")
    assert "uav0" not in trails.points


def test_a_vehicle_without_a_position_has_no_trail() -> None:
    trails = Trails(FRAME)
    trails.record(VehicleState(VehicleSpec("uav0", "/uav0/mavros")))
    assert dict(trails.points) == {}
