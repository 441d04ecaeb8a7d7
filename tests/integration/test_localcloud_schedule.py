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
    ],
)
def test_next_firing_time(expression: str, expected: datetime) -> None:
    assert parse(expression).next_after(T0) == expected


@pytest.mark.parametrize(
    "expression", ["rate(0.5 minutes)", "cron(0 12 * *)", "cron(0 12 L * ? *)", "at(2026-01-01T00:00:00)"]
)
def test_unsupported_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse(expression)
