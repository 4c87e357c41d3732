#!/usr/bin/env bash
# make demo: the whole fleet in one process with the dashboard, flying a scripted scenario
# (python -m fleet_bringup.demo --help). It prints the dashboard's URL and a login made for
# this run; Ctrl-C stops everything and removes the login.
#   VEHICLES=N       simulated vehicles (default 10)
#   TIME_FACTOR=F    simulated seconds per wall second (default 5)
#   FLEET_PORT=P     the dashboard's port (default 8080)
#   FLEET_DISCOVERY_SERVER=1  discover through a Fast DDS discovery server on 127.0.0.1
#                    started for the run (same as --discovery-server)
# It needs what `make setup` provides (PostgreSQL with the fleet database, Redis, the built
# dashboard) and says what is missing otherwise.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
exec python -m fleet_bringup.demo "$@"
