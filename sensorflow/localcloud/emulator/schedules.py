"""EventBridge schedule expressions: ``rate(...)`` and six-field ``cron(...)``, evaluated in UTC.

Source: docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
- ``rate(value unit)``: a positive whole number; the unit is singular for 1 (``rate(1 minute)``) and plural
  otherwise (``rate(5 minutes)``). ``rate(5 minute)`` and ``rate(0 minutes)`` are refused, as by AWS.
- ``cron(minutes hours day-of-month month day-of-week year)``: ``*``, ``?``, numbers, names (JAN, MON),
  ranges, lists, ``/`` steps, and the wildcards ``L`` (last day of the month; ``5L`` = the month's last
  Thursday), ``W`` (``15W`` = the weekday nearest the 15th, within the month) and ``#`` (``3#2`` = the
  second Tuesday). Day-of-month and day-of-week can't both be given: exactly one of them is ``?``.
Day-of-week numbers run 1 (Sunday) to 7 (Saturday).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}  # AWS: 1 = Sunday
_SEARCH_DAYS = 366 * 5  # a cron that matches no day in five years (31 FEB) never fires

DayRule = Callable[[date], bool]


class ScheduleError(ValueError):
    """A schedule expression AWS would refuse (so this emulation refuses it too)."""


def aws_weekday(day: date) -> int:
    """1 = Sunday ... 7 = Saturday, as cron day-of-week numbers them."""
    return (day.isoweekday() % 7) + 1


@dataclass(frozen=True, slots=True)
class Schedule:
    expression: str
    period_s: int | None = None  # rate(...)
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    years: frozenset[int] = frozenset()
    day_rule: DayRule | None = None

    def next_after(self, when: datetime) -> datetime:
        """The first firing time strictly after ``when`` (UTC)."""
        if self.period_s is not None:
            return when + timedelta(seconds=self.period_s)
        assert self.day_rule is not None
        start = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if day.year in self.years and day.month in self.months and self.day_rule(day):
                first = start if day == start.date() else None
                hit = self._first_time_on(day, first)
                if hit is not None:
                    return hit
            day += timedelta(days=1)
        raise ScheduleError(f"{self.expression} never fires in the next five years")

    def _first_time_on(self, day: date, not_before: datetime | None) -> datetime | None:
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                if not_before is None or candidate >= not_before:
                    return candidate
        return None


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    if text == "*":
        return frozenset(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = _number(step_text, 1, high)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, low, high, names), _value(b, low, high, names)
        else:
            start = _value(part, low, high, names)
            end = high if step != 1 else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _number(text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ScheduleError(f"cron value '{text}' is outside {low}-{high}")
    return int(text)


def _value(text: str, low: int, high: int, names: dict[str, int] | None) -> int:
    upper = text.upper()
    if names and upper in names:
        return names[upper]
    return _number(text, low, high)


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, target: int) -> bool:
    """``nW``: the weekday (Mon-Fri) nearest the ``target`` day, never crossing into another month."""
    target = min(target, _last_day(day))
    wanted = date(day.year, day.month, target)
    if wanted.weekday() == 5:  # Saturday -> Friday, or Monday when the 1st is a Saturday
        wanted = wanted - timedelta(days=1) if target > 1 else wanted + timedelta(days=2)
    elif wanted.weekday() == 6:  # Sunday -> Monday, or Friday when Sunday is the month's last day
        wanted = wanted + timedelta(days=1) if target < _last_day(day) else wanted - timedelta(days=2)
    return day == wanted


def _day_of_month_rule(text: str) -> DayRule:
    upper = text.upper()
    if upper == "L":
        return lambda d: d.day == _last_day(d)
    if upper.endswith("W"):
        target = _number(upper[:-1], 1, 31)
        return lambda d: _nearest_weekday(d, target)
    days = _field(text, 1, 31)
    return lambda d: d.day in days


def _day_of_week_rule(text: str) -> DayRule:
    upper = text.upper()
    if upper == "L":
        return lambda d: aws_weekday(d) == 7
    if upper.endswith("L"):
        weekday = _value(upper[:-1], 1, 7, _DAYS)
        return lambda d: aws_weekday(d) == weekday and d.day + 7 > _last_day(d)
    if "#" in upper:
        weekday_text, nth_text = upper.split("#", 1)
        weekday, nth = _value(weekday_text, 1, 7, _DAYS), _number(nth_text, 1, 5)
        return lambda d: aws_weekday(d) == weekday and (d.day - 1) // 7 + 1 == nth
    weekdays = _field(text, 1, 7, _DAYS)
    return lambda d: aws_weekday(d) in weekdays


def _parse_rate(expression: str) -> Schedule:
    match = _RATE.match(expression)
    if match is None:
        raise ScheduleError(
            f"'{expression}': a rate is rate(<whole number> <minute|minutes|hour|hours|day|days>)"
        )
    count, unit = int(match.group(1)), match.group(2)
    if count == 0:
        raise ScheduleError(f"'{expression}': the rate value must be a positive number")
    if (count == 1) != (not unit.endswith("s")):
        singular = unit.rstrip("s")
        raise ScheduleError(
            f"'{expression}': use rate(1 {singular}) for 1 and rate({count} {singular}s) otherwise"
        )
    return Schedule(expression, period_s=count * _UNIT_S[unit.rstrip("s")])


def _parse_cron(expression: str, body: str) -> Schedule:
    parts = body.split()
    if len(parts) != 6:
        raise ScheduleError(
            f"{expression}: cron needs six fields (minutes hours day-of-month month day-of-week year)"
        )
    day_of_month, day_of_week = parts[2], parts[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
    day_rule = _day_of_week_rule(day_of_week) if day_of_month == "?" else _day_of_month_rule(day_of_month)
    return Schedule(
        expression,
        minutes=_field(parts[0], 0, 59),
        hours=_field(parts[1], 0, 23),
        months=_field(parts[3], 1, 12, _MONTHS),
        years=_field(parts[5], 1970, 2199),
        day_rule=day_rule,
    )


def parse(expression: str) -> Schedule:
    """The schedule for an expression, or :class:`ScheduleError` where AWS would refuse it."""
    expression = expression.strip()
    if expression.startswith("rate("):
        return _parse_rate(expression)
    if match := _CRON.match(expression):
        return _parse_cron(expression, match.group(1))
    raise ScheduleError(f"unsupported schedule expression '{expression}' (use rate(...) or cron(...))")


def now_utc() -> datetime:
    return datetime.now(UTC)
