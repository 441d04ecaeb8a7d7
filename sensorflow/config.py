"""Settings from the environment, read in one place and checked on first use (not at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sensorflow.core import schemas
from sensorflow.core.checks import PLAUSIBLE_RANGE
from sensorflow.core.errors import ConfigError
from sensorflow.core.framing import AUTO, Framing, parse_framings
from sensorflow.core.rules import RuleBook, parse_rule_book
from sensorflow.jsonfile import read_json

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.json")
# Confluent-framed records: schema id -> a version in schemas/history (adapters.confluent_schemas).
DEFAULT_CONFLUENT_IDS_FILE = schemas.SCHEMA_DIR / "confluent-ids.json"
SENSOR_TYPES = frozenset(PLAUSIBLE_RANGE)  # the sensor types the checks know how to validate


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """The ``ingest`` function (decode, enrich, alarms, readings and quarantine)."""

    device_table: str
    readings_bucket: str
    quarantine_bucket: str
    alerts_topic_arn: str
    alerts_event_bus: str
    alarms_table: str
    rules_file: Path = DEFAULT_RULES_FILE
    device_cache_ttl_s: float = 300.0
    deadline_margin_ms: int = 5_000
    # The stage's Glue Schema Registry (serverless.yml's SchemaRegistry): Glue-framed records name their
    # writer schema by a version id in it. None: Glue-framed records are quarantined as unknown schemas.
    schema_registry_name: str | None = None
    # How long an id the registry does not know is remembered (one GetSchemaVersion per id per TTL).
    schema_miss_ttl_s: float = 60.0
    confluent_schema_ids_file: Path = DEFAULT_CONFLUENT_IDS_FILE
    # The framings this stage accepts (ACCEPTED_FRAMINGS: ``auto`` or a subset of raw,glue,confluent,kpl).
    accepted_framings: frozenset[Framing] = AUTO
    # The version (schemas/history) raw schemaless records are written in: raw bytes name no schema, so the
    # stage says it. None: the current reader schema, what this repo's raw producers write.
    raw_writer_schema_version: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IngestSettings:
        env = os.environ if env is None else env
        values = _require(
            env,
            {
                "device_table": "DEVICE_TABLE_NAME",
                "readings_bucket": "READINGS_BUCKET_NAME",
                "quarantine_bucket": "QUARANTINE_BUCKET_NAME",
                "alerts_topic_arn": "ALERTS_TOPIC_ARN",
                "alerts_event_bus": "ALERTS_EVENT_BUS_NAME",
                "alarms_table": "ALARMS_TABLE_NAME",
            },
            "ingest",
        )
        return cls(
            **values,
            rules_file=Path(env.get("RULES_FILE") or DEFAULT_RULES_FILE),
            device_cache_ttl_s=_number(env, "DEVICE_CACHE_TTL_SECONDS", 300.0),
            deadline_margin_ms=int(_number(env, "DEADLINE_MARGIN_MS", 5_000)),
            schema_registry_name=env.get("SCHEMA_REGISTRY_NAME", "").strip() or None,
            schema_miss_ttl_s=_number(env, "SCHEMA_MISS_CACHE_SECONDS", 60.0),
            confluent_schema_ids_file=Path(
                env.get("CONFLUENT_SCHEMA_IDS_FILE") or DEFAULT_CONFLUENT_IDS_FILE
            ),
            accepted_framings=_framings(env, "ACCEPTED_FRAMINGS"),
            raw_writer_schema_version=_version(env, "RAW_WRITER_SCHEMA_VERSION"),
        )


def _framings(env: Mapping[str, str], name: str) -> frozenset[Framing]:
    raw = env.get(name, "").strip()
    if not raw:
        return AUTO
    try:
        return parse_framings(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name}: {exc}") from None


def _version(env: Mapping[str, str], name: str) -> int | None:
    """A schema version number (1, 2, ...; ``v2`` too), or None when unset or empty."""
    raw = env.get(name, "").strip().lower().removeprefix("v")
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"environment variable {name}={env[name]!r} must be a schema version number (1, 2, ...)"
        )
    return int(raw)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} must be a number") from None
    if value < 0:
        raise ConfigError(f"environment variable {name}={raw!r} must not be negative")
    return value


def load_rules_document(path: Path) -> dict:
    return dict(read_json(path, f"rules file {path}", ConfigError))


def load_rule_book(path: Path | None = None) -> RuleBook:
    """The validated rules file (default: the packaged ``rules.json``); ``ConfigError`` naming the fault."""
    return parse_rule_book(load_rules_document(path or DEFAULT_RULES_FILE), set(SENSOR_TYPES))


def _require(env: Mapping[str, str], names: Mapping[str, str], function: str) -> dict[str, str]:
    missing = [var for var in names.values() if not env.get(var)]
    if missing:
        raise ConfigError(
            f"{function}: missing environment variable(s) {', '.join(missing)}: deploy with serverless.yml, "
            "or export them for a local run"
        )
    return {field: env[var] for field, var in names.items()}


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """The ``notify`` function. The webhook URLs themselves are never in the environment: only the names
    of the SSM SecureString parameters that hold them (the default one, and the path under which each
    owner team may have its own: ``<path>/<owner_team>``)."""

    notifications_table: str
    webhook_url_parameter: str
    webhook_cache_ttl_s: float = 300.0
    webhook_timeout_s: float = 5.0
    team_webhook_parameter_path: str | None = None
    webhook_retry_after_max_s: float = 10.0
    # Plain http to loopback (the local cloud's webhook receiver on 127.0.0.1). Only the local stage sets
    # WEBHOOK_ALLOW_LOOPBACK_HTTP=true (serverless.yml params); everywhere else the webhook is https to a
    # public address.
    webhook_allow_loopback_http: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifySettings:
        env = os.environ if env is None else env
        values = _require(
            env,
            {
                "notifications_table": "NOTIFICATIONS_TABLE_NAME",
                "webhook_url_parameter": "WEBHOOK_URL_PARAMETER",
            },
            "notify",
        )
        if "://" in values["webhook_url_parameter"]:
            # The value is not echoed: it is a URL, and webhook URLs are credentials.
            raise ConfigError(
                "WEBHOOK_URL_PARAMETER must name the SSM parameter (e.g. /sensorflow/<stage>/webhook-url), "
                "not hold the URL itself"
            )
        team_path = env.get("WEBHOOK_TEAM_PARAMETER_PATH", "").strip().rstrip("/") or None
        if team_path is not None and (not team_path.startswith("/") or "://" in team_path):
            raise ConfigError(
                "WEBHOOK_TEAM_PARAMETER_PATH must be an SSM parameter path such as "
                "/sensorflow/<stage>/webhooks/teams (each team's parameter is <path>/<owner_team>)"
            )
        return cls(
            **values,
            webhook_cache_ttl_s=_number(env, "WEBHOOK_URL_CACHE_SECONDS", 300.0),
            webhook_timeout_s=_number(env, "WEBHOOK_TIMEOUT_SECONDS", 5.0) or 5.0,
            team_webhook_parameter_path=team_path,
            webhook_retry_after_max_s=_number(env, "WEBHOOK_RETRY_AFTER_MAX_SECONDS", 10.0),
            webhook_allow_loopback_http=_flag(env, "WEBHOOK_ALLOW_LOOPBACK_HTTP"),
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    """``true`` or ``false`` (any case); unset or empty is false, anything else a ``ConfigError``."""
    raw = env.get(name, "").strip().lower()
    if raw not in ("", "true", "false"):
        raise ConfigError(f"environment variable {name}={env[name]!r} must be true or false")
    return raw == "true"


@dataclass(frozen=True, slots=True)
class IncidentsSettings:
    incidents_table: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IncidentsSettings:
        env = os.environ if env is None else env
        return cls(**_require(env, {"incidents_table": "INCIDENTS_TABLE_NAME"}, "incidents"))


@dataclass(frozen=True, slots=True)
class HeartbeatSettings:
    alarms_table: str
    alerts_topic_arn: str
    alerts_event_bus: str
    # With no checkpoint yet (first run), look this far back for deadlines that already passed.
    initial_lookback_minutes: int = 60
    # Catch-up after an outage is spread over runs: at most this many minute buckets per run.
    max_minutes_per_run: int = 240
    rules_file: Path = DEFAULT_RULES_FILE  # the alarms' timers (reminders): the ingest side's rules
    quarantine_bucket: str | None = None  # a transition too large to publish goes there

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HeartbeatSettings:
        env = os.environ if env is None else env
        values = _require(
            env,
            {
                "alarms_table": "ALARMS_TABLE_NAME",
                "alerts_topic_arn": "ALERTS_TOPIC_ARN",
                "alerts_event_bus": "ALERTS_EVENT_BUS_NAME",
            },
            "heartbeat",
        )
        return cls(
            **values,
            initial_lookback_minutes=int(_number(env, "HEARTBEAT_INITIAL_LOOKBACK_MINUTES", 60)),
            max_minutes_per_run=max(1, int(_number(env, "HEARTBEAT_MAX_MINUTES_PER_RUN", 240))),
            rules_file=Path(env.get("RULES_FILE") or DEFAULT_RULES_FILE),
            quarantine_bucket=env.get("QUARANTINE_BUCKET_NAME") or None,
        )


@dataclass(frozen=True, slots=True)
class FailuresSettings:
    """The ``failures`` function (ingest's on-failure queue -> the quarantine)."""

    quarantine_bucket: str
    deadline_margin_ms: int = 5_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FailuresSettings:
        env = os.environ if env is None else env
        values = _require(env, {"quarantine_bucket": "QUARANTINE_BUCKET_NAME"}, "failures")
        return cls(**values, deadline_margin_ms=int(_number(env, "DEADLINE_MARGIN_MS", 5_000)))
