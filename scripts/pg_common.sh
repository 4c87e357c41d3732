# Sourced by scripts/backup.sh and scripts/restore.sh: messages, the database URL, psql.
# The caller sets PROG (its name in messages) before sourcing.

DEFAULT_DB_URL="postgresql://fleet@127.0.0.1:5432/fleet"

if [[ -t 2 ]]; then _b=$'\033[1m' _r=$'\033[31m' _n=$'\033[0m'; else _b="" _r="" _n=""; fi
log() { printf '%s[%s]%s %s\n' "$_b" "$PROG" "$_n" "$*" >&2; }
die() { printf '%s[%s] error:%s %s\n' "$_r" "$PROG" "$_n" "$*" >&2; exit 1; }

need_tool() {  # need_tool COMMAND...
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null \
      || die "$tool not found: install the PostgreSQL client tools (apt-get install postgresql-client)"
  done
}

_url_decode() { local s="${1//+/ }"; printf '%b' "${s//%/\\x}"; }

# parse_db_url URL: set PG_URI (libpq form, no password), PG_SAFE (for messages) and PG_DB;
# a password moves to PGPASSWORD so that it shows neither in `ps` nor in any message.
# Accepts what the project uses elsewhere: postgresql+psycopg://, postgresql://, postgres://.
parse_db_url() {
  local url="$1" rest authority path userinfo="" hostport user password
  [[ "$url" =~ ^(postgres|postgresql)(\+[A-Za-z0-9_]+)?://(.*)$ ]] \
    || die "'${url%%://*}://…' is not a PostgreSQL URL (expected e.g. $DEFAULT_DB_URL)"
  rest="${BASH_REMATCH[3]}"
  authority="${rest%%[/?]*}"
  path="${rest:${#authority}}"
  hostport="$authority"
  if [[ "$authority" == *@* ]]; then
    userinfo="${authority%@*}"
    hostport="${authority##*@}"
  fi
  user="${userinfo%%:*}"
  if [[ "$userinfo" == *:* ]]; then
    password="${userinfo#*:}"
    PGPASSWORD="$(_url_decode "$password")"
    export PGPASSWORD
  fi
  PG_DB="${path#/}"
  PG_DB="$(_url_decode "${PG_DB%%\?*}")"
  [[ -n "$PG_DB" ]] || die "the URL ${user:+$user@}${hostport}${path} names no database"
  PG_URI="postgresql://${user:+$user@}${hostport}${path}"
  PG_SAFE="${user:+$user@}${hostport:-localhost}/$PG_DB"
}

# sql QUERY: run one query on PG_URI, unaligned and quiet; never prompts for a password.
sql() { psql --no-psqlrc --no-password -v ON_ERROR_STOP=1 -Atq -d "$PG_URI" -c "$1"; }

# connect_or_die [HINT]: a clear message (libpq's first line) instead of a stack of psql
# errors; HINT is added when the database itself does not exist.
connect_or_die() {
  local err
  if ! err="$(sql "select 1" 2>&1 >/dev/null)"; then
    err="$(head -n1 <<<"$err" | sed -E 's/^psql: (error: )?//')"
    [[ "$err" == *"database \"$PG_DB\" does not exist"* && -n "${1:-}" ]] && err+="; $1"
    die "cannot connect to $PG_SAFE: $err"
  fi
}
