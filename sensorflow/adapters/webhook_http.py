"""One guarded HTTP POST to a webhook: the URL checked, the host's addresses vetted, the connection made to
the very address that was vetted, under one deadline, with a bounded read and no redirects.

A webhook URL comes from an SSM parameter, so whoever can write that parameter (or the DNS of its host)
chooses where ``notify`` connects from inside the account. This module keeps that from reaching anything
but a public HTTPS endpoint:

- **URL**: printable ASCII only (no space, control or non-ASCII character, which ``http.client`` would
  refuse with an ``InvalidURL`` that quotes the URL), ``https``, a host, no credentials before it, a
  numeric port. A bad one raises ``WebhookUrlError`` naming the SSM parameter, never the URL;
- **scheme**: ``https`` only. ``allow_loopback`` (the local stage's ``WEBHOOK_ALLOW_LOOPBACK_HTTP``, set
  by the stage's configuration, never by a message) also allows plain ``http``, and only to loopback;
- **addresses**: the host is resolved once (``getaddrinfo``, bounded by the deadline) and every address
  must be public: unspecified, loopback, link-local, multicast, private, reserved and other non-global
  addresses are refused, also when embedded in IPv6 (IPv4-mapped, 6to4, Teredo, NAT64). A refusal is a
  ``WebhookRefusedError`` raised before any connection;
- **no DNS-rebinding gap**: the socket connects to the vetted address itself; TLS still sends the host
  name as SNI and verifies the certificate against it, and ``Host`` is the host name;
- **one deadline** for resolve + connect + TLS + send + response: every socket operation gets the time
  left as its timeout, so a server that drips a byte a second is cut at the deadline
  (``TimeoutError``), not allowed one timeout per byte;
- **bounded read**: at most ``MAX_RESPONSE_BYTES`` of the body are read, then the connection is closed;
- **no redirects**: ``http.client`` never follows one; the status is returned and the sender treats a
  3xx as a failure.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sensorflow.core.errors import DeliveryError

# Slack answers a delivered message with "ok" and a refused one with a short error word; nothing this
# sender uses needs more, and a webhook must not be able to make a 256 MB function read 200 MB.
MAX_RESPONSE_BYTES = 64 * 1024
READ_CHUNK_BYTES = 8 * 1024
DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?")
# RFC 6052 well-known NAT64 prefix: 64:ff9b::a.b.c.d reaches a.b.c.d through a NAT64 gateway.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port, timeout_s) -> the host's addresses as strings; raises OSError (socket.gaierror, TimeoutError).
Resolver = Callable[[str, int, float], Sequence[str]]


class WebhookUrlError(DeliveryError):
    """The parameter's value is not a usable webhook URL. The message names the parameter, never the URL."""


class WebhookRefusedError(DeliveryError):
    """The URL is well formed but points where notify must not connect (plain http, a private address)."""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A checked webhook URL, split. ``request_path`` holds the secret part and stays out of ``repr``."""

    parameter: str  # the SSM parameter the URL came from: what error messages name
    scheme: str
    host: str
    port: int
    request_path: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int
    retry_after: str | None
    body: bytes  # at most MAX_RESPONSE_BYTES


def parse_target(url: str, parameter: str, allow_loopback: bool = False) -> WebhookTarget:
    """Split and check ``url`` (the value of SSM parameter ``parameter``).

    Raises ``WebhookUrlError`` for a malformed URL and ``WebhookRefusedError`` for plain http when
    ``allow_loopback`` is off; both name the parameter and carry nothing of the URL."""
    reason = _malformed(url)
    if reason is not None:
        raise WebhookUrlError(f"SSM parameter {parameter} does not hold a valid webhook URL: it {reason}")
    parts = urlsplit(url)  # cannot raise: _malformed split it already
    if parts.scheme == "http" and not allow_loopback:
        raise WebhookRefusedError(
            f"webhook URL in SSM parameter {parameter} is plain http: https only "
            "(http to loopback is for the local stage)"
        )
    path = parts.path or "/"
    return WebhookTarget(
        parameter=parameter,
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=parts.port or DEFAULT_PORTS[parts.scheme],
        request_path=f"{path}?{parts.query}" if parts.query else path,
    )


def _malformed(url: str) -> str | None:
    """Why ``url`` is not a usable webhook URL, in words that quote nothing of it; None when it is."""
    if not isinstance(url, str) or not url:
        return "is empty"
    if any(not ("!" <= ch <= "~") for ch in url):
        return "contains a space, a control character or a non-ASCII character"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unclosed "[" or a port that is not a number in range
        return "has an invalid host or port"
    if parts.scheme not in DEFAULT_PORTS:
        return "does not start with https://"
    if "@" in parts.netloc:
        return "carries credentials before the host"
    host = parts.hostname or ""
    if not host:
        return "has no host"
    if port == 0:
        return "has port 0"
    if _ip(host) is None and not _HOST_NAME.fullmatch(host):
        return "has an invalid host name"
    return None


# --- addresses ---------------------------------------------------------------------------------------


def address_refusal(address: str, allow_loopback: bool = False) -> str | None:
    """What kind of non-public address ``address`` is ("private", "loopback", ...), or None when it is
    public. IPv4 embedded in IPv6 (mapped, 6to4, Teredo, NAT64) is judged as the IPv4 it reaches."""
    ip = _ip(address)
    if ip is None:
        return "unparsable"
    for view in _views(ip):
        kind = _kind(view)
        if kind is not None and not (kind == "loopback" and allow_loopback):
            return kind
    return None


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is not the address
    except ValueError:
        return None


def _views(ip: IPAddress) -> Iterator[IPAddress]:
    """The addresses a connection to ``ip`` reaches: an IPv4-mapped or NAT64 address is only a way to
    write an IPv4 one, so that IPv4 is judged alone; 6to4 and Teredo are judged with what they embed."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            yield ip.ipv4_mapped
            return
        if ip in _NAT64:
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            return
        if ip.sixtofour is not None:
            yield ip.sixtofour
        if ip.teredo is not None:
            yield from ip.teredo
    yield ip


