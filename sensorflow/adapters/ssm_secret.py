"""A secret string from an SSM SecureString parameter, cached per container with a TTL.

The value is read with ``WithDecryption=True`` and kept only in memory: it is never logged, never put
in an exception message and never in the environment. ``repr`` of the holder does not show it.

``get`` requires the parameter (a missing one is a ``ConfigError``, asked again on every call so it is
seen as soon as it is created); ``find`` is for optional parameters such as a team's webhook: a missing
one is ``None``, and that answer is cached for the TTL like a value, so a team without a parameter costs
one ``GetParameter`` per TTL rather than one per message.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sensorflow.adapters import clients
from sensorflow.core.errors import ConfigError, TransientError

DEFAULT_TTL_S = 300.0
# botocore logs every response body at DEBUG on this logger, decrypted parameter values included. Lambda's
# advanced logging controls (ApplicationLogLevel=DEBUG) set the root logger to DEBUG, which would put the
# secret in CloudWatch Logs; so this one call runs with that logger held at INFO.
BODY_LOGGER = "botocore.parsers"


@contextlib.contextmanager
def _response_bodies_unlogged() -> Iterator[None]:
    log = logging.getLogger(BODY_LOGGER)
    previous = log.level
    log.setLevel(max(logging.INFO, previous))
    try:
        yield
    finally:
        log.setLevel(previous)


class SsmSecret:
    def __init__(
        self,
        name: str,
        client: Any = None,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._client = client
        self._ttl_s = ttl_s
        self._clock = clock
        self._value: str | None = None
        self._fetched = False
        self._fetched_at = 0.0

    def __repr__(self) -> str:
        return f"SsmSecret(name={self.name!r}, value=<redacted>)"

    client = clients.lazy_client("ssm")

    def get(self, refresh: bool = False) -> str:
        """The value; fetched again when the TTL ran out or ``refresh`` is asked for (e.g. after a 404)."""
        value = self.find(refresh or (self._fetched and self._value is None))
        if value is None:
            raise ConfigError(
                f"SSM parameter {self.name} does not exist: create it as a SecureString "
                "(aws ssm put-parameter --type SecureString ...)"
            )
        return value

    def find(self, refresh: bool = False) -> str | None:
        """The value, or ``None`` when the parameter does not exist; either answer is kept for the TTL."""
        if refresh or not self._fetched or self._clock() - self._fetched_at >= self._ttl_s:
            self._value = self._fetch()
            self._fetched = True
            self._fetched_at = self._clock()
        return self._value

    def _fetch(self) -> str | None:
        try:
            with _response_bodies_unlogged():
                resp = self.client.get_parameter(Name=self.name, WithDecryption=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            if code == "ParameterNotFound":
                return None
            raise TransientError(f"ssm:GetParameter {self.name} failed: {code}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"ssm:GetParameter {self.name} failed: {type(exc).__name__}") from exc
        param = resp["Parameter"]
        if param.get("Type") != "SecureString":
            raise ConfigError(
                f"SSM parameter {self.name} is a {param.get('Type')}, not a SecureString: "
                "store the secret encrypted"
            )
        return str(param["Value"])
