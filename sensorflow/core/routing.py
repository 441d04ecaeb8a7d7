"""Which webhook a notification goes to: its device's ``owner_team``'s own, or the default one.

A team's webhook URL is an SSM SecureString named ``<team parameter path>/<owner_team>``, so the team
name becomes one segment of a parameter name and must be a valid one. Anything else (a slash, spaces,
an empty or overlong name, the contract's ``"unknown"`` placeholder) takes the default route.
Pure: the router that looks the parameters up is an adapter (``adapters.ssm_webhook_routes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from sensorflow.core.ports import MessageSender

DEFAULT_ROUTE = "default"
# What sensorflow.core.contract.DeviceView says when the registry has no owner team for the device.
NO_TEAM = "unknown"
# SSM parameter names allow a-z A-Z 0-9 _ . - and "/" between hierarchy levels
# (docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html). A team is one
# level, so no "/"; it starts with a letter or digit, and 128 characters leave the whole name far below
# SSM's 1,011-character limit.
TEAM_NAME_MAX_CHARS = 128
_TEAM_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{TEAM_NAME_MAX_CHARS - 1}}}")


def is_team_name(owner_team: str) -> bool:
    """True when ``owner_team`` can name a team parameter (one SSM name segment), and is a real team."""
    return owner_team != NO_TEAM and _TEAM_NAME.fullmatch(owner_team) is not None


@dataclass(frozen=True, slots=True)
class Route:
    """Where one message goes: ``name`` is the team (or ``DEFAULT_ROUTE``), never the URL."""

    name: str
    sender: MessageSender


class MessageRouter(Protocol):
    def route(self, team: str | None) -> Route:
        """The team's own webhook, or the default one when ``team`` is None or has no parameter.

        Raises ``TransientError`` when the lookup fails: a message is retried, never sent to another
        team's webhook because SSM was briefly unavailable."""
        ...


class SingleRoute:
    """Every message to one sender: the default route only (a stage with no team webhooks, tests)."""

    def __init__(self, sender: MessageSender) -> None:
        self._route = Route(DEFAULT_ROUTE, sender)

    def route(self, team: str | None) -> Route:
        return self._route
