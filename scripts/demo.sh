#!/usr/bin/env bash
# make demo: the whole graph in one process (fleet_sim, fleet_manager, mission_planner,
# telemetry_recorder): a survey and a delivery flown, a charge, and what PostGIS recorded.
# `python -m fleet_sim.demo` shows the simulator alone, through its MAVROS interfaces.
set -euo pipefail
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
exec python -m fleet_bringup.demo "$@"
