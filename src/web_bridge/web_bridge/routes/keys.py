"""Routes: vehicles' API keys (admin at the key's site) — create (shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from web_bridge import ingest
from web_bridge.app import audit_info
from web_bridge.db import system
from web_bridge.deps import Admin, BridgeDep, check_site
from web_bridge.ingest import VEHICLE_ID, KeyRecord
from web_bridge.schemas import ERRORS, Page, decode_cursor, encode_cursor

router = APIRouter(prefix="/keys", tags=["keys"], responses=ERRORS)
KEY_PREFIX = r"^fk_[0-9a-f]{8}$"
Prefix = Annotated[str, Path(pattern=KEY_PREFIX, description="the key's prefix, fk_xxxxxxxx")]


class KeyIn(BaseModel):
    """A new API key for one vehicle at one site."""

    model_config = ConfigDict(extra="forbid")
    vehicle_id: str = Field(pattern=VEHICLE_ID, description="the vehicle the key sends for")
    site_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200, description="what it is for, for humans")
    expires_at: AwareDatetime | None = Field(None, description="none: until revoked")


class KeyOut(BaseModel):
    """An API key as listed (never its hash)."""

    prefix: str
    name: str
    vehicle_id: str | None
    site_id: str | None
    created_by: int = Field(description="the admin's user id")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="exact to about a minute")
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    """A new key: ``key`` is shown this once and cannot be recovered."""

    key: str


def _out(record: KeyRecord) -> KeyOut:
    return KeyOut(prefix=record.prefix, name=record.name, vehicle_id=record.vehicle_id,
                  site_id=record.site_id, created_by=record.created_by,
                  created_at=record.created_at, expires_at=record.expires_at,
                  last_used_at=record.last_used_at, revoked_at=record.revoked_at)


@router.post("", response_model=KeyCreated, status_code=201)
async def create_key(body: KeyIn, request: Request, principal: Admin,
                     bridge: BridgeDep) -> KeyCreated:
    """Create an API key for a vehicle; the answer is the only time the key is shown."""
    audit_info(request, target_type="api_key", site_id=body.site_id,
               vehicle_id=body.vehicle_id, name=body.name)
    check_site(principal, "admin", body.site_id, f"site {body.site_id!r}")
    async with system(bridge.engine) as conn:
        key, record = await ingest.create_key(
            conn, bridge.passwords.hash, user_id=principal.user_id,
            vehicle_id=body.vehicle_id, site_id=body.site_id, name=body.name,
            expires_at=body.expires_at,
            picture_site=bridge.picture.vehicle_site(body.vehicle_id))
    audit_info(request, target_id=record.prefix)
    return KeyCreated(key=key, **_out(record).model_dump())


@router.get("", response_model=Page[KeyOut])
async def list_keys(
        principal: Admin, bridge: BridgeDep,
        site: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
        vehicle_id: Annotated[str | None, Query(pattern=VEHICLE_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(max_length=200)] = None) -> Page[KeyOut]:
    """List the API keys of the sites where the caller is admin, newest first."""
    try:
        after = decode_cursor(cursor)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
        raise HTTPException(422, f"cursor {cursor!r} is not one this API returned")
    async with system(bridge.engine) as conn:
        records = await ingest.list_keys(conn, principal.sites("admin"), site_id=site,
                                         vehicle_id=vehicle_id, after_id=after,
                                         limit=limit + 1)
    more = len(records) > limit
    records = records[:limit]
    return Page[KeyOut](items=[_out(r) for r in records],
                        next_cursor=encode_cursor(records[-1].id) if more else None)


@router.delete("/{prefix}", response_model=KeyOut)
async def revoke_key(prefix: Prefix, request: Request, principal: Admin,
                     bridge: BridgeDep) -> KeyOut:
    """Revoke an API key: every bridge instance refuses it from now on."""
    audit_info(request, target_type="api_key", target_id=prefix)
    async with system(bridge.engine) as conn:
        found = await ingest.find_key(conn, prefix)
        if found is None:
            raise HTTPException(404, f"API key {prefix} does not exist")
        audit_info(request, site_id=found.site_id, vehicle_id=found.vehicle_id)
        check_site(principal, "admin", found.site_id, f"API key {prefix}")
        record = await ingest.revoke_key(conn, prefix)
    await ingest.announce_revocation(bridge, prefix)
    return _out(record)
