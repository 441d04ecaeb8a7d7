"""The alarms table's filters: state (repeatable), site and team (``owner_team``), from the query string.

With no ``state`` the table shows every state but NORMAL, as ``sensorflow alarms list`` does; ``state=all``
shows NORMAL too. Unknown states are ignored (a link from an older console still opens).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sensorflow.cli.console.model import AlarmRow
from sensorflow.core import alarms as am

ALL = "all"


@dataclass(frozen=True, slots=True)
class Filters:
    states: frozenset[str]
    site: str | None = None
    team: str | None = None

    def params(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"state": sorted(self.states)}
        if self.site:
            out["site"] = [self.site]
        if self.team:
            out["team"] = [self.team]
        return out


DEFAULT_STATES = frozenset(am.STATES) - {am.NORMAL}


def parse_filters(query: Mapping[str, Sequence[str]]) -> Filters:
    asked = [s for s in query.get("state", []) if s]
    if ALL in asked:
        states = frozenset(am.STATES)
    else:
        states = frozenset(s for s in asked if s in am.STATES) or DEFAULT_STATES
    site = next((s for s in query.get("site", []) if s), None)
    team = next((t for t in query.get("team", []) if t), None)
    return Filters(states, site, team)


def apply_filters(rows: Sequence[AlarmRow], filters: Filters) -> list[AlarmRow]:
    return [
        r
        for r in rows
        if r.alarm.state in filters.states
        and (filters.site is None or r.site == filters.site)
        and (filters.team is None or r.owner_team == filters.team)
    ]
