"""fleet_manager keeps a live fleet picture from fleet_sim's MAVROS topics and acts on it."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mavros_msgs.msg import State
from mavros_msgs.srv import CommandBool, CommandTOL
from rclpy.parameter import Parameter
from sensor_msgs.msg import BatteryState, NavSatFix, NavSatStatus

from fleet_core.fleet.model import RejectReason
from fleet_core.geo import GeoPoint, LocalFrame, haversine_m
from fleet_interfaces.msg import CoordinationEvent, FleetStatus, VehicleStatus
from fleet_interfaces.srv import InjectFailure, SetMaintenance
from fleet_manager.node import FleetManagerNode
from fleet_ros.graph import RosGraph
from fleet_ros.qos import EVENTS_QOS, FLEET_QOS, SENSOR_QOS, STATE_QOS
from fleet_sim.node import FleetSimNode
from tests.ros_helpers import Collector

pytestmark = pytest.mark.ros

HOME = {"latitude": 47.397742, "longitude": 8.545594, "altitude": 488.0}
FRAME = LocalFrame.at(GeoPoint(**HOME))


def _home(east: float) -> dict[str, float]:
    g = FRAME.to_geo(east, 0.0, 0.0)
    return {"latitude": g.latitude, "longitude": g.longitude, "altitude": 488.0}


def write(tmp_path: Path, name: str, doc: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def sim_config(tmp_path: Path, vehicles: list[dict[str, Any]], factor: float = 10.0) -> str:
    return write(tmp_path, "sim.yaml", {"fleet_sim": {
        "seed": 1, "time_factor": factor, "link_timeout_s": 10.0, "vehicles": vehicles}})


def fleet_config(tmp_path: Path, **extra: Any) -> str:
    doc: dict[str, Any] = {"origin": HOME, "vehicles": [], "status_rate_hz": 5.0,
                           "check_rate_hz": 10.0, "command_timeout_s": 2.0,
                           "discovery": {"enabled": True, "period_s": 0.5},
                           "liveness": {"stale_after_s": 1.0, "lost_after_s": 3.0}}
    doc.update(extra)
    return write(tmp_path, "fleet.yaml", {"fleet_manager": doc})


def vehicle(status: FleetStatus | None, vid: str) -> VehicleStatus | None:
    if status is None:
        return None
    return next((v for v in status.vehicles if v.vehicle_id == vid), None)


def start(graph: RosGraph, sim_yaml: str, fleet_yaml: str) -> tuple[FleetSimNode, FleetManagerNode]:
    sim = FleetSimNode(context=graph.context,
                       parameter_overrides=[Parameter("config_file", value=sim_yaml)])
    fm = FleetManagerNode(context=graph.context,
                          parameter_overrides=[Parameter("config_file", value=fleet_yaml)])
    graph.add(sim)
    graph.add(fm)
    return sim, fm


def test_a_vehicle_that_appears_late_is_discovered(graph: RosGraph, tmp_path: Path) -> None:
    fm = graph.add(FleetManagerNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=fleet_config(tmp_path))]))
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    graph.wait_for(status.last, 5.0, "an (empty) fleet status")
    assert fm.fleet == {}
    graph.add(FleetSimNode(context=graph.context, parameter_overrides=[Parameter(
        "config_file", value=sim_config(tmp_path, [{"id": "late1", "home": HOME}]))]))
    v = graph.wait_for(lambda: (s := vehicle(status.last(), "late1")) and
                       s.status == VehicleStatus.STATUS_IDLE and
                       not math.isnan(s.battery_percent) and s, 10.0, "late1 idle with battery")
    assert v.liveness == VehicleStatus.LIVENESS_FRESH
    assert v.battery_percent == pytest.approx(100.0, abs=0.1)
    assert v.position.latitude == pytest.approx(HOME["latitude"], abs=1e-6)


def test_link_loss_makes_the_vehicle_offline_with_an_event_and_recovery_closes_it(
        graph: RosGraph, tmp_path: Path) -> None:
    start(graph, sim_config(tmp_path, [{"id": "uav0", "home": HOME}]), fleet_config(tmp_path))
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    events = Collector(graph, CoordinationEvent, "/fleet/events", EVENTS_QOS)
    graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and s.liveness == 0, 10.0,
                   "uav0 fresh")
    inject = graph.node("inj").create_client(InjectFailure, "/fleet_sim/inject_failure")
    graph.call(inject, InjectFailure.Request(vehicle_id="uav0", active=True,
                                             failure=InjectFailure.Request.FAILURE_LINK_LOSS))
    graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and
                   s.liveness == VehicleStatus.LIVENESS_STALE, 5.0, "uav0 stale")
    graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and
                   s.status == VehicleStatus.STATUS_OFFLINE, 10.0, "uav0 offline")
    opened = graph.wait_for(lambda: events.find(
        lambda e: e.type == CoordinationEvent.TYPE_LINK_LOST and e.state == 0), 5.0,
        "link_lost opened")
    graph.call(inject, InjectFailure.Request(vehicle_id="uav0", active=False,
                                             failure=InjectFailure.Request.FAILURE_LINK_LOSS))
    closed = graph.wait_for(lambda: events.find(
        lambda e: e.id == opened.id and e.state == CoordinationEvent.STATE_RESOLVED), 10.0,
        "link_lost resolved")
    assert closed.resolution == "link restored"
    graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and
                   s.status == VehicleStatus.STATUS_IDLE, 5.0, "uav0 idle again")


def test_garbage_telemetry_is_ignored_and_counted(graph: RosGraph, tmp_path: Path) -> None:
    fm = graph.add(FleetManagerNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=fleet_config(
            tmp_path, vehicles=[{"id": "fake", "mavros_prefix": "/fake/mavros"}]))]))
    node = graph.node("garbage")
    fix_pub = node.create_publisher(NavSatFix, "/fake/mavros/global_position/global", SENSOR_QOS)
    bat_pub = node.create_publisher(BatteryState, "/fake/mavros/battery", SENSOR_QOS)
    state_pub = node.create_publisher(State, "/fake/mavros/state", STATE_QOS)
    state_pub.publish(State(connected=True, mode="AUTO.LOITER"))

    def fix(lat: float, lon: float, stamp_offset: float = 0.0) -> NavSatFix:
        m = NavSatFix(latitude=lat, longitude=lon, altitude=500.0)
        m.status.status = NavSatStatus.STATUS_FIX
        t = node.get_clock().now().nanoseconds * 1e-9 + stamp_offset
        m.header.stamp.sec = int(t)
        return m

    v = fm.fleet["fake"]
    graph.wait_for(lambda: fix_pub.get_subscription_count() > 0, 5.0, "the manager to subscribe")
    fix_pub.publish(fix(47.4, 8.5))
    graph.wait_for(lambda: v.position is not None, 5.0, "a first valid fix")
    for bad in (fix(math.nan, 8.5), fix(95.0, 8.5), fix(47.5, 8.5),  # 11 km in no time
                fix(47.4, 8.5, stamp_offset=3600.0)):
        fix_pub.publish(bad)
    bat_pub.publish(BatteryState(percentage=1.5, voltage=24.0))  # 150 %
    bat_pub.publish(BatteryState(percentage=0.5, voltage=math.inf))
    graph.wait_for(lambda: sum(v.rejected.values()) >= 6, 5.0, "six rejected samples")
    assert v.rejected == {RejectReason.NOT_FINITE: 2, RejectReason.OUT_OF_RANGE: 2,
                          RejectReason.IMPOSSIBLE_JUMP: 1, RejectReason.FUTURE_STAMP: 1}
    assert v.position.latitude == pytest.approx(47.4)
    assert math.isnan(v.battery_percent)


def test_a_critical_battery_triggers_rtl_and_the_vehicle_lands_at_home(
        graph: RosGraph, tmp_path: Path) -> None:
    sim, _ = start(graph, sim_config(tmp_path, [
        {"id": "uav0", "home": HOME, "battery": {"initial_percent": 23.0}}]),
        fleet_config(tmp_path))
    events = Collector(graph, CoordinationEvent, "/fleet/events", EVENTS_QOS)
    state = Collector(graph, State, "/uav0/mavros/state", STATE_QOS)
    node = graph.node("pilot")
    takeoff = node.create_client(CommandTOL, "/uav0/mavros/cmd/takeoff")
    arm = node.create_client(CommandBool, "/uav0/mavros/cmd/arming")
    assert graph.call(takeoff, CommandTOL.Request(altitude=float(HOME["altitude"] + 30))).success
    assert graph.call(arm, CommandBool.Request(value=True)).success
    # Hover while the battery drains past the 20 % critical level.
    graph.wait_for(lambda: (s := state.last()) and s.mode == "AUTO.LOITER" and s.armed, 15.0,
                   "airborne")
    critical = graph.wait_for(lambda: events.find(
        lambda e: e.type == CoordinationEvent.TYPE_LOW_BATTERY
        and e.severity == CoordinationEvent.SEVERITY_CRITICAL), 30.0, "critical battery event")
    assert "return to launch" in critical.resolution
    graph.wait_for(lambda: (s := state.last()) and s.mode == "AUTO.RTL", 10.0, "AUTO.RTL")
    graph.wait_for(lambda: (s := state.last()) and not s.armed, 30.0, "landed and disarmed")
    v = sim.vehicles[0]
    assert haversine_m(v.position(), v.config.home) < 1.5


def test_maintenance_is_set_through_the_service_and_unknown_ids_are_refused(
        graph: RosGraph, tmp_path: Path) -> None:
    start(graph, sim_config(tmp_path, [{"id": "uav0", "home": HOME}]), fleet_config(tmp_path))
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    client = graph.node("ops").create_client(SetMaintenance, "/fleet_manager/set_maintenance")
    bad = graph.call(client, SetMaintenance.Request(vehicle_id="nope", enabled=True))
    assert not bad.success
    assert "nope" in bad.message
    graph.wait_for(lambda: vehicle(status.last(), "uav0"), 10.0, "uav0 known")
    ok = graph.call(client, SetMaintenance.Request(vehicle_id="uav0", enabled=True,
                                                   reason="prop swap"))
    assert ok.success
    graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and
                   s.status == VehicleStatus.STATUS_MAINTENANCE, 5.0, "uav0 in maintenance")
    assert status.last().counts_by_status[VehicleStatus.STATUS_MAINTENANCE] == 1


class BreachMonitor:
    """Samples the simulator's true positions every 20 ms on its own thread."""

    def __init__(self, sim: FleetSimNode, check: Callable[[FleetSimNode], bool]) -> None:
        self.breaches = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(sim, check), daemon=True)
        self._thread.start()

    def _run(self, sim: FleetSimNode, check: Callable[[FleetSimNode], bool]) -> None:
        while not self._stop.wait(0.02):
            self.samples += 1
            if check(sim):
                self.breaches += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


