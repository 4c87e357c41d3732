"""All routers of the API under /api/v1 (plus /health and /metrics at the root)."""

from __future__ import annotations

from fastapi import APIRouter

from web_bridge.app import API
from web_bridge.routes import (
    audit,
    auth,
    charging,
    events,
    fleet,
    health,
    ingest,
    keys,
    missions,
    reports,
    sites,
    telemetry,
    users,
    vehicles,
    ws,
    zones,
)

router = APIRouter()
router.include_router(health.router)
for module in (auth, users, sites, vehicles, fleet, zones, charging, missions, telemetry, reports,
               events, audit, keys, ingest, ws):
    router.include_router(module.router, prefix=API)
