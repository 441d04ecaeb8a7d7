"""Settings from the environment, read in one place and checked on first use (not at import)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sensorflow.core.errors import ConfigError

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.json")


@dataclass(frozen=True, slots=True)
class Settings:
    device_table: str
    readings_bucket: str
    quarantine_bucket: str
    alerts_topic_arn: str
    alerts_event_bus: str
    rules_file: Path = DEFAULT_RULES_FILE
    device_cache_ttl_s: float = 300.0
    deadline_margin_ms: int = 5_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        required = {
            "device_table": "DEVICE_TABLE_NAME",
            "readings_bucket": "READINGS_BUCKET_NAME",
            "quarantine_bucket": "QUARANTINE_BUCKET_NAME",
            "alerts_topic_arn": "ALERTS_TOPIC_ARN",
            "alerts_event_bus": "ALERTS_EVENT_BUS_NAME",
        }
        missing = [var for var in required.values() if not env.get(var)]
        if missing:
            raise ConfigError(
                f"missing environment variable(s) {', '.join(missing)}: deploy with serverless.yml, "
                "or export them for a local run (sls invoke local resolves them from the deployed stack)"
            )
        values = {field: env[var] for field, var in required.items()}
        return cls(
            **values,
            rules_file=Path(env.get("RULES_FILE") or DEFAULT_RULES_FILE),
            device_cache_ttl_s=_number(env, "DEVICE_CACHE_TTL_SECONDS", 300.0),
            deadline_margin_ms=int(_number(env, "DEADLINE_MARGIN_MS", 5_000)),
        )


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
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"rules file {path}: cannot be read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"rules file {path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
