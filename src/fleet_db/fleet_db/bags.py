"""rosbag2 (MCAP) export of telemetry slices as MAVROS topics, and import of MAVROS bags.

An exported bag looks like ``ros2 bag record`` next to MAVROS: per vehicle the original topic
names (``/<vehicle>/mavros/...``), types, message definitions, RIHS01 hashes and offered QoS
profiles, with header stamps and log times equal to the sample time. Each stored row becomes
one message per topic it has a value for, the position fix written last so that an import
(which merges the topics again with :class:`~fleet_db.merge.SampleMerger`) rebuilds exactly
the same rows. The mission a row belongs to travels on ``/<vehicle>/fleet/mission_id``
(std_msgs/String, written when it changes), since MAVROS has no topic for it.

Database access is plain SQL on a SQLAlchemy ``Connection`` or ``Engine``: with an Engine
the call opens (and for an import commits) its own transaction; with a Connection the caller
owns the transaction.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
from rosbags.interfaces import Connection as BagConnection
from rosbags.interfaces import (
    MessageDefinitionFormat,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer, WriterError
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore
from rosbags.typesys.stores import ros2_kilted as ros2
from sqlalchemy import Connection, Engine, text

from fleet_core.mavlink import MavState
from fleet_db import msgdefs
from fleet_db.db import FleetDbError
from fleet_db.merge import (
    DEFAULT_MAX_AGE,
    BatteryReading,
    RejectedValueError,
    SampleMerger,
    battery_from_mavros,
    battery_to_mavros,
)
from fleet_db.rollups import mark_rows_sql
from fleet_db.samples import TelemetrySample

# The typed rosbags classes of the standard messages (the store msgdefs.typestore() extends).
Time = ros2.builtin_interfaces__msg__Time
Header = ros2.std_msgs__msg__Header
Float64 = ros2.std_msgs__msg__Float64
String = ros2.std_msgs__msg__String
Vector3 = ros2.geometry_msgs__msg__Vector3
Twist = ros2.geometry_msgs__msg__Twist
TwistStamped = ros2.geometry_msgs__msg__TwistStamped
BatteryState = ros2.sensor_msgs__msg__BatteryState
NavSatFix = ros2.sensor_msgs__msg__NavSatFix
NavSatStatus = ros2.sensor_msgs__msg__NavSatStatus


class BagError(FleetDbError, ValueError):
    """A bag or a slice cannot be exported or imported; the message names the bad value."""


# ------------------------------------------------------------------------------- topics
# rmw's "infinite" duration (RMW_DURATION_INFINITE, INT64_MAX ns) as ros2 bag records it.
_INFINITE = QosTime(sec=9223372036, nsec=854775807)


def _qos(depth: int, reliability: QosReliability, durability: QosDurability) -> Qos:
    return Qos(history=QosHistory.KEEP_LAST, depth=depth, reliability=reliability,
               durability=durability, deadline=_INFINITE, lifespan=_INFINITE,
               liveliness=QosLiveliness.AUTOMATIC, liveliness_lease_duration=_INFINITE,
               avoid_ros_namespace_conventions=False)


# The MAVROS profiles (shared/docs/mavros-interfaces.md, fleet_ros.qos), as offered QoS.
SENSOR_QOS = _qos(5, QosReliability.BEST_EFFORT, QosDurability.VOLATILE)
STATE_QOS = _qos(10, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL)
LATCHED_QOS = _qos(1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A per-vehicle topic of a bag: name relative to the vehicle, type, offered QoS."""

    suffix: str
    msgtype: str
    qos: Qos

    def topic(self, vehicle_id: str) -> str:
        """Return the absolute topic name for ``vehicle_id`` ("" = no vehicle namespace)."""
        return f"/{vehicle_id}/{self.suffix}" if vehicle_id else f"/{self.suffix}"


