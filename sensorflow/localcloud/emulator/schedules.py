"""EventBridge schedule expressions: ``rate(...)`` and six-field ``cron(...)``, evaluated in UTC.

Source: docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
Supported cron syntax: ``*``, ``?``, numbers, names (JAN, MON), ranges, lists and ``/`` steps.
``L``, ``W`` and ``#`` are rejected with a clear error instead of firing at the wrong time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}  # AWS: 1 = Sunday


class ScheduleError(ValueError):
    """A schedule expression this emulation cannot evaluate."""


@dataclass(frozen=True, slots=True)
class Schedule:
    expression: str
    period_s: int | None = None  # rate(...)
    fields: tuple[frozenset[int], ...] | None = None  # cron: minute, hour, day, month, weekday, year

    def next_after(self, when: datetime) -> datetime:
        """The first firing time strictly after ``when`` (UTC)."""
        if self.period_s is not None:
            return when + timedelta(seconds=self.period_s)
        assert self.fields is not None
        minutes, hours, days, months, weekdays, years = self.fields
        t = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(60 * 24 * 366 * 2):
            aws_weekday = (t.isoweekday() % 7) + 1
            if (
                t.minute in minutes
                and t.hour in hours
                and t.month in months
                and t.year in years
                and t.day in days
                and aws_weekday in weekdays
            ):
                return t
            t += timedelta(minutes=1)
        raise ScheduleError(f"{self.expression} never fires in the next two years")


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    if text in ("*", "?"):
        return frozenset(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step != 1 else start
        values.update(range(start, end + 1, step))
    return frozenset(v for v in values if low <= v <= high)


def _value(text: str, names: dict[str, int] | None) -> int:
    upper = text.upper()
    if names and upper in names:
        return names[upper]
    if not text.isdigit():
        raise ScheduleError(f"unsupported cron token '{text}' (L, W and # are not emulated)")
    return int(text)


def parse(expression: str) -> Schedule:
    expression = expression.strip()
    if match := _RATE.match(expression):
        count, unit = int(match.group(1)), match.group(2).rstrip("s")
        return Schedule(expression, period_s=count * _UNIT_S[unit])
    if match := _CRON.match(expression):
        parts = match.group(1).split()
        if len(parts) != 6:
            raise ScheduleError(f"{expression}: cron needs six fields (minutes hours day month weekday year)")
        fields = (
            _field(parts[0], 0, 59),
            _field(parts[1], 0, 23),
            _field(parts[2], 1, 31),
            _field(parts[3], 1, 12, _MONTHS),
            _field(parts[4], 1, 7, _DAYS),
            _field(parts[5], 1970, 2199),
        )
        return Schedule(expression, fields=fields)
    raise ScheduleError(f"unsupported schedule expression '{expression}'")


def now_utc() -> datetime:
    return datetime.now(UTC)
