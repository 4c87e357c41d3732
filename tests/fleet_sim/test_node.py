"""From a MAVROS client's side, fleet_sim behaves like PX4 behind MAVROS."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from geometry_msgs.msg import PoseStamped
from mavros_msgs.msg import State, StatusText, Waypoint, WaypointList, WaypointReached
from mavros_msgs.srv import CommandBool, CommandLong, CommandTOL, SetMode, WaypointPush
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState, NavSatFix

from fleet_core.geo import GeoPoint, LocalFrame, haversine_m
from fleet_core.mavlink import MavCmd, MavResult
from fleet_interfaces.srv import InjectFailure
from fleet_ros.graph import RosGraph
from fleet_ros.qos import LATCHED_QOS, SENSOR_QOS, STATE_QOS
from fleet_sim.node import FleetSimNode
from tests.ros_helpers import Collector

pytestmark = pytest.mark.ros

HOME = {"latitude": 47.397742, "longitude": 8.545594, "altitude": 488.0}
HOME_PT = GeoPoint(**HOME)
FRAME = LocalFrame.at(HOME_PT)


@pytest.fixture
def sim_config(tmp_path: Path) -> Path:
    path = tmp_path / "fleet_sim.yaml"
    path.write_text(yaml.safe_dump({"fleet_sim": {
        "seed": 1, "time_factor": 10.0, "position_rate_hz": 10.0, "link_timeout_s": 10.0,
        "vehicles": [{"id": "uav0", "home": HOME},
                     {"id": "weak", "home": HOME, "battery": {"initial_percent": 8.0}}],
    }}))
    return path


@pytest.fixture
def sim(graph: RosGraph, sim_config: Path) -> Iterator[FleetSimNode]:
    node = FleetSimNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=str(sim_config))])
    graph.add(node)
    return node


def waypoint(cmd: int, east: float = 0.0, north: float = 0.0, alt: float = 20.0) -> Waypoint:
    g = FRAME.to_geo(east, north, 0.0)
    return Waypoint(frame=Waypoint.FRAME_GLOBAL_REL_ALT, command=cmd, autocontinue=True,
                    x_lat=g.latitude, y_long=g.longitude, z_alt=float(alt))


def test_a_best_effort_subscriber_gets_battery(graph: RosGraph, sim: FleetSimNode) -> None:
    rec = Collector(graph, BatteryState, "/uav0/mavros/battery", SENSOR_QOS)
    msg = graph.wait_for(rec.last, 10.0, "a BatteryState")
    assert msg.percentage == pytest.approx(1.0, abs=0.01)
    assert msg.voltage > 20.0


def test_a_reliable_subscriber_never_matches_the_best_effort_battery(
        graph: RosGraph, sim: FleetSimNode) -> None:
    reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    wrong = Collector(graph, BatteryState, "/uav0/mavros/battery", reliable)
    right = Collector(graph, BatteryState, "/uav0/mavros/battery", SENSOR_QOS)
    graph.wait_for(lambda: len(right.snapshot()) >= 3, 10.0, "battery on the right QoS")
    assert wrong.snapshot() == []


def test_a_late_transient_local_subscriber_gets_the_last_state(
        graph: RosGraph, sim: FleetSimNode) -> None:
    first = Collector(graph, State, "/uav0/mavros/state", STATE_QOS)
    graph.wait_for(first.last, 10.0, "the first State")
    # Join late, after the sim has published; the durable history hands us the last state.
    sim.destroy_timer(sim._timer)  # stop new publications so only the history can answer
    late = Collector(graph, State, "/uav0/mavros/state", STATE_QOS)
    msg = graph.wait_for(late.last, 10.0, "the last State for a late joiner")
    assert msg.connected
    assert msg.mode == "AUTO.LOITER"


def test_a_topic_subscribed_late_is_published_within_a_few_seconds(
        graph: RosGraph, sim: FleetSimNode) -> None:
    # Nobody listened to local_position/pose so far, so the sim was not publishing it.
    graph.wait_for(lambda: sim.vehicles[0].time_s > 20.0, 10.0, "2 s of running (factor 10)")
    pose = Collector(graph, PoseStamped, "/uav0/mavros/local_position/pose", SENSOR_QOS)
    graph.wait_for(lambda: len(pose.snapshot()) >= 3, 5.0, "three poses for a late subscriber")
    assert pose.last().header.frame_id == "map"
    o = pose.last().pose.orientation
    assert math.hypot(o.x, o.y, o.z, o.w) == pytest.approx(1.0)


def test_arming_is_refused_below_ten_percent_battery(graph: RosGraph, sim: FleetSimNode) -> None:
    client = graph.node("arming_client").create_client(CommandBool, "/weak/mavros/cmd/arming")
    response = graph.call(client, CommandBool.Request(value=True))
    assert not response.success
    assert response.result == MavResult.TEMPORARILY_REJECTED


def test_arming_is_refused_without_gps_fix(graph: RosGraph, sim: FleetSimNode) -> None:
    node = graph.node("gps_client")
    inject = node.create_client(InjectFailure, "/fleet_sim/inject_failure")
    r = graph.call(inject, InjectFailure.Request(vehicle_id="uav0", active=True,
                                                 failure=InjectFailure.Request.FAILURE_GPS_LOSS))
    assert r.success, r.message
    arm = node.create_client(CommandBool, "/uav0/mavros/cmd/arming")
    response = graph.call(arm, CommandBool.Request(value=True))
    assert (response.success, response.result) == (False, MavResult.TEMPORARILY_REJECTED)


def test_an_unknown_mode_is_not_sent(graph: RosGraph, sim: FleetSimNode) -> None:
    client = graph.node("mode_client").create_client(SetMode, "/uav0/mavros/set_mode")
    assert not graph.call(client, SetMode.Request(custom_mode="WARP")).mode_sent
    assert graph.call(client, SetMode.Request(custom_mode="auto.rtl")).mode_sent


def test_bad_failure_requests_are_refused_with_a_reason(graph: RosGraph, sim: FleetSimNode) -> None:
    client = graph.node("inj_client").create_client(InjectFailure, "/fleet_sim/inject_failure")
    r = graph.call(client, InjectFailure.Request(vehicle_id="ghost", failure=1, active=True))
    assert not r.success
    assert "ghost" in r.message
    r = graph.call(client, InjectFailure.Request(vehicle_id="uav0", failure=42, active=True))
    assert not r.success
    assert "42" in r.message


def test_a_pushed_five_waypoint_mission_is_flown_with_reached_in_order(
        graph: RosGraph, sim: FleetSimNode) -> None:
    node = graph.node("mission_client")
    reached = Collector(graph, WaypointReached, "/uav0/mavros/mission/reached", LATCHED_QOS)
    waypoints = Collector(graph, WaypointList, "/uav0/mavros/mission/waypoints", LATCHED_QOS)
    push = node.create_client(WaypointPush, "/uav0/mavros/mission/push")
    mission = [waypoint(MavCmd.NAV_TAKEOFF, alt=20), waypoint(MavCmd.NAV_WAYPOINT, 60, 0),
               waypoint(MavCmd.NAV_WAYPOINT, 60, 60), waypoint(MavCmd.NAV_WAYPOINT, 0, 60),
               waypoint(MavCmd.NAV_WAYPOINT, 0, 0)]
    response = graph.call(push, WaypointPush.Request(start_index=0, waypoints=mission))
    assert (response.success, response.wp_transfered) == (True, 5)
    graph.wait_for(lambda: (w := waypoints.last()) and len(w.waypoints) == 5, 5.0,
                   "the pushed mission on mission/waypoints")
    assert graph.call(node.create_client(SetMode, "/uav0/mavros/set_mode"),
                      SetMode.Request(custom_mode="AUTO.MISSION")).mode_sent
    armed = graph.call(node.create_client(CommandBool, "/uav0/mavros/cmd/arming"),
                       CommandBool.Request(value=True))
    assert armed.success
    # ~45 simulated seconds of flight at time factor 10.
    graph.wait_for(lambda: len(reached.snapshot()) >= 5, 30.0, "five mission/reached messages")
    assert [m.wp_seq for m in reached.snapshot()] == [0, 1, 2, 3, 4]


def test_a_mission_with_nan_coordinates_is_refused(graph: RosGraph, sim: FleetSimNode) -> None:
    push = graph.node("nan_client").create_client(WaypointPush, "/uav0/mavros/mission/push")
    bad = waypoint(MavCmd.NAV_WAYPOINT)
    bad.x_lat = math.nan
    response = graph.call(push, WaypointPush.Request(waypoints=[waypoint(16), bad]))
    assert (response.success, response.wp_transfered) == (False, 0)


def test_rtl_lands_at_home_and_disarms(graph: RosGraph, sim: FleetSimNode) -> None:
    node = graph.node("rtl_client")
    state = Collector(graph, State, "/uav0/mavros/state", STATE_QOS)
    fix = Collector(graph, NavSatFix, "/uav0/mavros/global_position/global", SENSOR_QOS)
    texts = Collector(graph, StatusText, "/uav0/mavros/statustext/recv", SENSOR_QOS)
    takeoff = node.create_client(CommandTOL, "/uav0/mavros/cmd/takeoff")
    arm = node.create_client(CommandBool, "/uav0/mavros/cmd/arming")
    command = node.create_client(CommandLong, "/uav0/mavros/cmd/command")
    assert graph.call(takeoff, CommandTOL.Request(altitude=HOME["altitude"] + 15)).success
    assert graph.call(arm, CommandBool.Request(value=True)).success
    graph.wait_for(lambda: (s := state.last()) and s.mode == "AUTO.LOITER" and s.armed, 15.0,
                   "takeoff complete")
    # Fly away to a point 80 m north-east, then return.
    push = node.create_client(WaypointPush, "/uav0/mavros/mission/push")
    graph.call(push, WaypointPush.Request(waypoints=[waypoint(MavCmd.NAV_WAYPOINT, 60, 60, 15)]))
    graph.call(node.create_client(SetMode, "/uav0/mavros/set_mode"),
               SetMode.Request(custom_mode="AUTO.MISSION"))
    graph.wait_for(lambda: (f := fix.last()) and haversine_m(
        GeoPoint(f.latitude, f.longitude), HOME_PT) > 80, 15.0, "the vehicle 80 m away")
    rtl = graph.call(command, CommandLong.Request(command=MavCmd.NAV_RETURN_TO_LAUNCH))
    assert (rtl.success, rtl.result) == (True, MavResult.ACCEPTED)
    graph.wait_for(lambda: (s := state.last()) and s.mode == "AUTO.RTL", 5.0, "AUTO.RTL")
    graph.wait_for(lambda: (s := state.last()) and not s.armed, 30.0, "disarm after landing")
    last = fix.last()
    assert haversine_m(GeoPoint(last.latitude, last.longitude), HOME_PT) < 1.5
    assert last.altitude == pytest.approx(HOME["altitude"], abs=0.2)
    assert any(t.text == "Landing detected" for t in texts.snapshot())


def test_link_loss_flips_connected_after_the_timeout(graph: RosGraph, sim: FleetSimNode) -> None:
    state = Collector(graph, State, "/uav0/mavros/state", STATE_QOS)
    fix = Collector(graph, NavSatFix, "/uav0/mavros/global_position/global", SENSOR_QOS)
    graph.wait_for(lambda: (s := state.last()) and s.connected, 10.0, "a connected State")
    inject = graph.node("link_client").create_client(InjectFailure, "/fleet_sim/inject_failure")
    r = graph.call(inject, InjectFailure.Request(
        vehicle_id="uav0", failure=InjectFailure.Request.FAILURE_LINK_LOSS, active=True))
    assert r.success
    injected_at = sim.vehicles[0].time_s
    graph.wait_for(lambda: not state.last().connected, 10.0, "connected=false")
    lost = state.last()
    assert (lost.armed, lost.guided, lost.mode, lost.system_status) == (False, False, "", 0)
    # Not before MAVROS's 10 s timeout (simulated time), and telemetry stopped meanwhile.
    assert sim.vehicles[0].time_s - injected_at >= 10.0
    count = len(fix.snapshot())
    graph.wait_for(lambda: True, 0.1, "nothing")
    assert len(fix.snapshot()) == count
    graph.call(inject, InjectFailure.Request(
        vehicle_id="uav0", failure=InjectFailure.Request.FAILURE_LINK_LOSS, active=False))
    graph.wait_for(lambda: state.last().connected, 10.0, "connected again after recovery")


def test_garbage_commands_are_refused_and_the_sim_keeps_serving(
        graph: RosGraph, sim: FleetSimNode) -> None:
    node = graph.node("garbage_client")
    command = node.create_client(CommandLong, "/uav0/mavros/cmd/command")
    nan = math.nan
    r = graph.call(command, CommandLong.Request(command=MavCmd.DO_SET_MODE, param1=1.0,
                                                param2=nan, param3=nan))
    assert (r.success, r.result) == (False, MavResult.DENIED)
    r = graph.call(command, CommandLong.Request(command=12345))
    assert (r.success, r.result) == (False, MavResult.UNSUPPORTED)
    r = graph.call(command, CommandLong.Request(command=MavCmd.COMPONENT_ARM_DISARM, param1=nan))
    assert r.result == MavResult.DENIED
    takeoff = node.create_client(CommandTOL, "/uav0/mavros/cmd/takeoff")
    r = graph.call(takeoff, CommandTOL.Request(altitude=math.inf))
    assert r.success  # like PX4: an unusable altitude falls back to MIS_TAKEOFF_ALT
    arm = node.create_client(CommandBool, "/uav0/mavros/cmd/arming")
    assert graph.call(arm, CommandBool.Request(value=True)).success


def test_parameters_are_read_only_after_start(graph: RosGraph, sim: FleetSimNode) -> None:
    result = sim.set_parameters([Parameter("vehicle_count", value=7)])[0]
    assert not result.successful
    assert "read-only" in result.reason
    assert len(sim.vehicles) == 2


def test_a_bad_parameter_is_refused_naming_it(graph: RosGraph, sim_config: Path) -> None:
    from fleet_core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"time_factor must be 0\.01\.\.100"):
        FleetSimNode(context=graph.context, parameter_overrides=[
            Parameter("config_file", value=str(sim_config)), Parameter("time_factor", value=500.0)])
