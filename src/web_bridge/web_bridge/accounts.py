"""Users, grants, refresh-token families, API keys and the audit log in PostgreSQL.

Plain async functions over an AsyncConnection (the caller owns the transaction); they return
domain values (security.Grant, Principal) or dicts, never ORM rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fleet_db.models import ApiKey, AuditEntry, RefreshToken, Role, Site, User
from web_bridge.errors import InvalidInputError, NotFoundError
from web_bridge.security import ROLES, Grant, Principal, digest, new_secret


@dataclass(frozen=True)
class UserRecord:
    """A user with its grants."""

    id: int
    username: str
    display_name: str | None
    is_active: bool
    password_hash: str | None
    grants: tuple[Grant, ...]

    def principal(self) -> Principal:
        """Return the principal this user acts as."""
        return Principal(user_id=self.id, username=self.username, grants=self.grants)


async def grants_of(conn: AsyncConnection, user_id: int) -> tuple[Grant, ...]:
    """Return a user's grants, all-sites ones first."""
    rows = await conn.execute(
        select(Role.role, Role.site_id).where(Role.user_id == user_id)
        .order_by(Role.site_id.nulls_first(), Role.role))
    return tuple(Grant(r.role, r.site_id) for r in rows)


async def find_user(conn: AsyncConnection, *, username: str | None = None,
                    user_id: int | None = None) -> UserRecord | None:
    """Return the user named ``username`` (or with ``user_id``), or None."""
    query = select(User.id, User.username, User.display_name, User.is_active,
                   User.password_hash)
    query = query.where(User.username == username) if username is not None \
        else query.where(User.id == user_id)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return UserRecord(row.id, row.username, row.display_name, row.is_active,
                      row.password_hash, await grants_of(conn, row.id))


async def list_users(conn: AsyncConnection) -> list[UserRecord]:
    """Return every user with grants, by name."""
    rows = (await conn.execute(select(User.id).order_by(User.username))).all()
    out = []
    for r in rows:
        user = await find_user(conn, user_id=r.id)
        if user is not None:
            out.append(user)
    return out


async def _check_sites(conn: AsyncConnection, grants: tuple[Grant, ...]) -> None:
    for g in grants:
        if g.role not in ROLES:
            raise InvalidInputError(f"role {g.role!r} is not one of {', '.join(ROLES)}")
        if g.site_id is not None:
            found = await conn.scalar(select(func.count()).select_from(Site)
                                      .where(Site.id == g.site_id))
            if not found:
                raise InvalidInputError(f"site {g.site_id!r} does not exist")


async def create_user(conn: AsyncConnection, username: str, password_hash: str | None,
                      grants: tuple[Grant, ...], display_name: str | None = None) -> int:
    """Insert a user with grants; raise InvalidInputError when the name is taken."""
    await _check_sites(conn, grants)
    try:
        async with conn.begin_nested():
            user_id = await conn.scalar(
                insert(User).values(username=username, password_hash=password_hash,
                                    display_name=display_name).returning(User.id))
    except IntegrityError:
        raise InvalidInputError(f"username {username!r} is taken") from None
    assert user_id is not None
    await set_grants(conn, user_id, grants)
    return int(user_id)


async def set_grants(conn: AsyncConnection, user_id: int, grants: tuple[Grant, ...]) -> None:
    """Replace a user's grants."""
    await _check_sites(conn, grants)
    await conn.execute(delete(Role).where(Role.user_id == user_id))
    for g in dict.fromkeys(grants):
        await conn.execute(insert(Role).values(user_id=user_id, site_id=g.site_id,
                                               role=g.role))


async def update_user(conn: AsyncConnection, user_id: int, *, password_hash: str | None = None,
                      is_active: bool | None = None, display_name: str | None = None) -> None:
    """Change a user's password, activity or display name; raise NotFoundError."""
    values: dict[str, Any] = {}
    if password_hash is not None:
        values["password_hash"] = password_hash
    if is_active is not None:
        values["is_active"] = is_active
    if display_name is not None:
        values["display_name"] = display_name
    if not values:
        return
    result = await conn.execute(update(User).where(User.id == user_id).values(**values))
    if result.rowcount == 0:
        raise NotFoundError(f"user {user_id} does not exist")


