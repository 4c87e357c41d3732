"""Routes: no-fly zones — the zones in force as GeoJSON, and create/replace/lift through
fleet_manager's ``set_no_fly_zones`` (the whole set is sent every time; one bad zone refuses
the request and nothing changes)."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from geographic_msgs.msg import GeoPoint as GeoPointMsg
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import Polygon
from shapely.validation import explain_validity

from fleet_interfaces.msg import NoFlyZone as NoFlyZoneMsg
from fleet_interfaces.srv import SetNoFlyZones
from fleet_ros.fleet_convert import to_time
from web_bridge.app import Bridge, audit_info
from web_bridge.commands import watch_of
from web_bridge.deps import Admin, BridgeDep, Viewer
from web_bridge.errors import GraphUnavailableError, InvalidInputError, RefusedError
from web_bridge.schemas import ERRORS
from web_bridge.security import Principal

router = APIRouter(prefix="/zones", tags=["no-fly zones"], responses=ERRORS)
ZONE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
ZoneId = Annotated[str, Path(pattern=ZONE_ID, description="the zone id")]
MAX_ZONES = 1000
MAX_VERTICES = 10_000
DEFAULT_CEILING_M = 10_000.0  # fleet.yaml's default: "from the floor up"


class ZoneProperties(BaseModel):
    """What a zone is besides its outline: altitude band and active window."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, pattern=ZONE_ID)
    name: str = Field("", max_length=200)
    floor_m: float | None = Field(0.0, description="m above ground")
    ceiling_m: float | None = Field(DEFAULT_CEILING_M, description="m above ground")
    active_from: float | datetime | None = Field(
        None, description="POSIX seconds or ISO-8601; null: active since always")
    active_until: float | datetime | None = Field(
        None, description="POSIX seconds or ISO-8601; null: no end")


class PolygonGeometry(BaseModel):
    """A GeoJSON geometry (only Polygon is accepted; checked with the zone's id)."""

    model_config = ConfigDict(extra="forbid")
    type: str
    coordinates: Any


class ZoneFeature(BaseModel):
    """One no-fly zone as a GeoJSON Feature (the id in ``id`` or ``properties.id``)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["Feature"]
    id: str | None = Field(None, pattern=ZONE_ID)
    geometry: PolygonGeometry
    properties: ZoneProperties = Field(default_factory=ZoneProperties)  # type: ignore[arg-type]


class ZoneCollection(BaseModel):
    """A set of no-fly zones as a GeoJSON FeatureCollection."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["FeatureCollection"]
    features: list[ZoneFeature] = Field(max_length=MAX_ZONES)


class ZoneFeatureOut(BaseModel):
    """A zone in force."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: dict[str, Any]


class ZoneCollectionOut(BaseModel):
    """The zones in force."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[ZoneFeatureOut]


def _seconds(value: float | datetime | None, zone: str, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInputError(f"zone {zone!r}: {key} {value.isoformat()} has no time zone")
        return value.timestamp()
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"zone {zone!r}: {key} {value} is not a POSIX time")
    return float(value)


