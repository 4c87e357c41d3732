#!/usr/bin/env bash
# The image's entry point: the ROS 2 distro, the project's venv and the built workspace, then
# the command, exec'd so that it is the process the container's stop signal reaches.
set -eo pipefail
# shellcheck disable=SC1090,SC1091
source "/opt/ros/${ROS_DISTRO:?the ROS base image sets ROS_DISTRO}/setup.bash"
# shellcheck source=scripts/env.sh
source /opt/fleet/scripts/env.sh
exec "$@"
