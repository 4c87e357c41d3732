"""Exception types of the charging queue."""

from __future__ import annotations

from fleet_core.errors import FleetCoreError


class ChargingError(FleetCoreError, ValueError):
    """A charging request or report is invalid: bad value, unknown or duplicate vehicle."""