def _ring(zone: str, geometry: PolygonGeometry) -> list[tuple[float, float]]:
    """Return the outer ring (closed in the input, open here) or raise naming the problem."""
    if geometry.type != "Polygon":
        raise InvalidInputError(f"zone {zone!r}: geometry is a {geometry.type!r}; only "
                                f"'Polygon' is accepted")
    rings = geometry.coordinates
    if not isinstance(rings, list) or not rings or not isinstance(rings[0], list):
        raise InvalidInputError(f"zone {zone!r}: coordinates must be a list of rings")
    if len(rings) > 1:
        raise InvalidInputError(f"zone {zone!r}: holes are not supported (one ring only)")
    raw = rings[0]
    if len(raw) > MAX_VERTICES:
        raise InvalidInputError(f"zone {zone!r}: {len(raw)} positions, over {MAX_VERTICES}")
    ring: list[tuple[float, float]] = []
    for i, pos in enumerate(raw):
        if (not isinstance(pos, list) or len(pos) not in (2, 3)
                or not all(isinstance(c, int | float) and not isinstance(c, bool)
                           for c in pos)):
            raise InvalidInputError(f"zone {zone!r}: position {i} is not [longitude, latitude]")
        lon, lat = float(pos[0]), float(pos[1])
        if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
            raise InvalidInputError(f"zone {zone!r}: position {i} longitude {pos[0]} is "
                                    f"outside -180..180")
        if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
            raise InvalidInputError(f"zone {zone!r}: position {i} latitude {pos[1]} is "
                                    f"outside -90..90")
        ring.append((lon, lat))
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise InvalidInputError(f"zone {zone!r}: the ring is not closed (GeoJSON repeats the "
                                f"first position last, so at least 4 positions)")
    ring.pop()
    if len(set(ring)) < 3:
        raise InvalidInputError(f"zone {zone!r}: the ring has fewer than 3 distinct points")
    polygon = Polygon(ring)
    if not polygon.is_valid:
        raise InvalidInputError(f"zone {zone!r}: the polygon is invalid "
                                f"({explain_validity(polygon)})")
    if polygon.area <= 0.0:
        raise InvalidInputError(f"zone {zone!r}: the polygon has no area")
    return ring


def zone_id_of(feature: ZoneFeature, index: int) -> str:
    """Return the zone's id (``id`` or ``properties.id``, which must agree)."""
    a, b = feature.id, feature.properties.id
    if a and b and a != b:
        raise InvalidInputError(f"zone {a!r} (feature {index}): properties.id {b!r} differs "
                                f"from the feature id")
    zone = a or b
    if not zone:
        raise InvalidInputError(f"feature {index}: a zone needs an id (feature id or "
                                f"properties.id)")
    return zone


def zone_msg(feature: ZoneFeature, index: int) -> NoFlyZoneMsg:
    """Validate one feature and return it as a NoFlyZone message (errors name the zone)."""
    zone = zone_id_of(feature, index)
    ring = _ring(zone, feature.geometry)
    p = feature.properties
    floor = 0.0 if p.floor_m is None else p.floor_m
    ceiling = DEFAULT_CEILING_M if p.ceiling_m is None else p.ceiling_m
    if not (math.isfinite(floor) and math.isfinite(ceiling)):
        raise InvalidInputError(f"zone {zone!r}: floor_m and ceiling_m must be finite")
    if floor < 0.0 or ceiling > 100_000.0:
        raise InvalidInputError(f"zone {zone!r}: the band {floor:g}..{ceiling:g} m is outside "
                                f"0..100000 m")
    if not floor < ceiling:
        raise InvalidInputError(f"zone {zone!r}: floor_m {floor:g} is not below ceiling_m "
                                f"{ceiling:g}")
    start = _seconds(p.active_from, zone, "active_from")
    end = _seconds(p.active_until, zone, "active_until")
    if start is not None and end is not None and not start < end:
        raise InvalidInputError(f"zone {zone!r}: active_from is not before active_until")
    return NoFlyZoneMsg(
        id=zone, name=p.name or zone,
        polygon=[GeoPointMsg(latitude=lat, longitude=lon, altitude=0.0) for lon, lat in ring],
        altitude_floor=float(floor), altitude_ceiling=float(ceiling),
        active_from=to_time(start or 0.0), active_until=to_time(end or 0.0))


def zone_msgs(features: list[ZoneFeature]) -> list[NoFlyZoneMsg]:
    """Validate a whole set (ids unique) and return the messages."""
    out = [zone_msg(f, i) for i, f in enumerate(features)]
    seen: set[str] = set()
    for z in out:
        if z.id in seen:
            raise InvalidInputError(f"zone {z.id!r}: the id is used twice in the set")
        seen.add(z.id)
    return out


