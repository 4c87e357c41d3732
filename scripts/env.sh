# Source me: activates the venv, the ROS 2 underlay (distro or wheels) and the workspace
# overlay, and keeps DDS on loopback unless the caller chose otherwise.
#   source scripts/env.sh
_fleet_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"

# Loopback only by default: Fast DDS multicasts discovery on every interface otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export PYTHONDONTWRITEBYTECODE=1
# The built dashboard that web_bridge serves (make setup builds it).
export FLEET_WEB_DIR="${FLEET_WEB_DIR:-$_fleet_root/web/dist}"

if [[ -f "$_fleet_root/.venv/bin/activate" ]]; then
  # shellcheck disable=SC1091
  VIRTUAL_ENV_DISABLE_PROMPT=1 source "$_fleet_root/.venv/bin/activate"
fi

if [[ -z "${ROS_DISTRO:-}" && -n "${VIRTUAL_ENV:-}" ]]; then
  # PyPI wheels: the venv prefix itself is the ament underlay.
  case ":${AMENT_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
    export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}";; esac
  case ":${CMAKE_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
    export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}";; esac
  export ROS_VERSION=2 ROS_PYTHON_VERSION=3
fi

# underlay_prefix_of PKG: the prefix of PKG on the underlay (not this workspace), or "".
underlay_prefix_of() {
  local p IFS=:
  for p in ${AMENT_PREFIX_PATH:-}; do
    [[ "$p" == "$_fleet_root/install" ]] && continue
    if [[ -f "$p/share/ament_index/resource_index/packages/$1" ]]; then
      echo "$p"; return 0
    fi
  done
  echo ""
}

if [[ -f "$_fleet_root/install/local_setup.bash" ]]; then
  # colcon's scripts read unset variables; don't let a caller's `set -u` break them.
  case $- in *u*) _fleet_u=1; set +u;; *) _fleet_u=0;; esac
  # shellcheck disable=SC1091
  COLCON_CURRENT_PREFIX="$_fleet_root/install" source "$_fleet_root/install/local_setup.bash"
  (( _fleet_u )) && set -u
  unset _fleet_u
fi
