"""The webhook sender against hostile webhooks on loopback (issue 12): a redirect to another host, a 200 MB
body, a slow drip, private / loopback / link-local addresses and plain http in production, and malformed
URLs whose secret path must appear in no log line, exception or failure record.

The servers are stdlib ``http.server`` on 127.0.0.1 in a thread; the https ones present a certificate for
``webhook.test`` signed by a CA generated for the test run (``cryptography``, installed with moto). The
name never resolves for real (``.test`` is reserved, RFC 2606): each test injects a resolver that answers
127.0.0.1, so a delivery to it proves the connection went to the vetted address, not to a second lookup.
A test that wants production's rules (no loopback) asserts the server saw no connection at all.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import ssl
import threading
import time
import traceback
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

from handlers import notify as notify_handler
from sensorflow import bootstrap
from sensorflow.adapters import clients as client_factory
from sensorflow.adapters import webhook_http
from sensorflow.adapters.webhook_http import MAX_RESPONSE_BYTES, PinnedTransport
from sensorflow.adapters.webhook_sender import WebhookSender
from sensorflow.core.errors import DeliveryError
from tests.integration.conftest import REGION, FakeContext
from tests.transitions import sns_event, transition

HOST = "webhook.test"
LOOPBACK = "127.0.0.1"
SECRET = "T0SECRET/B0SECRET/XyZzy0123456789"
PATH = f"/services/{SECRET}"
PARAMETER = "/sensorflow/prod/webhook-url"
HUGE_BODY_BYTES = 200 * 1024 * 1024
DRIP_INTERVAL_S = 0.05
MESSAGE = {"text": "hi"}


# --- the hostile webhook -------------------------------------------------------------------------


class HostileWebhook:
    """One behaviour per server: ``ok``, ``redirect`` (302 to ``location``), ``huge`` (a 200 MB body,
    streamed), ``drip-headers`` / ``drip-body`` (a byte every ``DRIP_INTERVAL_S``, forever).
    ``connections`` counts every TCP connection accepted (before TLS), ``requests`` every request read."""

    def __init__(self, behaviour: str = "ok", tls: ssl.SSLContext | None = None, location: str = "") -> None:
        self.behaviour = behaviour
        self.location = location
        self.connections = 0
        self.requests = 0
        self.body_bytes_sent = 0
        self._tls = tls
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> HostileWebhook:
        hook = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> Any:
                with hook._lock:
                    hook.connections += 1
                sock, address = self.socket.accept()
                if hook._tls is not None:
                    sock.settimeout(5)
                    sock = hook._tls.wrap_socket(sock, server_side=True)
                return sock, address

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._lock:
                    hook.requests += 1
                # The sender hanging up mid-answer is what these servers are for.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
                    getattr(hook, "_" + hook.behaviour.replace("-", "_"))(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = Server((LOOPBACK, 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="hostile-webhook", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, scheme: str = "https", host: str = HOST) -> str:
        return f"{scheme}://{host}:{self.port}{PATH}"

    # --- behaviours ---------------------------------------------------------------------------
    def _ok(self, req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", "2")
        req.end_headers()
        req.wfile.write(b"ok")

    def _redirect(self, req: BaseHTTPRequestHandler) -> None:
        req.send_response(302)
        req.send_header("Location", self.location)
        req.send_header("Content-Length", "0")
        req.end_headers()

    def _huge(self, req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", str(HUGE_BODY_BYTES))
        req.end_headers()
        chunk = bytes(64 * 1024)
        while self.body_bytes_sent < HUGE_BODY_BYTES and not self._stop.is_set():
            req.wfile.write(chunk)
            self.body_bytes_sent += len(chunk)

    def _drip_headers(self, req: BaseHTTPRequestHandler) -> None:
        req.wfile.write(b"HTTP/1.1 200 OK\r\n")
        self._drip(req)  # one endless header line, a byte at a time

    def _drip_body(self, req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", str(HUGE_BODY_BYTES))
        req.end_headers()
        self._drip(req)

    def _drip(self, req: BaseHTTPRequestHandler) -> None:
        while not self._stop.wait(DRIP_INTERVAL_S):
            req.wfile.write(b"x")
            req.wfile.flush()


# --- TLS for webhook.test ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts the test CA only, checks host names


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate_pair(directory: Path, dns_name: str) -> Tls:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("sensorflow test CA"))
        .issuer_name(_name("sensorflow test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (directory / "leaf.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "leaf.pem", directory / "leaf.key")
    client = ssl.create_default_context(cafile=str(directory / "ca.pem"))
    return Tls(server, client)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return _certificate_pair(tmp_path_factory.mktemp("tls"), HOST)


class Resolver:
    """Answers every name with ``addresses``; ``calls`` keeps each lookup."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses or [LOOPBACK])
        self.calls: list[str] = []

    def __call__(self, host: str, port: int, timeout_s: float) -> list[str]:
        self.calls.append(host)
        return self.addresses


