"""The demo's login: a user made for one run of the demo and removed when it stops.

Made with web_bridge's own account code (the same as ``python -m web_bridge.admin``), marked
as the demo's by its display name, so a demo killed before it could clean up is cleaned up by
the next one, and a real user who happens to be called ``demo`` is never touched.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from dataclasses import dataclass

from sqlalchemy import delete, select

from fleet_db.models import User
from web_bridge import accounts
from web_bridge.db import make_async_engine, system
from web_bridge.security import Grant, Passwords, Role

DEMO_MARK = "demo login (removed when the demo stops)"
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class DemoLogin:
    """A user name and its password, shown once."""

    username: str
    password: str
    user_id: int
    site_id: str | None  # None: every site


def new_password() -> str:
    """A random password that is easy to type: ``abcd-efgh-ijkl`` (62 bits)."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))


async def _create(url: str, username: str, role: Role, site_id: str | None,
                  passwords: Passwords) -> DemoLogin:
    engine = make_async_engine(url, pool_size=1, max_overflow=0)
    try:
        async with system(engine) as conn:
            # A demo killed by SIGKILL left its login behind: that one goes.
            await conn.execute(delete(User).where(User.username == username,
                                                  User.display_name == DEMO_MARK))
            name = username
            if await accounts.find_user(conn, username=name) is not None:
                name = f"{username}-{secrets.token_hex(2)}"  # someone's real account
            password = new_password()
            user_id = await accounts.create_user(conn, name, passwords.hash(password),
                                                 (Grant(role, site_id),),
                                                 display_name=DEMO_MARK)
    finally:
        await engine.dispose()
    return DemoLogin(name, password, user_id, site_id)


async def _remove(url: str, login: DemoLogin) -> None:
    engine = make_async_engine(url, pool_size=1, max_overflow=0)
    try:
        async with system(engine) as conn:
            # Its refresh tokens and grants go with it; audit entries keep its name.
            await conn.execute(delete(User).where(User.id == login.user_id,
                                                  User.display_name == DEMO_MARK))
    finally:
        await engine.dispose()


async def _exists(url: str, login: DemoLogin) -> bool:
    engine = make_async_engine(url, pool_size=1, max_overflow=0)
    try:
        async with system(engine) as conn:
            found = await conn.scalar(select(User.id).where(User.id == login.user_id))
    finally:
        await engine.dispose()
    return found is not None


def create_demo_login(url: str, site_id: str | None, *, username: str = "demo",
                      role: Role = "operator", passwords: Passwords | None = None) -> DemoLogin:
    """Create the demo's user with ``role`` at ``site_id`` and a new random password."""
    return asyncio.run(_create(url, username, role, site_id, passwords or Passwords()))


def remove_demo_login(url: str, login: DemoLogin) -> None:
    """Delete the demo's user (nothing else of the same name)."""
    asyncio.run(_remove(url, login))


def demo_login_exists(url: str, login: DemoLogin) -> bool:
    """Whether the demo's user is still in the database."""
    return asyncio.run(_exists(url, login))