def fly_mission(graph: RosGraph, vid: str, points: list[tuple[float, float]],
                alt: float = 30.0) -> None:
    from mavros_msgs.msg import Waypoint
    from mavros_msgs.srv import SetMode, WaypointPush

    node = graph.node(f"pilot_{vid}")
    wps = [Waypoint(frame=Waypoint.FRAME_GLOBAL_REL_ALT, command=22, autocontinue=True,
                    x_lat=FRAME.to_geo(*points[0], 0).latitude,
                    y_long=FRAME.to_geo(*points[0], 0).longitude, z_alt=alt)]
    for e, n in points[1:]:
        g = FRAME.to_geo(e, n, 0.0)
        wps.append(Waypoint(frame=Waypoint.FRAME_GLOBAL_REL_ALT, command=16, autocontinue=True,
                            x_lat=g.latitude, y_long=g.longitude, z_alt=alt))
    p = f"/{vid}/mavros"
    assert graph.call(node.create_client(WaypointPush, f"{p}/mission/push"),
                      WaypointPush.Request(waypoints=wps)).success
    assert graph.call(node.create_client(SetMode, f"{p}/set_mode"),
                      SetMode.Request(custom_mode="AUTO.MISSION")).mode_sent
    assert graph.call(node.create_client(CommandBool, f"{p}/cmd/arming"),
                      CommandBool.Request(value=True)).success


