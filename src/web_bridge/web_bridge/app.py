"""The FastAPI application: its lifespan owns the engine, Redis and the ROS node.

``create_app(settings)`` builds an app; nothing is opened at import time. Errors of the
bridge's own types become HTTP answers here and only here (see ``_status_of``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException

from web_bridge import accounts
from web_bridge.db import make_async_engine, system
from web_bridge.errors import (
    BridgeError,
    GraphTimeoutError,
    GraphUnavailableError,
    InvalidInputError,
    NotFoundError,
    RefusedError,
)
from web_bridge.live import FleetPicture
from web_bridge.metrics import Metrics
from web_bridge.redis_tier import RedisTier
from web_bridge.security import Passwords, Principal
from web_bridge.settings import Settings

log = logging.getLogger(__name__)
API = "/api/v1"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Bridge:
    """Everything a request may use, opened and closed by the lifespan."""

    settings: Settings
    engine: AsyncEngine
    redis: RedisTier
    picture: FleetPicture
    passwords: Passwords
    metrics: Metrics
    ros: Any = None  # web_bridge.ros.RosLink once started (None: no graph, e.g. a CLI)
    extras: dict[str, Any] = field(default_factory=dict)  # per-feature state (hub, ingest...)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)


# Start/stop hooks of features (the WebSocket hub, the Redis live writer, ingest): each is
# ``async def hook(bridge) -> None``; stop hooks run in reverse order.
StartHook = Callable[[Bridge], Awaitable[None]]
_start_hooks: list[tuple[str, StartHook, StartHook]] = []


_STOP_TIMEOUT_S = 5.0
"""Longest one stop hook, or the cancelled tasks together, may take at shutdown."""


def on_lifespan(name: str, start: StartHook, stop: StartHook) -> None:
    """Register a feature's start and stop hooks (called by the feature's module)."""
    if all(n != name for n, _, _ in _start_hooks):
        _start_hooks.append((name, start, stop))


def _status_of(exc: BridgeError) -> int:
    if isinstance(exc, GraphUnavailableError):
        return 503
    if isinstance(exc, GraphTimeoutError):
        return 504
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, InvalidInputError):
        return 422
    if isinstance(exc, RefusedError):
        return exc.status
    return 400


def create_app(settings: Settings, *, with_ros: bool = True) -> FastAPI:
    """Return the bridge application for ``settings``."""
    from web_bridge import routes  # noqa: PLC0415 - routers import this module's helpers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        bridge = Bridge(
            settings=settings, engine=make_async_engine(settings.database_url),
            redis=RedisTier(settings), picture=FleetPicture(),
            passwords=Passwords(settings.argon2_time_cost, settings.argon2_memory_kib),
            metrics=Metrics())
        app.state.bridge = bridge
        await bridge.redis.ping()
        started: list[tuple[str, StartHook, StartHook]] = []
        try:
            if with_ros:
                from web_bridge.ros import RosLink  # noqa: PLC0415 - rclpy only when wanted
                bridge.ros = await asyncio.to_thread(
                    RosLink, settings, loop, bridge.picture.on_update)
            for hook in list(_start_hooks):
                await hook[1](bridge)
                started.append(hook)
            yield
        finally:
            # Every wait of the shutdown is bounded: one hook or task that does not finish
            # must not keep the ROS link and its threads alive (seen once in CI: the bridge's
            # server thread and its RosGraph still running after the demo stopped).
            for name, _, stop in reversed(started):
                try:
                    await asyncio.wait_for(stop(bridge), _STOP_TIMEOUT_S)
                except TimeoutError:
                    log.error("stopping %s took over %g s; going on", name, _STOP_TIMEOUT_S)
                except Exception:
                    log.exception("stopping %s failed", name)
            for task in bridge.tasks:
                task.cancel()
            if bridge.tasks:
                done, pending = await asyncio.wait(bridge.tasks, timeout=_STOP_TIMEOUT_S)
                for task in done:  # read, so that asyncio does not report them at exit
                    if not task.cancelled():
                        task.exception()
                if pending:
                    log.error("%d tasks still running %g s after their cancel: %s",
                              len(pending), _STOP_TIMEOUT_S,
                              sorted(t.get_name() for t in pending))
            if bridge.ros is not None:
                await asyncio.to_thread(bridge.ros.close)
            await bridge.redis.close()
            await bridge.engine.dispose()

    app = FastAPI(
        title="Fleet web bridge", version="1.0.0", lifespan=lifespan,
        description="REST and WebSocket access to the fleet: live state, missions, zones, "
                    "charging, telemetry, reports, accounts and audit. Authenticate with "
                    "`POST /api/v1/auth/login` (OAuth2 password form) and send "
                    "`Authorization: Bearer <access_token>`.",
        openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)

    @app.exception_handler(BridgeError)
    async def bridge_error(request: Request, exc: BridgeError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=_status_of(exc))

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.orig)
        return JSONResponse({"detail": "the fleet database is unavailable; try again shortly"},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(DBAPIError)
    async def database_refused(request: Request, exc: DBAPIError) -> JSONResponse:
        # A value the database refused (a CHECK, a type): the caller's input, not our bug.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "refused"
        return JSONResponse({"detail": f"the database refused the request: {reason}"},
                            status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Each problem names its place ("body.priority: ...") so a human can fix it.
        errors = jsonable_encoder(exc.errors(), exclude={"input", "ctx", "url"})
        text = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors)
        return JSONResponse({"detail": text or "invalid request", "errors": errors},
                            status_code=422)

    @app.middleware("http")
    async def frame(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                    ) -> Response:
        bridge: Bridge = request.app.state.bridge
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > settings.max_body_bytes
            except ValueError:
                return JSONResponse({"detail": "Content-Length is not a number"},
                                    status_code=400)
            if too_big:
                response: Response = JSONResponse(
                    {"detail": f"body of {length} bytes is over the limit of "
                               f"{settings.max_body_bytes} bytes"}, status_code=413)
                await _audit(request, response.status_code)
                return response
        try:
            response = await call_next(request)
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            bridge.metrics.observe(request.method, path, time.perf_counter() - started)
        bridge.metrics.count_status(request.method, path, response.status_code)
        audited = request.method in STATE_CHANGING or response.status_code in (401, 403, 429)
        if audited and not request.url.path.startswith(f"{API}/ingest"):  # audited per batch
            await _audit(request, response.status_code)
        return response

    app.include_router(routes.router)
    from web_bridge.dashboard import mount_dashboard  # noqa: PLC0415 (imports this module)
    mount_dashboard(app, settings)  # last: its catch-all must not shadow the API
    return app


async def _audit(request: Request, status_code: int) -> None:
    """Write the audit entry of one request (who, role, what, target, where, result)."""
    bridge: Bridge = request.app.state.bridge
    principal: Principal | None = getattr(request.state, "principal", None)
    info: dict[str, Any] = getattr(request.state, "audit", {})
    result = "allowed" if status_code < 400 else (
        "refused" if status_code in (401, 403, 404, 409, 413, 422, 429) else "failed")
    route = request.scope.get("route")
    action = info.get("action") or f"{request.method} {getattr(route, 'path', request.url.path)}"
    try:
        async with system(bridge.engine) as conn:
            await accounts.audit(
                conn, action=action, result=result, status_code=status_code,
                principal=principal, method=request.method,
                target_type=info.get("target_type"), target_id=info.get("target_id"),
                site_id=info.get("site_id"),
                remote_addr=request.client.host if request.client else None,
                details=info.get("details"))
    except (DBAPIError, OSError) as exc:
        # The request already happened; losing its audit line must at least be loud.
        bridge.metrics.audit_failures += 1
        log.error("audit entry of %s (%s) not written: %s", action, status_code, exc)


def audit_info(request: Request, *, target_type: str | None = None,
               target_id: str | None = None, site_id: str | None = None,
               action: str | None = None, **details: Any) -> None:
    """Describe the current request for its audit entry (called by routes)."""
    info = getattr(request.state, "audit", None) or {}
    info.update({k: v for k, v in {"target_type": target_type, "target_id": target_id,
                                   "site_id": site_id, "action": action}.items()
                 if v is not None})
    if details:
        info.setdefault("details", {}).update(jsonable_encoder(details))
    request.state.audit = info


__all__ = ["API", "Bridge", "StarletteHTTPException", "audit_info", "create_app",
           "on_lifespan"]