FIX = TopicSpec("mavros/global_position/global", msgdefs.NAV_SAT_FIX, SENSOR_QOS)
REL_ALT = TopicSpec("mavros/global_position/rel_alt", msgdefs.FLOAT64, SENSOR_QOS)
HEADING = TopicSpec("mavros/global_position/compass_hdg", msgdefs.FLOAT64, SENSOR_QOS)
VELOCITY = TopicSpec("mavros/local_position/velocity_local", msgdefs.TWIST_STAMPED, SENSOR_QOS)
BATTERY = TopicSpec("mavros/battery", msgdefs.BATTERY_STATE, SENSOR_QOS)
STATE = TopicSpec("mavros/state", msgdefs.MAVROS_STATE, STATE_QOS)
EXTENDED_STATE = TopicSpec("mavros/extended_state", msgdefs.MAVROS_EXTENDED_STATE, STATE_QOS)
MISSION = TopicSpec("fleet/mission_id", msgdefs.STRING, LATCHED_QOS)

TOPICS: tuple[TopicSpec, ...] = (MISSION, REL_ALT, HEADING, VELOCITY, BATTERY, STATE,
                                 EXTENDED_STATE, FIX)
"""Every topic of an exported bag, in the order a sample's messages are written (fix last)."""

_BY_SUFFIX = {spec.suffix: spec for spec in TOPICS}
_TOPIC_RE = re.compile(
    "^/?(?:(?P<vehicle>.+?)/)?(?P<suffix>"
    + "|".join(re.escape(spec.suffix) for spec in TOPICS) + ")$")


def parse_topic(topic: str) -> tuple[str, TopicSpec] | None:
    """Split ``/<vehicle>/mavros/...`` into (vehicle id, spec); None for any other topic."""
    match = _TOPIC_RE.match(topic)
    if match is None:
        return None
    return match["vehicle"] or "", _BY_SUFFIX[match["suffix"]]


# ------------------------------------------------------------------ samples -> messages
@dataclass(frozen=True, slots=True)
class SliceMessage:
    """One message of a slice: what a bag holds and what a replay publishes."""

    topic: str
    msgtype: str
    time_ns: int  # log time = header stamp = sample time
    message: object  # a rosbags message object of ``msgtype``
    qos: Qos

    def cdr(self) -> bytes:
        """Serialize to CDR, e.g. for rclpy.serialization.deserialize_message."""
        return bytes(msgdefs.typestore().serialize_cdr(self.message, self.msgtype))


