"""Import: a bag's MAVROS topics merged into telemetry rows and inserted if not stored yet."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rosbags.interfaces import Connection as BagConnection
from rosbags.interfaces import MessageDefinitionFormat
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore
from sqlalchemy import Connection, Engine, text

from fleet_db import msgdefs
from fleet_db.bags.errors import BagError
from fleet_db.bags.messages import feed
from fleet_db.bags.slices import connected
from fleet_db.bags.topics import TOPICS, TopicSpec, parse_topic
from fleet_db.merge import DEFAULT_MAX_AGE, RejectedValueError, SampleMerger
from fleet_db.rollups import mark_rows_sql
from fleet_db.samples import TelemetrySample

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
                sample = feed(self.merger, vehicle, spec, message, log_ns)
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
    with connected(db, write=True) as conn:
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
