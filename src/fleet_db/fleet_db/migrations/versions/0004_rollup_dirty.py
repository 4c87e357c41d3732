"""Minutes of telemetry_1min to recompute: rows that arrived after the rollups passed them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00 UTC

The periodic rollup only re-reads a short trailing window; rows older than that (a spool
replayed after a database outage, a bag import) are marked here by whoever writes them, in
the same transaction, and ``fleet_db.rollups.rollup_dirty`` recomputes and deletes the marks.
``vehicle_id`` NULL marks the minutes of every vehicle. A plain table without foreign keys,
like ``telemetry``: marks are written at ingest rates and for vehicles not registered yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "telemetry_rollup_dirty",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("vehicle_id", sa.Text(), nullable=True),
        sa.Column("from_minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("to_minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "marked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "to_minute > from_minute", name=op.f("ck_telemetry_rollup_dirty_minutes_ordered")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telemetry_rollup_dirty")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("telemetry_rollup_dirty")