def _ns(stamp: datetime) -> int:
    if stamp.tzinfo is None:
        raise BagError(f"time {stamp.isoformat()} has no time zone")
    delta = stamp - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _from_ns(ns: int) -> datetime:
    # PostgreSQL keeps microseconds: sub-microsecond digits are dropped, not rounded.
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def _header(ns: int, frame_id: str) -> Header:
    return Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000),
                  frame_id=frame_id)


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def sample_messages(sample: TelemetrySample, previous: TelemetrySample | None = None
                    ) -> list[SliceMessage]:
    """Return the MAVROS messages that describe one row, the fix last (no mission topic).

    ``previous`` is the vehicle's row before this one. A value known there and unknown now
    is sent as "unknown" (NaN in Float64, TwistStamped and BatteryState, as MAVROS and
    sensor_msgs do; State with connected=false for mode and armed both unknown), so that an
    import does not carry the old value on. The ground speed is split along the heading into
    east (x) and north (y); without a heading it is all north, which keeps its magnitude.

    Not representable, hence not exact on import: armed unknown while the mode is known
    (State has no unknown armed; sent as false), and landed_state becoming unknown
    (ExtendedState has none; the import carries the last one until it is stale).
    """
    ns = _ns(sample.time)
    vehicle = sample.vehicle_id
    out: list[SliceMessage] = []

    def add(spec: TopicSpec, message: object) -> None:
        out.append(SliceMessage(spec.topic(vehicle), spec.msgtype, ns, message, spec.qos))

    def known(*names: str) -> bool:
        return any(getattr(row, name) is not None for row in (sample, previous)
                   if row is not None for name in names)

    if known("altitude_rel"):
        add(REL_ALT, Float64(data=_nan(sample.altitude_rel)))
    if known("heading_deg"):
        add(HEADING, Float64(data=_nan(sample.heading_deg)))
    if known("ground_speed_mps", "climb_rate_mps"):
        east = north = math.nan
        if sample.ground_speed_mps is not None:
            hdg = math.radians(sample.heading_deg or 0.0)
            east = sample.ground_speed_mps * math.sin(hdg)
            north = sample.ground_speed_mps * math.cos(hdg)
        add(VELOCITY, TwistStamped(
            header=_header(ns, "map"),
            twist=Twist(linear=Vector3(x=east, y=north, z=_nan(sample.climb_rate_mps)),
                        angular=Vector3(x=0.0, y=0.0, z=0.0))))
    if known("battery_pct", "voltage_v", "current_a"):
        pct, volts, amps = battery_to_mavros(
            BatteryReading(sample.battery_pct, sample.voltage_v, sample.current_a))
        add(BATTERY, BatteryState(
            header=_header(ns, ""), voltage=volts, temperature=math.nan, current=amps,
            charge=math.nan, capacity=math.nan, design_capacity=math.nan, percentage=pct,
            power_supply_status=BatteryState.POWER_SUPPLY_STATUS_UNKNOWN,
            power_supply_health=BatteryState.POWER_SUPPLY_HEALTH_UNKNOWN,
            power_supply_technology=BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN,
            present=True, cell_voltage=np.empty(0, np.float32),
            cell_temperature=np.empty(0, np.float32), location="", serial_number=""))
    if known("mode", "armed"):
        state_cls = msgdefs.typestore().types[msgdefs.MAVROS_STATE]
        connected = sample.mode is not None or sample.armed is not None
        # Both unknown: what MAVROS publishes once the link is lost.
        status = (MavState.UNINIT if not connected
                  else MavState.ACTIVE if sample.armed else MavState.STANDBY)
        add(STATE, state_cls(
            header=_header(ns, ""), connected=connected, armed=bool(sample.armed),
            guided=False, manual_input=False, mode=sample.mode or "",
            system_status=int(status)))
    if sample.landed_state is not None:
        ext_cls = msgdefs.typestore().types[msgdefs.MAVROS_EXTENDED_STATE]
        add(EXTENDED_STATE, ext_cls(header=_header(ns, ""), vtol_state=0,
                                    landed_state=int(sample.landed_state)))
    add(FIX, NavSatFix(
        header=_header(ns, "base_link"),
        # rosbags annotates NavSatFix.status with an older distro's NavSatStatus class; the
        # serializer only reads the fields, which are the same.
        status=cast("Any", NavSatStatus(status=NavSatStatus.STATUS_FIX,
                                        service=NavSatStatus.SERVICE_GPS)),
        latitude=float(sample.latitude), longitude=float(sample.longitude),
        altitude=_nan(sample.altitude_amsl), position_covariance=np.zeros(9, np.float64),
        position_covariance_type=NavSatFix.COVARIANCE_TYPE_UNKNOWN))
    return out


def samples_to_messages(samples: Iterable[TelemetrySample]) -> Iterator[SliceMessage]:
    """Yield the messages of samples given in time order, with mission changes per vehicle."""
    previous: dict[str, TelemetrySample] = {}
    for sample in samples:
        vehicle = sample.vehicle_id
        before = previous.get(vehicle)
        if (before.mission_id if before is not None else None) != sample.mission_id:
            yield SliceMessage(MISSION.topic(vehicle), MISSION.msgtype, _ns(sample.time),
                               String(data=sample.mission_id or ""), MISSION.qos)
        yield from sample_messages(sample, before)
        previous[vehicle] = sample


# ------------------------------------------------------------------------- database
_SELECT = """
SELECT vehicle_id, time, ST_Y(position) AS latitude, ST_X(position) AS longitude,
       altitude_amsl, altitude_rel, heading_deg, ground_speed_mps, climb_rate_mps,
       battery_pct, voltage_v, current_a, mode, armed, landed_state, mission_id
FROM telemetry
WHERE time >= :t0 AND time <= :t1 {vehicle_filter}
ORDER BY time, vehicle_id
"""

