"""Fleet values become fleet_interfaces and diagnostic_msgs messages and back."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticStatus

from fleet_core.fleet.picture import DiagnosticLevel, DiagnosticReport
from fleet_interfaces.msg import MissionStatus, MissionStatusArray
from fleet_ros.fleet_convert import current_missions_from_msg, diagnostics_msg, to_time


def test_a_vehicle_is_on_the_mission_that_holds_it() -> None:
    msg = MissionStatusArray(missions=[
        MissionStatus(mission_id="m-1", vehicle_id="uav0", state="active"),
        MissionStatus(mission_id="m-2", vehicle_id="uav1", state="paused"),
        MissionStatus(mission_id="m-3", vehicle_id="uav2", state="assigned"),
        MissionStatus(mission_id="m-0", vehicle_id="uav3", state="completed"),
        MissionStatus(mission_id="m-4", vehicle_id="", state="queued"),
        MissionStatus(mission_id="m-5", vehicle_id="uav4", state="exploded")])
    assert current_missions_from_msg(msg) == {"uav0": "m-1", "uav1": "m-2", "uav2": "m-3"}


def test_reports_become_diagnostic_statuses() -> None:
    report = DiagnosticReport(DiagnosticLevel.STALE, "fleet_manager: uav0", "uav0",
                              "offline, lost", (("mode", "AUTO.RTL"),))
    msg = diagnostics_msg([report], to_time(12.5))
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 500_000_000)
    [status] = msg.status
    assert (status.level, status.name, status.hardware_id, status.message) == (
        DiagnosticStatus.STALE, "fleet_manager: uav0", "uav0", "offline, lost")
    assert [(kv.key, kv.value) for kv in status.values] == [("mode", "AUTO.RTL")]
