"""Routes: telemetry — latest per vehicle, downsampled history, vehicles inside an area,
the nearest available vehicle, a mission's timeline, and rosbag2 (MCAP) export of a slice.

The ``telemetry`` table carries no site: a user sees the telemetry of the vehicles they may
see, which are the vehicles of their sites in the ``vehicles`` table (row-level security)
and in the live picture.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from shapely.errors import GEOSException
from shapely.geometry import shape
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.background import BackgroundTask

from fleet_core.geo import GeoPoint as CoreGeoPoint
from fleet_db import reports as db_reports
from fleet_db.bags import BagError, iter_samples, resolve_slice, write_bag
from fleet_db.db import InvalidArgumentError
from fleet_db.db import NotFoundError as DbNotFoundError
from fleet_db.repository import MAX_HISTORY_POINTS, FleetRepository
from fleet_db.samples import TelemetrySample
from web_bridge.app import Bridge
from web_bridge.deps import BridgeDep, ScopedConn, Viewer, check_site
from web_bridge.routes.vehicles import VEHICLE_ID, VehicleId, visible_vehicles
from web_bridge.schemas import ERRORS
from web_bridge.security import Principal

router = APIRouter(prefix="/telemetry", tags=["telemetry"], responses=ERRORS)
T = TypeVar("T")

MAX_WINDOW = timedelta(days=31)  # vehicles-inside scans every sample of the window
MAX_EXPORT_ROWS = 50_000  # rows of one bag download (held in memory while it is written)
MISSION_ID = r"^[^\x00-\x1f\x7f]{1,200}$"  # split parts carry "/", recurring ones "@"
MissionPath = PathParam(pattern=MISSION_ID, description="a mission id")
VEHICLE_ID_RE = re.compile(VEHICLE_ID)


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
        raise ValueError("is outside the range of representable times") from None


UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""An ISO-8601 time with a zone (a naive one is refused), converted to UTC."""
Time = Annotated[UtcTime, Query(description="ISO-8601 with a zone, e.g. 2026-05-01T12:00Z")]


class SampleOut(BaseModel):
    """One stored telemetry sample (null: not known at that time)."""

    vehicle_id: str
    time: datetime
    latitude: float
    longitude: float
    altitude_amsl: float | None
    altitude_rel: float | None
    heading_deg: float | None
    ground_speed_mps: float | None
    climb_rate_mps: float | None
    battery_pct: float | None
    voltage_v: float | None
    current_a: float | None
    mode: str | None
    armed: bool | None
    landed_state: int | None
    mission_id: str | None


class HistoryOut(BaseModel):
    """A vehicle's samples over [t0, t1), at most ``max_points`` (first of each time bucket
    when there were more)."""

    vehicle_id: str
    t0: datetime
    t1: datetime
    max_points: int
    samples: list[SampleOut]


Coordinate = Annotated[float, Field(allow_inf_nan=False)]
Position = Annotated[list[Coordinate], Field(min_length=2, max_length=3,
                                             description="[longitude, latitude(, altitude)]")]
Ring = Annotated[list[Position], Field(min_length=4, max_length=10_000)]