def fly_head_on(graph: RosGraph, sim: FleetSimNode, west: str, east: str) -> CoordinationEvent:
    """Fly ``west`` (home at 0) and ``east`` (home 200 m east) along one line toward each
    other at one altitude; return the collision_avoidance event once it resolved, after
    checking on the simulator's true positions that they never came within 15 m."""
    events = Collector(graph, CoordinationEvent, "/fleet/events", EVENTS_QOS)

    def breach(s: FleetSimNode) -> bool:
        a, b = s.vehicles
        if not (a.airborne and b.airborne):
            return False
        # Each vehicle's east is relative to its own home; the second's is 200 m east.
        return math.hypot(a.east - (b.east + 200.0), a.north - b.north) < 15.0 and \
            abs(a.up - b.up) < 8.0

    fly_mission(graph, west, [(0.0, 0.0), (260.0, 0.0)])
    fly_mission(graph, east, [(200.0, 0.0), (-60.0, 0.0)])
    monitor = BreachMonitor(sim, breach)
    try:
        opened = graph.wait_for(lambda: events.find(
            lambda e: e.type == CoordinationEvent.TYPE_COLLISION_AVOIDANCE), 40.0,
            "a collision_avoidance event")
        graph.wait_for(lambda: events.find(
            lambda e: e.id == opened.id and e.state == CoordinationEvent.STATE_RESOLVED), 40.0,
            "separation restored")
        graph.wait_for(lambda: all(v.mission_finished for v in sim.vehicles), 60.0,
                       "both missions finished")
    finally:
        monitor.stop()
    assert monitor.samples > 100
    assert monitor.breaches == 0
    return opened


def test_a_head_on_pair_is_resolved_without_a_separation_breach(
        graph: RosGraph, tmp_path: Path) -> None:
    sim, _ = start(graph, sim_config(tmp_path, [{"id": "uav0", "home": _home(0.0)},
                                                {"id": "uav1", "home": _home(200.0)}],
                                     factor=2.0), fleet_config(tmp_path))
    assert "uav1 holds" in fly_head_on(graph, sim, "uav0", "uav1").resolution


