"""Operator actions from the console's forms, through the same code as ``sensorflow alarms`` / ``silences``.

A form becomes the ``argparse.Namespace`` the CLI's parser would have produced, and goes through the
CLI's own checks (``alarms_command.check_request``, ``silences_command.check_new``), the same
``AlarmActions`` (``bootstrap.build_alarm_actions``) and silence store, and the same identity: ``--by``
(the console's flag, default ``$USER``) and the caller ARN STS ``GetCallerIdentity`` returns for the
credentials the console runs with (``cli.operator.identify``, asked on each action like each CLI run).
A refusal is the CLI's ``UsageError``, shown on the page as the CLI would print it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sensorflow.cli import alarms_command, silences_command
from sensorflow.cli.errors import UsageError, aws_errors
from sensorflow.cli.operator import Operator, identify
from sensorflow.core import silences as sl
from sensorflow.services.alarm_actions import ACTIONS, AlarmActions

SILENCE_FIELDS = ("site", "owner_team", "sensor_type", "device_id")  # core.silences' matcher fields


def _text(fields: Mapping[str, str], name: str) -> str | None:
    value = (fields.get(name) or "").strip()
    return value or None


def alarm_args(action: str, alarm_id: str, fields: Mapping[str, str], by: str | None) -> argparse.Namespace:
    """The namespace ``sensorflow alarms ACTION ALARM_ID`` parses from the form's fields."""
    return argparse.Namespace(
        action=action,
        alarm_id=alarm_id,
        by=by,
        note=_text(fields, "note"),
        reason=_text(fields, "reason"),
        duration=_text(fields, "for"),
        until=_text(fields, "until"),
    )


def silence_args(fields: Mapping[str, str], by: str | None) -> argparse.Namespace:
    """The namespace ``sensorflow silences add --match F=V ... --for D --comment C`` parses."""
    matches = [f"{name}={value}" for name in SILENCE_FIELDS if (value := _text(fields, f"match_{name}"))]
    return argparse.Namespace(
        action="add",
        match=matches,
        duration=_text(fields, "for"),
        until=_text(fields, "until"),
        starts=_text(fields, "starts"),
        comment=_text(fields, "comment"),
        by=by,
    )


class StageActions:
    """``ConsoleActions`` over a stage: the CLI's alarm actions and silence store, acting as ``by``."""

    def __init__(self, actions: AlarmActions, silences: Any, sts: Any, by: str | None = None) -> None:
        self._actions = actions
        self._silences = silences
        self._sts = sts
        self._by = by

    def operator(self) -> Operator:
        """Who the actions are recorded as (asked again on each action, like each CLI run)."""
        return identify(self._sts, self._by)

    def alarm_action(self, action: str, alarm_id: str, fields: Mapping[str, str], now_ms: int) -> str:
        if action not in ACTIONS:
            raise UsageError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
        request = alarms_command.check_request(alarm_args(action, alarm_id, fields, self._by), now_ms)
        operator = identify(self._sts, self._by)
        return alarms_command.apply_request(self._actions, request, operator, now_ms)

    def add_silence(self, fields: Mapping[str, str], now_ms: int) -> str:
        draft = silences_command.check_new(silence_args(fields, self._by), now_ms)
        operator = identify(self._sts, self._by)
        silence = replace(draft, created_by=operator.by, caller_arn=operator.caller_arn)
        try:
            with aws_errors("add silence"):
                self._silences.add(silence)
        except sl.SilenceError as exc:
            raise UsageError(str(exc)) from None
        return f"{silence.silence_id}: {silences_command.describe(silence, now_ms)}"
