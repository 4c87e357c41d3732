"""Routes: reports — one mission, one site, the organisation; each as JSON, CSV or PDF.

Figures come from SQL over the stored rows (``fleet_db.reports``, which defines each one),
through the caller's row-level-security scope: a report never counts another site's rows.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection

from fleet_db import reports as db_reports
from web_bridge.deps import ScopedConn, Viewer, check_site
from web_bridge.reports import (
    Format,
    MissionReportOut,
    OrganisationOut,
    csv_lines,
    mission_out,
    mission_pdf,
    mission_rows,
    summary_pdf,
    summary_rows,
)
from web_bridge.routes.telemetry import MissionPath, UtcTime, check_range, run_db
from web_bridge.schemas import ERRORS

router = APIRouter(prefix="/reports", tags=["reports"], responses=ERRORS)
FORMATS: dict[int | str, dict[str, Any]] = {200: {"content": {
    "application/json": {}, "text/csv": {"schema": {"type": "string"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}
FormatQuery = Annotated[Format, Query(description="json (default), csv (streamed) or pdf")]
PeriodBound = Annotated[UtcTime, Query(description="ISO-8601 with a zone; [t0, t1)")]
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _attachment(stem: str, extension: str) -> dict[str, str]:
    return {"Content-Disposition":
            f'attachment; filename="{_UNSAFE.sub("_", stem)[:100]}.{extension}"'}


def _csv(lines: Any, stem: str) -> StreamingResponse:
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8",
                             headers=_attachment(stem, "csv"))


def _pdf(content: bytes, stem: str) -> Response:
    return Response(content, media_type="application/pdf", headers=_attachment(stem, "pdf"))


def _stamp(t: datetime) -> str:
    return f"{t:%Y%m%dT%H%M%SZ}"


@router.get("/missions/{mission_id:path}", response_model=MissionReportOut, responses=FORMATS)
async def mission_report(
    mission_id: Annotated[str, MissionPath], principal: Viewer, conn: ScopedConn,
    format: FormatQuery = "json",
    max_path_points: Annotated[int, Query(ge=2, le=db_reports.MAX_PATH_POINTS)] = 2000,
) -> Any:
    """Report one mission: figures planned and flown, the flown path (else the planned
    one), its transitions and its vehicle's coordination events during the mission."""
    report = await run_db(conn, lambda c: db_reports.mission_report(
        c, mission_id, max_path_points))
    stem = f"mission_{mission_id}"
    if format == "pdf":
        return _pdf(await asyncio.to_thread(mission_pdf, report), stem)
    out = mission_out(report)
    if format == "csv":
        return _csv(csv_lines(mission_rows(out)), stem)
    return out


@router.get("/sites/{site_id}", response_model=db_reports.Summary, responses=FORMATS)
async def site_report(
    site_id: Annotated[str, Path(min_length=1, max_length=64)], principal: Viewer,
    conn: ScopedConn,
    t0: PeriodBound, t1: PeriodBound,
    format: FormatQuery = "json",
) -> Any:
    """Report a site over [t0, t1): missions created by state; success rate (completed /
    finished among missions that ended in the period); flight hours (flights of the site's
    vehicles clipped to the period); utilisation (flight hours / (vehicles × period hours));
    flights started, their distance and energy per km (over those with a measured energy);
    charging sessions at the site's stations requested in the period and their queue waits
    (mean, p95, max)."""
    check_range(t0, t1)
    check_site(principal, "viewer", site_id, f"site {site_id!r}")
    if site_id not in await run_db(conn, db_reports.visible_sites):
        raise HTTPException(404, f"site {site_id!r} does not exist")
    s = await run_db(conn, lambda c: db_reports.summary(c, t0, t1, [site_id]))
    stem = f"site_{site_id}_{_stamp(s.t0)}_{_stamp(s.t1)}"
    if format == "pdf":
        return _pdf(await asyncio.to_thread(summary_pdf, f"Site {site_id}", s), stem)
    if format == "csv":
        return _csv(csv_lines(summary_rows([s])), stem)
    return s


@router.get("/organisation", response_model=OrganisationOut, responses=FORMATS)
async def organisation_report(
    principal: Viewer, conn: ScopedConn, t0: PeriodBound, t1: PeriodBound,
    format: FormatQuery = "json",
) -> Any:
    """Report every site the caller may see over [t0, t1) (figures as for one site), and
    the same figures over all of them together (``total``; for a user of every site it also
    counts vehicles and missions without a site)."""
    check_range(t0, t1)
    sites = await run_db(conn, db_reports.visible_sites)

    def summaries(c: Connection) -> list[db_reports.Summary]:
        return [*(db_reports.summary(c, t0, t1, [s]) for s in sites),
                db_reports.summary(c, t0, t1, None)]

    *per_site, total = await run_db(conn, summaries)
    stem = f"organisation_{_stamp(total.t0)}_{_stamp(total.t1)}"
    if format == "pdf":
        return _pdf(await asyncio.to_thread(summary_pdf, "Organisation", total, per_site),
                    stem)
    if format == "csv":
        return _csv(csv_lines(summary_rows([*per_site, total])), stem)
    return OrganisationOut(t0=total.t0, t1=total.t1, total=total, sites=per_site)