# Inserts the rows not stored yet and marks their minutes for fleet_db.rollups.rollup_dirty
# (imported rows are usually older than what the periodic rollup re-reads); returns how many
# rows were new.
_INSERT = f"""
WITH inserted AS (
INSERT INTO telemetry (vehicle_id, time, position, altitude_amsl, altitude_rel, heading_deg,
                       ground_speed_mps, climb_rate_mps, battery_pct, voltage_v, current_a,
                       mode, armed, landed_state, mission_id)
SELECT v, t, ST_SetSRID(ST_MakePoint(lon, lat), 4326), aa, ar, h, gs, cr, bp, vv, ca, m, a,
       ls, mi
FROM unnest(CAST(:v AS text[]), CAST(:t AS timestamptz[]), CAST(:lat AS float8[]),
            CAST(:lon AS float8[]), CAST(:aa AS float8[]), CAST(:ar AS float8[]),
            CAST(:h AS float8[]), CAST(:gs AS float8[]), CAST(:cr AS float8[]),
            CAST(:bp AS float8[]), CAST(:vv AS float8[]), CAST(:ca AS float8[]),
            CAST(:m AS text[]), CAST(:a AS boolean[]), CAST(:ls AS smallint[]),
            CAST(:mi AS text[]))
     AS r(v, t, lat, lon, aa, ar, h, gs, cr, bp, vv, ca, m, a, ls, mi)
ON CONFLICT (vehicle_id, time) DO NOTHING
RETURNING vehicle_id, time
), marked AS ({mark_rows_sql("inserted", late_only=False)})
SELECT count(*) FROM inserted
"""


@contextmanager
def _connected(db: Connection | Engine, *, write: bool) -> Iterator[Connection]:
    if isinstance(db, Connection):
        yield db
    elif write:
        with db.begin() as conn:
            yield conn
    else:
        with db.connect() as conn:
            yield conn


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise BagError(f"{name} {value.isoformat()} has no time zone (give an offset or Z)")
    return value.astimezone(UTC)


def _window(t0: datetime, t1: datetime) -> tuple[datetime, datetime]:
    t0, t1 = _utc(t0, "t0"), _utc(t1, "t1")
    if t1 < t0:
        raise BagError(f"slice end {t1.isoformat()} is before its start {t0.isoformat()}")
    return t0, t1


def _vehicle_ids(ids: Sequence[str] | None) -> tuple[str, ...] | None:
    if ids is None:
        return None
    if isinstance(ids, str) or not ids or not all(ids):
        raise BagError(f"vehicle ids {ids!r} must be a non-empty list of non-empty names")
    return tuple(ids)


def iter_samples(conn: Connection, vehicle_ids: Sequence[str] | None, t0: datetime,
                 t1: datetime) -> Iterator[TelemetrySample]:
    """Yield the stored rows of the vehicles (None: all) with t0 <= time <= t1, in time order."""
    t0, t1 = _window(t0, t1)
    ids = _vehicle_ids(vehicle_ids)
    params: dict[str, object] = {"t0": t0, "t1": t1}
    vehicle_filter = ""
    if ids is not None:
        vehicle_filter = "AND vehicle_id = ANY(CAST(:vehicles AS text[]))"
        params["vehicles"] = list(ids)
    result = conn.execution_options(yield_per=2000).execute(
        text(_SELECT.format(vehicle_filter=vehicle_filter)), params)
    for row in result:
        yield TelemetrySample(
            vehicle_id=row.vehicle_id, time=row.time.astimezone(UTC), latitude=row.latitude,
            longitude=row.longitude, altitude_amsl=row.altitude_amsl,
            altitude_rel=row.altitude_rel, heading_deg=row.heading_deg,
            ground_speed_mps=row.ground_speed_mps, climb_rate_mps=row.climb_rate_mps,
            battery_pct=row.battery_pct, voltage_v=row.voltage_v, current_a=row.current_a,
            mode=row.mode, armed=row.armed, landed_state=row.landed_state,
            mission_id=row.mission_id)


@dataclass(frozen=True, slots=True)
class SliceBounds:
    """Which rows a slice holds: vehicles (None: all) and an inclusive time window."""

    vehicle_ids: tuple[str, ...] | None
    t0: datetime
    t1: datetime
    mission_id: str | None = None


