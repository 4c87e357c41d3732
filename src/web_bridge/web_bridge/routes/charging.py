"""Routes: charging — stations (the planner's, else the database's) as GeoJSON points, the
live queue with its waits, and a charge requested for a vehicle (RequestCharge)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from fleet_interfaces.action import RequestCharge
from web_bridge.app import Bridge, audit_info
from web_bridge.commands import link_problem, watch_of
from web_bridge.deps import BridgeDep, Operator, ScopedConn, Viewer
from web_bridge.errors import GraphTimeoutError, GraphUnavailableError, RefusedError
from web_bridge.routes.missions import track_goal
from web_bridge.routes.vehicles import VEHICLE_ID, find_vehicle
from web_bridge.schemas import ERRORS
from web_bridge.security import Principal

router = APIRouter(prefix="/charging", tags=["charging"], responses=ERRORS)
URGENCY = {"normal": RequestCharge.Goal.URGENCY_NORMAL,
           "critical": RequestCharge.Goal.URGENCY_CRITICAL,
           "emergency": RequestCharge.Goal.URGENCY_EMERGENCY}


class StationProperties(BaseModel):
    """A station's figures."""

    station_id: str
    name: str
    site_id: str | None
    pads: int = Field(description="number of pads")
    pad_positions: list[list[float]] | None = Field(
        None, description="[longitude, latitude] of each pad (live source only)")
    charge_rate_w: float | None
    pad_radius_m: float | None = None


class StationFeature(BaseModel):
    """A charging station as a GeoJSON Point feature."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: StationProperties


class StationCollection(BaseModel):
    """The charging stations the caller may see; ``source`` says where they came from."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[StationFeature]
    source: Literal["planner", "database"]


class QueueEntry(BaseModel):
    """One vehicle waiting for, flying to, or charging on a pad."""

    vehicle_id: str
    state: str = Field(description="queued | flying_to_pad | charging")
    queue_position: int = Field(description="1.. while queued; 0 once a pad is assigned")
    station_id: str | None
    pad: int | None
    battery_pct: float | None
    target_pct: float | None
    estimated_wait_s: float | None
    time_to_full_s: float | None


class QueueOut(BaseModel):
    """The live charging queue (the vehicles the caller may see)."""

    stamp: float | None
    entries: list[QueueEntry]


class ChargeIn(BaseModel):
    """A charge to request for a vehicle."""

    model_config = ConfigDict(extra="forbid")
    vehicle_id: str = Field(pattern=VEHICLE_ID)
    target_pct: float = Field(90.0, gt=0, le=100)
    urgency: Literal["normal", "critical", "emergency"] = "normal"


class ChargeOut(BaseModel):
    """The planner took the request: where the vehicle stands in the queue now."""

    vehicle_id: str
    state: str
    queue_position: int | None
    station_id: str | None
    pad: int | None
    estimated_wait_s: float | None
    time_to_full_s: float | None


def _station_visible(principal: Principal, site: str | None) -> bool:
    # A station without a site is shared infrastructure: every user may see it.
    return site is None or principal.sees(site)


def _live_features(bridge: Bridge, principal: Principal) -> list[dict[str, Any]]:
    queue = bridge.picture.charging_queue or {}
    out = []
    for s in queue.get("stations", []):
        if not _station_visible(principal, s["site_id"]) or s["location"] is None:
            continue
        loc = s["location"]
        out.append({"id": s["station_id"],
                    "geometry": {"type": "Point",
                                 "coordinates": [loc["longitude"], loc["latitude"]]},
                    "properties": {
                        "station_id": s["station_id"], "name": s["name"],
                        "site_id": s["site_id"], "pads": len(s["pads"]),
                        "pad_positions": [[p["longitude"], p["latitude"]]
                                          for p in s["pads"] if p is not None],
                        "charge_rate_w": s["charge_rate_w"],
                        "pad_radius_m": s["pad_radius_m"]}})
    return out


@router.get("/stations", response_model=StationCollection)
async def list_stations(principal: Viewer, bridge: BridgeDep,
                        conn: ScopedConn) -> dict[str, Any]:
    """Return the charging stations as GeoJSON points (pads, charge rate)."""
    if bridge.picture.charging_queue is not None:
        return {"type": "FeatureCollection", "source": "planner",
                "features": _live_features(bridge, principal)}
    rows = (await conn.execute(text(
        "select id, site_id, st_x(location) as lon, st_y(location) as lat, pads, "
        "charge_rate_w from charging_stations order by id"))).all()
    return {"type": "FeatureCollection", "source": "database", "features": [
        {"id": r.id, "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
         "properties": {"station_id": r.id, "name": r.id, "site_id": r.site_id,
                        "pads": r.pads, "charge_rate_w": r.charge_rate_w}} for r in rows]}