class PolygonArea(BaseModel):
    """A GeoJSON Polygon (outer ring, then holes; longitude first)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["Polygon"]
    coordinates: list[Ring] = Field(min_length=1, max_length=100)


class MultiPolygonArea(BaseModel):
    """A GeoJSON MultiPolygon."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["MultiPolygon"]
    coordinates: list[Annotated[list[Ring], Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=100)


Area = Annotated[PolygonArea | MultiPolygonArea, Field(discriminator="type")]


class InsideIn(BaseModel):
    """Which vehicles had a sample inside ``area`` in [t0, t1)?"""

    model_config = ConfigDict(extra="forbid")
    area: Area
    t0: UtcTime
    t1: UtcTime


class PresenceOut(BaseModel):
    """A vehicle seen inside the area: first and last sample there, and how many."""

    vehicle_id: str
    first_time: datetime
    last_time: datetime
    samples: int


class NearbyVehicle(BaseModel):
    """An available vehicle and its geodesic distance to the asked point."""

    vehicle_id: str
    site_id: str | None
    distance_m: float
    sample: SampleOut


class NearestOut(BaseModel):
    """The nearest available vehicle, or null when none qualifies."""

    vehicle: NearbyVehicle | None
    criteria: str


class TimelineEntryOut(BaseModel):
    """One state transition of a mission."""

    time: datetime
    from_state: str | None
    to_state: str
    reason: str | None
    actor: str | None
    details: dict[str, Any]


# --- helpers shared by the event, report and telemetry routes ------------------------------


async def run_db(conn: AsyncConnection, fn: Callable[[Connection], T]) -> T:
    """Run a sync fleet_db query on the scoped connection; its errors become 404/422."""
    try:
        return await conn.run_sync(fn)
    except DbNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except (InvalidArgumentError, BagError) as exc:
        status = 404 if "does not exist" in str(exc) else 422
        raise HTTPException(status, str(exc)) from None


def check_range(t0: datetime | None, t1: datetime | None,
                longest: timedelta | None = None) -> None:
    """Raise 422 naming the bounds when t1 is not after t0 or the range is too long."""
    if t0 is None or t1 is None:
        return
    if t1 <= t0:
        raise HTTPException(422, f"t1 {t1.isoformat()} is not after t0 {t0.isoformat()}")
    if longest is not None and t1 - t0 > longest:
        raise HTTPException(422, f"t0 {t0.isoformat()} .. t1 {t1.isoformat()} is longer than "
                                 f"{longest.days} days; ask for a shorter window")


async def vehicle_sites(conn: AsyncConnection, bridge: Bridge,
                        principal: Principal) -> dict[str, str | None]:
    """Return the vehicles ``principal`` may see with their site (the live picture's first)."""
    sites = await conn.run_sync(db_reports.vehicle_sites)  # row-level security scopes it
    for v in visible_vehicles(bridge, principal):
        sites[v["vehicle_id"]] = v.get("site_id")
    return sites


async def visible_vehicle_ids(conn: AsyncConnection, bridge: Bridge,
                              principal: Principal) -> list[str] | None:
    """Return the vehicle ids ``principal`` may see; None when every vehicle is visible."""
    if principal.sites() is None:
        return None
    return sorted(await vehicle_sites(conn, bridge, principal))


async def check_vehicle(conn: AsyncConnection, bridge: Bridge, principal: Principal,
                        vehicle_id: str) -> None:
    """Raise 404 unless ``vehicle_id`` is known and visible to ``principal``."""
    if vehicle_id not in await vehicle_sites(conn, bridge, principal):
        raise HTTPException(404, f"vehicle {vehicle_id!r} does not exist")


def sample_out(s: TelemetrySample) -> SampleOut:
    """Return the answer model of a stored sample."""
    return SampleOut(**{name: getattr(s, name) for name in SampleOut.model_fields})


# --- routes ----------------------------------------------------------------------------------


@router.get("/latest", response_model=list[SampleOut])
async def latest(principal: Viewer, bridge: BridgeDep, conn: ScopedConn,
                 site: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
                 vehicle: Annotated[list[str] | None, Query(
                     max_length=1000, description="vehicle ids (repeat); default all")] = None,
                 ) -> list[SampleOut]:
    """Return the newest stored sample of each vehicle the caller may see, by vehicle id."""
    if site is not None:
        check_site(principal, "viewer", site, f"site {site!r}")
    for vid in vehicle or ():
        if not VEHICLE_ID_RE.fullmatch(vid):
            raise HTTPException(422, f"vehicle {vid[:80]!r} is not a vehicle id")
    sites = await vehicle_sites(conn, bridge, principal)
    ids = [v for v, s in sites.items()
           if (site is None or s == site) and (vehicle is None or v in vehicle)]
    samples = await run_db(conn, lambda c: FleetRepository(c).latest_sample_per_vehicle(ids))
    return [sample_out(s) for s in samples]


@router.get("/vehicles/{vehicle_id}/history", response_model=HistoryOut)
async def history(vehicle_id: VehicleId, principal: Viewer, bridge: BridgeDep,
                  conn: ScopedConn, t0: Time, t1: Time,
                  max_points: Annotated[int, Query(ge=1, le=MAX_HISTORY_POINTS)] = 1000,
                  ) -> HistoryOut:
    """Return a vehicle's samples over [t0, t1), downsampled to at most ``max_points``."""
    check_range(t0, t1)
    await check_vehicle(conn, bridge, principal, vehicle_id)
    samples = await run_db(conn, lambda c: FleetRepository(c).history(
        vehicle_id, t0, t1, max_points))
    return HistoryOut(vehicle_id=vehicle_id, t0=t0, t1=t1, max_points=max_points,
                      samples=[sample_out(s) for s in samples])


@router.post("/inside", response_model=list[PresenceOut])
async def inside(body: InsideIn, principal: Viewer, bridge: BridgeDep,
                 conn: ScopedConn) -> list[PresenceOut]:
    """Return the vehicles with a sample inside a GeoJSON polygon in [t0, t1) (at most 31
    days), by vehicle id."""
    check_range(body.t0, body.t1, MAX_WINDOW)
    try:
        area = shape(body.area.model_dump())
    except (GEOSException, ValueError, TypeError, IndexError, KeyError) as exc:
        raise HTTPException(422, f"area is not a valid GeoJSON {body.area.type}: "
                                 f"{str(exc)[:200] or type(exc).__name__}") from None
    found = await run_db(conn, lambda c: FleetRepository(c).vehicles_inside(
        area, body.t0, body.t1))
    visible = await visible_vehicle_ids(conn, bridge, principal)
    return [PresenceOut(vehicle_id=p.vehicle_id, first_time=p.first_time,
                        last_time=p.last_time, samples=p.samples)
            for p in found if visible is None or p.vehicle_id in visible]


@router.get("/nearest", response_model=NearestOut)
async def nearest(principal: Viewer, conn: ScopedConn,
                  latitude: Annotated[float, Query(ge=-90, le=90)],
                  longitude: Annotated[float, Query(ge=-180, le=180)],
                  min_battery_pct: Annotated[float, Query(ge=0, le=100)] = 30.0,
                  max_age_s: Annotated[float, Query(gt=0, le=86_400)] = 10.0,
                  site: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
                  ) -> NearestOut:
    """Return the idle vehicle nearest to a point with enough battery and a fresh sample."""
    if site is not None:
        check_site(principal, "viewer", site, f"site {site!r}")
    criteria = (f"idle, battery >= {min_battery_pct:g} %, a sample in the last "
                f"{max_age_s:g} s" + (f", at site {site}" if site else ""))
    found = await run_db(conn, lambda c: FleetRepository(c).nearest_available_vehicle(
        CoreGeoPoint(latitude, longitude), min_battery_pct, site,
        max_age=timedelta(seconds=max_age_s)))
    if found is None:
        return NearestOut(vehicle=None, criteria=criteria)
    return NearestOut(criteria=criteria, vehicle=NearbyVehicle(
        vehicle_id=found.vehicle_id, site_id=found.site_id, distance_m=found.distance_m,
        sample=sample_out(found.sample)))


@router.get("/missions/{mission_id:path}/timeline", response_model=list[TimelineEntryOut])
async def timeline(mission_id: Annotated[str, MissionPath], principal: Viewer,
                   conn: ScopedConn) -> list[TimelineEntryOut]:
    """Return a mission's state transitions in order (404 for a mission of another site)."""
    entries = await run_db(conn, lambda c: FleetRepository(c).mission_timeline(mission_id))
    return [TimelineEntryOut(time=e.time, from_state=e.from_state, to_state=e.to_state,
                             reason=e.reason, actor=e.actor, details=dict(e.details))
            for e in entries]


@router.get("/export", response_class=FileResponse, responses={
    200: {"content": {"application/octet-stream": {}},
          "description": "a rosbag2 MCAP file (readable without its metadata.yaml)"}})
async def export(principal: Viewer, bridge: BridgeDep, conn: ScopedConn,
                 t0: Annotated[UtcTime | None, Query()] = None,
                 t1: Annotated[UtcTime | None, Query()] = None,
                 vehicle: Annotated[list[str] | None, Query(
                     max_length=100, description="vehicle ids (repeat); default all")] = None,
                 mission: Annotated[str | None, Query(pattern=MISSION_ID)] = None,
                 ) -> FileResponse:
    """Download a telemetry slice as a rosbag2 MCAP bag of MAVROS topics: a mission (its
    vehicle and window), or vehicles and t0 <= time <= t1; at most 50,000 rows."""
    if mission is None and (t0 is None or t1 is None):
        raise HTTPException(422, "give either mission, or both t0 and t1 (ISO-8601 with a "
                                 "zone)")
    if mission is None:
        check_range(t0, t1)
    for vid in vehicle or ():
        if not VEHICLE_ID_RE.fullmatch(vid):
            raise HTTPException(422, f"vehicle {vid[:80]!r} is not a vehicle id")
        await check_vehicle(conn, bridge, principal, vid)
    ids: Sequence[str] | None = vehicle
    if ids is None and mission is None:
        ids = await visible_vehicle_ids(conn, bridge, principal)
        if ids is not None and not ids:
            raise HTTPException(404, "no vehicle of your sites has telemetry to export")
    bounds = await run_db(conn, lambda c: resolve_slice(c, ids, t0, t1, mission))
    rows = await run_db(conn, lambda c: db_reports.slice_rows(
        c, bounds.vehicle_ids, bounds.t0, bounds.t1, MAX_EXPORT_ROWS + 1))
    if rows > MAX_EXPORT_ROWS:
        raise HTTPException(413, f"the slice {bounds.t0.isoformat()} .. {bounds.t1.isoformat()}"
                                 f" holds more than {MAX_EXPORT_ROWS} rows; export fewer "
                                 "vehicles or a shorter window (or use fleet-bag on the host)")
    samples = await run_db(conn, lambda c: list(iter_samples(
        c, bounds.vehicle_ids, bounds.t0, bounds.t1)))
    tmp = Path(tempfile.mkdtemp(prefix="fleet-export-"))
    name = f"fleet_{mission or 'slice'}_{bounds.t0:%Y%m%dT%H%M%SZ}".replace("/", "_")
    info = {"vehicles": None if bounds.vehicle_ids is None else list(bounds.vehicle_ids),
            "t0": bounds.t0.isoformat(), "t1": bounds.t1.isoformat(), "mission_id": mission,
            "exported_by": principal.username,
            "exported_at": datetime.now(UTC).isoformat()}
    try:
        await asyncio.to_thread(write_bag, tmp / name, samples,
                                custom_data={"fleet_db.slice": json.dumps(info)})
        mcap = next((tmp / name).glob("*.mcap"))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(
        mcap, media_type="application/octet-stream", filename=f"{name}.mcap",
        headers={"X-Fleet-Rows": str(len(samples))},
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True))
