"""rosbag2 export/import: MAVROS topics, types, QoS, CDR compatibility, exact round trips."""

from __future__ import annotations

import importlib
import json
import math
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rosbags.interfaces import ConnectionExtRosbag2, QosDurability, QosReliability
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys.stores.ros2_kilted import sensor_msgs__msg__NavSatFix as NavSatFix
from rosbags.typesys.stores.ros2_kilted import sensor_msgs__msg__NavSatStatus as NavSatStatus
from rosbags.typesys.stores.ros2_kilted import std_msgs__msg__String as String
from sqlalchemy import Connection, Engine, text

from fleet_db import bags, msgdefs
from fleet_db.bags import (
    BagError,
    BagSamples,
    export_bag,
    import_bag,
    iter_slice_messages,
    parse_topic,
    samples_to_messages,
    write_bag,
)
from fleet_db.bags.messages import stamped_header, time_ns
from fleet_db.bagtool import main as bagtool
from fleet_db.samples import TelemetrySample

UPSTREAM_HASHES = Path(__file__).parents[1] / "compat" / "upstream_type_hashes.txt"
# A fixed past instant just before midnight UTC: slices span two daily partitions.
T0 = datetime(2026, 3, 14, 23, 59, 56, 250_000, tzinfo=UTC)
MAVROS_TYPES = {
    "mavros/global_position/global": "sensor_msgs/msg/NavSatFix",
    "mavros/global_position/rel_alt": "std_msgs/msg/Float64",
    "mavros/global_position/compass_hdg": "std_msgs/msg/Float64",
    "mavros/local_position/velocity_local": "geometry_msgs/msg/TwistStamped",
    "mavros/battery": "sensor_msgs/msg/BatteryState",
    "mavros/state": "mavros_msgs/msg/State",
    "mavros/extended_state": "mavros_msgs/msg/ExtendedState",
}
FLOAT32_FIELDS = ("battery_pct", "voltage_v", "current_a")


def make_rows(vehicles: Sequence[str], count: int, start: datetime = T0,
              step: timedelta = timedelta(milliseconds=200)) -> list[TelemetrySample]:
    """Return varied rows in time order, with values that appear, change and vanish."""
    rows = []
    for i in range(count):
        for k, vehicle in enumerate(vehicles):
            battery_known = i % 10 != 7  # a gap in the battery reports
            rows.append(TelemetrySample(
                vehicle_id=vehicle, time=start + i * step,
                latitude=47.397 + 1e-5 * i + 0.01 * k, longitude=8.545 - 2e-5 * i,
                altitude_amsl=488.0 + 0.25 * i if i != 3 else None,
                altitude_rel=0.5 * i if i % 9 != 4 else None,
                heading_deg=(37.0 * i) % 360.0 if i % 8 != 5 else None,
                ground_speed_mps=0.3 * i if i % 11 != 6 else None,
                climb_rate_mps=1.25 - 0.1 * i if i != 2 else None,
                battery_pct=95.0 - 0.37 * i if battery_known else None,
                voltage_v=16.4 - 0.01 * i if battery_known else None,
                current_a=18.5 + 0.1 * k if battery_known else None,
                mode=("AUTO.TAKEOFF" if i < 3 else "AUTO.MISSION") if i != 12 else None,
                armed=True if i != 12 else None,
                landed_state=3 if i < 3 else 2,
                mission_id=None if i < 2 else f"mission-{k}" if i < 15 else f"mission-{k}b",
            ))
    return rows


