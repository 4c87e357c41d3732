"""Routes: missions — preview, create (the planner's execute_mission action), get, list,
pause/resume/abort/return-home, modify waypoints, priority, vehicle pin, recurring schedules.

A mission belongs to the planner: the bridge sends the goal, keeps its handle while it lives,
and answers once the planner accepted it. Commands answer once the planner acknowledged them
and the vehicle acted (``web_bridge.commands``), or say why not (409, 504).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from geographic_msgs.msg import GeoPoint as GeoPointMsg
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fleet_interfaces.action import ExecuteMission
from fleet_interfaces.srv import (
    MissionControl,
    ModifyWaypoints,
    PlanMission,
    ScheduleRecurring,
    SetPriority,
    SetVehiclePin,
)
from web_bridge.app import Bridge, on_lifespan
from web_bridge.app import audit_info as audit
from web_bridge.commands import check_link, refused, vehicle_ack, watch_of
from web_bridge.db import system
from web_bridge.deps import BridgeDep, Operator, ScopedConn, Viewer, check_site
from web_bridge.errors import GraphTimeoutError, GraphUnavailableError, RefusedError
from web_bridge.routes.vehicles import VEHICLE_ID
from web_bridge.schemas import ERRORS, GeoPoint, Page, encode_cursor, string_cursor
from web_bridge.security import Principal

log = logging.getLogger(__name__)
router = APIRouter(prefix="/missions", tags=["missions"], responses=ERRORS)
MISSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")
# Split parts are "<id>/<k>": the id may hold slashes, so the path converter takes them.
MissionPath = Annotated[str, Path(description="the mission id, e.g. m-1a2b3c4d5e")]
State = Literal["planned", "queued", "assigned", "active", "paused", "completed", "aborted",
                "failed"]
SITE_HASH = "mission_site"


# ---------------------------------------------------------------- bodies and answers
class PreviewIn(BaseModel):
    """A mission request to plan without flying it."""

    model_config = ConfigDict(extra="forbid")
    spec: dict[str, Any] = Field(description="the mission request (fleet_core.planning format)")
    vehicle_id: str | None = Field(None, pattern=VEHICLE_ID,
                                   description="plan for this vehicle; else a typical one")


class LineString(BaseModel):
    """A GeoJSON LineString ([longitude, latitude, altitude above home])."""

    type: Literal["LineString"] = "LineString"
    coordinates: list[list[float]]


class PreviewOut(BaseModel):
    """The plan: path, figures and warnings."""

    path: LineString
    distance_m: float
    duration_s: float
    energy_wh: float
    reserve_wh: float
    coverage_pct: float | None
    waypoint_count: int
    legs: int
    warnings: list[str]
    plan: dict[str, Any] = Field(description="the whole plan (waypoint kinds, legs, ...)")


class MissionIn(BaseModel):
    """A mission to fly."""

    model_config = ConfigDict(extra="forbid")
    spec: dict[str, Any] = Field(description="the mission request (fleet_core.planning format)")
    priority: int = Field(5, ge=1, le=10, description="10 is most urgent")
    vehicle_id: str | None = Field(None, pattern=VEHICLE_ID,
                                   description="only this vehicle may fly it")
    site_id: str | None = Field(None, max_length=64,
                                description="required unless you hold a grant at every site")


class MissionOut(BaseModel):
    """A mission as the planner shows it now (``source`` live), or as stored (database)."""

    mission_id: str
    source: Literal["live", "database"]
    type: str | None = None
    state: str
    priority: int | None = None
    site_id: str | None = None
    vehicle_id: str | None = None
    pinned_vehicle_id: str | None = None
    parent_id: str | None = None
    progress_pct: float | None = None
    current_waypoint: int | None = None
    waypoint_count: int | None = None
    distance_m: float | None = None
    distance_remaining_m: float | None = None
    eta_s: float | None = None
    created_by: str | None = None
    reason: str | None = None
    updated: float | None = Field(None, description="POSIX time of the last change")


class CommandIn(BaseModel):
    """Why (recorded with the command)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


