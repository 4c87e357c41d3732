"""Slices of the telemetry table: which rows (vehicles and a window, or a mission) and reading them.

Database access is plain SQL on a SQLAlchemy ``Connection`` or ``Engine``: with an Engine
the call opens (and for a write commits) its own transaction; with a Connection the caller
owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

from fleet_db.bags.errors import BagError
from fleet_db.bags.messages import SliceMessage, samples_to_messages
from fleet_db.samples import TelemetrySample

_SELECT = """
SELECT vehicle_id, time, ST_Y(position) AS latitude, ST_X(position) AS longitude,
       altitude_amsl, altitude_rel, heading_deg, ground_speed_mps, climb_rate_mps,
       battery_pct, voltage_v, current_a, mode, armed, landed_state, mission_id
FROM telemetry
WHERE time >= :t0 AND time <= :t1 {vehicle_filter}
ORDER BY time, vehicle_id
"""


@contextmanager
def connected(db: Connection | Engine, *, write: bool) -> Iterator[Connection]:
    """Yield ``db`` itself, or a connection of the Engine (in a transaction if ``write``)."""
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
