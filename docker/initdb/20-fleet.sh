#!/usr/bin/env bash
# Run once by the postgis image, on its first start with an empty data volume
# (/docker-entrypoint-initdb.d, after the image's own 10_postgis.sh): the project's roles and
# database, as scripts/provision-db.sh makes them on a developer's machine. The schema is the
# `migrate` service's job (Alembic).
set -euo pipefail
: "${FLEET_DB_PASSWORD:?FLEET_DB_PASSWORD must be set for the postgis service}"
# The password goes through a psql variable (:'pw'), quoted by psql, never spliced into SQL.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v pw="$FLEET_DB_PASSWORD" <<'SQL'
create role fleet login password :'pw';
-- web_bridge runs each request as fleet_web, the role row-level security applies to.
create role fleet_web nologin;
grant fleet_web to fleet;
create database fleet owner fleet;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname fleet \
  -c "create extension if not exists postgis"
