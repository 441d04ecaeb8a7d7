"""One renderer per page: plain values in (``model``), an HTML document out (``html.page``).

Every value from a device, the registry or an operator goes through ``esc``; ids in links through ``href``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from sensorflow.cli.console.chart import svg_chart
from sensorflow.cli.console.filters import Filters
from sensorflow.cli.console.html import csrf_field, esc, hidden, href, page, table
from sensorflow.cli.console.model import AlarmRow, Health, QuarantineView, ReadingPoint, TransitionRow
from sensorflow.core import alarms as am
from sensorflow.core.clock import iso

# Which buttons a row offers, by state (the core refuses the rest anyway, with the reason).
_ACKABLE = {am.ACTIVE, am.LATCHED}


def _value(value: float | None, unit: str | None = None) -> str:
    return "" if value is None else esc(f"{value:.6g}" + (f" {unit}" if unit else ""))


def device_link(device_id: str) -> str:
    return f'<a href="{href("/device", {"id": device_id})}">{esc(device_id)}</a>'


def _actions(row: AlarmRow, csrf: str, back: str) -> str:
    a = row.alarm
    buttons = []
    if a.state in _ACKABLE:
        buttons.append('<button name="action" value="ack" class="ack">ack</button>')
    if a.state != am.DISABLED:
        buttons.append('<button name="action" value="snooze">snooze</button>')
        buttons.append('<button name="action" value="disable">disable</button>')
    else:
        buttons.append('<button name="action" value="enable">enable</button>')
    buttons.append('<button name="action" value="silence">silence device</button>')
    return (
        '<form method="post" action="/action" class="actions">'
        f"{csrf_field(csrf)}{hidden('alarm_id', a.alarm_id)}{hidden('back', back)}"
        '<input name="note" placeholder="note / reason / comment" size="18" aria-label="note">'
        '<input name="for" value="1h" size="4" aria-label="for how long">'
        f"{''.join(buttons)}</form>"
    )


def alarm_rows(rows: Sequence[AlarmRow], csrf: str, back: str, with_device: bool = True) -> str:
    headers = ["State", "Severity", "Device", "Sensor / rule", "Site", "Team", "Since", "Last value"]
    headers += ["By", "Suppressed", "Actions"]
    if not rows:
        return '<p class="empty" id="no-alarms">no alarms match</p>'
    body = []
    for r in rows:
        a = r.alarm
        by = a.acknowledged_by or a.updated_by
        cells = [
            f'<span class="state state-{esc(a.state.lower())}">{esc(a.state)}</span>',
            esc(a.severity or ""),
            device_link(a.device_id) if with_device else esc(a.device_id),
            f"{esc(a.sensor_type)} / {esc(a.rule_id)}",
            esc(r.site),
            esc(r.owner_team),
            esc(iso(a.since_ms) or ""),
            _value(r.last_value),
            esc(by or ""),
            esc(r.suppressed),
            _actions(r, csrf, back),
        ]
        tds = "".join(f"<td>{c}</td>" for c in cells)
        body.append(f'<tr data-alarm="{esc(a.alarm_id)}" data-state="{esc(a.state)}">{tds}</tr>')
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f'<table id="alarms"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _select(name: str, label: str, options: Sequence[str], chosen: str | None) -> str:
    opts = '<option value="">any</option>' + "".join(
        f'<option value="{esc(o)}"{" selected" if o == chosen else ""}>{esc(o)}</option>' for o in options
    )
    return f'<label>{esc(label)} <select name="{esc(name)}" class="autosubmit">{opts}</select></label>'


def filters_form(filters: Filters, sites: Sequence[str], teams: Sequence[str]) -> str:
    boxes = "".join(
        f'<label><input type="checkbox" name="state" value="{esc(s)}" class="autosubmit"'
        f"{' checked' if s in filters.states else ''}> {esc(s)}</label>"
        for s in am.STATES
    )
    return (
        f'<form method="get" action="/" class="filters" id="filters">{boxes} '
        f"{_select('site', 'site', sites, filters.site)} {_select('team', 'team', teams, filters.team)} "
        '<button type="submit">filter</button></form>'
    )


def alarms_page(
    stage: str,
    rows: Sequence[AlarmRow],
    shown: Sequence[AlarmRow],
    filters: Filters,
    csrf: str,
    back: str,
    flash: str | None = None,
    error: str | None = None,
) -> str:
    sites = sorted({r.site for r in rows if r.site})
    teams = sorted({r.owner_team for r in rows if r.owner_team})
    summary = f'<p class="summary">{len(shown)} of {len(rows)} stored alarms shown</p>'
    body = filters_form(filters, sites, teams) + summary + alarm_rows(shown, csrf, back)
    return page("Alarms", body, stage, flash, error)


def transition_rows(rows: Sequence[TransitionRow], with_device: bool = True) -> str:
    cells = [
        [
            esc(iso(r.at_ms) or ""),
            f'<span class="transition">{esc(r.transition)}</span>',
            device_link(r.device_id) if with_device else esc(r.device_id),
            esc(r.alarm_id),
            esc(r.severity or ""),
            esc(r.by or ""),
            esc(r.note or ""),
            _value(r.value, r.unit),
            esc(r.delivery or ""),
        ]
        for r in rows
    ]
    headers = ["When", "Transition", "Device", "Alarm", "Severity", "By", "Note", "Value", "Notified"]
    return table(headers, cells, "transitions", "no transitions recorded")


def transitions_page(stage: str, rows: Sequence[TransitionRow]) -> str:
    note = (
        '<p class="note">Newest first, from the incidents timelines (critical episodes) and the notification '
        "ledger (every transition notify received).</p>"
    )
    return page(
        "Recent transitions", note + '<div id="transitions">' + transition_rows(rows) + "</div>", stage
    )


def _charts(readings: Sequence[ReadingPoint]) -> str:
    series: dict[str, list[ReadingPoint]] = defaultdict(list)
    for p in readings:
        series[p.sensor_type].append(p)
    if not series:
        return '<p class="empty">no readings in this window</p>'
    out = []
    for sensor, pts in sorted(series.items()):
        unit = pts[-1].unit
        out.append(
            f"<h3>{esc(sensor)}</h3>" + svg_chart([(p.timestamp_ms, p.value) for p in pts], sensor, unit)
        )
    return "".join(out)


def device_page(
    stage: str,
    device_id: str,
    context: Mapping[str, str] | None,
    alarms: Sequence[AlarmRow],
    readings: Sequence[ReadingPoint],
    history: Sequence[TransitionRow],
    hours: int,
    csrf: str,
    back: str,
    flash: str | None = None,
    error: str | None = None,
) -> str:
    facts = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in sorted((context or {}).items()))
    about = f'<dl class="context">{facts}</dl>' if facts else '<p class="empty">no device context stored</p>'
    windows = " ".join(
        f'<a href="{href("/device", {"id": device_id, "hours": str(h)})}">{h} h</a>' for h in (1, 6, 24)
    )
    body = (
        f"<section>{about}</section>"
        f'<section><h2>Readings, last {hours} h</h2><p class="windows">{windows}</p>'
        f'<div id="readings">{_charts(readings)}</div></section>'
        f"<section><h2>Alarms</h2>{alarm_rows(alarms, csrf, back, with_device=False)}</section>"
        f'<section><h2>Alarm history</h2><div id="history">{transition_rows(history, False)}</div></section>'
    )
    return page(f"Device {device_id}", body, stage, flash, error)


def quarantine_page(stage: str, view: QuarantineView) -> str:
    counts = sorted(view.counts.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(view.counts.values())
    by_reason = table(
        ["Reason", "Records"], [[esc(k), esc(v)] for k, v in counts], "quarantine", "nothing quarantined"
    )
    recent = table(
        ["Arrived", "Reason", "Device (partition key)", "Detail"],
        [[esc(q.arrival_time), esc(q.reason), esc(q.device), esc(q.detail)] for q in view.recent],
        "quarantine-recent",
        "none",
    )
    by_day = table(
        ["Day (UTC)", "Records"], [[esc(k), esc(v)] for k, v in view.by_day.items()], "days", "none"
    )
    body = (
        f'<p class="summary">{esc(total)} quarantined records ({esc(view.window)})</p>'
        f'<div id="quarantine">{by_reason}</div><h2>By day</h2>{by_day}<h2>Newest</h2>{recent}'
    )
    return page("Quarantine by reason", body, stage)


def health_page(stage: str, health: Health) -> str:
    age = "unknown" if health.iterator_age_ms is None else f"{health.iterator_age_ms:.0f} ms"
    queues = table(
        ["Queue", "Visible", "In flight"],
        [
            [
                esc(q.name),
                esc("?" if q.visible is None else q.visible),
                esc("" if q.in_flight is None else q.in_flight),
            ]
            for q in health.queues
        ],
        "queues",
        "no failure queues in the stack outputs",
    )
    beat = iso(health.heartbeat_through_ms) if health.heartbeat_through_ms is not None else "never ran"
    notes = "".join(f"<li>{esc(n)}</li>" for n in health.notes)
    body = (
        f'<dl class="health"><dt>Ingest iterator age</dt><dd id="iterator-age">{esc(age)}</dd>'
        f'<dd class="note">{esc(health.iterator_age_source)}</dd>'
        f'<dt>Heartbeat checked through</dt><dd id="heartbeat">{esc(beat)}</dd></dl>'
        f"<h2>Failure queues</h2>{queues}" + (f'<ul class="notes">{notes}</ul>' if notes else "")
    )
    return page("Pipeline health", body, stage)
