"""Where the local cloud listens, and boto3 clients that talk to it (never built at import time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

# Fake credentials: moto accepts anything, and real ones must never reach a local endpoint.
FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"
DEFAULT_REGION = "us-east-1"
# moto's default account id; ARNs built locally must match the ones moto returns.
LOCAL_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An AWS-compatible endpoint on loopback, with the fake credentials and region to use it."""

    url: str
    region: str = DEFAULT_REGION

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client for ``service`` against this endpoint (standard retries, short timeouts)."""
        cfg = Config(
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=config.pop("read_timeout", 60),
            max_pool_connections=config.pop("max_pool_connections", 10),
        )
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=FAKE_ACCESS_KEY_ID,
            aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
            config=cfg,
        )

    def environ(self) -> dict[str, str]:
        """The environment a process needs to use this endpoint with the AWS CLI, SDKs or osls."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        }
