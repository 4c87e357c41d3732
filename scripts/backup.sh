#!/usr/bin/env bash
# Back up the fleet database: one pg_dump archive (custom format) with the schema, every
# telemetry partition, the Alembic revision, grants and row-level security policies.
# Restore it with scripts/restore.sh. Retention and point-in-time recovery: docs/operations.md.
set -euo pipefail

PROG=backup
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/pg_common.sh
source "$ROOT/scripts/pg_common.sh"

usage() {
  cat <<EOF
usage: scripts/backup.sh [-o FILE | -d DIR] [--keep-days N] [DATABASE_URL]

Dump DATABASE_URL (default: \$FLEET_DATABASE_URL, else $DEFAULT_DB_URL) into a
pg_dump custom-format archive, check that it reads back, and write FILE.sha256 beside it.

  -o, --output FILE   the archive to write (its directory must exist)
  -d, --dir DIR       write DIR/<database>_<UTC time>.dump
                      (default: \$FLEET_BACKUP_DIR, else $ROOT/var/backups)
  --keep-days N       after a good backup, delete <database>_*.dump archives in DIR
                      older than N days (never the one just written); needs -d mode
  -h, --help          this text
EOF
}

OUT=""
DIR="${FLEET_BACKUP_DIR:-$ROOT/var/backups}"
KEEP_DAYS=""
URL=""
while (( $# )); do
  case "$1" in
    -o|--output) [[ $# -ge 2 ]] || die "$1 needs a file name"; OUT="$2"; shift 2;;
    -d|--dir) [[ $# -ge 2 ]] || die "$1 needs a directory"; DIR="$2"; shift 2;;
    --keep-days) [[ $# -ge 2 ]] || die "$1 needs a number of days"; KEEP_DAYS="$2"; shift 2;;
    -h|--help) usage; exit 0;;
    -*) die "unknown option '$1' (see --help)";;
    *) [[ -z "$URL" ]] || die "one database URL only: '$URL' and '$1'"; URL="$1"; shift;;
  esac
done
if [[ -n "$KEEP_DAYS" ]]; then
  [[ "$KEEP_DAYS" =~ ^[1-9][0-9]*$ ]] || die "--keep-days must be a whole number of days >= 1, not '$KEEP_DAYS'"
  [[ -z "$OUT" ]] || die "--keep-days prunes a backup directory: use it with -d, not -o"
fi

need_tool pg_dump pg_restore psql sha256sum
parse_db_url "${URL:-${FLEET_DATABASE_URL:-$DEFAULT_DB_URL}}"
connect_or_die

# pg_dump refuses a server newer than itself; say which one to install.
server_major="$(sql "select current_setting('server_version_num')::int / 10000")"
dump_major="$(pg_dump --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')"
(( dump_major >= server_major )) \
  || die "pg_dump $dump_major cannot dump PostgreSQL $server_major at $PG_SAFE: install postgresql-client-$server_major"

if [[ -z "$OUT" ]]; then
  mkdir -p "$DIR"
  OUT="$DIR/${PG_DB}_$(date -u +%Y%m%dT%H%M%SZ).dump"
fi
[[ -d "$(dirname "$OUT")" ]] || die "the directory of '$OUT' does not exist"
[[ ! -e "$OUT" ]] || die "'$OUT' exists already: a backup never overwrites another"

# Written beside the target and renamed only once verified: a *.dump file is always whole.
PARTIAL="$OUT.partial"
revision="$(sql "select string_agg(version_num, ',') from alembic_version" 2>/dev/null || true)"
trap 'rm -f "$PARTIAL"' EXIT
log "dumping $PG_SAFE (PostgreSQL $server_major) to $OUT"
# --lock-wait-timeout: fail instead of queueing behind a long exclusive lock (a migration);
# queued, the dump would block the recorder's inserts behind it.
pg_dump --format=custom --no-password --lock-wait-timeout=120s \
  --file="$PARTIAL" --dbname="$PG_URI" \
  || die "pg_dump of $PG_SAFE failed (see above); nothing was written"

TOC="$(pg_restore --list "$PARTIAL")" || die "the archive pg_dump wrote does not read back"
tables="$(grep -cE '^[0-9]+; [0-9]+ [0-9]+ TABLE DATA ' <<<"$TOC" || true)"
partitions="$(grep -cE ' TABLE DATA public telemetry_p[0-9]{8} ' <<<"$TOC" || true)"
mv "$PARTIAL" "$OUT"
(cd "$(dirname "$OUT")" && sha256sum "$(basename "$OUT")" > "$(basename "$OUT").sha256")
log "wrote $OUT ($(du -h "$OUT" | cut -f1)): data of $tables tables, $partitions of them" \
    "telemetry partitions; Alembic revision ${revision:-none}"

if [[ -n "$KEEP_DAYS" ]]; then
  while IFS= read -r old; do
    [[ "$old" -ef "$OUT" ]] && continue
    rm -f -- "$old" "$old.sha256"
    log "retention: deleted $old (older than $KEEP_DAYS days)"
  done < <(find "$DIR" -maxdepth 1 -type f -name "${PG_DB}_*.dump" -mmin "+$((KEEP_DAYS * 1440))")
fi
echo "$OUT"
