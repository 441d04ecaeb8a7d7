"""Translate botocore failures into the pipeline's error types."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from sensorflow.core.errors import TransientError


@contextlib.contextmanager
def transient(operation: str) -> Iterator[None]:
    """Any AWS failure inside becomes a ``TransientError`` naming the operation and the AWS error code."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        raise TransientError(f"{operation} failed: {code}") from exc
    except BotoCoreError as exc:
        raise TransientError(f"{operation} failed: {type(exc).__name__}") from exc
