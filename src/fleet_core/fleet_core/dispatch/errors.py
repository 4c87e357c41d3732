"""Exception types of the dispatcher."""

from __future__ import annotations

from fleet_core.errors import FleetCoreError


class DispatchError(FleetCoreError, ValueError):
    """A dispatch request is invalid: unknown mission, bad value, duplicate id."""


class IllegalTransitionError(DispatchError):
    """A mission was asked to move between two states the lifecycle does not connect."""

    def __init__(self, mission_id: str, from_state: str, to_state: str) -> None:
        super().__init__(
            f"mission {mission_id!r} cannot go from {from_state} to {to_state}"
        )
        self.mission_id = mission_id
        self.from_state = from_state
        self.to_state = to_state


class CronError(DispatchError):
    """A cron expression does not parse, or can never fire."""