def assert_same_rows(got: Sequence[TelemetrySample], want: Sequence[TelemetrySample]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        for name in TelemetrySample.__slots__:
            gv, wv = getattr(g, name), getattr(w, name)
            if isinstance(wv, float) and name in FLOAT32_FIELDS:
                assert gv == pytest.approx(wv, rel=1e-6), (w.vehicle_id, w.time, name)
            elif isinstance(wv, float):
                assert gv == pytest.approx(wv, rel=1e-12, abs=1e-12), (w.vehicle_id, w.time, name)
            else:
                assert gv == wv, (w.vehicle_id, w.time, name)


def _key(row: TelemetrySample) -> tuple[datetime, str]:
    return row.time, row.vehicle_id


# ------------------------------------------------------------------------ bag contents
def test_a_written_slice_has_the_mavros_topics_types_and_a_fix_per_row(tmp_path: Path) -> None:
    rows = make_rows(["uav1", "uav2"], 20)
    count, per_topic = write_bag(tmp_path / "bag", rows)
    assert count == 40
    with Reader(tmp_path / "bag") as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        counted = Counter(c.topic for c, _, _ in reader.messages())
    want = {f"/{v}/{suffix}": t for v in ("uav1", "uav2") for suffix, t in MAVROS_TYPES.items()}
    want |= {"/uav1/fleet/mission_id": "std_msgs/msg/String",
             "/uav2/fleet/mission_id": "std_msgs/msg/String"}
    assert topics == want
    assert counted == per_topic
    assert counted["/uav1/mavros/global_position/global"] == 20
    assert counted["/uav2/mavros/extended_state"] == 20
    assert counted["/uav1/fleet/mission_id"] == 2  # set at row 2, changed at row 15


def test_a_written_bag_is_mcap_version_9_with_stamps_equal_to_log_times(tmp_path: Path) -> None:
    write_bag(tmp_path / "bag", make_rows(["uav1"], 5))
    assert (tmp_path / "bag" / "bag.mcap").is_file()
    store = msgdefs.typestore()
    with Reader(tmp_path / "bag") as reader:
        assert "version: 9" in (tmp_path / "bag" / "metadata.yaml").read_text()
        for conn, log_ns, raw in reader.messages():
            msg: Any = store.deserialize_cdr(raw, conn.msgtype)
            if hasattr(msg, "header"):
                assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == log_ns


def test_offered_qos_is_best_effort_for_sensors_and_transient_local_for_state(
        tmp_path: Path) -> None:
    write_bag(tmp_path / "bag", make_rows(["uav1"], 3))
    with Reader(tmp_path / "bag") as reader:
        qos = {c.topic: c.ext.offered_qos_profiles[0] for c in reader.connections
               if isinstance(c.ext, ConnectionExtRosbag2)}
    fix = qos["/uav1/mavros/global_position/global"]
    state = qos["/uav1/mavros/state"]
    assert (fix.reliability, fix.durability, fix.depth) == (
        QosReliability.BEST_EFFORT, QosDurability.VOLATILE, 5)
    assert (state.reliability, state.durability, state.depth) == (
        QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, 10)


def test_message_values_follow_mavros_units_and_frames() -> None:
    row = TelemetrySample("uav1", T0, 47.0, 8.5, 500.0, 12.0, 90.0, 4.0, -0.5, 42.0, 15.0,
                          10.0, "AUTO.RTL", True, 4, "m")
    msgs: dict[str, Any] = {m.topic.split("/", 2)[2]: m.message
                            for m in samples_to_messages([row])}
    fix, twist = msgs["mavros/global_position/global"], msgs["mavros/local_position/velocity_local"]
    assert (fix.latitude, fix.longitude, fix.altitude) == (47.0, 8.5, 500.0)
    # heading 90: all of the ground speed is east (x); climb is z (ENU).
    assert (twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z) == pytest.approx(
        (4.0, 0.0, -0.5), abs=1e-12)
    battery = msgs["mavros/battery"]
    assert (battery.percentage, battery.voltage, battery.current) == (0.42, 15.0, -10.0)
    state = msgs["mavros/state"]
    assert (state.connected, state.armed, state.mode) == (True, True, "AUTO.RTL")
    assert msgs["mavros/extended_state"].landed_state == 4
    assert msgs["mavros/global_position/rel_alt"].data == 12.0
    assert msgs["mavros/global_position/compass_hdg"].data == 90.0
    assert msgs["fleet/mission_id"].data == "m"


def test_a_value_that_becomes_unknown_is_sent_as_unknown() -> None:
    known = TelemetrySample("uav1", T0, 47.0, 8.5, 500.0, 12.0, 90.0, 4.0, -0.5, 42.0, 15.0,
                            10.0, "AUTO.RTL", True, 4)
    unknown = TelemetrySample("uav1", T0 + timedelta(seconds=1), 47.0, 8.5)
    msgs: dict[str, Any] = {m.topic.split("/", 2)[2]: m.message
                            for m in samples_to_messages([known, unknown])
                            if m.time_ns > time_ns(T0)}
    assert math.isnan(msgs["mavros/global_position/rel_alt"].data)
    assert math.isnan(msgs["mavros/global_position/compass_hdg"].data)
    assert math.isnan(msgs["mavros/battery"].percentage)
    assert msgs["mavros/state"].connected is False
    assert "mavros/extended_state" not in msgs  # ExtendedState has no "unknown"


@pytest.mark.parametrize(("topic", "expected"), [
    ("/uav3/mavros/state", ("uav3", bags.STATE)),
    ("uav3/mavros/battery", ("uav3", bags.BATTERY)),
    ("/site/a/uav3/mavros/global_position/global", ("site/a/uav3", bags.FIX)),
    ("/mavros/state", ("", bags.STATE)),
    ("/uav3/fleet/mission_id", ("uav3", bags.MISSION)),
    ("/uav3/mavros/statustext/recv", None),
    ("/uav3/mavros/state/extra", None),
], ids=["namespaced", "relative", "nested", "no-namespace", "mission", "other", "suffix"])
def test_topics_are_split_into_vehicle_and_mavros_topic(
        topic: str, expected: tuple[str, bags.TopicSpec] | None) -> None:
    assert parse_topic(topic) == expected


def test_the_mavros_type_hashes_equal_upstream() -> None:
    upstream = dict(line.split() for line in UPSTREAM_HASHES.read_text().splitlines()
                    if line.strip())
    store = msgdefs.typestore()
    for name in msgdefs.MAVROS_DEFINITIONS:
        assert store.hash_rihs01(name) == upstream[name], name


def test_mavros_definitions_match_the_compat_msg_files_field_for_field() -> None:
    compat = Path(__file__).parents[2] / "src" / "compat" / "mavros_msgs" / "msg"

    def fields(text_: str) -> list[str]:
        lines = (line.split("#", 1)[0].strip() for line in text_.splitlines())
        return [" ".join(line.replace("=", " = ").split()) for line in lines if line]

    for name, definition in msgdefs.MAVROS_DEFINITIONS.items():
        source = (compat / f"{name.rsplit('/', 1)[1]}.msg").read_text()
        assert fields(definition) == fields(source), name


# --------------------------------------------------------------- bag -> samples (no DB)
@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3],
                         ids=["mcap", "sqlite3"])
