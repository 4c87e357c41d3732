"""Routes: vehicles — the live picture (filters, cursor pages), detail, register/unregister
through fleet_manager, maintenance on/off."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from fleet_interfaces.srv import AddVehicle, RemoveVehicle, SetMaintenance
from web_bridge.app import Bridge, audit_info
from web_bridge.deps import Admin, BridgeDep, Operator, Viewer, check_site
from web_bridge.errors import GraphUnavailableError, RefusedError
from web_bridge.schemas import ERRORS, GeoPoint, Page, encode_cursor, string_cursor
from web_bridge.security import Principal

router = APIRouter(prefix="/vehicles", tags=["vehicles"], responses=ERRORS)
VEHICLE_ID = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
VehicleId = Annotated[str, Path(pattern=VEHICLE_ID, description="the vehicle id, e.g. uav3")]
Status = Literal["unknown", "idle", "in_mission", "returning", "charging", "maintenance",
                 "offline"]


class Health(BaseModel):
    """Health flags from fleet_manager."""

    gps_ok: bool
    estimator_ok: bool
    sensors_ok: bool
    battery_ok: bool
    motors_ok: bool
    link_ok: bool
    warnings: list[str]


class VehicleOut(BaseModel):
    """A vehicle as the fleet picture shows it now."""

    vehicle_id: str
    stamp: float | None = Field(description="POSIX time of the newest sample")
    status: str
    liveness: str
    mode: str
    armed: bool
    landed_state: str
    battery_pct: float | None
    voltage_v: float | None
    current_a: float | None
    position: GeoPoint | None
    relative_altitude_m: float | None
    heading_deg: float | None
    ground_speed_mps: float | None
    home: GeoPoint | None
    mission_id: str | None
    last_reached_item: int
    model: str
    site_id: str | None
    health: Health


class RegisterIn(BaseModel):
    """A vehicle to add to the fleet picture."""

    model_config = ConfigDict(extra="forbid")
    vehicle_id: str = Field(pattern=VEHICLE_ID)
    mavros_prefix: str = Field("", pattern=r"^(/[A-Za-z][A-Za-z0-9_]*)*$", max_length=200,
                               description="e.g. /uav7/mavros; empty: /<vehicle_id>/mavros")
    model: str = Field("multirotor", min_length=1, max_length=64)


class MaintenanceIn(BaseModel):
    """Maintenance on or off, and why."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool
    reason: str = Field("", max_length=500)


class CommandOut(BaseModel):
    """The node's acknowledgement of a command."""

    ok: bool
    message: str


def visible_vehicles(bridge: Bridge, principal: Principal) -> list[dict[str, Any]]:
    """Return the vehicles of the picture that ``principal`` may see."""
    sites = principal.sites()
    vehicles = bridge.picture.vehicles.values()
    if sites is None:
        return list(vehicles)
    return [v for v in vehicles if v.get("site_id") in sites]


def find_vehicle(bridge: Bridge, principal: Principal, vehicle_id: str,
                 role: Literal["viewer", "operator", "admin"] = "viewer") -> dict[str, Any]:
    """Return a vehicle of the picture; 404 when unknown or not visible, 403 without
    ``role`` at its site."""
    v = bridge.picture.vehicles.get(vehicle_id)
    if v is None:
        raise HTTPException(404, f"vehicle {vehicle_id!r} is not in the fleet picture")
    check_site(principal, role, v.get("site_id"), f"vehicle {vehicle_id!r}")
    return v