def local_sender(url: str, tls: Tls, resolver: Resolver | None = None, **kwargs: Any) -> WebhookSender:
    """A sender with the local stage's setting (loopback allowed), the test CA and the test resolver."""
    transport = PinnedTransport(allow_loopback=True, resolver=resolver or Resolver(), tls_context=tls.client)
    return WebhookSender(
        lambda refresh: url, PARAMETER, allow_loopback_http=True, transport=transport, **kwargs
    )


def prod_sender(url: str, tls: Tls, resolver: Resolver | None = None, **kwargs: Any) -> WebhookSender:
    transport = PinnedTransport(resolver=resolver or Resolver(), tls_context=tls.client)
    return WebhookSender(lambda refresh: url, PARAMETER, transport=transport, **kwargs)


def plenty() -> int:
    return 60_000


# --- the connection itself -------------------------------------------------------------------------


def test_https_goes_to_the_vetted_address_with_the_host_name_for_sni_and_the_certificate(tls: Tls):
    # GIVEN an https webhook for webhook.test, a name only the injected resolver knows (127.0.0.1)
    resolver = Resolver()
    with HostileWebhook("ok", tls.server) as hook:
        # WHEN the message is sent
        local_sender(hook.url(), tls, resolver).send(MESSAGE, plenty)
        # THEN it was delivered over one connection to the address the resolver gave, looked up once
        assert (hook.connections, hook.requests, resolver.calls) == (1, 1, [HOST])


def test_a_certificate_for_another_name_is_not_delivered_to(tls: Tls, tmp_path: Path):
    # GIVEN a server whose certificate (from the same CA) is for other.test, reached as webhook.test
    other = _certificate_pair(tmp_path, "other.test")
    client = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    with HostileWebhook("ok", other.server) as hook:
        transport = PinnedTransport(allow_loopback=True, resolver=Resolver(), tls_context=client)
        sender = WebhookSender(lambda r: hook.url(), PARAMETER, transport=transport, max_attempts=1)
        # WHEN it sends THEN the handshake fails on the name: nothing delivered
        with pytest.raises(DeliveryError, match=r"after 1 attempt\(s\): SSLCertVerificationError"):
            sender.send(MESSAGE, plenty)
        assert hook.requests == 0


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_redirect_to_another_host_is_refused_not_followed(tls: Tls, scheme: str):
    # GIVEN a webhook answering 302 to another server (plain http, as the review found)
    with HostileWebhook("ok") as elsewhere:
        location = f"http://{LOOPBACK}:{elsewhere.port}/latest/meta-data/"
        hostile = HostileWebhook("redirect", tls.server if scheme == "https" else None, location)
        # WHEN the message is sent
        with hostile as hook, pytest.raises(DeliveryError) as info:
            local_sender(hook.url(scheme), tls).send(MESSAGE, plenty)
    # THEN it is a failure naming the status, not the Location, and the other host saw nothing
    assert str(info.value) == "webhook answered HTTP 302: redirects are not followed"
    assert (hook.requests, elsewhere.connections) == (1, 0)


