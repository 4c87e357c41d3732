"""Engine construction and the package's error types.

The engine is created by whoever owns the process's lifetime (a node's configure step, the
web bridge's lifespan, a test fixture), never at import time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from psycopg.abc import PQGen
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

_RV = TypeVar("_RV")

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


class ReplyTimeoutError(psycopg.OperationalError):
    """The database sent no reply within the client's deadline; the connection was closed."""


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server ends within ``reply_timeout_s``.

    ``statement_timeout`` is the server's: it does nothing when the server never sees the
    statement (a hung network path, a proxy or a load balancer that accepts and forwards
    nothing, a frozen server). TCP keepalives and ``tcp_user_timeout`` do nothing either when
    something in between acknowledges for the server. So the client bounds each round trip
    itself: psycopg runs every query, COPY and commit through :meth:`wait`, and a wait that
    expires closes the connection (its protocol state is unknown: it must never be reused)
    and raises :class:`ReplyTimeoutError`. ``timed_out`` then says what happened, for a log
    line that would otherwise only read "the connection is closed" from a later rollback.
    Not for LISTEN: ``notifies()`` without a timeout would be cut at the deadline too.
    """

    reply_timeout_s: float = 60.0
    timed_out: str | None = None

    def wait(self, gen: PQGen[_RV], interval: float = 0.1,
             timeout: float | None = None) -> _RV:
        if timeout is not None:  # the caller bounds this wait itself
            return super().wait(gen, interval, timeout)
        limit = self.reply_timeout_s
        start = time.monotonic()
        try:
            return super().wait(gen, interval, limit)
        except psycopg.OperationalError as exc:
            if time.monotonic() - start < limit:
                raise  # a real error from the server or the socket, not the deadline
            self.timed_out = (f"no reply from the database within {limit:g} s; "
                              "connection abandoned")
            self.close()
            raise ReplyTimeoutError(self.timed_out) from exc


def bound_round_trips(engine: Engine, reply_timeout_s: float) -> None:
    """Make every connection ``engine`` opens a :class:`BoundedConnection` with this bound."""
    if not reply_timeout_s > 0:
        raise InvalidArgumentError(f"reply_timeout_s {reply_timeout_s} must be > 0")

    @event.listens_for(engine, "do_connect")
    def connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> BoundedConnection:
        conn = BoundedConnection.connect(*cargs, **cparams)
        conn.reply_timeout_s = reply_timeout_s
        return conn


def keepalive_args(connect_timeout_s: int) -> dict[str, int]:
    """libpq arguments that fail a connection to a silently dead peer within seconds.

    Keepalives find a peer that stopped answering while idle; ``tcp_user_timeout`` one that
    stopped acknowledging what was sent. Neither finds a peer that acknowledges and never
    replies: :class:`BoundedConnection` does.
    """
    return {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
            "keepalives_count": 3, "tcp_user_timeout": connect_timeout_s * 1000}


def make_engine(url: str | None = None, *, pool_size: int = 5, max_overflow: int = 5,
                statement_timeout_ms: int = 30_000, connect_timeout_s: int = 5,
                reply_timeout_s: float | None = None, check: bool = True,
                **kwargs: Any) -> Engine:
    """Return an engine for ``url`` (default: $FLEET_DATABASE_URL, else the local database).

    Every connection gets ``statement_timeout`` so that no query can hang a caller, and
    ``timezone = UTC`` so that timestamps come back in UTC. The client bounds its side too:
    connecting within ``connect_timeout_s``, TCP keepalives, and every round trip within
    ``reply_timeout_s`` (default: the statement timeout plus the connect timeout, so that
    the server has the first word on a slow statement; see :class:`BoundedConnection`).
    With ``check`` one connection is opened at once, so an unreachable database fails here
    with a message naming the URL rather than on first use.
    """
    if statement_timeout_ms <= 0:
        raise InvalidArgumentError(f"statement_timeout_ms {statement_timeout_ms} must be > 0")
    if connect_timeout_s <= 0:
        raise InvalidArgumentError(f"connect_timeout_s {connect_timeout_s} must be > 0")
    if reply_timeout_s is None:
        reply_timeout_s = statement_timeout_ms / 1000 + connect_timeout_s
    elif not reply_timeout_s > 0:
        raise InvalidArgumentError(f"reply_timeout_s {reply_timeout_s} must be > 0")
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
            **keepalive_args(connect_timeout_s),
        },
        **kwargs,
    )
    bound_round_trips(engine, reply_timeout_s)
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
