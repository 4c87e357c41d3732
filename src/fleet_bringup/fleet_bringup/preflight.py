"""What the demo needs before it starts, each found or named with the command that fixes it:
PostgreSQL with the fleet database migrated, Redis, and the built dashboard."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import redis
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import fleet_db
from fleet_db.db import FleetDbError, database_url, make_engine, safe_url

MIGRATIONS = Path(fleet_db.__file__).resolve().parent / "migrations"
SETUP_DB = "run `make setup` (it provisions and migrates the database)"
START_POSTGRES = f"{SETUP_DB} or `sudo service postgresql start`"
START_REDIS = "start it with `sudo service redis-server start` (or `redis-server --daemonize yes`)"


@dataclass(frozen=True)
class Missing:
    """Something the demo needs and did not find, and the command that provides it."""

    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what}: {self.fix}"


def _reachable(host: str, port: int, timeout_s: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def check_database(url: str) -> Missing | None:
    """Find the fleet database at ``url``, reachable and migrated to the newest revision."""
    try:
        parsed = database_url(url)
    except FleetDbError as exc:
        return Missing(str(exc), "set FLEET_DATABASE_URL to a postgresql URL")
    host, port = parsed.host or "127.0.0.1", parsed.port or 5432
    if parsed.host is not None and not _reachable(host, port):
        return Missing(f"PostgreSQL is not reachable at {host}:{port}", START_POSTGRES)
    try:
        engine = make_engine(url, pool_size=1, max_overflow=0, connect_timeout_s=3)
    except FleetDbError as exc:
        return Missing(str(exc).split(" (set ")[0], SETUP_DB)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("select version_num from alembic_version")).scalar()
    except DBAPIError:
        version = None
    finally:
        engine.dispose()
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    if version not in heads:
        where = "has no schema" if version is None else f"is at migration {version}"
        return Missing(f"the database {safe_url(parsed)} {where}, the code needs "
                       f"{', '.join(heads)}", SETUP_DB)
    return None


def check_redis(url: str) -> Missing | None:
    """Find Redis at ``url`` answering a PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    kw = client.connection_pool.connection_kwargs
    where = kw.get("path") or f"{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}"
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        return Missing(f"Redis at {where} refused the login ({exc})",
                       "set FLEET_REDIS_URL with the right password")
    except redis.RedisError:
        return Missing(f"Redis is not reachable at {where}", START_REDIS)
    finally:
        client.close()
    return None


def check_dashboard(web_dir: Path | None) -> Missing | None:
    """Find the built dashboard (web/dist/index.html)."""
    if web_dir is None:
        return Missing("FLEET_WEB_DIR is not set, so no dashboard would be served",
                       "run the demo with `make demo` (scripts/env.sh sets it)")
    if not (web_dir / "index.html").is_file():
        return Missing(f"the dashboard is not built ({web_dir}/index.html is missing)",
                       "run `make setup` (it builds web/dist)")
    return None


def missing(database: str, redis_url: str, web_dir: Path | None) -> list[Missing]:
    """Everything the demo needs and did not find (empty: all there)."""
    found = (check_database(database), check_redis(redis_url), check_dashboard(web_dir))
    return [m for m in found if m is not None]
