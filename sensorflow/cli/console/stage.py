"""The console's real source and actions for one stage: its stack's resources, through the adapters.

Resources come from the outputs of stack ``sensorflow-<stage>`` (``cli.stack_outputs``, as every operator
command finds them); the credentials and region are the user's own (``cli.operator.aws_session``), and the
local cloud is reached through ``AWS_ENDPOINT_URL`` as for the CLI. When that endpoint is the running local
cloud of this stage, its own stream lag stands in for CloudWatch's IteratorAge (it publishes no metrics).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sensorflow import bootstrap
from sensorflow.cli import alarms_command
from sensorflow.cli.console.health import StageHealth
from sensorflow.cli.console.model import AlarmRow, Health, QuarantineView, ReadingPoint, TransitionRow
from sensorflow.cli.console.operator_actions import StageActions
from sensorflow.cli.console.quarantine import quarantine_view
from sensorflow.cli.console.readings import S3RecentReadings
from sensorflow.cli.console.transition_log import StageTransitions
from sensorflow.cli.errors import UsageError, aws_errors
from sensorflow.cli.operator import aws_session
from sensorflow.cli.stack_outputs import read_outputs, require_output
from sensorflow.core.errors import ConfigError
from sensorflow.core.rules import RuleBook

CLIENTS = ("dynamodb", "s3", "sqs", "cloudwatch", "sns", "events", "sts")


class StageSource:
    """``ConsoleSource`` over a deployed stage (AWS or the local cloud)."""

    def __init__(
        self,
        stage: str,
        outputs: Mapping[str, str],
        clients: Mapping[str, Any],
        local_status: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.stage = stage
        table = require_output(dict(outputs), alarms_command.TABLE_OUTPUT, stage, "deploy it first")
        self._store = bootstrap.build_alarm_store(table, clients["dynamodb"])
        self._silences = bootstrap.build_silence_store(table, clients["dynamodb"])
        self._transitions = StageTransitions(
            outputs.get("IncidentsTableName"), outputs.get("NotificationsTableName"), clients["dynamodb"]
        )
        readings = outputs.get("ReadingsBucketName")
        self._readings = S3RecentReadings(readings, clients["s3"]) if readings else None
        self._quarantine_bucket = outputs.get("QuarantineBucketName")
        self._s3 = clients["s3"]
        self._health = StageHealth(stage, outputs, clients, local_status)

    def alarms(self, now_ms: int) -> list[AlarmRow]:
        """Every stored alarm, what `sensorflow alarms list` says suppresses it, and its device's context."""
        with aws_errors("list alarms"):
            alarms = self._store.list_alarms(None)
            listed = alarms_command.suppression(self._store, self._silences.active(now_ms), alarms, now_ms)
            devices = self._store.load(sorted({a.device_id for a in alarms})) if alarms else {}
        rows = []
        for row in listed:
            a = row.alarm
            stored = devices.get(a.device_id)
            context = stored.state.context if stored is not None else {}
            seen = stored.state.sensors.get(a.sensor_type) if stored is not None else None
            rows.append(
                AlarmRow(
                    alarm=a,
                    site=str(context.get("site") or ""),
                    location=str(context.get("location") or ""),
                    owner_team=str(context.get("owner_team") or ""),
                    last_value=None if seen is None else seen.value,
                    suppressed="" if row.suppressed == "-" else row.suppressed,
                )
            )
        return rows

    def transitions(self, limit: int, device_id: str | None = None) -> list[TransitionRow]:
        with aws_errors("read recent transitions"):
            return self._transitions.recent(limit, device_id)

    def readings(self, device_id: str, since_ms: int, now_ms: int) -> list[ReadingPoint]:
        if self._readings is None:
            return []
        with aws_errors("read readings"):
            return self._readings.for_device(device_id, since_ms, now_ms)

    def device_context(self, device_id: str) -> Mapping[str, str] | None:
        with aws_errors(f"read device {device_id}"):
            stored = self._store.get_device(device_id)
        return None if stored is None else {k: str(v) for k, v in stored.state.context.items()}

    def quarantine(self, now_ms: int) -> QuarantineView:
        if not self._quarantine_bucket:
            return QuarantineView({}, (), "the stack has no quarantine bucket output")
        with aws_errors("read the quarantine"):
            return quarantine_view(self._quarantine_bucket, self._s3, now_ms)

    def health(self, now_ms: int) -> Health:
        return self._health.read(now_ms)


def load_rules(path: Path | None) -> RuleBook:
    from sensorflow.config import load_rule_book

    try:
        return load_rule_book(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def local_cloud_status(stage: str) -> Callable[[], Mapping[str, Any]] | None:
    """The running local cloud's status, when ``AWS_ENDPOINT_URL`` points at this stage's local cloud."""
    from sensorflow.cli.local_command import fetch_status
    from sensorflow.localcloud.cloud import pid_alive, read_state

    try:
        info = read_state()
    except (OSError, ValueError):
        return None
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/")
    if (
        info is None
        or info.stage != stage
        or not pid_alive(info.pid)
        or info.endpoint.rstrip("/") != endpoint
    ):
        return None
    return lambda: fetch_status(info)


def open_stage(
    stage: str, region: str | None, by: str | None, rules_path: Path | None = None
) -> tuple[StageSource, StageActions]:
    """The source and actions of ``stage`` with the user's credentials (a usage error if not deployed)."""
    rules = load_rules(rules_path)
    session = aws_session(region)
    outputs = read_outputs(session.client("cloudformation"), stage)
    with aws_errors("connect to AWS"):
        clients = {name: session.client(name) for name in CLIENTS}
    source = StageSource(stage, outputs, clients, local_cloud_status(stage))
    table = outputs[alarms_command.TABLE_OUTPUT]  # StageSource has checked it is there
    topic, bus = outputs.get(alarms_command.TOPIC_OUTPUT), outputs.get(alarms_command.BUS_OUTPUT)
    actions = bootstrap.build_alarm_actions(table, topic, bus, rules, clients)
    silences = bootstrap.build_silence_store(table, clients["dynamodb"])
    return source, StageActions(actions, silences, clients["sts"], by)
