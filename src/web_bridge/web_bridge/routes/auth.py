"""Routes: login (OAuth2 password form), refresh (rotating, reuse-detecting), logout, me,
and the short-lived WebSocket ticket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from web_bridge import accounts
from web_bridge.app import API, audit_info
from web_bridge.db import system
from web_bridge.deps import BridgeDep, Viewer, current_principal, rate_limit
from web_bridge.schemas import ERRORS
from web_bridge.security import Principal, issue_token

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERRORS)
REFRESH_COOKIE = "fleet_refresh"


class TokenAnswer(BaseModel):
    """A new access token (the refresh token travels in an httpOnly cookie, and here for
    clients that are not browsers)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str


class RefreshBody(BaseModel):
    """A refresh token given in the body (non-browser clients); browsers send the cookie."""

    refresh_token: str | None = Field(None, min_length=10, max_length=200)


class GrantOut(BaseModel):
    """A role at a site (``site_id`` null: every site)."""

    role: str
    site_id: str | None


class Me(BaseModel):
    """The caller."""

    user_id: int
    username: str
    grants: list[GrantOut]
    sites: list[str] | None = Field(description="sites visible; null means every site")
    expires_at: float


class Ticket(BaseModel):
    """A single-use-window ticket for opening the WebSocket (``?ticket=``)."""

    ticket: str
    expires_in: int


def _tokens(bridge: BridgeDep, principal: Principal, refresh: str,
            response: Response) -> TokenAnswer:
    s = bridge.settings
    access, _, _ = issue_token(s.jwt_secret.get_secret_value(), principal.user_id,
                               principal.username, principal.grants, s.access_token_ttl_s)
    response.set_cookie(REFRESH_COOKIE, refresh, max_age=s.refresh_token_ttl_s, httponly=True,
                        secure=s.cookie_secure, samesite="strict", path=f"{API}/auth")
    return TokenAnswer(access_token=access, expires_in=s.access_token_ttl_s,
                       refresh_token=refresh)


@router.post("/login", response_model=TokenAnswer)
async def login(request: Request, response: Response, bridge: BridgeDep,
                form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenAnswer:
    """Exchange a username and password for an access token and a refresh token."""
    address = request.client.host if request.client else "unknown"
    await rate_limit(bridge, f"login:{address}", bridge.settings.login_rate_limit_per_minute)
    audit_info(request, action="login", target_type="user", target_id=form.username)
    async with system(bridge.engine) as conn:
        user = await accounts.find_user(conn, username=form.username)
    # The hash is checked even for an unknown user, so timing does not tell which names exist.
    ok = bridge.passwords.verify(user.password_hash if user else None, form.password)
    if user is None or not ok or not user.is_active:
        raise HTTPException(401, "wrong username or password, or the account is disabled",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = user.principal()
    request.state.principal = principal
    async with system(bridge.engine) as conn:
        refresh = await accounts.issue_refresh(conn, user.id, bridge.settings.refresh_token_ttl_s,
                                               remote_addr=address)
    return _tokens(bridge, principal, refresh, response)


@router.post("/refresh", response_model=TokenAnswer)
async def refresh(request: Request, response: Response, bridge: BridgeDep,
                  body: RefreshBody | None = None,
                  fleet_refresh: Annotated[str | None, Cookie()] = None) -> TokenAnswer:
    """Rotate the refresh token (cookie or body) and return a new access token.

    Presenting a token that was already used revokes every token of its login: whoever
    replayed it, thief or victim, must log in again.
    """
    token = (body.refresh_token if body else None) or fleet_refresh
    if not token:
        raise HTTPException(401, "no refresh token: send the fleet_refresh cookie or "
                                 "{\"refresh_token\": ...}")
    address = request.client.host if request.client else None
    audit_info(request, action="refresh")
    refused: accounts.RefreshRefusedError | None = None
    async with system(bridge.engine) as conn:
        # Caught inside the transaction, so that a replay's family revocation commits.
        try:
            user_id, successor = await accounts.rotate_refresh(
                conn, token, bridge.settings.refresh_token_ttl_s, address)
            user = await accounts.find_user(conn, user_id=user_id)
        except accounts.RefreshRefusedError as exc:
            refused = exc
    if refused is not None:
        if refused.reused and refused.user_id is not None:
            await bridge.redis.void_user_tokens(refused.user_id,
                                                bridge.settings.access_token_ttl_s)
            audit_info(request, target_type="user", target_id=str(refused.user_id),
                       reuse_detected=True)
        response.delete_cookie(REFRESH_COOKIE, path=f"{API}/auth")
        raise HTTPException(401, str(refused), headers={"WWW-Authenticate": "Bearer"})
    if user is None or not user.is_active:
        raise HTTPException(401, "the account is disabled")
    principal = user.principal()
    request.state.principal = principal
    return _tokens(bridge, principal, successor, response)


@router.post("/logout", status_code=204)
async def logout(request: Request, bridge: BridgeDep,
                 principal: Annotated[Principal, Depends(current_principal)],
                 body: RefreshBody | None = None,
                 fleet_refresh: Annotated[str | None, Cookie()] = None) -> Response:
    """Revoke this access token and the refresh token's login."""
    audit_info(request, action="logout", target_type="user", target_id=str(principal.user_id))
    await bridge.redis.revoke_token(principal.token_id, principal.expires_at)
    token = (body.refresh_token if body else None) or fleet_refresh
    if token:
        async with system(bridge.engine) as conn:
            await accounts.revoke_refresh(conn, token)
    response = Response(status_code=204)
    response.delete_cookie(REFRESH_COOKIE, path=f"{API}/auth")
    return response


@router.get("/me", response_model=Me)
async def me(principal: Viewer) -> Me:
    """Return who the token belongs to and what it may do."""
    sites = principal.sites()
    return Me(user_id=principal.user_id, username=principal.username,
              grants=[GrantOut(role=g.role, site_id=g.site_id) for g in principal.grants],
              sites=None if sites is None else sorted(sites), expires_at=principal.expires_at)


@router.post("/ws-ticket", response_model=Ticket)
async def ws_ticket(principal: Viewer, bridge: BridgeDep) -> Ticket:
    """Return a short-lived token for opening ``/api/v1/ws?ticket=...`` (browsers cannot set
    headers on a WebSocket)."""
    s = bridge.settings
    ticket, _, _ = issue_token(s.jwt_secret.get_secret_value(), principal.user_id,
                               principal.username, principal.grants, s.ws_ticket_ttl_s,
                               kind="ws")
    return Ticket(ticket=ticket, expires_in=s.ws_ticket_ttl_s)
