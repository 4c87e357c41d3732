#!/usr/bin/env bash
# make demo: the simulated fleet flown through its MAVROS interfaces. The full graph demo
# (fleet_manager, mission_planner, recorder, web dashboard) arrives with those nodes.
set -euo pipefail
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
exec python -m fleet_sim.demo "$@"