def test_reading_a_written_bag_rebuilds_every_row(tmp_path: Path,
                                                  storage: StoragePlugin) -> None:
    rows = make_rows(["uav1", "uav2", "uav3"], 30)
    write_bag(tmp_path / "bag", rows, storage=storage)
    source = BagSamples(tmp_path / "bag")
    got = sorted(source, key=_key)
    assert_same_rows(got, sorted(rows, key=_key))
    assert source.ignored == {}
    assert source.vehicles == {"uav1", "uav2", "uav3"}


def test_a_single_mcap_file_can_be_read_without_its_directory(tmp_path: Path) -> None:
    rows = make_rows(["uav1"], 5)
    write_bag(tmp_path / "bag", rows)
    assert len(list(BagSamples(tmp_path / "bag" / "bag.mcap"))) == 5


def test_values_stamped_with_the_fix_apply_to_it_whatever_the_storage_order(
        tmp_path: Path) -> None:
    store = msgdefs.typestore()
    row = TelemetrySample("uav1", T0, 47.0, 8.5, 500.0, battery_pct=50.0, voltage_v=15.0,
                          current_a=3.0, heading_deg=10.0)
    msgs = list(samples_to_messages([row]))
    with Writer(tmp_path / "bag", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        for m in reversed(msgs):  # the fix first
            conn = writer.add_connection(m.topic, m.msgtype, typestore=store)
            writer.write(conn, m.time_ns, store.serialize_cdr(m.message, m.msgtype))
    (got,) = list(BagSamples(tmp_path / "bag"))
    assert got.battery_pct == pytest.approx(50.0)
    assert got.heading_deg == 10.0


def test_a_vehicle_map_renames_namespaces(tmp_path: Path) -> None:
    write_bag(tmp_path / "bag", make_rows(["uav1", "uav2"], 3))
    got = list(BagSamples(tmp_path / "bag", {"/uav1": "uav7"}))
    assert {r.vehicle_id for r in got} == {"uav7", "uav2"}


def _write_raw(path: Path, messages: Sequence[tuple[str, str, int, bytes]]) -> None:
    store = msgdefs.typestore()
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns: dict[tuple[str, str], Any] = {}
        for topic, msgtype, ns, raw in messages:
            if (topic, msgtype) not in conns:
                conns[topic, msgtype] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(conns[topic, msgtype], ns, raw)


def _fix(lat: float, ns: int, status: int = 0) -> object:
    return NavSatFix(
        header=stamped_header(ns, ""),
        status=NavSatStatus(status=status, service=1),  # type: ignore[arg-type]
        latitude=lat, longitude=8.5, altitude=500.0,
        position_covariance=np.zeros(9), position_covariance_type=0)


def test_import_reports_what_it_ignored_and_why(tmp_path: Path) -> None:
    store = msgdefs.typestore()
    ns = time_ns(T0)

    def ser(msg: object, msgtype: str) -> bytes:
        return bytes(store.serialize_cdr(msg, msgtype))

    fix_t = "sensor_msgs/msg/NavSatFix"
    _write_raw(tmp_path / "bag", [
        ("/uav1/mavros/global_position/global", fix_t, ns, ser(_fix(47.0, ns), fix_t)),
        ("/uav1/mavros/global_position/global", fix_t, ns + 10**8,
         ser(_fix(95.0, ns + 10**8), fix_t)),
        ("/uav1/mavros/global_position/global", fix_t, ns + 2 * 10**8,
         ser(_fix(47.0, ns + 2 * 10**8, status=-1), fix_t)),
        ("/uav1/mavros/state", "std_msgs/msg/String", ns,
         ser(String(data="x"), "std_msgs/msg/String")),
        ("/camera/image_raw", "std_msgs/msg/String", ns,
         ser(String(data="x"), "std_msgs/msg/String")),
        ("/mavros/global_position/global", fix_t, ns, ser(_fix(47.0, ns), fix_t)),
    ])
    source = BagSamples(tmp_path / "bag")
    rows = list(source)
    assert [r.latitude for r in rows] == [47.0]
    assert source.ignored == {
        "/uav1/mavros/global_position/global": {"invalid value": 1, "no GPS fix": 1},
        "/uav1/mavros/state": {
            "type std_msgs/msg/String, expected mavros_msgs/msg/State": 1},
        "/camera/image_raw": {"not a telemetry topic": 1},
        "/mavros/global_position/global": {"no vehicle namespace (map '' to a vehicle id)": 1},
    }
    assert "95.0" in source.examples["/uav1/mavros/global_position/global"]
    mapped = list(BagSamples(tmp_path / "bag", {"": "uav9"}))
    assert sorted(r.vehicle_id for r in mapped) == ["uav1", "uav9"]


def test_a_missing_bag_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(BagError, match=r"nowhere\.bag does not exist"):
        BagSamples(tmp_path / "nowhere.bag")


def test_a_bag_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "bag").mkdir()
    with pytest.raises(BagError, match="exists already"):
        write_bag(tmp_path / "bag", make_rows(["uav1"], 1))


