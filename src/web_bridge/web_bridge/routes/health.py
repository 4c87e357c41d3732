"""Routes: /health (graph, database, Redis, each with its state) and /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import text

from web_bridge.deps import BridgeDep

router = APIRouter(tags=["health"])


class Component(BaseModel):
    """One dependency's state: ok, degraded or down, with why."""

    state: str
    detail: str = ""


class Health(BaseModel):
    """The bridge's health: ``ok`` only when every component is ok."""

    state: str
    instance: str
    uptime_s: float
    components: dict[str, Component]


@router.get("/health", response_model=Health)
async def health(bridge: BridgeDep, response: Response) -> Health:
    """Report the graph, the database and Redis; 503 only when the database is down."""
    components: dict[str, Component] = {}
    try:
        async with asyncio.timeout(2.0), bridge.engine.connect() as conn:
            await conn.execute(text("select 1"))
        components["database"] = Component(state="ok")
    except Exception as exc:
        components["database"] = Component(state="down", detail=str(exc).splitlines()[0][:200])
    ok = await bridge.redis.ping()
    bridge.metrics.redis_up.set(1 if ok else 0)
    components["redis"] = Component(
        state="ok" if ok else "down",
        detail="" if ok else f"{bridge.redis.last_error}; live fan-out between instances, "
                             "rate limits and token revocation are paused")
    pic = bridge.picture
    if bridge.ros is None:
        components["graph"] = Component(state="down", detail="no ROS node in this process")
    else:
        age = None if pic.fleet_received is None else time.time() - pic.fleet_received
        if age is None:
            components["graph"] = Component(state="degraded",
                                            detail="no /fleet/status received yet")
        elif age > 5.0:
            components["graph"] = Component(state="degraded",
                                            detail=f"/fleet/status is {age:.0f} s old")
        else:
            components["graph"] = Component(
                state="ok", detail=f"{len(pic.vehicles)} vehicles, {len(pic.missions)} missions")
    states = {c.state for c in components.values()}
    overall = "ok" if states == {"ok"} else "degraded"
    if components["database"].state == "down":
        overall = "down"
        response.status_code = 503
    return Health(state=overall, instance=bridge.settings.instance_id,
                  uptime_s=round(time.time() - bridge.started, 1), components=components)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def metrics(bridge: BridgeDep) -> Response:
    """Prometheus text exposition of this instance."""
    return Response(bridge.metrics.render(),
                    media_type="text/plain; version=0.0.4; charset=utf-8")
