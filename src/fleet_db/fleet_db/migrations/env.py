"""Alembic environment: the URL comes from FLEET_DATABASE_URL, the target is fleet_db.models."""

from __future__ import annotations

import os

from alembic import context
from geoalchemy2.alembic_helpers import render_item
from sqlalchemy import create_engine, pool

from fleet_db.migrations import include_object
from fleet_db.models import Base

URL_VARIABLE = "FLEET_DATABASE_URL"


def database_url() -> str:
    """Return FLEET_DATABASE_URL, or fail saying it is missing."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    if not url:
        raise RuntimeError(
            f"{URL_VARIABLE} is not set: export it, e.g. "
            f"{URL_VARIABLE}=postgresql+psycopg://fleet@127.0.0.1:5432/fleet")
    return url


def run_offline() -> None:
    """Emit the SQL without a connection (alembic upgrade --sql)."""
    context.configure(url=database_url(), target_metadata=Base.metadata,
                      literal_binds=True, include_object=include_object,
                      render_item=render_item, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations in one transaction on a fresh connection."""
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          include_object=include_object, render_item=render_item,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
