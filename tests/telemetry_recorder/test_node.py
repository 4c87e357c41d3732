"""telemetry_recorder stores a simulated fleet's samples, flights and events in PostGIS."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.parameter import Parameter
from sqlalchemy import Engine, text

from fleet_core.errors import ConfigError
from fleet_db.db import make_engine
from fleet_interfaces.action import RequestCharge
from fleet_interfaces.msg import CoordinationEvent, FleetStatus
from fleet_interfaces.srv import InjectFailure
from fleet_manager.node import FleetManagerNode
from fleet_ros.graph import RosGraph
from fleet_ros.qos import EVENTS_QOS, FLEET_QOS
from fleet_sim.node import FleetSimNode
from mission_planner.node import MissionPlannerNode
from telemetry_recorder.node import TelemetryRecorderNode
from tests.mission_planner.test_node import (
    STATION,
    GoalWatcher,
    at,
    mission,
    survey_spec,
    write,
)
from tests.ros_helpers import Collector
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.ros

URL = os.environ.get("FLEET_TEST_DATABASE_URL",
                     "postgresql+psycopg://fleet@127.0.0.1:5432/fleet_test")
_n = itertools.count()


@pytest.fixture
def engine() -> Iterator[Engine]:
    e = make_engine(URL)
    yield e
    e.dispose()


@pytest.fixture
def vid(engine: Engine) -> Iterator[str]:
    """A vehicle id no other test uses; its rows are deleted afterwards."""
    name = f"rec{os.getpid()}x{next(_n)}"
    yield name
    with engine.begin() as conn:
        conn.execute(text("delete from telemetry where vehicle_id = :v"), {"v": name})
        conn.execute(text("delete from flights where vehicle_id = :v"), {"v": name})
        conn.execute(text("delete from coordination_events where vehicle_id = :v"), {"v": name})
        conn.execute(text("delete from missions where vehicle_id = :v"), {"v": name})
        conn.execute(text("delete from charging_sessions where vehicle_id = :v"), {"v": name})
        conn.execute(text("delete from vehicles where id = :v"), {"v": name})


def recorder(graph: RosGraph, spool: Path, url: str = URL,
             sites: list[dict[str, Any]] | None = None,
             registry: list[dict[str, Any]] | None = None, *,
             source: str = "mavros") -> TelemetryRecorderNode:
    # Its own fleet.yaml: the shipped one's sites and vehicles must not land in the shared
    # test database.
    fleet = write(spool.parent, f"recorder-fleet-{spool.name}.yaml", {"fleet_manager": {
        "origin": at(0, 0), "sites": sites or [], "vehicles": registry or []}})
    node = TelemetryRecorderNode(context=graph.context, parameter_overrides=[
        Parameter("database_url", value=url), Parameter("spool_dir", value=str(spool)),
        Parameter("retain_days", value=3650), Parameter("flight_idle_gap_s", value=5.0),
        Parameter("fleet_config_file", value=fleet), Parameter("source", value=source)])
    graph.add(node)
    return node


def start(graph: RosGraph, tmp_path: Path, vehicles: list[str], *, factor: float = 10.0,
          planner: bool = False, battery_pct: float = 100.0) -> FleetSimNode:
    sim = write(tmp_path, "sim.yaml", {"fleet_sim": {
        "seed": 1, "time_factor": factor, "link_timeout_s": 10.0,
        "defaults": {"battery": {"initial_percent": battery_pct}},
        "charging_stations": [STATION],
        "vehicles": [{"id": v, "home": at(0, 10 * i)} for i, v in enumerate(vehicles)]}})
    fleet = write(tmp_path, "fleet.yaml", {"fleet_manager": {
        "origin": at(0, 0), "vehicles": [], "status_rate_hz": 5.0, "check_rate_hz": 10.0,
        "discovery": {"enabled": True, "period_s": 0.5},
        "liveness": {"stale_after_s": 2.0, "lost_after_s": 6.0},
        "separation": {"enabled": False}}})
    sim_node = FleetSimNode(context=graph.context,
                            parameter_overrides=[Parameter("config_file", value=sim)])
    graph.add(sim_node)
    graph.add(FleetManagerNode(context=graph.context,
                               parameter_overrides=[Parameter("config_file", value=fleet)]))
    if planner:
        missions = write(tmp_path, "missions.yaml", {"mission_planner": {
            "tick_rate_hz": 5.0, "charging_stations": [STATION]}})
        p = graph.add(MissionPlannerNode(context=graph.context, parameter_overrides=[
            Parameter("config_file", value=missions),
            Parameter("fleet_config_file", value=fleet)]))
        assert isinstance(p, MissionPlannerNode)
        graph.wait_for(lambda: len(p.candidates()) == len(vehicles), 20.0, "planner ready")
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    graph.wait_for(lambda: (s := status.last()) and len(s.vehicles) == len(vehicles), 20.0,
                   "fleet picture")
    return sim_node


def count(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_a_mission_flown_in_the_simulator_is_recorded_with_its_flight_and_events(
        graph: RosGraph, tmp_path: Path, engine: Engine, vid: str) -> None:
    start(graph, tmp_path, [vid], planner=True)
    rec = recorder(graph, tmp_path / "spool")
    goal = mission(graph, survey_spec())
    result = goal.wait(120.0)
    assert result.final_state == "completed"
    graph.wait_for(lambda: count(engine, "select count(*) from flights where vehicle_id = :v",
                                 v=vid), 30.0, "the flight row")
    with engine.connect() as conn:
        flight = conn.execute(text(
            "select duration_s, distance_m, max_alt_rel_m, energy_wh, ST_NPoints(path) "
            "from flights where vehicle_id = :v"), {"v": vid}).one()
        rows = conn.execute(text(
            "select count(*), count(distinct time), count(mission_id), "
            "count(*) filter (where battery_pct is null) from telemetry "
            "where vehicle_id = :v"), {"v": vid}).one()
    duration, distance, max_alt, energy, points = flight
    assert duration > 5.0
    assert distance > 0.8 * result.flown_distance_m
    assert 15.0 < max_alt < 25.0  # the survey flew at 20 m
    assert energy > 0.0
    assert points > 10
    total, distinct, with_mission, no_battery = rows
    assert total == distinct  # one row per (vehicle, time)
    assert total > 50  # 10 Hz (wall clock) over the whole flight
    assert with_mission > 0  # rows during the mission carry its id
    assert no_battery < 20  # only the first rows, before the first battery message
    graph.wait_for(lambda: count(engine, "select status from missions where id = :m",
                                 m=result.mission_id) == "completed", 10.0,
                   "the mission row completed")
    with engine.connect() as conn:
        path_points, area_ok, estimated = conn.execute(text(
            "select ST_NPoints(planned_path), ST_Area(area::geography) > 3000, "
            "estimated_distance_m from missions where id = :m"),
            {"m": result.mission_id}).one()
    assert path_points >= 4  # the planned path the vehicle flew
    kinds = count(engine, "select array_agg(kind order by seq) from mission_waypoints "
                  "where mission_id = :m and not superseded", m=result.mission_id)
    assert len(kinds) == path_points  # one row per planned waypoint
    assert (kinds[0], kinds[-1]) == ("takeoff", "land")
    assert area_ok  # the 60 x 60 m survey area
    assert estimated > 100.0
    states = graph.wait_for(lambda: (s := [r[0] for r in _events(engine, result.mission_id)])
                            and s[-1] == "completed" and s, 10.0, "mission events")
    assert states[:3] == ["queued", "assigned", "active"]
    graph.wait_for(lambda: count(engine, "select status from vehicles where id = :v", v=vid)
                   in ("idle", "returning", "in_mission"), 10.0, "the vehicle registry row")
    metrics = rec.writer.metrics()
    assert metrics.written >= total
    assert metrics.last_error is None


def _events(engine: Engine, mission_id: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "select to_state from mission_events where mission_id = :m and from_state is "
            "distinct from to_state order by time, id"),  # transitions, not changes
            {"m": mission_id}))


def test_a_charge_is_stored_as_a_charging_session_at_its_station(
        graph: RosGraph, tmp_path: Path, engine: Engine, vid: str) -> None:
    start(graph, tmp_path, [vid], planner=True, battery_pct=40.0, factor=20.0)
    recorder(graph, tmp_path / "spool")
    charge = GoalWatcher(graph, RequestCharge, "/mission_planner/request_charge",
                         RequestCharge.Goal(vehicle_id=vid, target_pct=50.0))
    result = charge.wait(120.0)
    assert result.success
    row = graph.wait_for(lambda: (r := _session(engine, vid)) and r.ended_at is not None and r,
                         20.0, "the charging_sessions row completed")
    assert row.station_id == STATION["id"]
    assert row.pad == result.pad
    assert row.start_pct == pytest.approx(result.start_pct, abs=0.01)
    assert row.start_pct < 40.0  # it flew to the pad first
    assert row.end_pct == pytest.approx(result.charged_pct, abs=0.01)
    assert row.end_pct >= 50.0
    assert row.energy_wh == pytest.approx(result.energy_wh, rel=1e-3)
    assert row.ended_at > row.started_at >= row.requested_at
    assert count(engine, "select count(*) from charging_sessions where vehicle_id = :v",
                 v=vid) == 1


def _session(engine: Engine, vid: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text("select * from charging_sessions where vehicle_id = :v"),
                            {"v": vid}).one_or_none()


def test_a_recorder_started_while_the_database_is_down_spools_and_catches_up(
        graph: RosGraph, tmp_path: Path, engine: Engine, vid: str) -> None:
    proxy = TcpProxy()
    proxy.cut()
    try:
        start(graph, tmp_path, [vid])
        rec = recorder(graph, tmp_path / "spool", url=proxy.url(URL))
        diagnostics = Collector(graph, DiagnosticArray, "/diagnostics", 10)
        graph.wait_for(lambda: rec.writer.metrics().accepted > 30, 20.0, "samples spooled")
        assert rec.writer.metrics().last_error  # it says why nothing is written yet
        down = graph.wait_for(lambda: _recorder_status(diagnostics, DiagnosticStatus.WARN),
                              10.0, "a WARN diagnostic while the database is away")
        assert down.message.startswith("database: ")
        assert down.message.endswith("(spooling)")
        values = {kv.key: kv.value for kv in down.values}
        assert int(values["writer.spool_pending_bytes"]) > 0  # the backlog, visible
        assert values["writer.connected"] == "False"
        assert count(engine, "select count(*) from telemetry where vehicle_id = :v",
                     v=vid) == 0
        restored_at = time.time()
        proxy.restore()
        graph.wait_for(lambda: (m := rec.writer.metrics()).connected and m.written > 30,
                       30.0, "the spool written once the database is back")
        with engine.connect() as conn:
            total, distinct, first = conn.execute(text(
                "select count(*), count(distinct time), min(time) from telemetry "
                "where vehicle_id = :v"), {"v": vid}).one()
        assert total == distinct >= 30
        assert first.timestamp() < restored_at - 1.0  # samples spooled while it was down
        up = graph.wait_for(lambda: _recorder_status(diagnostics, DiagnosticStatus.OK), 10.0,
                            "an OK diagnostic once it caught up")
        assert up.message == "recording"
    finally:
        proxy.stop()


def _recorder_status(diagnostics: Collector, level: bytes) -> Any:
    last = diagnostics.last()
    if last is None:
        return None
    return next((st for st in last.status if st.name == "telemetry_recorder: recorder"
                 and st.level == level), None)


def test_two_recorders_side_by_side_store_every_sample_once(
        graph: RosGraph, tmp_path: Path, engine: Engine, vid: str) -> None:
    start(graph, tmp_path, [vid])
    first = recorder(graph, tmp_path / "a")
    second = recorder(graph, tmp_path / "b")
    graph.wait_for(lambda: (count(engine, "select count(*) from telemetry where vehicle_id = "
                                  ":v", v=vid) or 0) > 50, 30.0, "rows from both recorders")
    a, b = first.writer.metrics(), second.writer.metrics()
    assert a.accepted > 0
    assert b.accepted > 0
    assert a.duplicates_skipped + b.duplicates_skipped > 0  # they did race for the same rows
    with engine.connect() as conn:
        total, distinct = conn.execute(text(
            "select count(*), count(distinct time) from telemetry where vehicle_id = :v"),
            {"v": vid}).one()
    assert total == distinct


def test_a_lost_link_is_stored_as_a_coordination_event(
        graph: RosGraph, tmp_path: Path, engine: Engine, vid: str) -> None:
    start(graph, tmp_path, [vid])
    recorder(graph, tmp_path / "spool")
    inject = graph.node("inj").create_client(InjectFailure, "/fleet_sim/inject_failure")
    graph.call(inject, InjectFailure.Request(vehicle_id=vid, active=True,
                                             failure=InjectFailure.Request.FAILURE_LINK_LOSS))
    graph.wait_for(lambda: count(engine, "select count(*) from coordination_events where "
                                 "vehicle_id = :v and type = 'link_lost'", v=vid), 20.0,
                   "the link_lost row")
    graph.call(inject, InjectFailure.Request(vehicle_id=vid, active=False,
                                             failure=InjectFailure.Request.FAILURE_LINK_LOSS))
    graph.wait_for(lambda: count(engine, "select count(*) from coordination_events where "
                                 "vehicle_id = :v and closed_at is not null", v=vid), 20.0,
                   "the event closed when the link came back")
    details = count(engine, "select details from coordination_events where vehicle_id = :v",
                    v=vid)
    assert vid in json.dumps(details)


def test_malformed_fleet_messages_are_counted_and_the_recorder_keeps_recording(
        graph: RosGraph, tmp_path: Path, engine: Engine, vid: str) -> None:
    start(graph, tmp_path, [vid])
    rec = recorder(graph, tmp_path / "spool")
    pub = graph.node("garbage").create_publisher(CoordinationEvent, "/fleet/events",
                                                  EVENTS_QOS)
    time.sleep(1.0)  # discovery
    pub.publish(CoordinationEvent(id="", type=0))
    pub.publish(CoordinationEvent(id="x", type=42))
    graph.wait_for(lambda: sum(rec.rejected.values()) >= 2, 10.0, "both rejects counted")
    assert any("without an id" in k for k in rec.rejected)
    assert rec.rejected.get("coordination event 'x'") == 1  # its unknown type 42
    before = count(engine, "select count(*) from telemetry where vehicle_id = :v", v=vid) or 0
    graph.wait_for(lambda: (count(engine, "select count(*) from telemetry where vehicle_id = "
                                  ":v", v=vid) or 0) > before + 10, 20.0, "still recording")


def test_the_zones_in_force_and_the_vehicle_registry_follow_fleet_manager(
        graph: RosGraph, tmp_path: Path, engine: Engine, vid: str) -> None:
    from geographic_msgs.msg import GeoPoint as GeoPointMsg

    from fleet_interfaces.msg import NoFlyZone
    from fleet_interfaces.srv import SetNoFlyZones

    zone_id, site_id = f"{vid}_stadium", f"{vid}_base"
    start(graph, tmp_path, [vid])
    recorder(graph, tmp_path / "spool", sites=[{
        "id": site_id, "name": "base", "time_zone": "Europe/Zurich", "location": at(0, 0)}],
        registry=[{"id": vid, "home_site": site_id,
                   "capabilities": {"max_payload_kg": 2.5, "max_wind_mps": 14.0}}])
    corners = [at(100, 100), at(200, 100), at(200, 200), at(100, 200)]
    zone = NoFlyZone(id=zone_id, name="stadium", altitude_floor=0.0, altitude_ceiling=120.0,
                     polygon=[GeoPointMsg(latitude=c["latitude"], longitude=c["longitude"])
                              for c in corners])
    client = graph.node("authority").create_client(SetNoFlyZones,
                                                   "/fleet_manager/set_no_fly_zones")
    try:
        assert graph.call(client, SetNoFlyZones.Request(zones=[zone])).success
        row = graph.wait_for(lambda: _zone_row(engine, zone_id), 10.0, "the zone stored")
        name, area_m2, floor, ceiling, until, authority = row
        assert (name, floor, ceiling, until, authority) == (
            "stadium", 0.0, 120.0, None, "fleet_manager")
        assert area_m2 == pytest.approx(100 * 100, rel=0.02)
        assert graph.call(client, SetNoFlyZones.Request(zones=[])).success
        graph.wait_for(lambda: (r := _zone_row(engine, zone_id)) and r[4] is not None, 10.0,
                       "the lifted zone ended, its row kept")
        assert count(engine, "select time_zone from sites where id = :s",
                     s=site_id) == "Europe/Zurich"
        model, _, caps, site = graph.wait_for(
            lambda: (r := _registry(engine, vid)) and r[1] and r, 15.0,
            "the registry row with its home")
        assert model == "multirotor"
        assert (caps["max_payload_kg"], caps["max_wind_mps"]) == (2.5, 14.0)  # fleet.yaml's
        assert site == site_id
    finally:
        with engine.begin() as conn:
            conn.execute(text("delete from no_fly_zones where id = :z"), {"z": zone_id})
            conn.execute(text("update vehicles set site_id = null where id = :v"), {"v": vid})
            conn.execute(text("delete from sites where id = :s"), {"s": site_id})


def _zone_row(engine: Engine, zone_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(
            "select name, ST_Area(geom::geography), floor_m, ceiling_m, active_until, "
            "authority from no_fly_zones where id = :z"), {"z": zone_id}).one_or_none()


def _registry(engine: Engine, vid: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text("select model, home is not null, capabilities, site_id "
                                 "from vehicles where id = :v"), {"v": vid}).one_or_none()


def test_a_recorder_fed_by_fleet_managers_batches_stores_every_fix_published_once(
        graph: RosGraph, tmp_path: Path, engine: Engine, vid: str) -> None:
    rec = recorder(graph, tmp_path / "spool", source="fleet")
    assert rec.vehicles == {}
    sim = start(graph, tmp_path, [vid])
    rows = "select count(*) from telemetry where vehicle_id = :v"
    graph.wait_for(lambda: (count(engine, rows, v=vid) or 0) > 30, 30.0, "rows from batches")
    assert rec.vehicles == {vid: {}}  # recorded without a subscription of its own
    graph.executor.remove_node(sim)
    sim.destroy_node()
    published = sim.fixes_published
    graph.wait_for(lambda: count(engine, rows, v=vid) == published, 20.0,
                   f"all {published} published fixes stored")
    assert count(engine, "select count(distinct time) from telemetry where vehicle_id = :v",
                 v=vid) == published
    assert "fleet_telemetry.lost_batches" not in rec.dropped


def test_a_recorder_refuses_an_unknown_source(graph: RosGraph, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="parameter source must be one of"):
        recorder(graph, tmp_path / "spool", source="carrier-pigeon")
