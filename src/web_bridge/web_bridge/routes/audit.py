"""Routes: the audit log (admin) — filtered pages, newest first, and a streamed CSV export.

An admin of every site sees every entry; an admin of some sites sees the entries about
those sites (entries without a site, such as logins, need the admin role everywhere).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import Connection

from fleet_db import eventlog
from web_bridge.db import scoped
from web_bridge.deps import Admin, BridgeDep, ScopedConn
from web_bridge.reports import csv_lines
from web_bridge.routes.events import Cursor, Limit, Since, Until, next_cursor, read_cursor
from web_bridge.routes.telemetry import check_range, run_db
from web_bridge.schemas import ERRORS, Page
from web_bridge.security import Principal

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERRORS)

Result = Literal["allowed", "refused", "failed"]
CSV_BATCH = 1000
CSV_COLUMNS = ("id", "time", "username", "user_id", "role", "api_key_id", "method", "action",
               "result", "status_code", "target_type", "target_id", "site_id", "remote_addr",
               "details")


class AuditFilters(BaseModel):
    """The filters of an audit query."""

    username: str | None = None
    user_id: int | None = None
    action: str | None = None
    result: Result | None = None
    target_id: str | None = None
    t0: datetime | None = None
    t1: datetime | None = None

    def query(self, principal: Principal) -> dict[str, Any]:
        """Return the keyword arguments of ``eventlog.audit_entries`` for ``principal``."""
        sites = principal.sites("admin")
        return {**self.model_dump(), "site_ids": None if sites is None else sorted(sites)}


def _filters(
    user: Annotated[str | None, Query(max_length=64, description="exact username")] = None,
    user_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    action: Annotated[str | None, Query(max_length=200, description="contains")] = None,
    result: Annotated[Result | None, Query()] = None,
    target: Annotated[str | None, Query(max_length=200, description="target id")] = None,
    t0: Since = None, t1: Until = None,
) -> AuditFilters:
    check_range(t0, t1)
    return AuditFilters(username=user, user_id=user_id, action=action, result=result,
                        target_id=target, t0=t0, t1=t1)


Filters = Annotated[AuditFilters, Depends(_filters)]


@router.get("", response_model=Page[eventlog.AuditRow])
async def list_audit(principal: Admin, conn: ScopedConn, filters: Filters, limit: Limit = 100,
                     cursor: Cursor = None) -> dict[str, Any]:
    """List audit entries, newest first, a page at a time."""
    after = read_cursor(cursor)
    rows = await run_db(conn, lambda c: eventlog.audit_entries(
        c, after=after, limit=limit, **filters.query(principal)))
    return {"items": rows, "next_cursor": next_cursor(rows, limit)}


@router.get("/export.csv", response_class=StreamingResponse, responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def export_audit(principal: Admin, bridge: BridgeDep, filters: Filters
                       ) -> StreamingResponse:
    """Download every matching audit entry as CSV, newest first (streamed)."""
    query = filters.query(principal)

    async def rows() -> AsyncIterator[str]:
        for line in csv_lines([CSV_COLUMNS]):
            yield line
        after: eventlog.Key | None = None
        while True:
            # One short transaction per batch: a slow reader never holds one open.
            def batch(c: Connection, start: eventlog.Key | None = after
                      ) -> list[eventlog.AuditRow]:
                return eventlog.audit_entries(c, after=start, limit=CSV_BATCH, **query)

            async with scoped(bridge.engine, principal, bridge.settings.db_role) as conn:
                page = await conn.run_sync(batch)
            for line in csv_lines(
                    [[*(getattr(r, c) for c in CSV_COLUMNS[:-1]),
                      json.dumps(r.details, sort_keys=True)] for r in page]):
                yield line
            if len(page) < CSV_BATCH:
                return
            after = (page[-1].time, page[-1].id)

    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="audit_log.csv"'})
