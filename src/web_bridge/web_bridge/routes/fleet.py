"""Routes: the live fleet from the Redis tier — vehicles near a point (GEOSEARCH) and the
counts by site and status; both answered from the in-memory picture when Redis is down."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from web_bridge.deps import BridgeDep, Viewer
from web_bridge.live_redis import Source, live_of, visible
from web_bridge.routes.vehicles import VehicleOut
from web_bridge.schemas import ERRORS

router = APIRouter(prefix="/fleet", tags=["fleet"], responses=ERRORS)


class NearVehicle(VehicleOut):
    """A vehicle and its distance from the point asked about."""

    distance_m: float = Field(description="great-circle distance from the point")


class NearAnswer(BaseModel):
    """Visible vehicles within the radius, nearest first."""

    source: Source = Field(description="redis (shared live tier) or picture (this instance's "
                                       "own view, while Redis is down)")
    items: list[NearVehicle]


class SiteCount(BaseModel):
    """Vehicles of one site by status (``site_id`` null: vehicles without a site)."""

    site_id: str | None
    total: int
    by_status: dict[str, int]


class Summary(BaseModel):
    """Counts of the visible vehicles by site and status."""

    source: Source
    total: int
    sites: list[SiteCount]


@router.get("/near", response_model=NearAnswer)
async def near(
    principal: Viewer, bridge: BridgeDep,
    latitude: Annotated[float, Query(ge=-90, le=90)],
    longitude: Annotated[float, Query(ge=-180, le=180)],
    radius_m: Annotated[float, Query(gt=0, le=100_000, description="up to 100 km")] = 1000.0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> NearAnswer:
    """List the vehicles the caller may see within ``radius_m`` of a point, nearest first."""
    source, found = await live_of(bridge).near(latitude, longitude, radius_m, limit,
                                               principal.sites())
    return NearAnswer(source=source, items=[NearVehicle.model_validate(v) for v in found])


@router.get("/summary", response_model=Summary)
async def summary(principal: Viewer, bridge: BridgeDep) -> Summary:
    """Count the vehicles the caller may see, by site and status."""
    source, counts = await live_of(bridge).counts()
    allowed = principal.sites()
    sites: dict[str | None, SiteCount] = {}
    for (site, status), n in sorted(counts.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        if n <= 0 or not visible(allowed, (site,)):
            continue
        entry = sites.setdefault(site, SiteCount(site_id=site, total=0, by_status={}))
        entry.by_status[status] = n
        entry.total += n
    return Summary(source=source, total=sum(s.total for s in sites.values()),
                   sites=list(sites.values()))