class CommandAck(BaseModel):
    """A command the planner acknowledged and, when it has one, the vehicle acted on."""

    mission_id: str
    command: str
    message: str = Field(description="the planner's answer")
    vehicle_id: str | None = None
    vehicle_mode: str | None = Field(None, description="the vehicle's mode once it acted")
    mission: MissionOut | None = None


class Waypoint(GeoPoint):
    """A waypoint: altitude in metres above home, and an optional hold."""

    altitude: float = Field(ge=2, le=500)
    hold_s: float = Field(0.0, ge=0, le=3600)


class WaypointsIn(BaseModel):
    """The new remaining waypoints of a mission being flown, and why."""

    model_config = ConfigDict(extra="forbid")
    waypoints: list[Waypoint] = Field(min_length=1, max_length=1000)
    reason: str = Field(min_length=1, max_length=500)


class PriorityIn(BaseModel):
    """A new priority."""

    model_config = ConfigDict(extra="forbid")
    priority: int = Field(ge=1, le=10)


class PinIn(BaseModel):
    """Pin a queued mission to a vehicle (null clears the pin)."""

    model_config = ConfigDict(extra="forbid")
    vehicle_id: str | None = Field(pattern=VEHICLE_ID)
    reason: str = Field("", max_length=500)


class RecurringIn(BaseModel):
    """A mission flown again and again."""

    model_config = ConfigDict(extra="forbid")
    spec: dict[str, Any]
    recurrence: str = Field(min_length=1, max_length=100,
                            description='"every 15 minutes" or 5-field cron in UTC')
    priority: int = Field(5, ge=1, le=10)
    vehicle_id: str | None = Field(None, pattern=VEHICLE_ID)
    site_id: str | None = Field(None, max_length=64)


class RecurringOut(BaseModel):
    """A recurring schedule the planner took."""

    template_id: str
    next_at: float = Field(description="POSIX time of the first occurrence")
    message: str
    site_id: str | None


# ---------------------------------------------------------------- helpers
def _ros(bridge: Bridge) -> Any:
    if bridge.ros is None:
        raise GraphUnavailableError("this bridge runs without a ROS graph")
    return bridge.ros


def _check_id(mission_id: str) -> str:
    if not MISSION_ID.match(mission_id):
        raise HTTPException(422, f"mission id {mission_id[:80]!r} is malformed")
    return mission_id


def _live(bridge: Bridge, m: dict[str, Any]) -> dict[str, Any]:
    return {**m, "source": "live", "site_id": bridge.picture.mission_site(m)}


def _spec_json(spec: dict[str, Any]) -> str:
    try:
        return json.dumps(spec, allow_nan=False)
    except ValueError:
        raise HTTPException(422, "spec: NaN and infinity are not JSON numbers") from None


def _live_mission(bridge: Bridge, principal: Principal, mission_id: str,
                  role: Literal["viewer", "operator"]) -> dict[str, Any]:
    """Return a mission of the picture the caller may act on; 404/403 otherwise."""
    m = bridge.picture.missions.get(_check_id(mission_id))
    if m is None:
        raise HTTPException(404, f"mission {mission_id!r} is not held by the planner "
                                 f"(unknown, or finished long ago)")
    check_site(principal, role, bridge.picture.mission_site(m), f"mission {mission_id!r}")
    return m


async def _remember_site(bridge: Bridge, mission_id: str, site_id: str | None) -> None:
    """Keep the site of a mission created here (picture, Redis for the other instances)."""
    if site_id is None:
        return
    bridge.picture.mission_sites[mission_id] = site_id
    m = bridge.picture.missions.get(mission_id)
    if m is not None:
        m["site_id"] = site_id
    try:
        await bridge.redis.client.hset(bridge.redis.key(SITE_HASH), mission_id, site_id)
        bridge.redis.succeeded()
    except Exception as exc:  # Redis down: this instance still knows; it recovers alone
        bridge.redis.failed(exc, "remembering a mission's site")


async def _load_sites(bridge: Bridge) -> None:
    """Fill the picture's mission sites from Redis (what other instances created)."""
    try:
        sites = await bridge.redis.client.hgetall(bridge.redis.key(SITE_HASH))
    except Exception as exc:
        bridge.redis.failed(exc, "loading mission sites")
        return
    for mid, site in sites.items():
        bridge.picture.mission_sites.setdefault(str(mid), str(site))


