"""Escaping and the page layout. Every value that reaches a page goes through ``esc`` (text and quoted
attribute values alike: ``html.escape`` with ``quote=True`` turns ``& < > " '`` into references), and a
value inside a URL goes through ``href`` first (percent-encoded, then escaped). No value is ever put in a
``<script>``, a ``style``, an event handler or an unquoted attribute."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from sensorflow.cli.console.request_guard import CSRF_FIELD

NAV = (("/", "Alarms"), ("/transitions", "Transitions"), ("/quarantine", "Quarantine"), ("/health", "Health"))


def esc(value: object) -> str:
    """``value`` as HTML text or a double-quoted attribute value; ``None`` as an empty string."""
    return "" if value is None else html.escape(str(value), quote=True)


def href(path: str, params: Mapping[str, str | Sequence[str]] | None = None) -> str:
    """A link to one of the console's own pages, its query percent-encoded, escaped for an attribute."""
    query = urlencode(params or {}, doseq=True)
    return esc(f"{path}?{query}" if query else path)


def hidden(name: str, value: object) -> str:
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'


def csrf_field(token: str) -> str:
    return hidden(CSRF_FIELD, token)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], css: str = "", empty: str = "none") -> str:
    """A table of cells that are already HTML (each built with ``esc``)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    if not rows:
        return f'<p class="empty">{esc(empty)}</p>'
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def page(title: str, body: str, stage: str, flash: str | None = None, error: str | None = None) -> str:
    nav = "".join(f'<a href="{esc(path)}">{esc(name)}</a>' for path, name in NAV)
    notice = ""
    if flash:
        notice += f'<p class="flash" id="flash">{esc(flash)}</p>'
    if error:
        notice += f'<p class="error" id="error">{esc(error)}</p>'
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)} - sensorflow {esc(stage)}</title>"
        '<link rel="stylesheet" href="/static/console.css">'
        '<script src="/static/console.js" defer></script></head>'
        f'<body><header><strong>sensorflow console</strong> <span class="stage">stage {esc(stage)}</span>'
        f"<nav>{nav}</nav></header><main><h1>{esc(title)}</h1>{notice}{body}</main></body></html>"
    )
