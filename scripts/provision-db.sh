#!/usr/bin/env bash
# Database provisioning: role, database and PostGIS; migrations once they exist. Idempotent.
set -euo pipefail
echo "[setup] database: (provisioning comes next)"