async def _start(bridge: Bridge) -> None:
    await _load_sites(bridge)


async def _stop(bridge: Bridge) -> None:
    return None


on_lifespan("missions", _start, _stop)


async def _store_site(bridge: Bridge, mission_id: str, kind: str, priority: int,
                      site_id: str | None, created_by: str) -> None:
    """Write the mission's site to the database first, so row-level security scopes it
    before a vehicle (whose site the recorder would use) is known."""
    if site_id is None:
        return
    try:
        async with system(bridge.engine) as conn:
            await conn.execute(text(
                "insert into missions (id, type, status, priority, site_id, created_by) "
                "values (:id, :type, 'planned', :priority, :site, :by) on conflict (id) do "
                "update set site_id = coalesce(missions.site_id, excluded.site_id), "
                "created_by = coalesce(missions.created_by, excluded.created_by)"),
                {"id": mission_id, "type": kind, "priority": priority, "site": site_id,
                 "by": created_by})
    except (DBAPIError, OSError) as exc:
        # The mission flies anyway; the recorder stores it with its vehicle's site.
        log.warning("site of mission %s not stored: %s", mission_id, exc)


async def _site_for(principal: Principal, conn: Any, bridge: Bridge, site_id: str | None,
                    vehicle_id: str | None) -> str | None:
    """Return the site a new mission belongs to, checking the caller operates there."""
    if vehicle_id is not None:
        v = bridge.picture.vehicles.get(vehicle_id)
        if v is None:
            raise HTTPException(422, f"vehicle_id: {vehicle_id!r} is not in the fleet picture")
        check_site(principal, "operator", v.get("site_id"), f"vehicle {vehicle_id!r}")
        site_id = site_id or v.get("site_id")
    if site_id is None:
        if not principal.can("operator", None):
            sites = ", ".join(sorted(principal.sites("operator") or ())) or "none"
            raise HTTPException(422, f"site_id is required (sites where {principal.username} "
                                     f"is operator: {sites})")
        return None
    check_site(principal, "operator", site_id, f"site {site_id!r}")
    exists = (await conn.execute(text("select 1 from sites where id = :id"),
                                 {"id": site_id})).first()
    if exists is None:
        raise HTTPException(422, f"site_id: site {site_id!r} does not exist")
    return site_id


# ---------------------------------------------------------------- preview and create
@router.post("/preview", response_model=PreviewOut)
async def preview(body: PreviewIn, principal: Viewer, bridge: BridgeDep) -> dict[str, Any]:
    """Plan a mission without flying it: path, distance, duration, energy, coverage."""
    r = await _ros(bridge).call("plan", PlanMission.Request(
        spec_json=_spec_json(body.spec), vehicle_id=body.vehicle_id or ""))
    if not r.ok:
        raise RefusedError(f"the planner cannot plan this mission: {r.reason}", 422)
    try:
        plan = json.loads(r.plan_json) if r.plan_json else {}
    except ValueError:
        plan = {}
    coords = [[float(w.longitude), float(w.latitude), float(w.altitude)] for w in r.waypoints]
    coverage = float(r.coverage_pct)
    return {"path": {"type": "LineString", "coordinates": coords},
            "distance_m": r.distance_m, "duration_s": r.duration_s, "energy_wh": r.energy_wh,
            "reserve_wh": r.reserve_wh,
            "coverage_pct": coverage if math.isfinite(coverage) else None,
            "waypoint_count": len(coords), "legs": len(plan.get("legs") or []) or 1,
            "warnings": [str(w) for w in plan.get("warnings") or []], "plan": plan}


