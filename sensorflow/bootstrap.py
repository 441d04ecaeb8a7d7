"""Composition root: builds each function's service from its settings with real adapters, once per container.

Tests call ``build_ingest_service`` with fakes, or with clients bound to moto.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sensorflow.config import (
    FailuresSettings,
    HeartbeatSettings,
    IncidentsSettings,
    IngestSettings,
    NotifySettings,
    load_rule_book,
)
from sensorflow.core.cache import CachingRegistry
from sensorflow.core.failed_batch import RangeReader
from sensorflow.core.ports import (
    DeviceRegistry,
    QuarantineSink,
    ReadingSink,
    SilenceStore,
    TransitionPublisher,
    WriterSchemas,
)
from sensorflow.core.rules import RuleBook
from sensorflow.services.ingest import IngestService

if TYPE_CHECKING:
    from sensorflow.adapters.dynamodb_alarms import DynamoAlarmStore
    from sensorflow.services.alarm_actions import AlarmActions
    from sensorflow.services.alarm_evaluator import AlarmEvaluator
    from sensorflow.services.failures import FailuresService
    from sensorflow.services.heartbeat import HeartbeatService
    from sensorflow.services.incidents import IncidentService
    from sensorflow.services.notify import NotifyService
    from sensorflow.services.outbox import TransitionQuarantine


def transition_publishers(
    topic_arn: str | None,
    bus_name: str | None,
    clients: dict[str, Any] | None = None,
    quarantine: TransitionQuarantine | None = None,
) -> list[TransitionPublisher]:
    """SNS then EventBridge; a target the stack does not have (``None``) gets no publisher. With a
    ``quarantine``, an event too large to publish is quarantined there instead of staying owed
    (``services.outbox.QuarantiningPublisher``)."""
    from sensorflow.adapters.eventbridge_transitions import EventBridgeTransitionPublisher
    from sensorflow.adapters.sns_transitions import SnsTransitionPublisher
    from sensorflow.services.outbox import CheckedPublisher, QuarantiningPublisher

    c = clients or {}
    checked: list[CheckedPublisher] = []
    if topic_arn:
        checked.append(SnsTransitionPublisher(topic_arn, c.get("sns")))
    if bus_name:
        checked.append(EventBridgeTransitionPublisher(bus_name, c.get("events")))
    if quarantine is None:
        return list(checked)
    return [QuarantiningPublisher(p, quarantine) for p in checked]


def build_alarm_evaluator(
    settings: IngestSettings,
    publishers: list[TransitionPublisher] | None = None,
    clients: dict[str, Any] | None = None,
) -> AlarmEvaluator:
    from sensorflow.adapters.dynamodb_alarms import DynamoAlarmStore
    from sensorflow.adapters.dynamodb_silences import SILENCE_CACHE_TTL_S
    from sensorflow.adapters.s3_quarantine import S3QuarantineSink
    from sensorflow.services.alarm_evaluator import AlarmEvaluator

    c = clients or {}
    quarantine = S3QuarantineSink(settings.quarantine_bucket, c.get("s3"))
    return AlarmEvaluator(
        store=DynamoAlarmStore(settings.alarms_table, c.get("dynamodb")),
        rules=load_rule_book(settings.rules_file),
        publishers=publishers
        or transition_publishers(settings.alerts_topic_arn, settings.alerts_event_bus, clients, quarantine),
        silences=build_silence_store(settings.alarms_table, c.get("dynamodb"), SILENCE_CACHE_TTL_S),
    )


def build_ingest_service(
    settings: IngestSettings,
    registry: DeviceRegistry | None = None,
    readings: ReadingSink | None = None,
    quarantine: QuarantineSink | None = None,
    publishers: list[TransitionPublisher] | None = None,
    clients: dict[str, Any] | None = None,
    writer_schemas: WriterSchemas | None = None,
) -> IngestService:
    from sensorflow.adapters.dynamodb_registry import DynamoDeviceRegistry
    from sensorflow.adapters.s3_quarantine import S3QuarantineSink
    from sensorflow.adapters.s3_readings import S3ReadingSink
    from sensorflow.core.decode import ReadingDecoder

    c = clients or {}
    return IngestService(
        registry=CachingRegistry(
            registry or DynamoDeviceRegistry(settings.device_table, c.get("dynamodb")),
            ttl_s=settings.device_cache_ttl_s,
        ),
        readings=readings or S3ReadingSink(settings.readings_bucket, c.get("s3")),
        quarantine=quarantine or S3QuarantineSink(settings.quarantine_bucket, c.get("s3")),
        alarms=build_alarm_evaluator(settings, publishers, clients),
        decoder=ReadingDecoder(
            writer_schemas=writer_schemas or build_writer_schemas(settings, c.get("glue")),
            raw_writer=raw_writer_schema(settings),
            framings=settings.accepted_framings,
        ),
        deadline_margin_ms=settings.deadline_margin_ms,
    )


def raw_writer_schema(settings: IngestSettings) -> Any:
    """The writer schema of raw records: version ``raw_writer_schema_version`` of the reading schema
    (``ConfigError`` naming it if schemas/history lacks it), or None for the current reader schema."""
    from sensorflow.core import schemas

    if settings.raw_writer_schema_version is None:
        return None
    return schemas.version(settings.raw_writer_schema_version)


def build_writer_schemas(settings: IngestSettings, glue_client: Any = None) -> WriterSchemas:
    """Glue-framed records' writer schemas from the stage's registry (cached per container), Confluent ones
    from the shipped id map (parsed now: a broken map fails here, naming the entry)."""
    from sensorflow.adapters.confluent_schemas import ConfluentSchemaIds
    from sensorflow.adapters.glue_schemas import GlueSchemaVersions
    from sensorflow.adapters.writer_schemas import RegistryWriterSchemas

    glue = None
    if settings.schema_registry_name:
        glue = GlueSchemaVersions(
            settings.schema_registry_name, glue_client, negative_ttl_s=settings.schema_miss_ttl_s
        )
    return RegistryWriterSchemas(glue, ConfluentSchemaIds(settings.confluent_schema_ids_file))


@functools.cache
def ingest_service() -> IngestService:
    """The container's service: built on the first invocation, reused while the container is warm."""
    return build_ingest_service(IngestSettings.from_env())


