"""Size caps on the text that enters from the device registry or from an operator, checked where it enters.

Every transition document carries the device's registry context (``site``, ``location``, ``model``,
``owner_team``) and the operator's note, and SNS sends ``site`` and ``owner_team`` once more as filter
attributes. Without a cap, one 150 KB ``site`` made a 300 KB SNS entry, over PublishBatch's 262,144 bytes
(docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html), and the transition could never be published.

The caps, and why they are what they are:

- ``REGISTRY_TEXT_MAX_CHARS`` (128) for each registry string: a silence matches ``site`` and ``owner_team``
  with values of at most ``core.silences.MAX_VALUE_CHARS`` (128), so a longer value could never be
  silenced; names and places are short (the simulator fleet's longest is 22). Four such fields at 4 UTF-8
  bytes a character, twice each in an SNS entry, are at most 4 KiB of a transition.
- ``DEVICE_THRESHOLDS_MAX_BYTES`` (4 KiB of JSON) for a device's threshold overrides: a few fields for a
  few rules fit in a few hundred bytes, and the overrides are cached per container with each device.
- ``NOTE_MAX_CHARS`` (1,024) for an operator's ``--note`` / ``--reason``, the same figure as
  ``core.alarms.actions.MAX_NOTE``; ``SILENCE_COMMENT_MAX_CHARS`` (280) for ``--comment``, the same as
  ``core.silences.MAX_COMMENT_CHARS`` (a unit test keeps them equal).

A registry item over a cap is refused where it is written (``localcloud.deploy.seed_registry``) and, when
another tool wrote it anyway, refused where it is read (``adapters.dynamodb_registry``): its readings are
quarantined as ``REGISTRY_INVALID`` naming the field, and nothing is truncated. Whatever still makes an
entry too large for SNS or EventBridge is quarantined as ``TRANSITION_TOO_LARGE`` by the outbox
(``services.outbox.QuarantiningPublisher``) instead of being resent forever.
"""

from __future__ import annotations

import json
from typing import Any

from sensorflow.core.checks import DEVICE_ID_PATTERN
from sensorflow.core.records import Device

__all__ = [
    "DEVICE_THRESHOLDS_MAX_BYTES",
    "NOTE_MAX_CHARS",
    "OPERATOR_NAME_MAX_CHARS",
    "REGISTRY_INVALID",
    "REGISTRY_TEXT_FIELDS",
    "REGISTRY_TEXT_MAX_CHARS",
    "SILENCE_COMMENT_MAX_CHARS",
    "TRANSITION_TOO_LARGE",
    "TooLargeError",
    "check_device",
    "check_operator_text",
]

REGISTRY_TEXT_FIELDS = ("site", "location", "model", "owner_team")
REGISTRY_TEXT_MAX_CHARS = 128
DEVICE_THRESHOLDS_MAX_BYTES = 4_096
NOTE_MAX_CHARS = 1_024
SILENCE_COMMENT_MAX_CHARS = 280
OPERATOR_NAME_MAX_CHARS = 128  # --by: it is carried by every event the action emits

# Quarantine reasons (short machine words, like the ingest's ``unknown_device``).
REGISTRY_INVALID = "registry_invalid"
TRANSITION_TOO_LARGE = "transition_too_large"


class TooLargeError(ValueError):
    """A value over its cap; the message names the field (or flag), the size and the cap, never the value."""

    def __init__(self, field: str, size: int, cap: int, unit: str = "characters") -> None:
        super().__init__(f"{field} is {size} {unit}, over the cap of {cap} {unit}")
        self.field = field
        self.size = size
        self.cap = cap


def check_device(device: Device) -> None:
    """Refuse a registry entry with a string or overrides over its cap (``TooLargeError`` naming the field),
    or a ``device_id`` no reading could carry (``ValueError``)."""
    if not DEVICE_ID_PATTERN.fullmatch(device.device_id):
        raise ValueError(
            f"device_id {device.device_id[:80]!r} is not well formed "
            f"(readings with it are refused: {DEVICE_ID_PATTERN.pattern})"
        )
    for name in REGISTRY_TEXT_FIELDS:
        value: str = getattr(device, name)
        if len(value) > REGISTRY_TEXT_MAX_CHARS:
            raise TooLargeError(name, len(value), REGISTRY_TEXT_MAX_CHARS)
    size = _json_bytes(device.thresholds)
    if size > DEVICE_THRESHOLDS_MAX_BYTES:
        raise TooLargeError("thresholds", size, DEVICE_THRESHOLDS_MAX_BYTES, unit="bytes of JSON")


def check_operator_text(flag: str, value: str | None, cap: int) -> None:
    """Refuse an operator's free text over ``cap`` characters: ``TooLargeError`` naming ``flag``
    (e.g. ``--note``), for the CLI to show as its usage error. ``None`` (not given) passes."""
    if value is not None and len(value) > cap:
        raise TooLargeError(flag, len(value), cap)


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())
