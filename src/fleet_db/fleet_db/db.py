"""Engine construction and the package's error types.

The engine is created by whoever owns the process's lifetime (a node's configure step, the
web bridge's lifespan, a test fixture), never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

URL_VARIABLE = "FLEET_DATABASE_URL"
DEFAULT_URL = "postgresql+psycopg://fleet@127.0.0.1:5432/fleet"


class FleetDbError(Exception):
    """Base of every error fleet_db raises on purpose."""


class InvalidArgumentError(FleetDbError, ValueError):
    """An argument given to a fleet_db function is out of range or malformed."""


class DatabaseUnavailableError(FleetDbError, ConnectionError):
    """The database cannot be reached; the message names the URL (never its password)."""


class NotFoundError(FleetDbError, LookupError):
    """A row that the caller named does not exist."""


def aware_utc(value: object, what: str) -> datetime:
    """Return ``value`` in UTC; raise InvalidArgumentError naming ``what`` unless it is an
    aware datetime (a naive time would be read in the server's or the caller's zone)."""
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{what} {value!r} is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(f"{what} {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def database_url(url: str | None = None) -> URL:
    """Return ``url``, else $FLEET_DATABASE_URL, else the local default, parsed."""
    raw = url if url is not None else os.environ.get(URL_VARIABLE) or DEFAULT_URL
    try:
        parsed = make_url(raw)
    except ArgumentError as exc:
        # The raw string may hold a password, so only its scheme is echoed.
        scheme = raw.split(":", 1)[0]
        raise InvalidArgumentError(
            f"database URL with scheme {scheme!r} is malformed; expected e.g. {DEFAULT_URL}"
        ) from exc
    if not parsed.drivername.startswith("postgresql"):
        raise InvalidArgumentError(
            f"database URL {safe_url(parsed)} is not PostgreSQL; expected e.g. {DEFAULT_URL}")
    return parsed


def safe_url(url: URL | str) -> str:
    """Return the URL as text with any password masked."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


# The name the telemetry recorder uses.
redact_url = safe_url


def make_engine(url: str | None = None, *, pool_size: int = 5, max_overflow: int = 5,
                statement_timeout_ms: int = 30_000, connect_timeout_s: int = 5,
                check: bool = True, **kwargs: Any) -> Engine:
    """Return an engine for ``url`` (default: $FLEET_DATABASE_URL, else the local database).

    Every connection gets ``statement_timeout`` so that no query can hang a caller, and
    ``timezone = UTC`` so that timestamps come back in UTC. With ``check`` one connection is
    opened at once, so an unreachable database fails here with a message naming the URL
    rather than on first use.
    """
    if statement_timeout_ms <= 0:
        raise InvalidArgumentError(f"statement_timeout_ms {statement_timeout_ms} must be > 0")
    if connect_timeout_s <= 0:
        raise InvalidArgumentError(f"connect_timeout_s {connect_timeout_s} must be > 0")
    parsed = database_url(url)
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,  # a server restart must not surface as an error on the next query
        pool_recycle=1800,
        connect_args={
            "connect_timeout": connect_timeout_s,
            "options": f"-c statement_timeout={statement_timeout_ms} -c timezone=UTC",
            "application_name": "fleet",
        },
        **kwargs,
    )
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
        except OperationalError as exc:
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseUnavailableError(
                f"cannot connect to the fleet database at {safe_url(parsed)}: {reason} "
                f"(set {URL_VARIABLE}, or start PostgreSQL)") from exc
    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """Yield a connection inside a transaction committed on success, rolled back on error."""
    with engine.begin() as conn:
        yield conn