# --- alarm consumers (issue 5): notify, incidents, heartbeat ---------------------------------------


def build_notify_service(settings: NotifySettings, clients: dict[str, Any] | None = None) -> NotifyService:
    from sensorflow.adapters.dynamodb_notifications import DynamoNotificationLedger
    from sensorflow.adapters.ssm_webhook_routes import SsmWebhookRoutes
    from sensorflow.adapters.webhook_sender import WebhookSender
    from sensorflow.services.notify import NotifyService

    c = clients or {}
    return NotifyService(
        ledger=DynamoNotificationLedger(settings.notifications_table, c.get("dynamodb")),
        routes=SsmWebhookRoutes(
            settings.webhook_url_parameter,
            settings.team_webhook_parameter_path,
            lambda url, parameter: WebhookSender(
                url,
                parameter,
                timeout_s=settings.webhook_timeout_s,
                retry_after_max_s=settings.webhook_retry_after_max_s,
                allow_loopback_http=settings.webhook_allow_loopback_http,
            ),
            c.get("ssm"),
            ttl_s=settings.webhook_cache_ttl_s,
        ),
    )


@functools.cache
def notify_service() -> NotifyService:
    return build_notify_service(NotifySettings.from_env())


def build_incident_service(
    settings: IncidentsSettings, clients: dict[str, Any] | None = None
) -> IncidentService:
    import time

    from sensorflow.adapters.dynamodb_incidents import DynamoIncidentStore
    from sensorflow.services.incidents import IncidentService

    store = DynamoIncidentStore(settings.incidents_table, (clients or {}).get("dynamodb"))
    return IncidentService(store, sleep=time.sleep)


@functools.cache
def incident_service() -> IncidentService:
    return build_incident_service(IncidentsSettings.from_env())