def mission_slice(conn: Connection, mission_id: str, *, now: datetime | None = None
                  ) -> SliceBounds:
    """Return the slice of a mission: its vehicle, from started_at to ended_at (or now)."""
    row = conn.execute(text("SELECT vehicle_id, started_at, ended_at FROM missions "
                            "WHERE id = :id"), {"id": mission_id}).first()
    if row is None:
        raise BagError(f"mission {mission_id!r} does not exist")
    if row.vehicle_id is None or row.started_at is None:
        raise BagError(f"mission {mission_id!r} has not started on a vehicle "
                       f"(vehicle_id {row.vehicle_id}, started_at {row.started_at})")
    end = row.ended_at if row.ended_at is not None else (now or datetime.now(UTC))
    return SliceBounds((row.vehicle_id,), row.started_at.astimezone(UTC), end.astimezone(UTC),
                       mission_id)


def resolve_slice(conn: Connection, vehicle_ids: Sequence[str] | None, t0: datetime | None,
                  t1: datetime | None, mission_id: str | None) -> SliceBounds:
    """Return the slice named either by a mission or by vehicles and a time window."""
    if mission_id is not None:
        if t0 is not None or t1 is not None or vehicle_ids is not None:
            raise BagError(f"mission {mission_id!r} defines the vehicle and the time window; "
                           "do not give vehicles, t0 or t1 with it")
        return mission_slice(conn, mission_id)
    if t0 is None or t1 is None:
        raise BagError(f"a slice needs both t0 and t1 (got {t0}, {t1}) or a mission id")
    t0, t1 = _window(t0, t1)
    return SliceBounds(_vehicle_ids(vehicle_ids), t0, t1)


def iter_slice_messages(conn: Connection, vehicle_ids: Sequence[str] | None = None,
                        t0: datetime | None = None, t1: datetime | None = None, *,
                        mission_id: str | None = None) -> Iterator[SliceMessage]:
    """Yield a slice's MAVROS messages in time order (what export writes; replay publishes)."""
    bounds = resolve_slice(conn, vehicle_ids, t0, t1, mission_id)
    return samples_to_messages(iter_samples(conn, bounds.vehicle_ids, bounds.t0, bounds.t1))


# --------------------------------------------------------------------------- export
@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    rows: int
    messages: Mapping[str, int]  # topic -> message count
    vehicles: tuple[str, ...]
    bounds: SliceBounds


def write_bag(out_path: Path | str, samples: Iterable[TelemetrySample], *,
              storage: StoragePlugin = StoragePlugin.MCAP,
              custom_data: Mapping[str, str] | None = None) -> tuple[int, dict[str, int]]:
    """Write samples (time order) to a new bag; return (rows, messages per topic).

    A failed write leaves no bag behind.
    """
    path = Path(out_path)
    if path.exists():
        raise BagError(f"output {path} exists already; rosbag2 bags are never overwritten")
    store = msgdefs.typestore()
    writer = Writer(path, version=Writer.VERSION_LATEST, storage_plugin=storage)
    for key, value in (custom_data or {}).items():
        writer.set_custom_data(key, value)
    counts: dict[str, int] = {}
    connections: dict[str, BagConnection] = {}
    rows = 0
    try:
        writer.open()
    except WriterError as exc:
        raise BagError(f"cannot create bag {path}: {exc}") from exc
    try:
        for msg in samples_to_messages(samples):
            conn = connections.get(msg.topic)
            if conn is None:
                conn = connections[msg.topic] = writer.add_connection(
                    msg.topic, msg.msgtype, typestore=store, offered_qos_profiles=[msg.qos])
            writer.write(conn, msg.time_ns, store.serialize_cdr(msg.message, msg.msgtype))
            counts[msg.topic] = counts.get(msg.topic, 0) + 1
            if msg.msgtype == FIX.msgtype:
                rows += 1  # one fix per row
        writer.close()
    except BaseException:
        # The directory is the writer's own (open() refuses an existing path).
        writer.abort()
        shutil.rmtree(path, ignore_errors=True)
        raise
    return rows, counts


