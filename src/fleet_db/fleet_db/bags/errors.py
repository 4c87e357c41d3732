"""The one error of bag export and import."""

from fleet_db.db import FleetDbError


class BagError(FleetDbError, ValueError):
    """A bag or a slice cannot be exported or imported; the message names the bad value."""
