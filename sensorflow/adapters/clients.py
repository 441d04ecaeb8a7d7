"""Cached boto3 clients, created on first use (never at import time, so moto can intercept them).

boto3's default retry mode is ``legacy``; ``standard`` gives capped exponential backoff with jitter,
3 attempts and a retry quota (boto3 guide, "retries"). ``AWS_ENDPOINT_URL`` is honoured by botocore
itself, which is how the same code talks to the local cloud.
"""

from __future__ import annotations

import functools
from typing import Any

RETRY_CONFIG = {"mode": "standard", "max_attempts": 3}
# The alarm evaluator writes device items from a pool of this many threads; botocore's connection pool
# (10 by default) must be at least as large or the threads queue for a connection.
MAX_POOL_CONNECTIONS = 16


@functools.cache
def _config() -> Any:
    from botocore.config import Config

    return Config(
        retries=RETRY_CONFIG,
        connect_timeout=3,
        read_timeout=10,
        tcp_keepalive=True,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


@functools.cache
def client(service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service, config=_config())


def reset() -> None:
    """Forget cached clients (tests that switch between mock and server endpoints)."""
    client.cache_clear()


def lazy_client(service: str) -> Any:
    """A ``client`` property for adapters: the client injected as ``self._client``, else the cached
    default for ``service``, created on first use (never at import, so moto can intercept it)."""

    def get(self: Any) -> Any:
        if self._client is None:
            self._client = client(service)
        return self._client

    return property(get)