def _kind(ip: IPAddress) -> str | None:
    # Loopback before private: 127.0.0.1 is both, and the local stage allows loopback alone.
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),  # 169.254.169.254, the instance metadata service, is one
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),  # e.g. 100.64.0.0/10, shared address space
    )
    return next((kind for kind, hit in checks if hit), None)


def system_resolver(host: str, port: int, timeout_s: float) -> list[str]:
    """``getaddrinfo`` in a daemon thread, so a slow DNS answer ends the attempt at its deadline too."""
    answer: list[Any] = []

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP))
        except OSError as exc:
            answer.append(exc)

    worker = threading.Thread(target=lookup, name="webhook-resolve", daemon=True)
    worker.start()
    worker.join(max(0.0, timeout_s))
    if not answer:
        raise TimeoutError("webhook host resolution timed out")
    if isinstance(answer[0], OSError):
        raise answer[0]
    return list(dict.fromkeys(str(info[4][0]) for info in answer[0]))


# --- the connection ----------------------------------------------------------------------------------


def _time_left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("webhook deadline passed")
    return left


class _DeadlineReader(io.RawIOBase):
    """The response side of a socket: every ``recv`` waits at most the time left before the deadline."""

    def __init__(self, owner: _DeadlineSocket) -> None:
        super().__init__()
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        sock = self._owner.sock
        sock.settimeout(_time_left(self._owner.deadline))
        return sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._owner.release()


class _DeadlineSocket:
    """What ``http.client`` uses of a socket (``sendall``, ``makefile``, ``close``), bounded by one
    deadline: a socket timeout alone restarts with every byte received.

    Like ``socket.makefile``, a reader keeps the socket open after ``close`` until the reader is closed
    too (``http.client`` closes the connection of a ``Connection: close`` response before its body is
    read)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self._readers = 0
        self._closing = False

    def sendall(self, data: Any) -> None:
        self.sock.settimeout(_time_left(self.deadline))  # sendall's timeout is for the whole call
        self.sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def release(self) -> None:
        self._readers -= 1
        self._close_when_unused()

    def close(self) -> None:
        self._closing = True
        self._close_when_unused()

    def _close_when_unused(self) -> None:
        if self._closing and self._readers <= 0:
            self.sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def _open_socket(
    address: str, port: int, host: str, deadline: float, tls: ssl.SSLContext | None
) -> _DeadlineSocket:
    sock = socket.create_connection((address, port), timeout=_time_left(deadline))
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            sock.settimeout(_time_left(deadline))  # the handshake as a whole is bounded by this
            sock = tls.wrap_socket(sock, server_hostname=host)  # SNI and certificate check: the name
    except BaseException:
        sock.close()
        raise
    return _DeadlineSocket(sock, deadline)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain http (the local stage, loopback only), connected to the vetted address."""

    def __init__(self, target: WebhookTarget, address: str, deadline: float) -> None:
        super().__init__(target.host, target.port)
        self._address = address
        self._deadline = deadline

    def connect(self) -> None:
        sys.audit("http.client.connect", self, self.host, self.port)
        self.sock = _open_socket(self._address, self.port, self.host, self._deadline, None)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """https to the vetted address: ``Host``, SNI and the certificate check use the host name."""

    def __init__(self, target: WebhookTarget, address: str, deadline: float, tls: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, context=tls)
        self._address = address
        self._deadline = deadline
        self._tls = tls

    def connect(self) -> None:
        sys.audit("http.client.connect", self, self.host, self.port)
        self.sock = _open_socket(self._address, self.port, self.host, self._deadline, self._tls)


