#!/usr/bin/env bash
# Compose health check of a ROS node container: healthy while the node NAME is in the ROS graph
# as another participant sees it, which also proves DDS discovery between the containers.
set -eo pipefail
name="${1:?usage: healthcheck.sh NODE_NAME}"
# shellcheck disable=SC1090,SC1091
source "/opt/ros/${ROS_DISTRO}/setup.bash"
# shellcheck source=scripts/env.sh
source /opt/fleet/scripts/env.sh
ros2 node list --no-daemon --spin-time 3 | grep -qx "/$name"
