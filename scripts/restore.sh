#!/usr/bin/env bash
# Restore an archive of scripts/backup.sh into an EMPTY database, in one transaction: it
# lands whole or not at all. Connect as the role that owns the target database (the
# application role, e.g. fleet): it becomes the owner of every restored object, as in the
# source. Runbook: docs/operations.md.
set -euo pipefail

PROG=restore
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/pg_common.sh
source "$ROOT/scripts/pg_common.sh"

usage() {
  cat <<EOF
usage: scripts/restore.sh ARCHIVE [DATABASE_URL]

Restore ARCHIVE (a scripts/backup.sh archive) into DATABASE_URL (default:
\$FLEET_DATABASE_URL, else $DEFAULT_DB_URL), which must exist and be empty. Create one as a
PostgreSQL superuser with:
  createdb -O fleet NAME && psql -d NAME -c 'create extension postgis'

  -h, --help   this text
EOF
}

ARCHIVE=""
URL=""
while (( $# )); do
  case "$1" in
    -h|--help) usage; exit 0;;
    -*) die "unknown option '$1' (see --help)";;
    *)
      if [[ -z "$ARCHIVE" ]]; then ARCHIVE="$1"
      elif [[ -z "$URL" ]]; then URL="$1"
      else die "unexpected argument '$1': give ARCHIVE and at most one DATABASE_URL"
      fi
      shift;;
  esac
done
[[ -n "$ARCHIVE" ]] || { usage >&2; die "no archive given"; }
[[ -f "$ARCHIVE" && -r "$ARCHIVE" ]] || die "archive '$ARCHIVE' is not a readable file"

need_tool pg_restore psql sha256sum
TOC="$(pg_restore --list "$ARCHIVE" 2>/dev/null)" \
  || die "'$ARCHIVE' is not a pg_dump custom-format archive (scripts/backup.sh writes those)"
if [[ -f "$ARCHIVE.sha256" ]]; then
  (cd "$(dirname "$ARCHIVE")" && sha256sum --quiet --check "$(basename "$ARCHIVE").sha256" >/dev/null 2>&1) \
    || die "'$ARCHIVE' does not match its checksum $ARCHIVE.sha256: the archive is damaged"
fi

parse_db_url "${URL:-${FLEET_DATABASE_URL:-$DEFAULT_DB_URL}}"
connect_or_die "create it empty first (see --help)"

# Empty: no table, view or sequence outside those that belong to extensions (PostGIS's).
existing="$(sql "
  select count(*) || ' relations: ' || string_agg(name, ', ') filter (where rank <= 5)
    || case when count(*) > 5 then ', …' else '' end
  from (select n.nspname || '.' || c.relname as name,
               row_number() over (order by n.nspname, c.relname) as rank
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
    and n.nspname <> 'information_schema' and n.nspname not like 'pg\_%'
    and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
                    and d.objid = c.oid and d.deptype = 'e')) as found
  having count(*) > 0")"
[[ -z "$existing" ]] || die "$PG_SAFE is not empty ($existing): restore into a new database"

# Owner: objects are restored as the connecting role (--no-owner), so it must be the role the
# applications and migrations use, which owns the database.
read -r role db_owner < <(sql "select current_user, pg_get_userbyid(datdba)
  from pg_database where datname = current_database()" | tr '|' ' ')
[[ "$role" == "$db_owner" ]] \
  || die "connected as '$role' but $PG_DB is owned by '$db_owner': connect as '$db_owner', who must own the restored tables"

# Extensions are a superuser's job (scripts/provision-db.sh): create what the archive needs
# if this role may, else say how; their entries are then left out of the restore.
while read -r ext; do
  [[ -n "$ext" ]] || continue
  if [[ -z "$(sql "select 1 from pg_extension where extname = '$ext'")" ]]; then
    sql "create extension if not exists \"$ext\"" >/dev/null 2>&1 \
      || die "extension $ext is missing in $PG_DB and '$role' may not create it; as a superuser: psql -d $PG_DB -c 'create extension $ext'"
    log "created extension $ext"
  fi
done < <(sed -nE 's/^[0-9]+; [0-9]+ [0-9]+ EXTENSION - ([^ ]+).*/\1/p' <<<"$TOC")

LIST="$(mktemp)"
ERRORS="$(mktemp)"
trap 'rm -f "$LIST" "$ERRORS"' EXIT
SKIP='^[0-9]+; [0-9]+ [0-9]+ (EXTENSION - |COMMENT - EXTENSION )'
# An extension's own tables (PostGIS's spatial_ref_sys) are dumped with the rows users added;
# none added, their entry would only fail on rights the application role does not have.
while read -r schema table; do
  [[ -n "$table" ]] || continue
  grep -qE " TABLE DATA $schema $table " <<<"$TOC" || continue
  rows="$(pg_restore --data-only --schema="$schema" --table="$table" --file=- "$ARCHIVE" \
    | awk '/^COPY /{copy=1; next} /^\\\.$/{copy=0} copy{n++} END{print n+0}')"
  if (( rows == 0 )); then SKIP+="|^[0-9]+; [0-9]+ [0-9]+ TABLE DATA $schema $table "; fi
done < <(sql "select n.nspname || ' ' || c.relname from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e'
  where c.relkind = 'r'")
grep -vE "$SKIP" <<<"$TOC" > "$LIST"

log "restoring $ARCHIVE into $PG_SAFE as $role"
if ! pg_restore --no-owner --single-transaction --exit-on-error --no-password \
    --use-list="$LIST" --dbname="$PG_URI" "$ARCHIVE" 2>"$ERRORS"; then
  grep -E 'error|ERROR|FATAL' "$ERRORS" | head -n 5 >&2 || cat "$ERRORS" >&2
  missing_role="$(sed -nE 's/.*role "([^"]+)" does not exist.*/\1/p' "$ERRORS" | head -n1)"
  if [[ -n "$missing_role" ]]; then
    die "role '$missing_role' (granted rights in the archive) does not exist on this server: create the project's roles first (scripts/provision-db.sh, or as a superuser: create role $missing_role nologin; grant $missing_role to $role); $PG_DB was left empty"
  fi
  die "pg_restore failed (above); the transaction was rolled back and $PG_DB left empty"
fi
# pg_restore brings rows back, not the planner's statistics.
sql "set client_min_messages = error; analyze" >/dev/null

tables="$(sql "select count(*) from pg_tables where schemaname = 'public' and tablename <> 'spatial_ref_sys'")"
partitions="$(sql "select count(*) from pg_inherits where inhparent = to_regclass('public.telemetry')")"
revision="$(sql "select string_agg(version_num, ',') from alembic_version" 2>/dev/null || true)"
log "restored $PG_SAFE: $tables tables, $partitions of them telemetry partitions; Alembic revision ${revision:-none}"
