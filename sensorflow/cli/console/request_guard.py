"""Who may use the console: a page the user opened on 127.0.0.1:PORT, nothing else.

The console listens on loopback, but any web page open in the same browser can still reach it:

- **DNS rebinding**: ``evil.example`` resolving to 127.0.0.1 makes the browser send ``Host: evil.example``
  and treat the answers as same-origin, so it could read the pages and their CSRF token. Every request
  whose ``Host`` is not exactly ``127.0.0.1:PORT`` (or ``localhost:PORT``) is refused.
- **Cross-site POSTs** (a form on another site posting to 127.0.0.1): every POST must carry the console's
  CSRF token, which only a page served by the console holds (a random secret per server process, compared
  in constant time), and its ``Origin``, when the browser sends one (every current browser does on POST),
  must be the console's own; ``Sec-Fetch-Site`` must be ``same-origin`` when present.

Sources: fetch.spec.whatwg.org (Origin, Sec-Fetch-Site); OWASP Cross-Site Request Forgery Prevention Cheat
Sheet ("Synchronizer token pattern", "Verifying origin with standard headers").
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from sensorflow.cli.console import LOOPBACK

CSRF_TOKEN_BYTES = 32
CSRF_FIELD = "csrf"
LOOPBACK_HOST = LOOPBACK
SAME_ORIGIN = "same-origin"


class RefusedError(Exception):
    """A request the console must not serve; the message says why (shown in the 403 page)."""


def new_csrf_token() -> str:
    return secrets.token_urlsafe(CSRF_TOKEN_BYTES)


def allowed_hosts(port: int) -> frozenset[str]:
    return frozenset({f"{LOOPBACK_HOST}:{port}", f"localhost:{port}"})


def check_host(headers: Mapping[str, str], port: int) -> None:
    """Refuse a request whose ``Host`` is not this console's loopback address (DNS rebinding)."""
    host = (headers.get("Host") or "").strip().lower()
    if host not in allowed_hosts(port):
        raise RefusedError(f"Host {host!r} is not {LOOPBACK_HOST}:{port}")


def check_post(headers: Mapping[str, str], form: Mapping[str, str], port: int, token: str) -> None:
    """Refuse a POST that did not come from one of the console's own pages."""
    check_host(headers, port)
    origin = headers.get("Origin")
    if origin is not None and origin.strip().lower() not in {f"http://{h}" for h in allowed_hosts(port)}:
        raise RefusedError(f"cross-origin POST from {origin!r}")
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() != SAME_ORIGIN:
        raise RefusedError(f"cross-site POST (Sec-Fetch-Site {site!r})")
    sent = form.get(CSRF_FIELD, "")
    if not sent or not secrets.compare_digest(sent.encode(), token.encode()):
        raise RefusedError("missing or wrong CSRF token: reload the page and try again")
