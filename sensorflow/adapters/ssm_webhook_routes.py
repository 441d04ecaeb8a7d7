"""Each owner team's webhook from its own SSM SecureString, the default webhook for every other team.

Parameter layout (``serverless.yml`` ``custom.webhookUrlParameter`` and ``custom.webhookTeamParameterPath``)::

    /<service>/<stage>/webhook-url               the default webhook (required)
    /<service>/<stage>/webhooks/teams/<team>     one per owner team that has its own (optional)

A team's parameter is looked up on its first message and the answer, found or not found, is kept for
the secret TTL (``WEBHOOK_URL_CACHE_SECONDS``): a team with no parameter costs one ``GetParameter`` per
TTL, not one per message, and a parameter created later is used once that answer expires. At most
``MAX_CACHED_TEAMS`` teams are remembered (least recently used out first), whatever ``owner_team``
values the registry holds. Any other SSM failure is a ``TransientError``: the message is retried, never
sent to the default webhook because SSM was briefly unavailable.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sensorflow.adapters.ssm_secret import DEFAULT_TTL_S, SsmSecret
from sensorflow.core.ports import MessageSender
from sensorflow.core.routing import DEFAULT_ROUTE, Route

MAX_CACHED_TEAMS = 1_000

# Builds the sender for one webhook from its URL source (``url(refresh)``, as ``WebhookSender`` takes it)
# and the name of the parameter behind it (what the sender's errors name instead of the URL).
SenderFactory = Callable[[Callable[[bool], str], str], MessageSender]


class SsmWebhookRoutes:
    def __init__(
        self,
        default_parameter: str,
        team_parameter_path: str | None,
        sender_factory: SenderFactory,
        client: Any = None,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``team_parameter_path`` None: no team has its own webhook, every message takes the default."""
        self._path = team_parameter_path.rstrip("/") if team_parameter_path else None
        self._factory = sender_factory
        self._client = client
        self._ttl_s = ttl_s
        self._clock = clock
        default = self._secret(default_parameter)
        self._default = Route(DEFAULT_ROUTE, sender_factory(default.get, default.name))
        self._teams: OrderedDict[str, tuple[SsmSecret, Route]] = OrderedDict()

    def parameter_name(self, team: str) -> str | None:
        return f"{self._path}/{team}" if self._path else None

    def route(self, team: str | None) -> Route:
        """``team`` must be a valid name segment (``sensorflow.core.routing.is_team_name``)."""
        name = self.parameter_name(team) if team else None
        if team is None or name is None:
            return self._default
        entry = self._teams.get(team)
        if entry is None:
            secret = self._secret(name)
            entry = (secret, Route(team, self._factory(secret.get, secret.name)))
            self._teams[team] = entry
            while len(self._teams) > MAX_CACHED_TEAMS:
                self._teams.popitem(last=False)
        self._teams.move_to_end(team)
        secret, team_route = entry
        return team_route if secret.find() is not None else self._default

    def _secret(self, name: str) -> SsmSecret:
        return SsmSecret(name, self._client, ttl_s=self._ttl_s, clock=self._clock)
