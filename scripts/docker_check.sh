#!/usr/bin/env bash
# The container files, checked without a container engine (none on the project's machines):
# docker/Dockerfile linted by hadolint, docker/compose.yaml validated against the Compose
# Specification's JSON schema (the copy check-jsonschema ships), the shell scripts the image
# and the compose file run parsed by bash. Both tools are pinned in requirements/python.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

failed=0
ok() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failed=1; }

tool() {  # tool NAME: the command, from PATH or the project's venv
  if command -v "$1" >/dev/null; then command -v "$1"
  elif [[ -x "$ROOT/.venv/bin/$1" ]]; then echo "$ROOT/.venv/bin/$1"
  else
    echo "docker-check: $1 not found; 'make setup' installs it (requirements/python.txt)" >&2
    exit 2
  fi
}
HADOLINT="$(tool hadolint)"
CHECK_JSONSCHEMA="$(tool check-jsonschema)"

# 1. The Dockerfile: hadolint's rules (pinned bases, apt and pip hygiene, a non-root user,
# ShellCheck on every RUN) with the project's settings, which fail on any finding.
stages="$(grep -cE '^FROM ' docker/Dockerfile)"
if "$HADOLINT" --config docker/hadolint.yaml docker/Dockerfile; then
  ok "docker/Dockerfile: $("$HADOLINT" --version | sed -E 's/.* ([0-9][0-9.]*).*/hadolint \1/')," \
     "failure threshold info, $stages stages from $(sed -nE 's/^FROM ([^ ]+).*/\1/p' docker/Dockerfile | paste -sd, -)"
else
  fail "docker/Dockerfile: hadolint findings above"
fi

# 2. The compose file: the Compose Specification schema (what `docker compose config` checks
# first), from the installed check-jsonschema, never a copy in this repository.
schema="$("$CHECK_JSONSCHEMA" --version | sed -E 's/.*version //')"
if "$CHECK_JSONSCHEMA" --builtin-schema vendor.compose-spec docker/compose.yaml >/dev/null; then
  services="$(sed -nE 's/^  ([a-z_]+):$/\1/p' <(sed -n '/^services:/,/^[a-z]/p' docker/compose.yaml) | paste -sd, -)"
  ok "docker/compose.yaml: valid against the Compose Specification schema" \
     "(check-jsonschema $schema, vendor.compose-spec); services $services"
else
  "$CHECK_JSONSCHEMA" --builtin-schema vendor.compose-spec docker/compose.yaml || true
  fail "docker/compose.yaml: not valid against the Compose Specification schema (above)"
fi

# 3. The scripts the image and the postgis service run: they must at least parse.
for script in docker/*.sh docker/initdb/*.sh; do
  if bash -n "$script"; then ok "$script: bash syntax"; else fail "$script: bash syntax"; fi
done

if (( failed )); then
  echo "docker-check: FAILED (the images themselves are not built here: no container engine)"
  exit 1
fi
echo "docker-check: passed (the images themselves are not built here: no container engine)"