def _visible_entries(bridge: Bridge, principal: Principal) -> list[dict[str, Any]]:
    queue = bridge.picture.charging_queue or {}
    return [e for e in queue.get("entries", [])
            if principal.sees(bridge.picture.vehicle_site(e["vehicle_id"]))]


@router.get("/queue", response_model=QueueOut)
async def charging_queue(principal: Viewer, bridge: BridgeDep) -> dict[str, Any]:
    """Return the live queue: each vehicle's state, place, pad, wait and time to full."""
    if bridge.picture.charging_queue is None and bridge.ros is not None:
        # The planner publishes the queue latched at start; none yet means no planner.
        raise GraphUnavailableError("the charging queue is not known yet (no "
                                    "/fleet/charging_queue received; is mission_planner "
                                    "running?)")
    stamp = (bridge.picture.charging_queue or {}).get("stamp")
    return {"stamp": stamp, "entries": _visible_entries(bridge, principal)}


def _entry(bridge: Bridge, vehicle_id: str) -> dict[str, Any] | None:
    queue = bridge.picture.charging_queue or {}
    return next((e for e in queue.get("entries", []) if e["vehicle_id"] == vehicle_id), None)


@router.post("/requests", response_model=ChargeOut, status_code=202)
async def request_charge(body: ChargeIn, request: Request, principal: Operator,
                         bridge: BridgeDep) -> dict[str, Any]:
    """Send a vehicle to charge: it queues for a pad, flies to it, charges to the target."""
    vid = body.vehicle_id
    audit_info(request, target_type="vehicle", target_id=vid,
               site_id=bridge.picture.vehicle_site(vid), action="charge",
               target_pct=body.target_pct, urgency=body.urgency)
    v = find_vehicle(bridge, principal, vid, "operator")
    problem = link_problem(vid, v)
    if problem is not None:
        raise GraphTimeoutError(f"charge request not sent: {problem}")
    if bridge.ros is None:
        raise GraphUnavailableError("this bridge runs without a ROS graph")
    held = _entry(bridge, vid)
    if held is not None:
        # Said here because the queue entry would otherwise look like the answer.
        raise RefusedError(f"vehicle {vid!r} already has a charging request "
                           f"({held['state']})", 409)
    ros = bridge.ros
    feedback: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)

    def on_feedback(fb: Any) -> None:
        if feedback.empty():
            feedback.put_nowait(fb)

    goal = RequestCharge.Goal(vehicle_id=vid, target_pct=float(body.target_pct),
                              urgency=URGENCY[body.urgency])
    handle = await ros.send_goal(ros.charge_client, goal, feedback=on_feedback)
    if not handle.accepted:
        raise RefusedError(f"the planner rejected the charge request of {vid}", 409)
    result = ros.result_future(handle)
    key = f"charge:{vid}"
    track_goal(bridge, key, handle, result, f"charge goal {key}",
               lambda r: f"charge {key}: success={r.success} {r.reason}")
    # The planner refuses by aborting at once; otherwise the vehicle shows in the queue.
    queued = asyncio.ensure_future(watch_of(bridge).until(
        lambda: _entry(bridge, vid), bridge.settings.ack_timeout_s))
    first = asyncio.ensure_future(feedback.get())
    done, pending = await asyncio.wait({result, queued, first},
                                       timeout=bridge.settings.ack_timeout_s,
                                       return_when=asyncio.FIRST_COMPLETED)
    for task in (queued, first):
        if task in pending:
            task.cancel()
    if result in done:
        r = result.result().result
        if not r.success:
            raise RefusedError(f"charge of {vid} refused: {r.reason}", 409)
        return {"vehicle_id": vid, "state": "charged", "queue_position": 0,
                "station_id": r.station_id or None, "pad": int(r.pad), "estimated_wait_s": 0.0,
                "time_to_full_s": 0.0}
    entry = _entry(bridge, vid)
    if entry is not None:
        return entry
    if first in done:
        fb = first.result()
        return {"vehicle_id": vid, "state": fb.state, "queue_position": int(fb.queue_position),
                "station_id": fb.station_id or None, "pad": int(fb.pad) if fb.pad >= 0 else None,
                "estimated_wait_s": float(fb.estimated_wait_s),
                "time_to_full_s": float(fb.time_to_full_s)}
    raise GraphTimeoutError(f"the planner did not confirm the charge of {vid} within "
                            f"{bridge.settings.ack_timeout_s:g} s")



