"""A stored slice is replayed onto the original MAVROS topics, paced by its stamps."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sensor_msgs.msg import BatteryState, NavSatFix
from sqlalchemy import Engine

from fleet_db.bags import iter_slice_messages
from fleet_db.ingest import TelemetryWriter
from fleet_db.samples import TelemetrySample
from fleet_ros.graph import RosGraph
from fleet_ros.qos import SENSOR_QOS
from telemetry_recorder.replay import main, replay
from tests.ros_helpers import Collector
from tests.telemetry_recorder.test_node import engine, vid  # noqa: F401 - fixtures

pytestmark = pytest.mark.ros
# Recent (the writer refuses samples older than a week), on a whole second.
T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


@pytest.fixture
def stored(engine: Engine, vid: str, tmp_path: Path) -> list[TelemetrySample]:  # noqa: F811
    samples = [TelemetrySample(vid, T0 + timedelta(seconds=0.1 * i), 47.3977 + i * 1e-5,
                               8.5456, altitude_amsl=500.0, altitude_rel=12.0,
                               battery_pct=80.0 - i * 0.1, voltage_v=24.0, current_a=10.0,
                               mode="AUTO.MISSION", armed=True, landed_state=2)
               for i in range(20)]
    with TelemetryWriter(engine, tmp_path / "spool") as writer:
        for s in samples:
            assert writer.submit(s)
        assert writer.flush(10.0)
    return samples


def test_a_stored_slice_is_replayed_on_the_mavros_topics_at_the_chosen_speed(
        graph: RosGraph, engine: Engine, vid: str,  # noqa: F811
        stored: list[TelemetrySample]) -> None:
    fixes = Collector(graph, NavSatFix, f"/replay/{vid}/mavros/global_position/global",
                      SENSOR_QOS)
    battery = Collector(graph, BatteryState, f"/replay/{vid}/mavros/battery", SENSOR_QOS)
    node = graph.node("replayer")
    with engine.connect() as conn:
        messages = list(iter_slice_messages(conn, [vid], T0, T0 + timedelta(seconds=10)))
    time.sleep(1.0)  # discovery of the collectors
    started = time.monotonic()
    count = replay(node, messages, speed=2.0, prefix="replay")
    elapsed = time.monotonic() - started
    assert count == len(messages)
    assert 0.9 < elapsed < 2.0  # 1.9 s of samples at twice the speed
    graph.wait_for(lambda: len(fixes.snapshot()) >= 18, 5.0, "the replayed fixes")
    got = fixes.snapshot()
    assert [round(m.latitude, 6) for m in got] == \
        [round(s.latitude, 6) for s in stored][:len(got)]
    assert battery.last() is not None
    assert battery.last().percentage == pytest.approx(stored[-1].battery_pct / 100.0, abs=0.01)


def test_replay_usage_errors_name_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--vehicles", "uav0", "--from", "2026-11-20T12:00:00"])
    assert exit_.value.code == 2
    assert "no time zone" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--vehicles", "uav0", "--speed", "0"])
    assert "--speed" in capsys.readouterr().err