def test_a_vehicle_flown_toward_a_no_fly_zone_stops_before_entering(
        graph: RosGraph, tmp_path: Path) -> None:
    zone = [FRAME.to_geo(e, n, 0.0) for e, n in ((150, -50), (250, -50), (250, 50), (150, 50))]
    sim, _ = start(graph, sim_config(tmp_path, [{"id": "uav0", "home": HOME}], factor=2.0),
                   fleet_config(tmp_path, no_fly_zones=[{
                       "id": "nfz", "floor_m": 0.0, "ceiling_m": 150.0,
                       "polygon": [{"latitude": p.latitude, "longitude": p.longitude}
                                   for p in zone]}]))
    events = Collector(graph, CoordinationEvent, "/fleet/events", EVENTS_QOS)
    state = Collector(graph, State, "/uav0/mavros/state", STATE_QOS)
    monitor = BreachMonitor(sim, lambda s: 150.0 <= s.vehicles[0].east <= 250.0)
    try:
        fly_mission(graph, "uav0", [(0.0, 0.0), (400.0, 0.0)])
        hit = graph.wait_for(lambda: events.find(
            lambda e: e.type == CoordinationEvent.TYPE_AIRSPACE_CONFLICT), 40.0,
            "an airspace_conflict event")
        assert "hold" in hit.resolution
        graph.wait_for(lambda: (s := state.last()) and s.mode == "AUTO.LOITER", 10.0, "hold")
        graph.wait_for(lambda: sim.vehicles[0].ground_speed < 0.2, 20.0, "stopped")
    finally:
        monitor.stop()
    assert monitor.breaches == 0
    assert 60.0 < sim.vehicles[0].east < 150.0


def test_markers_and_diagnostics_show_each_vehicle_and_the_zones(
        graph: RosGraph, tmp_path: Path) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from visualization_msgs.msg import MarkerArray

    from fleet_core.fleet.model import OperatingStatus as Status
    from fleet_ros.markers import STATUS_COLORS

    zone = [FRAME.to_geo(e, n, 0.0) for e, n in ((150, -50), (250, -50), (250, 50))]
    pads = {"id": "pads", "location": _home(-20.0), "charge_rate_w": 500.0,
            "pads": [{"east": 0.0, "north": 0.0}, {"east": 4.0, "north": 0.0}]}
    start(graph, sim_config(tmp_path, [{"id": "uav0", "home": HOME},
                                       {"id": "uav1", "home": _home(30.0)}]),
          fleet_config(tmp_path, charging_stations=[pads],
                       no_fly_zones=[{"id": "nfz", "polygon": [
                           {"latitude": p.latitude, "longitude": p.longitude} for p in zone]}]))
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    graph.wait_for(lambda: vehicle(status.last(), "uav1"), 10.0, "uav1 discovered")
    fm_maintenance = graph.node("mechanic").create_client(SetMaintenance,
                                                          "/fleet_manager/set_maintenance")
    assert graph.call(fm_maintenance, SetMaintenance.Request(vehicle_id="uav1", enabled=True,
                                                             reason="props")).success
    markers = Collector(graph, MarkerArray, "/fleet/markers", FLEET_QOS)
    diags = Collector(graph, DiagnosticArray, "/diagnostics", 10)
    m = graph.wait_for(lambda: (a := markers.last()) and sum(
        x.ns == "vehicles" for x in a.markers) == 2 and sum(
        x.ns == "headings" for x in a.markers) == 2 and a, 10.0, "both vehicles' markers")
    by_ns = {(x.ns, x.id): x for x in m.markers}
    ids = {x.text.split()[0]: x.id for x in m.markers if x.ns == "labels"}
    body0, body1 = by_ns[("vehicles", ids["uav0"])], by_ns[("vehicles", ids["uav1"])]
    assert body0.header.frame_id == "fleet_map"
    assert body0.pose.position.x == pytest.approx(0.0, abs=0.5)
    assert body1.pose.position.x == pytest.approx(30.0, abs=0.5)  # metres east of the origin
    assert by_ns[("labels", ids["uav0"])].text.startswith("uav0 100%")
    # Coloured by status: uav0 idle, uav1 in maintenance.
    def colour(c: Any) -> tuple[float, float, float]:
        return (round(c.r, 2), round(c.g, 2), round(c.b, 2))

    assert colour(body0.color) == STATUS_COLORS[Status.IDLE]
    assert colour(body1.color) == STATUS_COLORS[Status.MAINTENANCE]
    home1 = by_ns[("homes", ids["uav1"])]
    assert home1.pose.position.x == pytest.approx(30.0, abs=0.5)
    assert by_ns[("headings", ids["uav0"])].type == body0.ARROW
    pad_x = sorted(x.pose.position.x for x in m.markers if x.ns == "charging_pads")
    assert pad_x == pytest.approx([-20.0, -16.0], abs=0.1)
    assert {x.text for x in m.markers if x.ns == "charging_labels"} == {"pads/0", "pads/1"}
    wire = by_ns[("no_fly_zones", 0)]
    assert len(wire.points) == 3 * 6  # 3 edges x (2 rings + 1 post) x 2 ends
    solid = by_ns[("no_fly_volumes", 0)]
    assert len(solid.points) == 3 * 6 + 2 * 3  # 3 walls of 2 triangles, 2 caps of 1 triangle
    d = graph.wait_for(lambda: (a := diags.last()) and len(a.status) == 3 and a, 10.0,
                       "diagnostics")
    assert {s.name for s in d.status} == {"fleet_manager: uav0", "fleet_manager: uav1",
                                          "fleet_manager"}


