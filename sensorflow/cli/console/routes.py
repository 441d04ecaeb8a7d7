"""The console's routes: a request (method, target, headers, body) in, a ``Response`` out.

Pure over its ``ConsoleSource`` and ``ConsoleActions`` (tests drive it over fakes, ``app`` over HTTP).
Every request must pass the Host check, every POST the CSRF and Origin checks (``guard``). A POST answers
303 to the page it came from, carrying a flash id for its outcome (kept here, not in the URL, so a link
cannot make the page say something the console did not).

GET  /                       alarms (filters: state, site, team)
GET  /transitions            recent transitions, newest first (limit)
GET  /device?id=D&hours=H    a device: readings chart, alarms, alarm history
GET  /quarantine             quarantine by reason
GET  /health                 iterator age, failure queues, heartbeat
POST /action                 alarm_id, action (ack, snooze, disable, enable, reset, silence), note, for
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from sensorflow.cli.console import views
from sensorflow.cli.console.filters import apply_filters, parse_filters
from sensorflow.cli.console.html import esc
from sensorflow.cli.console.model import ConsoleActions, ConsoleSource
from sensorflow.cli.console.request_guard import RefusedError, check_host, check_post, new_csrf_token
from sensorflow.cli.console.static import CONSOLE_CSS, CONSOLE_JS
from sensorflow.cli.errors import UsageError

HTML = "text/html; charset=utf-8"
TRANSITIONS_DEFAULT, TRANSITIONS_MAX = 100, 1000
DEVICE_HISTORY = 50
HOURS_DEFAULT, HOURS_MAX = 1, 24
FLASHES_KEPT = 100
SILENCE = "silence"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = HTML
    location: str | None = None


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _one(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = [v for v in query.get(name, []) if v]
    return values[0] if values else None


def _int(query: Mapping[str, Sequence[str]], name: str, default: int, most: int) -> int:
    text = _one(query, name)
    return max(1, min(int(text), most)) if text and text.isdigit() else default


def safe_back(target: str | None) -> str:
    """A path on this console to return to (``/`` for anything else: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class Console:
    def __init__(
        self,
        source: ConsoleSource,
        actions: ConsoleActions,
        port: int,
        csrf_token: str | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.source = source
        self.actions = actions
        self.port = port
        self.csrf_token = csrf_token or new_csrf_token()
        self._clock_ms = clock_ms
        self._flashes: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> Response:
        split = urlsplit(target)
        query = parse_qs(split.query)
        try:
            check_host(headers, self.port)
            if method == "GET":
                return self._get(split.path, query, target)
            if method == "POST":
                form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace")).items()}
                check_post(headers, form, self.port, self.csrf_token)
                return self._post(split.path, form)
            return self._error(405, f"method {method} not allowed")
        except RefusedError as exc:
            return self._error(403, f"refused: {exc}")
        except UsageError as exc:  # an AWS failure reading the stage, said as the CLI says it
            return self._error(502, str(exc))

    def _error(self, status: int, message: str) -> Response:
        body = f'<!doctype html><html><body><h1>{status}</h1><p id="error">{esc(message)}</p></body></html>'
        return Response(status, body.encode())

    def _html(self, text: str) -> Response:
        return Response(200, text.encode())

    def _flash(self, query: Mapping[str, Sequence[str]]) -> tuple[str | None, str | None]:
        key = _one(query, "flash")
        return self._flashes.get(key, (None, None)) if key else (None, None)

    def _get(self, path: str, query: Mapping[str, Sequence[str]], target: str) -> Response:
        if path == "/static/console.js":
            return Response(200, CONSOLE_JS.encode(), "text/javascript; charset=utf-8")
        if path == "/static/console.css":
            return Response(200, CONSOLE_CSS.encode(), "text/css; charset=utf-8")
        now = self._clock_ms()
        stage = self.source.stage
        back = _without_flash(target)
        flash, error = self._flash(query)
        if path == "/":
            rows = self.source.alarms(now)
            filters = parse_filters(query)
            shown = apply_filters(rows, filters)
            return self._html(
                views.alarms_page(stage, rows, shown, filters, self.csrf_token, back, flash, error)
            )
        if path == "/transitions":
            limit = _int(query, "limit", TRANSITIONS_DEFAULT, TRANSITIONS_MAX)
            return self._html(views.transitions_page(stage, self.source.transitions(limit)))
        if path == "/device":
            return self._device(query, now, back, flash, error)
        if path == "/quarantine":
            return self._html(views.quarantine_page(stage, self.source.quarantine(now)))
        if path == "/health":
            return self._html(views.health_page(stage, self.source.health(now)))
        return self._error(404, f"no page {path}")

    def _device(
        self, query: Mapping[str, Sequence[str]], now: int, back: str, flash: str | None, error: str | None
    ) -> Response:
        device_id = _one(query, "id")
        if device_id is None:
            return self._error(400, "which device? /device?id=DEVICE_ID")
        hours = _int(query, "hours", HOURS_DEFAULT, HOURS_MAX)
        alarms = [r for r in self.source.alarms(now) if r.alarm.device_id == device_id]
        readings = self.source.readings(device_id, now - hours * 3_600_000, now)
        history = self.source.transitions(DEVICE_HISTORY, device_id)
        context = self.source.device_context(device_id)
        html = views.device_page(
            self.source.stage,
            device_id,
            context,
            alarms,
            readings,
            history,
            hours,
            self.csrf_token,
            back,
            flash,
            error,
        )
        return self._html(html)

    def _post(self, path: str, form: Mapping[str, str]) -> Response:
        if path != "/action":
            return self._error(404, f"no action at {path}")
        back = safe_back(form.get("back"))
        try:
            outcome: tuple[str | None, str | None] = (self._act(form), None)
        except UsageError as exc:
            outcome = (None, str(exc))
        key = secrets.token_urlsafe(9)
        self._flashes[key] = outcome
        while len(self._flashes) > FLASHES_KEPT:
            self._flashes.popitem(last=False)
        joiner = "&" if "?" in back else "?"
        return Response(303, b"", location=f"{back}{joiner}{urlencode({'flash': key})}")

    def _act(self, form: Mapping[str, str]) -> str:
        action = (form.get("action") or "").strip()
        alarm_id = (form.get("alarm_id") or "").strip()
        now = self._clock_ms()
        if action == SILENCE:
            fields = {
                "match_device_id": alarm_id.split("#", 1)[0],
                "comment": form.get("note", ""),
                "for": form.get("for", ""),
            }
            return self.actions.add_silence(fields, now)
        fields = dict(form)
        if action == "disable":
            fields["reason"] = form.get("note", "")
            fields.pop("note", None)
        if action == "ack":
            fields.pop("for", None)  # ack has no end time (the CLI has no --for for it)
        return self.actions.alarm_action(action, alarm_id, fields, now)


def _without_flash(target: str) -> str:
    split = urlsplit(target)
    query = [(k, v) for k, vs in parse_qs(split.query).items() if k != "flash" for v in vs]
    return split.path + (f"?{urlencode(query)}" if query else "")
