"""Views for dashboards and ad-hoc SQL: latest sample per vehicle, availability, active missions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:20:00 UTC

Plain views (not materialized): each reads the newest sample of a vehicle with one backward
probe of the telemetry primary key, which is cheaper than keeping a materialized copy fresh.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.execute("""
        create view vehicle_latest as
        select v.id as vehicle_id, v.site_id, v.status, s.time, s.position, s.altitude_rel,
               s.battery_pct, s.mode, s.armed, s.landed_state, s.mission_id,
               extract(epoch from now() - s.time) as age_s
        from vehicles v
        left join lateral (
            select * from telemetry t where t.vehicle_id = v.id order by t.time desc limit 1
        ) s on true
    """)
    op.execute("""
        create view fleet_availability as
        select site_id,
               count(*) filter (where status = 'idle') as idle,
               count(*) filter (where status = 'in_mission') as in_mission,
               count(*) filter (where status = 'returning') as returning,
               count(*) filter (where status = 'charging') as charging,
               count(*) filter (where status = 'maintenance') as maintenance,
               count(*) filter (where status = 'offline') as offline,
               avg(battery_pct) filter (where status = 'idle') as avg_idle_battery_pct
        from vehicle_latest
        group by site_id
    """)
    op.execute("""
        create view active_missions as
        select m.id as mission_id, m.type, m.priority, m.status, m.site_id, m.vehicle_id,
               v.model as vehicle_model, l.battery_pct, l.position as vehicle_position,
               m.started_at, extract(epoch from now() - m.started_at) as elapsed_s,
               m.estimated_duration_s, m.planned_path
        from missions m
        left join vehicles v on v.id = m.vehicle_id
        left join vehicle_latest l on l.vehicle_id = m.vehicle_id
        where m.status in ('assigned', 'active', 'paused')
    """)


def downgrade() -> None:
    """Revert this revision."""
    op.execute("drop view active_missions")
    op.execute("drop view fleet_availability")
    op.execute("drop view vehicle_latest")
