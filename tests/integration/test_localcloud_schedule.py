"""Schedule expressions the local runtime fires: rate(...) and six-field cron(...), in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sensorflow.localcloud.emulator.schedules import ScheduleError, parse

T0 = datetime(2026, 3, 6, 10, 7, 30, tzinfo=UTC)  # a Friday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 minute)", datetime(2026, 3, 6, 10, 8, 30, tzinfo=UTC)),
        ("rate(5 minutes)", datetime(2026, 3, 6, 10, 12, 30, tzinfo=UTC)),
        ("rate(2 hours)", datetime(2026, 3, 6, 12, 7, 30, tzinfo=UTC)),
        ("rate(1 day)", datetime(2026, 3, 7, 10, 7, 30, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", datetime(2026, 3, 6, 10, 15, tzinfo=UTC)),
        ("cron(0 12 * * ? *)", datetime(2026, 3, 6, 12, 0, tzinfo=UTC)),
        ("cron(0 8 ? * MON-FRI *)", datetime(2026, 3, 9, 8, 0, tzinfo=UTC)),
        ("cron(30 9 1 JAN,JUL ? *)", datetime(2026, 7, 1, 9, 30, tzinfo=UTC)),
        ("cron(0 0 ? * 1 *)", datetime(2026, 3, 8, 0, 0, tzinfo=UTC)),  # 1 = Sunday in EventBridge
        # L, W and #, as eb-scheduled-rule-pattern.html documents them
        ("cron(0 12 L * ? *)", datetime(2026, 3, 31, 12, 0, tzinfo=UTC)),  # last day of March
        ("cron(0 12 L FEB ? *)", datetime(2027, 2, 28, 12, 0, tzinfo=UTC)),
        ("cron(0 12 L FEB ? 2028)", datetime(2028, 2, 29, 12, 0, tzinfo=UTC)),  # leap year
        ("cron(0 9 ? * 6L *)", datetime(2026, 3, 27, 9, 0, tzinfo=UTC)),  # last Friday of March
        ("cron(0 9 ? * L *)", datetime(2026, 3, 7, 9, 0, tzinfo=UTC)),  # L alone: Saturday
        ("cron(0 9 ? * 3#2 *)", datetime(2026, 3, 10, 9, 0, tzinfo=UTC)),  # second Tuesday
        ("cron(0 9 ? * MON#1 *)", datetime(2026, 4, 6, 9, 0, tzinfo=UTC)),  # first Monday (March's passed)
        ("cron(0 9 15W * ? *)", datetime(2026, 3, 16, 9, 0, tzinfo=UTC)),  # 15th is a Sunday -> Monday 16th
        ("cron(0 9 14W * ? *)", datetime(2026, 3, 13, 9, 0, tzinfo=UTC)),  # 14th is a Saturday -> Friday 13th
        ("cron(0 9 1W AUG ? *)", datetime(2026, 8, 3, 9, 0, tzinfo=UTC)),  # 1 Aug is a Saturday -> Monday 3rd
        (
            "cron(0 9 31W MAY ? *)",
            datetime(2026, 5, 29, 9, 0, tzinfo=UTC),
        ),  # 31 May is a Sunday -> Friday 29th
        ("cron(0 10 6 * ? *)", datetime(2026, 4, 6, 10, 0, tzinfo=UTC)),  # today's 10:00 has passed
        ("cron(8 10 6 3 ? 2026)", datetime(2026, 3, 6, 10, 8, tzinfo=UTC)),  # later the same day
    ],
)
def test_next_firing_time(expression: str, expected: datetime) -> None:
    assert parse(expression).next_after(T0) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0.5 minutes)",
        "rate(5 minute)",  # AWS: plural unit for values above 1
        "rate(1 minutes)",  # and singular for 1
        "rate(0 minutes)",
        "cron(0 12 * *)",
        "cron(0 12 * * * *)",  # day-of-month and day-of-week both set: one of them must be ?
        "cron(0 12 1 * MON *)",
        "cron(0 12 ? * ? *)",  # and not both ?
        "cron(61 12 * * ? *)",
        "cron(0 12 32W * ? *)",
        "cron(0 12 ? * 3#6 *)",
        "at(2026-01-01T00:00:00)",
    ],
)
def test_expressions_aws_refuses_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse(expression)
