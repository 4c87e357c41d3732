"""Recurring missions: fixed intervals, or 5-field cron expressions evaluated in UTC."""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fleet_core.dispatch.demand import Demand
from fleet_core.dispatch.errors import CronError, DispatchError
from fleet_core.dispatch.state import MissionKind, check_priority, check_vehicle_pin

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_MONTH_NAMES = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day-of-week", 0, 7, _DAY_NAMES),  # 0 and 7 are both Sunday
)
_ITEM = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")
# The longest gap between two firings of a satisfiable expression: 29 February in leap
# years only, across a skipped century leap year (2096 -> 2104).
_SEARCH_YEARS = 9


def _value(field: _Field, token: str, expr: str) -> int:
    if token.isdigit():
        value = int(token)
    elif token in field.names:
        value = field.names[token]
    else:
        raise CronError(f"cron {expr!r}: {field.name} value {token!r} is not a number"
                        + (" or a name" if field.names else ""))
    if not field.low <= value <= field.high:
        raise CronError(f"cron {expr!r}: {field.name} value {value} is outside "
                        f"{field.low}..{field.high}")
    return value


def _parse_field(field: _Field, text: str, expr: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.lower().split(","):
        m = _ITEM.match(item)
        if m is None:
            raise CronError(f"cron {expr!r}: {field.name} item {item!r} is not *, N, N-M, "
                            f"or one of those with /STEP")
        star, first, last, step_text = m.groups()
        step = 1
        if step_text is not None:
            step = int(step_text)
            if step < 1:
                raise CronError(f"cron {expr!r}: {field.name} step must be >= 1, got {step}")
        if star:
            low, high = field.low, field.high
        else:
            low = _value(field, first, expr)
            if last is not None:
                high = _value(field, last, expr)
            elif step_text is not None:
                high = field.high  # "N/S" is "N-max/S", as in Vixie cron
            else:
                high = low
            if high < low:
                raise CronError(f"cron {expr!r}: {field.name} range {item!r} runs backwards")
        values.update(range(low, high + 1, step))
    if field.name == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed 5-field cron expression: minute hour day-of-month month day-of-week (UTC).

    As in Vixie cron, when both day fields are restricted a day matches if *either* does;
    when one of them is ``*`` only the other one counts.
    """

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse ``expression``; raise CronError naming the bad field and item."""
        if not isinstance(expression, str):
            raise CronError(f"cron expression must be a string, got {expression!r}")
        parts = expression.split()
        if len(parts) != 5:
            raise CronError(f"cron {expression!r} needs 5 fields (minute hour day-of-month "
                            f"month day-of-week), got {len(parts)}")
        sets = [_parse_field(f, p, expression) for f, p in zip(_FIELDS, parts, strict=True)]
        schedule = cls(expression, sets[0], sets[1], sets[2], sets[3], sets[4],
                       days_restricted=not parts[2].startswith("*"),
                       weekdays_restricted=not parts[4].startswith("*"))
        if schedule.days_restricted and not schedule.weekdays_restricted:
            longest = max(calendar.monthrange(2000, m)[1] for m in schedule.months)
            if min(schedule.days) > longest:
                raise CronError(
                    f"cron {expression!r} never fires: day-of-month {min(schedule.days)} "
                    f"does not occur in month(s) {sorted(schedule.months)}"
                )
        return schedule

    def _day_matches(self, t: datetime) -> bool:
        in_days = t.day in self.days
        in_weekdays = (t.weekday() + 1) % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def next_after(self, moment: datetime) -> datetime:
        """Return the first firing strictly after ``moment`` (timezone-aware), in UTC."""
        t = _as_utc(moment).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t.year + _SEARCH_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            else:
                later = [m for m in self.minutes if m >= t.minute]
                if later:
                    return t.replace(minute=min(later))
                t = t.replace(minute=0) + timedelta(hours=1)
        raise CronError(f"cron {self.expression!r} does not fire within {_SEARCH_YEARS} years "
                        f"after {moment.isoformat()}")


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise DispatchError(f"recurrence needs a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "m": 60.0, "min": 60.0,
          "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hour": 3600.0, "hours": 3600.0}


@dataclass(frozen=True, slots=True)
class Recurrence:
    """When a recurring mission fires: every ``interval_s`` from ``anchor``, or by cron."""

    interval_s: float | None = None
    cron: CronSchedule | None = None
    anchor: datetime = EPOCH

    def __post_init__(self) -> None:
        if (self.interval_s is None) == (self.cron is None):
            raise DispatchError("a recurrence needs exactly one of interval_s and cron")
        if self.interval_s is not None and not (
                math.isfinite(self.interval_s) and self.interval_s > 0):
            raise DispatchError(f"recurrence interval must be > 0 s, got {self.interval_s!r}")
        _as_utc(self.anchor)

    @classmethod
    def every(cls, count: float, unit: str = "seconds", *,
              anchor: datetime = EPOCH) -> Recurrence:
        """Fire every ``count`` seconds, minutes or hours, on multiples from ``anchor``."""
        factor = _UNITS.get(unit.lower())
        if factor is None:
            raise DispatchError(f"recurrence unit {unit!r} is not seconds, minutes or hours")
        if isinstance(count, bool) or not isinstance(count, int | float):
            raise DispatchError(f"recurrence count must be a number, got {count!r}")
        return cls(interval_s=count * factor, anchor=anchor)

    @classmethod
    def from_cron(cls, expression: str) -> Recurrence:
        """Fire by a 5-field cron expression (UTC)."""
        return cls(cron=CronSchedule.parse(expression))

    @classmethod
    def parse(cls, text: str) -> Recurrence:
        """Parse ``every N seconds|minutes|hours`` or a 5-field cron expression."""
        words = text.split()
        if len(words) == 3 and words[0].lower() == "every":
            try:
                count = float(words[1])
            except ValueError:
                raise DispatchError(
                    f"recurrence {text!r}: {words[1]!r} is not a number") from None
            return cls.every(count, words[2])
        return cls.from_cron(text)

    def next_after(self, moment: datetime) -> datetime:
        """Return the first occurrence strictly after ``moment``, in UTC."""
        if self.cron is not None:
            return self.cron.next_after(moment)
        assert self.interval_s is not None
        elapsed = (_as_utc(moment) - self.anchor).total_seconds()
        steps = math.floor(elapsed / self.interval_s) + 1
        return self.anchor + timedelta(seconds=steps * self.interval_s)


@dataclass(frozen=True, slots=True)
class RecurringTemplate:
    """A mission spawned anew at every occurrence of its recurrence.

    Each spawned mission is scheduled at its occurrence and, with ``window_s``, must start
    within that many seconds of it or fail.
    """

    template_id: str
    recurrence: Recurrence
    priority: int
    kind: MissionKind
    demand: Demand
    created_by: str = ""
    window_s: float | None = None
    pinned_vehicle_id: str | None = None  # every occurrence flies on this vehicle

    def __post_init__(self) -> None:
        check_vehicle_pin(self.pinned_vehicle_id)
        if not self.template_id or "@" in self.template_id:
            raise DispatchError(
                f"template_id must be non-empty and without '@', got {self.template_id!r}"
            )
        check_priority(self.priority)
        if self.window_s is not None and not (
                math.isfinite(self.window_s) and self.window_s > 0):
            raise DispatchError(f"recurring window_s must be > 0, got {self.window_s!r}")