# --- refresh tokens ---------------------------------------------------------------------


async def issue_refresh(conn: AsyncConnection, user_id: int, ttl_s: int,
                        family: str | None = None, remote_addr: str | None = None) -> str:
    """Store a new refresh token (in ``family``, or a new one) and return it."""
    token = new_secret()
    await conn.execute(insert(RefreshToken).values(
        user_id=user_id, family=family or new_secret(12), token_hash=digest(token),
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s), remote_addr=remote_addr))
    return token


class RefreshRefusedError(Exception):
    """A refresh token was refused; ``reused`` says a replay revoked its family."""

    def __init__(self, message: str, reused: bool = False, user_id: int | None = None) -> None:
        super().__init__(message)
        self.reused = reused
        self.user_id = user_id


async def rotate_refresh(conn: AsyncConnection, token: str, ttl_s: int,
                         remote_addr: str | None = None) -> tuple[int, str]:
    """Spend ``token`` and return (user id, its successor); raise RefreshRefusedError.

    A token already spent is a replay: its whole family is revoked (the caller commits that
    even though it refuses the request).
    """
    rt = (await conn.execute(
        select(RefreshToken.id, RefreshToken.user_id, RefreshToken.family,
               RefreshToken.revoked_at, RefreshToken.used_at, RefreshToken.expires_at)
        .where(RefreshToken.token_hash == digest(token)).with_for_update())).first()
    if rt is None:
        raise RefreshRefusedError("refresh token is unknown")
    now = datetime.now(UTC)
    if rt.revoked_at is not None:
        raise RefreshRefusedError("refresh token was revoked", user_id=rt.user_id)
    if rt.used_at is not None:
        await revoke_family(conn, rt.family)
        raise RefreshRefusedError(
            "refresh token was already used: every session of this login is revoked",
            reused=True, user_id=rt.user_id)
    if rt.expires_at <= now:
        raise RefreshRefusedError("refresh token has expired", user_id=rt.user_id)
    await conn.execute(update(RefreshToken).where(RefreshToken.id == rt.id).values(used_at=now))
    successor = await issue_refresh(conn, rt.user_id, ttl_s, rt.family, remote_addr)
    return rt.user_id, successor


async def revoke_family(conn: AsyncConnection, family: str) -> None:
    """Revoke every token of a family."""
    await conn.execute(update(RefreshToken).where(
        and_(RefreshToken.family == family, RefreshToken.revoked_at.is_(None)))
        .values(revoked_at=datetime.now(UTC)))


async def revoke_refresh(conn: AsyncConnection, token: str) -> None:
    """Revoke the family of ``token`` (logout); unknown tokens are ignored."""
    family = await conn.scalar(select(RefreshToken.family)
                               .where(RefreshToken.token_hash == digest(token)))
    if family is not None:
        await revoke_family(conn, family)


async def revoke_user_tokens(conn: AsyncConnection, user_id: int) -> None:
    """Revoke every refresh token of a user (deactivation, password or role change)."""
    await conn.execute(update(RefreshToken).where(
        and_(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)))
        .values(revoked_at=datetime.now(UTC)))


# --- audit --------------------------------------------------------------------------------


async def audit(conn: AsyncConnection, *, action: str, result: str, status_code: int,
                principal: Principal | None, method: str | None = None,
                target_type: str | None = None, target_id: str | None = None,
                site_id: str | None = None, remote_addr: str | None = None,
                details: dict[str, Any] | None = None) -> None:
    """Append one entry to the audit log."""
    await conn.execute(insert(AuditEntry).values(
        user_id=principal.user_id if principal and principal.user_id > 0 else None,
        api_key_id=principal.api_key_id if principal else None,
        username=principal.username if principal else None,
        role=principal.top_role if principal else None,
        action=action, result=result, status_code=status_code, method=method,
        target_type=target_type, target_id=target_id, site_id=site_id,
        remote_addr=remote_addr, details=details or {}))


async def api_key_row(conn: AsyncConnection, prefix: str) -> Any:
    """Return the API key row with ``prefix`` (or None)."""
    return (await conn.execute(select(ApiKey).where(ApiKey.prefix == prefix))).first()
