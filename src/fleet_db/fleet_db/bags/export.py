"""Export: a slice of the telemetry table written to a new rosbag2 bag."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rosbags.interfaces import Connection as BagConnection
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from sqlalchemy import Connection, Engine

from fleet_db import msgdefs
from fleet_db.bags.errors import BagError
from fleet_db.bags.messages import samples_to_messages
from fleet_db.bags.slices import SliceBounds, connected, iter_samples, resolve_slice
from fleet_db.bags.topics import FIX
from fleet_db.samples import TelemetrySample


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    rows: int
    messages: Mapping[str, int]  # topic -> message count
    vehicles: tuple[str, ...]
    bounds: SliceBounds


def _refuse_existing(path: Path) -> None:
    if path.exists():
        raise BagError(f"output {path} exists already; rosbag2 bags are never overwritten")


def write_bag(out_path: Path | str, samples: Iterable[TelemetrySample], *,
              storage: StoragePlugin = StoragePlugin.MCAP,
              custom_data: Mapping[str, str] | None = None) -> tuple[int, dict[str, int]]:
    """Write samples (time order) to a new bag; return (rows, messages per topic).

    A failed write leaves no bag behind.
    """
    path = Path(out_path)
    _refuse_existing(path)
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
    # Before the query: a slice can take long to read, and this mistake is known at once.
    _refuse_existing(path)
    with connected(db, write=False) as conn:
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
