"""The bridge's database access: one async engine, and transactions scoped to a user's sites.

``scoped`` runs a transaction as the row-level-security role (``SET LOCAL ROLE fleet_web``)
with the caller's sites in transaction-local settings, so PostgreSQL itself hides other
sites' rows (migration 0005). ``system`` is the owner's transaction, for the account tables
(users, tokens, keys, audit), which carry no site.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from fleet_db.db import database_url
from web_bridge.security import Principal

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def make_async_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10,
                      statement_timeout_ms: int = 15_000) -> AsyncEngine:
    """Return an async engine (psycopg 3) with a statement timeout and UTC sessions."""
    parsed = database_url(url)
    if parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_async_engine(
        parsed, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True,
        pool_recycle=1800, pool_timeout=5.0,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c statement_timeout={statement_timeout_ms} -c timezone=UTC",
            "application_name": "fleet-web-bridge",
        })


@asynccontextmanager
async def system(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Yield a connection in a transaction as the owner (account tables only)."""
    async with engine.begin() as conn:
        yield conn


@asynccontextmanager
async def scoped(engine: AsyncEngine, principal: Principal,
                 role: str = "fleet_web") -> AsyncIterator[AsyncConnection]:
    """Yield a connection in a transaction that sees only ``principal``'s sites."""
    if not _IDENTIFIER.match(role):
        raise ValueError(f"database role {role!r} is not a plain identifier")
    sites = principal.sites()
    async with engine.begin() as conn:
        await conn.execute(text(f"set local role {role}"))
        await conn.execute(
            text("select set_config('fleet.sites', :sites, true), "
                 "set_config('fleet.all_sites', :all, true)"),
            {"sites": ",".join(sorted(sites or ())), "all": "on" if sites is None else "off"})
        yield conn
