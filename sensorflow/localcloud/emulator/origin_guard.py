"""Refuse requests a web page could make to the local cloud: only local programs may drive it.

The moto server, the fault proxy and the control port listen on 127.0.0.1, but a page open in the
user's browser can still reach them: by DNS rebinding (``evil.example`` resolving to 127.0.0.1, so the
browser sends ``Host: evil.example:5050`` and treats the answers as same-origin) or by cross-site
requests (a form POST, an ``<img>`` GET, a ``fetch`` with CORS, which moto answers with
``Access-Control-Allow-Origin: *``). SDKs and the CLI send none of the headers a browser adds, so a
request is served only when

- its ``Host`` is a loopback name (``127.0.0.1``, ``localhost``, ``*.localhost``, ``[::1]``) with one of
  the server's own ports (a rebinding page sends its own name);
- it has no ``Origin``, or an ``Origin`` that is one of those loopback addresses (``null``, sent by
  sandboxed frames and ``file:`` pages, is refused);
- its ``Sec-Fetch-Site``, when a browser sent one, is ``same-origin`` or ``none`` (a navigation the user
  typed). Browsers send it on no-CORS GETs that carry no ``Origin``.

Source: fetch.spec.whatwg.org (Origin, Sec-Fetch-Site), RFC 6761 section 6.3 (``.localhost``).
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
SAFE_FETCH_SITES = frozenset({"same-origin", "none"})
FORBIDDEN_STATUS = 403


def _loopback(name: str) -> bool:
    name = name.lower().rstrip(".").removeprefix("[").removesuffix("]")
    return name in LOOPBACK_NAMES or name.endswith(".localhost")


def _host_and_port(host: str) -> tuple[str, int | None]:
    """A ``Host`` header's name and port (``None`` when absent or not a number)."""
    if host.startswith("["):  # [::1]:5050
        name, _, rest = host.partition("]")
        name, port = name + "]", rest.removeprefix(":") if rest.startswith(":") else ""
    else:
        name, _, port = host.partition(":")
    return name, int(port) if port.isdigit() else None


def refusal(
    host: str | None, origin: str | None, fetch_site: str | None, ports: Collection[int]
) -> str | None:
    """Why a request with these headers must be refused, or ``None`` to serve it."""
    name, port = _host_and_port(host or "")
    if not host or not _loopback(name) or port not in ports:
        return f"Host {host!r} is not this server's loopback address"
    if origin is not None:
        parts = urlsplit(origin)
        try:
            origin_port = parts.port
        except ValueError:
            origin_port = None
        if parts.scheme != "http" or not _loopback(parts.hostname or "") or origin_port not in ports:
            return f"cross-origin request from {origin!r}"
    if fetch_site is not None and fetch_site.lower() not in SAFE_FETCH_SITES:
        return f"browser request with Sec-Fetch-Site {fetch_site!r}"
    return None


def refusal_body(reason: str) -> bytes:
    return (
        f"sensorflow local cloud: refused, {reason}; only local programs may use this endpoint\n"
    ).encode()