class PinnedTransport:
    """POSTs to a ``WebhookTarget`` as the module docstring says. ``resolver`` and ``tls_context`` are
    injectable (tests resolve a test name to a loopback server that has a certificate for it)."""

    def __init__(
        self,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
        tls_context: ssl.SSLContext | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._resolver = resolver
        self._tls = tls_context
        self._max_response_bytes = max_response_bytes

    def post(
        self, target: WebhookTarget, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> WebhookResponse:
        """Raises ``WebhookRefusedError`` (before connecting), ``WebhookUrlError``, or ``OSError`` /
        ``http.client.HTTPException`` for a network fault, timeouts (``TimeoutError``) included."""
        deadline = time.monotonic() + timeout_s
        addresses = self.vetted_addresses(target, deadline)
        conn = self._connect(target, addresses, deadline)
        response: http.client.HTTPResponse | None = None
        rejected_url = False
        try:
            try:
                conn.request("POST", target.request_path, body, {**headers, "Connection": "close"})
            except http.client.InvalidURL:  # its message quotes the URL: replaced below, outside this block
                rejected_url = True
            if not rejected_url:
                response = conn.getresponse()
                return WebhookResponse(
                    response.status, response.getheader("Retry-After"), self._read(response, deadline)
                )
        finally:
            if response is not None:
                response.close()  # the rest of the body is never read: closing drops the socket
            conn.close()
        raise WebhookUrlError(
            f"SSM parameter {target.parameter} does not hold a valid webhook URL: http.client refused it"
        )

    def vetted_addresses(self, target: WebhookTarget, deadline: float) -> list[str]:
        """The host's addresses, every one of them allowed; ``WebhookRefusedError`` names the first
        that is not, by kind (the address and the host stay out of the message)."""
        literal = _ip(target.host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            addresses = list(self._resolver(target.host, target.port, _time_left(deadline)))
        if not addresses:
            raise OSError("webhook host has no address")
        for address in addresses:
            kind = address_refusal(address, self._allow_loopback)
            if kind is None and target.scheme == "http" and address_refusal(address) != "loopback":
                kind = "non-loopback address for plain http"
            if kind is not None:
                raise WebhookRefusedError(
                    f"webhook host in SSM parameter {target.parameter} resolves to a {kind} address: "
                    "only public addresses are allowed"
                )
        return addresses

    def _connect(
        self, target: WebhookTarget, addresses: Sequence[str], deadline: float
    ) -> http.client.HTTPConnection:
        """A connection to the first vetted address that accepts one (as ``create_connection`` tries
        each address of a name), all under the one deadline."""
        last: OSError | None = None
        for address in addresses:
            conn: http.client.HTTPConnection
            if target.scheme == "https":
                conn = _PinnedHTTPSConnection(target, address, deadline, self._tls or _default_tls())
            else:
                conn = _PinnedHTTPConnection(target, address, deadline)
            try:
                conn.connect()
                return conn
            except OSError as exc:
                conn.close()
                if isinstance(exc, ssl.SSLError | TimeoutError):
                    raise  # another address of the same name would not fix a certificate or the clock
                last = exc
        assert last is not None  # addresses is never empty
        raise last

    def _read(self, response: http.client.HTTPResponse, deadline: float) -> bytes:
        """At most ``max_response_bytes`` of the body, in chunks, each under the deadline; the rest is
        never read (the connection is closed)."""
        chunks: list[bytes] = []
        received = 0
        while received < self._max_response_bytes:
            _time_left(deadline)
            chunk = response.read(min(READ_CHUNK_BYTES, self._max_response_bytes - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
        return b"".join(chunks)


_TLS: list[ssl.SSLContext] = []


def _default_tls() -> ssl.SSLContext:
    """The system's trust store with hostname checking, built once per container (it loads the CA file)."""
    if not _TLS:
        _TLS.append(ssl.create_default_context())
    return _TLS[0]