def test_vehicles_are_added_and_removed_at_run_time_without_a_restart(
        graph: RosGraph, tmp_path: Path) -> None:
    from fleet_interfaces.srv import AddVehicle, RemoveVehicle

    start(graph, sim_config(tmp_path, [{"id": "uav0", "home": HOME},
                                       {"id": "uav9", "home": _home(30.0)}]),
          fleet_config(tmp_path, discovery={"enabled": False},
                       vehicles=[{"id": "uav0"}]))
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    ops = graph.node("ops_rt")
    add = ops.create_client(AddVehicle, "/fleet_manager/add_vehicle")
    remove = ops.create_client(RemoveVehicle, "/fleet_manager/remove_vehicle")
    graph.wait_for(lambda: vehicle(status.last(), "uav0"), 10.0, "uav0")
    assert vehicle(status.last(), "uav9") is None  # discovery is off
    bad = graph.call(add, AddVehicle.Request(vehicle_id="9lives"))
    assert not bad.success
    assert "id must match" in bad.message
    assert graph.call(add, AddVehicle.Request(vehicle_id="uav9")).success
    assert not graph.call(add, AddVehicle.Request(vehicle_id="uav9")).success
    graph.wait_for(lambda: (s := vehicle(status.last(), "uav9")) and
                   s.status == VehicleStatus.STATUS_IDLE, 10.0, "uav9 idle")
    assert graph.call(remove, RemoveVehicle.Request(vehicle_id="uav0")).success
    graph.wait_for(lambda: (s := status.last()) and vehicle(s, "uav0") is None, 5.0,
                   "uav0 gone from the fleet status")
    assert not graph.call(remove, RemoveVehicle.Request(vehicle_id="uav0")).success


def test_a_late_subscriber_of_a_vehicles_own_topics_gets_its_current_status_and_pose(
        graph: RosGraph, tmp_path: Path) -> None:
    from geographic_msgs.msg import GeoPoseStamped

    _, fm = start(graph, sim_config(tmp_path, [{"id": "uav0", "home": HOME}]),
                  fleet_config(tmp_path))
    fleet = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    graph.wait_for(lambda: (v := vehicle(fleet.last(), "uav0")) and v.stamp.sec > 0, 10.0,
                   "uav0 in the fleet status")
    # Subscribed only now: the per-vehicle topics are sent only while someone listens.
    joined = fm.now()
    status = Collector(graph, VehicleStatus, "/fleet/vehicles/uav0/status", FLEET_QOS)
    pose = Collector(graph, GeoPoseStamped, "/fleet/vehicles/uav0/geopose", FLEET_QOS)
    s = graph.wait_for(lambda: (m := status.last()) and m.stamp.sec + m.stamp.nanosec * 1e-9
                       > joined and m, 5.0, "a current VehicleStatus of uav0")
    assert (s.vehicle_id, s.status) == ("uav0", VehicleStatus.STATUS_IDLE)
    p = graph.wait_for(lambda: (m := pose.last()) and m.header.stamp.sec
                       + m.header.stamp.nanosec * 1e-9 > joined and m, 5.0,
                       "a current GeoPoseStamped of uav0")
    assert p.pose.position.latitude == pytest.approx(HOME["latitude"], abs=1e-6)


def _zone_msg(zid: str, corners: list[tuple[float, float]]) -> Any:
    from geographic_msgs.msg import GeoPoint as GeoPointMsg

    from fleet_interfaces.msg import NoFlyZone

    return NoFlyZone(id=zid, name=zid, altitude_floor=0.0, altitude_ceiling=120.0, polygon=[
        GeoPointMsg(latitude=g.latitude, longitude=g.longitude, altitude=0.0)
        for g in (FRAME.to_geo(e, n, 0.0) for e, n in corners)])