def test_a_failed_write_leaves_no_partial_bag(tmp_path: Path) -> None:
    def broken() -> Iterator[TelemetrySample]:
        yield from make_rows(["uav1"], 3)
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="went away"):
        write_bag(tmp_path / "bag", broken())
    assert not (tmp_path / "bag").exists()


# ------------------------------------------------------------- CDR against real rclpy
def _ros_class(msgtype: str) -> Any:
    pkg, _, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


def test_rosbags_cdr_deserializes_with_the_real_ros_message_classes() -> None:
    serialization = pytest.importorskip("rclpy.serialization")
    row = TelemetrySample("uav1", T0, 47.25, 8.5, 500.5, 12.0, 33.0, 4.0, -0.5, 42.0, 15.0,
                          10.0, "AUTO.MISSION", True, 2, "m-1")
    seen = set()
    for m in samples_to_messages([row]):
        ros = serialization.deserialize_message(m.cdr(), _ros_class(m.msgtype))
        seen.add(m.msgtype)
        if m.msgtype.endswith("NavSatFix"):
            assert (ros.latitude, ros.longitude, ros.altitude) == (47.25, 8.5, 500.5)
            assert (ros.header.stamp.sec, ros.header.stamp.nanosec) == (
                time_ns(T0) // 10**9, time_ns(T0) % 10**9)
        elif m.msgtype.endswith("BatteryState"):
            assert ros.percentage == pytest.approx(0.42)
            assert ros.current == -10.0
        elif m.msgtype.endswith("/State"):
            assert (ros.connected, ros.armed, ros.mode) == (True, True, "AUTO.MISSION")
        elif m.msgtype.endswith("ExtendedState"):
            assert ros.landed_state == 2
        elif m.msgtype.endswith("TwistStamped"):
            assert ros.twist.linear.z == -0.5
            assert math.hypot(ros.twist.linear.x, ros.twist.linear.y) == pytest.approx(4.0)
    assert seen == {*MAVROS_TYPES.values(), "std_msgs/msg/String"}


def test_messages_serialized_by_rclpy_import_like_a_ros2_bag_recording(
        tmp_path: Path) -> None:
    serialization = pytest.importorskip("rclpy.serialization")
    from mavros_msgs.msg import ExtendedState, State
    from sensor_msgs.msg import BatteryState, NavSatFix
    from std_msgs.msg import Float64

    ns = time_ns(T0)
    fix = NavSatFix(latitude=47.5, longitude=8.25, altitude=480.0)
    fix.status.status = fix.status.STATUS_FIX  # the default is "no fix"
    fix.header.stamp.sec, fix.header.stamp.nanosec = ns // 10**9, ns % 10**9
    battery = BatteryState(percentage=0.5, voltage=15.5, current=-7.0)
    state = State(connected=True, armed=True, mode="AUTO.LOITER")
    ext = ExtendedState(landed_state=2)
    for m in (battery, state, ext):
        m.header.stamp = fix.header.stamp
    _write_raw(tmp_path / "bag", [
        ("/uav4/mavros/battery", "sensor_msgs/msg/BatteryState", ns,
         serialization.serialize_message(battery)),
        ("/uav4/mavros/state", "mavros_msgs/msg/State", ns,
         serialization.serialize_message(state)),
        ("/uav4/mavros/extended_state", "mavros_msgs/msg/ExtendedState", ns,
         serialization.serialize_message(ext)),
        ("/uav4/mavros/global_position/rel_alt", "std_msgs/msg/Float64", ns,
         serialization.serialize_message(Float64(data=21.0))),
        ("/uav4/mavros/global_position/global", "sensor_msgs/msg/NavSatFix", ns,
         serialization.serialize_message(fix)),
    ])
    source = BagSamples(tmp_path / "bag")
    (row,) = list(source)
    assert source.ignored == {}
    assert (row.vehicle_id, row.time, row.latitude, row.longitude, row.altitude_amsl) == (
        "uav4", T0, 47.5, 8.25, 480.0)
    assert (row.battery_pct, row.voltage_v, row.current_a) == (50.0, 15.5, 7.0)
    assert (row.mode, row.armed, row.landed_state, row.altitude_rel) == (
        "AUTO.LOITER", True, 2, 21.0)


def test_rosbags_type_hashes_equal_those_of_the_installed_ros_packages() -> None:
    packages = pytest.importorskip("ament_index_python.packages")
    store = msgdefs.typestore()
    for msgtype in {*MAVROS_TYPES.values(), "std_msgs/msg/String"}:
        pkg, _, name = msgtype.split("/")
        share = Path(packages.get_package_share_directory(pkg))
        data = json.loads((share / "msg" / f"{name}.json").read_text())
        assert store.hash_rihs01(msgtype) == data["type_hashes"][0]["hash_string"], msgtype


# -------------------------------------------------------------------- database round trip
def _insert(conn: Connection, rows: Sequence[TelemetrySample]) -> None:
    from fleet_db.partitions import ensure_partitions

    ensure_partitions(conn, min(r.time for r in rows), max(r.time for r in rows))
    conn.execute(text(
        "INSERT INTO telemetry (vehicle_id, time, position, altitude_amsl, altitude_rel, "
        "heading_deg, ground_speed_mps, climb_rate_mps, battery_pct, voltage_v, current_a, "
        "mode, armed, landed_state, mission_id) VALUES (:vehicle_id, :time, "
        "ST_SetSRID(ST_MakePoint(:longitude, :latitude), 4326), :altitude_amsl, :altitude_rel, "
        ":heading_deg, :ground_speed_mps, :climb_rate_mps, :battery_pct, :voltage_v, "
        ":current_a, :mode, :armed, :landed_state, :mission_id)"),
        [{name: getattr(r, name) for name in TelemetrySample.__slots__} for r in rows])


def _stored(conn: Connection, vehicles: Sequence[str]) -> list[TelemetrySample]:
    result = conn.execute(text(
        "SELECT vehicle_id, time, ST_Y(position) AS latitude, ST_X(position) AS longitude, "
        "altitude_amsl, altitude_rel, heading_deg, ground_speed_mps, climb_rate_mps, "
        "battery_pct, voltage_v, current_a, mode, armed, landed_state, mission_id "
        "FROM telemetry WHERE vehicle_id = ANY(:v) ORDER BY time, vehicle_id"),
        {"v": list(vehicles)})
    return [TelemetrySample(**{**row._asdict(), "time": row.time.astimezone(UTC)})
            for row in result]


@pytest.fixture
def vehicles(db_engine: Engine) -> Iterator[list[str]]:
    """Yield unique vehicle ids; their telemetry, missions, vehicles, rollup marks go after."""
    tag = uuid.uuid4().hex[:8]
    ids = [f"bagtest-{tag}-a", f"bagtest-{tag}-b"]
    try:
        yield ids
    finally:
        with db_engine.begin() as conn:
            conn.execute(text("DELETE FROM telemetry WHERE vehicle_id = ANY(:v)"), {"v": ids})
            conn.execute(text("DELETE FROM missions WHERE vehicle_id = ANY(:v)"), {"v": ids})
            conn.execute(text("DELETE FROM vehicles WHERE id = ANY(:v)"), {"v": ids})
            conn.execute(text("DELETE FROM telemetry_rollup_dirty WHERE vehicle_id = ANY(:v)"),
                         {"v": ids})


def test_export_delete_import_gives_back_every_row_and_field(
        db_engine: Engine, vehicles: list[str], tmp_path: Path) -> None:
    rows = make_rows(vehicles, 40)
    with db_engine.begin() as conn:
        _insert(conn, rows)
    t1 = rows[-1].time
    summary = export_bag(db_engine, tmp_path / "bag", vehicles, T0, t1)
    assert summary.rows == len(rows)
    assert summary.vehicles == tuple(sorted(vehicles))
    metadata = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())
    recorded = json.loads(metadata["rosbag2_bagfile_information"]["custom_data"]["fleet_db.slice"])
    assert recorded == {"vehicles": vehicles, "t0": T0.isoformat(), "t1": t1.isoformat(),
                        "mission_id": None}
    with db_engine.begin() as conn:
        original = _stored(conn, vehicles)
        conn.execute(text("DELETE FROM telemetry WHERE vehicle_id = ANY(:v)"), {"v": vehicles})
    result = import_bag(db_engine, tmp_path / "bag")
    assert (result.rows_imported, result.duplicates_skipped) == (len(rows), 0)
    assert result.ignored == {}
    with db_engine.connect() as conn:
        assert_same_rows(_stored(conn, vehicles), original)
    again = import_bag(db_engine, tmp_path / "bag")
    assert (again.rows_imported, again.duplicates_skipped) == (0, len(rows))


