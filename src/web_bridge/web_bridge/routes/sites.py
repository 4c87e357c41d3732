"""Routes: sites — the ones the caller may see (row-level security applies), and admin
create/update."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import text
from sqlalchemy.engine import Row

from web_bridge.app import audit_info
from web_bridge.deps import Admin, ScopedConn, Viewer, check_site
from web_bridge.schemas import ERRORS, GeoPoint, Page, encode_cursor, string_cursor

router = APIRouter(prefix="/sites", tags=["sites"], responses=ERRORS)
SITE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
SiteId = Annotated[str, Path(pattern=SITE_ID, description="the site id, e.g. zurich")]
_COLUMNS = ("select id, name, st_y(location) as latitude, st_x(location) as longitude, "
            "time_zone from sites")


class SiteOut(BaseModel):
    """A site: where vehicles are based."""

    id: str
    name: str
    location: GeoPoint
    time_zone: str


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Zurich)") from None
    return value


class SiteIn(BaseModel):
    """A new site."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=SITE_ID)
    name: str = Field(min_length=1, max_length=200)
    location: GeoPoint
    time_zone: str = Field("UTC", max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _time_zone(value)


class SitePatch(BaseModel):
    """Changes to a site (the fields given)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    location: GeoPoint | None = None
    time_zone: str | None = Field(None, max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _time_zone(value)


def _site(row: Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "time_zone": row.time_zone,
            "location": {"latitude": row.latitude, "longitude": row.longitude}}


@router.get("", response_model=Page[SiteOut])
async def list_sites(principal: Viewer, conn: ScopedConn,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     cursor: Annotated[str | None, Query(max_length=200)] = None,
                     ) -> dict[str, Any]:
    """List the sites the caller may see, by id, a page at a time."""
    after = string_cursor(cursor)
    rows = (await conn.execute(text(
        f"{_COLUMNS} where (cast(:after as text) is null or id > :after) "
        f"order by id limit :n"), {"after": after, "n": limit + 1})).all()
    items = [_site(r) for r in rows[:limit]]
    return {"items": items,
            "next_cursor": encode_cursor(items[-1]["id"]) if len(rows) > limit else None}


@router.get("/{site_id}", response_model=SiteOut)
async def get_site(site_id: SiteId, principal: Viewer, conn: ScopedConn) -> dict[str, Any]:
    """Return one site."""
    row = (await conn.execute(text(f"{_COLUMNS} where id = :id"), {"id": site_id})).first()
    if row is None:
        raise HTTPException(404, f"site {site_id!r} does not exist")
    return _site(row)


@router.post("", response_model=SiteOut, status_code=201)
async def create_site(body: SiteIn, request: Request, principal: Admin,
                      conn: ScopedConn) -> dict[str, Any]:
    """Create a site (an admin of every site only: nobody else could see it yet)."""
    audit_info(request, target_type="site", target_id=body.id, site_id=body.id,
               name=body.name)
    if not principal.can("admin", None):
        raise HTTPException(403, f"creating a site needs the admin role at every site; "
                                 f"{principal.username} lacks it")
    exists = (await conn.execute(text("select 1 from sites where id = :id"),
                                 {"id": body.id})).first()
    if exists is not None:
        raise HTTPException(409, f"site {body.id!r} already exists")
    await conn.execute(text(
        "insert into sites (id, name, location, time_zone) values (:id, :name, "
        "st_setsrid(st_makepoint(:lon, :lat), 4326), :tz)"),
        {"id": body.id, "name": body.name, "lon": body.location.longitude,
         "lat": body.location.latitude, "tz": body.time_zone})
    row = (await conn.execute(text(f"{_COLUMNS} where id = :id"), {"id": body.id})).one()
    return _site(row)


@router.put("/{site_id}", response_model=SiteOut)
async def update_site(site_id: SiteId, body: SitePatch, request: Request, principal: Admin,
                      conn: ScopedConn) -> dict[str, Any]:
    """Change a site's name, location or time zone (admin of that site)."""
    audit_info(request, target_type="site", target_id=site_id, site_id=site_id,
               **body.model_dump(exclude_none=True))
    check_site(principal, "admin", site_id, f"site {site_id!r}")
    changes = body.model_dump(exclude_none=True)
    sets = []
    values: dict[str, Any] = {"id": site_id}
    if "name" in changes:
        sets.append("name = :name")
        values["name"] = body.name
    if body.location is not None:
        sets.append("location = st_setsrid(st_makepoint(:lon, :lat), 4326)")
        values.update(lon=body.location.longitude, lat=body.location.latitude)
    if "time_zone" in changes:
        sets.append("time_zone = :tz")
        values["tz"] = body.time_zone
    if sets:
        await conn.execute(text(f"update sites set {', '.join(sets)} where id = :id"), values)
    row = (await conn.execute(text(f"{_COLUMNS} where id = :id"), {"id": site_id})).first()
    if row is None:
        raise HTTPException(404, f"site {site_id!r} does not exist")
    return _site(row)