def test_the_zones_in_force_are_published_replaced_at_run_time_and_a_bad_set_changes_nothing(
        graph: RosGraph, tmp_path: Path) -> None:
    from visualization_msgs.msg import Marker, MarkerArray

    from fleet_interfaces.msg import NoFlyZoneArray
    from fleet_interfaces.srv import SetNoFlyZones

    square = [(150, -50), (250, -50), (250, 50), (150, 50)]
    fm = graph.add(FleetManagerNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=fleet_config(tmp_path, no_fly_zones=[{
            "id": "nfz", "polygon": [{"latitude": g.latitude, "longitude": g.longitude}
                                     for g in (FRAME.to_geo(e, n, 0) for e, n in square)]}]))]))
    zones = Collector(graph, NoFlyZoneArray, "/fleet/no_fly_zones", FLEET_QOS)
    markers = Collector(graph, MarkerArray, "/fleet/markers", FLEET_QOS)
    graph.wait_for(lambda: (z := zones.last()) and [x.id for x in z.zones] == ["nfz"], 5.0,
                   "the configured zone on /fleet/no_fly_zones")
    graph.wait_for(lambda: (m := markers.last()) and sum(
        x.ns == "no_fly_volumes" for x in m.markers) == 1, 5.0, "the zone drawn as a volume")
    client = graph.node("airspace_authority").create_client(
        SetNoFlyZones, "/fleet_manager/set_no_fly_zones")
    two = [_zone_msg("stadium", square), _zone_msg("school", [(0, 300), (50, 300), (25, 350)])]
    reply = graph.call(client, SetNoFlyZones.Request(zones=two))
    assert reply.success, reply.message
    assert reply.message == "2 no-fly zones in force"
    graph.wait_for(lambda: [x.id for x in zones.last().zones] == ["stadium", "school"], 5.0,
                   "the new set published")
    assert sorted(fm.airspace.zones) == ["school", "stadium"]
    bad = graph.call(client, SetNoFlyZones.Request(zones=[
        _zone_msg("ok", square), _zone_msg("line", [(0, 0), (10, 0)])]))
    assert not bad.success
    assert bad.message == ("no-fly zones rejected, nothing changed: no-fly zone 'line' needs "
                           "at least 3 vertices, got 2")
    assert sorted(fm.airspace.zones) == ["school", "stadium"]
    count = len(zones.snapshot())
    graph.wait_for(lambda: (m := markers.last()) and sum(
        x.ns == "no_fly_volumes" and x.action == Marker.ADD for x in m.markers) == 2, 5.0,
        "both zones drawn")
    # Back to one zone: the second zone's markers are deleted in rviz, not left behind.
    assert graph.call(client, SetNoFlyZones.Request(zones=two[:1])).success
    graph.wait_for(lambda: (m := markers.last()) and any(
        x.ns == "no_fly_volumes" and x.id == 1 and x.action == Marker.DELETE
        for x in m.markers), 5.0, "the dropped zone's markers deleted")
    assert len(zones.snapshot()) == count + 1  # the refused request published nothing


def test_health_follows_gps_loss_and_the_vehicles_warnings(
        graph: RosGraph, tmp_path: Path) -> None:
    start(graph, sim_config(tmp_path, [{"id": "uav0", "home": HOME}]), fleet_config(tmp_path))
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and s.health.gps_ok, 10.0,
                   "uav0 healthy")
    inject = graph.node("inj").create_client(InjectFailure, "/fleet_sim/inject_failure")
    graph.call(inject, InjectFailure.Request(vehicle_id="uav0", active=True,
                                             failure=InjectFailure.Request.FAILURE_GPS_LOSS))
    v = graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and not s.health.gps_ok
                       and s.health.warnings and s, 10.0, "GPS loss in the health flags")
    assert "GPS fix lost" in v.health.warnings
    assert not v.health.sensors_ok  # sys_status no longer reports the GPS healthy
    graph.call(inject, InjectFailure.Request(vehicle_id="uav0", active=False,
                                             failure=InjectFailure.Request.FAILURE_GPS_LOSS))
    graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and s.health.gps_ok
                   and s.health.sensors_ok, 10.0, "GPS healthy again")


def test_the_fleet_picture_shows_each_vehicles_mission_and_the_last_item_reached(
        graph: RosGraph, tmp_path: Path) -> None:
    from fleet_interfaces.msg import MissionStatus, MissionStatusArray

    start(graph, sim_config(tmp_path, [{"id": "uav0", "home": HOME},
                                       {"id": "uav1", "home": _home(40.0)}]),
          fleet_config(tmp_path, vehicles=[{"id": "uav0", "model": "x500",
                                            "home_site": "zurich"}]))
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    v0 = graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and s.liveness == 0
                        and vehicle(status.last(), "uav1") and s, 10.0, "both vehicles")
    assert (v0.model, v0.home_site, v0.last_reached_item) == ("x500", "zurich", -1)
    assert vehicle(status.last(), "uav1").model == "multirotor"  # discovered
    planner = graph.node("planner_stand_in").create_publisher(
        MissionStatusArray, "/fleet/missions", FLEET_QOS)
    planner.publish(MissionStatusArray(missions=[
        MissionStatus(mission_id="m-1", vehicle_id="uav0", state="active"),
        MissionStatus(mission_id="m-0", vehicle_id="uav1", state="completed")]))
    fly_mission(graph, "uav0", [(0.0, 0.0), (20.0, 0.0), (20.0, 20.0)])
    v0 = graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and
                        s.last_reached_item >= 1 and s, 40.0, "reached items in the status")
    assert v0.current_mission_id == "m-1"
    assert vehicle(status.last(), "uav1").current_mission_id == ""  # finished is not current
    planner.publish(MissionStatusArray(missions=[
        MissionStatus(mission_id="m-1", vehicle_id="uav0", state="completed")]))
    graph.wait_for(lambda: (s := vehicle(status.last(), "uav0")) and
                   s.current_mission_id == "", 5.0, "no current mission once it completed")