def test_a_slice_holds_only_the_named_vehicles_and_window(
        db_conn: Connection, vehicles: list[str]) -> None:
    rows = make_rows(vehicles, 10)
    _insert(db_conn, rows)
    t0, t1 = rows[4].time, rows[13].time  # rows 2..6 of each vehicle, inclusive
    got = [m for m in iter_slice_messages(db_conn, vehicles[:1], t0, t1)
           if m.msgtype == "sensor_msgs/msg/NavSatFix"]
    assert {m.topic for m in got} == {f"/{vehicles[0]}/mavros/global_position/global"}
    assert [m.time_ns for m in got] == [time_ns(r.time) for r in rows[4:14:2]]


def test_a_mission_slice_is_its_vehicle_from_start_to_end(
        db_engine: Engine, vehicles: list[str], tmp_path: Path) -> None:
    rows = make_rows(vehicles, 20)
    mission = f"{vehicles[0]}-mission"
    with db_engine.begin() as conn:
        _insert(conn, rows)
        conn.execute(text("INSERT INTO vehicles (id, serial, model) VALUES (:v, :v, 'x500')"),
                     {"v": vehicles[0]})
        conn.execute(text(
            "INSERT INTO missions (id, type, status, vehicle_id, started_at, ended_at) "
            "VALUES (:id, 'survey', 'completed', :v, :s, :e)"),
            {"id": mission, "v": vehicles[0], "s": rows[10].time, "e": rows[29].time})
    summary = export_bag(db_engine, tmp_path / "bag", mission_id=mission)
    assert summary.vehicles == (vehicles[0],)
    assert summary.rows == 10  # rows 5..14 of the first vehicle
    got = sorted(BagSamples(tmp_path / "bag"), key=_key)
    assert [r.time for r in got] == [r.time for r in rows[10:30:2]]


