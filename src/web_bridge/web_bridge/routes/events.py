"""Routes: stored events — coordination events and mission transitions, filtered, newest
first, a page at a time (cursor over (time, id)).

Coordination events belong to the site of their vehicle (the table carries no site);
mission events to their mission's site, which row-level security enforces.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from fleet_db import eventlog
from web_bridge.deps import BridgeDep, ScopedConn, Viewer, check_site
from web_bridge.routes.telemetry import (
    MISSION_ID,
    VEHICLE_ID_RE,
    UtcTime,
    check_range,
    run_db,
    vehicle_sites,
)
from web_bridge.routes.vehicles import VEHICLE_ID
from web_bridge.schemas import ERRORS, Page, decode_cursor, encode_cursor

router = APIRouter(prefix="/events", tags=["events"], responses=ERRORS)

CoordinationType = Literal["collision_avoidance", "airspace_conflict", "low_battery",
                           "link_lost", "charging_queue", "emergency_landing",
                           "command_failed"]
Severity = Literal["info", "warning", "critical"]
MissionState = Literal["planned", "queued", "assigned", "active", "paused", "completed",
                       "aborted", "failed"]
Since = Annotated[UtcTime | None, Query(description="from this time (ISO-8601, zone)")]
Until = Annotated[UtcTime | None, Query(description="before this time (ISO-8601, zone)")]
Limit = Annotated[int, Query(ge=1, le=eventlog.MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=200)]
DETAIL_LIST_MAX = 200  # longer lists in details (planned paths) are summarised


def read_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """Return the (time, id) key of a cursor; raise 422 naming it when it is not ours."""
    try:
        key = decode_cursor(cursor)
        if key is None:
            return None
        if (not isinstance(key, list) or len(key) != 2 or not isinstance(key[0], str)
                or not isinstance(key[1], int) or not 0 <= key[1] < 2**63):
            raise ValueError
        when = datetime.fromisoformat(key[0])
        if when.tzinfo is None:
            raise ValueError
    except ValueError:
        raise HTTPException(422, f"cursor {str(cursor)[:40]!r} is not one this route "
                                 "returned") from None
    return when, key[1]


def next_cursor(items: list[Any], limit: int, time_of: str = "time") -> str | None:
    """Return the cursor after a full page (None after the last one)."""
    if len(items) < limit:
        return None
    last = items[-1]
    return encode_cursor([getattr(last, time_of).isoformat(), last.id])


def trimmed(details: dict[str, Any]) -> dict[str, Any]:
    """Return ``details`` with long lists (paths of thousands of points) summarised."""
    return {k: (f"{len(v)} items" if isinstance(v, list) and len(v) > DETAIL_LIST_MAX else v)
            for k, v in details.items()}


@router.get("/coordination", response_model=Page[eventlog.CoordinationRow])
async def coordination_events(
    principal: Viewer, bridge: BridgeDep, conn: ScopedConn,
    type: Annotated[CoordinationType | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    vehicle: Annotated[str | None, Query(pattern=VEHICLE_ID)] = None,
    site: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    state: Annotated[Literal["open", "closed"] | None, Query()] = None,
    t0: Since = None, t1: Until = None, limit: Limit = 100, cursor: Cursor = None,
) -> dict[str, Any]:
    """List coordination events by opening time, newest first; ``vehicle`` matches either
    vehicle of the event, ``t0``/``t1`` bound the opening time."""
    check_range(t0, t1)
    after = read_cursor(cursor)
    if site is not None:
        check_site(principal, "viewer", site, f"site {site!r}")
    visible: list[str] | None = None
    if principal.sites() is not None or site is not None:
        sites = await vehicle_sites(conn, bridge, principal)
        visible = [v for v, s in sites.items() if site is None or s == site]
        if vehicle is not None and vehicle not in sites:
            raise HTTPException(404, f"vehicle {vehicle!r} does not exist")
    rows = await run_db(conn, lambda c: eventlog.coordination_events(
        c, vehicle_ids=visible, type_=type, severity=severity, vehicle_id=vehicle,
        state=state, t0=t0, t1=t1, after=after, limit=limit))
    items = [replace(r, details=trimmed(r.details)) for r in rows]
    return {"items": items, "next_cursor": next_cursor(rows, limit)}


@router.get("/missions", response_model=Page[eventlog.MissionEventRow])
async def mission_events(
    principal: Viewer, conn: ScopedConn,
    mission: Annotated[str | None, Query(pattern=MISSION_ID)] = None,
    vehicle: Annotated[str | None, Query(pattern=VEHICLE_ID)] = None,
    site: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    to_state: Annotated[MissionState | None, Query()] = None,
    t0: Since = None, t1: Until = None, limit: Limit = 100, cursor: Cursor = None,
) -> dict[str, Any]:
    """List mission transitions, newest first, of the missions the caller may see;
    ``vehicle`` is the mission's vehicle."""
    check_range(t0, t1)
    after = read_cursor(cursor)
    if site is not None:
        check_site(principal, "viewer", site, f"site {site!r}")
    if vehicle is not None and not VEHICLE_ID_RE.fullmatch(vehicle):
        raise HTTPException(422, f"vehicle {vehicle[:80]!r} is not a vehicle id")
    rows = await run_db(conn, lambda c: eventlog.mission_events(
        c, mission_id=mission, vehicle_id=vehicle, site_id=site, to_state=to_state, t0=t0,
        t1=t1, after=after, limit=limit))
    items = [replace(r, details=trimmed(r.details)) for r in rows]
    return {"items": items, "next_cursor": next_cursor(rows, limit)}