def _current(bridge: Bridge) -> list[ZoneFeature]:
    """The zones in force (from /fleet/no_fly_zones) as features; 503 when not known yet."""
    if bridge.picture.zones_received is None:
        raise GraphUnavailableError("the zones in force are not known yet (no "
                                    "/fleet/no_fly_zones received; is fleet_manager running?)")
    return [ZoneFeature.model_validate(f) for f in bridge.picture.zones]


def _collection(bridge: Bridge) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(bridge.picture.zones)}


def _require_global_admin(principal: Principal) -> None:
    # Airspace is shared by every site: only an admin of every site changes it.
    if not principal.can("admin", None):
        raise HTTPException(403, f"no-fly zones apply to every site: changing them needs the "
                                 f"admin role at every site, which {principal.username} lacks")


async def _apply(bridge: Bridge, zones: list[NoFlyZoneMsg]) -> dict[str, Any]:
    """Send the whole set to fleet_manager and wait until it is the set in force."""
    if bridge.ros is None:
        raise GraphUnavailableError("this bridge runs without a ROS graph")
    lock: asyncio.Lock = bridge.extras.setdefault("zones_lock", asyncio.Lock())
    async with lock:
        r = await bridge.ros.call("set_no_fly_zones", SetNoFlyZones.Request(zones=zones))
        if not r.success:
            raise RefusedError(r.message or "fleet_manager refused the zones", 422)
        wanted = sorted(z.id for z in zones)
        # The latched topic follows the answer; wait for it so a GET right after agrees.
        await watch_of(bridge).until(
            lambda: sorted(f["id"] for f in bridge.picture.zones) == wanted,
            bridge.settings.ack_timeout_s)
    return _collection(bridge)


@router.get("", response_model=ZoneCollectionOut)
async def list_zones(principal: Viewer, bridge: BridgeDep) -> dict[str, Any]:
    """Return the no-fly zones in force as a GeoJSON FeatureCollection."""
    return _collection(bridge)


@router.put("", response_model=ZoneCollectionOut)
async def replace_zones(body: ZoneCollection, request: Request, principal: Admin,
                        bridge: BridgeDep) -> dict[str, Any]:
    """Replace the whole set of no-fly zones (an empty collection lifts them all)."""
    audit_info(request, target_type="no_fly_zones", target_id="*",
               zones=[f.id or f.properties.id for f in body.features])
    _require_global_admin(principal)
    return await _apply(bridge, zone_msgs(body.features))


@router.post("", response_model=ZoneCollectionOut, status_code=201)
async def create_zone(body: ZoneFeature, request: Request, principal: Admin,
                      bridge: BridgeDep) -> dict[str, Any]:
    """Add one zone to the set in force (409 when its id is already used)."""
    zone = body.id or body.properties.id
    audit_info(request, target_type="no_fly_zone", target_id=zone)
    _require_global_admin(principal)
    new = zone_msg(body, 0)
    current = _current(bridge)
    if any(zone_id_of(f, i) == new.id for i, f in enumerate(current)):
        raise RefusedError(f"zone {new.id!r} already exists: replace the set with PUT", 409)
    return await _apply(bridge, [*zone_msgs(current), new])


@router.delete("/{zone_id}", response_model=ZoneCollectionOut)
async def lift_zone(zone_id: ZoneId, request: Request, principal: Admin,
                    bridge: BridgeDep) -> dict[str, Any]:
    """Lift one zone (the others stay in force)."""
    audit_info(request, target_type="no_fly_zone", target_id=zone_id)
    _require_global_admin(principal)
    current = _current(bridge)
    kept = [f for i, f in enumerate(current) if zone_id_of(f, i) != zone_id]
    if len(kept) == len(current):
        raise HTTPException(404, f"zone {zone_id!r} is not in force")
    return await _apply(bridge, zone_msgs(kept))
