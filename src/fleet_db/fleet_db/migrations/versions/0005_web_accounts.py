"""Web bridge accounts: refresh tokens, scoped API keys, audit detail, row-level security.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 01:00:00 UTC

Row-level security: the web bridge runs every request's transaction as the role ``fleet_web``
(``SET LOCAL ROLE``) with the user's sites in the transaction-local settings ``fleet.sites``
(comma-separated) and ``fleet.all_sites`` ('on' for a grant at every site). The policies on
the tables that carry a site let that role see and write only those sites' rows, so a route
that forgets a filter still cannot leak a site. Unset settings show nothing (fail closed).
The owner (recorder, planner, migrations) is not subject to these policies. ``fleet_web``
itself is created by scripts/provision-db.sh (creating a role needs a superuser).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB_ROLE = "fleet_web"
# Table -> the column holding its site.
SITE_TABLES = {"sites": "id", "vehicles": "site_id", "missions": "site_id",
               "charging_stations": "site_id"}


def upgrade() -> None:
    """Apply this revision."""
    conn = op.get_bind()
    if conn.execute(sa.text("select 1 from pg_roles where rolname = :r"),
                    {"r": WEB_ROLE}).first() is None:
        raise RuntimeError(
            f"role {WEB_ROLE!r} does not exist: run scripts/provision-db.sh (make setup), or as a "
            f"superuser: create role {WEB_ROLE} nologin; grant {WEB_ROLE} to <the owner role>")
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("family", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_addr", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_refresh_tokens_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["family"], unique=False)
    op.add_column("api_keys", sa.Column("site_id", sa.Text(), nullable=True))
    op.add_column("api_keys", sa.Column("vehicle_id", sa.Text(), nullable=True))
    op.create_foreign_key(op.f("fk_api_keys_site_id_sites"), "api_keys", "sites",
                          ["site_id"], ["id"], ondelete="CASCADE")
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"], unique=True)
    for name in ("username", "role", "method", "result"):
        op.add_column("audit_log", sa.Column(name, sa.Text(), nullable=True))
    op.add_column("audit_log", sa.Column("status_code", sa.SmallInteger(), nullable=True))

    op.execute("""
        create function fleet_site_visible(site text) returns boolean
        language sql stable as $$
          select coalesce(current_setting('fleet.all_sites', true), '') = 'on'
              or (site is not null and site = any(string_to_array(
                    coalesce(current_setting('fleet.sites', true), ''), ',')))
        $$""")
    op.execute(f"grant select on all tables in schema public to {WEB_ROLE}")
    op.execute(f"grant insert, update, delete on users, roles, api_keys, audit_log, "
               f"refresh_tokens, sites, vehicles, charging_stations to {WEB_ROLE}")
    op.execute(f"grant usage on all sequences in schema public to {WEB_ROLE}")
    op.execute(f"grant execute on function fleet_site_visible(text) to {WEB_ROLE}")
    for table, column in SITE_TABLES.items():
        op.execute(f"alter table {table} enable row level security")
        op.execute(f"create policy web_site_scope on {table} to {WEB_ROLE} "
                   f"using (fleet_site_visible({column})) "
                   f"with check (fleet_site_visible({column}))")


def downgrade() -> None:
    """Revert this revision."""
    for table in SITE_TABLES:
        op.execute(f"drop policy if exists web_site_scope on {table}")
        op.execute(f"alter table {table} disable row level security")
    op.execute(f"revoke all on all tables in schema public from {WEB_ROLE}")
    op.execute(f"revoke all on all sequences in schema public from {WEB_ROLE}")
    op.execute("drop function fleet_site_visible(text)")
    op.drop_column("audit_log", "status_code")
    for name in ("result", "method", "role", "username"):
        op.drop_column("audit_log", name)
    op.drop_index("ix_api_keys_prefix", table_name="api_keys")
    op.drop_constraint(op.f("fk_api_keys_site_id_sites"), "api_keys", type_="foreignkey")
    op.drop_column("api_keys", "vehicle_id")
    op.drop_column("api_keys", "site_id")
    op.drop_index("ix_refresh_tokens_family", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