@router.get("", response_model=Page[VehicleOut])
async def list_vehicles(
    principal: Viewer, bridge: BridgeDep,
    site: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[Status | None, Query()] = None,
    liveness: Annotated[Literal["fresh", "stale", "lost"] | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=64, description="id contains")] = None,
    min_battery_pct: Annotated[float | None, Query(ge=0, le=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """List the vehicles the caller may see, by id, filtered, a page at a time."""
    after = string_cursor(cursor)
    pic = bridge.picture
    sites = principal.sites()
    needle = q.lower() if q else None
    page: list[str] = []
    last = None
    more = False
    for vid in pic.vehicle_order():
        if after is not None and vid <= after:
            continue
        v = pic.vehicles[vid]
        if sites is not None and v.get("site_id") not in sites:
            continue
        if site is not None and v.get("site_id") != site:
            continue
        if status is not None and v["status"] != status:
            continue
        if liveness is not None and v["liveness"] != liveness:
            continue
        if needle is not None and needle not in vid.lower():
            continue
        if min_battery_pct is not None and (v["battery_pct"] or 0.0) < min_battery_pct:
            continue
        if len(page) == limit:
            more = True
            break
        page.append(pic.vehicle_json(vid))
        last = vid
    # The vehicles are already encoded (FleetPicture.vehicle_json, the same fields as
    # VehicleOut): the page is assembled as text rather than validated again per request.
    cursor_json = json.dumps(encode_cursor(last)) if more and last is not None else "null"
    return Response(f'{{"items":[{",".join(page)}],"next_cursor":{cursor_json}}}',
                    media_type="application/json")


@router.get("/{vehicle_id}", response_model=VehicleOut)
async def get_vehicle(vehicle_id: VehicleId, principal: Viewer,
                      bridge: BridgeDep) -> dict[str, Any]:
    """Return one vehicle of the fleet picture."""
    return find_vehicle(bridge, principal, vehicle_id)


def _ros(bridge: Bridge) -> Any:
    if bridge.ros is None:
        raise GraphUnavailableError("this bridge runs without a ROS graph")
    return bridge.ros


def _answer(success: bool, message: str) -> CommandOut:
    if not success:
        raise RefusedError(message or "refused without a reason")
    return CommandOut(ok=True, message=message)


@router.post("", response_model=CommandOut, status_code=201)
async def register_vehicle(body: RegisterIn, request: Request, principal: Admin,
                           bridge: BridgeDep) -> CommandOut:
    """Add a vehicle to the fleet picture (fleet_manager's add_vehicle)."""
    audit_info(request, target_type="vehicle", target_id=body.vehicle_id, model=body.model)
    if not principal.can("admin", None):
        raise HTTPException(403, "registering a vehicle needs the admin role at every site")
    r = await _ros(bridge).call("add_vehicle", AddVehicle.Request(
        vehicle_id=body.vehicle_id, mavros_prefix=body.mavros_prefix, model=body.model))
    return _answer(r.success, r.message)


@router.delete("/{vehicle_id}", response_model=CommandOut)
async def unregister_vehicle(vehicle_id: VehicleId, request: Request, principal: Admin,
                             bridge: BridgeDep) -> CommandOut:
    """Remove a vehicle from the fleet picture (fleet_manager's remove_vehicle)."""
    v = bridge.picture.vehicles.get(vehicle_id)
    audit_info(request, target_type="vehicle", target_id=vehicle_id,
               site_id=v.get("site_id") if v else None)
    if v is not None:
        check_site(principal, "admin", v.get("site_id"), f"vehicle {vehicle_id!r}")
    elif not principal.can("admin", None):
        raise HTTPException(404, f"vehicle {vehicle_id!r} is not in the fleet picture")
    r = await _ros(bridge).call("remove_vehicle", RemoveVehicle.Request(vehicle_id=vehicle_id))
    return _answer(r.success, r.message)


@router.put("/{vehicle_id}/maintenance", response_model=CommandOut)
async def set_maintenance(vehicle_id: VehicleId, body: MaintenanceIn, request: Request,
                          principal: Operator, bridge: BridgeDep) -> CommandOut:
    """Put a vehicle in maintenance (it is dispatched nothing; a flight goes home) or out."""
    v = bridge.picture.vehicles.get(vehicle_id)
    audit_info(request, target_type="vehicle", target_id=vehicle_id,
               site_id=v.get("site_id") if v else None, enabled=body.enabled,
               reason=body.reason)
    find_vehicle(bridge, principal, vehicle_id, "operator")
    r = await _ros(bridge).call("set_maintenance", SetMaintenance.Request(
        vehicle_id=vehicle_id, enabled=body.enabled,
        reason=body.reason or f"set by {principal.username}"))
    return _answer(r.success, r.message)


def vehicle_id_ok(value: str) -> bool:
    """Return whether ``value`` is a well-formed vehicle id."""
    return re.match(VEHICLE_ID, value) is not None