@router.post("", response_model=MissionOut, status_code=201)
async def create_mission(body: MissionIn, request: Request, principal: Operator,
                         bridge: BridgeDep, conn: ScopedConn) -> dict[str, Any]:
    """Submit a mission; answers once the planner accepted it (422 with its reason if not)."""
    mid = f"m-{uuid.uuid4().hex[:10]}"
    audit(request, target_type="mission", target_id=mid, site_id=body.site_id,
          action="create mission", priority=body.priority, vehicle_id=body.vehicle_id,
          type=body.spec.get("type"))
    site_id = await _site_for(principal, conn, bridge, body.site_id, body.vehicle_id)
    audit(request, site_id=site_id)
    ros = _ros(bridge)
    spec_json = _spec_json(body.spec)
    first_feedback: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def on_feedback(fb: Any) -> None:
        if not first_feedback.done():
            first_feedback.set_result(fb)

    # Remembered before the goal: the first /fleet/missions carrying it is already scoped.
    await _remember_site(bridge, mid, site_id)
    goal = ExecuteMission.Goal(mission_id=mid, spec_json=spec_json, priority=body.priority,
                               created_by=principal.username, vehicle_id=body.vehicle_id or "")
    handle = await ros.send_goal(ros.execute_client, goal, feedback=on_feedback)
    if not handle.accepted:
        raise RefusedError(f"the planner rejected mission {mid}", 422)
    result = ros.result_future(handle)
    track_goal(bridge, mid, handle, result, f"mission {mid}: goal",
               lambda r: f"mission {mid} {r.final_state}: {r.reason}")
    listed = asyncio.ensure_future(watch_of(bridge).until(
        lambda: bridge.picture.missions.get(mid), bridge.settings.ack_timeout_s))
    try:
        done, _ = await asyncio.wait({result, first_feedback, listed},
                                     timeout=bridge.settings.ack_timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if first_feedback in done and not listed.done():
            # /fleet/missions follows the feedback within a tick: wait for it (bounded), so
            # a GET or a command right after the 201 finds the mission.
            await asyncio.wait({listed}, timeout=min(2.0, bridge.settings.ack_timeout_s))
    finally:
        listed.cancel()
        if not first_feedback.done():
            first_feedback.cancel()
    if result in done:
        r = result.result().result
        if r.final_state == "failed":
            raise RefusedError(f"the planner refused mission {mid}: {r.reason}", 422)
    elif not done:
        raise GraphTimeoutError(f"the planner did not confirm mission {mid} within "
                                f"{bridge.settings.ack_timeout_s:g} s (it may still run)")
    await _store_site(bridge, mid, str(body.spec.get("type") or "unknown"), body.priority,
                      site_id, principal.username)
    m = bridge.picture.missions.get(mid)
    if m is not None:
        return _live(bridge, m)
    fb = first_feedback.result() if first_feedback.done() and not first_feedback.cancelled() \
        else None
    return {"mission_id": mid, "source": "live", "state": fb.state if fb else "queued",
            "priority": body.priority, "site_id": site_id,
            "vehicle_id": (fb.vehicle_id or None) if fb else None,
            "pinned_vehicle_id": body.vehicle_id, "created_by": principal.username}


def track_goal(bridge: Bridge, key: str, handle: Any, result: asyncio.Future[Any],
               what: str, outcome: Callable[[Any], str]) -> None:
    """Keep the goal's handle under ``key`` until its result comes, then log the outcome.

    ``what`` names the goal in the warning when it ends without a result; ``outcome`` words
    the result.
    """
    _ros(bridge).goals[key] = handle

    def done(fut: asyncio.Future[Any]) -> None:
        if bridge.ros is not None and bridge.ros.goals.get(key) is handle:
            del bridge.ros.goals[key]
        if fut.cancelled() or fut.exception() is not None:
            log.warning("%s ended without a result", what)
            return
        log.info("%s", outcome(fut.result().result))

    result.add_done_callback(done)


# ---------------------------------------------------------------- read
_DB_COLUMNS = ("select id, type, status, priority, site_id, vehicle_id, parent_id, "
               "created_by, estimated_distance_m, created_at, started_at, ended_at "
               "from missions")


def _stored(row: Any) -> dict[str, Any]:
    times = [t for t in (row.ended_at, row.started_at, row.created_at) if t is not None]
    return {"mission_id": row.id, "source": "database", "type": row.type,
            "state": row.status, "priority": row.priority, "site_id": row.site_id,
            "vehicle_id": row.vehicle_id, "parent_id": row.parent_id,
            "created_by": row.created_by, "distance_m": row.estimated_distance_m,
            "updated": times[0].timestamp() if times else None}


@router.get("/{mission_id:path}", response_model=MissionOut)
async def get_mission(mission_id: MissionPath, principal: Viewer, bridge: BridgeDep,
                      conn: ScopedConn) -> dict[str, Any]:
    """Return one mission: live from the planner, else as the database stored it."""
    m = bridge.picture.missions.get(_check_id(mission_id))
    if m is not None:
        check_site(principal, "viewer", bridge.picture.mission_site(m), f"mission "
                                                                         f"{mission_id!r}")
        return _live(bridge, m)
    row = (await conn.execute(text(f"{_DB_COLUMNS} where id = :id"),
                              {"id": mission_id})).first()
    if row is None:
        raise HTTPException(404, f"mission {mission_id!r} does not exist")
    return _stored(row)


def _in_range(t: float | None, since: datetime | None, until: datetime | None) -> bool:
    if since is None and until is None:
        return True
    if t is None:
        return False
    return (since is None or t >= since.timestamp()) and (until is None
                                                         or t < until.timestamp())


@router.get("", response_model=Page[MissionOut])
async def list_missions(
    principal: Viewer, bridge: BridgeDep, conn: ScopedConn,
    site: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[State | None, Query()] = None,
    vehicle: Annotated[str | None, Query(pattern=VEHICLE_ID)] = None,
    since: Annotated[datetime | None, Query(description="changed at or after (ISO-8601)")]
    = None,
    until: Annotated[datetime | None, Query(description="changed before (ISO-8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> dict[str, Any]:
    """List missions by id: the planner's (live) and the stored ones, filtered, paged."""
    after = string_cursor(cursor)
    since = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    until = until.replace(tzinfo=UTC) if until and until.tzinfo is None else until
    live: dict[str, dict[str, Any]] = {}
    for mid, m in bridge.picture.missions.items():
        out = _live(bridge, m)
        if after is not None and mid <= after:
            continue
        if not principal.sees(out["site_id"]):
            continue
        if (site is not None and out["site_id"] != site) or (state and m["state"] != state) \
                or (vehicle and vehicle not in (m["vehicle_id"], m["pinned_vehicle_id"])):
            continue
        if not _in_range(m.get("updated"), since, until):
            continue
        live[mid] = out
    # Stored rows (row-level security scopes them) for what the planner no longer holds.
    rows = (await conn.execute(text(
        f"{_DB_COLUMNS} where (cast(:after as text) is null or id > :after) "
        f"and (cast(:site as text) is null or site_id = :site) "
        f"and (cast(:state as text) is null or status = :state) "
        f"and (cast(:vehicle as text) is null or vehicle_id = :vehicle) "
        f"and (cast(:since as timestamptz) is null or "
        f"coalesce(ended_at, started_at, created_at) >= :since) "
        f"and (cast(:until as timestamptz) is null or "
        f"coalesce(ended_at, started_at, created_at) < :until) "
        f"and not (id = any(:held)) order by id limit :n"),
        {"after": after, "site": site, "state": state, "vehicle": vehicle, "since": since,
         "until": until, "held": list(bridge.picture.missions), "n": limit + 1})).all()
    merged = sorted([*live.values(), *(_stored(r) for r in rows)],
                    key=lambda m: m["mission_id"])
    page = merged[:limit]
    more = len(merged) > limit
    return {"items": page,
            "next_cursor": encode_cursor(page[-1]["mission_id"]) if more else None}


# ---------------------------------------------------------------- commands
def _audit_command(bridge: Bridge, request: Request, mission_id: str, action: str,
                   **details: Any) -> None:
    """Audit a command on a mission, with the mission's site when the picture knows it."""
    m = bridge.picture.missions.get(mission_id)
    audit(request, target_type="mission", target_id=mission_id,
          site_id=bridge.picture.mission_site(m) if m else None, action=action, **details)


async def _control(bridge: Bridge, request: Request, principal: Principal, mission_id: str,
                   command: str, reason: str) -> dict[str, Any]:
    """Send pause/resume/abort/return_home and wait for the planner and the vehicle."""
    _audit_command(bridge, request, mission_id, command.replace("_", "-"), reason=reason)
    m = _live_mission(bridge, principal, mission_id, "operator")
    vehicle_id = m.get("vehicle_id")
    check_link(command, vehicle_id, bridge.picture)
    r = await _ros(bridge).call(command, MissionControl.Request(
        mission_id=mission_id, actor=principal.username, reason=reason or command))
    if not r.ok:
        raise refused(mission_id, r.message)
    v = await vehicle_ack(bridge, command, mission_id, vehicle_id)
    return _ack(bridge, mission_id, command, r.message, vehicle_id, v)


def _ack(bridge: Bridge, mission_id: str, command: str, message: str,
         vehicle_id: str | None, vehicle: dict[str, Any] | None) -> dict[str, Any]:
    m = bridge.picture.missions.get(mission_id)
    return {"mission_id": mission_id, "command": command, "message": message,
            "vehicle_id": vehicle_id, "vehicle_mode": vehicle.get("mode") if vehicle else None,
            "mission": _live(bridge, m) if m else None}


def _command_route(command: str, doc: str) -> None:
    """Add ``POST /missions/{id}/<command>``, which sends ``command`` to the planner."""

    async def route(mission_id: MissionPath, request: Request, principal: Operator,
                    bridge: BridgeDep, body: CommandIn | None = None) -> dict[str, Any]:
        return await _control(bridge, request, principal, mission_id, command,
                              body.reason if body else "")

    route.__name__ = route.__qualname__ = command
    route.__doc__ = doc
    path = f"/{{mission_id:path}}/{command.replace('_', '-')}"
    router.post(path, response_model=CommandAck)(route)


for _command, _doc in (
    ("pause", "Pause an active mission: answers once the vehicle holds (AUTO.LOITER)."),
    ("resume", "Resume a paused mission: answers once the vehicle flies it again "
               "(AUTO.MISSION)."),
    ("abort", "Abort a mission: answers once its vehicle returns home (AUTO.RTL) or is "
              "landed."),
    ("return_home", "Send the vehicle home and hand the mission back (another vehicle flies "
                    "the rest)."),
):
    _command_route(_command, _doc)


@router.put("/{mission_id:path}/waypoints", response_model=CommandAck)
async def modify_waypoints(mission_id: MissionPath, body: WaypointsIn, request: Request,
                           principal: Operator, bridge: BridgeDep) -> dict[str, Any]:
    """Replace the remaining waypoints of an active or paused mission (a reason is needed)."""
    _audit_command(bridge, request, mission_id, "modify waypoints", reason=body.reason,
                   waypoints=len(body.waypoints))
    m = _live_mission(bridge, principal, mission_id, "operator")
    vehicle_id = m.get("vehicle_id")
    check_link("modify_waypoints", vehicle_id, bridge.picture)
    r = await _ros(bridge).call("modify_waypoints", ModifyWaypoints.Request(
        mission_id=mission_id,
        waypoints=[GeoPointMsg(latitude=w.latitude, longitude=w.longitude,
                               altitude=w.altitude) for w in body.waypoints],
        hold_s=[float(w.hold_s) for w in body.waypoints], actor=principal.username,
        reason=body.reason))
    if not r.ok:
        raise refused(mission_id, r.message)
    v = await vehicle_ack(bridge, "modify_waypoints", mission_id, vehicle_id)
    return _ack(bridge, mission_id, "modify_waypoints", r.message, vehicle_id, v)


async def _wait_listed(bridge: Bridge, mission_id: str, check: Any) -> None:
    """Wait (bounded) until /fleet/missions shows a change the planner acknowledged."""
    await watch_of(bridge).until(
        lambda: (m := bridge.picture.missions.get(mission_id)) is not None and check(m),
        bridge.settings.ack_timeout_s)


@router.put("/{mission_id:path}/priority", response_model=CommandAck)
async def set_priority(mission_id: MissionPath, body: PriorityIn, request: Request,
                       principal: Operator, bridge: BridgeDep) -> dict[str, Any]:
    """Change a mission's priority (the queue re-sorts at once)."""
    _audit_command(bridge, request, mission_id, "set priority", priority=body.priority)
    _live_mission(bridge, principal, mission_id, "operator")
    r = await _ros(bridge).call("set_priority", SetPriority.Request(
        mission_id=mission_id, priority=body.priority, actor=principal.username))
    if not r.ok:
        raise refused(mission_id, r.message)
    await _wait_listed(bridge, mission_id, lambda x: x["priority"] == body.priority)
    return _ack(bridge, mission_id, "set_priority", r.message, None, None)


@router.put("/{mission_id:path}/pin", response_model=CommandAck)
async def set_pin(mission_id: MissionPath, body: PinIn, request: Request,
                  principal: Operator, bridge: BridgeDep) -> dict[str, Any]:
    """Pin a planned or queued mission to a vehicle, move the pin, or clear it (null)."""
    _audit_command(bridge, request, mission_id, "pin vehicle", vehicle_id=body.vehicle_id,
                   reason=body.reason)
    _live_mission(bridge, principal, mission_id, "operator")
    if body.vehicle_id is not None:
        v = bridge.picture.vehicles.get(body.vehicle_id)
        if v is None:
            raise HTTPException(422, f"vehicle_id: {body.vehicle_id!r} is not in the fleet "
                                     f"picture")
        check_site(principal, "operator", v.get("site_id"), f"vehicle {body.vehicle_id!r}")
    r = await _ros(bridge).call("set_vehicle_pin", SetVehiclePin.Request(
        mission_id=mission_id, vehicle_id=body.vehicle_id or "", actor=principal.username,
        reason=body.reason))
    if not r.ok:
        raise refused(mission_id, r.message)
    await _wait_listed(bridge, mission_id,
                       lambda x: x["pinned_vehicle_id"] == body.vehicle_id)
    return _ack(bridge, mission_id, "set_pin", r.message, body.vehicle_id, None)


# ---------------------------------------------------------------- recurring
@router.post("/recurring", response_model=RecurringOut, status_code=201)
async def schedule_recurring(body: RecurringIn, request: Request, principal: Operator,
                             bridge: BridgeDep, conn: ScopedConn) -> dict[str, Any]:
    """Fly a mission on a schedule; each occurrence is a mission ``<template>@<time>``."""
    tid = f"r-{uuid.uuid4().hex[:10]}"
    audit(request, target_type="recurring", target_id=tid, site_id=body.site_id,
          action="schedule recurring", recurrence=body.recurrence)
    site_id = await _site_for(principal, conn, bridge, body.site_id, body.vehicle_id)
    audit(request, site_id=site_id)
    r = await _ros(bridge).call("schedule_recurring", ScheduleRecurring.Request(
        template_id=tid, spec_json=_spec_json(body.spec), priority=body.priority,
        recurrence=body.recurrence, created_by=principal.username,
        vehicle_id=body.vehicle_id or ""))
    if not r.ok:
        raise RefusedError(f"the planner refused the schedule: {r.message}", 422)
    await _remember_site(bridge, r.template_id, site_id)
    return {"template_id": r.template_id, "next_at": r.next_at, "message": r.message,
            "site_id": site_id}


@router.delete("/recurring/{template_id}", response_model=CommandAck)
async def cancel_recurring(
    template_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")],
    request: Request, principal: Operator, bridge: BridgeDep,
) -> dict[str, Any]:
    """Stop a recurring schedule (missions already spawned are not touched)."""
    site = bridge.picture.mission_sites.get(template_id)
    audit(request, target_type="recurring", target_id=template_id, site_id=site,
          action="cancel recurring")
    check_site(principal, "operator", site, f"recurring schedule {template_id!r}")
    r = await _ros(bridge).call("cancel_recurring", MissionControl.Request(
        mission_id=template_id, actor=principal.username, reason="canceled"))
    if not r.ok:
        raise HTTPException(404, r.message or f"no recurring schedule {template_id!r}")
    return {"mission_id": template_id, "command": "cancel_recurring", "message": r.message}


