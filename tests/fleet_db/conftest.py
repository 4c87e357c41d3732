"""Database fixtures of the fleet_db tests: the real PostgreSQL + PostGIS, rolled back per test.

``db_url`` names the test database (FLEET_TEST_DATABASE_URL, default the local fleet_test);
the session brings it to the newest migration once. ``db_conn`` is a Connection inside a
transaction that is rolled back after the test: code under test may open savepoints
(``conn.begin_nested()``) but must not commit the connection it is given.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from fleet_db.db import make_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = REPO_ROOT / "alembic.ini"
DEFAULT_TEST_URL = "postgresql+psycopg://fleet@127.0.0.1:5432/fleet_test"


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    """Run ``alembic upgrade`` (or ``downgrade``) on ``url`` in this process."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    previous = os.environ.get("FLEET_DATABASE_URL")
    os.environ["FLEET_DATABASE_URL"] = url
    try:
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)
    finally:
        if previous is None:
            del os.environ["FLEET_DATABASE_URL"]
        else:
            os.environ["FLEET_DATABASE_URL"] = previous


@contextlib.contextmanager
def scratch_database(db_url: str, name: str) -> Iterator[str]:
    """Yield the URL of a brand-new database ``name`` with PostGIS, owned by ``db_url``'s
    role (created by the superuser $FLEET_DB_SUPERUSER, default postgres); dropped after."""
    url = make_url(db_url)
    superuser = os.environ.get("FLEET_DB_SUPERUSER", "postgres")
    admin = create_engine(url.set(username=superuser, password=None, database="postgres"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"drop database if exists {name} with (force)"))
        conn.execute(text(f'create database {name} owner "{url.username}"'))
    ext = create_engine(url.set(username=superuser, password=None, database=name),
                        isolation_level="AUTOCOMMIT")
    with ext.connect() as conn:
        conn.execute(text("create extension postgis"))
    ext.dispose()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"drop database if exists {name} with (force)"))
        admin.dispose()


@pytest.fixture(scope="session")
def db_url() -> str:
    """Return the URL of the test database."""
    return os.environ.get("FLEET_TEST_DATABASE_URL", DEFAULT_TEST_URL)


@pytest.fixture(scope="session")
def db_engine(db_url: str) -> Iterator[Engine]:
    """Yield an engine on the test database, migrated to head once per session."""
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db_conn(db_engine: Engine) -> Iterator[Connection]:
    """Yield a connection in a transaction that is rolled back after the test."""
    with db_engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture
def db_session(db_conn: Connection) -> Iterator[Session]:
    """Yield an ORM session on ``db_conn``; its commits become savepoints, rolled back too."""
    with Session(bind=db_conn, join_transaction_mode="create_savepoint") as session:
        yield session
