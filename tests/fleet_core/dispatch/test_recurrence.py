"""Cron expressions parse with clear errors and fire at the right minutes; intervals too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fleet_core.dispatch.errors import CronError, DispatchError
from fleet_core.dispatch.recurrence import CronSchedule, Recurrence


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("* * * * *", utc(2026, 5, 1, 10, 0, 30), utc(2026, 5, 1, 10, 1)),
    ("*/15 * * * *", utc(2026, 5, 1, 10, 15), utc(2026, 5, 1, 10, 30)),
    ("5,35 9-17/4 * * *", utc(2026, 5, 1, 13, 36), utc(2026, 5, 1, 17, 5)),
    ("0 0 1 * *", utc(2026, 1, 31, 12, 0), utc(2026, 2, 1, 0, 0)),
    ("30 23 31 12 *", utc(2026, 12, 31, 23, 30), utc(2027, 12, 31, 23, 30)),
    ("0 0 * * *", utc(2026, 12, 31, 23, 59, 59), utc(2027, 1, 1, 0, 0)),
    ("0 12 29 2 *", utc(2026, 3, 1), utc(2028, 2, 29, 12, 0)),
    ("0 0 31 * *", utc(2026, 4, 1), utc(2026, 5, 31, 0, 0)),
    ("0 9 * * mon", utc(2026, 11, 22, 10, 0), utc(2026, 11, 23, 9, 0)),  # a Sunday
    ("0 9 * * 1-5", utc(2026, 11, 20, 9, 0), utc(2026, 11, 23, 9, 0)),  # Fri -> Mon
    ("0 0 * * 7", utc(2026, 11, 16), utc(2026, 11, 22, 0, 0)),  # 7 is Sunday too
    ("0 0 * * 0", utc(2026, 11, 16), utc(2026, 11, 22, 0, 0)),
    ("0 0 13 * fri", utc(2026, 11, 1), utc(2026, 11, 6, 0, 0)),  # either day field matches
    ("0 0 * feb,jul *", utc(2026, 3, 1), utc(2026, 7, 1, 0, 0)),
    ("10/20 * * * *", utc(2026, 1, 1, 0, 31), utc(2026, 1, 1, 0, 50)),
], ids=lambda v: v if isinstance(v, str) else None)
def test_cron_fires_at_the_first_matching_minute_after(expr: str, after: datetime,
                                                      expected: datetime) -> None:
    assert CronSchedule.parse(expr).next_after(after) == expected


def test_cron_next_after_is_strictly_later_and_chains() -> None:
    cron = CronSchedule.parse("0 */8 * * *")
    t = utc(2026, 2, 28, 16, 0)
    fired = []
    for _ in range(4):
        t = cron.next_after(t)
        fired.append(t)
    assert fired == [utc(2026, 3, 1, 0), utc(2026, 3, 1, 8), utc(2026, 3, 1, 16),
                     utc(2026, 3, 2, 0)]


def test_cron_answers_in_utc_for_any_aware_time() -> None:
    cet = timezone(timedelta(hours=1))
    # 12:30 at UTC+1 is 11:30 UTC: noon UTC is still ahead the same day.
    assert CronSchedule.parse("0 12 * * *").next_after(
        datetime(2026, 1, 1, 12, 30, tzinfo=cet)) == utc(2026, 1, 1, 12, 0)
    assert CronSchedule.parse("0 12 * * *").next_after(
        datetime(2026, 1, 1, 13, 30, tzinfo=cet)) == utc(2026, 1, 2, 12, 0)


@pytest.mark.parametrize(("expr", "message"), [
    ("* * * *", "needs 5 fields .* got 4"),
    ("60 * * * *", "minute value 60 is outside 0..59"),
    ("* 24 * * *", "hour value 24 is outside 0..23"),
    ("* * 0 * *", "day-of-month value 0 is outside 1..31"),
    ("* * * 13 *", "month value 13 is outside 1..12"),
    ("* * * * 8", "day-of-week value 8 is outside 0..7"),
    ("*/0 * * * *", "minute step must be >= 1"),
    ("5-1 * * * *", "minute range '5-1' runs backwards"),
    ("* * * foo *", "month value 'foo' is not a number or a name"),
    ("1,,2 * * * *", "minute item '' is not"),
    ("@daily", "needs 5 fields"),
    ("0 0 30 2 *", "never fires: day-of-month 30 does not occur in month"),
], ids=lambda v: v)
def test_a_bad_cron_expression_is_rejected_naming_the_field(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        CronSchedule.parse(expr)


def test_cron_refuses_a_naive_datetime() -> None:
    with pytest.raises(DispatchError, match="timezone-aware"):
        CronSchedule.parse("* * * * *").next_after(datetime(2026, 1, 1))


def test_an_interval_fires_on_multiples_of_its_period_from_the_anchor() -> None:
    every = Recurrence.every(90, "minutes", anchor=utc(2026, 1, 1))
    assert every.next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 1, 30)
    assert every.next_after(utc(2026, 1, 1, 2, 59)) == utc(2026, 1, 1, 3, 0)
    assert every.next_after(utc(2026, 1, 1, 3, 0)) == utc(2026, 1, 1, 4, 30)


@pytest.mark.parametrize(("text", "expected"), [
    ("every 30 seconds", utc(2026, 1, 1, 0, 0, 30)),
    ("every 2 hours", utc(2026, 1, 1, 2, 0)),
    ("15 * * * *", utc(2026, 1, 1, 0, 15)),
])
def test_a_recurrence_parses_from_text(text: str, expected: datetime) -> None:
    assert Recurrence.parse(text).next_after(utc(2026, 1, 1)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("every 0 minutes", "interval must be > 0 s"),
    ("every 5 fortnights", "unit 'fortnights' is not seconds, minutes or hours"),
    ("every x minutes", "'x' is not a number"),
])
def test_a_bad_interval_is_rejected(text: str, message: str) -> None:
    with pytest.raises(DispatchError, match=message):
        Recurrence.parse(text)
