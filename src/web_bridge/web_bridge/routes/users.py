"""Routes: users and their roles per site (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from web_bridge import accounts
from web_bridge.app import audit_info
from web_bridge.db import system
from web_bridge.deps import Admin, BridgeDep
from web_bridge.routes.auth import GrantOut
from web_bridge.schemas import ERRORS
from web_bridge.security import Grant, Role, check_password_strength

router = APIRouter(prefix="/users", tags=["users"], responses=ERRORS)
USERNAME = r"^[A-Za-z0-9_.@-]{1,64}$"


class GrantIn(BaseModel):
    """A role at a site; ``site_id`` null grants it at every site."""

    model_config = ConfigDict(extra="forbid")
    role: Role
    site_id: str | None = Field(None, min_length=1, max_length=64)


class UserIn(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME)
    password: str = Field(min_length=10, max_length=200)
    display_name: str | None = Field(None, max_length=200)
    grants: list[GrantIn] = Field(default_factory=list, max_length=100)

    @field_validator("password")
    @classmethod
    def _strong(cls, value: str) -> str:
        check_password_strength(value)
        return value


class UserPatch(BaseModel):
    """Changes to a user; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(None, min_length=10, max_length=200)
    display_name: str | None = Field(None, max_length=200)
    is_active: bool | None = None
    grants: list[GrantIn] | None = Field(None, max_length=100)


class UserOut(BaseModel):
    """A user and its grants (never its password hash)."""

    id: int
    username: str
    display_name: str | None
    is_active: bool
    grants: list[GrantOut]


def _out(user: accounts.UserRecord) -> UserOut:
    return UserOut(id=user.id, username=user.username, display_name=user.display_name,
                   is_active=user.is_active,
                   grants=[GrantOut(role=g.role, site_id=g.site_id) for g in user.grants])


def _admin_everywhere(principal: Admin) -> None:
    # Users and their grants span sites: only an all-sites admin manages them.
    if not principal.can("admin", None):
        raise HTTPException(403, "managing users needs the admin role at every site")


@router.get("", response_model=list[UserOut])
async def list_users(principal: Admin, bridge: BridgeDep) -> list[UserOut]:
    """List every user with their grants."""
    _admin_everywhere(principal)
    async with system(bridge.engine) as conn:
        return [_out(u) for u in await accounts.list_users(conn)]


@router.post("", response_model=UserOut, status_code=201)
async def create_user(body: UserIn, request: Request, principal: Admin,
                      bridge: BridgeDep) -> UserOut:
    """Create a user with grants."""
    _admin_everywhere(principal)
    audit_info(request, target_type="user", target_id=body.username,
               grants=[g.model_dump() for g in body.grants])
    grants = tuple(Grant(g.role, g.site_id) for g in body.grants)
    async with system(bridge.engine) as conn:
        user_id = await accounts.create_user(conn, body.username,
                                             bridge.passwords.hash(body.password), grants,
                                             body.display_name)
        user = await accounts.find_user(conn, user_id=user_id)
    assert user is not None
    return _out(user)


@router.patch("/{user_id}", response_model=UserOut)
async def update_user(user_id: Annotated[int, Path(ge=1, le=2**62)], body: UserPatch,
                      request: Request, principal: Admin, bridge: BridgeDep) -> UserOut:
    """Change a user's password, name, activity or grants; their sessions end when any of
    password, activity or grants change."""
    _admin_everywhere(principal)
    audit_info(request, target_type="user", target_id=str(user_id),
               changed=sorted(body.model_dump(exclude_none=True, exclude={"password"}))
               + (["password"] if body.password else []))
    if body.password is not None:
        try:
            check_password_strength(body.password)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
    async with system(bridge.engine) as conn:
        if await accounts.find_user(conn, user_id=user_id) is None:
            raise HTTPException(404, f"user {user_id} does not exist")
        await accounts.update_user(
            conn, user_id, is_active=body.is_active, display_name=body.display_name,
            password_hash=bridge.passwords.hash(body.password) if body.password else None)
        if body.grants is not None:
            await accounts.set_grants(conn, user_id,
                                      tuple(Grant(g.role, g.site_id) for g in body.grants))
        ends_sessions = body.password is not None or body.is_active is not None \
            or body.grants is not None
        if ends_sessions:
            await accounts.revoke_user_tokens(conn, user_id)
        user = await accounts.find_user(conn, user_id=user_id)
    if ends_sessions:
        await bridge.redis.void_user_tokens(user_id, bridge.settings.access_token_ttl_s)
    assert user is not None
    return _out(user)
