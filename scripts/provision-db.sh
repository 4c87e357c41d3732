#!/usr/bin/env bash
# Database provisioning: role, databases and PostGIS, then Alembic migrations once the project
# has them. Idempotent. Connection settings come from the environment (defaults: the local
# PostgreSQL on 127.0.0.1:5432 with trust auth, as on the project's machines).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGHOST="${FLEET_DB_HOST:-127.0.0.1}"
PGPORT="${FLEET_DB_PORT:-5432}"
PGSUPER="${FLEET_DB_SUPERUSER:-postgres}"
DB_USER="${FLEET_DB_USER:-fleet}"
DB_NAMES=("${FLEET_DB_NAME:-fleet}" "${FLEET_TEST_DB_NAME:-fleet_test}")

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }
psql_super() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGSUPER" -v ON_ERROR_STOP=1 -Atq "$@"; }

command -v psql >/dev/null || die "psql not found: install the PostgreSQL client (apt-get install postgresql-client)"
psql_super -d postgres -c "select 1" >/dev/null 2>&1 \
  || die "cannot connect to PostgreSQL at $PGHOST:$PGPORT as '$PGSUPER' (set FLEET_DB_HOST/FLEET_DB_PORT/FLEET_DB_SUPERUSER, or start it: pg_ctlcluster 15 main start)"

PG_MAJOR="$(psql_super -d postgres -c "select current_setting('server_version_num')::int / 10000")"

# PostGIS: the extension must be available to the server.
if [[ -z "$(psql_super -d postgres -c "select 1 from pg_available_extensions where name = 'postgis'")" ]]; then
  PKG="postgresql-${PG_MAJOR}-postgis-3"
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing $PKG (PostGIS is missing)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$PKG" >/dev/null 2>&1 || {
      apt-get update -q >/dev/null && apt-get install -y -q "$PKG" >/dev/null
    } || die "apt-get install $PKG failed"
  else
    die "PostGIS is not installed for PostgreSQL $PG_MAJOR: install it as root with 'apt-get install $PKG' and run 'make setup' again"
  fi
fi

if [[ -z "$(psql_super -d postgres -c "select 1 from pg_roles where rolname = '$DB_USER'")" ]]; then
  log "creating role $DB_USER"
  psql_super -d postgres -c "create role \"$DB_USER\" login password '$DB_USER'"
fi
# The web bridge runs its requests as fleet_web, the role the row-level security policies
# apply to (migration 0005); the application role may switch to it with SET ROLE.
WEB_ROLE="${FLEET_DB_WEB_ROLE:-fleet_web}"
if [[ -z "$(psql_super -d postgres -c "select 1 from pg_roles where rolname = '$WEB_ROLE'")" ]]; then
  log "creating role $WEB_ROLE"
  psql_super -d postgres -c "create role \"$WEB_ROLE\" nologin"
fi
psql_super -d postgres -c "grant \"$WEB_ROLE\" to \"$DB_USER\"" >/dev/null 2>&1 || true
for db in "${DB_NAMES[@]}"; do
  if [[ -z "$(psql_super -d postgres -c "select 1 from pg_database where datname = '$db'")" ]]; then
    log "creating database $db"
    psql_super -d postgres -c "create database \"$db\" owner \"$DB_USER\""
  fi
  # Extensions need a superuser; the application role owns everything else.
  psql_super -d "$db" -c "set client_min_messages = warning; create extension if not exists postgis"
done

if [[ -f "$ROOT/alembic.ini" ]]; then
  # The migrations import fleet_db from the built workspace.
  # shellcheck source=scripts/env.sh
  source "$ROOT/scripts/env.sh"
  for db in "${DB_NAMES[@]}"; do
    log "migrating $db"
    FLEET_DATABASE_URL="postgresql+psycopg://$DB_USER@$PGHOST:$PGPORT/$db" \
      "$ROOT/.venv/bin/alembic" -c "$ROOT/alembic.ini" upgrade head
  done
fi
log "database ready: ${DB_NAMES[*]} on $PGHOST:$PGPORT (PostGIS $(psql_super -d "${DB_NAMES[0]}" -c "select postgis_lib_version()"))"
