"""The benchmarks' own database, fleet_bench: created (never dropped) and migrated to head."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
HOST = os.environ.get("FLEET_DB_HOST", "127.0.0.1")
PORT = os.environ.get("FLEET_DB_PORT", "5432")
SUPERUSER = os.environ.get("FLEET_DB_SUPERUSER", "postgres")
DATABASE = "fleet_bench"
URL = f"postgresql+psycopg://fleet@{HOST}:{PORT}/{DATABASE}"


def provision() -> None:
    """Create fleet_bench with PostGIS if missing (never drop it) and migrate it to head.

    Several benchmarks share it; each keeps to its own vehicle ids and days.
    """
    admin = create_engine(f"postgresql+psycopg://{SUPERUSER}@{HOST}:{PORT}/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("select 1 from pg_database where datname = :d"),
                        {"d": DATABASE}).first() is None:
            print(f"creating database {DATABASE}")
            conn.execute(text(f'create database {DATABASE} owner "fleet"'))
    admin.dispose()
    owner = create_engine(f"postgresql+psycopg://{SUPERUSER}@{HOST}:{PORT}/{DATABASE}",
                          isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text("create extension if not exists postgis"))
    owner.dispose()
    subprocess.run([sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"),
                    "upgrade", "head"], check=True, env={**os.environ, "FLEET_DATABASE_URL": URL})
