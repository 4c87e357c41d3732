"""What the simulated autopilot has to tell its MAVROS side since it last published."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet_core.mavlink import MavSeverity

# PX4 drops status texts when its queue is full rather than block the autopilot.
_MAX_TEXTS = 50


@dataclass(slots=True)
class StatusText:
    """A status text the autopilot sent."""

    severity: MavSeverity
    text: str


@dataclass(slots=True)
class Outbox:
    """Status texts, reached mission items, and whether state or mission must be republished."""

    texts: list[StatusText] = field(default_factory=list)
    reached: list[int] = field(default_factory=list)
    state_changed: bool = True
    mission_changed: bool = True

    def say(self, severity: MavSeverity, text: str) -> None:
        """Queue a status text."""
        if len(self.texts) < _MAX_TEXTS:
            self.texts.append(StatusText(severity, text))

    def drain_texts(self) -> list[StatusText]:
        """Return and forget the status texts sent since the last call."""
        out, self.texts = self.texts, []
        return out

    def drain_reached(self) -> list[int]:
        """Return and forget the mission items reached since the last call."""
        out, self.reached = self.reached, []
        return out