def test_a_200_mb_body_is_read_only_up_to_the_cap(tls: Tls):
    # GIVEN a webhook that answers 200 with a 200 MB body
    transport = PinnedTransport(allow_loopback=True, resolver=Resolver(), tls_context=tls.client)
    with HostileWebhook("huge", tls.server) as hook:
        target = webhook_http.parse_target(hook.url(), PARAMETER, allow_loopback=True)
        # WHEN the request is made, with Python allocations traced
        tracemalloc.start()
        try:
            response = transport.post(target, b"{}", {}, 10.0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # THEN the status counts, exactly the cap was read, and memory stayed near the cap, not the body
    assert (response.status, len(response.body)) == (200, MAX_RESPONSE_BYTES)
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes"
    assert hook.body_bytes_sent < HUGE_BODY_BYTES
    print(f"\n200 MB body: read {len(response.body)} bytes, tracemalloc peak {peak / 1024:.0f} KiB")


def test_a_200_mb_body_still_counts_as_delivered(tls: Tls):
    with HostileWebhook("huge", tls.server) as hook:
        local_sender(hook.url(), tls).send(MESSAGE, plenty)
    assert hook.requests == 1


@pytest.mark.parametrize("behaviour", ["drip-headers", "drip-body"])
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_slow_drip_is_cut_at_the_deadline(tls: Tls, behaviour: str, scheme: str):
    # GIVEN a webhook that sends a byte every 50 ms forever (each byte well inside any socket timeout)
    with HostileWebhook(behaviour, tls.server if scheme == "https" else None) as hook:
        sender = local_sender(hook.url(scheme), tls, timeout_s=1.0, max_attempts=1)
        # WHEN the message is sent with a 1 s deadline per attempt
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"after 1 attempt\(s\): TimeoutError"):
            sender.send(MESSAGE, plenty)
        elapsed = time.monotonic() - started
    # THEN the attempt ended at its deadline (a generous bound: the issue measured 49.5 s for 2 s)
    assert 0.9 <= elapsed < 5.0, elapsed
    print(f"\nslow drip ({behaviour}, {scheme}): cut after {elapsed:.2f} s with a 1 s deadline")


# --- production's rules: refused before any connection -------------------------------------------------


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address the sender tried to connect to (then connected to, as usual)."""
    seen: list[Any] = []
    real = webhook_http.socket.create_connection

    def spy(address: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(webhook_http.socket, "create_connection", spy)
    return seen


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.0.0.5", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
    ],
)
def test_a_non_public_address_is_refused_in_production_before_connecting(
    tls: Tls, connections: list[Any], address: str, kind: str
):
    # GIVEN production's sender and a host name that resolves to a non-public address
    # WHEN it sends
    with HostileWebhook("ok", tls.server) as hook, pytest.raises(DeliveryError) as info:
        prod_sender(hook.url(), tls, Resolver(address)).send(MESSAGE, plenty)
    # THEN it refused by kind, naming the parameter, and opened no connection at all
    assert str(info.value) == (
        f"webhook host in SSM parameter {PARAMETER} resolves to a {kind} address: "
        "only public addresses are allowed"
    )
    assert (connections, hook.connections) == ([], 0)


def test_an_ip_literal_loopback_url_is_refused_in_production(tls: Tls, connections: list[Any]):
    with (
        HostileWebhook("ok", tls.server) as hook,
        pytest.raises(DeliveryError, match="resolves to a loopback address"),
    ):
        prod_sender(hook.url(host=LOOPBACK), tls).send(MESSAGE, plenty)
    assert (connections, hook.connections) == ([], 0)


def test_plain_http_is_refused_in_production(tls: Tls, connections: list[Any]):
    # GIVEN production's sender (its default transport, no injection) and a plain http webhook
    with HostileWebhook("ok") as hook:
        sender = WebhookSender(lambda refresh: hook.url("http", LOOPBACK), PARAMETER)
        # WHEN it sends THEN it is refused before any connection
        with pytest.raises(DeliveryError) as info:
            sender.send(MESSAGE, plenty)
    assert str(info.value) == (
        f"webhook URL in SSM parameter {PARAMETER} is plain http: https only "
        "(http to loopback is for the local stage)"
    )
    assert (connections, hook.connections) == ([], 0)


def test_the_connection_goes_to_the_checked_address_not_to_a_second_lookup(tls: Tls, connections: list[Any]):
    # GIVEN a resolver whose first answer passes the check and whose every later answer would not
    class Rebinding(Resolver):
        def __call__(self, host: str, port: int, timeout_s: float) -> list[str]:
            super().__call__(host, port, timeout_s)
            return [LOOPBACK] if len(self.calls) == 1 else ["169.254.169.254"]

    resolver = Rebinding()
    with HostileWebhook("ok", tls.server) as hook:
        # WHEN the message is sent (the local stage's rules, so the loopback answer passes)
        local_sender(hook.url(), tls, resolver).send(MESSAGE, plenty)
        # THEN the name was looked up once and the socket connected to exactly the address checked
        assert (resolver.calls, connections, hook.requests) == ([HOST], [(LOOPBACK, hook.port)], 1)


# --- a malformed URL: the secret path in nothing we emit ---------------------------------------------

TABLE = "sensorflow-prod-notifications"


@pytest.fixture
def prod_notify(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """notify as deployed for prod under moto: the ledger table, and the webhook parameter to fill in."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv("NOTIFICATIONS_TABLE_NAME", TABLE)
        monkeypatch.setenv("WEBHOOK_URL_PARAMETER", PARAMETER)
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
        monkeypatch.delenv("WEBHOOK_ALLOW_LOOPBACK_HTTP", raising=False)
        client_factory.reset()
        bootstrap.notify_service.cache_clear()
        yield dynamodb
        bootstrap.notify_service.cache_clear()
        client_factory.reset()