def export_bag(db: Connection | Engine, out_path: Path | str,
               vehicle_ids: Sequence[str] | None = None, t0: datetime | None = None,
               t1: datetime | None = None, *, mission_id: str | None = None,
               storage: StoragePlugin = StoragePlugin.MCAP) -> ExportSummary:
    """Write a slice of the telemetry table to a new rosbag2 bag (MCAP unless told otherwise).

    The slice is either ``vehicle_ids`` (None: every vehicle) with ``t0 <= time <= t1``, or
    the vehicle and window (started_at..ended_at, or now while running) of ``mission_id``.
    """
    path = Path(out_path)
    if path.exists():
        raise BagError(f"output {path} exists already; rosbag2 bags are never overwritten")
    with _connected(db, write=False) as conn:
        bounds = resolve_slice(conn, vehicle_ids, t0, t1, mission_id)
        seen: set[str] = set()

        def tracked() -> Iterator[TelemetrySample]:
            for sample in iter_samples(conn, bounds.vehicle_ids, bounds.t0, bounds.t1):
                seen.add(sample.vehicle_id)
                yield sample

        slice_info = {
            "vehicles": None if bounds.vehicle_ids is None else list(bounds.vehicle_ids),
            "t0": bounds.t0.isoformat(), "t1": bounds.t1.isoformat(),
            "mission_id": bounds.mission_id,
        }
        rows, counts = write_bag(path, tracked(), storage=storage,
                                 custom_data={"fleet_db.slice": json.dumps(slice_info)})
    return ExportSummary(path, rows, counts, tuple(sorted(seen)), bounds)


# --------------------------------------------------------------------------- import
_NO_GPS_FIX = NavSatStatus.STATUS_FIX  # below this, lat/lon are not a position


def _stamp_ns(message: Any, log_ns: int) -> int:
    """Return the header stamp in ns, or the log time for headerless or unstamped messages."""
    header = getattr(message, "header", None)
    if header is None:
        return log_ns
    ns = int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
    return ns if ns > 0 else log_ns