def test_an_unknown_mission_is_an_error_naming_it(db_conn: Connection,
                                                  tmp_path: Path) -> None:
    with pytest.raises(BagError, match="mission 'no-such-mission' does not exist"):
        export_bag(db_conn, tmp_path / "bag", mission_id="no-such-mission")
    assert not (tmp_path / "bag").exists()


def test_import_into_a_callers_connection_leaves_the_commit_to_the_caller(
        db_conn: Connection, vehicles: list[str], tmp_path: Path) -> None:
    rows = make_rows(vehicles, 5)
    write_bag(tmp_path / "bag", rows)
    result = import_bag(db_conn, tmp_path / "bag", batch_size=3)
    assert result.rows_imported == 10
    assert_same_rows(_stored(db_conn, vehicles), sorted(rows, key=_key))
    # db_conn is rolled back after the test: nothing of this import is committed.


# ------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize(("argv", "message"), [
    (["export", "--from", "yesterday", "--to", "2026-01-01T00:00Z", "--out", "x"],
     "argument --from: 'yesterday' is not an ISO 8601 time"),
    (["export", "--from", "2026-01-01T00:00", "--to", "2026-01-01T01:00Z", "--out", "x"],
     "argument --from: '2026-01-01T00:00' has no time zone"),
    (["export", "--from", "2026-01-01T00:00Z", "--out", "x"], "missing --to"),
    (["export", "--from", "2026-01-02T00:00Z", "--to", "2026-01-01T00:00Z", "--out", "x"],
     "--to 2026-01-01T00:00:00+00:00 is before --from"),
    (["export", "--vehicles", "uav1,,uav2", "--from", "2026-01-01T00:00Z", "--to",
      "2026-01-01T01:00Z", "--out", "x"], "argument --vehicles: 'uav1,,uav2' has an empty"),
    (["export", "--mission", "m1", "--vehicles", "uav1", "--out", "x"],
     "--mission 'm1' sets the vehicle and the time window; drop --vehicles"),
    (["export", "--mission", "m1"], "the following arguments are required: --out"),
    (["import", "bag", "--map", "uav1"], "argument --map: 'uav1' is not OLD=NEW"),
    (["import", "no-such-bag"], "PATH 'no-such-bag' does not exist"),
    (["import", "bag", "--max-age", "-1"], "argument --max-age: '-1' must be more than 0"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
], ids=["from-garbage", "from-naive", "no-to", "to-before-from", "empty-vehicle",
        "mission-and-vehicles", "no-out", "map-form", "missing-bag", "max-age", "command"])