def lambda_error_record(exc: BaseException) -> dict[str, Any]:
    """What Lambda puts in the on-failure destination's responsePayload for an exception that escapes the
    handler (the Python runtime's error response: message, type and the formatted stack)."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def everything_said_about(exc: BaseException) -> str:
    """The exception as any reporter could show it: str, repr, the formatted traceback, and every
    exception chained to it (cause or context, even suppressed)."""
    parts = [json.dumps(lambda_error_record(exc)), "".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


@pytest.mark.parametrize(
    "bad_url",
    [
        f"https://hooks.example.com{PATH} trailing",  # a space pasted with the URL
        f"https://hooks.example.com{PATH}\x07",  # a control character
        f"https://hooks.example.com{PATH}\r\nX-Injected: yes",  # header injection
        f"https://hooks.example.com:443x{PATH}",  # a port that is not a number
        f"htps://hooks.example.com{PATH}",  # a scheme typo
    ],
)
def test_a_malformed_url_is_reported_by_its_parameter_and_the_secret_path_goes_nowhere(
    prod_notify: Any, bad_url: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
):
    # GIVEN the prod parameter holding a malformed URL (written before capturing: botocore logs the
    # request body of this setup call), and every logger at DEBUG from then on, botocore's included
    boto3.client("ssm", region_name=REGION).put_parameter(Name=PARAMETER, Value=bad_url, Type="SecureString")
    capfd.readouterr()
    caplog.set_level(logging.DEBUG)
    doc = transition()
    # WHEN notify handles a transition, and the error escapes the handler as it does on Lambda
    with pytest.raises(DeliveryError) as info:
        notify_handler.handler(sns_event(doc), FakeContext())
    # THEN the error names the parameter and says what is wrong
    assert str(info.value).startswith(f"SSM parameter {PARAMETER} does not hold a valid webhook URL: it ")
    # AND the ledger marked the event failed with that error (the next retry may claim it again)
    item = prod_notify.get_item(
        TableName=TABLE, Key={"event_id": {"S": doc["event_id"]}}, ConsistentRead=True
    )
    assert (item["Item"]["status"]["S"], item["Item"]["last_error"]["S"]) == ("failed", str(info.value))
    # AND neither the URL nor its secret path is in any log record, any output (structured logs, the
    # metrics' EMF), the exception with all it chains, the failure record or the ledger
    out, err = capfd.readouterr()
    records = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    emitted = "\n".join(
        [records, caplog.text, out, err, everything_said_about(info.value), json.dumps(item, default=str)]
    )
    assert "notification not delivered" in emitted  # the capture did see the failure being logged
    for secret in (SECRET, PATH, bad_url, "hooks.example.com"):
        at = emitted.find(secret)
        assert at < 0, emitted[max(0, at - 600) : at + 100]