class BagSamples:
    """The TelemetrySamples a bag's MAVROS topics merge into, and what was ignored and why.

    Iterate once. Reads rosbag2 bags of any storage rosbags reads (MCAP, sqlite3): a bag
    directory or a single .mcap/.db3 file. The vehicle id is the namespace before
    ``/mavros`` (``/uav3/mavros/state`` -> ``uav3``), renamed through ``vehicle_map``;
    topics without a namespace (``/mavros/state``) belong to vehicle "" and need a map entry.
    Messages are decoded with the definitions stored in the bag when it has them.
    """

    def __init__(self, bag_path: Path | str, vehicle_map: Mapping[str, str] | None = None, *,
                 max_age: timedelta = DEFAULT_MAX_AGE) -> None:
        self.path = Path(bag_path)
        if not self.path.exists():
            raise BagError(f"bag {self.path} does not exist")
        # "/uav1" and "uav1" name the same namespace.
        self.vehicle_map = {old.strip("/"): new.strip("/")
                            for old, new in (vehicle_map or {}).items()}
        for old, new in self.vehicle_map.items():
            if not new:
                raise BagError(f"vehicle map {old!r}={new!r}: the new id must not be empty")
        self.merger = SampleMerger(max_age)
        self.messages_read = 0
        self.ignored: dict[str, Counter[str]] = defaultdict(Counter)
        self.examples: dict[str, str] = {}
        self.vehicles: set[str] = set()
        self._stores: dict[tuple[str, str], Typestore] = {}

    def _ignore(self, topic: str, reason: str, count: int = 1, example: str = "") -> None:
        self.ignored[topic][reason] += count
        if example and topic not in self.examples:
            self.examples[topic] = example

    def _store_for(self, conn: BagConnection) -> Typestore:
        if conn.msgdef.format is MessageDefinitionFormat.MSG and conn.msgdef.data:
            key = (conn.msgtype, conn.msgdef.data)
            store = self._stores.get(key)
            if store is None:
                store = get_typestore(Stores.EMPTY)
                store.register(get_types_from_msg(conn.msgdef.data, conn.msgtype))
                self._stores[key] = store
            return store
        return msgdefs.typestore()

    def _wanted(self, reader: Reader) -> dict[int, tuple[str, TopicSpec, Typestore]]:
        """Return connection id -> (vehicle, spec, store) of the topics to read."""
        wanted: dict[int, tuple[str, TopicSpec, Typestore]] = {}
        for conn in reader.connections:
            parsed = parse_topic(conn.topic)
            if parsed is None:
                self._ignore(conn.topic, "not a telemetry topic", conn.msgcount)
                continue
            prefix, spec = parsed
            if conn.msgtype != spec.msgtype:
                self._ignore(conn.topic, f"type {conn.msgtype}, expected {spec.msgtype}",
                             conn.msgcount)
                continue
            vehicle = self.vehicle_map.get(prefix, prefix)
            if not vehicle:
                self._ignore(conn.topic, "no vehicle namespace (map '' to a vehicle id)",
                             conn.msgcount)
                continue
            try:
                store = self._store_for(conn)
                digest = store.hash_rihs01(conn.msgtype)
            except TypesysError as exc:
                self._ignore(conn.topic, "unreadable message definition", conn.msgcount,
                             str(exc))
                continue
            if conn.digest.startswith("RIHS01_") and conn.digest != digest:
                self._ignore(conn.topic, "type hash differs from its definition",
                             conn.msgcount, f"{conn.digest} != {digest}")
                continue
            wanted[conn.id] = (vehicle, spec, store)
        return wanted

    def __iter__(self) -> Iterator[TelemetrySample]:
        try:
            reader = Reader(self.path)
            reader.open()
        except (ReaderError, OSError) as exc:
            raise BagError(f"cannot read bag {self.path}: {exc}") from exc
        try:
            wanted = self._wanted(reader)
            conns = [c for c in reader.connections if c.id in wanted]
            # Messages of one instant are applied before that instant's fix, whatever order
            # the storage returns them in: an exported row's values share its fix's time.
            pending: list[tuple[BagConnection, int, bytes]] = []
            for conn, log_ns, raw in reader.messages(connections=conns) if conns else ():
                self.messages_read += 1
                if pending and pending[0][1] != log_ns:
                    yield from self._apply(pending, wanted)
                    pending = []
                pending.append((conn, log_ns, raw))
            yield from self._apply(pending, wanted)
        except ReaderError as exc:
            raise BagError(f"cannot read bag {self.path}: {exc}") from exc
        finally:
            reader.close()

    def _apply(self, batch: list[tuple[BagConnection, int, bytes]],
               wanted: Mapping[int, tuple[str, TopicSpec, Typestore]]
               ) -> Iterator[TelemetrySample]:
        batch.sort(key=lambda item: TOPICS.index(wanted[item[0].id][1]))
        for conn, log_ns, raw in batch:
            vehicle, spec, store = wanted[conn.id]
            try:
                message = store.deserialize_cdr(raw, conn.msgtype)
            except SerdeError as exc:
                self._ignore(conn.topic, "undecodable message", example=str(exc))
                continue
            try:
                sample = self._feed(vehicle, spec, message, log_ns)
            except RejectedValueError as exc:
                self._ignore(conn.topic, "invalid value", example=str(exc))
                continue
            except AttributeError as exc:
                self._ignore(conn.topic, "message lacks a field", example=str(exc))
                continue
            if isinstance(sample, str):
                self._ignore(conn.topic, sample)
            elif sample is not None:
                self.vehicles.add(vehicle)
                yield sample

    def _feed(self, vehicle: str, spec: TopicSpec, msg: Any, log_ns: int
              ) -> TelemetrySample | str | None:
        """Give one message to the merger; return a row, a reason to ignore it, or None."""
        merger = self.merger
        stamp = _from_ns(_stamp_ns(msg, log_ns))
        if spec is FIX:
            if int(msg.status.status) < _NO_GPS_FIX:
                return "no GPS fix"
            sample = merger.on_fix(vehicle, stamp, float(msg.latitude), float(msg.longitude),
                                   float(msg.altitude))
            return sample if sample is not None else "repeated fix stamp"
        if spec is REL_ALT:
            merger.on_rel_alt(vehicle, stamp, float(msg.data))
        elif spec is HEADING:
            merger.on_heading(vehicle, stamp, float(msg.data))
        elif spec is VELOCITY:
            lin = msg.twist.linear
            merger.on_velocity(vehicle, stamp, float(lin.x), float(lin.y), float(lin.z))
        elif spec is BATTERY:
            reading = battery_from_mavros(float(msg.percentage), float(msg.voltage),
                                          float(msg.current))
            merger.on_battery(vehicle, stamp, reading.percent, reading.voltage_v,
                              reading.current_a)
        elif spec is STATE:
            merger.on_state(vehicle, stamp, str(msg.mode), bool(msg.armed),
                            bool(msg.connected))
        elif spec is EXTENDED_STATE:
            merger.on_extended_state(vehicle, stamp, int(msg.landed_state))
        elif spec is MISSION:
            merger.set_mission(vehicle, str(msg.data) or None)
        return None


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import did."""

    path: Path
    messages_read: int
    rows_imported: int
    duplicates_skipped: int  # rows already stored (same vehicle_id and time)
    vehicles: tuple[str, ...]
    ignored: Mapping[str, Mapping[str, int]]  # topic -> reason -> messages
    examples: Mapping[str, str] = field(default_factory=dict)  # topic -> first error text

    @property
    def rows(self) -> int:
        """Rows the bag merged into (imported + duplicates)."""
        return self.rows_imported + self.duplicates_skipped


def _insert_batch(conn: Connection, rows: Sequence[TelemetrySample],
                  ensure: Callable[[Connection, datetime, datetime], object]) -> int:
    """Insert rows, skipping those already stored; return how many were new."""
    # One call per UTC day present: a sparse batch may span more days than one call takes.
    first_of_day: dict[object, datetime] = {}
    for r in rows:
        first_of_day.setdefault(r.time.astimezone(UTC).date(), r.time)
    for t in first_of_day.values():
        ensure(conn, t, t)
    params = {
        "v": [r.vehicle_id for r in rows], "t": [r.time for r in rows],
        "lat": [r.latitude for r in rows], "lon": [r.longitude for r in rows],
        "aa": [r.altitude_amsl for r in rows], "ar": [r.altitude_rel for r in rows],
        "h": [r.heading_deg for r in rows], "gs": [r.ground_speed_mps for r in rows],
        "cr": [r.climb_rate_mps for r in rows], "bp": [r.battery_pct for r in rows],
        "vv": [r.voltage_v for r in rows], "ca": [r.current_a for r in rows],
        "m": [r.mode for r in rows], "a": [r.armed for r in rows],
        "ls": [r.landed_state for r in rows], "mi": [r.mission_id for r in rows],
    }
    return int(conn.execute(text(_INSERT), params).scalar_one())


def import_bag(db: Connection | Engine, bag_path: Path | str,
               vehicle_map: Mapping[str, str] | None = None, *,
               max_age: timedelta = DEFAULT_MAX_AGE, batch_size: int = 5000) -> ImportSummary:
    """Merge a bag's MAVROS topics into rows and insert those not stored yet.

    Idempotent: a row whose (vehicle_id, time) exists is skipped and counted as a
    duplicate. The minutes of the rows inserted are marked for the rollups (recomputed by the
    recorder's next housekeeping, or ``fleet_db.rollups.rollup_dirty``). With an Engine the
    whole import is one transaction.
    """
    from fleet_db.partitions import ensure_partitions  # noqa: PLC0415 (the schema's module)

    if batch_size < 1:
        raise BagError(f"batch_size must be at least 1, got {batch_size}")
    source = BagSamples(bag_path, vehicle_map, max_age=max_age)
    imported = duplicates = 0
    with _connected(db, write=True) as conn:
        batch: list[TelemetrySample] = []
        for sample in source:
            batch.append(sample)
            if len(batch) >= batch_size:
                new = _insert_batch(conn, batch, ensure_partitions)
                imported, duplicates = imported + new, duplicates + len(batch) - new
                batch = []
        if batch:
            new = _insert_batch(conn, batch, ensure_partitions)
            imported, duplicates = imported + new, duplicates + len(batch) - new
    return ImportSummary(
        path=source.path, messages_read=source.messages_read, rows_imported=imported,
        duplicates_skipped=duplicates, vehicles=tuple(sorted(source.vehicles)),
        ignored={topic: dict(reasons) for topic, reasons in sorted(source.ignored.items())},
        examples=dict(source.examples))
