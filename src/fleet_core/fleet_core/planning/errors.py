"""Exception types of mission planning."""

from __future__ import annotations

from fleet_core.errors import FleetCoreError


class RequestError(FleetCoreError, ValueError):
    """A mission request field is missing, of the wrong type or out of range."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class PlanningError(FleetCoreError):
    """A mission cannot be planned legally; ``reason`` says why, for a human."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
