"""FastAPI dependencies: the bridge, the caller, role checks, rate limits, scoped DB access.

Use the ``Annotated`` aliases in routes::

    async def route(user: Viewer, bridge: BridgeDep) -> ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from web_bridge.app import API, Bridge
from web_bridge.db import scoped
from web_bridge.security import Principal, Role, TokenError, read_token

oauth2 = OAuth2PasswordBearer(tokenUrl=f"{API}/auth/login", auto_error=False)


def get_bridge(request: Request) -> Bridge:
    """Return the running bridge."""
    bridge: Bridge = request.app.state.bridge
    return bridge


BridgeDep = Annotated[Bridge, Depends(get_bridge)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(bridge: Bridge, token: str | None) -> Principal:
    """Return the principal of an access token; raise 401 naming the problem."""
    if not token:
        raise _unauthorized("not authenticated: send Authorization: Bearer <access token>")
    try:
        principal = read_token(bridge.settings.jwt_secret.get_secret_value(), token)
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None
    if await bridge.redis.token_revoked(principal.token_id, principal.user_id,
                                        principal.issued_at):
        raise _unauthorized("token was revoked (logged out, or the account changed)")
    return principal


async def rate_limit(bridge: Bridge, bucket: str, limit: int, window_s: int = 60) -> None:
    """Raise 429 with Retry-After when ``bucket`` is over ``limit`` in its window."""
    wait = await bridge.redis.hit(bucket, limit, window_s)
    if wait is not None:
        raise HTTPException(429, f"rate limit of {limit} requests per {window_s} s reached "
                                 f"for {bucket.split(':', 1)[0]}",
                            headers={"Retry-After": str(int(wait))})


async def current_principal(request: Request, bridge: BridgeDep,
                            token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    """Authenticate the request and count it against the user's and the address's limits."""
    address = request.client.host if request.client else "unknown"
    principal = await authenticate(bridge, token)
    request.state.principal = principal
    await rate_limit(bridge, f"user:{principal.user_id}", bridge.settings.rate_limit_per_minute)
    await rate_limit(bridge, f"ip:{address}", bridge.settings.rate_limit_per_minute * 4)
    return principal


def require(role: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Return a dependency that admits users holding ``role`` at some site."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not any(principal.can(role, g.site_id) for g in principal.grants):
            raise HTTPException(403, f"this needs the {role} role; {principal.username} is "
                                     f"{principal.top_role or 'without a role'}")
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def check_site(principal: Principal, role: Role, site_id: str | None, what: str) -> None:
    """Raise 403 unless ``principal`` holds ``role`` at ``site_id`` (``what`` names the object).

    Objects of sites the user cannot even see answer 404, so ids of other sites do not leak.
    """
    if not principal.sees(site_id):
        raise HTTPException(404, f"{what} does not exist")
    if not principal.can(role, site_id):
        raise HTTPException(403, f"{what} is at site {site_id or '(none)'}, where "
                                 f"{principal.username} is not {role}")


async def scoped_conn(bridge: BridgeDep, principal: Annotated[Principal,
                                                                Depends(current_principal)]
                      ) -> AsyncIterator[AsyncConnection]:
    """Yield a transaction that sees only the caller's sites (row-level security)."""
    async with scoped(bridge.engine, principal, bridge.settings.db_role) as conn:
        yield conn


ScopedConn = Annotated[AsyncConnection, Depends(scoped_conn)]
