"""DynamoDB's attribute-value format, and the one test for "the write's condition did not hold".

Every DynamoDB adapter stores plain values (``str``, ``bool``, ``int``, ``float``, lists, dicts) and reads
them back with the same types: numbers without a fraction or exponent come back as ``int``, the rest as
``float``. ``None`` is not stored (absent attributes read back as missing keys). Written by hand rather
than with boto3's ``TypeSerializer``, which insists on ``Decimal`` and costs several times more per item on
the ingest hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

# The error codes DynamoDB uses for a failed ConditionExpression (API reference: PutItem, UpdateItem,
# TransactWriteItems CancellationReasons).
CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"
CANCELLATION_CONDITION_FAILED = "ConditionalCheckFailed"


def to_attribute(value: Any) -> dict[str, Any]:
    """One plain value as an AttributeValue (``bool`` before ``int``: ``True`` is an ``int`` in Python)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v) for v in value]}
    if isinstance(value, Mapping):
        return {"M": to_item(value)}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def to_item(plain: Mapping[str, Any]) -> dict[str, Any]:
    """A dict of plain values as a DynamoDB item, leaving out ``None``."""
    return {k: to_attribute(v) for k, v in plain.items() if v is not None}


def from_attribute(attr: Mapping[str, Any]) -> Any:
    (kind, value), *_ = attr.items()
    if kind == "N":
        return float(value) if any(c in value for c in ".eE") else int(value)
    if kind == "L":
        return [from_attribute(v) for v in value]
    if kind == "M":
        return from_item(value)
    if kind == "NULL":
        return None
    return value  # S, BOOL (B and sets are never written by these adapters)


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: from_attribute(v) for k, v in item.items()}


def condition_failed(exc: BaseException) -> bool:
    """True when DynamoDB refused a write because its condition did not hold, judged by error code.

    Accepts the ``ClientError`` itself or an error raised ``from`` it (``TransientError``). A cancelled
    transaction counts when one of its ``CancellationReasons`` is a failed condition.
    """
    cause = exc if isinstance(exc, ClientError) else exc.__cause__
    if not isinstance(cause, ClientError):
        return False
    code = cause.response.get("Error", {}).get("Code")
    if code == CONDITIONAL_CHECK_FAILED:
        return True
    reasons = cause.response.get("CancellationReasons") or []
    return code == TRANSACTION_CANCELED and any(
        r.get("Code") == CANCELLATION_CONDITION_FAILED for r in reasons
    )