class _FakeVehicle:
    """A MAVROS-shaped peer: telemetry of an airborne vehicle at 10 % battery, and, when
    ``answer`` is given, a cmd/command service that always answers with it."""

    def __init__(self, graph: RosGraph, vid: str, answer: int | None, east: float) -> None:
        from mavros_msgs.msg import ExtendedState
        from mavros_msgs.srv import CommandLong

        from fleet_ros.qos import MAVROS_TOPIC_QOS as Q

        self.node = node = graph.node(f"fake_{vid}")
        p = f"/{vid}/mavros"
        self.state = node.create_publisher(State, f"{p}/state", Q["state"])
        self.ext = node.create_publisher(ExtendedState, f"{p}/extended_state",
                                         Q["extended_state"])
        self.battery = node.create_publisher(BatteryState, f"{p}/battery", Q["battery"])
        self.fix = node.create_publisher(NavSatFix, f"{p}/global_position/global",
                                         Q["global_position/global"])
        self.at = FRAME.to_geo(east, 0.0, 0.0)
        self.calls = 0
        if answer is not None:
            def serve(request: Any, response: Any) -> Any:
                self.calls += 1
                response.success = True
                response.result = answer
                return response
            node.create_service(CommandLong, f"{p}/cmd/command", serve)
        node.create_timer(0.1, self.tick)

    def tick(self) -> None:
        from mavros_msgs.msg import ExtendedState

        stamp = self.node.get_clock().now().to_msg()
        self.state.publish(State(connected=True, armed=True, mode="AUTO.MISSION"))
        self.ext.publish(ExtendedState(landed_state=ExtendedState.LANDED_STATE_IN_AIR))
        b = BatteryState(percentage=0.10, voltage=14.2)
        b.header.stamp = stamp
        self.battery.publish(b)
        f = NavSatFix(latitude=self.at.latitude, longitude=self.at.longitude, altitude=520.0)
        f.status.status = NavSatStatus.STATUS_FIX
        f.header.stamp = stamp
        self.fix.publish(f)


def test_a_refused_command_and_an_unanswered_one_are_command_failed_events(
        graph: RosGraph, tmp_path: Path) -> None:
    graph.add(FleetManagerNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=fleet_config(
            tmp_path, command_timeout_s=0.5, command_retries=1, discovery={"enabled": False},
            vehicles=[{"id": "stubborn"}, {"id": "mute"}]))]))
    events = Collector(graph, CoordinationEvent, "/fleet/events", EVENTS_QOS)
    stubborn = _FakeVehicle(graph, "stubborn", answer=2, east=0.0)  # MAV_RESULT_DENIED
    _FakeVehicle(graph, "mute", answer=None, east=1000.0)  # no cmd/command service at all

    def failed(vid: str) -> Any:
        return events.find(lambda e: e.type == CoordinationEvent.TYPE_COMMAND_FAILED
                           and list(e.vehicle_ids) == [vid])

    denied = graph.wait_for(lambda: failed("stubborn"), 15.0, "stubborn's RTL refused")
    data = {kv.key: kv.value for kv in denied.data}
    assert data == {"command": "return to launch", "attempts": "2"}
    assert denied.resolution.startswith("return to launch failed: refused: success=True, "
                                        "result=2")
    assert denied.severity == CoordinationEvent.SEVERITY_CRITICAL
    assert stubborn.calls == 2  # the first try and one retry
    silent = graph.wait_for(lambda: failed("mute"), 15.0, "mute's RTL unanswered")
    assert silent.resolution == ("return to launch failed: service /mute/mavros/cmd/command "
                                 "not available")
    assert events.find(lambda e: e.type == CoordinationEvent.TYPE_LOW_BATTERY
                       and list(e.vehicle_ids) == ["mute"]
                       and "return to launch" in e.resolution)


