"""Natural keys for mission events and charging sessions, so that recording them is idempotent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:25:00 UTC

The recorder stores these from ROS topics; a re-delivered message, or a second recorder
running for redundancy, must not add a second row. A mission changes state at most once per
instant, and a vehicle asks for a charge at most once per instant.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_unique_constraint("uq_mission_events_mission_id_time_to_state", "mission_events",
                                ["mission_id", "time", "to_state"])
    op.create_unique_constraint("uq_charging_sessions_vehicle_id_requested_at",
                                "charging_sessions", ["vehicle_id", "requested_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_constraint("uq_charging_sessions_vehicle_id_requested_at", "charging_sessions",
                       type_="unique")
    op.drop_constraint("uq_mission_events_mission_id_time_to_state", "mission_events",
                       type_="unique")