def test_bad_command_lines_exit_2_naming_the_flag(
        argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bag").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        bagtool(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_an_existing_output_is_a_usage_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bagtool(["export", "--mission", "m1", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "exists already" in capsys.readouterr().err


def test_an_unreachable_database_exits_1_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = bagtool(["export", "--mission", "m1", "--out", str(tmp_path / "bag"),
                      "--database-url", "postgresql+psycopg://fleet@127.0.0.1:9/nowhere"])
    assert status == 1
    assert "127.0.0.1:9/nowhere" in capsys.readouterr().err


def test_the_cli_exports_and_imports_a_slice(
        db_engine: Engine, db_url: str, vehicles: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    rows = make_rows(vehicles, 6)
    with db_engine.begin() as conn:
        _insert(conn, rows)
    out = tmp_path / "bag"
    assert bagtool(["export", "--vehicles", ",".join(vehicles), "--from", T0.isoformat(),
                    "--to", rows[-1].time.isoformat(), "--out", str(out),
                    "--database-url", db_url]) == 0
    assert "wrote 12 rows of 2 vehicle(s)" in capsys.readouterr().out
    renamed = f"{vehicles[0]}-copy"
    try:
        assert bagtool(["import", str(out), "--map", f"{vehicles[0]}={renamed}",
                        "--database-url", db_url]) == 0
        assert "imported 6 rows of 2 vehicle(s)" in capsys.readouterr().out
        with db_engine.connect() as conn:
            assert len(_stored(conn, [renamed])) == 6
    finally:
        with db_engine.begin() as conn:
            conn.execute(text("DELETE FROM telemetry WHERE vehicle_id = :v"), {"v": renamed})