def test_a_discovered_vehicle_that_disappears_stays_in_the_picture_as_offline(
        graph: RosGraph, tmp_path: Path) -> None:
    fm = graph.add(FleetManagerNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=fleet_config(tmp_path))]))
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    ghost = _FakeVehicle(graph, "ghost", answer=None, east=0.0)
    graph.wait_for(lambda: (s := vehicle(status.last(), "ghost")) and s.liveness == 0, 10.0,
                   "ghost discovered and fresh")
    graph.executor.remove_node(ghost.node)
    graph.nodes.remove(ghost.node)
    ghost.node.destroy_node()  # its MAVROS is gone from the graph, topics and all
    v = graph.wait_for(lambda: (s := vehicle(status.last(), "ghost")) and
                       s.status == VehicleStatus.STATUS_OFFLINE and s, 10.0, "ghost offline")
    assert v.liveness == VehicleStatus.LIVENESS_LOST
    assert "ghost" in fm.fleet  # lost, not deleted: its last position is still known
    assert v.position.latitude == pytest.approx(HOME["latitude"], abs=1e-6)


# MAVROS's QoS per topic (../shared/docs/mavros-interfaces.md), written out here rather than
# taken from fleet_ros.qos, so that a wrong entry there cannot hide in both.
_MAVROS_QOS = {
    "state": "STATE", "extended_state": "STATE", "sys_status": "STATE",
    "estimator_status": "STATE", "battery": "SENSOR", "statustext/recv": "SENSOR",
    "global_position/global": "SENSOR", "global_position/rel_alt": "SENSOR",
    "global_position/compass_hdg": "SENSOR", "local_position/velocity_local": "SENSOR",
    "home_position/home": "STATE", "mission/reached": "LATCHED",
}


def test_every_mavros_topic_is_subscribed_with_the_qos_mavros_publishes_it_with(
        graph: RosGraph, tmp_path: Path) -> None:
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

    graph.add(FleetManagerNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=fleet_config(
            tmp_path, vehicles=[{"id": "q1"}], discovery={"enabled": False}))]))
    probe = graph.node("qos_probe")
    expected = {
        "SENSOR": (ReliabilityPolicy.BEST_EFFORT, DurabilityPolicy.VOLATILE),
        "STATE": (ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL),
        "LATCHED": (ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL),
    }
    for topic, kind in _MAVROS_QOS.items():
        name = f"/q1/mavros/{topic}"
        infos = graph.wait_for(lambda n=name: [
            i for i in probe.get_subscriptions_info_by_topic(n)
            if i.node_name == "fleet_manager"], 5.0, f"fleet_manager subscribed to {name}")
        assert len(infos) == 1, name
        qos = infos[0].qos_profile
        assert (qos.reliability, qos.durability) == expected[kind], name


def test_bytes_that_are_not_the_topics_message_are_ignored_and_counted_as_malformed(
        graph: RosGraph, tmp_path: Path) -> None:
    fm = graph.add(FleetManagerNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=fleet_config(
            tmp_path, vehicles=[{"id": "junk", "mavros_prefix": "/junk/mavros"}]))]))
    node = graph.node("junk_source")
    fix_pub = node.create_publisher(NavSatFix, "/junk/mavros/global_position/global", SENSOR_QOS)
    state_pub = node.create_publisher(State, "/junk/mavros/state", STATE_QOS)
    graph.wait_for(lambda: fix_pub.get_subscription_count() > 0, 5.0, "the manager to subscribe")
    fix_pub.publish(b"\x00\x01\x00\x00" + b"\xff" * 8)  # a CDR header and then nonsense
    state_pub.publish(b"\x00\x01\x00\x00\x07")
    v = fm.fleet["junk"]
    graph.wait_for(lambda: v.rejected.get(RejectReason.MALFORMED, 0) >= 2, 5.0,
                   "two malformed messages counted")
    assert v.position is None


def test_accepted_samples_are_batched_on_fleet_telemetry_for_the_recorder(
        graph: RosGraph, tmp_path: Path) -> None:
    from fleet_core.fleet.telemetry import (
        AutopilotState,
        Heading,
        PositionFix,
        RelativeAltitude,
        Velocity,
    )
    from fleet_interfaces.msg import TelemetryBatch
    from fleet_ros.fleet_topics import TELEMETRY
    from fleet_ros.telemetry_batch import batch_samples

    start(graph, sim_config(tmp_path, [{"id": "b1", "home": _home(0.0)},
                                       {"id": "b2", "home": _home(50.0)}]),
          fleet_config(tmp_path))
    batches = Collector(graph, TelemetryBatch, TELEMETRY.name, TELEMETRY.qos)
    def fixes() -> list[Any]:
        return [s for m in batches.snapshot() for s in batch_samples(m)
                if isinstance(s.value, PositionFix)]

    graph.wait_for(lambda: {s.vehicle_id for s in fixes()} == {"b1", "b2"}, 15.0,
                   "fixes of both vehicles in the batches")
    kinds = {type(s.value) for m in batches.snapshot() for s in batch_samples(m)}
    assert {PositionFix, RelativeAltitude, Heading, Velocity, AutopilotState} <= kinds
    home = GeoPoint(**HOME)
    assert all(haversine_m(s.value.position, home) < 100.0 for s in fixes())
    sequences = [m.sequence for m in batches.snapshot()]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)
