"""Every vehicle message the recorder drops is counted by reason, and the counts are in its
diagnostics (a fix without a GNSS fix used to vanish without a trace)."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from sensor_msgs.msg import NavSatFix, NavSatStatus
from sqlalchemy import Engine, text
from std_msgs.msg import Float64

from fleet_core.errors import ConfigError
from fleet_core.mavros_topics import MavrosTopic
from fleet_db.db import make_engine
from fleet_ros.graph import RosGraph
from telemetry_recorder.node import TelemetryRecorderNode, drop_key
from tests.mission_planner.test_node import at, write
from tests.ros_helpers import Collector
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.ros

URL = os.environ.get("FLEET_TEST_DATABASE_URL",
                     "postgresql+psycopg://fleet@127.0.0.1:5432/fleet_test")


@pytest.fixture
def vid() -> Iterator[str]:
    """A vehicle id of this test alone; its rows are deleted afterwards."""
    name = f"drop{os.getpid()}x{time.monotonic_ns() % 10**6}"
    yield name
    engine: Engine = make_engine(URL)
    try:
        with engine.begin() as conn:
            conn.execute(text("delete from telemetry where vehicle_id = :v"), {"v": name})
    finally:
        engine.dispose()


def recorder(graph: RosGraph, tmp_path: Path, **overrides: Any) -> TelemetryRecorderNode:
    fleet = write(tmp_path, "recorder-fleet.yaml", {"fleet_manager": {
        "origin": at(0, 0), "sites": [], "vehicles": []}})
    values = {"database_url": URL, "spool_dir": str(tmp_path / "s"),
              "fleet_config_file": fleet, **overrides}
    node = TelemetryRecorderNode(context=graph.context, parameter_overrides=[
        Parameter(k, value=v) for k, v in values.items()])
    graph.add(node)
    return node


def fix(status: int, latitude: float = 47.0, sec: int | None = None) -> NavSatFix:
    msg = NavSatFix(latitude=latitude, longitude=8.0, altitude=450.0)
    msg.status.status = status
    msg.header.stamp = Time(sec=int(time.time()) if sec is None else sec)
    return msg


def test_dropped_vehicle_messages_are_counted_by_reason_in_the_diagnostics(
        graph: RosGraph, tmp_path: Path, vid: str) -> None:
    rec = recorder(graph, tmp_path)
    diagnostics = Collector(graph, DiagnosticArray, "/diagnostics", 10)

    def deliver(topic: MavrosTopic, msg: Any) -> None:
        # What a subscription of the vehicle runs, without waiting for DDS.
        rec.guarded(vid, functools.partial(rec.on_vehicle_message, topic), topic)(msg)

    now = int(time.time())
    deliver(MavrosTopic.FIX, fix(NavSatStatus.STATUS_NO_FIX))
    deliver(MavrosTopic.FIX, fix(NavSatStatus.STATUS_NO_FIX))
    deliver(MavrosTopic.FIX, fix(NavSatStatus.STATUS_FIX, sec=now))  # the one row
    deliver(MavrosTopic.FIX, fix(NavSatStatus.STATUS_FIX, sec=now))  # same (vehicle, time)
    deliver(MavrosTopic.FIX, fix(NavSatStatus.STATUS_FIX, latitude=91.0, sec=now + 1))
    deliver(MavrosTopic.REL_ALT, Float64(data=float("nan")))

    assert rec.dropped == {"fix.no_fix": 2, "fix.repeated_stamp": 1, "fix.invalid": 1,
                           "rel_alt.out_of_range": 1}
    assert rec.writer.metrics().accepted == 1
    # Written before the test ends, so that the vid fixture deletes it.
    graph.wait_for(lambda: rec.writer.metrics().written == 1, 10.0, "the one row written")

    def values() -> dict[str, str] | None:
        for array in diagnostics.snapshot():
            for status in array.status:
                kv = {v.key: v.value for v in status.values}
                if status.name.endswith("recorder") and kv.get("dropped") == "5":
                    return kv
        return None

    rec.publish_diagnostics()
    graph.wait_for(values, 10.0, "the drops in /diagnostics")
    kv = values()
    assert kv is not None
    assert (kv["dropped.fix.no_fix"], kv["dropped.fix.repeated_stamp"],
            kv["dropped.fix.invalid"], kv["dropped.rel_alt.out_of_range"]) == ("2", "1", "1", "1")


def test_drop_keys_name_the_topic_and_the_reason() -> None:
    assert drop_key(MavrosTopic.FIX, "no_fix") == "fix.no_fix"
    assert drop_key(MavrosTopic.REL_ALT, "out_of_range") == "rel_alt.out_of_range"


@pytest.mark.parametrize(("name", "value", "match"), [
    ("db_connect_timeout_s", 1, "db_connect_timeout_s must be within 2..600"),
    ("db_reply_timeout_s", 0.0, "db_reply_timeout_s must be positive"),
    ("unwritten_warn_s", -1.0, "unwritten_warn_s must be positive"),
])
def test_bad_database_timeouts_are_refused_by_name(graph: RosGraph, tmp_path: Path,
                                                   name: str, value: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        recorder(graph, tmp_path, **{name: value})


def test_messages_arriving_while_the_storage_opens_are_kept_and_stored_in_order(
        graph: RosGraph, tmp_path: Path, vid: str) -> None:
    # A database that swallows the connection attempt: opening the storage takes the whole
    # connect timeout (then it spools), while the node is already subscribed.
    proxy = TcpProxy()
    proxy.black_hole()
    try:
        rec = recorder(graph, tmp_path, database_url=proxy.url(URL), db_connect_timeout_s=2,
                       vehicles=[vid])
        on_fix: Any = rec.vehicles[vid][MavrosTopic.FIX].callback  # what DDS delivery runs
        start = int(time.time()) - 30
        for k in range(20):
            on_fix(fix(NavSatStatus.STATUS_FIX, latitude=47.0 + k * 1e-4, sec=start + k))
        assert rec.startup_kept == 20  # subscribed and keeping, the storage still opening
        proxy.restore()
        graph.wait_for(lambda: rec.writer.metrics().written == 20, 30.0,
                       "the kept fixes written once the storage opened")
        assert rec.startup_kept == 0
    finally:
        proxy.stop()
    engine = make_engine(URL)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "select extract(epoch from time)::bigint, round(st_y(position)::numeric, 4) "
                "from telemetry where vehicle_id = :v order by time"), {"v": vid}).all()
    finally:
        engine.dispose()
    assert [(int(t), float(lat)) for t, lat in rows] == \
        [(start + k, round(47.0 + k * 1e-4, 4)) for k in range(20)]
