"""Exception types of fleet_core."""


class FleetCoreError(Exception):
    """Base of every error fleet_core raises on purpose."""


class ConfigError(FleetCoreError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""