def build_heartbeat_service(
    settings: HeartbeatSettings, clients: dict[str, Any] | None = None
) -> HeartbeatService:
    from sensorflow.adapters.dynamodb_alarms import DynamoAlarmStore
    from sensorflow.adapters.dynamodb_heartbeat import DynamoHeartbeatCheckpoint
    from sensorflow.adapters.dynamodb_silences import SILENCE_CACHE_TTL_S
    from sensorflow.services.heartbeat import HeartbeatService

    c = clients or {}
    return HeartbeatService(
        store=DynamoAlarmStore(settings.alarms_table, c.get("dynamodb")),
        checkpoint=DynamoHeartbeatCheckpoint(settings.alarms_table, c.get("dynamodb")),
        publishers=transition_publishers(
            settings.alerts_topic_arn, settings.alerts_event_bus, clients, _quarantine(settings, c)
        ),
        initial_lookback_minutes=settings.initial_lookback_minutes,
        max_minutes_per_run=settings.max_minutes_per_run,
        rules=load_rule_book(settings.rules_file),
        silences=build_silence_store(settings.alarms_table, c.get("dynamodb"), SILENCE_CACHE_TTL_S),
    )


def _quarantine(settings: HeartbeatSettings, c: dict[str, Any]) -> TransitionQuarantine | None:
    from sensorflow.adapters.s3_quarantine import S3QuarantineSink

    return S3QuarantineSink(settings.quarantine_bucket, c.get("s3")) if settings.quarantine_bucket else None


@functools.cache
def heartbeat_service() -> HeartbeatService:
    return build_heartbeat_service(HeartbeatSettings.from_env())


# --- failures (issue 14): ingest's on-failure queue -> the quarantine --------------------------------


def build_failures_service(
    settings: FailuresSettings,
    reader: RangeReader | None = None,
    quarantine: QuarantineSink | None = None,
    clients: dict[str, Any] | None = None,
) -> FailuresService:
    from sensorflow.adapters.kinesis_ranges import KinesisRangeReader
    from sensorflow.adapters.s3_quarantine import S3QuarantineSink
    from sensorflow.services.failures import FailuresService

    c = clients or {}
    return FailuresService(
        reader=reader or KinesisRangeReader(c.get("kinesis")),
        quarantine=quarantine or S3QuarantineSink(settings.quarantine_bucket, c.get("s3")),
        deadline_margin_ms=settings.deadline_margin_ms,
    )


@functools.cache
def failures_service() -> FailuresService:
    return build_failures_service(FailuresSettings.from_env())


# --- operator tools (the `sensorflow alarms` command): the same store and publishers as the functions ---


def build_alarm_store(alarms_table: str, client: Any = None) -> DynamoAlarmStore:
    from sensorflow.adapters.dynamodb_alarms import DynamoAlarmStore

    return DynamoAlarmStore(alarms_table, client)


def build_alarm_actions(
    alarms_table: str,
    topic_arn: str | None,
    bus_name: str | None,
    rules: RuleBook,
    clients: dict[str, Any] | None = None,
) -> AlarmActions:
    from sensorflow.services.alarm_actions import AlarmActions

    store = build_alarm_store(alarms_table, (clients or {}).get("dynamodb"))
    return AlarmActions(store, rules, transition_publishers(topic_arn, bus_name, clients))


def build_silence_store(
    alarms_table: str, client: Any = None, cache_ttl_s: float | None = None
) -> SilenceStore:
    """The stage's silences (one item in the alarms table). Readers (ingest, heartbeat) pass ``cache_ttl_s``
    (``adapters.dynamodb_silences.SILENCE_CACHE_TTL_S``) for a per-container copy; the CLI reads it fresh."""
    from sensorflow.adapters.dynamodb_silences import CachingSilenceStore, DynamoSilenceStore

    store = DynamoSilenceStore(alarms_table, client)
    return store if cache_ttl_s is None else CachingSilenceStore(store, ttl_s=cache_ttl_s)
